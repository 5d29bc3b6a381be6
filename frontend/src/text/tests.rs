//! The page's words: each event's line names the syscall its model made, and the typed log
//! entries, notes and status lines read as they should.

use super::*;
use crate::i18n::Lang;
use crate::state::{NoteEntry, Played};
use muxscope_shared::{CloseReason, CtlOp, Event, Interest, ReadyFd, ReadyFlags, Role, ThreadOp, ThreadRole};
use std::rc::Rc;

/// The syscall a kind's line must name under `model`, if it is one. Exhaustive on purpose: a
/// new kind does not compile here until it has a line.
fn syscall_of(e: &EventBody, model: IoModel) -> Option<&'static str> {
    match e {
        EventBody::Ctl { op, .. } => match (model, op) {
            (IoModel::Epoll | IoModel::EpollEt, _) => Some("epoll_ctl"),
            // Signals come for reads and writes alike: a change of interest is no syscall.
            (IoModel::Sigio, CtlOp::Mod) => None,
            (IoModel::Sigio, CtlOp::Add | CtlOp::Del) => Some("fcntl"),
            // A table in user space: no syscall.
            (IoModel::Poll | IoModel::Select | IoModel::Nonblocking | IoModel::Blocking | IoModel::IoUring, _) => None,
        },
        EventBody::Wait { .. } => Some(model.wait_call()),
        EventBody::Accept { .. } | EventBody::AcceptEagain { .. } => Some("accept4"),
        EventBody::Recv { .. } => Some("recv"),
        EventBody::Send { .. } => Some("send"),
        EventBody::Sleep { .. } => Some("clock_nanosleep"),
        EventBody::UringEnter { .. } => Some("io_uring_enter"),
        EventBody::Thread { op: ThreadOp::Spawn, .. } => Some("clone3"),
        EventBody::Thread { op: ThreadOp::Exit, .. } => Some("exit"),
        EventBody::Close { .. } => Some("close"),
        EventBody::Broadcast { .. }
        | EventBody::Nick { .. }
        | EventBody::Model { .. }
        | EventBody::Handover { .. }
        | EventBody::Relay { .. }
        | EventBody::Gap { .. } => None,
    }
}

fn every_kind() -> Vec<EventBody> {
    let wait = |rescan, overflow| EventBody::Wait {
        timeout_ms: 250,
        registered: 4,
        ready: vec![],
        ready_total: 1,
        blocked_ns: 1_000_000,
        scanned: 4,
        rescan,
        overflow,
    };
    let thread = |op| EventBody::Thread { op, tid: 4242, fd: 5, role: ThreadRole::Reader };
    vec![
        EventBody::Ctl { op: CtlOp::Add, fd: 5, interest: Some(Interest::Read), role: Role::Tcp, error: None },
        EventBody::Ctl { op: CtlOp::Mod, fd: 5, interest: Some(Interest::ReadWrite), role: Role::Tcp, error: None },
        EventBody::Ctl { op: CtlOp::Del, fd: 5, interest: None, role: Role::Tcp, error: None },
        wait(0, false),
        wait(2, false),
        wait(4, true),
        EventBody::Accept { fd: 5, peer: "127.0.0.1:40000".into(), listener: 3 },
        EventBody::AcceptEagain { listener: 3 },
        EventBody::Recv { fd: 5, bytes: 3, eof: false, would_block: false, lines: 1 },
        EventBody::Recv { fd: 5, bytes: 0, eof: false, would_block: true, lines: 0 },
        EventBody::Send { fd: 5, bytes: 9, would_block: true, queued: 4 },
        EventBody::Broadcast { from: 5, name: "ann".into(), recipients: 1, bytes: 9, text: "hi".into() },
        EventBody::Nick { fd: 5, name: "ann".into(), role: Role::Web },
        EventBody::Sleep { ns: 1_000_000 },
        thread(ThreadOp::Spawn),
        thread(ThreadOp::Exit),
        EventBody::UringEnter { submitted: 3, wait_nr: 1, blocked_ns: 2_000_000 },
        EventBody::Handover { from: IoModel::Epoll, to: IoModel::Poll },
        EventBody::Model { model: IoModel::Poll, from: Some(IoModel::Epoll) },
        EventBody::Close { fd: 5, reason: CloseReason::Eof, detail: None },
        EventBody::gap(3),
    ]
}

