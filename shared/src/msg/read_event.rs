//! Reading one [`Event`] of a `/ws/events` frame without serde's buffering.
//!
//! `Event`'s derived `Deserialize` (a `#[serde(flatten)]` body, internally tagged by `kind`)
//! first copies every field into serde's private `Content` tree and then reads each variant
//! out of it: a second copy of every variant's reader, about 18 KiB of the page's gzipped
//! wasm. [`EventSeed`] reads the same JSON straight into the variant's fields once `kind` is
//! known, which is how muxscope writes it (`seq`, `ts_ns`, `kind`, then the body). An object
//! with a body field before `kind` (another writer, a JSON tool) is gathered as
//! `serde_json::Value`s, written back with `kind` first and read again: slower, same result.
//!
//! What it accepts is what the derived impl accepts (tests in `super::tests` compare the two on
//! every kind, in shuffled key orders, with unknown and foreign fields): unknown fields are
//! ignored, a field of another kind is ignored, an unknown `kind` or a missing field is an
//! error, `null` is `None` for the optional fields.

use super::body::{slot, Fields};
use crate::Event;
use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// The kinds, in `EventBody`'s order (the derived impl lists them so in its errors).
const KINDS: &[&str] = &[
    "ctl",
    "wait",
    "accept",
    "recv",
    "send",
    "broadcast",
    "nick",
    "accept_eagain",
    "sleep",
    "thread",
    "uring_enter",
    "handover",
    "model",
    "close",
    "relay",
    "gap",
];

#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Kind {
    Ctl,
    Wait,
    Accept,
    Recv,
    Send,
    Broadcast,
    Nick,
    AcceptEagain,
    Sleep,
    Thread,
    UringEnter,
    Handover,
    Model,
    Close,
    Relay,
    Gap,
}

const KIND_OF: [Kind; 16] = [
    Kind::Ctl,
    Kind::Wait,
    Kind::Accept,
    Kind::Recv,
    Kind::Send,
    Kind::Broadcast,
    Kind::Nick,
    Kind::AcceptEagain,
    Kind::Sleep,
    Kind::Thread,
    Kind::UringEnter,
    Kind::Handover,
    Kind::Model,
    Kind::Close,
    Kind::Relay,
    Kind::Gap,
];

/// Every field name any kind uses (and `seq`, `ts_ns`, `kind`), in [`Key`]'s order.
pub(super) const FIELDS: &[&str] = &[
    "seq",
    "ts_ns",
    "kind",
    "op",
    "fd",
    "interest",
    "role",
    "error",
    "timeout_ms",
    "registered",
    "ready",
    "ready_total",
    "blocked_ns",
    "scanned",
    "rescan",
    "overflow",
    "peer",
    "listener",
    "bytes",
    "eof",
    "would_block",
    "lines",
    "queued",
    "from",
    "name",
    "recipients",
    "text",
    "ns",
    "tid",
    "submitted",
    "wait_nr",
    "to",
    "model",
    "reason",
    "detail",
    "dropped",
    "folded",
    "resync",
    "counters",
    "relay",
];

#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Key {
    Seq,
    TsNs,
    Kind,
    Op,
    Fd,
    Interest,
    Role,
    Error,
    TimeoutMs,
    Registered,
    Ready,
    ReadyTotal,
    BlockedNs,
    Scanned,
    Rescan,
    Overflow,
    Peer,
    Listener,
    Bytes,
    Eof,
    WouldBlock,
    Lines,
    Queued,
    From,
    Name,
    Recipients,
    Text,
    Ns,
    Tid,
    Submitted,
    WaitNr,
    To,
    Model,
    Reason,
    Detail,
    Dropped,
    Folded,
    Resync,
    Counters,
    Relay,
    /// Not a field of any kind: ignored.
    Other,
}

const KEY_OF: [Key; 40] = {
    use Key::*;
    [
        Seq, TsNs, Kind, Op, Fd, Interest, Role, Error, TimeoutMs, Registered, Ready, ReadyTotal, BlockedNs, Scanned, Rescan, Overflow,
        Peer, Listener, Bytes, Eof, WouldBlock, Lines, Queued, From, Name, Recipients, Text, Ns, Tid, Submitted, WaitNr, To, Model, Reason,
        Detail, Dropped, Folded, Resync, Counters, Relay,
    ]
};

/// A string (or, as serde reads a buffered tag, a variant index) out of a fixed list.
struct Pick(&'static [&'static str]);

impl<'de> Visitor<'de> for Pick {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field or kind name")
    }

    fn visit_str<E: Error>(self, s: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|n| *n == s))
    }

    fn visit_u64<E: Error>(self, i: u64) -> Result<Option<usize>, E> {
        Ok(usize::try_from(i).ok().filter(|&i| i < self.0.len()))
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        Ok(d.deserialize_identifier(Pick(FIELDS))?.map_or(Key::Other, |i| KEY_OF[i]))
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        struct K;
        impl<'de> Visitor<'de> for K {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("variant identifier")
            }
            fn visit_str<E: Error>(self, s: &str) -> Result<Kind, E> {
                Pick(KINDS).visit_str(s)?.map(|i| KIND_OF[i]).ok_or_else(|| E::unknown_variant(s, KINDS))
            }
            fn visit_u64<E: Error>(self, i: u64) -> Result<Kind, E> {
                Pick(KINDS)
                    .visit_u64(i)?
                    .map(|i| KIND_OF[i])
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Unsigned(i), &"variant index 0 <= i < 16"))
            }
        }
        // Any: as the derived impl reads a buffered tag, a variant's index names it too.
        d.deserialize_any(K)
    }
}

/// Reads one event (see the module docs); the page's `ServerMsg` reader uses it for `events`.
pub(super) struct EventSeed;

impl<'de> DeserializeSeed<'de> for EventSeed {
    type Value = Event;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Event, D::Error> {
        d.deserialize_map(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct Event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let (mut seq, mut ts_ns, mut kind) = (None, None, None);
        let mut body = Fields::default();
        while let Some(key) = map.next_key::<Key>()? {
            match (key, kind) {
                (Key::Seq, _) => slot(&mut map, &mut seq, "seq")?,
                (Key::TsNs, _) => slot(&mut map, &mut ts_ns, "ts_ns")?,
                (Key::Kind, _) => slot(&mut map, &mut kind, "kind")?,
                (key, Some(kind)) => body.read(kind, key, &mut map)?,
                (Key::Other, None) => drop(map.next_value::<IgnoredAny>()?),
                (key, None) => return super::reorder::event(map, seq, ts_ns, FIELDS[key as usize]),
            }
        }
        let seq = seq.ok_or_else(|| A::Error::missing_field("seq"))?;
        let ts_ns = ts_ns.ok_or_else(|| A::Error::missing_field("ts_ns"))?;
        let kind = kind.ok_or_else(|| A::Error::missing_field("kind"))?;
        Ok(Event { seq, ts_ns, body: body.build(kind)? })
    }
}
