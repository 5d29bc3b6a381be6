use super::*;
use crate::{CloseReason, Counters, CtlOp, ReadyFd, ReadyFlags, Role, ThreadOp, ThreadRole};
use proptest::prelude::*;

fn ev(seq: u64, ts_ns: u64, body: EventBody) -> Event {
    Event { seq, ts_ns, body }
}

fn counters(n: u64) -> Counters {
    Counters {
        wakeups: n,
        accepted: n + 1,
        closed: n + 2,
        messages: n + 3,
        deliveries: u64::MAX,
        recv_bytes: 0,
        sent_bytes: 7,
        dropped_events: 8,
        eagain: 9,
    }
}

/// One of every kind, and every value of every enum a kind carries.
fn every_kind() -> Vec<EventBody> {
    let mut v = vec![];
    for (i, op) in CtlOp::ALL.into_iter().enumerate() {
        let interest = [Some(Interest::Read), Some(Interest::ReadWrite), None][i];
        v.push(EventBody::Ctl { op, fd: 5, interest, role: Role::Tcp, error: None });
    }
    v.push(EventBody::Ctl { op: CtlOp::Add, fd: 1500, interest: Some(Interest::Write), role: Role::Web, error: Some("EBADF".into()) });
    for role in Role::ALL {
        v.push(EventBody::Nick { fd: 3, name: "名字".into(), role });
    }
    v.push(EventBody::Wait {
        timeout_ms: -1,
        registered: 3,
        ready: vec![ReadyFd { fd: 4, flags: ReadyFlags(ReadyFlags::IN | ReadyFlags::HUP) }, ReadyFd { fd: -1, flags: ReadyFlags(31) }],
        ready_total: 900,
        blocked_ns: 123_456_789,
        scanned: 1,
        rescan: 2,
        overflow: true,
    });
    v.push(EventBody::Accept { fd: 9, peer: "127.0.0.1:5555".into(), listener: 3 });
    v.push(EventBody::Recv { fd: 9, bytes: 4096, eof: true, would_block: true, lines: 3 });
    v.push(EventBody::Recv { fd: 9, bytes: 0, eof: false, would_block: true, lines: 0 });
    v.push(EventBody::Send { fd: 9, bytes: 1 << 40, would_block: true, queued: 77 });
    v.push(EventBody::Broadcast { from: 9, name: "alice".into(), recipients: 1000, bytes: 14, text: "hello\u{0}world".into() });
    v.push(EventBody::AcceptEagain { listener: 3 });
    v.push(EventBody::Sleep { ns: 1_000_000 });
    for op in ThreadOp::ALL {
        for role in ThreadRole::ALL {
            v.push(EventBody::Thread { op, tid: 4242, fd: 7, role });
        }
    }
    v.push(EventBody::UringEnter { submitted: 12, wait_nr: 1, blocked_ns: 5 });
    for m in Model::ALL {
        v.push(EventBody::Handover { from: m, to: Model::Epoll });
        v.push(EventBody::Model { model: m, from: Some(Model::Poll) });
    }
    v.push(EventBody::Model { model: Model::Epoll, from: None });
    for reason in CloseReason::ALL {
        v.push(EventBody::Close { fd: 9, reason, detail: None });
    }
    v.push(EventBody::Close { fd: 9, reason: CloseReason::Error, detail: Some("ECONNRESET".into()) });
    for state in crate::RelayState::ALL {
        v.push(EventBody::Relay {
            relay: Box::new(crate::RelayStatus {
                node: "A".into(),
                redis: "redis://127.0.0.1:6379".into(),
                state,
                fd: (state != crate::RelayState::Down).then_some(8),
                since_ms: 1_796_000_000_000,
                error: (state == crate::RelayState::Down).then(|| "Connection refused".into()),
                nodes: vec![
                    crate::ClusterNode { name: "A".into(), clients: 3, me: true },
                    crate::ClusterNode { name: "B".into(), clients: 0, me: false },
                ],
                published: 1,
                received: 2,
                lost_down: 3,
                lost_slow: 4,
                unconfirmed: 5,
                missed: 6,
            }),
        });
    }
    v.push(EventBody::gap(3));
    v.push(EventBody::folded(1 << 33, true, counters(4)));
    v.push(EventBody::Gap { dropped: 0, folded: false, resync: true, counters: Some(counters(0)) });
    v
}

#[test]
fn every_kind_and_enum_value_round_trips() {
    let events: Vec<Event> = every_kind().into_iter().enumerate().map(|(i, b)| ev(100 + i as u64, 5_000 + 10 * i as u64, b)).collect();
    assert_eq!(unpack(&pack(&events)).unwrap(), events);
    // Each enum's table is its declaration order: JSON names agree with what the bytes say.
    for (i, r) in Role::ALL.iter().enumerate() {
        assert_eq!(*r as usize, i);
    }
    for (i, r) in CloseReason::ALL.iter().enumerate() {
        assert_eq!(*r as usize, i);
    }
    for (i, r) in CtlOp::ALL.iter().enumerate() {
        assert_eq!(*r as usize, i);
    }
    for (i, r) in ThreadOp::ALL.iter().enumerate() {
        assert_eq!(*r as usize, i);
    }
    for (i, r) in ThreadRole::ALL.iter().enumerate() {
        assert_eq!(*r as usize, i);
    }
}

