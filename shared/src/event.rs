//! One step of the loop: the event vocabulary (see the crate docs for the table).

use crate::map_struct::map_struct_deserialize;
use crate::{Counters, Interest, Model, ReadyFlags, RelayStatus};
use serde::{Deserialize, Serialize};

/// What an fd is, for the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The listening socket: readable means "a connection waits in the backlog".
    Listener,
    /// A TCP chat client (nc, telnet, the seed's clients).
    Tcp,
    /// A browser user, bridged by the gateway over a real TCP connection.
    Web,
    /// The eventfd the gateway uses to wake the loop (the self-pipe trick).
    Waker,
    /// A bot: a real TCP client the gateway (or `muxscope bots`) runs, so a class has a room to
    /// watch. Last, so the packed codec's older indices keep their meaning.
    Bot,
    /// The cluster relay: this node's one connection to Redis (`--cluster`). Lines from other
    /// nodes arrive on it (phase one and two of IO like any client's), local lines leave on it.
    Relay,
}

impl Role {
    /// Every role in declaration order: a role's index here is its packed byte, so new roles
    /// go at the end (recordings keep their meaning).
    pub const ALL: [Role; 6] = [Role::Listener, Role::Tcp, Role::Web, Role::Waker, Role::Bot, Role::Relay];

