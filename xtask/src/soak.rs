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

use crate::hardening::{arg_value, build_release, die_with_parent, save, start_muxscope, Killed};
use crate::{root, step, Result};
use serde_json::Value;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
        self.threads
            .drain(..)
            .map(|(name, t)| (name, t.join().unwrap_or_else(|_| Err(format!("the {name} thread panicked")))))
            .collect()
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
    step(&format!("soak: {minutes} min of {CLIENTS} churning chat clients, watchers joining, stalling and leaving, and the page in headless Chromium"));
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
    let _ = writeln!(
        out,
        "5 s after everyone left: RSS {:.1} MiB (peak {peak:.1} MiB), open fds {} (idle at the start: {}), {} watchers, {} web connections",
        after.rss_mib, after.fds, idle.fds, show(after.watchers), show(after.web_connections)
    );
    if after.fds > idle.fds + 2 {
        failures.push(format!("open fds did not come back after everyone left: {} at the start, {} at the end (a leak)", idle.fds, after.fds));
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

// ---- samples ---------------------------------------------------------------------------------

struct Sample {
    at: Duration,
    rss_mib: f64,
    fds: usize,
    /// Chat clients connected, as the load counts them.
    clients: u64,
    watchers: Option<u64>,
    max_watchers: Option<u64>,
    web_connections: Option<u64>,
    page: &'static str,
}

impl Sample {
    const HEADER: &'static str = "elapsed  RSS MiB  open fds  chat clients  watchers/max  web conns  page";

    fn take(at: Duration, pid: u32, web: SocketAddr, page: Option<&mut Page>, clients: u64) -> Sample {
        let stats = api_stats(web).ok();
        let field = |k: &str| stats.as_ref().and_then(|s| s[k].as_u64());
        Sample {
            at,
            rss_mib: proc_kib(pid, "VmRSS:").unwrap_or(0) as f64 / 1024.0,
            fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0),
            clients,
            watchers: field("watchers"),
            max_watchers: field("max_watchers"),
            web_connections: field("web_connections"),
            page: match page.map(|p| p.alive()) {
                None => "-",
                Some(true) => "open",
                Some(false) => "EXITED",
            },
        }
    }

    fn row(&self) -> String {
        format!(
            "{:>7}  {:>7.1}  {:>8}  {:>12}  {:>12}  {:>9}  {}",
            clock(self.at),
            self.rss_mib,
            self.fds,
            self.clients,
            format!("{}/{}", show(self.watchers), show(self.max_watchers)),
            show(self.web_connections),
            self.page
        )
    }
}

fn proc_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok())
}

fn api_stats(web: SocketAddr) -> io::Result<Value> {
    let mut s = TcpStream::connect_timeout(&web, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    write!(s, "GET /api/stats HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\n\r\n")?;
    let mut body = String::new();
    s.take(1 << 20).read_to_string(&mut body)?;
    let json = body.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(json).map_err(|e| io::Error::other(format!("{e}: {body:.200}")))
}

// ---- chat clients ----------------------------------------------------------------------------

#[derive(Default)]
struct ChatCounts {
    /// Connected now.
    held: AtomicU64,
    joined: AtomicU64,
    left: AtomicU64,
    cut_by_server: AtomicU64,
    lines_sent: AtomicU64,
    bytes_read: AtomicU64,
    connect_errors: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

fn connect_client(chat: SocketAddr, counts: &ChatCounts, last_err: &mut Option<String>) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&chat, IO_TIMEOUT).and_then(|s| s.set_nonblocking(true).map(|_| s));
    match s {
        Ok(s) => {
            bump(&counts.joined, 1);
            Some(s)
        }
        Err(e) => {
            bump(&counts.connect_errors, 1);
            *last_err = Some(e.to_string());
            None
        }
    }
}

