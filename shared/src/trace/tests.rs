//! Hand-built histories, each checked for what it shows and for the trace's invariants
//! ([`check`]); `sim_tests` runs random ones.

use super::check::*;
use super::json::Us;
use super::*;
use crate::{CtlOp, EventBody, Interest, Model, Role};
use serde_json::Value;

#[test]
fn microseconds_are_exact() {
    assert_eq!(Us(1_234_567).to_string(), "1234.567");
    assert_eq!(Us(5).to_string(), "0.005");
    assert_eq!(Us(2_000).to_string(), "2");
    assert_eq!(Us(2_050).to_string(), "2.050");
}

#[test]
fn the_process_and_tracks_are_named_and_names_follow_nicks() {
    let mut h = H::new();
    h.connect(5, "127.0.0.1:1").ev(EventBody::Nick { fd: 5, name: "alice".into(), role: Role::Tcp });
    h.connect(6, "127.0.0.1:2").ev(EventBody::Nick { fd: 6, name: "webby".into(), role: Role::Web });
    let t = h.trace();
    let process = t.events.iter().find(|e| e["name"] == "process_name").unwrap();
    assert_eq!(process["args"]["name"], "muxscope (epoll on 127.0.0.1:3999)");
    let names: Vec<&str> = t.names.values().map(String::as_str).collect();
    assert_eq!(names, ["event loop", "fd 3 · 127.0.0.1:3999 (listener)", "fd 5 · alice (tcp)", "fd 6 · webby (web)"]);
    assert_eq!(t.tid("event loop"), 1);
    // Every mark carries its event: the accept's peer is in its args.
    let accept = t.named("accept").next().unwrap();
    assert_eq!((accept["args"]["peer"].as_str(), accept["args"]["kind"].as_str()), (Some("127.0.0.1:1"), Some("accept")));
    assert_eq!(t.metadata["events"], 6);
    assert_eq!(t.metadata["model"], "epoll");
}

