//! The long hardening runs: `cargo xtask fuzz`, `cargo xtask soak`, `cargo xtask autobahn`.
//! Each is bounded in time and prints (and saves under bench-results/) what it found.

use crate::{cmd, root, setup, status, step, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn arg_value(args: &[String], name: &str, default: f64) -> Result<f64> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v > 0.0 && v.is_finite())
            .ok_or_else(|| format!("{name} needs a positive number")),
    }
}

fn save(name: &str, text: &str) -> Result {
    let dir = root().join("bench-results");
    let _ = std::fs::create_dir_all(&dir);
    std::fs::write(dir.join(name), text).map_err(|e| format!("saving {name}: {e}"))
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn build_release() -> Result {
    step("building muxscope (release)");
    status(cmd("cargo").args(["build", "--release", "-p", "muxscope"]))
}

fn start_muxscope(chat: u16, web: u16, extra: &[&str]) -> Result<Killed> {
    let bin = root().join("target/release/muxscope");
    let mut c = cmd("bash");
    let args = format!(
        "ulimit -n $(ulimit -Hn); exec '{}' --chat-addr 127.0.0.1:{chat} --web-addr 127.0.0.1:{web} {}",
        bin.display(),
        extra.join(" ")
    );
    c.args(["-c", &args]).stdout(Stdio::null()).stderr(Stdio::null()).env("RUST_LOG", "warn");
    let child = c.spawn().map_err(|e| format!("starting muxscope: {e}"))?;
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", web)).is_err() {
        if t0.elapsed() > Duration::from_secs(20) {
            return Err("muxscope did not start".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Killed(child))
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

// ---- soak ------------------------------------------------------------------------------------

fn rss_and_fds(pid: u32) -> (u64, usize) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.split_whitespace().next().unwrap_or("0").parse::<u64>().unwrap_or(0))))
        .unwrap_or(0)
        * 1024;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    (rss, fds)
}

fn churn(seconds: f64) -> Result<Value> {
    let out = cmd("bash")
        .args([
            "-c",
            &format!(
                "ulimit -n $(ulimit -Hn); exec '{}' bench churn --target 127.0.0.1:5101 --clients 1000 --seconds {seconds}",
                root().join("target/release/muxscope").display()
            ),
        ])
        .output()
        .map_err(|e| format!("churn: {e}"))?;
    if !out.status.success() {
        return Err(format!("churn failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("churn output: {e}"))
}

/// `cargo xtask soak [--minutes N]`: thousands of clients joining, chatting and leaving, with a
/// browser-less watcher on the event stream; RSS and open fds at start and end must be flat.
pub fn soak(args: &[String]) -> Result {
    let minutes = arg_value(args, "--minutes", 5.0)?;
    build_release()?;
    let server = start_muxscope(5101, 5102, &[])?;
    let pid = server.0.id();
    // Someone watches the events the whole time, as a browser would.
    let watcher = events_watcher(5102)?;
    step("warm-up: 10 s of churn");
    churn(10.0)?;
    std::thread::sleep(Duration::from_secs(2));
    let (rss0, fds0) = rss_and_fds(pid);
    step(&format!("soak: {minutes} min of churn (waves of 1,000 clients)"));
    let v = churn(minutes * 60.0)?;
    std::thread::sleep(Duration::from_secs(3));
    let (rss1, fds1) = rss_and_fds(pid);
    drop(watcher);
    let summary = format!(
        "cargo xtask soak --minutes {minutes}: {} connections in {} waves ({} lines sent, {} received)\n\
         RSS {:.1} MiB → {:.1} MiB, open fds {fds0} → {fds1}\n",
        v["connections"], v["waves"], v["lines_sent"], v["lines_received"], rss0 as f64 / 1048576.0, rss1 as f64 / 1048576.0
    );
    print!("{summary}");
    save("soak.txt", &summary)?;
    if fds1 > fds0 + 2 {
        return Err(format!("open fds grew from {fds0} to {fds1}: a leak"));
    }
    if rss1 as f64 > rss0 as f64 * 1.25 + 4.0 * 1048576.0 {
        return Err(format!("RSS grew from {rss0} to {rss1} bytes"));
    }
    Ok(())
}

/// A raw WebSocket client on /ws/events that reads and discards, in a thread.
fn events_watcher(port: u16) -> Result<Killed> {
    // A handshake by hand, then read and discard: enough to keep a subscription open.
    let child = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "exec python3 -c \"
import socket,base64,os
s=socket.create_connection(('127.0.0.1',{port}))
k=base64.b64encode(os.urandom(16)).decode()
s.sendall(('GET /ws/events HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: '+k+'\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n').encode())
while s.recv(65536): pass
\""
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("events watcher: {e}"))?;
    Ok(Killed(child))
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
        status(std::process::Command::new(&py).args(["-m", "pip", "install", "-q", "--target"]).arg(&lib).arg("autobahntestsuite==25.10.1"))?;
    }
    build_release()?;
    let _server = start_muxscope(5201, 5202, &["--ws-echo"])?;
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
    let index: Value = serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).map_err(|e| format!("no Autobahn report: {e}"))?)
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
