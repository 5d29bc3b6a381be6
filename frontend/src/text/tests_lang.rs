//! Every word of the page in both languages: each fixed key, each log entry kind under every
//! model, each note, phase and status line. None is empty, and a Chinese line has Chinese in it
//! wherever the English one has words (lines that are only a syscall stay as they are).

use super::*;
use crate::history::HistoryStats;
use crate::i18n::{Panel, Ui};
use crate::models;
use crate::state::{LogEntry, NoteEntry};
use muxscope_shared::{CloseReason, CtlOp, Event, Interest, ReadyFd, ReadyFlags, Role, ThreadOp, ThreadRole};
use std::rc::Rc;

fn has_cjk(s: &str) -> bool {
    s.chars()
        .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3000}'..='\u{303f}').contains(&c) || ('\u{ff00}'..='\u{ffef}').contains(&c))
}

/// Words a line may hold in both languages: syscalls, flags, tables and units.
const NEUTRAL: &[&str] = &[
    "fd",
    "fds",
    "recv",
    "send",
    "accept",
    "close",
    "exit",
    "tid",
    "timeout",
    "epoll",
    "poll",
    "select",
    "pollfd",
    "sweep",
    "ring",
    "wants",
    "pselect",
    "rt",
    "sigtimedwait",
    "nanosleep",
    "clock",
    "io",
    "uring",
    "enter",
    "to",
    "submit",
    "min",
    "complete",
    "muxscope",
    "replay",
    "export",
    "record",
    "nc",
    "ui",
    "perfetto",
    "dev",
    "ann",
    "ms",
    "ns",
    "s",
    "mib",
    "rss",
    "rtt",
    "cpu",
    "eof",
    "ctl",
    "set",
    "clr",
    "events",
    "readfds",
    "writefds",
    "recvfrom",
    "clone",
    "aio",
    "spin",
    "wait",
    "fcntl",
    "max",
    "clients",
    "per",
    "ip",
    "file",
    "json",
];

/// Whether an English line says something in words (not only calls, flags and numbers).
fn has_words(s: &str) -> bool {
    s.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 2 && w.chars().all(|c| c.is_ascii_lowercase()))
        .any(|w| !NEUTRAL.contains(&w))
}

fn check(what: &str, en: &str, zh: &str) {
    assert!(!en.trim().is_empty(), "{what}: empty English");
    assert!(!zh.trim().is_empty(), "{what}: empty Chinese");
    if has_words(en) {
        assert!(has_cjk(zh), "{what}: the Chinese has no Chinese in it: {zh:?} (English {en:?})");
    }
}

fn both(what: &str, f: impl Fn(Lang) -> String) {
    check(what, &f(Lang::En), &f(Lang::Zh));
}

#[test]
fn every_fixed_key_has_both_languages() {
    for k in Ui::ALL {
        check(&format!("{k:?}"), k.t(Lang::En), k.t(Lang::Zh));
    }
    for k in Panel::ALL {
        check(&format!("{k:?}"), k.t(Lang::En), k.t(Lang::Zh));
    }
    for lang in Lang::ALL {
        assert!(!lang.toggle_label().is_empty());
    }
}

