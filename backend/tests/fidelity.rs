//! Fidelity: the event stream tells the truth about the loop's system calls.
//!
//! For every poller, a scripted chat session (clients join, name themselves, talk, and leave by
//! `quit`, by a half-close and by a reset) runs while `strace` traces the `chat-loop` thread and
//! a `/ws/events` watcher records the stream. The loop's syscalls of each kind are then counted
//! and compared *exactly* with the events of that kind, and so is their order, fd by fd:
//!
//! | event    | syscall (x86-64 glibc)                                                      |
//! |----------|-----------------------------------------------------------------------------|
//! | `wait`   | `epoll_wait` / `poll` / `pselect6`, whichever the poller uses (\*)          |
//! | `ctl`    | `epoll_ctl` (epoll and epoll-et); none for poll and select, see below       |
//! | `accept` | `accept4` that returned an fd (not the EAGAIN one that ends each batch)     |
//! | `recv`   | every `recvfrom` (`recv(2)`): bytes, 0 (EOF), EAGAIN, or an error such as  |
//! |          | the ECONNRESET of the client that resets (its `close` is an event of its own) |
//! | `send`   | `sendto` / `sendmsg` / `writev`                                             |
//! | `close`  | `close`                                                                     |
//!
//! (\*) A wait that a ptrace stop interrupts shows as a call with result `?` (not counted) and
//! the kernel's `restart_syscall` that resumes it (counted): one wait, one event.
//!
//! Not compared, because they are no event: the `read` that drains the waker eventfd,
//! `setsockopt(TCP_NODELAY)` after an accept, `fcntl`, futexes; and the events that are no
//! syscall: `broadcast` and `nick` (counted against the script instead).
//!
//! The window. strace attaches first, then the watcher: its subscription rings the waker, the
//! loop wakes (unwatched: no event), `read`s the eventfd, and in its next turn queues the
//! snapshot the watcher starts from, with seq S. So the events compared are those with
//! seq > S, and the syscalls those after the first `read` of the waker fd. It ends when the
//! loop is idle (no event for a while): its last wait is still blocked, so strace has no result
//! for it and the watcher no event; a wait is only counted once it has returned.
//!
//! Folding: the hub folds past 150 events per 40 ms tick, the loop past 512 per turn. The
//! session is small and paced (a few events per tick), so nothing folds, and the test checks
//! that: the seqs it saw run on from the snapshot's with no hole but what a `gap` says it
//! stands for, and with no gap every kind must match exactly. Should a gap come anyway, the
//! totals must still reconcile: the syscalls plus the script's broadcasts and nicks equal the
//! events received plus the gaps' `dropped`.
//!
//! Skips (with a message) when strace is missing or may not attach, unless
//! `MUXSCOPE_REQUIRE_STRACE=1` (set by `cargo xtask test`), in which case it fails.

