//! The reducer under the IO models: switches, threads, the non-blocking model's EAGAINs and
//! naps, and a log line for every kind of event.

use super::tests::{chat_turn, ev, live, snap};
use super::*;
use muxscope_shared::{CloseReason, CtlOp, EventBody, Interest, ModelAvailability, ThreadInfo, ThreadOp, ThreadRole};

fn at(seq: u64, ts_ns: u64, body: EventBody) -> Event {
    Event { seq, ts_ns, body }
}

fn switch(seq: u64, from: IoModel, to: IoModel) -> Vec<Event> {
    let del = |seq, fd, role| ev(seq, EventBody::Ctl { op: CtlOp::Del, fd, interest: None, role, error: None });
    let add = |seq, fd, role| ev(seq, EventBody::Ctl { op: CtlOp::Add, fd, interest: Some(Interest::Read), role, error: None });
    vec![
        del(seq, 3, Role::Listener),
        del(seq + 1, 5, Role::Tcp),
        add(seq + 2, 3, Role::Listener),
        add(seq + 3, 5, Role::Tcp),
        ev(seq + 4, EventBody::Model { model: to, from: Some(from) }),
    ]
}

#[test]
fn a_model_event_changes_the_pictures_model_and_says_so_for_a_while() {
    let mut m = live(chat_turn(11));
    assert_eq!(m.io_model(), Some(IoModel::Epoll));
    assert!(m.wait.is_some());
    let switches = m.switches;
    let mut events = vec![ev(19, EventBody::Send { fd: 5, bytes: 0, would_block: true, queued: 40 })];
    events.extend(switch(20, IoModel::Epoll, IoModel::Poll));
    m.update(Action::Server(ServerMsg::Events { events }));
    m.update(Action::Tick(1100.0));
    assert_eq!(m.io_model(), Some(IoModel::Poll));
    assert_eq!(m.switches, switches + 1, "the view fetches the compare report again");
    assert_eq!(m.wait, None, "epoll's last wait says nothing of poll");
    assert_eq!(m.clients(), 1, "every connection was handed over");
    let ann = m.snap.fd(5).map(|f| (f.name.as_str(), f.pending_out));
    assert_eq!(ann, Some(("ann", 40)), "a connection keeps its name and what it is owed through a switch");
    let line = m.log.iter().find(|l| l.class == "model").expect("a log line for the switch");
    assert!(line.text.contains("epoll → poll") && line.text.contains("2 fds"), "{}", line.text);
    let banner = m.banner.clone().expect("a banner on the stage");
    assert!(banner.text.contains("epoll → poll"));
    // The next wait is poll's, and is named so.
    m.update(Action::Server(ServerMsg::Events { events: chat_turn(30) }));
    m.update(Action::Tick(1200.0));
    assert_eq!(m.wait.as_ref().map(|w| w.call), Some("poll"));
    assert!(m.log.iter().any(|l| l.class == "ctl" && l.text == "pollfd[] += {fd 5, POLLIN}  [ann]"), "the rebuild is poll's");
    // The banner goes after its time, and that is a redraw.
    assert!(m.needs_tick(1100.0 + BANNER_MS));
    m.update(Action::Tick(1100.0 + BANNER_MS));
    assert_eq!(m.banner, None);
}

#[test]
fn a_switch_the_page_missed_is_seen_in_the_next_snapshot_and_the_first_one_is_no_switch() {
    let m = live(vec![]);
    assert_eq!(m.banner, None, "the first picture is no switch");
    assert!(m.log.iter().all(|l| l.class != "model"));
    let mut m = m;
    let mut s = snap(900);
    s.model = Some(IoModel::Sigio);
    m.update(Action::Server(ServerMsg::Snapshot(s)));
    m.update(Action::Tick(1100.0));
    assert_eq!(m.io_model(), Some(IoModel::Sigio));
    assert!(m.banner.as_ref().is_some_and(|b| b.text.contains("epoll → sigio")));
    assert!(m.log.iter().any(|l| l.class == "model" && l.text.contains("snapshot")));
}

