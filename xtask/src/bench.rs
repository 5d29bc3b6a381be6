//! `cargo xtask bench`: every benchmark of BENCHMARKS.md in one run, so the ratios compare
//! servers measured on the same machine at the same time.
//!
//! Targets: muxscope (core only; core with a draining telemetry consumer; core + gateway with a
//! headless Chromium watching the page), the seed's Python chat server (if `../shared/seed` is
//! there), Redis pub/sub, NATS, and the kernel floor, plotted together by [`peers_svg`]; and (h)
//! every IO model of muxscope on the same connections ([`models`], plotted by [`svg`]). Loopback
//! only; every run bounded.

mod blast;
mod cluster;
mod models;
mod page;
mod peers_svg;
mod record;
mod svg;

use crate::{cmd, root, setup, status, step, Result};
use serde_json::Value;
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc {
    name: String,
    child: Child,
    // Kept open: the seed reads commands from stdin and exits on EOF.
    _stdin: Option<std::process::ChildStdin>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn wait_port(addr: SocketAddr, what: &str, within: Duration) -> Result {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        if let Ok(s) = TcpStream::connect(addr) {
            let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("{what} did not start listening on {addr}"))
}

fn muxscope_bin() -> String {
    root().join("target/release/muxscope").display().to_string()
}

/// Children get the hard fd limit as their soft one (10k clients need it).
fn with_fd_limit(program: &str, args: &[&str]) -> Command {
    let mut c = cmd("bash");
    let quoted: Vec<String> = std::iter::once(program).chain(args.iter().copied()).map(|a| format!("'{a}'")).collect();
    c.args(["-c", &format!("ulimit -n $(ulimit -Hn); exec {}", quoted.join(" "))]);
    c
}

fn spawn(name: &str, mut c: Command, port: u16, stdin: bool) -> Result<Proc> {
    c.stdout(Stdio::null()).stderr(Stdio::null());
    if stdin {
        c.stdin(Stdio::piped());
    }
    let mut child = c.spawn().map_err(|e| format!("starting {name}: {e}"))?;
    let stdin = child.stdin.take();
    let mut p = Proc { name: name.into(), child, _stdin: stdin };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(st)) = p.child.try_wait() {
            return Err(format!("{name} exited ({st}) before listening on port {port}"));
        }
        if wait_port(SocketAddr::from(([127, 0, 0, 1], port)), name, Duration::from_millis(200)).is_ok() {
            return Ok(p);
        }
    }
    Err(format!("{name} did not start listening on port {port}"))
}

fn muxscope(port: u16, extra: &[&str]) -> Result<Proc> {
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["--chat-addr", addr.as_str()];
    args.extend_from_slice(extra);
    if !extra.contains(&"--web-addr") {
        args.push("--no-web");
    }
    let mut c = with_fd_limit(&muxscope_bin(), &args);
    c.env("RUST_LOG", "warn");
    spawn(&format!("muxscope {}", extra.join(" ")), c, port, false)
}

fn start_seed() -> Result<Option<Proc>> {
    let path = root().join("../shared/seed/chat_server.py");
    if !path.exists() {
        eprintln!("    (the seed's chat_server.py is not at {}; skipping it)", path.display());
        return Ok(None);
    }
    if TcpStream::connect("127.0.0.1:3999").is_ok() {
        return Err("port 3999 is busy; the seed's server needs it (stop muxscope first)".into());
    }
    // Without SO_REUSEADDR its bind fails while its last run's connections sit in TIME_WAIT:
    // try again for up to 90 s.
    let t0 = Instant::now();
    loop {
        let c = with_fd_limit("python3", &[path.to_str().unwrap()]);
        match spawn("seed", c, 3999, true) {
            Ok(p) => return Ok(Some(p)),
            Err(e) if t0.elapsed() > Duration::from_secs(90) => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_secs(3)),
        }
    }
}

fn redis(port: u16) -> Result<Proc> {
    let p = port.to_string();
    let c =
        with_fd_limit("redis-server", &["--port", &p, "--save", "", "--appendonly", "no", "--maxclients", "19000", "--bind", "127.0.0.1"]);
    spawn("redis", c, port, false)
}

/// NATS (`nats-server`, Debian's package), loopback only.
fn nats(port: u16) -> Result<Proc> {
    spawn("nats", with_fd_limit("nats-server", &["-a", "127.0.0.1", "-p", &port.to_string()]), port, false)
}

/// Runs one `muxscope bench` scenario; returns its JSON.
fn bench(args: &[&str]) -> Result<Value> {
    let mut c = with_fd_limit(&muxscope_bin(), &[&["bench"][..], args].concat());
    c.stderr(Stdio::inherit());
    let out = c.output().map_err(|e| format!("muxscope bench: {e}"))?;
    if !out.status.success() {
        return Err(format!("muxscope bench {} failed", args.join(" ")));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("")).map_err(|e| format!("bad bench output {text:?}: {e}"))
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(f64::NAN)
}

