//! `cargo xtask soak [--minutes N]`: everything at once against one release muxscope, for N
//! minutes (default 5):
//!
//! - about 10,000 chat clients churning: every few seconds a wave of them leaves (`quit`, a
//!   reset, or a plain close) and as many new ones join; a few lines a second are said to the
//!   whole room, and every client reads everything it is sent;
//! - watchers on `/ws/events` joining in batches, reading or stalled (a 4 KiB receive buffer,
//!   never read), and leaving after a while, always under `--max-watchers`;
//! - the page open in headless Chromium the whole time (skipped, with a note, without Chromium).
//!
//! Every 30 s one line: the server's RSS and open fds, the chat connections it holds, and
//! `/api/stats`' watchers and web connections. The run is flat when the last sample's RSS and
//! fds are within 10 % of the sample at 1:00. Everything is loopback, bounded in count and time,
//! and every thread and child process ends with the run, on an error too.

mod chat;
mod page;
pub(crate) mod sample;
mod watchers;

use self::chat::{chat_load, ChatCounts};
use self::page::Page;
use self::sample::{api_stats, proc_kib, Sample};
use self::watchers::{watchers, WatchCounts};
use crate::hardening::{arg_value, build_release, save, start_muxscope, Killed};
use crate::{root, step, Result};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const CHAT_PORT: u16 = 5101;
const WEB_PORT: u16 = 5102;
/// Chat clients kept connected.
const CLIENTS: usize = 10_000;
/// Every WAVE_EVERY, WAVE clients leave and as many (plus any the server cut) join.
const WAVE: usize = 250;
const WAVE_EVERY: Duration = Duration::from_secs(2);
/// Lines a second said to the room, by the clients in turn (each reaches all 10,000).
const TALK_PER_SEC: f64 = 4.0;
/// How often every chat client's socket is read.
const CHAT_SWEEP: Duration = Duration::from_millis(250);
/// The server's `--max-watchers`.
const MAX_WATCHERS: usize = 600;
/// Watchers held by the soak at most (the page is one more), under the cap.
const WATCHERS_HELD: usize = 450;
/// Every BATCH_EVERY, a batch of BATCH watchers joins; a third of them stall.
const BATCH: usize = 50;
const BATCH_EVERY: Duration = Duration::from_secs(5);
const WATCHER_SWEEP: Duration = Duration::from_millis(100);
/// A stalled watcher's receive buffer, as in backend/tests/bounds.rs.
const STALLED_RCVBUF: usize = 4096;
const SAMPLE_EVERY: Duration = Duration::from_secs(30);
/// The flatness rule: the last sample within this fraction of the 1:00 sample.
const FLAT: f64 = 0.10;
const BASELINE_AT: Duration = Duration::from_secs(60);
/// No connect, handshake or request the soak makes waits longer than this.
const IO_TIMEOUT: Duration = Duration::from_secs(3);
const CHROMIUM: &str = "/usr/bin/chromium";

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

pub fn soak(args: &[String]) -> Result {
    let minutes = arg_value(args, "--minutes", 5.0)?;
    if minutes * 60.0 < 90.0 {
        return Err("--minutes must be at least 1.5: the sample at 1:00 is the baseline the last one is judged against".into());
    }
    let run_for = Duration::from_secs_f64(minutes * 60.0);
    let nofile = raise_nofile()?;
    if nofile < (CLIENTS + WATCHERS_HELD + 1000) as u64 {
        return Err(format!("the soak holds {CLIENTS} chat clients and {WATCHERS_HELD} watchers: it needs an open-file limit of at least {}, the hard limit here is {nofile}", CLIENTS + WATCHERS_HELD + 1000));
    }
    if !root().join("dist/index.html").is_file() {
        crate::setup(false, false)?;
        crate::build_web()?;
    }
    build_release()?;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let logs = root().join("target/soak");
    std::fs::create_dir_all(&logs).map_err(|e| format!("creating {}: {e}", logs.display()))?;
    let server_log = logs.join("muxscope.log");
    let mut run = Run::default();
    let res = soak_with(&mut run, minutes, run_for, &server_log, &logs);
    // Whatever happened: every thread joined, Chromium and muxscope stopped.
    drop(run);
    res
}

