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
use super::{Config, Control};
use crate::selector::{RegisterError, Selector};
use crate::sys;
use crate::telemetry::Telemetry;
use muxscope_shared::{CloseReason, Counters, EventBody, FdInfo, Interest, ReadyFlags, Role, Snapshot, PROTOCOL_VERSION};
use socket2::{Domain, Socket, Type};
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

struct Client {
    /// Owned: dropping the client closes the socket.
    _socket: OwnedFd,
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
    fn shared(&mut self) -> Arc<[u8]> {
        self.frozen.get_or_insert_with(|| Arc::from(&self.buf[..])).clone()
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
}

// SAFETY: the iovec pointers are scratch space only filled and used within one call; ChatServer
// holds no thread-bound state otherwise.
unsafe impl Send for ChatServer {}

impl ChatServer {
    /// Binds the listener (backlog 4096, SO_REUSEADDR) and registers it with the selector.
    pub fn bind(cfg: Config, tel: Telemetry) -> io::Result<ChatServer> {
        let mut sel = Selector::new(cfg.poller, tel)?;
        let socket = Socket::new(Domain::for_address(cfg.chat_addr), Type::STREAM.nonblocking().cloexec(), None)?;
        socket.set_reuse_address(true)?;
        socket
            .bind(&cfg.chat_addr.into())
            .map_err(|e| io::Error::new(e.kind(), format!("cannot bind chat address {}: {e}", cfg.chat_addr)))?;
        socket.listen(LISTEN_BACKLOG)?;
        let local_addr = socket.local_addr()?.as_socket().ok_or_else(|| io::Error::other("listener has no IP address"))?;
        let listener: OwnedFd = socket.into();
        let listen_fd = listener.as_raw_fd();
        let control = Control::new()?;
        sel.register(listen_fd, Interest::Read, Role::Listener)?;
        sel.register(control.waker_fd(), Interest::Read, Role::Waker)?;
        let now = Instant::now();
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

    /// Runs until [`Control::stop`]. Returns only on stop or a failing wait.
    pub fn run(mut self) -> io::Result<()> {
        tracing::info!(addr = %self.local_addr, poller = %self.sel.kind(), "chat core listening");
        let result = self.run_loop();
        self.shutdown();
        result
    }

    fn run_loop(&mut self) -> io::Result<()> {
        while !self.control.stopping() {
            self.sel.tel.begin_turn(|| self.counters.clone());
            if let Some(generation) = self.control.snapshot_wanted(self.snapshot_served) {
                // Queue full: it stays wanted, and is tried again next turn.
                if self.sel.tel.send_snapshot(self.snapshot(), generation) {
                    self.snapshot_served = generation;
                }
            }
            let timeout = self.next_timeout();
            let info = self.sel.select(timeout)?;
            self.counters.wakeups += 1;
            for i in 0..info.ready {
                // None: closed (or closed and reused) earlier in this batch.
                let Some((key, flags)) = self.sel.ready_at(i) else { continue };
                match key.data {
                    Role::Listener => self.accept_ready(),
                    Role::Waker => sys::eventfd_drain(key.fd),
                    Role::Tcp | Role::Web => self.client_ready(key.fd, flags),
                }
            }
            self.run_carried();
            self.flush_turn();
            if Instant::now() >= self.next_sweep {
                self.sweep();
            }
            self.sel.tel.end_turn(|| self.counters.clone());
        }
        Ok(())
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
        let owed = self.sel.tel.owes_gap() || self.control.snapshot_wanted(self.snapshot_served).is_some();
        let gap = owed.then_some(GAP_RETRY);
        sweep.into_iter().chain(gap).min()
    }

    // ---- accept ---------------------------------------------------------------------------

    fn accept_ready(&mut self) {
        self.listener_carry = false;
        for _ in 0..self.cfg.accept_budget {
            match sys::accept(self.listen_fd) {
                Ok((fd, peer)) => self.add_client(fd, peer),
                Err(e) if sys::is_would_block(&e) => return,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EINTR)) => continue,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    self.out_of_fds();
                    return;
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    return;
                }
            }
        }
        // Budget used up with connections still waiting. Level-triggered will say so again;
        // edge-triggered will not, so remember it.
        if self.sel.kind().edge_triggered() {
            self.listener_carry = true;
        }
    }

    /// EMFILE: free the spare fd, accept the waiting connection, tell it why, close it, take the
    /// spare back. Without this, the listener stays readable and a level-triggered loop spins.
    fn out_of_fds(&mut self) {
        if self.spare_fd.take().is_some() {
            if let Ok((fd, peer)) = sys::accept(self.listen_fd) {
                self.reject(fd, peer, CloseReason::FdExhausted, "server is out of file descriptors, try again later");
            }
            self.spare_fd = sys::open_devnull().ok();
        }
        if self.spare_fd.is_none() {
            // Could not get the spare back: stop watching the listener for a moment.
            if self.sel.unregister(self.listen_fd).is_ok() {
                self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                self.next_sweep = self.next_sweep.min(Instant::now() + ACCEPT_PAUSE);
            }
        }
    }

    /// Accepted only to be refused: one error line, then close.
    fn reject(&mut self, fd: OwnedFd, peer: SocketAddr, reason: CloseReason, why: &str) {
        let raw = fd.as_raw_fd();
        let listener = self.listen_fd;
        self.counters.accepted += 1;
        self.counters.closed += 1;
        self.sel.tel.emit_table(|| EventBody::Accept { fd: raw, peer: peer.to_string(), listener });
        self.send_error_line(raw, why);
        self.sel.tel.emit_table(|| EventBody::Close { fd: raw, reason, detail: Some(why.to_string()) });
        drop(fd);
    }

    /// One best-effort send of `* error: WHY` to a connection about to be closed, told as the
    /// `send` it is.
    fn send_error_line(&mut self, fd: RawFd, why: &str) {
        let line = format!("* error: {why}\n");
        let (bytes, would_block) = match sys::send(fd, line.as_bytes()) {
            Ok(n) => (n as u64, false),
            Err(e) => (0, sys::is_would_block(&e)),
        };
        self.counters.sent_bytes += bytes;
        self.sel.tel.emit(|| EventBody::Send { fd, bytes, would_block, queued: 0 });
    }

    fn add_client(&mut self, fd: OwnedFd, peer: SocketAddr) {
        if self.live.len() >= self.cfg.max_clients {
            let why = format!("server is full ({} clients, --max-clients)", self.cfg.max_clients);
            self.reject(fd, peer, CloseReason::MaxClients, &why);
            return;
        }
        if let Err(why) = self.per_ip.admit(peer.ip()) {
            self.reject(fd, peer, CloseReason::PerIpLimit, &why);
            return;
        }
        let raw = fd.as_raw_fd();
        let listener = self.listen_fd;
        self.sel.tel.emit_table(|| EventBody::Accept { fd: raw, peer: peer.to_string(), listener });
        self.counters.accepted += 1;
        // Lines are coalesced per turn already; Nagle would only add latency.
        let one: libc::c_int = 1;
        let _ = crate::sys::syscall!(setsockopt(
            raw,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t
        ));
        if let Err(e) = self.sel.register(raw, Interest::Read, Role::Tcp) {
            let reason = match e {
                RegisterError::Unsupported(_) => CloseReason::SelectorLimit,
                _ => CloseReason::Error,
            };
            self.send_error_line(raw, &e.to_string());
            self.per_ip.release(peer.ip());
            self.counters.closed += 1;
            self.sel.tel.emit_table(|| EventBody::Close { fd: raw, reason, detail: Some(e.to_string()) });
            return;
        }
        let idx = raw as usize;
        if self.slots.len() <= idx {
            self.slots.resize_with(idx + 1, || Slot::Empty);
        }
        self.slots[idx] = Slot::Client(Box::new(Client {
            _socket: fd,
            peer,
            nick: None,
            role: Role::Tcp,
            partial: Vec::new(),
            out: OutQueue::default(),
            // Broadcasts earlier in this turn were before this client existed.
            turn_id: self.turn.id,
            turn_from: self.turn.buf.len() as u32,
            live_idx: self.live.len() as u32,
            partial_since: 0,
            over_soft_since: 0,
            closing_since: 0,
            write_armed: false,
            queued_shown: false,
            dirty: false,
            carry: false,
            closing: false,
            closing_reason: CloseReason::Eof,
        }));
        self.live.push(raw);
    }

    // ---- read -------------------------------------------------------------------------------

    fn client_ready(&mut self, fd: RawFd, flags: ReadyFlags) {
        let Some(c) = self.client(fd) else { return };
        if flags.writable() && !c.out.is_empty() {
            c.dirty = true;
            self.dirty.push(fd);
        }
        let c = self.client(fd).expect("checked above");
        if flags.readable() && !c.closing {
            c.carry = false;
            self.read_client(fd);
        } else if c.closing && flags.contains(ReadyFlags::ERR | ReadyFlags::HUP) {
            // Nobody left to take the last line.
            let reason = c.closing_reason;
            self.close_client(fd, reason, None);
        }
    }

    /// Phase two of IO: copy what the kernel holds into user space, up to the turn's budget.
    fn read_client(&mut self, fd: RawFd) {
        let edge = self.sel.kind().edge_triggered();
        let mut rbuf = std::mem::take(&mut self.rbuf);
        let mut total = 0;
        loop {
            match sys::recv(fd, &mut rbuf) {
                Ok(0) => {
                    self.sel.tel.emit(|| EventBody::Recv { fd, bytes: 0, eof: true, would_block: false, lines: 0 });
                    self.peer_finished(fd);
                    break;
                }
                Ok(n) => {
                    self.counters.recv_bytes += n as u64;
                    total += n;
                    if !self.take_bytes(fd, &rbuf[..n]) {
                        break;
                    }
                    // Level-triggered: a short read means the socket is empty for now, and if it
                    // fills again the next wait says so. Edge-triggered must see EAGAIN.
                    if !edge && n < rbuf.len() {
                        break;
                    }
                    if total >= self.cfg.read_budget {
                        if edge {
                            if let Some(c) = self.client(fd) {
                                c.carry = true;
                                self.carry.push(fd);
                            }
                        }
                        break;
                    }
                }
                Err(e) if sys::is_would_block(&e) => {
                    self.sel.tel.emit(|| EventBody::Recv { fd, bytes: 0, eof: false, would_block: true, lines: 0 });
                    break;
                }
                // A call that failed is a call too (strace counts it): told as a recv of nothing,
                // and a failure by the close that follows with the error.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    self.sel.tel.emit(|| EventBody::Recv { fd, bytes: 0, eof: false, would_block: false, lines: 0 });
                    continue;
                }
                Err(e) => {
                    self.sel.tel.emit(|| EventBody::Recv { fd, bytes: 0, eof: false, would_block: false, lines: 0 });
                    self.close_client(fd, CloseReason::Error, Some(e.to_string()));
                    break;
                }
            }
        }
        self.rbuf = rbuf;
    }

    /// Frames and handles `data` from `fd`. False when the client is gone or going.
    fn take_bytes(&mut self, fd: RawFd, data: &[u8]) -> bool {
        let max = self.cfg.max_line;
        let Some(c) = self.client(fd) else { return false };
        let mut partial = std::mem::take(&mut c.partial);
        // Phase two is done (the bytes are in user space): say so before acting on them.
        let n = data.len() as u32;
        self.sel.tel.emit(|| EventBody::Recv {
            fd,
            bytes: n,
            eof: false,
            would_block: false,
            lines: memchr::memchr_iter(b'\n', data).count() as u32,
        });
        let res = split_lines(&mut partial, data, max, |line| self.handle_line(fd, line));
        let now = self.now_ms();
        match res {
            Ok(ControlFlow::Continue(())) => {
                let Some(c) = self.client(fd) else { return false };
                if partial.is_empty() {
                    c.partial_since = 0;
                } else if c.partial_since == 0 {
                    c.partial_since = now;
                }
                c.partial = partial;
                let (open, timing) = (!c.closing, c.partial_since != 0);
                self.timers_running |= timing;
                open
            }
            Ok(ControlFlow::Break(())) => false,
            Err(_) => {
                let why = format!("line longer than {max} bytes");
                self.close_with_message(fd, CloseReason::LineTooLong, &why);
                false
            }
        }
    }

    /// One line through the protocol (`protocol.rs`); the loop does the IO it asks for.
    fn handle_line(&mut self, fd: RawFd, line: &[u8]) -> ControlFlow<()> {
        let text = sanitize(line);
        match protocol::parse(&text) {
            None => {}
            Some(Command::Quit) => {
                self.close_client(fd, CloseReason::Quit, None);
                return ControlFlow::Break(());
            }
            Some(Command::Nick(name)) => self.set_nick(fd, name),
            Some(Command::RoleWeb) => {
                if let Some(c) = self.client(fd) {
                    c.role = Role::Web;
                    let name = c.name();
                    self.sel.tel.emit_table(|| EventBody::Nick { fd, name, role: Role::Web });
                }
            }
            Some(Command::Who) => {
                let names = self
                    .live
                    .iter()
                    .filter_map(|&f| match &self.slots[f as usize] {
                        Slot::Client(c) if !c.closing => Some(c.name()),
                        _ => None,
                    })
                    .collect();
                self.send_private(fd, protocol::who_line(names).as_bytes());
            }
            Some(Command::Help) => self.send_private(fd, protocol::HELP),
            Some(Command::Say(text)) => self.broadcast(fd, text),
        }
        ControlFlow::Continue(())
    }

    fn set_nick(&mut self, fd: RawFd, name: &str) {
        if !muxscope_shared::valid_nick(name) {
            self.send_private(fd, protocol::BAD_NICK);
            return;
        }
        let Some(c) = self.client(fd) else { return };
        c.nick = Some(name.into());
        let role = c.role;
        let name = name.to_string();
        self.sel.tel.emit_table(|| EventBody::Nick { fd, name, role });
    }

    /// Encodes `[NAME] TEXT\n` once, into this turn's buffer. Every client's share of the turn is
    /// a suffix of that buffer, so a broadcast costs the same for 1 or 10,000 recipients until
    /// the flush.
    fn broadcast(&mut self, fd: RawFd, text: &str) {
        let Some(Slot::Client(c)) = self.slots.get(fd as usize) else { return };
        let bytes = protocol::encode_broadcast(&mut self.turn.buf, |buf| c.write_name(buf), text) as u32;
        let recipients = self.live.len() as u32;
        self.counters.messages += 1;
        self.counters.deliveries += recipients as u64;
        // The name (a formatted peer address for an unnamed client) is built only with the event:
        // past the turn's cap, a watched flood only counts its broadcasts.
        self.sel.tel.emit(|| EventBody::Broadcast { from: fd, name: c.name(), recipients, bytes, text: text.to_string() });
    }

    /// A line for one client only, after whatever it was already owed this turn.
    fn send_private(&mut self, fd: RawFd, line: &[u8]) {
        self.materialize_turn(fd);
        let (turn_len, turn_id) = (self.turn.buf.len() as u32, self.turn.id);
        let Some(Slot::Client(c)) = self.slots.get_mut(fd as usize) else { return };
        c.turn_id = turn_id;
        c.turn_from = turn_len;
        c.out.push(Arc::from(line), 0);
        if !c.dirty {
            c.dirty = true;
            self.dirty.push(fd);
        }
    }

    /// recv returned 0: the peer will send no more. It may still be reading (`nc -N`,
    /// `shutdown(SHUT_WR)`), so it gets what it is owed — its own last line included — and is
    /// closed once that is written (or after the grace period). A partial last line is dropped.
    fn peer_finished(&mut self, fd: RawFd) {
        let owes = self.materialize_turn(fd);
        let Some(c) = self.client(fd) else { return };
        if !owes && c.out.is_empty() {
            self.close_client(fd, CloseReason::Eof, None);
            return;
        }
        self.start_closing(fd, CloseReason::Eof);
    }

    /// Moves `fd`'s share of this turn's broadcasts into its own queue (closing clients take no
    /// more of the turn). True if there was any.
    fn materialize_turn(&mut self, fd: RawFd) -> bool {
        let turn_len = self.turn.buf.len();
        let turn_id = self.turn.id;
        let Some(Slot::Client(c)) = self.slots.get(fd as usize) else { return false };
        let from = if c.turn_id == turn_id { c.turn_from as usize } else { 0 };
        if from >= turn_len || c.closing {
            return false;
        }
        let shared = self.turn.shared();
        let Some(Slot::Client(c)) = self.slots.get_mut(fd as usize) else { return false };
        c.out.push(shared, from);
        c.turn_id = turn_id;
        c.turn_from = turn_len as u32;
        true
    }

    /// Error line, then close once it is written (or after a grace period).
    fn close_with_message(&mut self, fd: RawFd, reason: CloseReason, why: &str) {
        self.send_private(fd, format!("* error: {why}; closing\n").as_bytes());
        self.start_closing(fd, reason);
    }

    /// The client takes no more input and is closed once its queue is written (see
    /// [`flush_turn`](Self::flush_turn)) or the grace period ends; a partial line is dropped.
    fn start_closing(&mut self, fd: RawFd, reason: CloseReason) {
        let now = self.now_ms();
        let Some(c) = self.client(fd) else { return };
        c.closing = true;
        c.closing_reason = reason;
        c.closing_since = now;
        c.partial = Vec::new();
        c.partial_since = 0;
        if !c.dirty {
            c.dirty = true;
            self.dirty.push(fd);
        }
        self.timers_running = true;
        self.update_interest(fd);
    }

    // ---- write ------------------------------------------------------------------------------

    /// The once-per-turn flush, before the loop sleeps again.
    fn flush_turn(&mut self) {
        let mut to_close: Vec<(RawFd, CloseReason, Option<String>)> = Vec::new();
        let mut still_dirty = Vec::new();
        if !self.turn.buf.is_empty() {
            for i in 0..self.live.len() {
                let fd = self.live[i];
                if self.flush_client(fd, true, &mut to_close) {
                    still_dirty.push(fd);
                }
            }
        }
        for fd in std::mem::take(&mut self.dirty) {
            // Not dirty any more: already flushed by the turn loop above.
            if matches!(self.client(fd), Some(c) if c.dirty) && self.flush_client(fd, false, &mut to_close) {
                still_dirty.push(fd);
            }
        }
        for &fd in &still_dirty {
            if let Some(Slot::Client(c)) = self.slots.get_mut(fd as usize) {
                c.dirty = true;
            }
        }
        self.dirty = still_dirty;
        for (fd, reason, detail) in to_close {
            if self.client(fd).is_some() {
                self.close_client(fd, reason, detail);
            }
        }
        self.turn.buf.clear();
        if self.turn.buf.capacity() > 1 << 20 {
            self.turn.buf = Vec::new();
        }
        self.turn.frozen = None;
        self.turn.id = self.turn.id.wrapping_add(1);
    }

    /// Writes what `fd` is owed. With `with_turn`, its share of this turn's broadcasts first
    /// joins its queue. True when the write budget ran out with bytes left and the socket still
    /// writable (flush again next turn).
    fn flush_client(&mut self, fd: RawFd, with_turn: bool, to_close: &mut Vec<(RawFd, CloseReason, Option<String>)>) -> bool {
        let turn_len = self.turn.buf.len();
        let turn_id = self.turn.id;
        let Some(Slot::Client(c)) = self.slots.get_mut(fd as usize) else { return false };
        // Armed and no EPOLLOUT since: the kernel said it is full, so don't ask again.
        let can_write = c.dirty || !c.write_armed;
        c.dirty = false;
        let mut written = 0usize;
        // Armed and no EPOLLOUT: nothing is tried (and nothing told: one `send` event per call).
        let mut would_block = !can_write;
        if with_turn && !c.closing {
            let from = if c.turn_id == turn_id { c.turn_from as usize } else { 0 };
            if from < turn_len {
                if c.out.is_empty() && can_write {
                    // The common case: nothing queued, so one send straight from the turn buffer.
                    let res = sys::send(fd, &self.turn.buf[from..]);
                    match &res {
                        Ok(n) if from + n < turn_len => c.out.push(self.turn.shared(), from + n),
                        Ok(_) => {}
                        // Would block, interrupted or failed: nothing went; what is owed stays owed.
                        Err(_) => c.out.push(self.turn.shared(), from),
                    }
                    match tell_send(&mut self.sel.tel, c, fd, res) {
                        Sent::Bytes(n) => {
                            written = n;
                            would_block = c.out.bytes() > 0;
                        }
                        Sent::WouldBlock => would_block = true,
                        Sent::Interrupted => {}
                        Sent::Failed(e) => {
                            to_close.push((fd, CloseReason::Error, Some(e)));
                            return false;
                        }
                    }
                } else {
                    c.out.push(self.turn.shared(), from);
                }
            }
        }
        let mut budget_left = false;
        if !would_block && !c.out.is_empty() {
            loop {
                c.out.iovecs(&mut self.iov);
                let res = sys::sendv(fd, &self.iov);
                if let Ok(n) = res {
                    c.out.consume(n);
                }
                match tell_send(&mut self.sel.tel, c, fd, res) {
                    Sent::Bytes(n) => {
                        written += n;
                        if c.out.is_empty() {
                            break;
                        }
                        if written >= WRITE_BUDGET {
                            budget_left = true;
                            break;
                        }
                    }
                    Sent::WouldBlock => break,
                    Sent::Interrupted => continue,
                    Sent::Failed(e) => {
                        to_close.push((fd, CloseReason::Error, Some(e)));
                        return false;
                    }
                }
            }
        }
        let queued = c.out.bytes() as u64;
        let closing_done = c.closing && c.out.is_empty();
        let closing_reason = c.closing_reason;
        self.counters.sent_bytes += written as u64;
        if closing_done {
            to_close.push((fd, closing_reason, None));
            return false;
        }
        if queued as usize > self.cfg.out_hard_limit {
            let why = format!("{queued} bytes owed, over the hard limit of {}", self.cfg.out_hard_limit);
            to_close.push((fd, CloseReason::OutputHardLimit, Some(why)));
            return false;
        }
        let now = self.now_ms();
        let soft = self.cfg.out_soft_limit;
        if let Some(c) = self.client(fd) {
            if queued as usize > soft {
                if c.over_soft_since == 0 {
                    c.over_soft_since = now;
                }
            } else {
                c.over_soft_since = 0;
            }
        }
        self.timers_running |= queued as usize > soft;
        self.update_interest(fd);
        budget_left
    }

    /// Write interest is armed only while bytes are pending.
    fn update_interest(&mut self, fd: RawFd) {
        let Some(c) = self.client(fd) else { return };
        let want = c.interest();
        c.write_armed = want.is_writable();
        if let Err(e) = self.sel.modify(fd, want) {
            tracing::debug!("modify fd {fd}: {e}");
        }
    }

    // ---- edge-triggered carry-over and timers ---------------------------------------------

    fn run_carried(&mut self) {
        if self.listener_carry {
            self.accept_ready();
        }
        if self.carry.is_empty() {
            return;
        }
        for fd in std::mem::take(&mut self.carry) {
            if let Some(c) = self.client(fd) {
                if c.carry && !c.closing {
                    c.carry = false;
                    self.read_client(fd);
                }
            }
        }
    }

    /// Timers, checked a few times a second and only while some client has one running.
    fn sweep(&mut self) {
        let now_instant = Instant::now();
        self.next_sweep = now_instant + SWEEP_EVERY;
        if let Some(until) = self.accept_paused_until {
            if now_instant >= until {
                self.accept_paused_until = None;
                if self.spare_fd.is_none() {
                    self.spare_fd = sys::open_devnull().ok();
                }
                if let Err(e) = self.sel.register(self.listen_fd, Interest::Read, Role::Listener) {
                    tracing::warn!("re-registering the listener: {e}");
                    self.accept_paused_until = Some(now_instant + ACCEPT_PAUSE);
                }
            }
        }
        let now = self.now_ms();
        let line_ms = self.cfg.line_timeout.as_millis() as u32;
        let soft_ms = self.cfg.out_soft_time.as_millis() as u32;
        let grace_ms = CLOSING_GRACE.as_millis() as u32;
        let mut expired = Vec::new();
        let mut running = false;
        for &fd in &self.live {
            let Slot::Client(c) = &self.slots[fd as usize] else { continue };
            running |= c.partial_since | c.over_soft_since | c.closing_since != 0;
            if c.closing_since != 0 && now.saturating_sub(c.closing_since) >= grace_ms {
                expired.push((fd, 0));
            } else if c.over_soft_since != 0 && now.saturating_sub(c.over_soft_since) >= soft_ms {
                expired.push((fd, 1));
            } else if c.partial_since != 0 && now.saturating_sub(c.partial_since) >= line_ms {
                expired.push((fd, 2));
            }
        }
        // Expiring below may start new timers (a closing grace); those set the flag again.
        self.timers_running = running;
        for (fd, what) in expired {
            match what {
                0 => {
                    let reason = self.client(fd).map(|c| c.closing_reason).unwrap_or(CloseReason::Error);
                    self.close_client(fd, reason, Some("did not take its last line in time".into()));
                }
                1 => {
                    let why =
                        format!("owed over {} bytes for {} s (soft limit)", self.cfg.out_soft_limit, self.cfg.out_soft_time.as_secs_f32());
                    self.close_client(fd, CloseReason::OutputSoftLimit, Some(why));
                }
                _ => {
                    let why = format!("no end of line within {} s", self.cfg.line_timeout.as_secs_f32());
                    self.close_with_message(fd, CloseReason::LineTimeout, &why);
                }
            }
        }
    }

    // ---- close --------------------------------------------------------------------------------

    fn close_client(&mut self, fd: RawFd, reason: CloseReason, detail: Option<String>) {
        let Some(slot) = self.slots.get_mut(fd as usize) else { return };
        let Slot::Client(c) = std::mem::replace(slot, Slot::Empty) else { return };
        // Unregister before close: the kernel drops closed fds from epoll by itself, but poll and
        // select would be handed a dead (or reused) number.
        let _ = self.sel.unregister(fd);
        self.per_ip.release(c.peer.ip());
        let idx = c.live_idx as usize;
        self.live.swap_remove(idx);
        if let Some(&moved) = self.live.get(idx) {
            if let Slot::Client(m) = &mut self.slots[moved as usize] {
                m.live_idx = idx as u32;
            }
        }
        self.counters.closed += 1;
        self.sel.tel.emit_table(|| EventBody::Close { fd, reason, detail });
        drop(c);
    }

    fn shutdown(&mut self) {
        for fd in self.live.clone() {
            self.close_client(fd, CloseReason::Shutdown, None);
        }
        let _ = self.sel.unregister(self.listen_fd);
        self.listener = None;
        self.sel.tel.flush();
    }

    // ---- snapshot -----------------------------------------------------------------------------

    pub fn snapshot(&self) -> Snapshot {
        let fds = self
            .sel
            .keys()
            .map(|k| {
                let (name, pending_out, role) = match (&self.slots.get(k.fd as usize), k.data) {
                    (Some(Slot::Client(c)), _) => (c.name(), c.out.bytes() as u64, c.role),
                    (_, Role::Listener) => (self.local_addr.to_string(), 0, Role::Listener),
                    (_, role) => ("eventfd".to_string(), 0, role),
                };
                FdInfo { fd: k.fd, role, interest: k.interest, name, pending_out }
            })
            .collect();
        let mut counters = self.counters.clone();
        counters.dropped_events = self.sel.tel.dropped_total();
        Snapshot {
            version: PROTOCOL_VERSION,
            poller: self.sel.kind().name().to_string(),
            chat_addr: self.local_addr.to_string(),
            fds,
            counters,
            seq: self.sel.tel.seq(),
            ts_ns: self.sel.tel.now_ns(),
        }
    }
}

/// What one send/writev call did, once told.
enum Sent {
    Bytes(usize),
    WouldBlock,
    Interrupted,
    Failed(String),
}

/// Tells one send/writev call as one `send` event (the queue as it is after the call), so the
/// stream counts exactly the calls strace does. Bytes left queued are part of the fd table (a
/// snapshot's `pending_out`), and so is the call that empties a queue shown as owed.
fn tell_send(tel: &mut Telemetry, c: &mut Client, fd: RawFd, res: io::Result<usize>) -> Sent {
    let queued = c.out.bytes() as u64;
    let shown = std::mem::replace(&mut c.queued_shown, queued > 0);
    let (bytes, would_block, sent) = match res {
        Ok(n) => (n as u64, false, Sent::Bytes(n)),
        Err(e) if sys::is_would_block(&e) => (0, true, Sent::WouldBlock),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => (0, false, Sent::Interrupted),
        Err(e) => (0, false, Sent::Failed(e.to_string())),
    };
    let send = || EventBody::Send { fd, bytes, would_block, queued };
    if queued > 0 || shown {
        tel.emit_table(send);
    } else {
        tel.emit(send);
    }
    sent
}
