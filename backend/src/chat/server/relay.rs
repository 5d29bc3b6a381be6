//! The cluster relay's IO (`--cluster`): one connection to Redis, an fd with role `relay` in
//! this loop like any client's. Its connect, recv and send are the loop's own calls and events;
//! a line from another node is phase ① and ② on the relay fd, then a broadcast to the local
//! clients. What the relay says and hears is decided in `chat/relay` (sans IO).

use super::*;
use crate::chat::relay::{Lost, Relay};
use muxscope_shared::RelayState;

/// How often `GET /api/stats`' copy of the relay's counts is brought up to date while lines flow.
const STATS_EVERY: Duration = Duration::from_millis(100);

/// The relay and its socket while it has one.
pub(super) struct RelayLink {
    pub(super) relay: Relay,
    sock: Option<OwnedFd>,
    /// Edge-triggered: the read budget ran out before EAGAIN, so read again next turn.
    carry: bool,
    /// When `GET /api/stats`' copy of the status was last brought up to date, and the counts
    /// it had then (kept fresh every 100 ms at most, so a busy room pays nothing per line).
    stats_at: Instant,
    stats_counts: (u64, u64),
    /// The lines published and received and the clients here as the picture was last told
    /// (a `relay` event): told again with the next heartbeat when they moved.
    told: (u64, u64, u32),
}

impl RelayLink {
    pub(super) fn new(relay: Relay) -> RelayLink {
        RelayLink { relay, sock: None, carry: false, stats_at: Instant::now(), stats_counts: (0, 0), told: (0, 0, 0) }
    }

    pub(super) fn fd(&self) -> Option<RawFd> {
        self.sock.as_ref().map(|s| s.as_raw_fd())
    }
}

impl ChatServer {
    fn clients_online(&self) -> u32 {
        self.live.len() as u32
    }

    /// Timers (a reconnect, a heartbeat, nodes gone quiet), the output owed to Redis, and the
    /// picture told of any change. Once a turn, after the clients' flush.
    pub(super) fn relay_turn(&mut self) {
        let Some(mut link) = self.relay.take() else { return };
        let now = Instant::now();
        if link.relay.attempt_timed_out(now) {
            let why = format!("no answer from {} within {:?}", link.relay.addr, crate::chat::relay::CONNECT_TIMEOUT);
            self.relay_fail(&mut link, why);
        }
        if link.relay.connect_due(now) {
            self.relay_connect(&mut link);
        }
        let clients = self.clients_online();
        let relay_names = || self.online_names(crate::chat::relay::wire::NAMES_IN_HELLO);
        let beat = link.relay.tick(now, clients, relay_names);
        self.relay_flush(&mut link);
        let changed = std::mem::take(&mut link.relay.changed);
        let counts = link.relay.counts();
        let stale = counts != link.stats_counts && now.duration_since(link.stats_at) >= STATS_EVERY;
        if changed || beat || stale {
            (link.stats_at, link.stats_counts) = (now, counts);
            let status = link.relay.status(link.fd(), clients);
            self.control.set_relay(status.clone());
            // The picture hears of a change at once, and of moving counts once a heartbeat
            // (at most one `relay` event a second while lines flow).
            let told = (counts.0, counts.1, clients);
            if changed || (beat && told != link.told) {
                link.told = told;
                self.sel.tel.emit_table(|| EventBody::Relay { relay: Box::new(status) });
            }
        }
        self.relay = Some(link);
    }

    /// A non-blocking connect: EINPROGRESS, then the fd joins the interest list for writing;
    /// writable means connected (or refused: SO_ERROR says which).
    fn relay_connect(&mut self, link: &mut RelayLink) {
        link.relay.connecting(Instant::now());
        let addr = link.relay.addr;
        let sock = match Socket::new(Domain::for_address(addr), Type::STREAM.nonblocking().cloexec(), None) {
            Ok(s) => s,
            Err(e) => return link.relay.down(format!("socket: {e}"), Instant::now()),
        };
        let _ = sock.set_tcp_nodelay(true);
        let res = sock.connect(&addr.into());
        let fd: OwnedFd = sock.into();
        let raw = fd.as_raw_fd();
        match res {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return link.relay.down(format!("connect {addr}: {e}"), Instant::now()),
        }
        if let Err(e) = self.sel.register(raw, Interest::ReadWrite, Role::Relay) {
            return link.relay.down(format!("cannot watch the relay's fd {raw}: {e}"), Instant::now());
        }
        link.sock = Some(fd);
    }