mod common;
use common::*;
use futures_util::StreamExt;
use muxscope_shared::{CloseReason, Event, EventBody, Role, ServerMsg, Snapshot};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::net::{Shutdown, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const REQUIRE: &str = "MUXSCOPE_REQUIRE_STRACE";
/// The kinds compared, in table order.
const KINDS: [&str; 6] = ["wait", "ctl", "accept", "recv", "send", "close"];
/// What strace records: every wait call any poller may use, and the IO calls the loop makes.
/// A regex, so names this architecture lacks are no error.
const TRACE: &str = "trace=/^(epoll_wait|epoll_pwait|epoll_pwait2|poll|ppoll|select|pselect6|restart_syscall|epoll_ctl|accept|accept4|recvfrom|recvmsg|read|sendto|sendmsg|writev|close)$";
const WAITS: [&str; 8] = [
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "restart_syscall",
];
/// No event for this long: the loop is blocked in a wait with nothing to do (longer than its
/// 250 ms timer sweep, which stops once no client has a timer running).
const QUIET: Duration = Duration::from_millis(900);
/// Between steps of the script: keeps every 40 ms tick far under the hub's 150 events.
const PACE: Duration = Duration::from_millis(30);

#[test]
fn every_event_is_a_syscall_and_every_syscall_an_event() {
    let Some(strace) = strace_binary() else {
        skip_or_fail("strace is not installed (apt-get install strace)");
        return;
    };
    let mut rows = vec![];
    let mut failures = vec![];
    for p in POLLERS {
        match session(&strace, p) {
            Ok(Some(r)) => {
                failures.extend(r.failures.iter().map(|f| format!("{p}: {f}")));
                rows.push((p, r));
            }
            Ok(None) => return,
            Err(e) => failures.push(format!("{p}: {e}")),
        }
    }
    eprintln!("{}", table(&rows));
    assert!(
        failures.is_empty(),
        "events and syscalls differ:\n{}\n{}",
        failures.join("\n"),
        table(&rows)
    );
}

/// The counts of one poller's session.
struct Report {
    /// kind → (syscalls, events)
    counts: BTreeMap<&'static str, (u64, u64)>,
    /// `read`s of the waker eventfd inside the window (no event; each wakes a `wait` that is one).
    waker_reads: u64,
    gaps: u64,
    events_total: usize,
    failures: Vec<String>,
}

fn table(rows: &[(&str, Report)]) -> String {
    let mut t = String::from("poller    ");
    for k in KINDS {
        let _ = write!(t, " {k:>13}");
    }
    t.push_str("  waker-reads gaps events  (syscalls/events; ctl for poll/select: 0 syscalls, table edits)\n");
    for (p, r) in rows {
        let _ = write!(t, "{p:<10}");
        for k in KINDS {
            let (s, e) = r.counts[k];
            let _ = write!(t, " {:>13}", format!("{s}/{e}"));
        }
        let _ = writeln!(
            t,
            "  {:>11} {:>4} {:>6}",
            r.waker_reads, r.gaps, r.events_total
        );
    }
    t
}

fn strace_binary() -> Option<PathBuf> {
    let ok = |p: &str| {
        Command::new(p)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    ["/usr/bin/strace", "strace"]
        .into_iter()
        .find(|p| ok(p))
        .map(PathBuf::from)
}

fn skip_or_fail(why: &str) {
    if std::env::var(REQUIRE).as_deref() == Ok("1") {
        panic!("{why}, and {REQUIRE}=1 says this test must run");
    }
    eprintln!("SKIPPED fidelity test: {why} (set {REQUIRE}=1 to make this a failure)");
}

/// The thread named `name` in process `pid`.
fn thread_id(pid: u32, name: &str) -> Option<u32> {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        for t in std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
        {
            if std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name) {
                return t.file_name().to_str()?.parse().ok();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn tracer_of(pid: u32, tid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// strace on one thread; stopped (SIGINT, so it detaches cleanly) by [`Tracer::finish`] or drop.
struct Tracer {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Tracer {
    /// None: strace could not attach (no permission to ptrace).
    fn attach(strace: &PathBuf, pid: u32, tid: u32, tag: &str) -> Option<Tracer> {
        let dir = std::env::temp_dir();
        let stem = format!("muxscope-fidelity-{}-{tag}", std::process::id());
        let (out, err) = (
            dir.join(format!("{stem}.strace")),
            dir.join(format!("{stem}.stderr")),
        );
        // -qq: no attach/detach/exit lines; -s 0: no buffer contents, so a " = " in chat text can
        // never be taken for a result; signal=none: no signal lines.
        let child = Command::new(strace)
            .args(["-qq", "-s", "0", "-e", "signal=none", "-e", TRACE, "-o"])
            .arg(&out)
            .args(["-p", &tid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).expect("strace stderr file"))
            .spawn()
            .expect("spawn strace");
        let mut t = Tracer { child, out, err };
        let deadline = Instant::now() + TIMEOUT;
        while tracer_of(pid, tid) != Some(t.child.id()) {
            if Instant::now() > deadline || t.child.try_wait().ok().flatten().is_some() {
                let why = std::fs::read_to_string(&t.err).unwrap_or_default();
                eprintln!("strace did not attach to thread {tid}: {}", why.trim());
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // TracerPid is set by PTRACE_SEIZE; syscall stops begin a moment later. Nothing the
        // test compares happens before the watcher subscribes, which is after this.
        std::thread::sleep(Duration::from_millis(300));
        Some(t)
    }

    /// Detaches and returns what strace wrote.
    fn finish(mut self) -> String {
        self.stop();
        let text = std::fs::read_to_string(&self.out).expect("strace output");
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(&self.err);
        text
    }

    fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
            let _ = self.child.wait();
        }
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `/ws/events` watcher on its own thread, recording every event it is sent.
struct Watcher {
    snapshot: Snapshot,
    events: Arc<Mutex<Vec<Event>>>,
    /// Snapshots after the first (only after a gap asked for a resync).
    resyncs: Arc<Mutex<Vec<u64>>>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Watcher {
    fn open(web: SocketAddr) -> Watcher {
        let events = Arc::new(Mutex::new(Vec::new()));
        let resyncs = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let (ev, rs, st) = (events.clone(), resyncs.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{web}/ws/events"))
                    .await
                    .expect("ws connect");
                let mut first = Some(first_tx);
                while !st.load(Ordering::SeqCst) {
                    let m = match tokio::time::timeout(Duration::from_millis(50), ws.next()).await {
                        Err(_) => continue,
                        Ok(Some(Ok(m))) => m,
                        Ok(other) => panic!("the event stream ended: {other:?}"),
                    };
                    let Message::Text(t) = m else { continue };
                    match serde_json::from_str::<ServerMsg>(t.as_str())
                        .unwrap_or_else(|e| panic!("bad frame {e}: {}", t.as_str()))
                    {
                        ServerMsg::Snapshot(s) => match first.take() {
                            Some(tx) => tx.send(s).unwrap(),
                            None => rs.lock().unwrap().push(s.seq),
                        },
                        ServerMsg::Events { events } => {
                            assert!(first.is_none(), "events before the snapshot");
                            ev.lock().unwrap().extend(events);
                        }
                    }
                }
            });
        });
        let snapshot = first_rx
            .recv_timeout(TIMEOUT)
            .expect("no snapshot on /ws/events");
        Watcher {
            snapshot,
            events,
            resyncs,
            stop,
            thread,
        }
    }

    fn len(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// Waits for an event `pred` accepts, at index `from` or later; returns it and its index.
    fn wait_for(
        &self,
        what: &str,
        from: usize,
        pred: impl Fn(&EventBody) -> bool,
    ) -> (EventBody, usize) {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Some((i, e)) = self
                .events
                .lock()
                .unwrap()
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, e)| pred(&e.body))
            {
                return (e.body.clone(), i);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!(
            "no event for {what}; saw {:?}",
            self.events
                .lock()
                .unwrap()
                .iter()
                .map(|e| &e.body)
                .collect::<Vec<_>>()
        );
    }

    /// The fd the loop accepted `c` as, and where in the stream (fd numbers are reused).
    fn fd_of(&self, c: &Client) -> Accepted {
        let peer = c.local.to_string();
        match self.wait_for(
            &format!("accept of {peer}"),
            0,
            |e| matches!(e, EventBody::Accept { peer: p, .. } if *p == peer),
        ) {
            (EventBody::Accept { fd, .. }, at) => Accepted { fd, at },
            _ => unreachable!(),
        }
    }

    /// Waits for the loop to close `a` (not an earlier fd with the same number).
    fn wait_close(&self, a: Accepted, reason: CloseReason) {
        let fd = a.fd;
        self.wait_for(
            &format!("close of fd {fd} ({reason:?})"),
            a.at,
            |e| matches!(e, EventBody::Close { fd: f, reason: r, .. } if *f == fd && *r == reason),
        );
    }

    /// Returns once no event has come for [`QUIET`].
    fn quiesce(&self) {
        let deadline = Instant::now() + TIMEOUT;
        let (mut n, mut since) = (self.len(), Instant::now());
        while since.elapsed() < QUIET {
            assert!(Instant::now() < deadline, "the loop never went quiet");
            std::thread::sleep(Duration::from_millis(20));
            if self.len() != n {
                (n, since) = (self.len(), Instant::now());
            }
        }
    }

    fn close(self) -> (Snapshot, Vec<Event>, Vec<u64>) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("watcher thread");
        let events = std::mem::take(&mut *self.events.lock().unwrap());
        let resyncs = std::mem::take(&mut *self.resyncs.lock().unwrap());
        (self.snapshot, events, resyncs)
    }
}

#[derive(Clone, Copy)]
struct Accepted {
    fd: i32,
    /// Index of its `accept` event in the stream.
    at: usize,
}

/// What the script must produce besides syscalls: broadcasts and nicks.
#[derive(Default)]
struct Script {
    broadcasts: u64,
    nicks: u64,
}

/// The scripted session. Every step waits for its effect (lines read back, or the loop's close
/// event), then pauses a little, so each tick of the hub holds a handful of events.
fn script(s: &Server, w: &Watcher) -> Script {
    let mut out = Script::default();
    let pace = || std::thread::sleep(PACE);
    let mut a = s.joined();
    pace();
    let mut b = s.joined();
    pace();
    let mut c = s.joined();
    pace();
    let (fa, fb, fc) = (w.fd_of(&a), w.fd_of(&b), w.fd_of(&c));

    a.send("/nick ann\n");
    a.sync();
    out.nicks += 1;
    pace();

    a.send("hello everyone\n");
    for x in [&mut a, &mut b, &mut c] {
        x.line_until("[ann] hello everyone");
    }
    out.broadcasts += 1;
    pace();

    // Two lines in one segment: one recv (and the EAGAIN one under epoll-et), two broadcasts,
    // one send to each.
    b.send("one\ntwo\n");
    let bn = b.name();
    for x in [&mut a, &mut b, &mut c] {
        x.line_until(&format!("[{bn}] one"));
        x.line_until(&format!("[{bn}] two"));
    }
    out.broadcasts += 2;
    pace();

    c.send("/help\n");
    assert!(c.line().starts_with("* commands:"));
    pace();

    // Leaves by `quit`.
    a.send("quit\n");
    assert!(a.closed_by_server(), "quit did not close");
    w.wait_close(fa, CloseReason::Quit);
    pace();

    // Leaves by a half-close right after a last line: it still gets that line, then EOF.
    b.send("leaving\n");
    b.stream.shutdown(Shutdown::Write).unwrap();
    let rest = b.read_to_eof();
    assert!(
        rest.contains(&format!("[{bn}] leaving\n")),
        "half-closed client lost its last line: {rest:?}"
    );
    c.line_until(&format!("[{bn}] leaving"));
    out.broadcasts += 1;
    w.wait_close(fb, CloseReason::Eof);
    pace();

    // Leaves by a reset: SO_LINGER 0, then close, sends an RST instead of a FIN.
    socket2::SockRef::from(&c.stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(c);
    w.wait_close(fc, CloseReason::Error);
    pace();

    // A late joiner (it may get a reused fd number) says something and half-closes with
    // nothing owed.
    let mut d = s.joined();
    let fd_d = w.fd_of(&d);
    d.send("last words\n");
    d.line_until(&format!("[{}] last words", d.name()));
    out.broadcasts += 1;
    pace();
    d.stream.shutdown(Shutdown::Write).unwrap();
    let mut rest = vec![];
    let _ = d.stream.read_to_end(&mut rest);
    w.wait_close(fd_d, CloseReason::Eof);
    out
}

/// One parsed strace line.
#[derive(Clone, Debug)]
struct Call {
    name: String,
    /// The first argument, when it is a number (an fd for every call compared).
    fd: Option<i32>,
    /// None: no result (still blocked when strace detached, or `?` for a call the kernel
    /// restarts, which then shows as `restart_syscall`).
    ret: Option<i64>,
    line: String,
}

/// Parses `strace -o` output: `NAME(ARGS) = RET ...`, optionally after a pid (`-f`), with
/// `<unfinished ...>` / `<... NAME resumed>` pairs joined per pid. Lines that are no call
/// (exits, signals, detach notes) are skipped.
fn parse_strace(text: &str) -> Vec<Call> {
    let mut calls = vec![];
    let mut pending: BTreeMap<String, String> = BTreeMap::new();
    for raw in text.lines() {
        let (pid, line) = split_pid(raw);
        let full = if let Some(rest) = line.strip_prefix("<... ") {
            // `<... NAME resumed>REST`
            let Some((_, tail)) = rest.split_once(" resumed>") else {
                continue;
            };
            match pending.remove(pid) {
                Some(head) => format!("{head}{tail}"),
                None => continue,
            }
        } else if let Some(head) = line.strip_suffix("<unfinished ...>") {
            pending.insert(pid.to_string(), head.to_string());
            continue;
        } else {
            line.to_string()
        };
        if let Some(c) = parse_call(&full) {
            calls.push(c);
        }
    }
    // Still unfinished at the end: blocked when strace detached. No result, so no event either.
    calls.extend(pending.into_values().filter_map(|h| parse_call(&h)));
    calls
}

/// `12345 rest` or `[pid 12345] rest` → ("12345", "rest"); anything else has pid "".
fn split_pid(line: &str) -> (&str, &str) {
    if let Some(rest) = line.strip_prefix("[pid ") {
        if let Some((pid, rest)) = rest.split_once("] ") {
            return (pid.trim(), rest);
        }
    }
    match line.split_once(' ') {
        Some((pid, rest)) if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) => {
            (pid, rest.trim_start())
        }
        _ => ("", line),
    }
}

fn parse_call(line: &str) -> Option<Call> {
    let open = line.find('(')?;
    let name = &line[..open];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let args = &line[open + 1..];
    let first = args.split([',', ')']).next().unwrap_or("").trim();
    let fd = first.parse().ok();
    // With `-s 0` no argument holds text, so the last " = " starts the result (strace pads the
    // space before it).
    let ret = line
        .rfind(" = ")
        .and_then(|i| line[i + 3..].split_whitespace().next())
        .and_then(|r| r.parse().ok());
    Some(Call {
        name: name.to_string(),
        fd,
        ret,
        line: line.to_string(),
    })
}

/// The compared kind of a completed syscall (None: not compared).
fn syscall_kind(c: &Call) -> Option<&'static str> {
    let ret = c.ret?;
    match c.name.as_str() {
        n if WAITS.contains(&n) => Some("wait"),
        "epoll_ctl" => Some("ctl"),
        "accept" | "accept4" if ret >= 0 => Some("accept"),
        "recvfrom" | "recvmsg" => Some("recv"),
        "sendto" | "sendmsg" | "writev" => Some("send"),
        "close" => Some("close"),
        _ => None,
    }
}

/// (kind, fd) of a syscall, as its event would say it. A wait names no client fd.
fn syscall_step(c: &Call) -> Option<(&'static str, Option<i32>)> {
    let kind = syscall_kind(c)?;
    let fd = match kind {
        "wait" => None,
        // epoll_ctl(epfd, op, fd, ...): the third argument.
        "ctl" => c
            .line
            .split(['(', ','])
            .nth(3)
            .and_then(|a| a.trim().parse().ok()),
        "accept" => c.ret.map(|r| r as i32),
        _ => c.fd,
    };
    Some((kind, fd))
}

fn event_step(e: &EventBody) -> Option<(&'static str, Option<i32>)> {
    Some(match e {
        EventBody::Wait { .. } => ("wait", None),
        EventBody::Ctl { fd, .. } => ("ctl", Some(*fd)),
        EventBody::Accept { fd, .. } => ("accept", Some(*fd)),
        EventBody::Recv { fd, .. } => ("recv", Some(*fd)),
        EventBody::Send { fd, .. } => ("send", Some(*fd)),
        EventBody::Close { fd, .. } => ("close", Some(*fd)),
        _ => return None,
    })
}

/// Runs the session for one poller. Ok(None): strace may not attach here (skipped).
fn session(strace: &PathBuf, poller: &str) -> Result<Option<Report>, String> {
    let s = Server::start(poller, &["--web-addr", "127.0.0.1:0"]);
    let tid = thread_id(s.pid(), "chat-loop").ok_or("no thread named chat-loop")?;
    // 1. strace, before anything the test compares happens.
    let Some(tracer) = Tracer::attach(strace, s.pid(), tid, poller) else {
        skip_or_fail("strace cannot attach to the chat-loop thread (ptrace not permitted?)");
        return Ok(None);
    };
    // 2. The watcher: its snapshot is the start of the window.
    let w = Watcher::open(s.web.unwrap());
    let waker = w
        .snapshot
        .fds
        .iter()
        .find(|f| f.role == Role::Waker)
        .map(|f| f.fd)
        .ok_or("the snapshot has no waker fd")?;
    // 3. The clients.
    let want = script(&s, &w);
    w.quiesce();
    // The loop is blocked in a wait nobody will end: its syscalls and its events are complete.
    let (snap, events, resyncs) = w.close();
    let text = tracer.finish();
    let calls = parse_strace(&text);

    let start = calls
        .iter()
        .position(|c| c.name == "read" && c.fd == Some(waker) && c.ret.is_some())
        .ok_or_else(|| {
            format!(
                "strace never saw the loop read its waker (fd {waker}): attached too late?\n{text}"
            )
        })?;
    let window = &calls[start + 1..];
    let events: Vec<Event> = events
        .into_iter()
        .filter(|e| e.seq == 0 || e.seq > snap.seq)
        .collect();

    let mut failures = vec![];
    // Seqs: contiguous from the snapshot on, except for what gaps say they stand for.
    let gaps: u64 = events
        .iter()
        .map(|e| {
            if let EventBody::Gap { dropped, .. } = e.body {
                dropped
            } else {
                0
            }
        })
        .sum();
    let seqs: Vec<u64> = events
        .iter()
        .filter(|e| e.seq != 0)
        .map(|e| e.seq)
        .collect();
    let holes = seqs
        .iter()
        .zip(std::iter::once(&snap.seq).chain(&seqs))
        .map(|(s, prev)| s.saturating_sub(prev + 1))
        .sum::<u64>();
    if holes != gaps || seqs.windows(2).any(|p| p[1] <= p[0]) {
        failures.push(format!(
            "seqs after snapshot {} have {holes} missing, gaps say {gaps}",
            snap.seq
        ));
    }
    if gaps > 0 || !resyncs.is_empty() {
        eprintln!(
            "{poller}: events were folded or lost: gaps {gaps}, resync snapshots {resyncs:?}"
        );
    }

    let mut counts: BTreeMap<&'static str, (u64, u64)> =
        KINDS.iter().map(|k| (*k, (0, 0))).collect();
    for c in window {
        if let Some(k) = syscall_kind(c) {
            counts.get_mut(k).unwrap().0 += 1;
        }
    }
    let (mut broadcasts, mut nicks) = (0, 0);
    for e in &events {
        match &e.body {
            EventBody::Broadcast { .. } => broadcasts += 1,
            EventBody::Nick { .. } => nicks += 1,
            b => {
                if let Some((k, _)) = event_step(b) {
                    counts.get_mut(k).unwrap().1 += 1;
                }
            }
        }
    }
    let waker_reads = window
        .iter()
        .filter(|c| c.name == "read" && c.fd == Some(waker) && c.ret.is_some())
        .count() as u64;
    let other_reads: Vec<&str> = window
        .iter()
        .filter(|c| c.name == "read" && c.fd != Some(waker))
        .map(|c| c.line.as_str())
        .collect();
    if !other_reads.is_empty() {
        failures.push(format!(
            "the loop read(2) something besides its waker: {other_reads:?}"
        ));
    }

    // poll and select keep their table in user space: their `ctl` events are real changes to
    // the interest list with no syscall, so strace must see no epoll_ctl at all, and the ctl
    // events are checked against the table instead (every join adds, every leave deletes).
    let epoll = poller.starts_with("epoll");
    if !epoll {
        let (sys, ev) = counts["ctl"];
        if sys != 0 {
            failures.push(format!("{sys} epoll_ctl syscalls from a {poller} loop"));
        }
        if ev < 8 {
            failures.push(format!(
                "only {ev} ctl events: 4 joins and 4 leaves make at least 8"
            ));
        }
    }

    if gaps == 0 {
        for k in KINDS {
            let (sys, ev) = counts[k];
            if k == "ctl" && !epoll {
                continue;
            }
            if sys != ev {
                failures.push(format!("{k}: {sys} syscalls, {ev} events"));
            }
        }
        if (broadcasts, nicks) != (want.broadcasts, want.nicks) {
            failures.push(format!(
                "broadcast/nick events {broadcasts}/{nicks}, the script made {}/{}",
                want.broadcasts, want.nicks
            ));
        }
        // The same steps in the same order, fd by fd.
        let sys_steps: Vec<(_, &Call)> = window
            .iter()
            .filter_map(|c| Some((syscall_step(c)?, c)))
            .collect();
        let ev_steps: Vec<_> = events
            .iter()
            .filter_map(|e| event_step(&e.body))
            .filter(|(k, _)| epoll || *k != "ctl")
            .collect();
        if let Some(i) = (0..sys_steps.len().max(ev_steps.len()))
            .find(|&i| sys_steps.get(i).map(|s| s.0) != ev_steps.get(i).copied())
        {
            let (from, to) = (i.saturating_sub(2), i + 3);
            let sys: Vec<_> = sys_steps[from.min(sys_steps.len())..to.min(sys_steps.len())]
                .iter()
                .map(|s| s.0)
                .collect();
            let line = sys_steps.get(i).map_or("(none)", |s| s.1.line.as_str());
            failures.push(format!(
                "order differs at step {i}: syscalls {sys:?} vs events {:?}; the syscall there: {line}",
                &ev_steps[from.min(ev_steps.len())..to.min(ev_steps.len())]
            ));
        }
    } else {
        // Something folded after all: no per-kind claim, but the totals must reconcile. For
        // poll and select the ctl events have no syscall to count, so those folded are unknown:
        // there the totals may differ by at most the gaps.
        let sys: u64 = counts.values().map(|c| c.0).sum();
        let ev: u64 = counts
            .iter()
            .filter(|(k, _)| epoll || **k != "ctl")
            .map(|(_, c)| c.1)
            .sum();
        let lhs = sys + want.broadcasts + want.nicks;
        let rhs = ev + broadcasts + nicks + gaps;
        if if epoll {
            lhs != rhs
        } else {
            lhs > rhs || rhs > lhs + gaps
        } {
            failures.push(format!(
                "with {gaps} events folded: syscalls {sys} + script {} vs events {} + gaps {gaps}",
                want.broadcasts + want.nicks,
                ev + broadcasts + nicks
            ));
        }
    }
    Ok(Some(Report {
        counts,
        waker_reads,
        gaps,
        events_total: events.len(),
        failures,
    }))
}

/// The parser on what strace writes with and without `-f`, split calls included.
#[test]
fn strace_output_parses() {
    let text = "\
restart_syscall(<... resuming interrupted read ...>) = 1
read(5, \"\"..., 8)                       = 8
4242  epoll_wait(3,  <unfinished ...>
[pid  4243] close(9)                    = 0
4242  <... epoll_wait resumed>[...], 4096, -1) = 2
accept4(4, {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr(\"127.0.0.1\")}, [128 => 16], SOCK_CLOEXEC|SOCK_NONBLOCK) = 16
accept4(4, 0x7f, [128], SOCK_CLOEXEC|SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)
epoll_ctl(3, EPOLL_CTL_DEL, 17, 0x7f)  = 0
recvfrom(18, 0x56, 65536, 0, NULL, NULL) = -1 ECONNRESET (Connection reset by peer)
pselect6(5, [3 4], [], NULL, NULL, NULL) = 1 (in [3])
poll([...], 2, -1)                      = ? ERESTART_RESTARTBLOCK (Interrupted by signal)
+++ exited with 0 +++
epoll_wait(3,  <detached ...>
";
    let calls = parse_strace(text);
    let steps: Vec<_> = calls
        .iter()
        .map(|c| (c.name.as_str(), syscall_step(c)))
        .collect();
    assert_eq!(
        steps,
        [
            ("restart_syscall", Some(("wait", None))),
            ("read", None),
            ("close", Some(("close", Some(9)))),
            ("epoll_wait", Some(("wait", None))),
            ("accept4", Some(("accept", Some(16)))),
            ("accept4", None),
            ("epoll_ctl", Some(("ctl", Some(17)))),
            ("recvfrom", Some(("recv", Some(18)))),
            ("pselect6", Some(("wait", None))),
            ("poll", None),
            ("epoll_wait", None),
        ]
    );
    assert_eq!((calls[1].fd, calls[1].ret), (Some(5), Some(8)));
}
