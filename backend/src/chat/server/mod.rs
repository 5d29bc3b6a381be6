//! The event loop. One turn:
//!
//! 1. wait (epoll_wait / poll / select) — the loop sleeps until the kernel has something;
//! 2. walk the ready list: accept until EAGAIN, recv (phase two of IO: copy from the kernel),
//!    split lines, append each broadcast once to this turn's shared buffer;
//! 3. flush once, before sleeping again: every client gets everything it is owed this turn in one
//!    send; only what the kernel would not take is queued, and only then is write interest armed.
//!
//! Like Redis' `ae`, replies are never written from inside the broadcast, and like libuv an fd
//! closed mid-batch never sees the rest of that batch's events (the selector checks generations).

use super::framer::{sanitize, split_lines};
use super::outq::OutQueue;
use super::per_ip::PerIp;
use super::protocol::{self, Command};
use super::{Config, Control, SwitchRequest};
use crate::selector::{RegisterError, Selector};
use crate::sys;
use crate::telemetry::Telemetry;
use muxscope_shared::{App, CloseReason, Counters, EventBody, FdInfo, Interest, Model, ReadyFlags, Role, Snapshot, PROTOCOL_VERSION};
use socket2::{Domain, Socket, Type};
use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod accept;
mod blocking;
mod close;
mod read;
mod relay;
mod snapshot;
mod switch;
mod timers;
mod uring;
mod write;

pub use uring::probe as probe_uring;

/// The one read buffer all clients share: idle clients own no read memory.
const READ_BUF: usize = 64 << 10;
/// Bytes flushed to one client in one turn before the loop moves on.
const WRITE_BUDGET: usize = 4 << 20;
/// How long a client that is being closed gets to take its last line.
const CLOSING_GRACE: Duration = Duration::from_secs(5);
/// How often timers (line timeout, soft limit, closing grace, paused accept) are checked.
const SWEEP_EVERY: Duration = Duration::from_millis(250);
/// How long accepting pauses when the process is out of fds and the spare fd is gone too.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// While drops are unreported, the loop wakes this often to report them (see `next_timeout`).
const GAP_RETRY: Duration = Duration::from_millis(10);
const LISTEN_BACKLOG: i32 = 4096;
/// The non-blocking model's nap after a sweep that found nothing (none with `--spin`).
pub const NAP: Duration = Duration::from_millis(1);

struct Client {
    /// Owned: dropping the client closes the socket.
    _socket: OwnedFd,
    /// Unique for the server's life: tells a connection from a later one on the same fd number.
    id: u64,
    /// Blocking model: threads using the socket (its reader, its writer); whether it has a
    /// writer; and, once someone asked for it closed while threads were still on it, why.
    threads: u8,
    writer: bool,
    doomed: Option<Box<(CloseReason, Option<String>)>>,
    peer: SocketAddr,
    nick: Option<Box<str>>,
    role: Role,
    /// An unfinished line; empty (no allocation) for idle clients.
    partial: Vec<u8>,
    out: OutQueue,
    /// Where this client's share of the turn buffer starts, if it joined or was sent a private
    /// line during turn `turn_id`; otherwise it starts at 0.
    turn_id: u32,
    turn_from: u32,
    /// Index in `ChatServer::live`.
    live_idx: u32,
    /// Milliseconds since the loop started (0: not set).
    partial_since: u32,
    over_soft_since: u32,
    closing_since: u32,
    write_armed: bool,
    /// The last `send` event said bytes were left queued: the flush that empties the queue
    /// changes the fd table too (a snapshot's `pending_out` goes back to 0).
    queued_shown: bool,
    /// EPOLLOUT came in (or a private line was queued): flush this turn.
    dirty: bool,
    /// Edge-triggered: the read budget ran out before EAGAIN, so read again next turn.
    carry: bool,
    /// Being closed once its output is gone; no longer read from, no longer sent broadcasts.
    closing: bool,
    closing_reason: CloseReason,
}

impl Client {
    fn name(&self) -> String {
        match &self.nick {
            Some(n) => n.to_string(),
            None => self.peer.to_string(),
        }
    }

    fn write_name(&self, buf: &mut Vec<u8>) {
        match &self.nick {
            Some(n) => buf.extend_from_slice(n.as_bytes()),
            None => {
                let _ = write!(buf, "{}", self.peer);
            }
        }
    }