/// Reads everything each client has been sent; drops (and counts) those the server closed.
fn sweep_chat(socks: &mut VecDeque<TcpStream>, buf: &mut [u8], counts: &ChatCounts) {
    socks.retain(|s| {
        let open = drain(s, buf, &counts.bytes_read);
        if !open {
            bump(&counts.cut_by_server, 1);
        }
        open
    });
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

/// The churning room: CLIENTS connected, waves leaving and joining, a few lines a second.
fn chat_load(chat: SocketAddr, stop: &AtomicBool, counts: &ChatCounts) -> Result<String> {
    let mut socks: VecDeque<TcpStream> = VecDeque::with_capacity(CLIENTS + WAVE);
    let mut buf = vec![0u8; 64 << 10];
    let mut last_err = None;
    let ramp = Instant::now();
    while socks.len() < CLIENTS {
        if stop.load(Ordering::Relaxed) {
            return Ok(format!("stopped during the ramp at {} clients", socks.len()));
        }
        if ramp.elapsed() > Duration::from_secs(60) || counts.connect_errors.load(Ordering::Relaxed) > 100 {
            return Err(format!("only {} of {CLIENTS} clients connected in {:?}; last error: {last_err:?}", socks.len(), ramp.elapsed()));
        }
        for _ in 0..500.min(CLIENTS - socks.len()) {
            socks.extend(connect_client(chat, counts, &mut last_err));
        }
        sweep_chat(&mut socks, &mut buf, counts);
        counts.held.store(socks.len() as u64, Ordering::Relaxed);
    }
    let ramp_took = ramp.elapsed();
    let t0 = Instant::now();
    let (mut said, mut next_wave, mut next_sweep, mut waves) = (0u64, t0 + WAVE_EVERY, t0, 0u64);
    let mut nick = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_sweep {
            sweep_chat(&mut socks, &mut buf, counts);
            next_sweep = now + CHAT_SWEEP;
        }
        // Talk, paced by the clock, each line from the next client in turn.
        let due = (t0.elapsed().as_secs_f64() * TALK_PER_SEC) as u64;
        while said < due && !socks.is_empty() {
            let mut w = &socks[said as usize % socks.len()];
            if w.write(format!("soak line {said}: hello from the churning room\n").as_bytes()).is_ok() {
                bump(&counts.lines_sent, 1);
            }
            said += 1;
        }
        if now >= next_wave {
            // The oldest leave: a third say quit, a third reset, a third just close.
            for i in 0..WAVE.min(socks.len()) {
                let s = socks.pop_front().expect("counted");
                match i % 3 {
                    0 => {
                        let _ = (&s).write(b"quit\n");
                    }
                    1 => {
                        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                    }
                    _ => {}
                }
                bump(&counts.left, 1);
            }
            // As many join (and any the server cut are replaced); every tenth picks a nick.
            let errors_before = counts.connect_errors.load(Ordering::Relaxed);
            while socks.len() < CLIENTS && !stop.load(Ordering::Relaxed) {
                let Some(s) = connect_client(chat, counts, &mut last_err) else {
                    if counts.connect_errors.load(Ordering::Relaxed) > errors_before + 20 {
                        return Err(format!("new clients cannot connect: {last_err:?}"));
                    }
                    continue;
                };
                nick += 1;
                if nick % 10 == 1 {
                    let _ = (&s).write(format!("/nick soak{nick}\n").as_bytes());
                }
                socks.push_back(s);
            }
            waves += 1;
            next_wave += WAVE_EVERY;
        }
        counts.held.store(socks.len() as u64, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
    }
    let held = socks.len();
    counts.held.store(0, Ordering::Relaxed);
    // Leave without TIME_WAIT on this side.
    for s in &socks {
        let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
    }
    drop(socks);
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Ok(format!(
        "{CLIENTS} clients connected in {:.1} s, then {waves} waves; {} joins and {} leaves in all, {held} held at the end; \
         {} lines said ({:.1} MB read back by the clients); {} cut by the server, {} connect errors{}",
        ramp_took.as_secs_f64(),
        c(&counts.joined),
        c(&counts.left),
        c(&counts.lines_sent),
        c(&counts.bytes_read) as f64 / 1e6,
        c(&counts.cut_by_server),
        c(&counts.connect_errors),
        last_err.map(|e| format!(" (last: {e})")).unwrap_or_default()
    ))
}

// ---- watchers --------------------------------------------------------------------------------

#[derive(Default)]
struct WatchCounts {
    opened: AtomicU64,
    stalled: AtomicU64,
    refused: AtomicU64,
    closed_by_server: AtomicU64,
    bytes_read: AtomicU64,
}

struct Watcher {
    sock: TcpStream,
    stalled: bool,
    leave_at: Instant,
    /// The server closed it (seen only by a reading watcher).
    gone: bool,
}

/// A raw WebSocket client on /ws/events: the upgrade by hand, the response head read. A stalled
/// one has a small receive buffer and is never read again.
fn open_watcher(web: SocketAddr, stalled: bool) -> io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    if stalled {
        sock.set_recv_buffer_size(STALLED_RCVBUF)?;
    }
    sock.connect_timeout(&web.into(), IO_TIMEOUT)?;
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    write!(
        s,
        "GET /ws/events HTTP/1.1\r\nHost: {web}\r\nOrigin: http://{web}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: c29hay13YXRjaGVyLWtleQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )?;
    let mut head = Vec::new();
    let mut b = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut b)?;
        if n == 0 || head.len() > 8192 {
            return Err(io::Error::other("no response head"));
        }
        head.extend_from_slice(&b[..n]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        let first = String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string();
        return Err(io::Error::other(format!("not upgraded: {first}")));
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Watchers joining in batches, a third stalled, each leaving after 10-40 s.
fn watchers(web: SocketAddr, stop: &AtomicBool, counts: &WatchCounts) -> Result<String> {
    let mut held: Vec<Watcher> = vec![];
    let mut buf = vec![0u8; 64 << 10];
    let mut next_batch = Instant::now();
    let (mut batch, mut peak, mut last_err) = (0u64, 0usize, None::<String>);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_batch {
            for j in 0..BATCH {
                if held.len() >= WATCHERS_HELD || stop.load(Ordering::Relaxed) {
                    break;
                }
                let stalled = j % 3 == 0;
                match open_watcher(web, stalled) {
                    Ok(sock) => {
                        bump(&counts.opened, 1);
                        if stalled {
                            bump(&counts.stalled, 1);
                        }
                        // 10-40 s; a stalled one at least 20 s, so the server's 10 s send
                        // timeout is what ends it, not us.
                        let secs = 10 + (j as u64 * 7 + batch * 3) % 31;
                        let secs = if stalled { secs.max(20) } else { secs };
                        held.push(Watcher { sock, stalled, leave_at: Instant::now() + Duration::from_secs(secs), gone: false });
                    }
                    Err(e) => {
                        bump(&counts.refused, 1);
                        last_err = Some(e.to_string());
                    }
                }
            }
            peak = peak.max(held.len());
            batch += 1;
            next_batch = now + BATCH_EVERY;
        }
        for w in held.iter_mut().filter(|w| !w.stalled && !w.gone) {
            if !drain(&w.sock, &mut buf, &counts.bytes_read) {
                w.gone = true;
                bump(&counts.closed_by_server, 1);
            }
        }
        // Those whose time is up leave: half of the readers with a close frame, the rest by
        // dropping the connection (a reset for the other half of the readers).
        let now = Instant::now();
        let mut k = 0u64;
        held.retain(|w| {
            if now < w.leave_at && !w.gone {
                return true;
            }
            k += 1;
            if !w.stalled && !w.gone {
                if k % 2 == 1 {
                    // FIN, masked (key 0), 2-byte payload: code 1000.
                    let _ = (&w.sock).write(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8]);
                } else {
                    let _ = socket2::SockRef::from(&w.sock).set_linger(Some(Duration::ZERO));
                }
            }
            false
        });
        std::thread::sleep(WATCHER_SWEEP);
    }
    let at_end = held.len();
    drop(held);
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Ok(format!(
        "{} watchers opened in {batch} batches ({} stalled), at most {peak} held at once, {at_end} at the end; \
         {:.1} MB read by the reading ones; {} readers closed by the server; {} refused or failed{}",
        c(&counts.opened),
        c(&counts.stalled),
        c(&counts.bytes_read) as f64 / 1e6,
        c(&counts.closed_by_server),
        c(&counts.refused),
        last_err.map(|e| format!(" (last: {e})")).unwrap_or_default()
    ))
}

