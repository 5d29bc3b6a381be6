//! The present state of the loop, and how events move it forward.

use crate::map_struct::map_struct_deserialize;
use crate::{CtlOp, Event, EventBody, Interest, Model, RelayStatus, Role, ThreadOp, ThreadRole, PROTOCOL_VERSION};
use serde::Serialize;

/// One registered fd as a snapshot sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FdInfo {
    pub fd: i32,
    pub role: Role,
    pub interest: Interest,
    /// Nick if set, else `ip:port` for clients, the address for the listener.
    pub name: String,
    /// Bytes waiting in the output queue.
    #[serde(default)]
    pub pending_out: u64,
}

/// One thread of the blocking model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ThreadInfo {
    pub tid: i32,
    pub fd: i32,
    pub role: ThreadRole,
}

/// Totals since the core started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub wakeups: u64,
    pub accepted: u64,
    pub closed: u64,
    pub messages: u64,
    pub deliveries: u64,
    pub recv_bytes: u64,
    pub sent_bytes: u64,
    /// Telemetry events the core could not queue (no consumer kept up).
    pub dropped_events: u64,
    /// Calls that found nothing to do (EAGAIN): recv, send and accept.
    #[serde(default)]
    pub eagain: u64,
}

/// The present state of the loop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub version: u32,
    /// `epoll`, `epoll-et`, `poll` or `select`; for the other models, the model's name.
    pub poller: String,
    /// The IO model serving the chat (absent only before the first snapshot).
    #[serde(default)]
    pub model: Option<Model>,
    pub chat_addr: String,
    pub fds: Vec<FdInfo>,
    /// A model switch is under way (between `handover` and `model`): the old table's `ctl del`s
    /// and the new one's `ctl add`s move no connection out of the picture.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub handover: bool,
    /// (blocking model) The threads serving connections, by tid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<ThreadInfo>,
    /// (cluster) The relay's link to Redis and the nodes it hears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<Box<RelayStatus>>,
    pub counters: Counters,
    /// Events after this snapshot have `seq > seq`.
    pub seq: u64,
    pub ts_ns: u64,
}

// Read by `crate::map_struct` (a map only; the same fields, defaults and errors as a derive).
map_struct_deserialize!(FdInfo { fd, role, interest, name, pending_out: default });
map_struct_deserialize!(ThreadInfo { tid, fd, role });
map_struct_deserialize!(Counters {
    wakeups,
    accepted,
    closed,
    messages,
    deliveries,
    recv_bytes,
    sent_bytes,
    dropped_events,
    eagain: default,
});
map_struct_deserialize!(Snapshot {
    version,
    poller,
    model: default,
    chat_addr,
    fds,
    handover: default,
    threads: default,
    relay: default,
    counters,
    seq,
    ts_ns,
});

impl Snapshot {
    /// An empty picture, before the first snapshot arrives.
    pub fn empty() -> Snapshot {
        Snapshot {
            version: PROTOCOL_VERSION,
            poller: String::new(),
            model: None,
            chat_addr: String::new(),
            fds: Vec::new(),
            handover: false,
            threads: Vec::new(),
            relay: None,
            counters: Counters::default(),
            seq: 0,
            ts_ns: 0,
        }
    }

    pub fn fd(&self, fd: i32) -> Option<&FdInfo> {
        self.fds.binary_search_by_key(&fd, |f| f.fd).ok().map(|i| &self.fds[i])
    }

    fn fd_mut(&mut self, fd: i32) -> Option<&mut FdInfo> {
        self.fds.binary_search_by_key(&fd, |f| f.fd).ok().map(|i| &mut self.fds[i])
    }

    fn upsert(&mut self, info: FdInfo) {
        match self.fds.binary_search_by_key(&info.fd, |f| f.fd) {
            Ok(i) => self.fds[i] = info,
            Err(i) => self.fds.insert(i, info),
        }
    }

    fn remove(&mut self, fd: i32) {
        if let Ok(i) = self.fds.binary_search_by_key(&fd, |f| f.fd) {
            self.fds.remove(i);
        }
    }

    /// Whether `body`, applied to this picture, would change its fd table: what
    /// [`EventBody::changes_table`] says, and also a flush that emptied a queue this picture
    /// shows as owed (its `pending_out` goes back to 0).
    pub fn changed_by(&self, body: &EventBody) -> bool {
        match body {
            EventBody::Send { fd, queued: 0, .. } => self.fd(*fd).is_some_and(|f| f.pending_out > 0),
            other => other.changes_table(),
        }
    }

