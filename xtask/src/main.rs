//! `cargo xtask`: the project's two commands and their helpers.
//!
//! - `cargo xtask run [-- ARGS]`: install what is missing, build the page, build and start
//!   muxscope (ARGS go to it).
//! - `cargo xtask test`: the same set-up plus Chromium, ChromeDriver and strace, `cargo fmt --check`
//!   and `cargo clippy -D warnings`, then every test,
//!   the real-browser one included.
//! - `cargo xtask bench`: the benchmarks of BENCHMARKS.md against the seed, Redis and the kernel.
//! - `cargo xtask fuzz`, `soak`, `autobahn`: the bounded long runs of the hardening work.
//! - `cargo xtask setup [--browser]`, `cargo xtask web`: the pieces on their own.
//!
//! Every install step checks first and skips what is already there at the right version.

mod bench;
mod hardening;
mod soak;
mod web;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const TRUNK_VERSION: &str = "0.21.14";

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r.to_vec()),
        None => ("help", vec![]),
    };
    let res = match cmd {
        "run" => run(&rest),
        "test" => test(&rest),
        "setup" => setup(rest.iter().any(|a| a == "--browser"), false),
        "web" => setup(false, false).and_then(|_| build_web()),
        "bench" => bench::main(&rest),
        "fuzz" => hardening::fuzz(&rest),
        "soak" => soak::soak(&rest),
        "autobahn" => hardening::autobahn(&rest),
        "help" | "--help" | "-h" => {
            println!(
                "usage: cargo xtask <run [-- muxscope args] | test | bench [--quick] | fuzz [--seconds N] | soak [--minutes N] | autobahn | setup [--browser] | web>"
            );
            Ok(())
        }
        other => Err(format!("unknown xtask command {other:?}; try `cargo xtask help`")),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

fn cargo_bin_dir() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"))
        .join("bin")
}

/// A command with `~/.cargo/bin` on PATH, run in the workspace root.
pub fn cmd(program: &str) -> Command {
    let mut c = Command::new(program);
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![cargo_bin_dir()];
    dirs.extend(std::env::split_paths(&path));
    c.env("PATH", std::env::join_paths(dirs).expect("PATH"));
    c.current_dir(root());
    c
}

pub fn step(what: &str) {
    eprintln!("\x1b[1m==> {what}\x1b[0m");
}

pub fn status(c: &mut Command) -> Result {
    let shown = format!("{c:?}");
    let st = c.status().map_err(|e| format!("cannot start {shown}: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({st})"))
    }
}

pub fn output(c: &mut Command) -> Option<String> {
    let out = c.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The wasm-bindgen version the lock file pins; the CLI must match it exactly.
fn wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).map_err(|e| format!("reading Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|v| v.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    Err("Cargo.lock has no wasm-bindgen entry".into())
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).map(|s| s.trim() == "0").unwrap_or(false)
}

