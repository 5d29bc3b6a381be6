use super::*;
use muxscope_shared::{
    CloseReason, Counters, CtlOp, Event, EventBody, FdInfo, Interest, Model as IoModel, ReadyFd, ReadyFlags, Role, ServerMsg, Snapshot,
};

pub(super) fn snap(seq: u64) -> Snapshot {
    Snapshot {
        version: 1,
        poller: "epoll".into(),
        model: Some(IoModel::Epoll),
        handover: false,
        threads: vec![],
        relay: None,
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

/// The body of the newest event in the log.
pub(super) fn last_event(m: &Model) -> Option<EventBody> {
    m.scene().log.iter().rev().find_map(|e| match e {
        LogEntry::Event(p) => Some(p.event.body.clone()),
        _ => None,
    })
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
    assert_eq!(m.player.queue.len(), 5);
    m.update(Action::Step); // the snapshot
    m.update(Action::Step); // the wait
    assert_eq!(m.scene().flashes.get(&5).map(|f| f.0), Some(Flash::Ready));
    assert_eq!(m.scene().phase.as_ref().unwrap().step(), 1);
    assert_eq!(m.scene().wait.as_ref().unwrap().model.wait_call(), "epoll_wait");
    m.update(Action::Step); // recv
    assert_eq!(m.scene().flashes.get(&5).map(|f| f.0), Some(Flash::Copy));
    let phase = m.scene().phase.clone().unwrap();
    assert!(matches!(phase.event.body, EventBody::Recv { fd: 5, bytes: 3, .. }) && phase.step() == 2);
    assert_eq!(phase.name.as_deref(), Some("ann"));
    m.update(Action::Step); // broadcast
    let f = m.scene().fanout.clone().unwrap();
    assert!(matches!(&f.event.body, EventBody::Broadcast { from: 5, name, text, .. } if name == "ann" && text == "hi"));
    assert_eq!(m.scene().recipients().collect::<Vec<_>>(), [5]);
    assert_eq!(m.scene().phase.as_ref().unwrap().step(), 3);
    m.update(Action::Step);
    assert_eq!(m.scene().flashes.get(&5), Some(&(Flash::Send, 4)), "the mark knows the event that made it");
    assert!(m.player.queue.is_empty());
    assert_eq!(m.scene().snap.counters.messages, 1);
    assert_eq!(last_event(&m), Some(EventBody::Send { fd: 5, bytes: 9, would_block: false, queued: 0 }));
}

#[test]
fn the_same_events_give_the_same_picture() {
    let a = live(chat_turn(11));
    let b = live(chat_turn(11));
    assert_eq!(a.scene(), b.scene());
}

#[test]
fn paused_plays_nothing_and_slow_motion_plays_at_its_pace() {
    let mut m = Model::default();
    m.update(Action::Server(ServerMsg::Snapshot(snap(10))));
    m.update(Action::Speed(0.5));
    m.update(Action::Server(ServerMsg::Events { events: chat_turn(11) }));
    // 0.5×: one item every 500 ms.
    m.update(Action::Tick(0.0));
    assert_eq!(m.player.queue.len(), 4);
    m.update(Action::Tick(100.0));
    assert_eq!(m.player.queue.len(), 4);
    m.update(Action::Tick(520.0));
    assert_eq!(m.player.queue.len(), 3);
    assert!(m.behind_s() > 0.0);
    m.update(Action::Pause);
    m.update(Action::Tick(5000.0));
    assert_eq!(m.player.queue.len(), 3);
    m.update(Action::Live);
    assert!(m.player.queue.is_empty());
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
    assert_eq!(m.scene().snap.counters.messages, 100, "every event reached the state");
    assert_eq!(m.folded_total(), 400 - ANIMATE_PER_TICK as u64);
    assert!(m.notes().any(|n| n.note == Note::Folded { n: 376, why: FoldWhy::TooFast }));
    assert_eq!(m.timeline().end_index(), 401, "the history holds every one");
    assert!(m.busy());
    let mut m = m;
    m.update(Action::Tick(1000.0 + BUSY_MS + 1.0));
    assert!(!m.busy());
}

#[test]
fn a_flood_is_taken_in_a_few_times_a_second_and_still_marks_stay_put() {
    use crate::marks::{fanout, Marks};
    let flood = |from: u64| (0..20u64).flat_map(|i| chat_turn(from + i * 4)).collect::<Vec<_>>();
    let flooded = || {
        let mut m = Model::default();
        assert!(m.takes_frames(0.0, false), "a calm page takes frames on every tick");
        m.update(Action::Receive(vec![ServerMsg::Snapshot(snap(10)), ServerMsg::Events { events: flood(11) }], 1000.0));
        m
    };
    let mut m = flooded();
    let mut marks = Marks::default();
    let draw = |m: &Model, marks: &mut Marks| marks.update(m.scene(), m.player.calm_from, m.draws_still());
    draw(&m, &mut marks);
    assert!(m.busy(), "80 events in one tick are more than it animates");
    assert_eq!(m.tick_ms(), BUSY_TICK_MS);
    assert_eq!(m.scene().snap.counters.messages, 20);
    let mark = marks.get(5);
    assert!(!m.takes_frames(1050.0, false), "busy and live: frames wait for the next still picture");
    assert!(m.takes_frames(1000.0 + BUSY_REDRAW_MS, false));
    // A snapshot does not wait: it is drawn on the next tick, and the next picture waits
    // a second after it.
    assert!(m.takes_frames(1250.0, true));
    let mut crowd = snap(200);
    crowd.fds.extend((20..60).map(|fd| FdInfo { fd, role: Role::Tcp, interest: Interest::Read, name: format!("c{fd}"), pending_out: 0 }));
    let mut early = flooded();
    early.update(Action::Receive(vec![ServerMsg::Snapshot(crowd)], 1250.0));
    assert_eq!(early.clients(), 41, "the crowd is drawn at once");
    assert!(!early.takes_frames(1250.0 + BUSY_REDRAW_MS - 1.0, false));
    m.update(Action::Receive(vec![ServerMsg::Events { events: flood(91) }], 1000.0 + BUSY_REDRAW_MS));
    assert_eq!(m.scene().snap.counters.messages, 40, "held frames lose nothing");
    assert!(!draw(&m, &mut marks), "the same marks again are not new flashes");
    assert_eq!(marks.get(5), mark);
    // Paused: frames are taken at once while the queue is empty (so Step has one), then at
    // the still pace while it grows; calm again, every tick.
    m.update(Action::Pause);
    assert!(m.player.queue.is_empty() && m.takes_frames(1000.0 + BUSY_REDRAW_MS + 50.0, false));
    m.update(Action::Receive(vec![ServerMsg::Events { events: chat_turn(300) }], 1000.0 + BUSY_REDRAW_MS + 50.0));
    assert_eq!(m.player.queue.len(), 4);
    assert!(!m.takes_frames(1000.0 + BUSY_REDRAW_MS + 100.0, false));
    assert!(!m.takes_frames(1000.0 + BUSY_REDRAW_MS + 100.0, true), "paused, even a snapshot waits for Step");
    m.update(Action::Step);
    assert_eq!(m.player.queue.len(), 3);
    m.update(Action::Live);
    m.update(Action::Tick(1000.0 + BUSY_REDRAW_MS + BUSY_MS + 1.0));
    assert!(!m.busy());
    draw(&m, &mut marks);
    assert!(marks.drawn().is_empty(), "a flood's still marks do not come alive when it ends");
    assert!(fanout(m.scene(), m.player.calm_from).is_none());
    assert_eq!(m.tick_ms(), TICK_MS);
    assert!(m.takes_frames(1000.0 + BUSY_REDRAW_MS + BUSY_MS + 2.0, false));
    m.update(Action::Receive(vec![ServerMsg::Events { events: chat_turn(400) }], 4000.0));
    assert!(draw(&m, &mut marks));
    assert_eq!(marks.get(5).map(|f| f.0), Some(Flash::Send), "calm: a new flash is drawn (and animates) again");
    assert!(fanout(m.scene(), m.player.calm_from).is_some());
}

#[test]
fn the_queue_is_bounded() {
    let mut m = Model::default();
    m.update(Action::Server(ServerMsg::Snapshot(snap(10))));
    m.update(Action::Pause);
    for i in 0..(QUEUE_CAP as u64 / 4 + 10) {
        m.update(Action::Server(ServerMsg::Events { events: chat_turn(11 + i * 4) }));
    }
    assert!(m.player.queue.len() <= QUEUE_CAP);
    assert!(m.folded_total() > 0);
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
    assert_eq!(m.scene().totals.dropped, 42);
    assert!(m.folded_total() >= 7, "a gateway fold counts as folded, not dropped");
    let gaps: Vec<_> = m
        .scene()
        .log
        .iter()
        .filter_map(|e| match e {
            LogEntry::Event(p) => match p.event.body {
                EventBody::Gap { dropped, folded, .. } => Some((dropped, folded, p.event.seq)),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(gaps, [(42, false, 0), (7, true, 0)], "both gaps are in the log");
    assert_eq!(m.scene().snap.seq, 500);
    assert_eq!(m.clients(), 2);
    // Old events after a newer snapshot change nothing.
    m.update(Action::Server(ServerMsg::Events { events: chat_turn(20) }));
    m.update(Action::Tick(3000.0));
    assert_eq!(m.scene().snap.seq, 500);
}

#[test]
fn calm_rooms_draw_every_fan_out() {
    let mut m = live(chat_turn(11));
    m.update(Action::Server(ServerMsg::Events {
        events: vec![ev(15, EventBody::Broadcast { from: 5, name: "ann".into(), recipients: 1, bytes: 9, text: "again".into() })],
    }));
    m.update(Action::Tick(1100.0));
    assert!(!m.busy());
    let f = m.scene().fanout.clone().unwrap();
    assert!(matches!(&f.event.body, EventBody::Broadcast { text, .. } if text == "again"));
}

#[test]
fn a_close_after_its_del_still_names_the_client() {
    let mut m = live(vec![
        ev(11, EventBody::Ctl { op: CtlOp::Del, fd: 5, interest: None, role: Role::Tcp, error: None }),
        ev(12, EventBody::Close { fd: 5, reason: CloseReason::Quit, detail: None }),
    ]);
    m.update(Action::Tick(2000.0));
    let close = m.scene().log.back().cloned();
    assert!(
        matches!(&close, Some(LogEntry::Event(p)) if matches!(p.event.body, EventBody::Close { fd: 5, .. }) && p.name.as_deref() == Some("ann")),
        "{close:?}"
    );
    assert!(m.scene().snap.fd(5).is_none());
}

#[test]
fn rates_come_from_counters() {
    let mut m = live(chat_turn(11));
    m.update(Action::Tick(1250.0));
    let mut s = m.scene().snap.clone();
    s.seq = 100;
    s.counters.messages += 10;
    s.counters.wakeups += 20;
    m.update(Action::Server(ServerMsg::Snapshot(s)));
    m.update(Action::Tick(2250.0));
    assert!((m.tally.rates.messages - 10.0 / 1.25).abs() < 1e-6, "{:?}", m.tally.rates);
}

/// In a flood most events arrive as a count: events per wakeup includes what gaps stand for.
#[test]
fn events_per_wakeup_counts_what_gaps_stand_for() {
    let mut m = live(chat_turn(11));
    m.update(Action::Tick(1250.0));
    let mut events = chat_turn(20);
    let mut c = m.scene().snap.counters.clone();
    c.wakeups += 2;
    events.push(ev(0, EventBody::folded(96, false, c)));
    m.update(Action::Server(ServerMsg::Events { events }));
    m.update(Action::Tick(2250.0));
    // Four played and 96 folded over the two wakeups since the first sample.
    assert!((m.tally.rates.events_per_wakeup - 50.0).abs() < 1e-6, "{:?}", m.tally.rates);
}

#[test]
fn a_stream_the_server_closed_says_why_and_when_it_tries_again() {
    let mut m = Model::default();
    m.update(Action::Connected(true));
    m.update(Action::StreamClosed { reason: "too many watchers (256, --max-watchers); try again later".into(), retry_s: 4 });
    assert!(!m.connected);
    let said = m.stream_closed.clone().unwrap();
    assert_eq!((said.reason.contains("--max-watchers"), said.retry_s), (true, 4));
    assert!(matches!(&m.notes().last().unwrap().note, Note::Closed { reason, retry_s: 4 } if reason.contains("--max-watchers")));
    m.update(Action::Connected(true));
    assert_eq!(m.stream_closed, None, "back: nothing to explain");
}