    /// Moves the picture forward by one event: the same events always give the same picture.
    /// Events at or before `seq` are already in it and are ignored; a `gap` is always counted.
    pub fn apply(&mut self, e: &Event) {
        if let EventBody::Gap { dropped, folded, counters, .. } = &e.body {
            if !folded {
                self.counters.dropped_events += dropped;
            }
            // Totals after the missing events (unless the picture is already past them); drops
            // keep their own, larger, count.
            if let Some(c) = counters.as_ref().filter(|_| e.seq == 0 || e.seq > self.seq) {
                let dropped_events = self.counters.dropped_events.max(c.dropped_events);
                self.counters = Counters { dropped_events, ..c.clone() };
            }
        }
        if e.seq <= self.seq {
            return;
        }
        self.seq = e.seq;
        self.ts_ns = e.ts_ns;
        let c = &mut self.counters;
        match &e.body {
            EventBody::Ctl { op, fd, interest, role, error } => {
                if error.is_some() {
                    if *op == CtlOp::Add {
                        self.remove(*fd);
                    }
                    return;
                }
                match (op, interest) {
                    (CtlOp::Add, Some(interest)) => {
                        let (name, pending_out) = match self.fd(*fd) {
                            // Handed over: the same connection, with its output still owed.
                            Some(f) if self.handover => (f.name.clone(), f.pending_out),
                            Some(f) => (f.name.clone(), 0),
                            None if *role == Role::Listener => (self.chat_addr.clone(), 0),
                            None if *role == Role::Relay => {
                                (self.relay.as_ref().map_or_else(|| format!("fd {fd}"), |r| r.redis.clone()), 0)
                            }
                            None => (format!("fd {fd}"), 0),
                        };
                        let role = match self.fd(*fd) {
                            // A browser user stays one (the table knows only that it is a client).
                            Some(f) if self.handover => f.role,
                            _ => *role,
                        };
                        self.upsert(FdInfo { fd: *fd, role, interest: *interest, name, pending_out });
                    }
                    (CtlOp::Mod, Some(interest)) => {
                        if let Some(f) = self.fd_mut(*fd) {
                            f.interest = *interest;
                        }
                    }
                    // The old model's table torn down: the connection stays.
                    (CtlOp::Del, _) if self.handover => {}
                    (CtlOp::Del, _) => self.remove(*fd),
                    _ => {}
                }
            }
            EventBody::Wait { .. } => c.wakeups += 1,
            EventBody::Accept { fd, peer, .. } => {
                c.accepted += 1;
                // Registered by the ctl add that follows; named now.
                self.upsert(FdInfo { fd: *fd, role: Role::Tcp, interest: Interest::Read, name: peer.clone(), pending_out: 0 });
            }
            EventBody::Recv { bytes, would_block, .. } => {
                c.recv_bytes += *bytes as u64;
                c.eagain += *would_block as u64;
            }
            EventBody::Send { fd, bytes, queued, would_block } => {
                c.sent_bytes += bytes;
                c.eagain += *would_block as u64;
                if let Some(f) = self.fd_mut(*fd) {
                    f.pending_out = *queued;
                }
            }
            EventBody::Broadcast { recipients, .. } => {
                c.messages += 1;
                c.deliveries += *recipients as u64;
            }
            EventBody::Nick { fd, name, role } => {
                if let Some(f) = self.fd_mut(*fd) {
                    f.name = name.clone();
                    f.role = *role;
                }
            }
            EventBody::Close { fd, .. } => {
                c.closed += 1;
                self.remove(*fd);
            }
            EventBody::Model { model, .. } => {
                self.handover = false;
                self.model = Some(*model);
                self.poller = model.name().to_string();
            }
            EventBody::Thread { op, tid, fd, role } => {
                let at = self.threads.binary_search_by_key(tid, |t| t.tid);
                match (op, at) {
                    (ThreadOp::Spawn, Ok(i)) => self.threads[i] = ThreadInfo { tid: *tid, fd: *fd, role: *role },
                    (ThreadOp::Spawn, Err(i)) => self.threads.insert(i, ThreadInfo { tid: *tid, fd: *fd, role: *role }),
                    (ThreadOp::Exit, Ok(i)) => {
                        self.threads.remove(i);
                    }
                    (ThreadOp::Exit, Err(_)) => {}
                }
            }
            EventBody::AcceptEagain { .. } => c.eagain += 1,
            EventBody::Handover { .. } => self.handover = true,
            EventBody::Relay { relay } => {
                for f in self.fds.iter_mut().filter(|f| f.role == Role::Relay) {
                    f.name = relay.redis.clone();
                }
                self.relay = Some(relay.clone());
            }
            EventBody::Gap { .. } | EventBody::UringEnter { .. } | EventBody::Sleep { .. } => {}
        }
    }
}
