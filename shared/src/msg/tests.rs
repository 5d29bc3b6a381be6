//! The hand-written readers against serde's derived ones: every kind, written by the derived
//! `Serialize`, in shuffled key orders, with unknown, foreign, missing, duplicated and mistyped
//! fields, must read the same (or fail the same way) as `Event`'s derived `Deserialize`.

use super::read_event::EventSeed;
use crate::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde::de::DeserializeSeed;
use serde_json::Value;

/// Where each kind is in the reader's table. No `_` arm: a new kind fails to compile here until
/// `read_event` reads it (its `KINDS`, `Kind`, `Fields::read` and `Fields::build`) and
/// `body()` below makes it.
fn kind_index(b: &EventBody) -> usize {
    match b {
        EventBody::Ctl { .. } => 0,
        EventBody::Wait { .. } => 1,
        EventBody::Accept { .. } => 2,
        EventBody::Recv { .. } => 3,
        EventBody::Send { .. } => 4,
        EventBody::Broadcast { .. } => 5,
        EventBody::Nick { .. } => 6,
        EventBody::AcceptEagain { .. } => 7,
        EventBody::Sleep { .. } => 8,
        EventBody::Thread { .. } => 9,
        EventBody::UringEnter { .. } => 10,
        EventBody::Handover { .. } => 11,
        EventBody::Model { .. } => 12,
        EventBody::Close { .. } => 13,
        EventBody::Relay { .. } => 14,
        EventBody::Gap { .. } => 15,
    }
}
const KIND_COUNT: usize = 16;

fn text() -> impl Strategy<Value = String> {
    "[a-z0-9\"\\\\é\n ]{0,6}"
}
fn model() -> impl Strategy<Value = Model> {
    prop::sample::select(Model::ALL.to_vec())
}
fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}
fn counters() -> impl Strategy<Value = Counters> {
    (any::<[u64; 4]>(), any::<[u64; 5]>()).prop_map(|(a, b)| Counters {
        wakeups: a[0],
        accepted: a[1],
        closed: a[2],
        messages: a[3],
        deliveries: b[0],
        recv_bytes: b[1],
        sent_bytes: b[2],
        dropped_events: b[3],
        eagain: b[4],
    })
}

fn relay() -> impl Strategy<Value = RelayStatus> {
    let node = (text(), any::<u32>(), any::<bool>()).prop_map(|(name, clients, me)| ClusterNode { name, clients, me });
    (
        (text(), text(), prop::sample::select(RelayState::ALL.to_vec()), prop::option::of(any::<i32>())),
        (any::<u64>(), prop::option::of(text()), prop::collection::vec(node, 0..3)),
        any::<[u64; 6]>(),
    )
        .prop_map(|((node, redis, state, fd), (since_ms, error, nodes), n)| RelayStatus {
            node,
            redis,
            state,
            fd,
            since_ms,
            error,
            nodes,
            published: n[0],
            received: n[1],
            lost_down: n[2],
            lost_slow: n[3],
            missed: n[4],
            unconfirmed: n[5],
        })
}