#[test]
fn a_new_connection_on_an_old_fd_number_gets_its_own_track() {
    let mut h = H::new();
    h.connect(5, "127.0.0.1:1").ev(EventBody::Nick { fd: 5, name: "alice".into(), role: Role::Tcp });
    h.say(5, 1).send(5, 9).close(5);
    h.connect(5, "127.0.0.1:2").say(5, 1).send(5, 9);
    // A registration after a close, with no accept seen (lost), is a new connection too.
    h.ev(EventBody::Ctl { op: CtlOp::Add, fd: 6, interest: Some(Interest::Read), role: Role::Tcp, error: None }).close(6);
    h.ev(EventBody::Ctl { op: CtlOp::Add, fd: 6, interest: Some(Interest::Read), role: Role::Tcp, error: None });
    let t = h.trace();
    let (first, second) = (t.tid("fd 5 · alice (tcp)"), t.tid("fd 5 · 127.0.0.1:2 (tcp) #2"));
    assert_ne!(first, second);
    let kinds = |tid| {
        t.on(tid).iter().filter(|e| e["ph"] != "s" && e["ph"] != "f").map(|e| e["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(kinds(first), ["accept", "ctl add", "nick", "recv", "broadcast", "send", "ctl del", "close"]);
    assert_eq!(kinds(second), ["accept", "ctl add", "recv", "broadcast", "send"]);
    t.tid("fd 6 (tcp)");
    t.tid("fd 6 (tcp) #2");
    // Each line's flow stayed within its own connection.
    for tid in [first, second] {
        assert_eq!(t.on(tid).iter().filter(|e| e["ph"] == "s").count(), 1);
        assert_eq!(t.on(tid).iter().filter(|e| e["ph"] == "f").count(), 1);
    }
}

#[test]
fn a_model_switch_keeps_every_connection_on_its_track() {
    let mut h = H::new();
    h.connect(5, "127.0.0.1:1").wait(500, &[5]);
    h.ev(EventBody::Handover { from: Model::Epoll, to: Model::Poll });
    for fd in [LISTENER, 5] {
        h.ev(EventBody::Ctl { op: CtlOp::Del, fd, interest: None, role: Role::Tcp, error: None });
    }
    for (fd, role) in [(LISTENER, Role::Listener), (5, Role::Tcp)] {
        h.ev(EventBody::Ctl { op: CtlOp::Add, fd, interest: Some(Interest::Read), role, error: None });
    }
    h.ev(EventBody::Model { model: Model::Poll, from: Some(Model::Epoll) });
    h.wait(700, &[5]).say(5, 1).send(5, 9);
    let t = h.trace();
    assert_eq!(t.names.len(), 3, "the loop, the listener and fd 5: {:?}", t.names);
    let fd5 = t.tid("fd 5 · 127.0.0.1:1 (tcp)");
    assert_eq!(t.on(fd5).iter().filter(|e| e["name"] == "ctl add").count(), 2);
    let waits: Vec<&str> = t.with_ph("X").filter(|e| e["tid"] == 1).map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(waits, ["epoll_wait", "poll"]);
    let loop_marks: Vec<&str> = t.with_ph("i").filter(|e| e["tid"] == 1).map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(loop_marks, ["snapshot", "handover", "model"]);
    assert_eq!(t.process_name(), "muxscope (epoll on 127.0.0.1:3999)");
}

#[test]
fn a_broadcast_to_three_clients_ends_on_each_ones_send() {
    let mut h = H::new();
    h.connect(5, "a:1").connect(6, "b:1").connect(7, "c:1").say(5, 3).send(7, 9).send(5, 9).send(6, 9);
    let t = h.trace();
    let tid = |fd: i32| t.tid(&format!("fd {fd} · {}:1 (tcp)", ["a", "b", "c"][fd as usize - 5]));
    let (a, b, c) = (tid(5), tid(6), tid(7));
    let flows: Vec<(u64, u64)> = t.flows().into_values().collect();
    assert_eq!(flows, [(a, a), (a, b), (a, c)]);
    let broadcast = t.named("broadcast").next().unwrap();
    assert_eq!((broadcast["ph"].as_str(), broadcast["dur"].as_f64()), (Some("X"), Some(0.001)));
    assert_eq!((broadcast["args"]["flows"].as_u64(), broadcast["args"]["text"].as_str()), (Some(3), Some("hi")));
    for send in t.named("send") {
        assert_eq!((send["ph"].as_str(), send["args"]["flows_ended"].as_u64()), (Some("X"), Some(1)));
    }
    assert_eq!(t.metadata["summary"]["flows"], 3);
    assert_eq!(t.metadata["summary"]["flow_ends"], 3);
}

#[test]
fn one_coalesced_send_ends_two_flows_and_an_empty_one_ends_none() {
    let mut h = H::new();
    h.connect(5, "a:1").connect(6, "b:1").say(5, 2).say(6, 2);
    h.ev(EventBody::Send { fd: 6, bytes: 0, would_block: true, queued: 18 });
    h.send(5, 18).send(6, 18).send(6, 4);
    let t = h.trace();
    let b = t.tid("fd 6 · b:1 (tcp)");
    let marks: Vec<(&str, &str, Option<u64>)> =
        t.on(b).iter().map(|e| (e["ph"].as_str().unwrap(), e["name"].as_str().unwrap(), e["args"]["flows_ended"].as_u64())).collect();
    let tail = &marks[marks.len() - 5..];
    assert_eq!(
        tail,
        [("i", "send EAGAIN", None), ("X", "send", Some(2)), ("f", "broadcast", None), ("f", "broadcast", None), ("i", "send", None)]
    );
    assert_eq!(t.flows().len(), 4);
}

#[test]
fn a_recipient_that_closes_first_ends_its_flow_at_the_close_and_the_rest_end_with_the_trace() {
    let mut h = H::new();
    h.connect(5, "a:1").connect(6, "b:1").connect(7, "c:1").say(5, 3).send(5, 9).close(6);
    h.wait(100, &[]);
    let last = h.ts;
    let t = h.trace();
    let (b, c) = (t.tid("fd 6 · b:1 (tcp)"), t.tid("fd 7 · c:1 (tcp)"));
    let close = t.on(b).into_iter().find(|e| e["name"] == "close").unwrap();
    assert_eq!((close["ph"].as_str(), close["args"]["reason"].as_str()), (Some("X"), Some("eof")));
    assert_eq!(t.on(b).last().unwrap()["ph"], "f");
    let unsent: Vec<&Value> = t.named("unsent at end").collect();
    assert_eq!(unsent.len(), 1);
    assert_eq!((unsent[0]["tid"].as_u64(), ts_ns(unsent[0])), (Some(c), Some(last)));
    assert_eq!(t.flows().len(), 3);
}

#[test]
fn an_echo_goes_back_to_its_sender_only() {
    let mut h = H::new();
    h.connect(5, "a:1").connect(6, "b:1").connect(7, "c:1").say(6, 1).send(6, 9);
    let t = h.trace();
    let b = t.tid("fd 6 · b:1 (tcp)");
    assert_eq!(t.flows().into_values().collect::<Vec<_>>(), [(b, b)]);
}

#[test]
fn waits_are_slices_that_end_at_their_event_named_by_the_model() {
    let mut h = H::new();
    h.connect(5, "a:1").wait(2_500, &[5]);
    let wait_end = h.ts;
    h.ev(EventBody::Sleep { ns: 1_000_000 });
    h.ev(EventBody::UringEnter { submitted: 2, wait_nr: 1, blocked_ns: 300 });
    let t = h.trace();
    let slices: Vec<(&str, u64, f64)> = t
        .with_ph("X")
        .filter(|e| e["tid"] == 1)
        .map(|e| (e["name"].as_str().unwrap(), ts_ns(e).unwrap(), e["dur"].as_f64().unwrap()))
        .collect();
    // The sleep says it took a millisecond, but the loop's last mark was 1 µs before: it starts there.
    assert_eq!(
        slices,
        [("epoll_wait", wait_end - 2_500, 2.5), ("clock_nanosleep", wait_end, 1.0), ("io_uring_enter", wait_end + 1_700, 0.3)]
    );
    let wait = t.named("epoll_wait").next().unwrap();
    assert_eq!(wait["args"]["ready"][0]["fd"], 5);
    assert_eq!((wait["args"]["registered"].as_u64(), wait["args"]["scanned"].as_u64()), (Some(4), Some(1)));
}

#[test]
fn time_never_goes_back_on_a_track() {
    let mut h = H::new();
    h.connect(5, "a:1");
    let now = h.ts;
    // The blocking model's threads stamp their own events: one may come stamped earlier.
    h.at(now - 1_600).ev(EventBody::Recv { fd: 5, bytes: 3, eof: false, would_block: false, lines: 1 });
    h.at(now - 1_900).ev(EventBody::Broadcast { from: 5, name: "a".into(), recipients: 1, bytes: 9, text: "x".into() });
    h.send(5, 9);
    let t = h.trace();
    let a = t.tid("fd 5 · a:1 (tcp)");
    let times: Vec<u64> = t.on(a).iter().filter_map(|e| ts_ns(e)).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(times[2..5], [now, now, now]);
}

#[test]
fn gateway_gaps_and_resync_snapshots_keep_the_tracks_right() {
    let mut h = H::new();
    h.connect(5, "a:1").connect(6, "b:1").say(5, 2).send(5, 9);
    // The gateway dropped events (fd 6 left, fd 8 came): a gap with seq 0, then a snapshot.
    h.push(0, EventBody::Gap { dropped: 7, folded: true, resync: true, counters: None });
    let resync_seq = h.seq + 7;
    h.ts += 5_000;
    let fds = vec![fd_info(LISTENER, Role::Listener, "127.0.0.1:3999"), fd_info(5, Role::Tcp, "a:1"), fd_info(8, Role::Tcp, "c:1")];
    h.items.push(ServerMsg::Snapshot(snapshot(resync_seq, h.ts, Model::Epoll, fds)));
    // An event the snapshot already holds, then new ones.
    h.push(resync_seq, EventBody::Nick { fd: 8, name: "ignored".into(), role: Role::Tcp });
    h.seq = resync_seq;
    h.say(8, 2).send(5, 9).send(8, 9);
    let t = h.trace();
    let b = t.tid("fd 6 · b:1 (tcp)");
    let gone = t.named("gone").next().expect("fd 6's owed flow ends where the snapshot lost it");
    assert_eq!((gone["tid"].as_u64(), ts_ns(gone)), (Some(b), Some(h.ts - 4_000)));
    let c = t.tid("fd 8 · c:1 (tcp)");
    assert_eq!(t.on(c).iter().filter(|e| e["ph"] == "f").count(), 1);
    let gap = t.named("gap").next().unwrap();
    assert_eq!((gap["tid"].as_u64(), gap["args"]["dropped"].as_u64()), (Some(1), Some(7)));
    assert_eq!((t.metadata["skipped"].as_u64(), t.metadata["dropped"].as_u64()), (Some(1), Some(7)));
    assert_eq!(t.metadata["snapshots"], 2);
    // The fd the snapshot dropped is closed: its next connection is a new track.
    let mut h2 = H { items: h.items.clone(), ..H::new() };
    h2.seq = h.seq;
    h2.ts = h.ts;
    h2.connect(6, "d:1");
    h2.trace().tid("fd 6 · d:1 (tcp) #2");
}

#[test]
fn an_empty_history_is_still_a_trace() {
    let t = check(&chrome_trace_string(&[]));
    assert_eq!(t.names.len(), 1);
    assert_eq!(t.events.len(), 2);
}

#[test]
fn a_history_whose_first_snapshot_comes_late_names_the_model_it_started_in() {
    let mut h = H::new();
    h.items.clear();
    h.connect(5, "a:1").say(5, 1).send(5, 9);
    h.ev(EventBody::Handover { from: Model::Blocking, to: Model::Poll });
    h.ev(EventBody::Model { model: Model::Poll, from: Some(Model::Blocking) });
    let fds = vec![fd_info(LISTENER, Role::Listener, "127.0.0.1:3999"), fd_info(5, Role::Tcp, "a:1")];
    h.ts += 1_000;
    h.items.push(ServerMsg::Snapshot(snapshot(h.seq, h.ts, Model::Poll, fds)));
    h.wait(100, &[5]);
    let t = h.trace();
    assert_eq!(t.process_name(), "muxscope (blocking on 127.0.0.1:3999)");
    assert_eq!(t.names.len(), 3, "{:?}", t.names);
    assert!(t.named("poll").next().is_some());

    // What a recording's header says covers the waits before any snapshot.
    let mut h = H::new();
    h.items.clear();
    h.wait(100, &[]);
    let mut out = Vec::new();
    let mut trace = ChromeTrace::new(&mut out).unwrap();
    trace.assume_model(Model::Sigio);
    h.items.iter().try_for_each(|m| trace.push(m)).unwrap();
    trace.finish().unwrap();
    let t = check(std::str::from_utf8(&out).unwrap());
    assert!(t.named("rt_sigtimedwait").next().is_some());
    assert_eq!(t.process_name(), "muxscope (sigio)");
}