fn kinds() -> Vec<EventBody> {
    let wait = |rescan, overflow| EventBody::Wait {
        timeout_ms: 250,
        registered: 4,
        ready: vec![ReadyFd { fd: 5, flags: ReadyFlags(ReadyFlags::IN) }],
        ready_total: 1,
        blocked_ns: 1_000_000,
        scanned: 4,
        rescan,
        overflow,
    };
    let mut all = vec![
        EventBody::Ctl { op: CtlOp::Add, fd: 5, interest: Some(Interest::Read), role: Role::Tcp, error: None },
        EventBody::Ctl { op: CtlOp::Mod, fd: 5, interest: Some(Interest::ReadWrite), role: Role::Tcp, error: None },
        EventBody::Ctl { op: CtlOp::Del, fd: 5, interest: None, role: Role::Tcp, error: None },
        EventBody::Ctl { op: CtlOp::Add, fd: 5, interest: Some(Interest::Read), role: Role::Tcp, error: Some("EBADF".into()) },
        wait(0, false),
        wait(2, false),
        wait(4, true),
        EventBody::Accept { fd: 5, peer: "127.0.0.1:40000".into(), listener: 3 },
        EventBody::AcceptEagain { listener: 3 },
        EventBody::Recv { fd: 5, bytes: 3, eof: false, would_block: false, lines: 1 },
        EventBody::Recv { fd: 5, bytes: 0, eof: false, would_block: true, lines: 0 },
        EventBody::Recv { fd: 5, bytes: 0, eof: true, would_block: false, lines: 0 },
        EventBody::Send { fd: 5, bytes: 9, would_block: true, queued: 4 },
        EventBody::Broadcast { from: 5, name: "ann".into(), recipients: 1, bytes: 9, text: "hi".into() },
        EventBody::Nick { fd: 5, name: "ann".into(), role: Role::Web },
        EventBody::Sleep { ns: 1_000_000 },
        EventBody::UringEnter { submitted: 3, wait_nr: 1, blocked_ns: 2_000_000 },
        EventBody::Handover { from: IoModel::Epoll, to: IoModel::Poll },
        EventBody::Model { model: IoModel::Poll, from: Some(IoModel::Epoll) },
        EventBody::gap(3),
        EventBody::Gap { dropped: 3, folded: true, resync: false, counters: None },
    ];
    for op in ThreadOp::ALL {
        for role in ThreadRole::ALL {
            all.push(EventBody::Thread { op, tid: 4242, fd: 5, role });
        }
    }
    for reason in CloseReason::ALL {
        all.push(EventBody::Close { fd: 5, reason, detail: None });
    }
    for state in muxscope_shared::RelayState::ALL {
        let nodes = vec![muxscope_shared::ClusterNode { name: "A".into(), clients: 3, me: true }];
        all.push(EventBody::Relay {
            relay: Box::new(muxscope_shared::RelayStatus {
                node: "A".into(),
                redis: "redis://127.0.0.1:6379".into(),
                state,
                fd: Some(7),
                since_ms: 1_700_000_000_000,
                error: None,
                nodes,
                published: 1,
                received: 2,
                lost_down: 3,
                lost_slow: 0,
                unconfirmed: 0,
                missed: 0,
            }),
        });
    }
    all
}

fn played(seq: u64, body: EventBody, model: IoModel) -> Rc<Played> {
    Rc::new(Played { index: seq, event: Event { seq, ts_ns: 0, body }, model, name: Some("ann".into()) })
}

#[test]
fn every_log_entry_kind_and_phase_has_both_languages_under_every_model() {
    for model in IoModel::ALL {
        for (i, body) in kinds().into_iter().enumerate() {
            let what = format!("{model} {} #{i}", body.kind());
            both(&what, |l| describe(&body, model, None, l));
            let p = played(i as u64 + 1, body.clone(), model);
            both(&format!("log {what}"), |l| log_line(&LogLine::Entry(&LogEntry::Event(p.clone())), l).1);
            both(&format!("phase {what}"), |l| phase(&p, l));
            // The syscall a line names is named in both.
            let (en, zh) = (describe(&body, model, None, Lang::En), describe(&body, model, None, Lang::Zh));
            let call = en.split('(').next().unwrap_or_default();
            if call.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !call.is_empty() {
                assert!(zh.contains(call), "{what}: {zh:?} should name {call}");
            }
        }
        for (fds, seen) in [(2, false), (3, true)] {
            let switch = LogEntry::Switch { index: 3, from: IoModel::Epoll, to: model, fds, seen_in_snapshot: seen };
            both("switch", |l| log_line(&LogLine::Entry(&switch), l).1);
        }
        let snap = LogEntry::Snapshot { index: 0, fds: 2, model: Some(model) };
        both("snapshot", |l| log_line(&LogLine::Entry(&snap), l).1);
    }
    for by_gateway in [0, 7] {
        for resync in [false, true] {
            for folded in [false, true] {
                let p = played(by_gateway, EventBody::Gap { dropped: 7, folded, resync, counters: None }, IoModel::Epoll);
                both("gap", |l| log_line(&LogLine::Entry(&LogEntry::Event(p.clone())), l).1);
            }
        }
    }
    both("phases", |l| phases(l).to_string());
}