/// Any body of any kind.
fn body() -> impl Strategy<Value = EventBody> {
    let ready = prop::collection::vec((any::<i32>(), 0u8..32).prop_map(|(fd, f)| ReadyFd { fd, flags: ReadyFlags(f) }), 0..3);
    let reason = prop::sample::select(vec![CloseReason::Eof, CloseReason::Quit, CloseReason::LineTooLong, CloseReason::Shutdown]);
    prop_oneof![
        (any::<bool>(), any::<i32>(), prop::option::of(prop::sample::select(Interest::ALL.to_vec()))).prop_flat_map(
            move |(add, fd, interest)| (role(), prop::option::of(text())).prop_map(move |(role, error)| {
                EventBody::Ctl { op: if add { CtlOp::Add } else { CtlOp::Del }, fd, interest, role, error }
            })
        ),
        (any::<i64>(), any::<u32>(), ready, any::<(u32, u64, u32, u32, bool)>()).prop_map(|(timeout_ms, registered, ready, t)| {
            EventBody::Wait { timeout_ms, registered, ready, ready_total: t.0, blocked_ns: t.1, scanned: t.2, rescan: t.3, overflow: t.4 }
        }),
        (any::<i32>(), text(), any::<i32>()).prop_map(|(fd, peer, listener)| EventBody::Accept { fd, peer, listener }),
        any::<(i32, u32, bool, bool, u32)>().prop_map(|t| EventBody::Recv { fd: t.0, bytes: t.1, eof: t.2, would_block: t.3, lines: t.4 }),
        any::<(i32, u64, bool, u64)>().prop_map(|t| EventBody::Send { fd: t.0, bytes: t.1, would_block: t.2, queued: t.3 }),
        (any::<(i32, u32, u32)>(), text(), text()).prop_map(|(t, name, text)| EventBody::Broadcast {
            from: t.0,
            name,
            recipients: t.1,
            bytes: t.2,
            text
        }),
        (any::<i32>(), text(), role()).prop_map(|(fd, name, role)| EventBody::Nick { fd, name, role }),
        any::<i32>().prop_map(|listener| EventBody::AcceptEagain { listener }),
        any::<u64>().prop_map(|ns| EventBody::Sleep { ns }),
        (any::<(bool, i32, i32)>(), prop::sample::select(ThreadRole::ALL.to_vec())).prop_map(|(t, role)| EventBody::Thread {
            op: if t.0 { ThreadOp::Spawn } else { ThreadOp::Exit },
            tid: t.1,
            fd: t.2,
            role
        }),
        any::<(u32, u32, u64)>().prop_map(|t| EventBody::UringEnter { submitted: t.0, wait_nr: t.1, blocked_ns: t.2 }),
        (model(), model()).prop_map(|(from, to)| EventBody::Handover { from, to }),
        (model(), prop::option::of(model())).prop_map(|(model, from)| EventBody::Model { model, from }),
        (any::<i32>(), reason, prop::option::of(text())).prop_map(|(fd, reason, detail)| EventBody::Close { fd, reason, detail }),
        relay().prop_map(|relay| EventBody::Relay { relay: Box::new(relay) }),
        (any::<(u64, bool, bool)>(), prop::option::of(counters())).prop_map(|(t, counters)| EventBody::Gap {
            dropped: t.0,
            folded: t.1,
            resync: t.2,
            counters
        }),
    ]
}

fn mine(json: &str) -> Result<Event, String> {
    EventSeed.deserialize(&mut serde_json::Deserializer::from_str(json)).map_err(|e| e.to_string())
}

fn derived(json: &str) -> Result<Event, String> {
    serde_json::from_str::<Event>(json).map_err(|e| e.to_string())
}

/// An error's message without its position (which the slow path reports in its copy).
fn what(e: &str) -> &str {
    e.split(" at line ").next().unwrap_or(e)
}

/// The two readers agree on `json`: the same event, or an error saying the same thing.
fn agree(json: &str) -> Result<Event, String> {
    let (a, b) = (mine(json), derived(json));
    match (&a, &b) {
        (Ok(x), Ok(y)) => assert_eq!(x, y, "{json}"),
        (Err(x), Err(y)) => assert_eq!(what(x), what(y), "{json}"),
        _ => panic!("{json}: hand-written {a:?}, derived {b:?}"),
    }
    a
}

/// `entries` as a JSON object, in this order.
fn object(entries: &[(String, Value)]) -> String {
    let body: Vec<String> = entries.iter().map(|(k, v)| format!("{}:{v}", Value::from(k.as_str()))).collect();
    format!("{{{}}}", body.join(","))
}

/// What a test does to an event's entries before reading them.
#[derive(Clone, Debug)]
enum Edit {
    None,
    /// An unknown field, and a field another kind has (with a value of the wrong type for it).
    Extra(usize, usize),
    Drop(usize),
    Duplicate(usize),
    /// A string where the value was.
    Mistype(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => Just(Edit::None),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Extra(a, b)),
        1 => any::<usize>().prop_map(Edit::Drop),
        1 => any::<usize>().prop_map(Edit::Duplicate),
        1 => any::<usize>().prop_map(Edit::Mistype),
    ]
}

