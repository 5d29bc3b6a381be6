use super::*;

#[test]
fn kinds_are_the_contract_names() {
    let e = Event {
        seq: 1,
        ts_ns: 2,
        body: EventBody::Ctl { op: CtlOp::Add, fd: 5, interest: Some(Interest::Read), role: Role::Tcp, error: None },
    };
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(json, r#"{"seq":1,"ts_ns":2,"kind":"ctl","op":"add","fd":5,"interest":"r","role":"tcp"}"#);
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
    let bodies = [
        EventBody::Wait {
            timeout_ms: -1,
            registered: 1,
            ready: vec![ReadyFd { fd: 3, flags: ReadyFlags(ReadyFlags::IN | ReadyFlags::HUP) }],
            ready_total: 1,
            blocked_ns: 5,
            scanned: 1,
            rescan: 0,
            overflow: false,
        },
        EventBody::Wait {
            timeout_ms: 0,
            registered: 9,
            ready: vec![],
            ready_total: 9,
            blocked_ns: 5,
            scanned: 0,
            rescan: 9,
            overflow: true,
        },
        EventBody::AcceptEagain { listener: 3 },
        EventBody::Sleep { ns: 1_000_000 },
        EventBody::Model { model: Model::Poll, from: Some(Model::Epoll) },
        EventBody::Model { model: Model::Epoll, from: None },
        EventBody::Handover { from: Model::Epoll, to: Model::Poll },
        EventBody::Thread { op: ThreadOp::Spawn, tid: 77, fd: 5, role: ThreadRole::Reader },
        EventBody::UringEnter { submitted: 3, wait_nr: 1, blocked_ns: 10 },
        EventBody::Accept { fd: 4, peer: "127.0.0.1:5".into(), listener: 3 },
        EventBody::Recv { fd: 4, bytes: 3, eof: false, would_block: false, lines: 1 },
        EventBody::Send { fd: 4, bytes: 3, would_block: true, queued: 9 },
        EventBody::Broadcast { from: 4, name: "a".into(), recipients: 2, bytes: 9, text: "hi".into() },
        EventBody::Close { fd: 4, reason: CloseReason::Eof, detail: None },
        EventBody::gap(10),
        EventBody::Gap { dropped: 3, folded: true, resync: false, counters: None },
        EventBody::Gap { dropped: 3, folded: true, resync: true, counters: Some(Counters { messages: 7, ..Counters::default() }) },
    ];
    for body in bodies {
        let kind = body.kind();
        let e = Event { seq: 1, ts_ns: 1, body };
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], kind);
        assert_eq!(serde_json::from_value::<Event>(v).unwrap(), e);
    }
}

#[test]
fn ready_flags_read_like_epoll() {
    let f = ReadyFlags(ReadyFlags::IN | ReadyFlags::ERR);
    assert_eq!(f.to_string(), "IN|ERR");
    assert!(ReadyFlags(ReadyFlags::HUP).readable());
    assert!(!ReadyFlags(ReadyFlags::OUT).readable());
    assert!(serde_json::from_str::<ReadyFlags>("\"IN|BOGUS\"").is_err());
}

#[test]
fn interest_algebra() {
    assert_eq!(Interest::Read.add(Interest::Write), Interest::ReadWrite);
    assert_eq!(Interest::ReadWrite.remove(Interest::Write), Some(Interest::Read));
    assert_eq!(Interest::Write.remove(Interest::Write), None);
}

#[test]
fn apply_follows_a_client_through_its_life() {
    let mut s = Snapshot::empty();
    s.chat_addr = "127.0.0.1:3999".into();
    let ev = |seq, body| Event { seq, ts_ns: seq * 10, body };
    let steps = vec![
        ev(1, EventBody::Ctl { op: CtlOp::Add, fd: 3, interest: Some(Interest::Read), role: Role::Listener, error: None }),
        ev(2, EventBody::Accept { fd: 7, peer: "127.0.0.1:5000".into(), listener: 3 }),
        ev(3, EventBody::Ctl { op: CtlOp::Add, fd: 7, interest: Some(Interest::Read), role: Role::Tcp, error: None }),
        ev(4, EventBody::Nick { fd: 7, name: "ann".into(), role: Role::Web }),
        ev(5, EventBody::Ctl { op: CtlOp::Mod, fd: 7, interest: Some(Interest::ReadWrite), role: Role::Web, error: None }),
        ev(6, EventBody::Send { fd: 7, bytes: 10, would_block: true, queued: 90 }),
    ];
    for e in &steps {
        s.apply(e);
    }
    assert_eq!(s.fds.len(), 2);
    let f = s.fd(7).unwrap();
    assert_eq!((f.name.as_str(), f.role, f.interest, f.pending_out), ("ann", Role::Web, Interest::ReadWrite, 90));
    assert_eq!(s.fd(3).unwrap().name, "127.0.0.1:3999");
    // Replaying old events changes nothing.
    let before = s.clone();
    s.apply(&steps[1]);
    assert_eq!(s, before);
    s.apply(&ev(7, EventBody::Ctl { op: CtlOp::Del, fd: 7, interest: None, role: Role::Web, error: None }));
    s.apply(&ev(8, EventBody::Close { fd: 7, reason: CloseReason::Eof, detail: None }));
    assert!(s.fd(7).is_none());
    assert_eq!((s.counters.accepted, s.counters.closed, s.seq), (1, 1, 8));
    // A refused registration leaves nothing behind.
    s.apply(&ev(9, EventBody::Accept { fd: 1030, peer: "p".into(), listener: 3 }));
    s.apply(&ev(
        10,
        EventBody::Ctl { op: CtlOp::Add, fd: 1030, interest: Some(Interest::Read), role: Role::Tcp, error: Some("FD_SETSIZE".into()) },
    ));
    assert!(s.fd(1030).is_none());
    s.apply(&ev(3, EventBody::gap(4)));
    assert_eq!(s.counters.dropped_events, 4);
    // Folded by the gateway: not lost, not counted as dropped.
    s.apply(&ev(0, EventBody::Gap { dropped: 9, folded: true, resync: false, counters: None }));
    assert_eq!(s.counters.dropped_events, 4);
    // A gap that carries the totals after what it skipped sets them.
    let after = Counters { wakeups: 90, messages: 40, deliveries: 400, dropped_events: 2, ..s.counters.clone() };
    s.apply(&ev(0, EventBody::Gap { dropped: 9, folded: true, resync: false, counters: Some(after) }));
    assert_eq!((s.counters.wakeups, s.counters.messages, s.counters.deliveries), (90, 40, 400));
    assert_eq!(s.counters.dropped_events, 4, "drops keep the larger count");
    assert_eq!(s.seq, 10, "a gap moves no seq");
}