    /// The relay's fd is ready: connected, readable, or failed.
    pub(super) fn relay_ready(&mut self, fd: RawFd, flags: ReadyFlags) {
        let Some(mut link) = self.relay.take() else { return };
        if link.fd() == Some(fd) {
            self.relay_io(&mut link, fd, flags);
        }
        self.relay = Some(link);
    }

    fn relay_io(&mut self, link: &mut RelayLink, fd: RawFd, flags: ReadyFlags) {
        if link.relay.state() == RelayState::Connecting && !link.relay.handshaking() {
            if !(flags.writable() || flags.contains(ReadyFlags::ERR) || flags.contains(ReadyFlags::HUP)) {
                return;
            }
            let err = link.sock.as_ref().map(|s| socket2::SockRef::from(s).take_error());
            match err {
                Some(Ok(None)) => link.relay.connected(),
                Some(Ok(Some(e)) | Err(e)) => return self.relay_fail(link, format!("connect {}: {e}", link.relay.addr)),
                None => return,
            }
        }
        if flags.readable() || flags.contains(ReadyFlags::HUP) || flags.contains(ReadyFlags::ERR) || link.carry {
            self.relay_read(link, fd);
        }
    }

    /// Phase ② on the relay fd: recv until EAGAIN (or the turn's budget), each remote line
    /// then fanned out to the local clients.
    fn relay_read(&mut self, link: &mut RelayLink, fd: RawFd) {
        link.carry = false;
        let mut rbuf = std::mem::take(&mut self.rbuf);
        let mut total = 0;
        let failed = loop {
            match sys::recv(fd, &mut rbuf) {
                Ok(0) => {
                    self.sel.tel.emit(|| EventBody::Recv { fd, bytes: 0, eof: true, would_block: false, lines: 0 });
                    break Some("Redis closed the connection".to_string());
                }
                Ok(n) => {
                    self.counters.recv_bytes += n as u64;
                    let got = link.relay.input(&rbuf[..n], Instant::now());
                    let lines = got.as_ref().map(|l| l.len() as u32).unwrap_or(0);
                    self.sel.tel.emit(|| EventBody::Recv { fd, bytes: n as u32, eof: false, would_block: false, lines });
                    match got {
                        Ok(remote) => {
                            for line in remote {
                                self.broadcast_remote(fd, &line.name, &line.text);
                            }
                        }
                        Err(e) => break Some(e),
                    }
                    total += n;
                    if total >= self.cfg.read_budget {
                        link.carry = true;
                        break None;
                    }
                }
                Err(e) if sys::is_would_block(&e) => {
                    self.counters.eagain += 1;
                    self.sel.tel.emit(|| EventBody::Recv { fd, bytes: 0, eof: false, would_block: true, lines: 0 });
                    break None;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    self.sel.tel.emit(|| EventBody::Recv { fd, bytes: 0, eof: false, would_block: false, lines: 0 });
                }
                Err(e) => {
                    self.sel.tel.emit(|| EventBody::Recv { fd, bytes: 0, eof: false, would_block: false, lines: 0 });
                    break Some(format!("recv: {e}"));
                }
            }
        };
        self.rbuf = rbuf;
        if let Some(why) = failed {
            self.relay_fail(link, why);
        }
    }

    /// Sends what Redis is owed (one call a turn, as for a client); write interest only while
    /// bytes are left.
    fn relay_flush(&mut self, link: &mut RelayLink) {
        let Some(fd) = link.fd() else { return };
        if link.relay.state() == RelayState::Connecting && !link.relay.handshaking() {
            return;
        }
        if !link.relay.out().is_empty() {
            let res = sys::send(fd, link.relay.out());
            match res {
                Ok(n) => {
                    self.counters.sent_bytes += n as u64;
                    link.relay.sent(n);
                    let queued = link.relay.out().len() as u64;
                    self.sel.tel.emit(|| EventBody::Send { fd, bytes: n as u64, would_block: false, queued });
                }
                Err(e) if sys::is_would_block(&e) => {
                    self.counters.eagain += 1;
                    let queued = link.relay.out().len() as u64;
                    self.sel.tel.emit(|| EventBody::Send { fd, bytes: 0, would_block: true, queued });
                }
                Err(e) => {
                    let queued = link.relay.out().len() as u64;
                    self.sel.tel.emit(|| EventBody::Send { fd, bytes: 0, would_block: false, queued });
                    return self.relay_fail(link, format!("send: {e}"));
                }
            }
        }
        let want = if link.relay.out().is_empty() { Interest::Read } else { Interest::ReadWrite };
        if self.sel.get(fd).map(|k| k.interest) != Some(want) {
            let _ = self.sel.modify(fd, want);
        }
    }

