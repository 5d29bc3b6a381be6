//! Events packed into bytes: the page's history and the recording file store them this way.
//!
//! A JSON event is 80–200 bytes and a cloned [`Event`] about as much on the heap; packed, a
//! typical one is 6–15 bytes. The encoding is a tag byte per event, then its fields as LEB128
//! varints (signed ones zigzagged), small enums as one byte, strings as a length and UTF-8.
//! `seq` and `ts_ns` are coded as differences from the previous event of the same [`Packer`]
//! (zigzagged: the gateway's gaps have seq 0), so a run of events costs a byte or two for them.
//! A packer's bytes decode on their own, from the start: that is the unit a history keeps
//! behind each keyframe and a recording writes as one chunk.
//!
//! | tag | kind | fields after `seq`, `ts` deltas |
//! |---|---|---|
//! | 0 | ctl | op, fd, interest (0 none, 1 r, 2 w, 3 rw), role, error? |
//! | 1 | wait | timeout_ms, registered, n, n × (fd, flags), ready_total, blocked_ns, scanned, rescan, overflow |
//! | 2 | accept | fd, peer, listener |
//! | 3 | recv | fd, bytes, flags (1 eof, 2 would_block), lines |
//! | 4 | send | fd, bytes, would_block, queued |
//! | 5 | broadcast | from, name, recipients, bytes, text |
//! | 6 | nick | fd, name, role |
//! | 7 | accept_eagain | listener |
//! | 8 | sleep | ns |
//! | 9 | thread | op, tid, fd, role |
//! | 10 | uring_enter | submitted, wait_nr, blocked_ns |
//! | 11 | handover | from, to |
//! | 12 | model | model, from? |
//! | 13 | close | fd, reason, detail? |
//! | 14 | gap | dropped, flags (1 folded, 2 resync, 4 counters), counters? (9 varints) |
//!
//! An optional field is a byte 0 (absent) or 1 followed by the value. Enums are their index in
//! the declaration order of their type (checked by a test that round-trips every variant); a
//! new variant is added at the end, so old bytes keep their meaning.

use crate::{Event, EventBody, Interest, Model};
use std::fmt;

mod unpack;
pub use unpack::Unpacker;

/// Appends events to a buffer, each coded against the one before.
#[derive(Clone, Debug, Default)]
pub struct Packer {
    buf: Vec<u8>,
    prev_seq: u64,
    prev_ts: u64,
    count: usize,
}

impl Packer {
    pub fn new() -> Packer {
        Packer::default()
    }

    pub fn push(&mut self, e: &Event) {
        let b = &mut self.buf;
        b.push(tag(&e.body));
        put_i(b, e.seq.wrapping_sub(self.prev_seq) as i64);
        put_i(b, e.ts_ns.wrapping_sub(self.prev_ts) as i64);
        self.prev_seq = e.seq;
        self.prev_ts = e.ts_ns;
        self.count += 1;
        put_body(b, &e.body);
    }

    /// Events packed.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// Heap bytes held (the buffer's capacity).
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The buffer so far; the packer starts again empty, with a fresh delta base.
    pub fn take(&mut self) -> Vec<u8> {
        let out = std::mem::take(&mut self.buf);
        *self = Packer::default();
        out
    }

    /// Gives back spare capacity (a history segment that is complete).
    pub fn shrink(&mut self) {
        self.buf.shrink_to_fit();
    }
}

/// Why bytes do not decode as packed events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackError {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "packed events are corrupt at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for PackError {}

/// Packs `events` into one buffer (a fresh delta base).
pub fn pack(events: &[Event]) -> Vec<u8> {
    let mut p = Packer::new();
    for e in events {
        p.push(e);
    }
    p.take()
}

/// Decodes a whole buffer.
pub fn unpack(data: &[u8]) -> Result<Vec<Event>, PackError> {
    Unpacker::new(data).collect()
}

fn tag(b: &EventBody) -> u8 {
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
        EventBody::Gap { .. } => 14,
        EventBody::Relay { .. } => 15,
    }
}

