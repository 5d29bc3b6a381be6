//! The lanes of a window: fd generations, flows from broadcasts to sends, the loop's slices and
//! the caps.

use super::lanes::{build_window, build_window_with, MarkKind, SliceKind, Window};
use muxscope_shared::{CloseReason, CtlOp, Event, EventBody, FdInfo, Interest, Model, Role, Snapshot};

/// A table holding `fds`, as the history's keyframe before the window would.
fn snap(fds: &[(i32, Role, &str)]) -> Snapshot {
    let mut s = Snapshot::empty();
    s.chat_addr = "127.0.0.1:3999".into();
    s.fds = fds.iter().map(|&(fd, role, name)| FdInfo { fd, role, interest: Interest::Read, name: name.into(), pending_out: 0 }).collect();
    s
}

/// The window of `bodies`, one per µs, with history indices from 100.
fn run(s: &Snapshot, bodies: Vec<EventBody>) -> Window {
    build_window(s, &events(bodies))
}

fn events(bodies: Vec<EventBody>) -> Vec<(u64, Event)> {
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| (100 + i as u64, Event { seq: 1 + i as u64, ts_ns: 1_000 * (1 + i as u64), body }))
        .collect()
}

fn accept(fd: i32) -> EventBody {
    EventBody::Accept { fd, peer: format!("10.0.0.1:{}", 40000 + fd), listener: 3 }
}
fn ctl(op: CtlOp, fd: i32) -> EventBody {
    let interest = (op != CtlOp::Del).then_some(Interest::Read);
    EventBody::Ctl { op, fd, interest, role: if fd == 3 { Role::Listener } else { Role::Tcp }, error: None }
}
fn recv(fd: i32) -> EventBody {
    EventBody::Recv { fd, bytes: 6, eof: false, would_block: false, lines: 1 }
}
fn send(fd: i32) -> EventBody {
    EventBody::Send { fd, bytes: 20, would_block: false, queued: 0 }
}
fn bcast(from: i32, recipients: u32) -> EventBody {
    EventBody::Broadcast { from, name: "x".into(), recipients, bytes: 12, text: "hi".into() }
}
fn close(fd: i32) -> EventBody {
    EventBody::Close { fd, reason: CloseReason::Eof, detail: None }
}

fn lanes_of(w: &Window, fd: i32) -> Vec<usize> {
    (0..w.lanes.len()).filter(|&i| w.lanes[i].fd == fd).collect()
}

fn kinds(w: &Window, lane: usize) -> Vec<MarkKind> {
    w.lanes[lane].marks.iter().map(|m| m.kind).collect()
}

const ROOM: [(i32, Role, &str); 4] =
    [(3, Role::Listener, "127.0.0.1:3999"), (5, Role::Tcp, "alice"), (6, Role::Tcp, "bob"), (7, Role::Web, "carol")];

#[test]
fn a_new_connection_on_a_reused_fd_gets_a_new_lane() {
    let s = snap(&ROOM[..1]);
    let w = run(&s, vec![accept(5), ctl(CtlOp::Add, 5), recv(5), close(5), accept(5), ctl(CtlOp::Add, 5), recv(5)]);
    let five = lanes_of(&w, 5);
    assert_eq!(five.len(), 2);
    let (old, new) = if w.lanes[five[0]].generation == 0 { (five[0], five[1]) } else { (five[1], five[0]) };
    assert_eq!(w.lanes[new].generation, 1);
    assert_eq!(kinds(&w, old), [MarkKind::Accept, MarkKind::Ctl(CtlOp::Add), MarkKind::Recv, MarkKind::Close]);
    assert_eq!(kinds(&w, new), [MarkKind::Accept, MarkKind::Ctl(CtlOp::Add), MarkKind::Recv]);
    assert_eq!((w.lanes[old].opened, w.lanes[old].closed), (Some(1_000), Some(4_000)));
    assert_eq!((w.lanes[new].opened, w.lanes[new].closed), (Some(5_000), None));
    assert_eq!(w.lanes[new].name, "10.0.0.1:40005");
    // A `ctl add` after a close, with no accept seen (the blocking model's acceptor): new too.
    let w = run(&snap(&ROOM[..2]), vec![recv(5), close(5), ctl(CtlOp::Add, 5), recv(5)]);
    assert_eq!(lanes_of(&w, 5).len(), 2);
}