#[test]
fn every_kind_has_a_line_that_names_its_syscall_under_every_model() {
    for model in IoModel::ALL {
        for e in every_kind() {
            let line = describe(&e, model, None, Lang::En);
            assert!(!line.trim().is_empty(), "{model} {}", e.kind());
            if let Some(call) = syscall_of(&e, model) {
                assert!(line.contains(call), "{model} {}: {line:?} should name {call}", e.kind());
            }
        }
    }
    let line = describe(&EventBody::Model { model: IoModel::Poll, from: Some(IoModel::Epoll) }, IoModel::Poll, None, Lang::En);
    assert!(line.contains("epoll") && line.contains("poll"), "{line}");
    // Under io_uring the kernel did both phases: a recv is a completion reaped, not a call.
    let recv = &every_kind()[8];
    assert_ne!(describe(recv, IoModel::IoUring, None, Lang::En), describe(recv, IoModel::Epoll, None, Lang::En));
}

#[test]
fn a_waits_rescan_and_overflow_are_told_only_when_they_happened() {
    let wait = |rescan, overflow| EventBody::Wait {
        timeout_ms: -1,
        registered: 40,
        ready: vec![],
        ready_total: 3,
        blocked_ns: 0,
        scanned: 3,
        rescan,
        overflow,
    };
    let plain = describe(&wait(0, false), IoModel::Sigio, None, Lang::En);
    let rescan = describe(&wait(2, false), IoModel::Sigio, None, Lang::En);
    let overflow = describe(&wait(40, true), IoModel::Sigio, None, Lang::En);
    assert!(plain.starts_with("rt_sigtimedwait("), "{plain}");
    assert!(!plain.contains("rescan") && !plain.contains("overflow"), "{plain}");
    assert!(rescan.starts_with(&plain) && rescan.contains('2') && rescan.len() > plain.len(), "{rescan}");
    assert!(overflow.contains("overflow") && overflow.contains("40"), "{overflow}");
}

#[test]
fn syscalls_are_named_per_poller() {
    let add = EventBody::Ctl { op: CtlOp::Add, fd: 7, interest: Some(Interest::Read), role: Role::Tcp, error: None };
    assert_eq!(describe(&add, IoModel::Epoll, None, Lang::En), "epoll_ctl(ADD, 7, EPOLLIN)");
    assert_eq!(describe(&add, IoModel::EpollEt, None, Lang::En), "epoll_ctl(ADD, 7, EPOLLIN|EPOLLET)");
    assert_eq!(describe(&add, IoModel::Poll, None, Lang::En), "pollfd[] += {fd 7, POLLIN}");
    assert_eq!(describe(&add, IoModel::Select, Some("ann"), Lang::En), "FD_SET(7, readfds)  [ann]");
    let wait = EventBody::Wait {
        timeout_ms: -1,
        registered: 9,
        ready: vec![],
        ready_total: 0,
        blocked_ns: 1_500_000,
        scanned: 12,
        rescan: 0,
        overflow: false,
    };
    assert_eq!(describe(&wait, IoModel::Select, None, Lang::En), "pselect6(9 fds, timeout ∞) → 0 ready after 1.50 ms, scanned 12 fds");
}

fn played(seq: u64, body: EventBody, model: IoModel, name: Option<&str>) -> Rc<Played> {
    Rc::new(Played { index: seq, event: Event { seq, ts_ns: 0, body }, model, name: name.map(String::from) })
}

fn line_of(e: &LogEntry) -> (&'static str, String) {
    log_line(&LogLine::Entry(e), Lang::En)
}