// ---- the page in headless Chromium -----------------------------------------------------------

const MARK: &str = "MUXSCOPE_SOAK_CHROMIUM";

fn mark() -> String {
    std::process::id().to_string()
}

/// Processes that carry this soak's mark in their environment (Chromium's crash handlers).
fn marked() -> Vec<libc::pid_t> {
    let want = format!("{MARK}={}", mark()).into_bytes();
    let Ok(dir) = std::fs::read_dir("/proc") else { return vec![] };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == want)))
        .collect()
}

/// Headless Chromium on the page, in its own process group, killed as a group when dropped.
struct Page {
    child: Child,
    profile: PathBuf,
}

impl Page {
    fn open(web: SocketAddr, logs: &Path) -> std::result::Result<Page, String> {
        if !Path::new(CHROMIUM).exists() {
            return Err(format!("{CHROMIUM} is missing (`cargo xtask setup --browser` installs it); the soak runs without a page"));
        }
        let profile = std::env::temp_dir().join(format!("muxscope-soak-chromium-{}", std::process::id()));
        let log = std::fs::File::create(logs.join("chromium.log")).map_err(|e| format!("chromium log: {e}"))?;
        let mut c = Command::new(CHROMIUM);
        c.args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--remote-debugging-port=0")
            .arg(format!("http://{web}/"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            // Chromium double-forks its crash handlers out of its process group; they inherit
            // this mark, by which the end of the run finds them.
            .env(MARK, mark());
        die_with_parent(&mut c);
        c.process_group(0);
        let child = c.spawn().map_err(|e| format!("starting {CHROMIUM}: {e}"))?;
        let mut page = Page { child, profile };
        // It must still be there a moment later.
        let t0 = Instant::now();
        loop {
            if !page.alive() {
                return Err(format!("{CHROMIUM} exited at once; see {}", logs.join("chromium.log").display()));
            }
            if t0.elapsed() > Duration::from_secs(2) {
                return Ok(page);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let group = self.child.id() as libc::pid_t;
        // SAFETY: signals to the process group this soak started (its leader is our child).
        unsafe { libc::kill(-group, libc::SIGTERM) };
        let t0 = Instant::now();
        while self.alive() && t0.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (renderers, zygote), and the leader.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
        let t0 = Instant::now();
        // SAFETY: signal 0 only asks whether any process of the group is left.
        while unsafe { libc::kill(-group, 0) } == 0 {
            if t0.elapsed() > Duration::from_secs(3) {
                eprintln!("xtask: processes of Chromium's group {group} are still there after SIGKILL");
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The crash handlers leave by themselves once the browser is gone; any that do not, go.
        let t0 = Instant::now();
        while !marked().is_empty() && t0.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(100));
        }
        for pid in marked() {
            // SAFETY: a process this soak started (through Chromium), by its id.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