    /// The link is gone: the fd leaves the loop (unregistered, closed, told), the relay counts
    /// what it lost and waits out its backoff.
    fn relay_fail(&mut self, link: &mut RelayLink, why: String) {
        self.close_relay_fd(link, CloseReason::Error, Some(why.clone()));
        if link.relay.state() == RelayState::Up {
            tracing::warn!(redis = %link.relay.url, "relay down: {why}");
        } else {
            tracing::debug!(redis = %link.relay.url, "relay still down: {why}");
        }
        link.carry = false;
        link.relay.down(why, Instant::now());
    }

    /// A line from another node: `[NAME@NODE] TEXT` to every local client, encoded once into
    /// the turn like a local broadcast (and never published again).
    fn broadcast_remote(&mut self, relay_fd: RawFd, name: &str, text: &str) {
        let bytes = protocol::encode_broadcast(&mut self.turn.buf, |buf| buf.extend_from_slice(name.as_bytes()), text) as u32;
        let recipients = self.live.len() as u32;
        self.counters.messages += 1;
        self.counters.deliveries += recipients as u64;
        self.sel.tel.emit(|| EventBody::Broadcast { from: relay_fd, name: name.to_string(), recipients, bytes, text: text.to_string() });
    }

    /// A local line said in the room: published once. A line that cannot be tells its sender,
    /// once an outage (or slow spell), and is counted in the relay's status.
    pub(super) fn relay_publish(&mut self, fd: RawFd, text: &str) {
        let Some(link) = self.relay.as_mut() else { return };
        let Some(Slot::Client(c)) = self.slots.get(fd as usize) else { return };
        let (id, name) = (c.id, c.name());
        let lost = match link.relay.publish(&name, text) {
            Ok(()) => return,
            Err(lost) => lost,
        };
        if !link.relay.first_notice(id) {
            return;
        }
        let note = match lost {
            Lost::Down => format!("* relay down: your lines reach only this node ({}) until Redis is back\n", link.relay.node),
            Lost::Slow => "* relay behind: Redis is not keeping up, so lines of yours reached only this node\n".to_string(),
        };
        self.send_private(fd, note.as_bytes());
    }

    /// `/who` in a cluster: every node's names, each marked with its node.
    pub(super) fn cluster_who(&self) -> Option<String> {
        let link = self.relay.as_ref()?;
        let node = &link.relay.node;
        let mut names: Vec<String> = self.online_names(usize::MAX).into_iter().map(|n| format!("{n}@{node}")).collect();
        let local = names.len() as u64;
        let (remote, remote_total) = link.relay.remote_names();
        names.extend(remote);
        Some(protocol::who_line_of(names, local + remote_total))
    }

    /// The relay's status for a snapshot.
    pub(super) fn relay_status(&self) -> Option<Box<muxscope_shared::RelayStatus>> {
        self.relay.as_ref().map(|l| Box::new(l.relay.status(l.fd(), self.clients_online())))
    }

    /// Stopping: a goodbye to the other nodes (so their strips drop this one at once), sent
    /// if the socket takes it now.
    pub(super) fn relay_bye(&mut self) {
        let Some(mut link) = self.relay.take() else { return };
        link.relay.bye();
        self.relay_flush(&mut link);
        self.close_relay_fd(&mut link, CloseReason::Shutdown, None);
        self.relay = Some(link);
    }

    /// The relay's socket leaves the loop (unregistered before it is closed, as a client's) and
    /// the picture is told; nothing if it has none.
    fn close_relay_fd(&mut self, link: &mut RelayLink, reason: CloseReason, detail: Option<String>) {
        let Some(sock) = link.sock.take() else { return };
        let fd = sock.as_raw_fd();
        let _ = self.sel.unregister(fd);
        drop(sock);
        self.counters.closed += 1;
        self.sel.tel.emit_table(|| EventBody::Close { fd, reason, detail });
    }

    /// Whether the relay owes a read now (edge-triggered budget), or when its timers are due.
    pub(super) fn relay_timeout(&self) -> Option<Duration> {
        let link = self.relay.as_ref()?;
        if link.carry {
            return Some(Duration::ZERO);
        }
        link.relay.deadline().map(|t| t.saturating_duration_since(Instant::now()))
    }

    /// The relay's carried read (edge-triggered: budget ran out before EAGAIN).
    pub(super) fn relay_carried(&mut self) {
        let Some(mut link) = self.relay.take() else { return };
        if let (true, Some(fd)) = (link.carry, link.fd()) {
            self.relay_read(&mut link, fd);
        }
        self.relay = Some(link);
    }
}
