use super::*;
use muxscope_shared::{CloseReason, Counters, CtlOp, Event, EventBody, FdInfo, Interest, ReadyFlags};

pub(super) fn snap(seq: u64) -> Snapshot {
    Snapshot {
        version: 1,
        poller: "epoll".into(),
        model: Some(IoModel::Epoll),
        handover: false,
        threads: vec![],
        chat_addr: "127.0.0.1:3999".into(),
        fds: vec![
            FdInfo { fd: 3, role: Role::Listener, interest: Interest::Read, name: "127.0.0.1:3999".into(), pending_out: 0 },
            FdInfo { fd: 5, role: Role::Tcp, interest: Interest::Read, name: "ann".into(), pending_out: 0 },
        ],
        counters: Counters::default(),
        seq,
        ts_ns: 0,
    }
}

pub(super) fn ev(seq: u64, body: EventBody) -> Event {
    Event { seq, ts_ns: seq * 1000, body }
}

pub(super) fn chat_turn(seq: u64) -> Vec<Event> {
    vec![
        ev(
            seq,
            EventBody::Wait {
                timeout_ms: -1,
                registered: 2,
                ready: vec![ReadyFd { fd: 5, flags: ReadyFlags(ReadyFlags::IN) }],
                ready_total: 1,
                blocked_ns: 2_000_000,
                scanned: 1,
                rescan: 0,
                overflow: false,
            },
        ),
        ev(seq + 1, EventBody::Recv { fd: 5, bytes: 3, eof: false, would_block: false, lines: 1 }),
        ev(seq + 2, EventBody::Broadcast { from: 5, name: "ann".into(), recipients: 1, bytes: 9, text: "hi".into() }),
        ev(seq + 3, EventBody::Send { fd: 5, bytes: 9, would_block: false, queued: 0 }),
    ]
}

pub(super) fn live(events: Vec<Event>) -> Model {
    let mut m = Model::default();
    m.update(Action::Server(ServerMsg::Snapshot(snap(10))));
    m.update(Action::Server(ServerMsg::Events { events }));
    m.update(Action::Tick(1000.0));
    m
}

#[test]
fn a_chat_turn_shows_both_io_phases_and_the_fan_out() {
    let mut m = Model::default();
    m.update(Action::Server(ServerMsg::Snapshot(snap(10))));
    m.update(Action::Pause);
    m.update(Action::Server(ServerMsg::Events { events: chat_turn(11) }));
    assert_eq!(m.queue.len(), 5);
    m.update(Action::Step); // the snapshot
    m.update(Action::Step); // the wait
    assert_eq!(m.flashes.get(&5).map(|f| f.0), Some(Flash::Ready));
    assert_eq!(m.phase.as_ref().unwrap().step, 1);
    assert_eq!(m.wait.as_ref().unwrap().call, "epoll_wait");
    m.update(Action::Step); // recv
    assert_eq!(m.flashes.get(&5).map(|f| f.0), Some(Flash::Copy));
    assert!(m.phase.as_ref().unwrap().text.contains("copied 3 bytes from the kernel to user space"));
    m.update(Action::Step); // broadcast
    let f = m.fanout.as_ref().unwrap();
    assert_eq!((f.from, f.to.clone(), f.line.as_str()), (5, vec![5], "[ann] hi"));
    m.update(Action::Step);
    assert_eq!(m.flashes.get(&5).map(|f| f.0), Some(Flash::Send));
    assert!(m.queue.is_empty());
    assert_eq!(m.snap.counters.messages, 1);
    assert_eq!(m.log.back().unwrap().text, "send(fd 5) → 9 B");
}

#[test]
fn the_same_events_give_the_same_picture() {
    let a = live(chat_turn(11));
    let b = live(chat_turn(11));
    assert_eq!(a, b);
}

#[test]
fn paused_plays_nothing_and_slow_motion_plays_at_its_pace() {
    let mut m = Model::default();
    m.update(Action::Server(ServerMsg::Snapshot(snap(10))));
    m.update(Action::Speed(0.5));
    m.update(Action::Server(ServerMsg::Events { events: chat_turn(11) }));
    // 0.5×: one item every 500 ms.
    m.update(Action::Tick(0.0));
    assert_eq!(m.queue.len(), 4);
    m.update(Action::Tick(100.0));
    assert_eq!(m.queue.len(), 4);
    m.update(Action::Tick(520.0));
    assert_eq!(m.queue.len(), 3);
    assert!(m.behind_s() > 0.0);
    m.update(Action::Pause);
    m.update(Action::Tick(5000.0));
    assert_eq!(m.queue.len(), 3);
    m.update(Action::Live);
    assert!(m.queue.is_empty());
    assert!(m.is_live());
    assert_eq!(m.behind_s(), 0.0);
}