fn apt_install(packages: &[&str]) -> Result {
    let sudo = if is_root() { None } else { Some("sudo") };
    let apt = |args: &[&str]| {
        let mut c = match sudo {
            Some(s) => {
                let mut c = Command::new(s);
                c.arg("apt-get");
                c
            }
            None => Command::new("apt-get"),
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    status(&mut apt(&["update", "-q"]))?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    status(&mut apt(&args))
}

/// Installs whatever is missing; skips what is there at the right version.
/// `peers`: Redis and NATS, the servers the cluster and the load generators are tested and
/// measured against.
pub fn setup(browser: bool, peers: bool) -> Result {
    step("checking the toolchain");
    let targets = output(cmd("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !targets.lines().any(|t| t.trim() == "wasm32-unknown-unknown") {
        step("installing the wasm32-unknown-unknown target");
        status(cmd("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    let components = output(cmd("rustup").args(["component", "list", "--installed"])).unwrap_or_default();
    for c in ["rustfmt", "clippy"] {
        if !components.lines().any(|l| l.starts_with(&format!("{c}-"))) {
            step(&format!("installing the {c} component"));
            status(cmd("rustup").args(["component", "add", c]))?;
        }
    }
    let wb = wasm_bindgen_version()?;
    let have_wb = output(cmd("wasm-bindgen").arg("--version")).unwrap_or_default();
    if have_wb.split_whitespace().nth(1) != Some(wb.as_str()) {
        step(&format!("installing wasm-bindgen-cli {wb} (once; takes a few minutes)"));
        // Not --locked: one of its locked dependency versions is no longer in the registry.
        status(cmd("cargo").args(["install", "wasm-bindgen-cli", "--version", &wb]))?;
    }
    let have_trunk = output(cmd("trunk").arg("--version")).unwrap_or_default();
    if have_trunk.split_whitespace().nth(1) != Some(TRUNK_VERSION) {
        step(&format!("installing trunk {TRUNK_VERSION} (once; takes a few minutes)"));
        status(cmd("cargo").args(["install", "trunk", "--version", TRUNK_VERSION, "--locked"]))?;
    }
    let mut missing = vec![];
    if browser {
        if !Path::new("/usr/bin/chromium").exists() {
            missing.push("chromium");
        }
        if !Path::new("/usr/bin/chromedriver").exists() {
            missing.push("chromium-driver");
        }
        // The fidelity test traces the loop's syscalls.
        if !Path::new("/usr/bin/strace").exists() {
            missing.push("strace");
        }
        // The Chinese page's screenshot (browser_lang) needs a CJK font: without one headless
        // Chromium draws every Chinese character as a box.
        if !Path::new("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc").exists() {
            missing.push("fonts-wqy-microhei");
        }
    }
    if peers && output(Command::new("redis-server").arg("--version")).is_none() {
        missing.push("redis-server");
    }
    if peers && output(Command::new("nats-server").arg("--version")).is_none() {
        missing.push("nats-server");
    }
    if !missing.is_empty() {
        step(&format!("installing Debian packages: {}", missing.join(" ")));
        apt_install(&missing)?;
    }
    Ok(())
}

/// The page, with Trunk, into `dist/` (which the muxscope binary embeds).
pub fn build_web() -> Result {
    step("fetching crates");
    status(cmd("cargo").arg("fetch"))?;
    step("building the page (trunk build --release --offline)");
    status(cmd("trunk").args(["build", "--release", "--offline"]))?;
    step("dropping the wasm's custom sections (function names) and updating index.html's integrity hashes");
    let (before, after) = web::finish_dist(&root().join("dist"))?;
    eprintln!("    wasm: {before} bytes -> {after} bytes");
    Ok(())
}

fn build_release() -> Result {
    step("building muxscope (release, page embedded)");
    status(cmd("cargo").args(["build", "--release", "-p", "muxscope"]))
}

fn run(args: &[String]) -> Result {
    setup(false, false)?;
    build_web()?;
    build_release()?;
    let args: Vec<&String> = args.iter().skip_while(|a| *a == "--").collect();
    step("starting muxscope (Ctrl-C stops it)");
    eprintln!("    open the web URL it prints below; join the chat from a terminal with the nc line it prints");
    status(cmd(root().join("target/release/muxscope").to_str().expect("utf-8 path")).args(args))
}

fn test(args: &[String]) -> Result {
    setup(true, true)?;
    step("checking the format (cargo fmt --check)");
    status(cmd("cargo").args(["fmt", "--all", "--check"]))?;
    step("linting (cargo clippy --workspace --all-targets -- -D warnings)");
    status(cmd("cargo").args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    build_web()?;
    step("running every test (cargo test --workspace), the real-browser test included");
    // MUXSCOPE_REQUIRE_BROWSER / _STRACE / _REDIS / _NATS: the browser, fidelity, cluster and
    // load-generator tests must run here, not skip.
    status(
        cmd("cargo")
            .args(["test", "--workspace"])
            .args(args)
            .env("MUXSCOPE_REQUIRE_BROWSER", "1")
            .env("MUXSCOPE_REQUIRE_STRACE", "1")
            .env("MUXSCOPE_REQUIRE_REDIS", "1")
            .env("MUXSCOPE_REQUIRE_NATS", "1"),
    )
}
