//! An event's body as [`super::read_event`] reads it: one slot per field, filled as the
//! fields arrive once `kind` is known, then checked and built into the kind's variant.

use super::read_event::{Key, Kind, FIELDS};
use crate::{CloseReason, Counters, CtlOp, EventBody, Interest, Model, ReadyFd, RelayStatus, Role, ThreadOp, ThreadRole};
use serde::de::{Error, IgnoredAny, MapAccess};
use serde::Deserialize;

/// Reads a field's value, once.
pub(super) fn slot<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(A::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

fn need<T, E: Error>(v: Option<T>, name: &'static str) -> Result<T, E> {
    v.ok_or_else(|| E::missing_field(name))
}

/// The body's fields as they arrive; a name some kinds give different types has one slot per
/// type (`op`, `role`, `bytes`, `from`). `Option<Option<_>>`: an optional field seen or not.
#[derive(Default)]
pub(super) struct Fields {
    ctl_op: Option<CtlOp>,
    thread_op: Option<ThreadOp>,
    fd: Option<i32>,
    interest: Option<Option<Interest>>,
    role: Option<Role>,
    thread_role: Option<ThreadRole>,
    error: Option<Option<String>>,
    timeout_ms: Option<i64>,
    registered: Option<u32>,
    ready: Option<Vec<ReadyFd>>,
    ready_total: Option<u32>,
    blocked_ns: Option<u64>,
    scanned: Option<u32>,
    rescan: Option<u32>,
    overflow: Option<bool>,
    peer: Option<String>,
    listener: Option<i32>,
    bytes32: Option<u32>,
    bytes64: Option<u64>,
    eof: Option<bool>,
    would_block: Option<bool>,
    lines: Option<u32>,
    queued: Option<u64>,
    from_fd: Option<i32>,
    from_model: Option<Model>,
    model_from: Option<Option<Model>>,
    name: Option<String>,
    recipients: Option<u32>,
    text: Option<String>,
    ns: Option<u64>,
    tid: Option<i32>,
    submitted: Option<u32>,
    wait_nr: Option<u32>,
    to: Option<Model>,
    model: Option<Model>,
    reason: Option<CloseReason>,
    detail: Option<Option<String>>,
    dropped: Option<u64>,
    folded: Option<bool>,
    resync: Option<bool>,
    counters: Option<Option<Counters>>,
    relay: Option<Box<RelayStatus>>,
}

impl Fields {
    /// Reads `key`'s value into its slot if `kind` has such a field, else skips it.
    pub(super) fn read<'de, A: MapAccess<'de>>(&mut self, kind: Kind, key: Key, map: &mut A) -> Result<(), A::Error> {
        use Kind as K;
        let name = FIELDS.get(key as usize).copied().unwrap_or_default();
        match (kind, key) {
            (K::Ctl, Key::Op) => slot(map, &mut self.ctl_op, name),
            (K::Thread, Key::Op) => slot(map, &mut self.thread_op, name),
            (K::Ctl | K::Accept | K::Recv | K::Send | K::Nick | K::Thread | K::Close, Key::Fd) => slot(map, &mut self.fd, name),
            (K::Ctl, Key::Interest) => slot(map, &mut self.interest, name),
            (K::Ctl | K::Nick, Key::Role) => slot(map, &mut self.role, name),
            (K::Thread, Key::Role) => slot(map, &mut self.thread_role, name),
            (K::Ctl, Key::Error) => slot(map, &mut self.error, name),
            (K::Wait, Key::TimeoutMs) => slot(map, &mut self.timeout_ms, name),
            (K::Wait, Key::Registered) => slot(map, &mut self.registered, name),
            (K::Wait, Key::Ready) => slot(map, &mut self.ready, name),
            (K::Wait, Key::ReadyTotal) => slot(map, &mut self.ready_total, name),
            (K::Wait | K::UringEnter, Key::BlockedNs) => slot(map, &mut self.blocked_ns, name),
            (K::Wait, Key::Scanned) => slot(map, &mut self.scanned, name),
            (K::Wait, Key::Rescan) => slot(map, &mut self.rescan, name),
            (K::Wait, Key::Overflow) => slot(map, &mut self.overflow, name),
            (K::Accept, Key::Peer) => slot(map, &mut self.peer, name),
            (K::Accept | K::AcceptEagain, Key::Listener) => slot(map, &mut self.listener, name),
            (K::Recv | K::Broadcast, Key::Bytes) => slot(map, &mut self.bytes32, name),
            (K::Send, Key::Bytes) => slot(map, &mut self.bytes64, name),
            (K::Recv, Key::Eof) => slot(map, &mut self.eof, name),
            (K::Recv | K::Send, Key::WouldBlock) => slot(map, &mut self.would_block, name),
            (K::Recv, Key::Lines) => slot(map, &mut self.lines, name),
            (K::Send, Key::Queued) => slot(map, &mut self.queued, name),
            (K::Broadcast, Key::From) => slot(map, &mut self.from_fd, name),
            (K::Handover, Key::From) => slot(map, &mut self.from_model, name),
            (K::Model, Key::From) => slot(map, &mut self.model_from, name),
            (K::Broadcast | K::Nick, Key::Name) => slot(map, &mut self.name, name),
            (K::Broadcast, Key::Recipients) => slot(map, &mut self.recipients, name),
            (K::Broadcast, Key::Text) => slot(map, &mut self.text, name),
            (K::Sleep, Key::Ns) => slot(map, &mut self.ns, name),
            (K::Thread, Key::Tid) => slot(map, &mut self.tid, name),
            (K::UringEnter, Key::Submitted) => slot(map, &mut self.submitted, name),
            (K::UringEnter, Key::WaitNr) => slot(map, &mut self.wait_nr, name),
            (K::Handover, Key::To) => slot(map, &mut self.to, name),
            (K::Model, Key::Model) => slot(map, &mut self.model, name),
            (K::Close, Key::Reason) => slot(map, &mut self.reason, name),
            (K::Close, Key::Detail) => slot(map, &mut self.detail, name),
            (K::Gap, Key::Dropped) => slot(map, &mut self.dropped, name),
            (K::Gap, Key::Folded) => slot(map, &mut self.folded, name),
            (K::Gap, Key::Resync) => slot(map, &mut self.resync, name),
            (K::Gap, Key::Counters) => slot(map, &mut self.counters, name),
            (K::Relay, Key::Relay) => slot(map, &mut self.relay, name),
            _ => map.next_value::<IgnoredAny>().map(drop),
        }
    }

    /// The body, its fields checked in declaration order (the first missing one is named).
    pub(super) fn build<E: Error>(self, kind: Kind) -> Result<EventBody, E> {
        let f = self;
        Ok(match kind {
            Kind::Ctl => EventBody::Ctl {
                op: need(f.ctl_op, "op")?,
                fd: need(f.fd, "fd")?,
                interest: f.interest.flatten(),
                role: need(f.role, "role")?,
                error: f.error.flatten(),
            },
            Kind::Wait => EventBody::Wait {
                timeout_ms: need(f.timeout_ms, "timeout_ms")?,
                registered: need(f.registered, "registered")?,
                ready: need(f.ready, "ready")?,
                ready_total: need(f.ready_total, "ready_total")?,
                blocked_ns: need(f.blocked_ns, "blocked_ns")?,
                scanned: need(f.scanned, "scanned")?,
                rescan: f.rescan.unwrap_or(0),
                overflow: f.overflow.unwrap_or(false),
            },
            Kind::Accept => {
                EventBody::Accept { fd: need(f.fd, "fd")?, peer: need(f.peer, "peer")?, listener: need(f.listener, "listener")? }
            }
            Kind::Recv => EventBody::Recv {
                fd: need(f.fd, "fd")?,
                bytes: need(f.bytes32, "bytes")?,
                eof: need(f.eof, "eof")?,
                would_block: need(f.would_block, "would_block")?,
                lines: need(f.lines, "lines")?,
            },
            Kind::Send => EventBody::Send {
                fd: need(f.fd, "fd")?,
                bytes: need(f.bytes64, "bytes")?,
                would_block: need(f.would_block, "would_block")?,
                queued: need(f.queued, "queued")?,
            },
            Kind::Broadcast => EventBody::Broadcast {
                from: need(f.from_fd, "from")?,
                name: need(f.name, "name")?,
                recipients: need(f.recipients, "recipients")?,
                bytes: need(f.bytes32, "bytes")?,
                text: need(f.text, "text")?,
            },
            Kind::Nick => EventBody::Nick { fd: need(f.fd, "fd")?, name: need(f.name, "name")?, role: need(f.role, "role")? },
            Kind::AcceptEagain => EventBody::AcceptEagain { listener: need(f.listener, "listener")? },
            Kind::Sleep => EventBody::Sleep { ns: need(f.ns, "ns")? },
            Kind::Thread => EventBody::Thread {
                op: need(f.thread_op, "op")?,
                tid: need(f.tid, "tid")?,
                fd: need(f.fd, "fd")?,
                role: need(f.thread_role, "role")?,
            },
            Kind::UringEnter => EventBody::UringEnter {
                submitted: need(f.submitted, "submitted")?,
                wait_nr: need(f.wait_nr, "wait_nr")?,
                blocked_ns: need(f.blocked_ns, "blocked_ns")?,
            },
            Kind::Handover => EventBody::Handover { from: need(f.from_model, "from")?, to: need(f.to, "to")? },
            Kind::Model => EventBody::Model { model: need(f.model, "model")?, from: f.model_from.flatten() },
            Kind::Close => EventBody::Close { fd: need(f.fd, "fd")?, reason: need(f.reason, "reason")?, detail: f.detail.flatten() },
            Kind::Relay => EventBody::Relay { relay: need(f.relay, "relay")? },
            Kind::Gap => EventBody::Gap {
                dropped: need(f.dropped, "dropped")?,
                folded: f.folded.unwrap_or(false),
                resync: f.resync.unwrap_or(false),
                counters: f.counters.flatten(),
            },
        })
    }
}