#[test]
fn floods_are_folded_and_counted_never_dropped() {
    let mut events = vec![];
    for i in 0..100u64 {
        events.extend(chat_turn(11 + i * 4));
    }
    let m = live(events);
    assert_eq!(m.snap.counters.messages, 100, "every event reached the state");
    assert_eq!(m.folded_total, 400 - ANIMATE_PER_TICK as u64);
    assert!(m.log.iter().any(|l| l.class == "fold" && l.text.contains("×376 events folded")));
    assert!(m.busy());
    let mut m = m;
    m.update(Action::Tick(1000.0 + BUSY_MS + 1.0));
    assert!(!m.busy());
}

#[test]
fn a_flood_is_taken_in_a_few_times_a_second_and_still_marks_stay_put() {
    let flood = |from: u64| (0..20u64).flat_map(|i| chat_turn(from + i * 4)).collect::<Vec<_>>();
    let mut m = Model::default();
    assert!(m.takes_frames(0.0, false), "a calm page takes frames on every tick");
    m.update(Action::Receive(vec![ServerMsg::Snapshot(snap(10)), ServerMsg::Events { events: flood(11) }], 1000.0));
    assert!(m.busy(), "80 events in one tick are more than it animates");
    assert_eq!(m.tick_ms(), BUSY_TICK_MS);
    assert_eq!(m.snap.counters.messages, 20);
    let mark = m.flashes.get(&5).copied();
    assert!(!m.takes_frames(1050.0, false), "busy and live: frames wait for the next still picture");
    assert!(m.takes_frames(1000.0 + BUSY_REDRAW_MS, false));
    // A snapshot does not wait: it is drawn on the next tick, and the next picture waits
    // a second after it.
    assert!(m.takes_frames(1250.0, true));
    let mut crowd = snap(200);
    crowd.fds.extend((20..60).map(|fd| FdInfo { fd, role: Role::Tcp, interest: Interest::Read, name: format!("c{fd}"), pending_out: 0 }));
    let mut early = m.clone();
    early.update(Action::Receive(vec![ServerMsg::Snapshot(crowd)], 1250.0));
    assert_eq!(early.clients(), 41, "the crowd is drawn at once");
    assert!(!early.takes_frames(1250.0 + BUSY_REDRAW_MS - 1.0, false));
    m.update(Action::Receive(vec![ServerMsg::Events { events: flood(91) }], 1000.0 + BUSY_REDRAW_MS));
    assert_eq!(m.snap.counters.messages, 40, "held frames lose nothing");
    assert_eq!(m.flashes.get(&5).copied(), mark, "the same mark again is not a new flash");
    // Paused: frames are taken at once while the queue is empty (so Step has one), then at
    // the still pace while it grows; calm again, every tick.
    m.update(Action::Pause);
    assert!(m.queue.is_empty() && m.takes_frames(1000.0 + BUSY_REDRAW_MS + 50.0, false));
    m.update(Action::Receive(vec![ServerMsg::Events { events: chat_turn(300) }], 1000.0 + BUSY_REDRAW_MS + 50.0));
    assert_eq!(m.queue.len(), 4);
    assert!(!m.takes_frames(1000.0 + BUSY_REDRAW_MS + 100.0, false));
    assert!(!m.takes_frames(1000.0 + BUSY_REDRAW_MS + 100.0, true), "paused, even a snapshot waits for Step");
    m.update(Action::Step);
    assert_eq!(m.queue.len(), 3);
    m.update(Action::Live);
    m.update(Action::Tick(1000.0 + BUSY_REDRAW_MS + BUSY_MS + 1.0));
    assert!(!m.busy());
    assert!(m.flashes.is_empty() && m.fanout.is_none(), "a flood's still marks do not come alive when it ends");
    assert_eq!(m.tick_ms(), TICK_MS);
    assert!(m.takes_frames(1000.0 + BUSY_REDRAW_MS + BUSY_MS + 2.0, false));
    m.update(Action::Receive(vec![ServerMsg::Events { events: chat_turn(200) }], 4000.0));
    assert_ne!(m.flashes.get(&5).copied(), mark, "calm: every flash animates anew");
}

#[test]
fn the_queue_is_bounded() {
    let mut m = Model::default();
    m.update(Action::Server(ServerMsg::Snapshot(snap(10))));
    m.update(Action::Pause);
    for i in 0..(QUEUE_CAP as u64 / 4 + 10) {
        m.update(Action::Server(ServerMsg::Events { events: chat_turn(11 + i * 4) }));
    }
    assert!(m.queue.len() <= QUEUE_CAP);
    assert!(m.folded_total > 0);
}