#[test]
fn a_model_switch_keeps_every_lane() {
    let s = snap(&ROOM[..3]);
    let mut bodies = vec![EventBody::Handover { from: Model::Epoll, to: Model::Poll }];
    bodies.extend([3, 5, 6].map(|fd| ctl(CtlOp::Del, fd)));
    bodies.extend([3, 5, 6].map(|fd| ctl(CtlOp::Add, fd)));
    bodies.push(EventBody::Model { model: Model::Poll, from: Some(Model::Epoll) });
    bodies.push(recv(5));
    let w = run(&s, bodies);
    assert_eq!(w.lanes.len(), 3);
    assert!(w.lanes.iter().all(|l| l.generation == 0 && l.opened.is_none() && l.closed.is_none()));
    let five = lanes_of(&w, 5)[0];
    assert_eq!(kinds(&w, five), [MarkKind::Ctl(CtlOp::Del), MarkKind::Ctl(CtlOp::Add), MarkKind::Recv]);
    // The connection keeps its name and role through the switch.
    assert_eq!((w.lanes[five].name.as_str(), w.lanes[five].role), ("alice", Role::Tcp));
    let switches = w.loop_lane.marks.iter().filter(|m| m.kind == MarkKind::Switch).count();
    assert_eq!(switches, 2);
}

#[test]
fn a_broadcast_to_three_clients_has_three_flow_ends() {
    let w = run(&snap(&ROOM), vec![recv(5), bcast(5, 3), send(5), send(6), send(7)]);
    let flows: Vec<_> = w.flows().collect();
    assert_eq!(flows.len(), 3);
    let sender = lanes_of(&w, 5)[0] as u32;
    assert!(flows.iter().all(|(b, _)| b.lane == Some(sender) && b.index == 101));
    let mut ends: Vec<i32> = flows.iter().map(|(_, e)| w.lanes[e.lane as usize].fd).collect();
    ends.sort();
    assert_eq!(ends, [5, 6, 7]);
    assert!(flows.iter().all(|(_, e)| !e.closed));
    // The listener is no recipient.
    assert!(kinds(&w, lanes_of(&w, 3)[0]).is_empty());
}

#[test]
fn one_coalesced_send_ends_two_flows() {
    let w = run(&snap(&ROOM[..3]), vec![bcast(5, 2), bcast(6, 2), send(5), send(6)]);
    assert_eq!(w.flow_ends.len(), 2);
    for e in &w.flow_ends {
        let from: Vec<u64> = w.flows().filter(|(_, x)| x.index == e.index).map(|(b, _)| b.index).collect();
        assert_eq!(from, [100, 101], "the send at {} ends both lines", e.index);
    }
    // A later send owes nothing more.
    let w = run(&snap(&ROOM[..3]), vec![bcast(5, 2), send(5), send(5), send(6)]);
    assert_eq!(w.flows().count(), 2);
}

#[test]
fn a_close_before_the_send_ends_the_flow() {
    let w = run(&snap(&ROOM[..3]), vec![bcast(5, 2), send(5), close(6)]);
    let flows: Vec<_> = w.flows().collect();
    assert_eq!(flows.len(), 2);
    let closed: Vec<i32> = flows.iter().filter(|(_, e)| e.closed).map(|(_, e)| w.lanes[e.lane as usize].fd).collect();
    assert_eq!(closed, [6]);
}

#[test]
fn recipients_are_the_clients_registered_at_the_broadcast() {
    // fd 8 joins after the line: the send it gets later owes it nothing.
    let w = run(&snap(&ROOM[..2]), vec![bcast(5, 1), accept(8), ctl(CtlOp::Add, 8), send(8), send(5)]);
    assert_eq!(w.flows().map(|(_, e)| w.lanes[e.lane as usize].fd).collect::<Vec<_>>(), [5]);
    // Echo (one recipient in a room of three): only the sender is owed it.
    let w = run(&snap(&ROOM), vec![bcast(6, 1), send(5), send(6), send(7)]);
    assert_eq!(w.flows().map(|(_, e)| w.lanes[e.lane as usize].fd).collect::<Vec<_>>(), [6]);
    // A web user is a client; a send that wrote nothing delivers nothing.
    let blocked = EventBody::Send { fd: 7, bytes: 0, would_block: true, queued: 20 };
    let w = run(&snap(&ROOM), vec![bcast(5, 3), blocked, send(7)]);
    assert_eq!(w.flows().map(|(_, e)| e.index).collect::<Vec<_>>(), [102]);
}

