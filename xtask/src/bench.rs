//! `cargo xtask bench`: every benchmark of BENCHMARKS.md in one run, so the ratios compare
//! servers measured on the same machine at the same time.
//!
//! Targets: muxscope (core only; core with a draining telemetry consumer; core + gateway with a
//! headless Chromium watching the page), the seed's Python chat server (if `../shared/seed` is
//! there), Redis pub/sub, and the kernel floor; and (h) every IO model of muxscope on the same
//! connections ([`models`], plotted by [`svg`]). Loopback only; every run bounded.

mod cluster;
mod models;
mod record;
mod svg;

use crate::{cmd, root, setup, status, step, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader};
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
    // The seed, Redis and the shared muxscope only serve (a), (b) and (c); the browser (b) and (e).
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
    let targets: Vec<(&str, String, &str)> = {
        let mut t = vec![("muxscope", "127.0.0.1:5001".to_string(), "line")];
        if seed.is_some() {
            t.push(("seed (Python selectors)", "127.0.0.1:3999".into(), "line"));
        }
        t.push(("Redis pub/sub", "127.0.0.1:5003".into(), "redis"));
        t
    };

    // (a) fan-out
    if run("a") {
        step("(a) fan-out: one 64 B message to N idle clients");
        r.line("## (a) fan-out: one 64 B message to N idle clients, until the last has it".into());
        r.line("| N | kernel floor p50 / p95 | muxscope p50 / p95 | seed p50 / p95 | Redis p50 / p95 | muxscope ÷ floor (p50) |".into());
        r.line("|---|---|---|---|---|---|".into());
        let sizes: &[usize] = if quick { &[1000] } else { &[1000, 5000, 10000] };
        for &n in sizes {
            let rounds = if n >= 10000 { "20" } else { "30" };
            // The floor holds both ends of every connection in one process: 9,000 pairs fit the limit.
            let floor_n = n.min(9000).to_string();
            let floor = bench(&["floor", "--clients", &floor_n, "--rounds", rounds])?;
            let mut cells = vec![format!("{:.1} / {:.1}{}", f(&floor, "p50_ms"), f(&floor, "p95_ms"), if n > 9000 { " (9k)" } else { "" })];
            let mut mux_p50 = f64::NAN;
            for (name, addr, proto) in &targets {
                if name.starts_with("seed") {
                    drop(seed.take());
                    std::thread::sleep(Duration::from_millis(300));
                    seed = start_seed()?;
                }
                let v = bench(&["fanout", "--target", addr, "--proto", proto, "--clients", &n.to_string(), "--rounds", rounds])?;
                if *name == "muxscope" {
                    mux_p50 = f(&v, "p50_ms");
                }
                cells.push(format!("{:.1} / {:.1}", f(&v, "p50_ms"), f(&v, "p95_ms")));
            }
            if seed.is_none() {
                cells.insert(2, "—".into());
            }
            r.line(format!("| {n} | {} | {:.2}× |", cells.join(" | "), mux_p50 / f(&floor, "p50_ms")));
        }
        r.line(String::new());
    }

    // (b) blast
    if run("b") {
        step("(b) blast: 1,000 clients, 4 senders");
        // Five alternating runs: the browser's share is a few per cent, run-to-run noise here is more.
        let runs = if quick { 1 } else { 5 };
        let secs = if quick { "3" } else { "5" };
        let drain = muxscope(5002, &["--drain-events"])?;
        let web = muxscope(5004, &["--web-addr", "127.0.0.1:5005"])?;
        let browser = chromium_watching("http://127.0.0.1:5005/")?;
        let mut blast_targets: Vec<(String, String, &str)> = vec![
            ("muxscope".into(), "127.0.0.1:5001".into(), "line"),
            ("muxscope, event stream drained (--drain-events)".into(), "127.0.0.1:5002".into(), "line"),
            ("muxscope + gateway, headless Chromium watching the page".into(), "127.0.0.1:5004".into(), "line"),
            ("Redis pub/sub".into(), "127.0.0.1:5003".into(), "redis"),
        ];
        if seed.is_some() {
            blast_targets.insert(3, ("seed (Python selectors)".into(), "127.0.0.1:3999".into(), "line"));
        }
        let mut results: Vec<Vec<f64>> = vec![vec![]; blast_targets.len()];
        let mut cut: Vec<u64> = vec![0; blast_targets.len()];
        // What the browser itself costs: CPU time of its whole process tree while it watches.
        let (mut chromium_cpu_s, mut chromium_wall_s) = (0.0, 0.0);
        let clk_tck = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
            .unwrap_or(100.0);
        for _ in 0..runs {
            // Alternate targets within each run, so drift on a shared machine hits all alike.
            for (i, (name, addr, proto)) in blast_targets.iter().enumerate() {
                if name.starts_with("seed") {
                    drop(seed.take());
                    std::thread::sleep(Duration::from_millis(300));
                    seed = start_seed()?;
                }
                let watched = name.contains("Chromium");
                let start = watched.then(|| (tree_cpu_seconds(browser.pid(), clk_tck), Instant::now()));
                let v = bench(&["blast", "--target", addr, "--proto", proto, "--clients", "1000", "--senders", "4", "--seconds", secs])?;
                if let Some((cpu0, t0)) = start {
                    chromium_cpu_s += tree_cpu_seconds(browser.pid(), clk_tck) - cpu0;
                    chromium_wall_s += t0.elapsed().as_secs_f64();
                }
                results[i].push(f(&v, "deliveries_per_sec"));
                cut[i] += v["receivers_cut"].as_u64().unwrap_or(0);
            }
        }
        let redis_med = median(results[blast_targets.len() - 1].clone());
        let base = median(results[0].clone());
        r.line(format!("## (b) blast: 1,000 clients, 4 senders pushing 64 B lines; deliveries/s, median of {runs} × {secs} s"));
        r.line("| target | deliveries/s (median) | runs | ÷ Redis | ÷ muxscope alone | receivers cut |".into());
        r.line("|---|---|---|---|---|---|".into());
        for (i, (name, _, _)) in blast_targets.iter().enumerate() {
            let m = median(results[i].clone());
            let all: Vec<String> = results[i].iter().map(|x| format!("{:.2} M", x / 1e6)).collect();
            r.line(format!("| {name} | {:.2} M | {} | {:.2}× | {:.2} | {} |", m / 1e6, all.join(", "), m / redis_med, m / base, cut[i]));
        }
        if chromium_wall_s > 0.0 {
            r.line(format!(
            "\nHeadless Chromium used {:.3} core on average during its runs (CPU time of its process tree ÷ wall time, connect and leave of the 1,000 clients included).",
            chromium_cpu_s / chromium_wall_s
        ));
        }
        r.line(String::new());
        // The browser's cost is a few per cent and one run here varies by ±15 %: pairs, many of
        // them. Each pair is muxscope alone then muxscope watched, and after the watched run the
        // page is given time to calm down, so what it does when a flood ends never lands in the
        // next run's window.
        let pairs = if quick { 2 } else { 16 };
        step(&format!("(b) watched vs alone: {pairs} pairs"));
        let blast = |addr: &str| {
            bench(&["blast", "--target", addr, "--clients", "1000", "--senders", "4", "--seconds", secs])
                .map(|v| f(&v, "deliveries_per_sec"))
        };
        let (mut alones, mut watcheds) = (vec![], vec![]);
        for _ in 0..pairs {
            alones.push(blast("127.0.0.1:5001")?);
            std::thread::sleep(Duration::from_secs(1));
            watcheds.push(blast("127.0.0.1:5004")?);
            std::thread::sleep(Duration::from_secs(4));
        }
        let ratios: Vec<f64> = watcheds.iter().zip(&alones).map(|(w, a)| w / a).collect();
        let cells: Vec<String> = watcheds.iter().zip(&alones).map(|(w, a)| format!("{:.1}/{:.1}", w / 1e6, a / 1e6)).collect();
        let (lo, hi) = bootstrap_median(&ratios, 2000);
        r.line(format!("### Watched ÷ alone, {pairs} pairs of {secs} s (muxscope alone, then with the gateway and headless Chromium watching; 4 s for the page to settle after each pair)"));
        r.line(format!(
        "Median of the pair ratios **{:.3}** (bootstrap 90 % interval {lo:.3}–{hi:.3}); ratio of the medians {:.3}. Pairs, watched/alone M/s: {}.",
        median(ratios.clone()),
        median(watcheds) / median(alones),
        cells.join(", ")
    ));
        r.line(String::new());
        drop(browser);
        drop(drain);
        drop(web);
    }

    // (c) connects and (d) RSS per idle client, each on a fresh server
    if run("c") {
        step("(c) 10,000 serial connects and (d) RSS per idle client");
        r.line("## (c) 10,000 clients connecting one after another, then served once; (d) server RSS per idle client".into());
        r.line("| target | seconds | connects/s | RSS before → after | RSS per idle client |".into());
        r.line("|---|---|---|---|---|".into());
        drop(mux.take());
        drop(rd.take());
        let n = if quick { "2000" } else { "10000" };
        let have_seed = seed.is_some();
        // A fresh seed too: the old one still holds what the earlier runs left behind.
        drop(seed.take());
        let mut connect_secs = vec![];
        for (name, proto) in [("muxscope", "line"), ("seed (Python selectors)", "line"), ("Redis pub/sub", "redis")] {
            let (p, addr) = match name {
                "muxscope" => (muxscope(5011, &[])?, "127.0.0.1:5011"),
                "Redis pub/sub" => (redis(5013)?, "127.0.0.1:5013"),
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
    }
    drop(seed);

    // (e) the page
    if run("e") {
        step("(e) the page: size, time to first picture, frame times under load");
        r.line(String::new());
        r.line("## (e) the page in headless Chromium".into());
        if let Some(wasm) = std::fs::read_dir(root().join("dist"))
            .ok()
            .and_then(|d| d.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "wasm")))
        {
            let raw = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
            let gz = Command::new("bash")
                .args(["-c", &format!("gzip -9 -c '{}' | wc -c", wasm.display())])
                .output()
                .ok()
                .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u64>().ok())
                .unwrap_or(0);
            r.line(format!("wasm: {:.0} KiB, {:.0} KiB gzipped (gzip -9)\n", raw as f64 / 1024.0, gz as f64 / 1024.0));
        }
        r.line("| room | time to first picture | frame p50 | frame p95 | frame max | frames in 8 s |".into());
        r.line("|---|---|---|---|---|---|".into());
        // "bots": 1,000 of the gateway's own bots at 1,000 msg/s in all (the classroom's room).
        let rates: &[&str] = if quick { &["1000"] } else { &["0", "100", "1000", "bots"] };
        for rate in rates {
            let mut c = cmd("cargo");
            c.args(["test", "-p", "muxscope", "--test", "browser", "--", "--ignored", "--nocapture", "page_under_load"])
                .env("MUXSCOPE_BIN", muxscope_bin())
                .env(
                    "LOAD_RATE",
                    match *rate {
                        "0" => "0.001",
                        "bots" => "1000",
                        r => r,
                    },
                )
                .env("LOAD_BOTS", if *rate == "bots" { "1" } else { "0" })
                .env("MUXSCOPE_REQUIRE_BROWSER", "1")
                .stderr(Stdio::null());
            let out = c.output().map_err(|e| format!("page benchmark: {e}"))?;
            let text = String::from_utf8_lossy(&out.stdout);
            let Some(v) = text.lines().find_map(|l| l.strip_prefix("BENCH ")).and_then(|j| serde_json::from_str::<Value>(j).ok()) else {
                return Err(format!("page benchmark printed no result:\n{text}"));
            };
            let room = match *rate {
                "0" => "1,000 idle clients".to_string(),
                "bots" => "1,000 bots from the page's panel (the gateway's), 1,000 msg/s in all".to_string(),
                r => format!("1,000 clients, {r} msg/s in all"),
            };
            r.line(format!(
                "| {room} | {:.0} ms | {:.1} ms | {:.1} ms | {:.1} ms | {} |",
                f(&v, "interactive_ms"),
                f(&v, "frame_p50_ms"),
                f(&v, "frame_p95_ms"),
                f(&v, "frame_max_ms"),
                v["frames"]
            ));
        }
    }
    drop(mux);
    drop(rd);

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
    let dir = root().join("bench-results");
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("latest.md");
    std::fs::write(&file, r.lines.join("\n") + "\n").map_err(|e| format!("writing {}: {e}", file.display()))?;
    step(&format!("written to {}", file.display()));
    Ok(())
}

