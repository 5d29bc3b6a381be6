//! Fidelity: the event stream tells the truth about the loop's system calls.
//!
//! For every poller, a scripted chat session (clients join, name themselves, talk, and leave by
//! `quit`, by a half-close and by a reset; then back-pressure, a refusal and failing calls, see
//! below) runs while `strace` traces the `chat-loop` thread and a `/ws/events` watcher records
//! the stream. The loop's syscalls of each kind are then counted and compared *exactly* with the
//! events of that kind, and so is their order, fd by fd:
//!
//! | event    | syscall (x86-64 glibc)                                                      |
//! |----------|-----------------------------------------------------------------------------|
//! | `wait`   | `epoll_wait` / `poll` / `pselect6`, whichever the poller uses (\*)          |
//! | `ctl`    | `epoll_ctl` (epoll and epoll-et); none for poll and select, see below       |
//! | `accept` | `accept4` that returned an fd (not the EAGAIN one that ends each batch)     |
//! | `recv`   | every `recvfrom` (`recv(2)`): bytes, 0 (EOF), EAGAIN, or an error such as  |
//! |          | the ECONNRESET of the client that resets (its `close` is an event of its own) |
//! | `send`   | every `sendto` / `sendmsg` / `writev`: bytes (all or part), EAGAIN, or an  |
//! |          | error (EPIPE, ECONNRESET); the `* error:` line to a refused client too      |
//! | `close`  | `close`                                                                     |
//!
//! (\*) A wait that a ptrace stop interrupts shows as a call with result `?` (not counted) and
//! the kernel's `restart_syscall` that resumes it (counted): one wait, one event.
//!
//! So are their outcomes: how many recvs and sends moved bytes, returned 0 (EOF), EAGAIN, or
//! failed otherwise (an event with no bytes, no EOF and no would-block), and the bytes in all.
//!
//! The second part of the script (`fidelity_support/script.rs`): a talker's 3 KB lines fill the
//! sockets of three clients that stop reading (SO_RCVBUF 1024, MSS 536), so the loop's sends go
//! partial, the rest is queued, write interest is armed (`ctl` MOD) and later lines are queued
//! with no call at all (and so no event). One of them resets with output owed (its recv fails
//! with ECONNRESET), one half-closes (on the EOF the flush meets EAGAIN) and then resets (under
//! select a send is tried and fails with EPIPE; epoll and poll see ERR|HUP and just close), and
//! the last reads it all (writes resume on EPOLLOUT, then write interest is disarmed). While all
//! four are in, a fifth client hits `--max-clients` and is accepted, sent its error line, and
//! closed.
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
mod fidelity_support;
use common::*;
use fidelity_support::script::{script, MAX_CLIENTS};
use fidelity_support::strace::*;
use fidelity_support::watcher::Watcher;
use muxscope_shared::{Event, EventBody, Role};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

const REQUIRE: &str = "MUXSCOPE_REQUIRE_STRACE";
/// The kinds compared, in table order.
const KINDS: [&str; 6] = ["wait", "ctl", "accept", "recv", "send", "close"];
/// The outcomes compared, in table order: (kind, outcome) of [`syscall_outcome`].
const OUTCOMES: [(&str, &str); 7] =
    [("recv", "bytes"), ("recv", "eof"), ("recv", "eagain"), ("recv", "error"), ("send", "bytes"), ("send", "eagain"), ("send", "error")];

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
    assert!(failures.is_empty(), "events and syscalls differ:\n{}\n{}", failures.join("\n"), table(&rows));
}

/// The counts of one poller's session.
struct Report {
    /// kind → (syscalls, events)
    counts: BTreeMap<&'static str, (u64, u64)>,
    /// (kind, outcome) → (syscalls, events), and the bytes: `recv`/`send` → (syscalls, events)
    outcomes: BTreeMap<(&'static str, &'static str), (u64, u64)>,
    bytes: BTreeMap<&'static str, (u64, u64)>,
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
        let _ = writeln!(t, "  {:>11} {:>4} {:>6}", r.waker_reads, r.gaps, r.events_total);
    }
    t.push_str("\npoller    ");
    for (k, o) in OUTCOMES {
        let _ = write!(t, " {:>12}", format!("{k}-{o}"));
    }
    t.push_str("     recv-bytes     send-bytes  (syscalls/events)\n");
    for (p, r) in rows {
        let _ = write!(t, "{p:<10}");
        for ko in OUTCOMES {
            let (s, e) = r.outcomes[&ko];
            let _ = write!(t, " {:>12}", format!("{s}/{e}"));
        }
        for k in ["recv", "send"] {
            let (s, e) = r.bytes[k];
            let _ = write!(t, " {:>14}", format!("{s}/{e}"));
        }
        t.push('\n');
    }
    t
}