fn apply(entries: &mut Vec<(String, Value)>, edit: &Edit) {
    let n = entries.len();
    match *edit {
        Edit::None => {}
        Edit::Extra(a, b) => {
            entries.insert(a % (n + 1), ("x_unknown".into(), serde_json::json!({"deep": [1, "two", null]})));
            let foreign = ["fd", "ns", "role", "from", "bytes", "counters", "ready", "model", "relay"][b % 9];
            if !entries.iter().any(|(k, _)| k == foreign) {
                entries.insert(b % (n + 2), (foreign.into(), Value::from("not this kind's")));
            }
        }
        Edit::Drop(i) => drop(entries.remove(i % n)),
        Edit::Duplicate(i) => entries.push(entries[i % n].clone()),
        Edit::Mistype(i) => entries[i % n].1 = Value::from("mistyped"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Written as muxscope writes it, in any key order, edited: both readers agree.
    #[test]
    fn reads_what_the_derived_impl_reads(body in body(), seq: u64, ts_ns: u64, order in any::<prop::sample::Index>(), edit in edit()) {
        let e = Event { seq, ts_ns, body };
        let written = serde_json::to_string(&e).unwrap();
        prop_assert_eq!(mine(&written), Ok(e.clone()), "as written");
        let Value::Object(map) = serde_json::to_value(&e).unwrap() else { unreachable!() };
        let mut entries: Vec<(String, Value)> = map.into_iter().collect();
        // A rotation of the sorted keys: `kind` anywhere, before or after the body.
        let at = order.index(entries.len());
        entries.rotate_left(at);
        prop_assert_eq!(agree(&object(&entries)), Ok(e.clone()), "rotated");
        apply(&mut entries, &edit);
        agree(&object(&entries)).ok();
        // The same edit with `kind` first, the fast path.
        if let Some(i) = entries.iter().position(|(k, _)| k == "kind") {
            let kind = entries.remove(i);
            entries.insert(0, kind);
            agree(&object(&entries)).ok();
        }
    }

    /// A frame of events in any order reads as written.
    #[test]
    fn events_frames_read_in_any_key_order(bodies in prop::collection::vec(body(), 0..4), tag_last: bool) {
        let events: Vec<Event> = bodies.into_iter().enumerate().map(|(i, body)| Event { seq: i as u64, ts_ns: 7, body }).collect();
        let m = ServerMsg::Events { events };
        let json = serde_json::to_string(&m).unwrap();
        prop_assert_eq!(serde_json::from_str::<ServerMsg>(&json).unwrap(), m.clone());
        // Through a Value: every object's keys sorted (`events` before `type`, `kind` mid-body).
        let sorted = serde_json::to_value(&m).unwrap().to_string();
        let sorted = if tag_last { sorted } else { sorted.replacen(r#"{"events":"#, r#"{"type":"events","x":0,"events":"#, 1).replacen(r#","type":"events"}"#, "}", 1) };
        prop_assert_eq!(serde_json::from_str::<ServerMsg>(&sorted).unwrap(), m);
    }
}

#[test]
fn every_kind_is_made_and_named_as_the_reader_names_it() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen = [false; KIND_COUNT];
    for _ in 0..2000 {
        let b = body().new_tree(&mut runner).unwrap().current();
        seen[kind_index(&b)] = true;
        let json = serde_json::to_string(&Event { seq: 1, ts_ns: 2, body: b.clone() }).unwrap();
        assert!(json.starts_with(&format!(r#"{{"seq":1,"ts_ns":2,"kind":"{}""#, b.kind())), "{json}");
    }
    assert_eq!(seen, [true; KIND_COUNT], "body() makes every kind");
}

#[test]
fn unknown_kinds_missing_fields_and_odd_tags_fail_as_before() {
    for (json, says) in [
        (r#"{"seq":1,"ts_ns":2,"kind":"nope","fd":3}"#, "unknown variant `nope`"),
        (r#"{"seq":1,"ts_ns":2,"fd":3,"kind":"nope"}"#, "unknown variant `nope`"),
        (r#"{"seq":1,"ts_ns":2,"fd":3}"#, "missing field `kind`"),
        (r#"{"ts_ns":2,"fd":3}"#, "missing field `seq`"),
        (r#"{"seq":1,"kind":"sleep","ns":3}"#, "missing field `ts_ns`"),
        (r#"{"seq":1,"ts_ns":2,"kind":"sleep"}"#, "missing field `ns`"),
        (r#"{"seq":1,"ts_ns":2,"kind":"sleep","ns":1,"ns":2}"#, "duplicate field `ns`"),
        (r#"{"seq":1,"ts_ns":2,"kind":"recv","fd":1,"bytes":4294967296,"eof":false,"would_block":false,"lines":0}"#, "expected u32"),
        (r#"{"seq":1,"ts_ns":2,"kind":"sleep","ns":1,"kind":"sleep"}"#, ""),
        (r#"{"seq":1,"ts_ns":2,"kind":8,"ns":1}"#, ""),
        (r#"{"seq":1,"ts_ns":2,"kind":null,"ns":1}"#, ""),
        (r#"[1,2,{"kind":"sleep","ns":1}]"#, ""),
        (r#"{"seq":1,"ts_ns":2,"kind":"ctl","op":"add","fd":1,"role":"tcp","interest":null,"error":null}"#, ""),
    ] {
        if let Err(e) = agree(json) {
            assert!(e.contains(says), "{json}: {e}");
        }
    }
    // The events frame around them fails as a whole, as before.
    let frame = r#"{"type":"events","events":[{"seq":1,"ts_ns":2,"kind":"nope"}]}"#;
    assert!(serde_json::from_str::<ServerMsg>(frame).unwrap_err().to_string().contains("unknown variant `nope`"));
}
