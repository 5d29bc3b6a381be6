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

use crate::{CloseReason, Counters, CtlOp, Event, EventBody, Interest, Model, ReadyFd, ReadyFlags, Role, ThreadOp, ThreadRole};
use std::fmt;

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

/// Decodes a [`Packer`]'s bytes, in order. Stops (returns `None`) after the first error.
pub struct Unpacker<'a> {
    r: Reader<'a>,
    prev_seq: u64,
    prev_ts: u64,
    failed: bool,
}

impl<'a> Unpacker<'a> {
    pub fn new(data: &'a [u8]) -> Unpacker<'a> {
        Unpacker { r: Reader { data, pos: 0 }, prev_seq: 0, prev_ts: 0, failed: false }
    }

    fn next_event(&mut self) -> Result<Event, PackError> {
        let r = &mut self.r;
        let t = r.u8()?;
        let seq = self.prev_seq.wrapping_add(r.i()? as u64);
        let ts_ns = self.prev_ts.wrapping_add(r.i()? as u64);
        let body = get_body(r, t)?;
        self.prev_seq = seq;
        self.prev_ts = ts_ns;
        Ok(Event { seq, ts_ns, body })
    }
}

impl Iterator for Unpacker<'_> {
    type Item = Result<Event, PackError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.r.pos >= self.r.data.len() {
            return None;
        }
        let e = self.next_event();
        self.failed = e.is_err();
        Some(e)
    }
}

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

fn get_body(r: &mut Reader, tag: u8) -> Result<EventBody, PackError> {
    Ok(match tag {
        0 => EventBody::Ctl {
            op: r.pick(&[CtlOp::Add, CtlOp::Mod, CtlOp::Del], "ctl op")?,
            fd: r.i32()?,
            interest: match r.u8()? {
                0 => None,
                1 => Some(Interest::Read),
                2 => Some(Interest::Write),
                3 => Some(Interest::ReadWrite),
                _ => return Err(r.err("interest")),
            },
            role: r.pick(&ROLES, "role")?,
            error: r.opt_str()?,
        },
        1 => {
            let timeout_ms = r.i()?;
            let registered = r.u32()?;
            let n = r.u()? as usize;
            if n > crate::MAX_READY_IN_EVENT {
                return Err(r.err("ready list longer than MAX_READY_IN_EVENT"));
            }
            let mut ready = Vec::with_capacity(n);
            for _ in 0..n {
                ready.push(ReadyFd { fd: r.i32()?, flags: ReadyFlags(r.u8()?) });
            }
            EventBody::Wait {
                timeout_ms,
                registered,
                ready,
                ready_total: r.u32()?,
                blocked_ns: r.u()?,
                scanned: r.u32()?,
                rescan: r.u32()?,
                overflow: r.bool()?,
            }
        }
        2 => EventBody::Accept { fd: r.i32()?, peer: r.str()?, listener: r.i32()? },
        3 => {
            let fd = r.i32()?;
            let bytes = r.u32()?;
            let flags = r.u8()?;
            EventBody::Recv { fd, bytes, eof: flags & 1 != 0, would_block: flags & 2 != 0, lines: r.u32()? }
        }
        4 => EventBody::Send { fd: r.i32()?, bytes: r.u()?, would_block: r.bool()?, queued: r.u()? },
        5 => EventBody::Broadcast { from: r.i32()?, name: r.str()?, recipients: r.u32()?, bytes: r.u32()?, text: r.str()? },
        6 => EventBody::Nick { fd: r.i32()?, name: r.str()?, role: r.pick(&ROLES, "role")? },
        7 => EventBody::AcceptEagain { listener: r.i32()? },
        8 => EventBody::Sleep { ns: r.u()? },
        9 => EventBody::Thread {
            op: r.pick(&[ThreadOp::Spawn, ThreadOp::Exit], "thread op")?,
            tid: r.i32()?,
            fd: r.i32()?,
            role: r.pick(&[ThreadRole::Acceptor, ThreadRole::Reader, ThreadRole::Writer], "thread role")?,
        },
        10 => EventBody::UringEnter { submitted: r.u32()?, wait_nr: r.u32()?, blocked_ns: r.u()? },
        11 => EventBody::Handover { from: r.pick(&Model::ALL, "model")?, to: r.pick(&Model::ALL, "model")? },
        12 => {
            let model = r.pick(&Model::ALL, "model")?;
            let from = if r.bool()? { Some(r.pick(&Model::ALL, "model")?) } else { None };
            EventBody::Model { model, from }
        }
        13 => EventBody::Close { fd: r.i32()?, reason: r.pick(&REASONS, "close reason")?, detail: r.opt_str()? },
        14 => {
            let dropped = r.u()?;
            let flags = r.u8()?;
            let counters = if flags & 4 != 0 {
                Some(Counters {
                    wakeups: r.u()?,
                    accepted: r.u()?,
                    closed: r.u()?,
                    messages: r.u()?,
                    deliveries: r.u()?,
                    recv_bytes: r.u()?,
                    sent_bytes: r.u()?,
                    dropped_events: r.u()?,
                    eagain: r.u()?,
                })
            } else {
                None
            };
            EventBody::Gap { dropped, folded: flags & 1 != 0, resync: flags & 2 != 0, counters }
        }
        _ => return Err(r.err("unknown event tag")),
    })
}