    /// A chat client (a broadcast's recipient, counted as online), not the loop's own fds.
    pub fn is_client(self) -> bool {
        matches!(self, Role::Tcp | Role::Web | Role::Bot)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CtlOp {
    Add,
    Mod,
    Del,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadOp {
    Spawn,
    Exit,
}

/// What a thread of the blocking model does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadRole {
    /// Blocked in `accept` on the listener.
    Acceptor,
    /// Blocked in `recv` on its connection.
    Reader,
    /// Blocked in `send` to a connection that owes output.
    Writer,
}

/// Why an fd left the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The peer closed its side (recv returned 0).
    Eof,
    /// The client sent `quit`.
    Quit,
    /// recv/send failed (e.g. ECONNRESET).
    Error,
    /// A line longer than the limit.
    LineTooLong,
    /// No newline within the time limit.
    LineTimeout,
    /// The output queue passed the hard limit.
    OutputHardLimit,
    /// The output queue stayed over the soft limit for too long.
    OutputSoftLimit,
    /// The selector cannot watch this fd (select and FD_SETSIZE).
    SelectorLimit,
    /// `--max-clients` reached.
    MaxClients,
    /// `--max-clients-per-ip` reached for the client's address.
    PerIpLimit,
    /// The process ran out of fds (EMFILE): accepted only to say so.
    FdExhausted,
    /// The server is stopping.
    Shutdown,
}

// Every variant in declaration order (the packed codec's indices; the tests' lists). The
// wire's reader (`unit_enum.rs`) checks at compile time that each has as many as it names.
impl CtlOp {
    pub const ALL: [CtlOp; 3] = [CtlOp::Add, CtlOp::Mod, CtlOp::Del];
}

impl ThreadOp {
    pub const ALL: [ThreadOp; 2] = [ThreadOp::Spawn, ThreadOp::Exit];
}

impl ThreadRole {
    pub const ALL: [ThreadRole; 3] = [ThreadRole::Acceptor, ThreadRole::Reader, ThreadRole::Writer];
}

impl CloseReason {
    pub const ALL: [CloseReason; 12] = [
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
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReadyFd {
    pub fd: i32,
    pub flags: ReadyFlags,
}

// Read by `crate::map_struct` (a map only; the same fields and errors as a derive).
map_struct_deserialize!(ReadyFd { fd, flags });

/// One step of the loop. `kind` comes from the flattened body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub ts_ns: u64,
    #[serde(flatten)]
    pub body: EventBody,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// The interest list changed. `interest` is absent for `del`. `error` is set when the kernel
    /// (or select's FD_SETSIZE) refused.
    Ctl {
        op: CtlOp,
        fd: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interest: Option<Interest>,
        role: Role,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// One wakeup. `timeout_ms` is -1 for "block until something is ready". `ready` holds at
    /// most [`MAX_READY_IN_EVENT`] entries; `ready_total` is the full length of the ready list.
    /// `scanned` is how many fds the kernel had to look at: every registered one for poll and
    /// select (the linear scan), only the ready ones for epoll.
    Wait {
        timeout_ms: i64,
        registered: u32,
        ready: Vec<ReadyFd>,
        ready_total: u32,
        blocked_ns: u64,
        scanned: u32,
        /// (extension, sigio) How many ready entries the loop added itself, without a signal:
        /// fds just registered (a signal only comes for what happens *after* O_ASYNC is set),
        /// or every fd after the realtime-signal queue overflowed (the kernel then sends one
        /// plain SIGIO, and the loop rescans).
        #[serde(default, skip_serializing_if = "is_zero")]
        rescan: u32,
        /// (extension, sigio) The wakeup was the overflow's plain SIGIO.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        overflow: bool,
    },
    Accept {
        fd: i32,
        peer: String,
        listener: i32,
    },
    /// `bytes` copied into user space; `eof` when recv returned 0; `would_block` when it returned
    /// EAGAIN (the kernel had nothing more); `lines` complete lines found.
    Recv {
        fd: i32,
        bytes: u32,
        eof: bool,
        would_block: bool,
        lines: u32,
    },
    /// One flush of a client's output queue (one writev/sendmsg call).
    Send {
        fd: i32,
        bytes: u64,
        would_block: bool,
        queued: u64,
    },
    /// One line fanned out: `from` is the sender's fd, `recipients` how many queues got it.
    Broadcast {
        from: i32,
        name: String,
        recipients: u32,
        bytes: u32,
        text: String,
    },
    /// (extension) a client named itself with `/nick`; `role` tells a browser user (`web`)
    /// from a TCP one.
    Nick {
        fd: i32,
        name: String,
        role: Role,
    },
    /// (extension) accept found the backlog empty (EAGAIN): the call that ends each batch of
    /// accepts, and most of the non-blocking model's sweeps.
    AcceptEagain {
        listener: i32,
    },
    /// (extension, nonblocking) A sweep found nothing to do, so the loop slept `ns` nanoseconds
    /// (`clock_nanosleep`) before trying every socket again. Absent with `--spin`.
    Sleep {
        ns: u64,
    },
    /// (extension, blocking) A thread started (`clone3`) or ended (`exit`). Each connection has
    /// a reader thread, blocked in `recv` until its client talks; a writer thread joins it only
    /// while the client owes output the kernel would not take at once.
    Thread {
        op: ThreadOp,
        tid: i32,
        fd: i32,
        role: ThreadRole,
    },
    /// (extension, io_uring) One `io_uring_enter`: `submitted` queued operations handed to the
    /// kernel, waiting for at least `wait_nr` completions, blocked `blocked_ns`. Completions are
    /// told as the `accept`, `recv` and `send` they finish: the kernel did both phases of IO.
    UringEnter {
        submitted: u32,
        wait_nr: u32,
        blocked_ns: u64,
    },
    /// (extension) A model switch begins: the `ctl del`s that follow tear down `from`'s table,
    /// the `ctl add`s build `to`'s, and a `model` event ends it. No connection leaves.
    Handover {
        from: Model,
        to: Model,
    },
    /// (extension) The server now runs `model`: every connection was handed over from `from`
    /// with its name, partial line and queued output. The `ctl` events before it tore the old
    /// model's table down and built the new one.
    Model {
        model: Model,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<Model>,
    },
    Close {
        fd: i32,
        reason: CloseReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// (extension, cluster) The relay's link to Redis or the nodes it hears changed: the whole
    /// status, so one event redraws the cluster strip.
    Relay {
        relay: Box<RelayStatus>,
    },
    /// `dropped` events were not delivered to this consumer. `folded` (optional, default false):
    /// they were left out on purpose, only counted: by the loop, past the first few hundred of
    /// a flooded turn that leave the fd table alone (such a gap has a seq), or by the gateway,
    /// because they came faster than a browser can draw (seq 0). Only their description and
    /// animation are skipped. Optional extensions that keep the state exact without
    /// a snapshot per gap: `counters`, the totals after the missing events; `resync`, set when
    /// the missing events changed the fd table (a registration, name, role or output queue), so
    /// a fresh snapshot follows.
    Gap {
        dropped: u64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        folded: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        resync: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        counters: Option<Counters>,
    },
}

impl EventBody {
    /// A plain `gap`: `dropped` events lost, nothing else known.
    pub fn gap(dropped: u64) -> EventBody {
        EventBody::Gap { dropped, folded: false, resync: false, counters: None }
    }

    /// A `gap` for `dropped` events the gateway left out on purpose, with the totals after them.
    pub fn folded(dropped: u64, resync: bool, counters: Counters) -> EventBody {
        EventBody::Gap { dropped, folded: true, resync, counters: Some(counters) }
    }

    /// How many of the loop's events this one stands for: a gap, the events it left out; any
    /// other, itself.
    pub fn stands_for(&self) -> u64 {
        match self {
            EventBody::Gap { dropped, .. } => *dropped,
            _ => 1,
        }
    }

    /// Whether the event changes the fd table a snapshot holds (and not only counters): losing
    /// one makes the consumer's picture stale until the next snapshot. A `send` that emptied a
    /// queue shown as owed changes it too, which only the picture knows: see
    /// [`Snapshot::changed_by`].
    pub fn changes_table(&self) -> bool {
        match self {
            EventBody::Ctl { .. }
            | EventBody::Accept { .. }
            | EventBody::Nick { .. }
            | EventBody::Close { .. }
            | EventBody::Model { .. }
            | EventBody::Handover { .. }
            | EventBody::Thread { .. }
            | EventBody::Relay { .. } => true,
            EventBody::Send { queued, .. } => *queued > 0,
            // A gap that lost such events stands for them.
            EventBody::Gap { resync, .. } => *resync,
            EventBody::Wait { .. }
            | EventBody::Recv { .. }
            | EventBody::Broadcast { .. }
            | EventBody::AcceptEagain { .. }
            | EventBody::Sleep { .. }
            | EventBody::UringEnter { .. } => false,
        }
    }

    /// The JSON `kind` string.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Ctl { .. } => "ctl",
            EventBody::Wait { .. } => "wait",
            EventBody::Accept { .. } => "accept",
            EventBody::Recv { .. } => "recv",
            EventBody::Send { .. } => "send",
            EventBody::Broadcast { .. } => "broadcast",
            EventBody::Nick { .. } => "nick",
            EventBody::Close { .. } => "close",
            EventBody::AcceptEagain { .. } => "accept_eagain",
            EventBody::Sleep { .. } => "sleep",
            EventBody::Model { .. } => "model",
            EventBody::Handover { .. } => "handover",
            EventBody::Thread { .. } => "thread",
            EventBody::UringEnter { .. } => "uring_enter",
            EventBody::Relay { .. } => "relay",
            EventBody::Gap { .. } => "gap",
        }
    }
}

/// The ready list inside a `wait` event is cut to this length (the count stays exact).
pub const MAX_READY_IN_EVENT: usize = 256;

fn is_zero(n: &u32) -> bool {
    *n == 0
}