#[test]
fn every_note_and_status_line_has_both_languages() {
    let notes = [
        Note::Connected,
        Note::Lost,
        Note::Closed { reason: String::new(), retry_s: 2 },
        Note::Closed { reason: "too many watchers".into(), retry_s: 2 },
        Note::Folded { n: 3, why: FoldWhy::TooFast },
        Note::Folded { n: 3, why: FoldWhy::QueueFull },
        Note::Evicted { events: 9 },
        Note::Opened { events: 9 },
    ];
    for n in notes {
        let entry = NoteEntry { id: 1, at: 0, note: n.clone() };
        both(&format!("{n:?}"), |l| log_line(&LogLine::Note(&entry), l).1);
    }
    for source in [Source::Live, Source::Replay { name: "a.muxrec".into() }, Source::File { name: "a.muxrec".into() }] {
        both("showing", |l| showing(&source, "a.muxrec", l));
        both("read only", |l| chat_read_only(&source, "a.muxrec", l));
    }
    let b = Banner { index: 1, from: IoModel::Epoll, to: IoModel::Poll, fds: 3 };
    both("banner", |l| banner(&b, l));
    for (items, span_ns, evicted) in [(10, 5_000_000_000, 0), (20_000, 600_000_000_000, 3), (2_000_000, 9_000_000_000_000, 0)] {
        let s = HistoryStats { items, bytes: 1 << 20, span_ns, evicted };
        both("history", |l| history(&s, l));
    }
    both("behind", |l| behind(3, 1.5, l));
    both("slept", |l| slept(1_000_000, l));
    both("ready", |l| ready(3, l));
    both("sleeps", |l| sleeps("1 ms", l));
    both("server counts", |l| server_counts("12", l));
    both("sampled", |l| sampled("12", l));
    both("thread roles", |l| thread_roles(1, 2, 3, l));
    both("thread count", |l| thread_count(6, (1, 2, 3), l));
    both("kernel label", |l| kernel_label("epoll", models::table_name(None, l), 4, l));
    both("owed", |l| owed(4, l));
    both("fd title", |l| fd_title(5, "tcp", "ann", "READ", 9, l));
    both("timeline", |l| timeline_status(40, 0, 3, l));
    both("timeline cut", |l| timeline_status(40, 9, 3, l));
    both("rtt", |l| rtt_title(9, l));
    both("joining", |l| joining("ann", l));
    both("chat closed", |l| chat_closed(Ui::ConnectionClosed.t(l), l));
    both("too big", |l| too_big(300, 256, l));
    both("cannot open", |l| cannot_open("a.muxrec", "bad magic", l));
    both("cannot load", |l| cannot_load_replay("a.muxrec", "HTTP 404", l));
    both("export failed", |l| export_failed("x", l));
    both("save failed", |l| save_failed("x", l));
    both("wait slice", |l| wait_slice(2, l));
    both("canvas note", |l| canvas_note(2, 3, l).join(" · "));
}

#[test]
fn the_io_models_panel_has_both_languages_and_the_tutorials_terms() {
    let mut serving: Vec<Option<IoModel>> = IoModel::ALL.into_iter().map(Some).collect();
    serving.push(None);
    for model in serving {
        let (en, zh) = (models::io_models(model, Lang::En), models::io_models(model, Lang::Zh));
        for (e, z) in en.iter().zip(&zh) {
            check(e.key, e.name, z.name);
            check(e.key, &e.wait, &z.wait);
            check(e.key, &e.copy, &z.copy);
            assert_eq!((e.key, e.this_loop, e.sync), (z.key, z.this_loop, z.sync));
        }
        both("note", |l| models::model_note(model, l).to_string());
        both("table", |l| models::table_name(model, l).to_string());
        both("user space", |l| models::user_space_label(model, l).to_string());
        for (rescan, overflow) in [(0, false), (2, false), (9, true)] {
            both("scan", |l| models::scan_note(model, 4, rescan, overflow, l));
        }
    }
    let names: Vec<&str> = models::io_models(None, Lang::Zh).iter().map(|r| r.name).collect();
    assert_eq!(names, ["阻塞IO", "非阻塞IO", "IO多路复用", "信号驱动IO", "异步IO"]);
    assert!(Panel::Phase1.t(Lang::Zh).contains("数据准备阶段"));
    assert!(Panel::Phase2.t(Lang::Zh).contains("内核空间复制回用户空间"));
}