#[test]
fn a_folded_switch_still_changes_the_model_and_is_told() {
    let mut events: Vec<Event> = (0..40u64).flat_map(|i| chat_turn(11 + i * 4)).collect();
    events.extend(switch(200, IoModel::Epoll, IoModel::Select));
    events.extend((0..40u64).flat_map(|i| chat_turn(300 + i * 4)));
    let m = live(events);
    assert!(m.folded_total > 0, "the switch was among the folded events");
    assert_eq!(m.io_model(), Some(IoModel::Select));
    assert!(m.log.iter().any(|l| l.class == "model" && l.text.contains("epoll → select")));
    assert!(m.banner.is_some());
}

#[test]
fn threads_come_and_go_with_their_events() {
    let mut s = snap(10);
    s.model = Some(IoModel::Blocking);
    let mut m = Model::default();
    m.update(Action::Server(ServerMsg::Snapshot(s)));
    let thread = |seq, op, tid, fd, role| ev(seq, EventBody::Thread { op, tid, fd, role });
    m.update(Action::Server(ServerMsg::Events {
        events: vec![
            thread(11, ThreadOp::Spawn, 101, 3, ThreadRole::Acceptor),
            thread(12, ThreadOp::Spawn, 102, 5, ThreadRole::Reader),
            thread(13, ThreadOp::Spawn, 103, 5, ThreadRole::Writer),
        ],
    }));
    m.update(Action::Tick(1000.0));
    let roles = |m: &Model| m.snap.threads.iter().map(|t| (t.tid, t.fd, t.role)).collect::<Vec<_>>();
    assert_eq!(roles(&m), [(101, 3, ThreadRole::Acceptor), (102, 5, ThreadRole::Reader), (103, 5, ThreadRole::Writer)]);
    assert!(m.log.back().unwrap().text.contains("clone3"));
    m.update(Action::Server(ServerMsg::Events { events: vec![thread(14, ThreadOp::Exit, 103, 5, ThreadRole::Writer)] }));
    m.update(Action::Tick(1100.0));
    assert_eq!(roles(&m), [(101, 3, ThreadRole::Acceptor), (102, 5, ThreadRole::Reader)], "the writer is done");
    // A snapshot brings the threads as they are.
    let mut s = snap(50);
    s.model = Some(IoModel::Blocking);
    s.threads = vec![ThreadInfo { tid: 101, fd: 3, role: ThreadRole::Acceptor }];
    m.update(Action::Server(ServerMsg::Snapshot(s)));
    m.update(Action::Tick(1200.0));
    assert_eq!(m.snap.threads.len(), 1);
}

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
            let line = describe(&e, model, None);
            assert!(!line.trim().is_empty(), "{model} {}", e.kind());
            if let Some(call) = syscall_of(&e, model) {
                assert!(line.contains(call), "{model} {}: {line:?} should name {call}", e.kind());
            }
        }
    }
    let line = describe(&EventBody::Model { model: IoModel::Poll, from: Some(IoModel::Epoll) }, IoModel::Poll, None);
    assert!(line.contains("epoll") && line.contains("poll"), "{line}");
    // Under io_uring the kernel did both phases: a recv is a completion reaped, not a call.
    let recv = &every_kind()[8];
    assert_ne!(describe(recv, IoModel::IoUring, None), describe(recv, IoModel::Epoll, None));
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
    let plain = describe(&wait(0, false), IoModel::Sigio, None);
    let rescan = describe(&wait(2, false), IoModel::Sigio, None);
    let overflow = describe(&wait(40, true), IoModel::Sigio, None);
    assert!(plain.starts_with("rt_sigtimedwait("), "{plain}");
    assert!(!plain.contains("rescan") && !plain.contains("overflow"), "{plain}");
    assert!(rescan.starts_with(&plain) && rescan.contains('2') && rescan.len() > plain.len(), "{rescan}");
    assert!(overflow.contains("overflow") && overflow.contains("40"), "{overflow}");
}