#[test]
fn waits_naps_and_enters_are_slices_ending_at_their_event() {
    let wait = EventBody::Wait {
        timeout_ms: -1,
        registered: 2,
        ready: vec![],
        ready_total: 3,
        blocked_ns: 400,
        scanned: 3,
        rescan: 0,
        overflow: false,
    };
    let enter = EventBody::UringEnter { submitted: 1, wait_nr: 1, blocked_ns: 1_500 };
    let w = run(&snap(&ROOM[..1]), vec![wait, enter, EventBody::Sleep { ns: 1_000 }]);
    let s: Vec<_> = w.loop_lane.slices.iter().map(|s| (s.start, s.end, s.index, s.kind)).collect();
    assert_eq!(
        s,
        [(600, 1_000, 100, SliceKind::Wait { ready: 3 }), (500, 2_000, 101, SliceKind::Uring), (2_000, 3_000, 102, SliceKind::Sleep)]
    );
    // The window starts where the first wait began, and ends at the last event.
    assert_eq!((w.start_ts, w.end_ts, w.first_index, w.end_index), (600, 3_000, 100, 103));
}

#[test]
fn nicks_and_web_users_are_followed_in_labels() {
    let w = run(&snap(&ROOM[..2]), vec![EventBody::Nick { fd: 5, name: "zed".into(), role: Role::Web }]);
    let five = &w.lanes[lanes_of(&w, 5)[0]];
    assert_eq!((five.name.as_str(), five.role), ("zed", Role::Web));
}

#[test]
fn the_caps_keep_the_most_active_lanes_and_count_the_rest() {
    let fds: Vec<(i32, Role, &str)> = (10..40).map(|fd| (fd, Role::Tcp, "c")).collect();
    // fd 10+k gets k recvs: the busiest are the highest.
    let bodies: Vec<EventBody> = (0..30).flat_map(|k| (0..k).map(move |_| recv(10 + k))).collect();
    let n = bodies.len();
    let w = build_window_with(&snap(&fds), &events(bodies.clone()), usize::MAX, 10);
    assert_eq!((w.lanes.len(), w.hidden, w.cut), (10, 20, 0));
    assert_eq!(w.lanes.iter().map(|l| l.fd).collect::<Vec<_>>(), (30..40).rev().collect::<Vec<_>>());
    // At most `max_events` are read: the rest is counted, from the end.
    let w = build_window_with(&snap(&fds), &events(bodies), 20, 10);
    assert_eq!((w.times.len(), w.cut, w.end_index), (20, n - 20, 120));
    assert_eq!(w.lanes.iter().map(|l| l.marks.len()).sum::<usize>(), 20);
}

#[test]
fn flows_to_lanes_left_out_are_dropped() {
    let fds: Vec<(i32, Role, &str)> = (10..14).map(|fd| (fd, Role::Tcp, "c")).collect();
    let bodies = vec![recv(10), recv(10), bcast(10, 4), send(10), send(11), send(12), send(13)];
    let w = build_window_with(&snap(&fds), &events(bodies), usize::MAX, 2);
    assert_eq!(w.hidden, 2);
    assert!(w.flows().all(|(b, e)| b.lane.is_some() && (e.lane as usize) < w.lanes.len()));
    assert_eq!(w.flows().count(), 2);
}

#[test]
fn a_click_between_marks_finds_the_event_before() {
    let w = run(&snap(&ROOM[..2]), vec![recv(5), recv(5), recv(5)]);
    assert_eq!(w.index_at(2_500), Some(101));
    assert_eq!(w.index_at(0), Some(100));
    assert_eq!(w.index_at(9_000), Some(102));
    assert_eq!(build_window(&snap(&[]), &[]).index_at(5), None);
}

#[test]
fn a_gap_with_no_time_of_its_own_keeps_time_in_order() {
    let mut evs = events(vec![recv(5), EventBody::gap(40), recv(5)]);
    evs[1].1.ts_ns = 0;
    let w = build_window(&snap(&ROOM[..2]), &evs);
    assert_eq!(w.times, [(1_000, 100), (1_000, 101), (3_000, 102)]);
    assert_eq!(w.loop_lane.marks[0].ts, 1_000);
    assert_eq!((w.start_ts, w.end_ts), (1_000, 3_000));
}