fn chromium_watching(url: &str) -> Result<Proc> {
    let dir = std::env::temp_dir().join(format!("muxscope-bench-chrome-{}", std::process::id()));
    let mut c = Command::new("/usr/bin/chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-port=0",
        &format!("--user-data-dir={}", dir.display()),
        url,
    ]);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| format!("starting chromium: {e}"))?;
    // Wait until it is up (it prints the DevTools address), then give the page time to load.
    if let Some(err) = child.stderr.take() {
        let mut lines = BufReader::new(err).lines();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(20) {
            match lines.next() {
                Some(Ok(l)) if l.contains("DevTools listening") => break,
                Some(_) => {}
                None => break,
            }
        }
        std::thread::spawn(move || for _ in lines {});
    }
    std::thread::sleep(Duration::from_secs(2));
    Ok(Proc { name: "chromium".into(), child, _stdin: None })
}

/// CPU seconds (user + system) used so far by `root` and every process below it; `tick` is
/// the kernel's clock ticks per second (`getconf CLK_TCK`).
fn tree_cpu_seconds(root: u32, tick: f64) -> f64 {
    // (pid, ppid, utime + stime) of every process; fields after the `(comm)` that may hold spaces.
    let procs: Vec<(u32, u32, u64)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            Some((pid, f.get(1)?.parse().ok()?, f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?))
        })
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(procs.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    procs.iter().filter(|p| tree.contains(&p.0)).map(|p| p.2).sum::<u64>() as f64 / tick
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