/// A 90 % interval for the median of `xs`: medians of `n` resamples (with replacement), their
/// 5th and 95th percentiles. A fixed seed: the same runs give the same interval.
fn bootstrap_median(xs: &[f64], n: usize) -> (f64, f64) {
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut medians: Vec<f64> = (0..n).map(|_| median((0..xs.len()).map(|_| xs[(next() % xs.len() as u64) as usize]).collect())).collect();
    medians.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (medians[n * 5 / 100], medians[n * 95 / 100])
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if xs.is_empty() {
        f64::NAN
    } else {
        xs[xs.len() / 2]
    }
}

struct Report {
    lines: Vec<String>,
}

impl Report {
    fn line(&mut self, s: String) {
        println!("{s}");
        self.lines.push(s);
    }
}

pub fn main(args: &[String]) -> Result {
    let quick = args.iter().any(|a| a == "--quick");
    // --only a,b,c,e,i,k,models: a subset of the sections ((c) includes (d); `models` or `h` is (h)).
    let only: Option<Vec<String>> =
        args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).map(|v| v.split(',').map(str::to_string).collect());
    let run = |sec: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == sec || (sec == "models" && x == "h")));
    // The seed, Redis, NATS and the shared muxscope only serve (a), (b) and (c); the browser (b)
    // and (e).
    let servers = run("a") || run("b") || run("c");
    setup(run("b") || run("e"), servers)?;
    step("building muxscope (release)");
    status(cmd("cargo").args(["build", "--release", "-p", "muxscope"]))?;
    let mut r = Report { lines: vec![] };
    let started = chrono_like_now();
    r.line(format!("# muxscope bench, {started}{}", if quick { " (--quick)" } else { "" }));
    r.line(format!("machine: {} cores, {}", num_cpus(), first_line("/proc/cpuinfo", "model name")));
    r.line(String::new());

    let mut mux = if servers { Some(muxscope(5001, &[])?) } else { None };
    // The seed's loop thread dies on the first send to a reset socket (and closes its listener
    // on the way out), so every seed measurement gets a fresh one.
    let mut seed = if servers { start_seed()? } else { None };
    let mut rd = if servers { Some(redis(5003)?) } else { None };
    let mut nt = if servers { Some(nats(5007)?) } else { None };
    // What docs/peers.svg draws: (a)'s p50s and (b)'s medians.
    let mut peers = peers_svg::Peers { fanout: vec![], blast: vec![] };
    let targets: Vec<(&str, String, &str)> = {
        let mut t = vec![("muxscope", "127.0.0.1:5001".to_string(), "line")];
        if seed.is_some() {
            t.push(("seed (Python selectors)", "127.0.0.1:3999".into(), "line"));
        }
        t.push(("Redis pub/sub", "127.0.0.1:5003".into(), "redis"));
        t.push(("NATS", "127.0.0.1:5007".into(), "nats"));
        t
    };

    // (a) fan-out
    if run("a") {
        step("(a) fan-out: one 64 B message to N idle clients");
        r.line("## (a) fan-out: one 64 B message to N idle clients, until the last has it".into());
        r.line("| N | kernel floor p50 / p95 | muxscope p50 / p95 | seed p50 / p95 | Redis p50 / p95 | NATS p50 / p95 | muxscope ÷ floor | muxscope ÷ Redis | muxscope ÷ NATS (p50) |".into());
        r.line("|---|---|---|---|---|---|---|---|---|".into());
        let sizes: &[usize] = if quick { &[1000] } else { &[1000, 5000, 10000] };
        for &n in sizes {
            let rounds = if n >= 10000 { "20" } else { "30" };
            // The floor holds both ends of every connection in one process: 9,000 pairs fit the limit.
            let floor_n = n.min(9000).to_string();
            let floor = bench(&["floor", "--clients", &floor_n, "--rounds", rounds])?;
            peers.fanout.push(("floor".into(), n.min(9000) as f64, f(&floor, "p50_ms")));
            let mut cells = vec![format!("{:.1} / {:.1}{}", f(&floor, "p50_ms"), f(&floor, "p95_ms"), if n > 9000 { " (9k)" } else { "" })];
            let (mut mux_p50, mut redis_p50, mut nats_p50) = (f64::NAN, f64::NAN, f64::NAN);
            for (name, addr, proto) in &targets {
                if name.starts_with("seed") {
                    drop(seed.take());
                    std::thread::sleep(Duration::from_millis(300));
                    seed = start_seed()?;
                }
                let v = bench(&["fanout", "--target", addr, "--proto", proto, "--clients", &n.to_string(), "--rounds", rounds])?;
                peers.fanout.push((name.to_string(), n as f64, f(&v, "p50_ms")));
                match *proto {
                    "redis" => redis_p50 = f(&v, "p50_ms"),
                    "nats" => nats_p50 = f(&v, "p50_ms"),
                    _ if *name == "muxscope" => mux_p50 = f(&v, "p50_ms"),
                    _ => {}
                }
                cells.push(format!("{:.1} / {:.1}", f(&v, "p50_ms"), f(&v, "p95_ms")));
            }
            if seed.is_none() {
                cells.insert(2, "—".into());
            }
            r.line(format!(
                "| {n} | {} | {:.2}× | {:.2}× | {:.2}× |",
                cells.join(" | "),
                mux_p50 / f(&floor, "p50_ms"),
                mux_p50 / redis_p50,
                mux_p50 / nats_p50
            ));
        }
        r.line(String::new());
    }

    // (b) blast
    if run("b") {
        peers.blast = blast::section(quick, &mut r, &mut seed)?;
    }

    // (c) connects and (d) RSS per idle client, each on a fresh server
    if run("c") {
        step("(c) 10,000 serial connects and (d) RSS per idle client");
        r.line("## (c) 10,000 clients connecting one after another, then served once; (d) server RSS per idle client".into());
        r.line("| target | seconds | connects/s | RSS before → after | RSS per idle client |".into());
        r.line("|---|---|---|---|---|".into());
        drop(mux.take());
        drop(rd.take());
        drop(nt.take());
        let n = if quick { "2000" } else { "10000" };
        let have_seed = seed.is_some();
        // A fresh seed too: the old one still holds what the earlier runs left behind.
        drop(seed.take());
        let mut connect_secs = vec![];
        for (name, proto) in [("muxscope", "line"), ("seed (Python selectors)", "line"), ("Redis pub/sub", "redis"), ("NATS", "nats")] {
            let (p, addr) = match name {
                "muxscope" => (muxscope(5011, &[])?, "127.0.0.1:5011"),
                "Redis pub/sub" => (redis(5013)?, "127.0.0.1:5013"),
                "NATS" => (nats(5017)?, "127.0.0.1:5017"),
                _ if have_seed => {
                    std::thread::sleep(Duration::from_millis(500));
                    (start_seed()?.ok_or("the seed vanished")?, "127.0.0.1:3999")
                }
                _ => continue,
            };
            // `bash -c 'ulimit …; exec server'` keeps its pid, so this is the server's own.
            let pid = p.pid().to_string();
            let v = bench(&["connect", "--target", addr, "--proto", proto, "--clients", n, "--pid", &pid])?;
            connect_secs.push((name, f(&v, "seconds")));
            r.line(format!(
                "| {name} | {:.2} | {:.0} | {:.1} → {:.1} MiB | {:.0} B |",
                f(&v, "seconds"),
                f(&v, "connects_per_sec"),
                f(&v, "rss_before_bytes") / 1048576.0,
                f(&v, "rss_after_bytes") / 1048576.0,
                f(&v, "rss_per_client_bytes")
            ));
            eprintln!("    done with {}", p.name);
        }
        if let (Some(m), Some(rs)) = (connect_secs.iter().find(|x| x.0 == "muxscope"), connect_secs.iter().find(|x| x.0 == "Redis pub/sub"))
        {
            r.line(format!("\nmuxscope connects {:.1}× faster than Redis.", rs.1 / m.1));
        }
        if let (Some(m), Some(ns)) = (connect_secs.iter().find(|x| x.0 == "muxscope"), connect_secs.iter().find(|x| x.0 == "NATS")) {
            r.line(format!("muxscope connects {:.1}× faster than NATS.", ns.1 / m.1));
        }
    }
    drop(seed);

    // (e) the page
    if run("e") {
        page::section(quick, &mut r)?;
    }
    drop(mux);
    drop(rd);
    drop(nt);

    // (h) every IO model on the same connections: its own servers, one per size
    if run("models") {
        models::section(quick, &mut r)?;
    }
    // (i) what recording to disk costs the loop
    if run("i") {
        record::section(quick, &mut r)?;
    }
    // (k) the cluster's hop through Redis: its own Redis servers and nodes
    if run("k") {
        cluster::section(quick, &mut r)?;
    }
    if run("a") && run("b") {
        let svg = peers_svg::plot(&peers, &format!("{started}, cargo xtask bench{}", if quick { " --quick" } else { "" }));
        let file = if quick { root().join("bench-results/peers.svg") } else { root().join("docs/peers.svg") };
        let _ = std::fs::create_dir_all(root().join("bench-results"));
        std::fs::write(&file, svg).map_err(|e| format!("writing {}: {e}", file.display()))?;
        step(&format!("the plot of (a) and (b): {}", file.display()));
    }
    let dir = root().join("bench-results");
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("latest.md");
    std::fs::write(&file, r.lines.join("\n") + "\n").map_err(|e| format!("writing {}: {e}", file.display()))?;
    step(&format!("written to {}", file.display()));
    Ok(())
}
fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn first_line(path: &str, key: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split(':').nth(1)).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

fn chrono_like_now() -> String {
    let out = Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
}