fn skip_or_fail(why: &str) {
    if std::env::var(REQUIRE).as_deref() == Ok("1") {
        panic!("{why}, and {REQUIRE}=1 says this test must run");
    }
    eprintln!("SKIPPED fidelity test: {why} (set {REQUIRE}=1 to make this a failure)");
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

/// What a `recv` or `send` event says its call did, as [`syscall_outcome`] says it of a syscall.
fn event_outcome(e: &EventBody) -> Option<(&'static str, &'static str, u64)> {
    let (kind, bytes, eof, would_block) = match *e {
        EventBody::Recv { bytes, eof, would_block, .. } => ("recv", bytes as u64, eof, would_block),
        EventBody::Send { bytes, would_block, .. } => ("send", bytes, false, would_block),
        _ => return None,
    };
    let outcome = match () {
        _ if bytes > 0 => "bytes",
        _ if eof => "eof",
        _ if would_block => "eagain",
        _ => "error",
    };
    Some((kind, outcome, bytes))
}

/// Runs the session for one poller. Ok(None): strace may not attach here (skipped).
fn session(strace: &PathBuf, poller: &str) -> Result<Option<Report>, String> {
    let max = MAX_CLIENTS.to_string();
    let s = Server::start(poller, &["--web-addr", "127.0.0.1:0", "--max-clients", &max]);
    let tid = thread_id(s.pid(), "chat-loop").ok_or("no thread named chat-loop")?;
    // 1. strace, before anything the test compares happens.
    let Some(tracer) = Tracer::attach(strace, s.pid(), tid, poller) else {
        skip_or_fail("strace cannot attach to the chat-loop thread (ptrace not permitted?)");
        return Ok(None);
    };
    // 2. The watcher: its snapshot is the start of the window.
    let w = Watcher::open(s.web.unwrap());
    let waker = w.snapshot.fds.iter().find(|f| f.role == Role::Waker).map(|f| f.fd).ok_or("the snapshot has no waker fd")?;
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
        .ok_or_else(|| format!("strace never saw the loop read its waker (fd {waker}): attached too late?\n{text}"))?;
    let window = &calls[start + 1..];
    let events: Vec<Event> = events.into_iter().filter(|e| e.seq == 0 || e.seq > snap.seq).collect();

    let mut failures = vec![];
    // Seqs: contiguous from the snapshot on, except for what gaps say they stand for.
    let gaps: u64 = events.iter().map(|e| if let EventBody::Gap { dropped, .. } = e.body { dropped } else { 0 }).sum();
    let seqs: Vec<u64> = events.iter().filter(|e| e.seq != 0).map(|e| e.seq).collect();
    let holes = seqs.iter().zip(std::iter::once(&snap.seq).chain(&seqs)).map(|(s, prev)| s.saturating_sub(prev + 1)).sum::<u64>();
    if holes != gaps || seqs.windows(2).any(|p| p[1] <= p[0]) {
        failures.push(format!("seqs after snapshot {} have {holes} missing, gaps say {gaps}", snap.seq));
    }
    if gaps > 0 || !resyncs.is_empty() {
        eprintln!("{poller}: events were folded or lost: gaps {gaps}, resync snapshots {resyncs:?}");
    }

    let mut counts: BTreeMap<&'static str, (u64, u64)> = KINDS.iter().map(|k| (*k, (0, 0))).collect();
    for c in window {
        if let Some(k) = syscall_kind(c) {
            counts.get_mut(k).unwrap().0 += 1;
        }
    }
    let mut outcomes: BTreeMap<_, (u64, u64)> = OUTCOMES.iter().map(|ko| (*ko, (0, 0))).collect();
    let mut bytes: BTreeMap<_, (u64, u64)> = [("recv", (0, 0)), ("send", (0, 0))].into();
    for (k, o, n) in window.iter().filter_map(syscall_outcome) {
        outcomes.get_mut(&(k, o)).unwrap().0 += 1;
        bytes.get_mut(k).unwrap().0 += n;
    }
    for (k, o, n) in events.iter().filter_map(|e| event_outcome(&e.body)) {
        outcomes.get_mut(&(k, o)).unwrap().1 += 1;
        bytes.get_mut(k).unwrap().1 += n;
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
    let waker_reads = window.iter().filter(|c| c.name == "read" && c.fd == Some(waker) && c.ret.is_some()).count() as u64;
    let other_reads: Vec<&str> = window.iter().filter(|c| c.name == "read" && c.fd != Some(waker)).map(|c| c.line.as_str()).collect();
    if !other_reads.is_empty() {
        failures.push(format!("the loop read(2) something besides its waker: {other_reads:?}"));
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
        if ev < 16 {
            failures.push(format!("only {ev} ctl events: 8 joins and 8 leaves make at least 16"));
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
        for (what, (sys, ev)) in
            outcomes.iter().map(|((k, o), c)| (format!("{k} {o}"), c)).chain(bytes.iter().map(|(k, c)| (format!("{k} bytes in all"), c)))
        {
            if sys != ev {
                failures.push(format!("{what}: {sys} by the syscalls, {ev} by the events"));
            }
        }
        if (broadcasts, nicks) != (want.broadcasts, want.nicks) {
            failures.push(format!("broadcast/nick events {broadcasts}/{nicks}, the script made {}/{}", want.broadcasts, want.nicks));
        }
        // The same steps in the same order, fd by fd.
        let sys_steps: Vec<(_, &Call)> = window.iter().filter_map(|c| Some((syscall_step(c)?, c))).collect();
        let ev_steps: Vec<_> = events.iter().filter_map(|e| event_step(&e.body)).filter(|(k, _)| epoll || *k != "ctl").collect();
        if let Some(i) = (0..sys_steps.len().max(ev_steps.len())).find(|&i| sys_steps.get(i).map(|s| s.0) != ev_steps.get(i).copied()) {
            let (from, to) = (i.saturating_sub(2), i + 3);
            let sys: Vec<_> = sys_steps[from.min(sys_steps.len())..to.min(sys_steps.len())].iter().map(|s| s.0).collect();
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
        let ev: u64 = counts.iter().filter(|(k, _)| epoll || **k != "ctl").map(|(_, c)| c.1).sum();
        let lhs = sys + want.broadcasts + want.nicks;
        let rhs = ev + broadcasts + nicks + gaps;
        if if epoll { lhs != rhs } else { lhs > rhs || rhs > lhs + gaps } {
            failures.push(format!(
                "with {gaps} events folded: syscalls {sys} + script {} vs events {} + gaps {gaps}",
                want.broadcasts + want.nicks,
                ev + broadcasts + nicks
            ));
        }
    }
    Ok(Some(Report { counts, outcomes, bytes, waker_reads, gaps, events_total: events.len(), failures }))
}
