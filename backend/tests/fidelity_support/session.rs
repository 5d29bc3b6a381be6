//! One model's session: the server, strace, the watcher, the script, and the window in which
//! the syscalls and the events are compared (see tests/fidelity.rs).

use super::compare::{compare, Input, Report};
use super::kinds::{backed, event_step, syscall_step, IDLE};
use super::script::{script, MAX_CLIENTS};
use super::strace::{parse_strace, thread_id, Call, Options, Tracer};
use super::watcher::Watcher;
use crate::common::Server;
use muxscope_shared::{Event, EventBody, Model, Role};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The non-blocking model naps 1 ms after a sweep that found nothing; strace makes that nap
/// this much longer (µs), so its stream of `accept_eagain`, `recv` EAGAIN and `sleep` events
/// stays far under the gateway's fold (150 events per 40 ms tick). Only timing changes.
pub const NAP_DELAY_US: u32 = 4000;

/// For debugging a difference: strace's output and the events after the snapshot, kept in
/// this directory as `MODEL.strace` and `MODEL.events` (one JSON event a line).
pub const KEEP: &str = "MUXSCOPE_FIDELITY_KEEP";

/// What a session adds to the plain one: the server's extra arguments, and a step run once
/// the watcher has its snapshot and before the script, returning the broadcasts it made (the
/// cluster test's remote lines arriving on the relay fd).
#[derive(Default)]
pub struct Extra<'a> {
    /// Names this session's scratch files apart from a plain session of the same model (the
    /// tests of one binary run at once).
    pub tag: &'a str,
    pub args: &'a [&'a str],
    pub before: Option<&'a dyn Fn(&Watcher) -> u64>,
}

/// Runs the session for one model. Ok(None): strace may not attach here (skip).
pub fn session(strace: &PathBuf, name: &str) -> Result<Option<Report>, String> {
    session_with(strace, name, Extra::default())
}

/// [`session`] with `extra`.
pub fn session_with(strace: &PathBuf, name: &str, extra: Extra) -> Result<Option<Report>, String> {
    let model: Model = name.parse()?;
    let max = MAX_CLIENTS.to_string();
    let mut args = vec!["--web-addr", "127.0.0.1:0", "--max-clients", &max];
    args.extend_from_slice(extra.args);
    let s = Server::start(name, &args);
    let tid = thread_id(s.pid(), "chat-loop").ok_or("no thread named chat-loop")?;
    // The blocking model's acceptor was started before strace can attach; `-f` attaches it
    // (and every other thread of the process), and follows the threads it and the readers start.
    let chat_threads = match model {
        Model::Blocking => vec![tid, thread_id(s.pid(), "chat-accept").ok_or("no thread named chat-accept")?],
        _ => vec![tid],
    };
    let inject = format!("clock_nanosleep:delay_exit={NAP_DELAY_US}");
    let opts = Options {
        tid,
        follow: (model == Model::Blocking).then_some(&chat_threads[..]),
        inject: (model == Model::Nonblocking).then_some(&inject[..]),
    };
    // 1. strace, before anything the test compares happens.
    let Some(tracer) = Tracer::attach(strace, s.pid(), &opts, &format!("{name}{}", extra.tag)) else {
        return Ok(None);
    };
    // 2. The watcher: its snapshot is the start of the window.
    let w = Watcher::open(s.web.unwrap());
    let waker = w.snapshot.fds.iter().find(|f| f.role == Role::Waker).map(|f| f.fd).ok_or("the snapshot has no waker fd")?;
    // 3. The clients (after what the caller adds).
    let before = extra.before.map_or(0, |f| f(&w));
    let mut want = script(&s, &w, model);
    want.broadcasts += before;
    // The loop is blocked in a wait nobody will end (the non-blocking one sweeps on, finding
    // nothing): its syscalls and its events are complete.
    w.quiesce(|e| model == Model::Nonblocking && IDLE.contains(&e.kind()));
    let (snap, events, resyncs) = w.close();
    let text = tracer.finish();
    let mut calls = parse_strace(&text);
    if model == Model::Blocking {
        calls = chat_calls(calls, &chat_threads);
    }
    let (calls, files) = without_files(calls);
    let events: Vec<Event> = events.into_iter().filter(|e| e.seq == 0 || e.seq > snap.seq).collect();
    if let Ok(dir) = std::env::var(KEEP) {
        let json: Vec<String> = events.iter().map(|e| serde_json::to_string(e).expect("an event")).collect();
        let kept =
            std::fs::write(format!("{dir}/{name}.strace"), &text).and(std::fs::write(format!("{dir}/{name}.events"), json.join("\n")));
        eprintln!("{name}: strace output and events kept in {dir}: {kept:?}");
    }
    if !resyncs.is_empty() {
        eprintln!("{name}: resync snapshots {resyncs:?}");
    }

    let (window, note) = match model {
        // Nothing happens between strace attaching and the watcher's snapshot: no client yet,
        // the acceptor blocked, the chat-loop thread keeping house (no event).
        Model::Blocking => (&calls[..], "window: every call of the chat's threads since strace attached".to_string()),
        Model::Nonblocking => aligned(model, &calls, &events)?,
        // The doorbell is read by the ring, not by a syscall: the watcher's ring ends the
        // enter the loop was blocked in (unwatched, so no event), and the window starts after it.
        Model::IoUring => {
            let start = calls
                .iter()
                .position(|c| (c.name == "io_uring_enter" || c.name == "restart_syscall") && c.ret.is_some())
                .ok_or_else(|| format!("strace never saw an io_uring_enter return: attached too late?\n{text}"))?;
            (&calls[start + 1..], format!("window: after the first io_uring_enter that returned (call {start} of {})", calls.len()))
        }
        _ => {
            let start = calls
                .iter()
                .position(|c| c.name == "read" && c.fd == Some(waker) && c.ret.is_some())
                .ok_or_else(|| format!("strace never saw the loop read its waker (fd {waker}): attached too late?\n{text}"))?;
            (&calls[start + 1..], format!("window: after the first read of the waker (call {start} of {})", calls.len()))
        }
    };
    let mut r = compare(&Input { model, calls: window, events: &events, snap_seq: snap.seq, waker, want: &want });
    r.notes.insert(0, note);
    if files > 0 {
        r.notes.push(format!("{files} calls on files the threads opened themselves left out (glibc reads /sys/devices/system/cpu/online)"));
    }
    if r.gaps > 0 || !resyncs.is_empty() {
        eprintln!("{name}: events were folded or lost: gaps {}, resync snapshots {resyncs:?}", r.gaps);
    }
    Ok(Some(r))
}