    fn interest(&self) -> Interest {
        match (self.closing, self.out.is_empty()) {
            (false, true) => Interest::Read,
            (false, false) => Interest::ReadWrite,
            // Being closed: only waiting to hand over the last bytes.
            (true, _) => Interest::Write,
        }
    }
}

enum Slot {
    Empty,
    Client(Box<Client>),
}

/// Everything broadcast in one loop turn, encoded once. Every client's share is a suffix of it.
struct Turn {
    id: u32,
    buf: Vec<u8>,
    /// The same bytes, shared, once some client needs to keep a part of them.
    frozen: Option<Arc<[u8]>>,
}

impl Turn {
    /// The turn's bytes so far, shared. Frozen again if broadcasts came after the last freeze
    /// (a private line mid-turn materializes one client's share early; the shares taken at the
    /// flush must still reach the turn's end, or its later lines would be lost for everyone).
    fn shared(&mut self) -> Arc<[u8]> {
        match &self.frozen {
            Some(f) if f.len() == self.buf.len() => f.clone(),
            _ => self.frozen.insert(Arc::from(&self.buf[..])).clone(),
        }
    }
}

pub struct ChatServer {
    cfg: Config,
    sel: Selector,
    listener: Option<OwnedFd>,
    listen_fd: RawFd,
    local_addr: SocketAddr,
    control: Control,
    per_ip: PerIp,
    /// The newest snapshot generation sent to the watchers.
    snapshot_served: u64,
    slots: Vec<Slot>,
    live: Vec<RawFd>,
    rbuf: Box<[u8]>,
    turn: Turn,
    dirty: Vec<RawFd>,
    carry: Vec<RawFd>,
    listener_carry: bool,
    iov: Vec<libc::iovec>,
    counters: Counters,
    /// The EMFILE trick (libev, libuv): a spare fd to free so one more accept can succeed, telling
    /// that client we are full, instead of leaving it in the backlog and spinning on EMFILE.
    spare_fd: Option<OwnedFd>,
    accept_paused_until: Option<Instant>,
    epoch: Instant,
    next_sweep: Instant,
    /// Some client may have a timer running (partial line, over the soft limit, closing). Set
    /// wherever one starts, recomputed by each sweep: the loop then needs no per-turn scan.
    timers_running: bool,
    /// Non-blocking model: what the last sweep moved (see [`ChatServer::activity`]), and whether
    /// it moved nothing (then the next one naps first, unless `--spin`).
    last_activity: u64,
    idle_sweep: bool,
    next_client_id: u64,
    /// The blocking model's threads.
    threads: blocking::Threads,
    /// The io_uring model's ring (taken by its loop while it runs), and the switch that ends it.
    uring: Option<Box<uring::Uring>>,
    uring_leaving: Option<(Model, std::sync::mpsc::Sender<Result<Model, String>>)>,
    /// A switch into the blocking or io_uring model is answered once their threads or ring
    /// serve, not when the tables are handed over.
    reply_when_serving: Option<std::sync::mpsc::Sender<Result<Model, String>>>,
    /// `--cluster`: the link to Redis and what it carries.
    relay: Option<Box<relay::RelayLink>>,
}

// SAFETY: the iovec pointers are scratch space only filled and used within one call; ChatServer
// holds no thread-bound state otherwise.
unsafe impl Send for ChatServer {}