#[test]
fn gateway_gaps_with_seq_zero_and_clock_steps_back_round_trip() {
    let events = vec![
        ev(10, 1_000_000, EventBody::Sleep { ns: 1 }),
        ev(0, 999_000, EventBody::gap(5)),
        ev(11, u64::MAX, EventBody::Sleep { ns: 2 }),
        ev(u64::MAX, 0, EventBody::Sleep { ns: 3 }),
    ];
    assert_eq!(unpack(&pack(&events)).unwrap(), events);
}

#[test]
fn a_busy_run_is_small() {
    // The common case: a wait, a recv, a broadcast to 100 clients, 100 sends, a few µs apart.
    let mut p = Packer::new();
    let mut seq = 1_000_000;
    let mut ts = 9_000_000_000;
    let mut next = |b: EventBody, p: &mut Packer| {
        seq += 1;
        ts += 1_700;
        p.push(&ev(seq, ts, b));
    };
    for round in 0..100 {
        let ready = vec![ReadyFd { fd: 10 + round % 100, flags: ReadyFlags(ReadyFlags::IN) }];
        next(
            EventBody::Wait {
                timeout_ms: -1,
                registered: 102,
                ready,
                ready_total: 1,
                blocked_ns: 800_000,
                scanned: 1,
                rescan: 0,
                overflow: false,
            },
            &mut p,
        );
        next(EventBody::Recv { fd: 10 + round % 100, bytes: 20, eof: false, would_block: false, lines: 1 }, &mut p);
        next(EventBody::Broadcast { from: 10, name: "bot-17".into(), recipients: 100, bytes: 20, text: "hello everyone".into() }, &mut p);
        for fd in 10..110 {
            next(EventBody::Send { fd, bytes: 20, would_block: false, queued: 0 }, &mut p);
        }
    }
    let per = p.byte_len() as f64 / p.len() as f64;
    assert!(per < 12.0, "{per:.1} bytes per event");
}

#[test]
fn corrupt_bytes_are_errors_never_panics() {
    let bytes = pack(&every_kind().into_iter().map(|b| ev(1, 1, b)).collect::<Vec<_>>());
    for cut in 0..bytes.len() {
        let _ = unpack(&bytes[..cut]);
    }
    assert!(unpack(&[200]).is_err());
    assert_eq!(unpack(&[0, 0, 0, 9]).unwrap_err().what, "ctl op");
    // A string longer than what follows.
    assert!(unpack(&[7, 2, 2, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_ok(), "accept_eagain with a big listener fd is fine");
    assert!(unpack(&[2, 2, 2, 2, 0xff, 0x01]).is_err());
}

fn arb_body() -> impl Strategy<Value = EventBody> {
    let fd = -2i32..70_000;
    let kinds = every_kind();
    prop_oneof![
        proptest::sample::select(kinds),
        (fd.clone(), any::<u32>(), any::<bool>(), any::<bool>(), any::<u32>())
            .prop_map(|(fd, bytes, eof, would_block, lines)| EventBody::Recv { fd, bytes, eof, would_block, lines }),
        (fd.clone(), any::<u64>(), any::<bool>(), any::<u64>()).prop_map(|(fd, bytes, would_block, queued)| EventBody::Send {
            fd,
            bytes,
            would_block,
            queued
        }),
        (fd.clone(), ".{0,40}", any::<u32>(), any::<u32>(), ".{0,200}")
            .prop_map(|(from, name, recipients, bytes, text)| EventBody::Broadcast { from, name, recipients, bytes, text }),
        (
            any::<i64>(),
            any::<u32>(),
            proptest::collection::vec((fd, any::<u8>()), 0..20),
            any::<u32>(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>()
        )
            .prop_map(|(timeout_ms, registered, ready, ready_total, blocked_ns, scanned, rescan, overflow)| EventBody::Wait {
                timeout_ms,
                registered,
                ready: ready.into_iter().map(|(fd, f)| ReadyFd { fd, flags: ReadyFlags(f) }).collect(),
                ready_total,
                blocked_ns,
                scanned,
                rescan,
                overflow,
            }),
    ]
}

proptest! {
    #[test]
    fn any_sequence_round_trips(events in proptest::collection::vec((any::<u64>(), any::<u64>(), arb_body()), 0..60)) {
        let events: Vec<Event> = events.into_iter().map(|(seq, ts_ns, body)| ev(seq, ts_ns, body)).collect();
        prop_assert_eq!(unpack(&pack(&events)).unwrap(), events);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = unpack(&bytes);
    }
}

#[test]
fn a_bot_is_role_four_and_named_bot() {
    // Appended, so recordings made before bots existed unpack as they did.
    assert_eq!(Role::ALL[4], Role::Bot);
    assert_eq!(serde_json::to_string(&Role::Bot).unwrap(), "\"bot\"");
    let e = vec![ev(1, 1_000, EventBody::Nick { fd: 9, name: "bot-1".into(), role: Role::Bot })];
    assert_eq!(unpack(&pack(&e)).unwrap(), e);
    assert!(Role::Bot.is_client() && Role::Web.is_client() && Role::Tcp.is_client());
    assert!(!Role::Listener.is_client() && !Role::Waker.is_client());
}

#[test]
fn the_relay_is_role_five_and_no_client() {
    // Appended after the bot, for the same reason.
    assert_eq!(Role::ALL[5], Role::Relay);
    assert_eq!(serde_json::to_string(&Role::Relay).unwrap(), "\"relay\"");
    assert!(!Role::Relay.is_client(), "the relay is no broadcast recipient and counts as no one online");
}
