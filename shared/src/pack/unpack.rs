//! Packed bytes back into events (see the module above for the encoding).

use super::PackError;
use crate::{CloseReason, Counters, CtlOp, Event, EventBody, Interest, Model, ReadyFd, ReadyFlags, Role, ThreadOp, ThreadRole};

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

fn get_body(r: &mut Reader, tag: u8) -> Result<EventBody, PackError> {
    Ok(match tag {
        0 => EventBody::Ctl {
            op: r.pick(&CtlOp::ALL, "ctl op")?,
            fd: r.i32()?,
            interest: match r.u8()? {
                0 => None,
                1 => Some(Interest::Read),
                2 => Some(Interest::Write),
                3 => Some(Interest::ReadWrite),
                _ => return Err(r.err("interest")),
            },
            role: r.pick(&Role::ALL, "role")?,
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
        6 => EventBody::Nick { fd: r.i32()?, name: r.str()?, role: r.pick(&Role::ALL, "role")? },
        7 => EventBody::AcceptEagain { listener: r.i32()? },
        8 => EventBody::Sleep { ns: r.u()? },
        9 => EventBody::Thread {
            op: r.pick(&ThreadOp::ALL, "thread op")?,
            tid: r.i32()?,
            fd: r.i32()?,
            role: r.pick(&ThreadRole::ALL, "thread role")?,
        },
        10 => EventBody::UringEnter { submitted: r.u32()?, wait_nr: r.u32()?, blocked_ns: r.u()? },
        11 => EventBody::Handover { from: r.pick(&Model::ALL, "model")?, to: r.pick(&Model::ALL, "model")? },
        12 => {
            let model = r.pick(&Model::ALL, "model")?;
            let from = if r.bool()? { Some(r.pick(&Model::ALL, "model")?) } else { None };
            EventBody::Model { model, from }
        }
        13 => EventBody::Close { fd: r.i32()?, reason: r.pick(&CloseReason::ALL, "close reason")?, detail: r.opt_str()? },
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
        15 => EventBody::Relay { relay: serde_json::from_str(&r.str()?).map_err(|_| r.err("bad relay status"))? },
        _ => return Err(r.err("unknown event tag")),
    })
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