impl ChatServer {
    /// Binds the listener (backlog 4096, SO_REUSEADDR) and registers it with the selector.
    pub fn bind(cfg: Config, tel: Telemetry) -> io::Result<ChatServer> {
        let mut sel = Selector::new(cfg.model, tel)?;
        let socket = Socket::new(Domain::for_address(cfg.chat_addr), Type::STREAM.nonblocking().cloexec(), None)?;
        socket.set_reuse_address(true)?;
        socket
            .bind(&cfg.chat_addr.into())
            .map_err(|e| io::Error::new(e.kind(), format!("cannot bind chat address {}: {e}", cfg.chat_addr)))?;
        socket.listen(LISTEN_BACKLOG)?;
        let local_addr = socket.local_addr()?.as_socket().ok_or_else(|| io::Error::other("listener has no IP address"))?;
        let listener: OwnedFd = socket.into();
        let listen_fd = listener.as_raw_fd();
        let control = Control::new(cfg.model)?;
        if cfg.model == Model::Sigio {
            control.set_signal_tid(sys::gettid());
        }
        if cfg.model == Model::Blocking && cfg.max_threads < 2 {
            return Err(io::Error::other("--max-threads must be at least 2 for the blocking model (an acceptor and one reader)"));
        }
        let relay = match &cfg.cluster {
            None => None,
            Some(_) if !cfg.model.is_poller() => {
                return Err(io::Error::other(format!(
                    "--cluster works with the multiplexing models (select, poll, epoll, epoll-et), not {}",
                    cfg.model
                )))
            }
            Some(url) => {
                let node = cfg.node.clone().unwrap_or_else(|| format!("{}:{}", sys::hostname(), local_addr.port()));
                let r = crate::chat::relay::Relay::new(url, node, cfg.out_hard_limit, cfg.heartbeat, Instant::now())
                    .map_err(io::Error::other)?;
                Some(Box::new(relay::RelayLink::new(r)))
            }
        };
        sel.register(listen_fd, Interest::Read, Role::Listener)?;
        sel.register(control.waker_fd(), Interest::Read, Role::Waker)?;
        let now = Instant::now();
        let cfg_model = cfg.model;
        Ok(ChatServer {
            per_ip: PerIp::new(cfg.max_clients_per_ip),
            cfg,
            sel,
            listener: Some(listener),
            listen_fd,
            local_addr,
            control,
            snapshot_served: 0,
            slots: Vec::new(),
            live: Vec::new(),
            rbuf: vec![0u8; READ_BUF].into_boxed_slice(),
            turn: Turn { id: 1, buf: Vec::new(), frozen: None },
            dirty: Vec::new(),
            carry: Vec::new(),
            listener_carry: false,
            iov: Vec::with_capacity(64),
            counters: Counters::default(),
            spare_fd: sys::open_devnull().ok(),
            accept_paused_until: None,
            epoch: now,
            next_sweep: now + SWEEP_EVERY,
            timers_running: false,
            last_activity: 0,
            idle_sweep: false,
            next_client_id: 1,
            threads: blocking::Threads::default(),
            uring: match cfg_model {
                Model::IoUring => Some(Box::new(uring::Uring::new().map_err(|why| io::Error::new(io::ErrorKind::Unsupported, why))?)),
                _ => None,
            },
            uring_leaving: None,
            reply_when_serving: None,
            relay,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn control(&self) -> Control {
        self.control.clone()
    }

    fn now_ms(&self) -> u32 {
        (self.epoch.elapsed().as_millis() as u32).max(1)
    }

    fn client(&mut self, fd: RawFd) -> Option<&mut Client> {
        match self.slots.get_mut(fd as usize) {
            Some(Slot::Client(c)) => Some(c),
            _ => None,
        }
    }

    /// Runs until [`Control::stop`]. Returns only on stop or a failing wait. The room is shared
    /// only while the blocking model's threads serve it; the other models run on this thread.
    pub fn run(self) -> io::Result<()> {
        tracing::info!(addr = %self.local_addr, model = %self.sel.kind(), "chat core listening");
        let shared: blocking::Shared = Arc::new(std::sync::Mutex::new(self));
        let result = loop {
            let mut s = blocking::lock(&shared);
            if s.control.stopping() {
                break Ok(());
            }
            let res = match s.sel.kind() {
                Model::Blocking => {
                    drop(s);
                    blocking::serve(&shared)
                }
                Model::IoUring => s.run_uring(),
                // Returns on a stop, or once switched to the blocking or io_uring model.
                _ => s.run_loop(),
            };
            if let Err(e) = res {
                break Err(e);
            }
        };
        blocking::lock(&shared).shutdown();
        result
    }

    fn run_loop(&mut self) -> io::Result<()> {
        while !self.control.stopping() {
            self.sel.tel.begin_turn(|| self.counters.clone());
            if let Some(req) = self.control.take_switch() {
                let answer = self.switch_to(req.model);
                self.answer_switch(req.reply, answer);
                // Told at once, not after the next wakeup (which may be long in coming).
                self.end_turn();
                if matches!(self.sel.kind(), Model::Blocking | Model::IoUring) {
                    return Ok(());
                }
                self.sel.tel.begin_turn(|| self.counters.clone());
            }
            self.serve_snapshots();
            let nonblocking = self.sel.kind() == Model::Nonblocking;
            if nonblocking && self.idle_sweep && !self.cfg.spin {
                sys::nanosleep(NAP);
                self.sel.tel.emit(|| EventBody::Sleep { ns: NAP.as_nanos() as u64 });
            }
            let timeout = self.next_timeout();
            self.sel.tel.before_wait(timeout);
            let info = self.sel.select(timeout)?;
            self.counters.wakeups += info.told as u64;
            for i in 0..info.ready {
                // None: closed (or closed and reused) earlier in this batch.
                let Some((key, flags)) = self.sel.ready_at(i) else { continue };
                match key.data {
                    Role::Listener => self.accept_ready(),
                    // The sweep skips the doorbell: every request it rings is checked each turn.
                    Role::Waker if nonblocking => {}
                    Role::Waker => sys::eventfd_drain(key.fd),
                    Role::Tcp | Role::Web | Role::Bot => self.client_ready(key.fd, flags),
                    Role::Relay => self.relay_ready(key.fd, flags),
                }
            }
            self.run_carried();
            self.relay_carried();
            self.flush_turn();
            self.relay_turn();
            if Instant::now() >= self.next_sweep {
                self.sweep();
            }
            if nonblocking {
                let activity = self.activity();
                self.idle_sweep = activity == self.last_activity;
                self.last_activity = activity;
            }
            self.end_turn();
        }
        Ok(())
    }

    /// Answers a switch request: at once, unless the new model still has to start serving.
    fn answer_switch(&mut self, reply: std::sync::mpsc::Sender<Result<Model, String>>, answer: Result<Model, String>) {
        match answer {
            Ok(Model::Blocking | Model::IoUring) => self.reply_when_serving = Some(reply),
            other => {
                let _ = reply.send(other);
            }
        }
    }

    /// The blocking or io_uring model serves now: a switch into it is answered.
    fn serving(&mut self) {
        if let Some(reply) = self.reply_when_serving.take() {
            let _ = reply.send(Ok(self.sel.kind()));
        }
    }

    /// Snapshots owed: one the watchers asked for (a full queue leaves it wanted, tried again
    /// next turn), and one the recording needs (its first, or after a loss that changed the
    /// table).
    pub(super) fn serve_snapshots(&mut self) {
        if let Some(generation) = self.control.snapshot_wanted(self.snapshot_served) {
            if self.sel.tel.send_snapshot(self.snapshot(), generation) {
                self.snapshot_served = generation;
            }
        }
        if self.sel.tel.record_wants_snapshot() {
            let snap = self.snapshot();
            self.sel.tel.record_snapshot(snap);
        }
    }

    /// Ends a telemetry turn, and publishes the totals for `GET /api/models`.
    fn end_turn(&mut self) {
        self.sel.tel.end_turn(|| self.counters.clone());
        self.control.publish(self.sel.tel.seq(), &self.counters);
    }

    /// A number that moves whenever a turn did any work: connections, bytes either way.
    fn activity(&self) -> u64 {
        let c = &self.counters;
        c.accepted + c.closed + c.recv_bytes + c.sent_bytes
    }

    /// Blocks forever unless something is owed: carried reads, budget-limited writes, timers, or
    /// a `gap` the watchers have not been told about (after a flood the loop may go idle with
    /// drops unreported; they would stay untold, and the watchers' totals stale, until the
    /// next wakeup).
    fn next_timeout(&self) -> Option<Duration> {
        if !self.carry.is_empty() || self.listener_carry || !self.dirty.is_empty() {
            return Some(Duration::ZERO);
        }
        let timers_due = self.accept_paused_until.is_some() || self.timers_running;
        let sweep = timers_due.then(|| self.next_sweep.saturating_duration_since(Instant::now()));
        // A snapshot the queue had no room for is retried soon, like a gap.
        let owed =
            self.sel.tel.owes_gap() || self.control.snapshot_wanted(self.snapshot_served).is_some() || self.sel.tel.record_wants_snapshot();
        let gap = owed.then_some(GAP_RETRY);
        sweep.into_iter().chain(gap).chain(self.relay_timeout()).min()
    }
}