const ROLES: [Role; 4] = [Role::Listener, Role::Tcp, Role::Web, Role::Waker];
const REASONS: [CloseReason; 12] = [
    CloseReason::Eof,
    CloseReason::Quit,
    CloseReason::Error,
    CloseReason::LineTooLong,
    CloseReason::LineTimeout,
    CloseReason::OutputHardLimit,
    CloseReason::OutputSoftLimit,
    CloseReason::SelectorLimit,
    CloseReason::MaxClients,
    CloseReason::PerIpLimit,
    CloseReason::FdExhausted,
    CloseReason::Shutdown,
];

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

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn err(&self, what: &'static str) -> PackError {
        PackError { offset: self.pos, what }
    }

    fn u8(&mut self) -> Result<u8, PackError> {
        let v = *self.data.get(self.pos).ok_or(self.err("ends inside an event"))?;
        self.pos += 1;
        Ok(v)
    }

    fn bool(&mut self) -> Result<bool, PackError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.err("a flag that is neither 0 nor 1")),
        }
    }

    fn u(&mut self) -> Result<u64, PackError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("a varint longer than 10 bytes"))
    }

    fn i(&mut self) -> Result<i64, PackError> {
        let z = self.u()?;
        Ok((z >> 1) as i64 ^ -((z & 1) as i64))
    }

    fn u32(&mut self) -> Result<u32, PackError> {
        u32::try_from(self.u()?).map_err(|_| self.err("a count past u32"))
    }

    fn i32(&mut self) -> Result<i32, PackError> {
        i32::try_from(self.i()?).map_err(|_| self.err("an fd past i32"))
    }

    fn str(&mut self) -> Result<String, PackError> {
        let n = self.u()? as usize;
        let end = self.pos.checked_add(n).filter(|e| *e <= self.data.len()).ok_or(self.err("a string past the end"))?;
        let s = std::str::from_utf8(&self.data[self.pos..end]).map_err(|_| self.err("a string that is not UTF-8"))?;
        self.pos = end;
        Ok(s.to_string())
    }

    fn opt_str(&mut self) -> Result<Option<String>, PackError> {
        Ok(if self.bool()? { Some(self.str()?) } else { None })
    }

    fn pick<T: Copy>(&mut self, all: &[T], what: &'static str) -> Result<T, PackError> {
        let i = self.u8()? as usize;
        all.get(i).copied().ok_or(self.err(what))
    }
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;