/// Everything the run started; dropping it stops all of it.
#[derive(Default)]
struct Run {
    stop: Arc<AtomicBool>,
    threads: Vec<(&'static str, JoinHandle<Result<String>>)>,
    page: Option<Page>,
    server: Option<Killed>,
}

impl Run {
    /// Stops and joins the load threads; returns what each reported.
    fn stop_load(&mut self) -> Vec<(&'static str, Result<String>)> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads.drain(..).map(|(name, t)| (name, t.join().unwrap_or_else(|_| Err(format!("the {name} thread panicked"))))).collect()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.stop_load();
        self.page.take();
        self.server.take();
    }
}

fn soak_with(run: &mut Run, minutes: f64, run_for: Duration, server_log: &Path, logs: &Path) -> Result {
    step(&format!(
        "soak: {minutes} min of {CLIENTS} churning chat clients, watchers joining, stalling and leaving, and the page in headless Chromium"
    ));
    run.server = Some(start_muxscope(CHAT_PORT, WEB_PORT, &["--max-watchers", &MAX_WATCHERS.to_string()], Some(server_log))?);
    let pid = run.server.as_ref().map(|s| s.0.id()).unwrap_or(0);
    let chat: SocketAddr = ([127, 0, 0, 1], CHAT_PORT).into();
    let web: SocketAddr = ([127, 0, 0, 1], WEB_PORT).into();
    let stats0 = api_stats(web).map_err(|e| format!("GET /api/stats: {e}"))?;
    let idle = Sample::take(Duration::ZERO, pid, web, None, 0);
    let mut notes = vec!["no bots (classroom issue not landed)".to_string()];
    if stats0["page_embedded"] != Value::Bool(true) {
        notes.push("this muxscope has no page embedded (`cargo xtask web` builds it): Chromium shows the placeholder".into());
    }

    run.page = match Page::open(web, logs) {
        Ok(p) => Some(p),
        Err(why) => {
            notes.push(format!("no page: {why}"));
            None
        }
    };
    let mut page_failed = None;
    if run.page.is_some() {
        // The page is watching before the crowd arrives.
        let t0 = Instant::now();
        while api_stats(web).ok().and_then(|s| s["watchers"].as_u64()).unwrap_or(0) < 1 {
            if t0.elapsed() > Duration::from_secs(20) {
                let why = format!("the page in Chromium did not open /ws/events within 20 s (see {})", logs.join("chromium.log").display());
                notes.push(why.clone());
                page_failed = Some(why);
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let chat_counts = Arc::new(ChatCounts::default());
    let watch_counts = Arc::new(WatchCounts::default());
    {
        let (stop, c) = (run.stop.clone(), chat_counts.clone());
        run.threads.push(("chat", spawn("soak-chat", move || chat_load(chat, &stop, &c))?));
        let (stop, c) = (run.stop.clone(), watch_counts.clone());
        run.threads.push(("watchers", spawn("soak-watchers", move || watchers(web, &stop, &c))?));
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "cargo xtask soak --minutes {minutes}: one release muxscope (--max-watchers {MAX_WATCHERS}, open-file limit raised), \
         {CLIENTS} chat clients churning ({WAVE} leave and {WAVE} join every {} s, {TALK_PER_SEC} lines/s said to the room), \
         {BATCH} watchers joining every {} s (a third stalled with a {} KiB receive buffer, each leaving after 10-40 s, at most {WATCHERS_HELD} held), \
         {}",
        WAVE_EVERY.as_secs(),
        BATCH_EVERY.as_secs(),
        STALLED_RCVBUF >> 10,
        if run.page.is_some() { "the page open in headless Chromium" } else { "no page" }
    );
    let _ = writeln!(
        out,
        "rule: flat when the last sample's RSS and open fds are both within {:.0} % of the sample at {} (and open fds back to idle once everyone has left)",
        FLAT * 100.0,
        clock(BASELINE_AT)
    );
    for n in &notes {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = writeln!(out, "{}", Sample::HEADER);
    let _ = writeln!(out, "{}", idle.row());
    print!("{out}");
    let _ = io::stdout().flush();

    let t0 = Instant::now();
    let mut samples: Vec<Sample> = vec![];
    let mut next = SAMPLE_EVERY;
    let failure = loop {
        std::thread::sleep(Duration::from_millis(200));
        if INTERRUPTED.load(Ordering::Relaxed) {
            break Some("interrupted".to_string());
        }
        if let Some((name, _)) = run.threads.iter().find(|(_, t)| t.is_finished()) {
            break Some(format!("the {name} load ended early"));
        }
        if let Some(st) = run.server.as_mut().and_then(|s| s.0.try_wait().ok().flatten()) {
            break Some(format!("muxscope exited during the soak ({st}); see {}", server_log.display()));
        }
        let elapsed = t0.elapsed();
        if elapsed >= next.min(run_for) {
            let s = Sample::take(elapsed, pid, web, run.page.as_mut(), chat_counts.held.load(Ordering::Relaxed));
            println!("{}", s.row());
            let _ = writeln!(out, "{}", s.row());
            samples.push(s);
            let _ = save("soak.txt", &out);
            if elapsed >= run_for {
                break None;
            }
            next += SAMPLE_EVERY;
        }
    };

    // The end: the load leaves, the page closes, and the server should give back every fd.
    let reports = run.stop_load();
    run.page.take();
    let shown = out.len();
    let mut failures: Vec<String> = failure.into_iter().chain(page_failed).collect();
    for (name, r) in &reports {
        match r {
            Ok(line) => {
                let _ = writeln!(out, "{name}: {line}");
            }
            Err(e) => {
                let _ = writeln!(out, "{name}: FAILED: {e}");
                failures.push(format!("the {name} load failed: {e}"));
            }
        }
    }
    std::thread::sleep(Duration::from_secs(5));
    let after = Sample::take(t0.elapsed(), pid, web, None, 0);
    let peak = proc_kib(pid, "VmHWM:").map(|k| k as f64 / 1024.0).unwrap_or(0.0);
    let _ =
        writeln!(
        out,
        "5 s after everyone left: RSS {:.1} MiB (peak {peak:.1} MiB), open fds {} (idle at the start: {}), {} watchers, {} web connections",
        after.rss_mib, after.fds, idle.fds, show(after.watchers), show(after.web_connections)
    );
    if after.fds > idle.fds + 2 {
        failures
            .push(format!("open fds did not come back after everyone left: {} at the start, {} at the end (a leak)", idle.fds, after.fds));
    }
    let log = std::fs::read_to_string(server_log).unwrap_or_default();
    let _ = writeln!(out, "{}", log_summary(&log, server_log));

    match judge(&samples) {
        Ok(line) => {
            let _ = writeln!(out, "{line}");
        }
        Err(line) => {
            let _ = writeln!(out, "{line}");
            failures.push(line);
        }
    }
    // The table is already on screen; the rest now.
    print!("{}", &out[shown..]);
    save("soak.txt", &out)?;
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// The flatness rule, stated in its verdict.
fn judge(samples: &[Sample]) -> std::result::Result<String, String> {
    let base = samples.iter().find(|s| s.at >= BASELINE_AT).ok_or("no sample at 1:00 to judge against")?;
    let last = samples.last().ok_or("no samples")?;
    let within = |a: f64, b: f64| (b - a).abs() <= a * FLAT;
    let rule = format!(
        "rule: flat when the last sample's RSS and open fds are both within {:.0} % of the sample at {}",
        FLAT * 100.0,
        clock(base.at)
    );
    let what = format!(
        "RSS {:.1} → {:.1} MiB ({:+.1} %), open fds {} → {} ({:+.1} %)",
        base.rss_mib,
        last.rss_mib,
        pct(base.rss_mib, last.rss_mib),
        base.fds,
        last.fds,
        pct(base.fds as f64, last.fds as f64)
    );
    let (rss_ok, fds_ok) = (within(base.rss_mib, last.rss_mib), within(base.fds as f64, last.fds as f64));
    if rss_ok && fds_ok {
        Ok(format!("FLAT: {what}\n{rule}"))
    } else {
        let bad = [(!rss_ok).then_some("RSS"), (!fds_ok).then_some("open fds")].into_iter().flatten().collect::<Vec<_>>().join(" and ");
        Err(format!("NOT FLAT: {bad} moved more than {:.0} %: {what}\n{rule}", FLAT * 100.0))
    }
}

fn pct(a: f64, b: f64) -> f64 {
    if a == 0.0 {
        0.0
    } else {
        (b - a) / a * 100.0
    }
}

fn clock(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

fn show(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
}

/// Warnings and errors in the server's log: how many, and the first few kinds.
fn log_summary(log: &str, path: &Path) -> String {
    let bad: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ") || l.contains(" ERROR ")).collect();
    if bad.is_empty() {
        return format!("server log ({}): no warnings or errors", path.display());
    }
    let mut kinds: Vec<String> = vec![];
    for l in &bad {
        // Without the timestamp, and without numbers, so one kind is listed once.
        let text = l.split_once(" WARN ").or_else(|| l.split_once(" ERROR ")).map(|(_, t)| t).unwrap_or(l);
        let kind: String = text.chars().filter(|c| !c.is_ascii_digit()).collect();
        if !kinds.contains(&kind) && kinds.len() < 5 {
            kinds.push(kind);
        }
    }
    let errors = bad.iter().filter(|l| l.contains(" ERROR ")).count();
    format!(
        "server log ({}): {} warnings, {errors} errors; kinds (digits stripped):\n  {}",
        path.display(),
        bad.len() - errors,
        kinds.join("\n  ")
    )
}

fn spawn(name: &str, f: impl FnOnce() -> Result<String> + Send + 'static) -> Result<JoinHandle<Result<String>>> {
    std::thread::Builder::new().name(name.into()).spawn(f).map_err(|e| format!("starting the {name} thread: {e}"))
}

fn raise_nofile() -> Result<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(format!("getrlimit: {}", io::Error::last_os_error()));
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(format!("setrlimit: {}", io::Error::last_os_error()));
            }
        }
    }
    Ok(lim.rlim_cur)
}

// ---- shared by the chat clients and the watchers ---------------------------------------------

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// Reads a non-blocking socket until it would block; false when the peer closed it.
fn drain(s: &TcpStream, buf: &mut [u8], bytes: &AtomicU64) -> bool {
    let mut r = s;
    loop {
        match r.read(buf) {
            Ok(0) => return false,
            Ok(n) => bump(bytes, n as u64),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}
