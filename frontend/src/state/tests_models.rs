//! The reducer under the IO models: switches, threads, the non-blocking model's EAGAINs and
//! naps, and a log line for every kind of event.

use super::tests::{chat_turn, ev, last_event, live, snap};
use super::*;
use muxscope_shared::{
    CtlOp, Event, EventBody, Interest, Model as IoModel, ModelAvailability, ModelsReport, Role, ServerMsg, ThreadInfo, ThreadOp, ThreadRole,
};
use std::rc::Rc;

fn at(seq: u64, ts_ns: u64, body: EventBody) -> Event {
    Event { seq, ts_ns, body }
}

fn switch(seq: u64, from: IoModel, to: IoModel) -> Vec<Event> {
    let del = |seq, fd, role| ev(seq, EventBody::Ctl { op: CtlOp::Del, fd, interest: None, role, error: None });
    let add = |seq, fd, role| ev(seq, EventBody::Ctl { op: CtlOp::Add, fd, interest: Some(Interest::Read), role, error: None });
    vec![
        ev(seq, EventBody::Handover { from, to }),
        del(seq + 1, 3, Role::Listener),
        del(seq + 2, 5, Role::Tcp),
        add(seq + 3, 3, Role::Listener),
        add(seq + 4, 5, Role::Tcp),
        ev(seq + 5, EventBody::Model { model: to, from: Some(from) }),
    ]
}

/// The last switch in the log: from, to, fds handed over, seen in a snapshot.
fn switch_entry(m: &Model) -> Option<(IoModel, IoModel, usize, bool)> {
    m.scene().log.iter().rev().find_map(|e| match e {
        LogEntry::Switch { from, to, fds, seen_in_snapshot, .. } => Some((*from, *to, *fds, *seen_in_snapshot)),
        _ => None,
    })
}

#[test]
fn a_model_event_changes_the_pictures_model_and_says_so_for_a_while() {
    let mut m = live(chat_turn(11));
    assert_eq!(m.io_model(), Some(IoModel::Epoll));
    assert!(m.scene().wait.is_some());
    let switches = m.switches();
    let mut events = vec![ev(19, EventBody::Send { fd: 5, bytes: 0, would_block: true, queued: 40 })];
    events.extend(switch(20, IoModel::Epoll, IoModel::Poll));
    m.update(Action::Server(ServerMsg::Events { events }));
    m.update(Action::Tick(1100.0));
    assert_eq!(m.io_model(), Some(IoModel::Poll));
    assert_eq!(m.switches(), switches + 1, "the view fetches the compare report again");
    assert_eq!(m.scene().wait, None, "epoll's last wait says nothing of poll");
    assert_eq!(m.clients(), 1, "every connection was handed over");
    let ann = m.scene().snap.fd(5).map(|f| (f.name.as_str(), f.pending_out));
    assert_eq!(ann, Some(("ann", 40)), "a connection keeps its name and what it is owed through a switch");
    let line = switch_entry(&m).expect("a log entry for the switch");
    assert_eq!(line, (IoModel::Epoll, IoModel::Poll, 2, false));
    let banner = m.banner().cloned().expect("a banner on the stage");
    assert_eq!((banner.from, banner.to, banner.fds), (IoModel::Epoll, IoModel::Poll, 2));
    // The next wait is poll's, and is named so.
    m.update(Action::Server(ServerMsg::Events { events: chat_turn(30) }));
    m.update(Action::Tick(1200.0));
    assert_eq!(m.scene().wait.as_ref().map(|w| w.model.wait_call()), Some("poll"));
    let rebuilt = m.scene().log.iter().any(|e| {
        matches!(e, LogEntry::Event(p) if p.model == IoModel::Poll && p.name.as_deref() == Some("ann")
            && matches!(p.event.body, EventBody::Ctl { op: CtlOp::Add, fd: 5, .. }))
    });
    assert!(rebuilt, "the rebuild is poll's, and names its client");
    // The banner goes after its time, and that is a redraw.
    assert!(m.needs_tick(1100.0 + BANNER_MS));
    m.update(Action::Tick(1100.0 + BANNER_MS));
    assert_eq!(m.banner(), None);
}