/// The blocking model, traced with `-f`: only the calls of the chat-loop thread, the acceptor,
/// and the threads they (and theirs) started; not the gateway's.
fn chat_calls(calls: Vec<Call>, roots: &[u32]) -> Vec<Call> {
    let mut ours: BTreeSet<u32> = roots.iter().copied().collect();
    // A child may run (and be printed) before its parent's clone3 returns: to a fixed point.
    loop {
        let before = ours.len();
        for c in &calls {
            if matches!(c.name.as_str(), "clone" | "clone3") && c.tid.is_some_and(|t| ours.contains(&t)) {
                ours.extend(c.ret.filter(|&r| r > 0).map(|r| r as u32));
            }
        }
        if ours.len() == before {
            break;
        }
    }
    calls.into_iter().filter(|c| c.tid.is_some_and(|t| ours.contains(&t))).collect()
}

/// Leaves out the calls on files the traced threads opened themselves: their `open`, `read`s
/// and `close`. (glibc's malloc opens, reads and closes /sys/devices/system/cpu/online when a new
/// thread first allocates, sizing its arenas: a `close` that is no connection's.) Returns the
/// rest and how many were left out.
fn without_files(calls: Vec<Call>) -> (Vec<Call>, usize) {
    let mut open: BTreeSet<i64> = BTreeSet::new();
    let n = calls.len();
    let kept: Vec<Call> = calls
        .into_iter()
        .filter(|c| match (c.name.as_str(), c.fd.map(i64::from)) {
            ("open" | "openat", _) => {
                open.extend(c.ret.filter(|&r| r >= 0));
                false
            }
            ("read", Some(fd)) => !open.contains(&fd),
            ("close", Some(fd)) => !open.remove(&fd),
            _ => true,
        })
        .collect();
    let left_out = n - kept.len();
    (kept, left_out)
}

/// The non-blocking model's window. Its sweep never reads the waker, and it never blocks, so
/// neither end has a call to cut at: before the first client and after the last one left, every
/// sweep is `accept4` → EAGAIN and a nap, `accept_eagain` and `sleep`. So both sides are aligned
/// at their first `accept` and their last step that is not idle, and each keeps as many idle
/// steps before and after as the events have (strace, which attached first and detached last,
/// has more); a gap counts as the steps it stands for. The order check then holds them step by
/// step.
fn aligned<'a>(model: Model, calls: &'a [Call], events: &[Event]) -> Result<(&'a [Call], String), String> {
    let sys: Vec<(usize, &'static str)> = calls.iter().enumerate().filter_map(|(i, c)| Some((i, syscall_step(model, c)?.kind))).collect();
    let ev: Vec<(&'static str, u64)> = events
        .iter()
        .filter_map(|e| match e.body {
            EventBody::Gap { dropped, .. } => Some(("gap", dropped)),
            ref b => event_step(b).filter(|s| backed(model, s.kind, s.sub)).map(|s| (s.kind, 1)),
        })
        .collect();
    let busy = |k: &str| !IDLE.contains(&k) && k != "gap";
    let count = |v: &[(&str, u64)]| v.iter().map(|e| e.1).sum::<u64>() as usize;
    let ev_first = ev.iter().position(|e| e.0 == "accept").ok_or("no accept event")?;
    let ev_last = ev.iter().rposition(|e| busy(e.0)).expect("an accept is busy");
    let (before, after) = (count(&ev[..ev_first]), count(&ev[ev_last + 1..]));
    let sys_first = sys.iter().position(|s| s.1 == "accept").ok_or("strace saw no accept4 that returned an fd")?;
    let sys_last = sys.iter().rposition(|s| busy(s.1)).expect("an accept is busy");
    if sys_first < before || sys_last + after >= sys.len() {
        return Err(format!(
            "strace saw {sys_first} steps before the first accept and {} after the last busy one; the events {before} and {after}",
            sys.len() - sys_last - 1
        ));
    }
    let (from, to) = (sys[sys_first - before].0, sys[sys_last + after].0 + 1);
    let note = format!(
        "window: aligned at the first accept and the last busy step, with {before} idle steps before and {after} after (calls {from}..{to} of {}); naps made {NAP_DELAY_US} µs longer by strace",
        calls.len()
    );
    Ok((&calls[from..to], note))
}