#[test]
fn gaps_are_shown_and_snapshots_resync() {
    let mut m = live(chat_turn(11));
    m.update(Action::Server(ServerMsg::Events { events: vec![ev(0, EventBody::gap(42))] }));
    m.update(Action::Server(ServerMsg::Events {
        events: vec![ev(0, EventBody::Gap { dropped: 7, folded: true, resync: true, counters: None })],
    }));
    let mut s = snap(500);
    s.fds.push(FdInfo { fd: 9, role: Role::Web, interest: Interest::Read, name: "bob".into(), pending_out: 0 });
    m.update(Action::Server(ServerMsg::Snapshot(s)));
    m.update(Action::Tick(2000.0));
    assert_eq!(m.gaps_total, 42);
    let folded_before = m.folded_total;
    assert!(folded_before >= 7, "a gateway fold counts as folded, not dropped");
    assert!(m.log.iter().any(|l| l.class == "fold" && l.text.contains("×7 events folded by the gateway")));
    assert!(m.log.iter().any(|l| l.class == "gap"));
    assert_eq!(m.snap.seq, 500);
    assert_eq!(m.clients(), 2);
    // Old events after a newer snapshot change nothing.
    m.update(Action::Server(ServerMsg::Events { events: chat_turn(20) }));
    m.update(Action::Tick(3000.0));
    assert_eq!(m.snap.seq, 500);
}

#[test]
fn calm_rooms_draw_every_fan_out() {
    let mut m = live(chat_turn(11));
    m.update(Action::Server(ServerMsg::Events {
        events: vec![ev(15, EventBody::Broadcast { from: 5, name: "ann".into(), recipients: 1, bytes: 9, text: "again".into() })],
    }));
    m.update(Action::Tick(1100.0));
    assert!(!m.busy());
    assert_eq!(m.fanout.as_ref().unwrap().line, "[ann] again");
}

#[test]
fn a_close_after_its_del_still_names_the_client() {
    let mut m = live(vec![
        ev(11, EventBody::Ctl { op: CtlOp::Del, fd: 5, interest: None, role: Role::Tcp, error: None }),
        ev(12, EventBody::Close { fd: 5, reason: CloseReason::Quit, detail: None }),
    ]);
    m.update(Action::Tick(2000.0));
    assert_eq!(m.log.back().unwrap().text, "close(fd 5) [ann] — said quit");
    assert!(m.snap.fd(5).is_none());
}

#[test]
fn syscalls_are_named_per_poller() {
    let add = EventBody::Ctl { op: CtlOp::Add, fd: 7, interest: Some(Interest::Read), role: Role::Tcp, error: None };
    assert_eq!(describe(&add, IoModel::Epoll, None), "epoll_ctl(ADD, 7, EPOLLIN)");
    assert_eq!(describe(&add, IoModel::EpollEt, None), "epoll_ctl(ADD, 7, EPOLLIN|EPOLLET)");
    assert_eq!(describe(&add, IoModel::Poll, None), "pollfd[] += {fd 7, POLLIN}");
    assert_eq!(describe(&add, IoModel::Select, Some("ann")), "FD_SET(7, readfds)  [ann]");
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
    assert_eq!(describe(&wait, IoModel::Select, None), "pselect6(9 fds, timeout ∞) → 0 ready after 1.50 ms, scanned 12 fds");
}

#[test]
fn rates_come_from_counters() {
    let mut m = live(chat_turn(11));
    m.update(Action::Tick(1250.0));
    let mut s = m.snap.clone();
    s.seq = 100;
    s.counters.messages += 10;
    s.counters.wakeups += 20;
    m.update(Action::Server(ServerMsg::Snapshot(s)));
    m.update(Action::Tick(2250.0));
    assert!((m.rates.messages - 10.0 / 1.25).abs() < 1e-6, "{:?}", m.rates);
}

/// In a flood most events arrive as a count: events per wakeup includes what gaps stand for.
#[test]
fn events_per_wakeup_counts_what_gaps_stand_for() {
    let mut m = live(chat_turn(11));
    m.update(Action::Tick(1250.0));
    let mut events = chat_turn(20);
    let mut c = m.snap.counters.clone();
    c.wakeups += 2;
    events.push(ev(0, EventBody::folded(96, false, c)));
    m.update(Action::Server(ServerMsg::Events { events }));
    m.update(Action::Tick(2250.0));
    // Four played and 96 folded over the two wakeups since the first sample.
    assert!((m.rates.events_per_wakeup - 50.0).abs() < 1e-6, "{:?}", m.rates);
}

#[test]
fn a_stream_the_server_closed_says_why_and_when_it_tries_again() {
    let mut m = Model::default();
    m.update(Action::Connected(true));
    m.update(Action::StreamClosed { reason: "too many watchers (256, --max-watchers); try again later".into(), retry_s: 4 });
    assert!(!m.connected);
    let said = m.stream_closed.clone().unwrap();
    assert!(said.contains("--max-watchers") && said.contains("4 s"), "{said}");
    assert!(m.log.back().unwrap().text.contains("--max-watchers"));
    m.update(Action::Connected(true));
    assert_eq!(m.stream_closed, None, "back: nothing to explain");
}