#[test]
fn the_nonblocking_model_counts_its_eagains_and_says_whether_it_naps() {
    let mut s = snap(10);
    s.model = Some(IoModel::Nonblocking);
    s.ts_ns = 1_000_000_000;
    let mut m = Model::default();
    m.update(Action::Receive(vec![ServerMsg::Snapshot(s)], 0.0));
    assert_eq!(m.nap(), Nap::Unknown);
    // One sweep a millisecond: fd 5's recv and the listener's accept find nothing, then a nap.
    let sweeps = |seq0: u64, t0_ns: u64, n: u64, nap: bool| {
        (0..n)
            .flat_map(|i| {
                let (seq, t) = (seq0 + i * 3, t0_ns + i * 1_000_000);
                let mut v = vec![
                    at(seq, t, EventBody::Recv { fd: 5, bytes: 0, eof: false, would_block: true, lines: 0 }),
                    at(seq + 1, t + 10_000, EventBody::AcceptEagain { listener: 3 }),
                ];
                if nap {
                    v.push(at(seq + 2, t + 20_000, EventBody::Sleep { ns: 1_000_000 }));
                }
                v
            })
            .collect::<Vec<_>>()
    };
    m.update(Action::Receive(vec![ServerMsg::Events { events: sweeps(11, 1_001_000_000, 100, true) }], 1000.0));
    assert_eq!(m.sweeps.eagains, 200, "folded or not, every EAGAIN counts");
    assert!((m.rates.eagains - 200.0).abs() < 1e-6, "200 in the second between the samples: {:?}", m.rates);
    assert_eq!(m.nap(), Nap::Sleeps(1_000_000));
    // --spin: EAGAINs for more than a second and no nap.
    m.update(Action::Receive(vec![ServerMsg::Events { events: sweeps(400, 1_200_000_000, 1200, false) }], 2250.0));
    assert_eq!(m.nap(), Nap::Spins);
    // Another model: what the sweeps did is forgotten, the count stays.
    m.update(Action::Server(ServerMsg::Events { events: switch(5000, IoModel::Nonblocking, IoModel::Epoll) }));
    m.update(Action::Tick(2250.0 + BUSY_REDRAW_MS));
    assert_eq!(m.io_model(), Some(IoModel::Epoll));
    assert_eq!(m.nap(), Nap::Unknown);
    assert_eq!(m.sweeps.eagains, 2600);
}

#[test]
fn eagains_the_gateway_folded_are_estimated_from_the_share_it_sent() {
    let mut s = snap(10);
    s.model = Some(IoModel::Nonblocking);
    let mut m = Model::default();
    m.update(Action::Receive(vec![ServerMsg::Snapshot(s)], 0.0));
    // 30 sweeps described (60 EAGAINs in 90 events), then 910 more events only counted.
    let mut events: Vec<Event> = (0..30u64)
        .flat_map(|i| {
            let seq = 11 + i * 3;
            vec![
                ev(seq, EventBody::Recv { fd: 5, bytes: 0, eof: false, would_block: true, lines: 0 }),
                ev(seq + 1, EventBody::AcceptEagain { listener: 3 }),
                ev(seq + 2, EventBody::Sleep { ns: 1_000_000 }),
            ]
        })
        .collect();
    events.push(ev(0, EventBody::folded(910, false, m.snap.counters.clone())));
    m.update(Action::Receive(vec![ServerMsg::Events { events }], 1000.0));
    assert!((m.rates.eagains - 60.0).abs() < 1e-6, "{:?}", m.rates);
    assert!((m.rates.eagains_all - 60.0 * 1000.0 / 90.0).abs() < 1e-6, "{:?}", m.rates);
}

#[test]
fn the_compare_report_is_kept_and_an_unchanged_one_is_no_redraw() {
    let report = Rc::new(ModelsReport {
        current: IoModel::Epoll,
        available: vec![ModelAvailability { model: IoModel::IoUring, unavailable: Some("kernel says ENOSYS".into()) }],
        rows: vec![],
    });
    let mut m = Model::default();
    assert!(m.update(Action::Report(Ok(report.clone()))));
    assert!(!m.update(Action::Report(Ok(Rc::new((*report).clone())))), "the same report again");
    assert!(m.update(Action::Report(Err("GET /api/models: 404".into()))));
    assert_eq!(m.report.as_deref(), Some(&*report), "a failed fetch keeps the last report");
    assert!(m.update(Action::Report(Ok(report))));
    assert_eq!(m.report_error, None);
}