#[test]
fn nick_rules() {
    assert!(valid_nick("ann"));
    assert!(valid_nick("中文"));
    assert!(!valid_nick(""));
    assert!(!valid_nick("a b"));
    assert!(!valid_nick("[x]"));
    assert!(!valid_nick("a\u{7}"));
    assert!(!valid_nick(&"x".repeat(33)));
}

#[test]
fn server_msg_is_tagged_by_type() {
    let m = ServerMsg::Events { events: vec![] };
    assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"type":"events","events":[]}"#);
}

#[test]
fn server_msgs_parse_in_any_key_order_and_bad_ones_say_why() {
    let mut snap = Snapshot::empty();
    snap.poller = "epoll".into();
    snap.fds.push(FdInfo { fd: 5, role: Role::Web, interest: Interest::ReadWrite, name: "ann".into(), pending_out: 9 });
    snap.counters.messages = 3;
    let events = vec![
        Event { seq: 4, ts_ns: 5, body: EventBody::Send { fd: 5, bytes: 3, would_block: true, queued: 9 } },
        Event { seq: 0, ts_ns: 6, body: EventBody::Gap { dropped: 2, folded: true, resync: false, counters: Some(snap.counters.clone()) } },
    ];
    for m in [ServerMsg::Snapshot(snap.clone()), ServerMsg::Events { events }] {
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.starts_with(r#"{"type":"#), "muxscope writes the tag first: {json}");
        assert_eq!(serde_json::from_str::<ServerMsg>(&json).unwrap(), m, "tag first");
        // The same object with the tag last (another writer, or a JSON tool, may do that).
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let tag = v.as_object_mut().unwrap().remove("type").unwrap();
        let rest = serde_json::to_string(&v).unwrap();
        let moved = format!(r#"{},"type":{tag}}}"#, &rest[..rest.len() - 1]);
        assert!(!moved.starts_with(r#"{"type""#));
        assert_eq!(serde_json::from_str::<ServerMsg>(&moved).unwrap(), m, "tag last: {moved}");
    }
    for (bad, says) in [
        (r#"{"type":"nope","events":[]}"#, "unknown variant `nope`"),
        (r#"{}"#, "missing field `type`"),
        (r#"{"events":[]}"#, "missing field `type`"),
        (r#"{"type":"events"}"#, "missing field `events`"),
        (r#"[1]"#, "a /ws/events message"),
    ] {
        let err = serde_json::from_str::<ServerMsg>(bad).unwrap_err().to_string();
        assert!(err.contains(says), "{bad}: {err}");
    }
}

#[test]
fn a_handover_keeps_every_connection_with_its_name_and_owed_output() {
    let mut s = Snapshot::empty();
    s.model = Some(Model::Epoll);
    s.fds.push(FdInfo { fd: 3, role: Role::Listener, interest: Interest::Read, name: "127.0.0.1:3999".into(), pending_out: 0 });
    s.fds.push(FdInfo { fd: 7, role: Role::Web, interest: Interest::ReadWrite, name: "ann".into(), pending_out: 90 });
    let before = s.fds.clone();
    let mut seq = 0;
    let mut ev = |body| {
        seq += 1;
        Event { seq, ts_ns: seq, body }
    };
    let mut steps = vec![ev(EventBody::Handover { from: Model::Epoll, to: Model::Poll })];
    for f in &before {
        steps.push(ev(EventBody::Ctl { op: CtlOp::Del, fd: f.fd, interest: None, role: f.role, error: None }));
    }
    for f in &before {
        // The table knows a browser user only as a client.
        let role = if f.role == Role::Web { Role::Tcp } else { f.role };
        steps.push(ev(EventBody::Ctl { op: CtlOp::Add, fd: f.fd, interest: Some(f.interest), role, error: None }));
    }
    steps.push(ev(EventBody::Model { model: Model::Poll, from: Some(Model::Epoll) }));
    for e in &steps {
        s.apply(e);
        assert_eq!(s.fds.len(), 2, "no connection leaves the picture mid-switch");
    }
    assert_eq!(s.fds, before);
    assert_eq!((s.model, s.handover, s.poller.as_str()), (Some(Model::Poll), false, "poll"));
    // After the switch a del is a del again.
    s.apply(&Event { seq: 99, ts_ns: 99, body: EventBody::Ctl { op: CtlOp::Del, fd: 7, interest: None, role: Role::Web, error: None } });
    assert!(s.fd(7).is_none());
}