#[test]
fn log_entries_read_as_lines() {
    let close = played(12, EventBody::Close { fd: 5, reason: CloseReason::Quit, detail: None }, IoModel::Epoll, Some("ann"));
    assert_eq!(line_of(&LogEntry::Event(close)), ("close", "close(fd 5) [ann] — said quit".to_string()));
    let add = EventBody::Ctl { op: CtlOp::Add, fd: 7, interest: Some(Interest::Read), role: Role::Tcp, error: None };
    let unknown = line_of(&LogEntry::Event(played(13, add, IoModel::Epoll, None))).1;
    assert_eq!(unknown, "epoll_ctl(ADD, 7, EPOLLIN)  [fd 7]", "an fd the picture did not know is named by its number");
    let send = played(14, EventBody::Send { fd: 5, bytes: 9, would_block: false, queued: 0 }, IoModel::Epoll, None);
    assert_eq!(line_of(&LogEntry::Event(send)).1, "send(fd 5) → 9 B");
    let fold = played(0, EventBody::Gap { dropped: 7, folded: true, resync: true, counters: None }, IoModel::Epoll, None);
    let (class, text) = line_of(&LogEntry::Event(fold));
    assert_eq!(class, "fold");
    assert!(text.contains("×7 events folded by the gateway") && text.contains("a snapshot follows"), "{text}");
    let (class, text) = line_of(&LogEntry::Event(played(0, EventBody::gap(42), IoModel::Epoll, None)));
    assert!(class == "gap" && text.contains("42 events dropped"), "{text}");
    let switch = LogEntry::Switch { index: 3, from: IoModel::Epoll, to: IoModel::Poll, fds: 2, seen_in_snapshot: false };
    let (class, text) = line_of(&switch);
    assert!(class == "model" && text.contains("epoll → poll") && text.contains("2 fds"), "{text}");
    let seen = LogEntry::Switch { index: 3, from: IoModel::Epoll, to: IoModel::Sigio, fds: 2, seen_in_snapshot: true };
    assert!(line_of(&seen).1.contains("snapshot"));
    let snap = LogEntry::Snapshot { index: 0, fds: 2, model: Some(IoModel::Epoll) };
    assert_eq!(line_of(&snap).1, "snapshot: 2 fds registered, epoll model");
}

#[test]
fn notes_and_the_stream_status_read_as_lines() {
    let note = |n| log_line(&LogLine::Note(&NoteEntry { id: 1, at: 0, note: n }), Lang::En).1;
    assert_eq!(note(Note::Folded { n: 376, why: FoldWhy::TooFast }), "×376 events folded (faster than it can be drawn)");
    assert!(note(Note::Evicted { events: 5000 }).contains("oldest 5000 events"));
    let closed = stream_down(&StreamDown { reason: "too many watchers (256, --max-watchers)".into(), retry_s: 4 }, Lang::En);
    assert!(closed.contains("--max-watchers") && closed.contains("trying again in 4 s"), "{closed}");
    assert_eq!(stream_down(&StreamDown { reason: String::new(), retry_s: 2 }, Lang::En), "event stream lost; trying again in 2 s");
}

#[test]
fn phases_say_the_seed_words() {
    let ready = vec![ReadyFd { fd: 5, flags: ReadyFlags(ReadyFlags::IN) }];
    let wait =
        EventBody::Wait { timeout_ms: -1, registered: 2, ready, ready_total: 1, blocked_ns: 0, scanned: 1, rescan: 0, overflow: false };
    assert!(
        phase(&played(1, wait, IoModel::Epoll, None), Lang::En).starts_with("① the kernel has data: epoll_wait returned 1 ready (fd 5 ")
    );
    let recv = EventBody::Recv { fd: 5, bytes: 3, eof: false, would_block: false, lines: 1 };
    let text = phase(&played(2, recv.clone(), IoModel::Epoll, Some("ann")), Lang::En);
    assert_eq!(text, "② recv(fd 5) copied 3 bytes from the kernel to user space (ann)");
    assert!(phase(&played(2, recv, IoModel::IoUring, Some("ann")), Lang::En).contains("completed"));
    let thread = EventBody::Thread { op: ThreadOp::Spawn, tid: 1, fd: 5, role: ThreadRole::Reader };
    assert!(phase(&played(3, thread, IoModel::Blocking, None), Lang::En).contains("clone3"));
}

#[test]
fn the_history_line_says_how_long_how_many_and_how_big() {
    let s = HistoryStats { items: 2_100_000, bytes: 38 << 20, span_ns: 41 * 60 * 1_000_000_000, evicted: 0 };
    assert_eq!(history(&s, Lang::En), "history: 41 min, 2.1 M events, 38 MiB");
    let s = HistoryStats { items: 120, bytes: 300 << 10, span_ns: 5_000_000_000, evicted: 7 };
    assert_eq!(history(&s, Lang::En), "history: 5 s, 120 events, 0.3 MiB (oldest 7 let go)");
}