fn put_body(b: &mut Vec<u8>, body: &EventBody) {
    match body {
        EventBody::Ctl { op, fd, interest, role, error } => {
            b.push(*op as u8);
            put_i(b, *fd as i64);
            b.push(match interest {
                None => 0,
                Some(Interest::Read) => 1,
                Some(Interest::Write) => 2,
                Some(Interest::ReadWrite) => 3,
            });
            b.push(*role as u8);
            put_opt_str(b, error.as_deref());
        }
        EventBody::Wait { timeout_ms, registered, ready, ready_total, blocked_ns, scanned, rescan, overflow } => {
            put_i(b, *timeout_ms);
            put_u(b, *registered as u64);
            put_u(b, ready.len() as u64);
            for r in ready {
                put_i(b, r.fd as i64);
                b.push(r.flags.0);
            }
            put_u(b, *ready_total as u64);
            put_u(b, *blocked_ns);
            put_u(b, *scanned as u64);
            put_u(b, *rescan as u64);
            b.push(*overflow as u8);
        }
        EventBody::Accept { fd, peer, listener } => {
            put_i(b, *fd as i64);
            put_str(b, peer);
            put_i(b, *listener as i64);
        }
        EventBody::Recv { fd, bytes, eof, would_block, lines } => {
            put_i(b, *fd as i64);
            put_u(b, *bytes as u64);
            b.push(*eof as u8 | (*would_block as u8) << 1);
            put_u(b, *lines as u64);
        }
        EventBody::Send { fd, bytes, would_block, queued } => {
            put_i(b, *fd as i64);
            put_u(b, *bytes);
            b.push(*would_block as u8);
            put_u(b, *queued);
        }
        EventBody::Broadcast { from, name, recipients, bytes, text } => {
            put_i(b, *from as i64);
            put_str(b, name);
            put_u(b, *recipients as u64);
            put_u(b, *bytes as u64);
            put_str(b, text);
        }
        EventBody::Nick { fd, name, role } => {
            put_i(b, *fd as i64);
            put_str(b, name);
            b.push(*role as u8);
        }
        EventBody::AcceptEagain { listener } => put_i(b, *listener as i64),
        EventBody::Sleep { ns } => put_u(b, *ns),
        EventBody::Thread { op, tid, fd, role } => {
            b.push(*op as u8);
            put_i(b, *tid as i64);
            put_i(b, *fd as i64);
            b.push(*role as u8);
        }
        EventBody::UringEnter { submitted, wait_nr, blocked_ns } => {
            put_u(b, *submitted as u64);
            put_u(b, *wait_nr as u64);
            put_u(b, *blocked_ns);
        }
        EventBody::Handover { from, to } => {
            b.push(model_index(*from));
            b.push(model_index(*to));
        }
        EventBody::Model { model, from } => {
            b.push(model_index(*model));
            match from {
                None => b.push(0),
                Some(m) => {
                    b.push(1);
                    b.push(model_index(*m));
                }
            }
        }
        EventBody::Close { fd, reason, detail } => {
            put_i(b, *fd as i64);
            b.push(*reason as u8);
            put_opt_str(b, detail.as_deref());
        }
        // Rare (a link change, a node coming or going): JSON keeps it simple.
        EventBody::Relay { relay } => put_str(b, &serde_json::to_string(relay).expect("plain data")),
        EventBody::Gap { dropped, folded, resync, counters } => {
            put_u(b, *dropped);
            b.push(*folded as u8 | (*resync as u8) << 1 | (counters.is_some() as u8) << 2);
            if let Some(c) = counters {
                for v in [c.wakeups, c.accepted, c.closed, c.messages, c.deliveries, c.recv_bytes, c.sent_bytes, c.dropped_events, c.eagain]
                {
                    put_u(b, v);
                }
            }
        }
    }
}

fn model_index(m: Model) -> u8 {
    Model::ALL.iter().position(|x| *x == m).expect("every model is in Model::ALL") as u8
}

fn put_u(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push(v as u8 | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

fn put_i(b: &mut Vec<u8>, v: i64) {
    put_u(b, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    put_u(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

fn put_opt_str(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => b.push(0),
        Some(s) => {
            b.push(1);
            put_str(b, s);
        }
    }
}

#[cfg(test)]
mod tests;
