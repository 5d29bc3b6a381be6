//! The long hardening runs: `cargo xtask fuzz`, `cargo xtask autobahn` (and the helpers they
//! share with `cargo xtask soak`, in soak.rs). Each is bounded in time and prints (and saves
//! under bench-results/) what it found.

use crate::{cmd, root, setup, status, step, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn arg_value(args: &[String], name: &str, default: f64) -> Result<f64> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v > 0.0 && v.is_finite())
            .ok_or_else(|| format!("{name} needs a positive number")),
    }
}

pub(crate) fn save(name: &str, text: &str) -> Result {
    let dir = root().join("bench-results");
    let _ = std::fs::create_dir_all(&dir);
    std::fs::write(dir.join(name), text).map_err(|e| format!("saving {name}: {e}"))
}

/// A child process killed (and reaped) when dropped.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn build_release() -> Result {
    step("building muxscope (release)");
    status(cmd("cargo").args(["build", "--release", "-p", "muxscope"]))
}

/// Starts the release muxscope on loopback with its fd limit raised to the hard limit, and waits
/// until its web port answers. Its stderr goes to `log` (or nowhere). It dies with this process
/// (PR_SET_PDEATHSIG), and sits in its own process group, so a Ctrl-C reaches only the xtask,
/// which then stops it in order.
pub(crate) fn start_muxscope(chat: u16, web: u16, extra: &[&str], log: Option<&Path>) -> Result<Killed> {
    for port in [chat, web] {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Err(format!("port {port} on 127.0.0.1 is already taken (another muxscope still running?)"));
        }
    }
    let bin = root().join("target/release/muxscope");
    let mut c = cmd("bash");
    let args = format!(
        "ulimit -n $(ulimit -Hn); exec '{}' --chat-addr 127.0.0.1:{chat} --web-addr 127.0.0.1:{web} {}",
        bin.display(),
        extra.join(" ")
    );
    let stderr = match log {
        Some(p) => Stdio::from(std::fs::File::create(p).map_err(|e| format!("creating {}: {e}", p.display()))?),
        None => Stdio::null(),
    };
    c.args(["-c", &args]).stdout(Stdio::null()).stderr(stderr).env("RUST_LOG", "warn");
    die_with_parent(&mut c);
    c.process_group(0);
    let mut child = Killed(c.spawn().map_err(|e| format!("starting muxscope: {e}"))?);
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", web)).is_err() {
        if let Ok(Some(st)) = child.0.try_wait() {
            return Err(format!("muxscope exited at start ({st})"));
        }
        if t0.elapsed() > Duration::from_secs(20) {
            return Err("muxscope did not start".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(child)
}

/// The child gets SIGKILL when this (main) thread dies, even if the xtask is killed outright.
pub(crate) fn die_with_parent(c: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        c.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

// ---- fuzz ------------------------------------------------------------------------------------

/// `cargo xtask fuzz [--seconds N]`: the line framer under cargo-fuzz (libFuzzer).
pub fn fuzz(args: &[String]) -> Result {
    let seconds = arg_value(args, "--seconds", 300.0)? as u64;
    if crate::output(cmd("cargo").args(["fuzz", "--version"])).is_none() {
        step("installing cargo-fuzz (once)");
        status(cmd("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    step(&format!("fuzzing the line framer for {seconds} s"));
    // cargo-fuzz passes nightly-only flags; RUSTC_BOOTSTRAP lets this machine's stable rustc
    // take them. No sanitizer: the framer is safe Rust, and the invariants are assertions.
    let out = cmd("cargo")
        .current_dir(root().join("backend"))
        .args(["fuzz", "run", "--sanitizer", "none", "--release", "framer", "--"])
        .arg(format!("-max_total_time={seconds}"))
        .args(["-print_final_stats=1", "-max_len=512"])
        .env("RUSTC_BOOTSTRAP", "1")
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cargo fuzz: {e}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let stat = |k: &str| log.lines().find_map(|l| l.strip_prefix(&format!("stat::{k}:")).map(|v| v.trim().to_string()));
    let execs = stat("number_of_executed_units").unwrap_or_else(|| "?".into());
    let per_sec = stat("average_exec_per_sec").unwrap_or_else(|| "?".into());
    let crashed = !out.status.success();
    let summary = format!(
        "cargo xtask fuzz --seconds {seconds}: {execs} executions ({per_sec}/s), {}\n",
        if crashed { "FAILED: a crash or a broken invariant (see backend/fuzz/artifacts)" } else { "no crash, every invariant held" }
    );
    print!("{summary}");
    save("fuzz.txt", &summary)?;
    if crashed {
        eprintln!("{}", log.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"));
        return Err("the fuzzer found a problem".into());
    }
    Ok(())
}

// ---- autobahn --------------------------------------------------------------------------------

/// Cases excluded, with the reason.
const EXCLUDED: &[(&str, &str)] = &[
    ("9.*", "performance cases with messages up to 16 MiB, far over the 8 KiB message cap"),
    ("12.*", "permessage-deflate, which the gateway does not offer"),
    ("13.*", "permessage-deflate, which the gateway does not offer"),
    ("1.1.6", "65,535-byte message, over the 8 KiB cap"),
    ("1.1.7", "65,536-byte message, over the 8 KiB cap"),
    ("1.1.8", "65,536-byte message, over the 8 KiB cap"),
    ("1.2.6", "65,535-byte message, over the 8 KiB cap"),
    ("1.2.7", "65,536-byte message, over the 8 KiB cap"),
    ("1.2.8", "65,536-byte message, over the 8 KiB cap"),
    ("10.1.1", "65,536-byte message, over the 8 KiB cap"),
];

fn python2() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    let p = home.join(".pyenv/versions/2.7.18/bin/python2.7");
    if p.exists() {
        return Some(p);
    }
    crate::output(std::process::Command::new("python2.7").arg("--version")).map(|_| PathBuf::from("python2.7"))
}

/// `cargo xtask autobahn`: the Autobahn|Testsuite fuzzing client against `/ws/echo`, which uses
/// the gateway's exact WebSocket configuration and its Origin/Host checks.
pub fn autobahn(_args: &[String]) -> Result {
    setup(false, false)?;
    let py = python2().ok_or("Autobahn|Testsuite needs Python 2.7 (pyenv 2.7.18 on this machine)")?;
    let lib = root().join("target/autobahn/lib");
    if !lib.join("autobahntestsuite").exists() {
        step("installing autobahntestsuite 25.10.1 (Python 2.7, into target/autobahn)");
        status(
            std::process::Command::new(&py).args(["-m", "pip", "install", "-q", "--target"]).arg(&lib).arg("autobahntestsuite==25.10.1"),
        )?;
    }
    build_release()?;
    let _server = start_muxscope(5201, 5202, &["--ws-echo"], None)?;
    let out = root().join("target/autobahn/reports");
    let _ = std::fs::remove_dir_all(&out);
    let spec = serde_json::json!({
        "outdir": out,
        "servers": [{"agent": "muxscope", "url": "ws://127.0.0.1:5202/ws/echo", "origin": "http://127.0.0.1:5202"}],
        "cases": ["*"],
        "exclude-cases": EXCLUDED.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        "exclude-agent-cases": {}
    });
    let spec_path = root().join("target/autobahn/fuzzingclient.json");
    std::fs::write(&spec_path, serde_json::to_string_pretty(&spec).unwrap()).map_err(|e| e.to_string())?;
    step("running wstest -m fuzzingclient");
    let script = format!(
        "import site, sys; site.addsitedir({lib:?}); sys.argv = ['wstest', '-m', 'fuzzingclient', '-s', {spec:?}]; \
         from autobahntestsuite.wstest import run; run()",
        lib = lib.display().to_string(),
        spec = spec_path.display().to_string()
    );
    status(std::process::Command::new(&py).args(["-c", &script]).stdout(Stdio::null()))?;
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).map_err(|e| format!("no Autobahn report: {e}"))?)
            .map_err(|e| e.to_string())?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad = vec![];
    for (case, r) in index["muxscope"].as_object().ok_or("report has no muxscope agent")? {
        let b = r["behavior"].as_str().unwrap_or("?").to_string();
        let bc = r["behaviorClose"].as_str().unwrap_or("?").to_string();
        let ok = |x: &str| matches!(x, "OK" | "NON-STRICT" | "INFORMATIONAL");
        if !ok(&b) || !ok(&bc) {
            bad.push(format!("{case}: {b} / close {bc}"));
        }
        *counts.entry(b).or_default() += 1;
    }
    let mut summary = format!(
        "cargo xtask autobahn: {} cases: {}\nexcluded:\n",
        counts.values().sum::<usize>(),
        counts.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ")
    );
    for (c, why) in EXCLUDED {
        summary.push_str(&format!("  {c}: {why}\n"));
    }
    if !bad.is_empty() {
        summary.push_str(&format!("not OK:\n  {}\n", bad.join("\n  ")));
    }
    print!("{summary}");
    save("autobahn.txt", &summary)?;
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{} Autobahn cases not OK", bad.len()))
    }
}