#[test]
fn a_switch_the_page_missed_is_seen_in_the_next_snapshot_and_the_first_one_is_no_switch() {
    let m = live(vec![]);
    assert_eq!(m.banner(), None, "the first picture is no switch");
    assert_eq!(switch_entry(&m), None);
    let mut m = m;
    let mut s = snap(900);
    s.model = Some(IoModel::Sigio);
    m.update(Action::Server(ServerMsg::Snapshot(s)));
    m.update(Action::Tick(1100.0));
    assert_eq!(m.io_model(), Some(IoModel::Sigio));
    assert!(m.banner().is_some_and(|b| (b.from, b.to) == (IoModel::Epoll, IoModel::Sigio)));
    assert_eq!(switch_entry(&m), Some((IoModel::Epoll, IoModel::Sigio, 2, true)));
}

#[test]
fn a_folded_switch_still_changes_the_model_and_is_told() {
    let mut events: Vec<Event> = (0..40u64).flat_map(|i| chat_turn(11 + i * 4)).collect();
    events.extend(switch(200, IoModel::Epoll, IoModel::Select));
    // Past what a tick animates, within what the log keeps.
    events.extend((0..10u64).flat_map(|i| chat_turn(300 + i * 4)));
    let m = live(events);
    assert!(m.folded_total() > 0, "the switch was among the folded events");
    assert_eq!(m.io_model(), Some(IoModel::Select));
    assert_eq!(switch_entry(&m).map(|s| (s.0, s.1)), Some((IoModel::Epoll, IoModel::Select)));
    assert!(m.banner().is_some());
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
    let roles = |m: &Model| m.scene().snap.threads.iter().map(|t| (t.tid, t.fd, t.role)).collect::<Vec<_>>();
    assert_eq!(roles(&m), [(101, 3, ThreadRole::Acceptor), (102, 5, ThreadRole::Reader), (103, 5, ThreadRole::Writer)]);
    assert!(matches!(last_event(&m), Some(EventBody::Thread { op: ThreadOp::Spawn, tid: 103, .. })));
    m.update(Action::Server(ServerMsg::Events { events: vec![thread(14, ThreadOp::Exit, 103, 5, ThreadRole::Writer)] }));
    m.update(Action::Tick(1100.0));
    assert_eq!(roles(&m), [(101, 3, ThreadRole::Acceptor), (102, 5, ThreadRole::Reader)], "the writer is done");
    // A snapshot brings the threads as they are.
    let mut s = snap(50);
    s.model = Some(IoModel::Blocking);
    s.threads = vec![ThreadInfo { tid: 101, fd: 3, role: ThreadRole::Acceptor }];
    m.update(Action::Server(ServerMsg::Snapshot(s)));
    m.update(Action::Tick(1200.0));
    assert_eq!(m.scene().snap.threads.len(), 1);
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
    assert_eq!(m.scene().sweeps.eagains, 200, "folded or not, every EAGAIN counts");
    assert!((m.tally.rates.eagains - 200.0).abs() < 1e-6, "200 in the second between the samples: {:?}", m.tally.rates);
    assert_eq!(m.nap(), Nap::Sleeps(1_000_000));
    // --spin: EAGAINs for more than a second and no nap.
    m.update(Action::Receive(vec![ServerMsg::Events { events: sweeps(400, 1_200_000_000, 1200, false) }], 2250.0));
    assert_eq!(m.nap(), Nap::Spins);
    // Another model: what the sweeps did is forgotten, the count stays.
    m.update(Action::Server(ServerMsg::Events { events: switch(5000, IoModel::Nonblocking, IoModel::Epoll) }));
    m.update(Action::Tick(2250.0 + BUSY_REDRAW_MS));
    assert_eq!(m.io_model(), Some(IoModel::Epoll));
    assert_eq!(m.nap(), Nap::Unknown);
    assert_eq!(m.scene().sweeps.eagains, 2600);
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
    events.push(ev(0, EventBody::folded(910, false, m.scene().snap.counters.clone())));
    m.update(Action::Receive(vec![ServerMsg::Events { events }], 1000.0));
    assert!((m.tally.rates.eagains - 60.0).abs() < 1e-6, "{:?}", m.tally.rates);
    assert!((m.tally.rates.eagains_all - 60.0 * 1000.0 / 90.0).abs() < 1e-6, "{:?}", m.tally.rates);
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
