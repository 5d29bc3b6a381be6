//! Accepting: until EAGAIN or the turn's budget, refusing with a reason (full, per-address
//! limit, out of fds) rather than leaving a connection in the backlog.

use super::*;

pub(super) const OUT_OF_FDS: &str = "server is out of file descriptors, try again later";

impl ChatServer {
    pub(super) fn accept_ready(&mut self) {
        self.listener_carry = false;
        for _ in 0..self.cfg.accept_budget {
            match sys::accept(self.listen_fd) {
                Ok((fd, peer)) => self.add_client(fd, peer),
                Err(e) if sys::is_would_block(&e) => {
                    let listener = self.listen_fd;
                    self.counters.eagain += 1;
                    self.sel.tel.emit(|| EventBody::AcceptEagain { listener });
                    return;
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EINTR)) => continue,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    // accept fails with EMFILE even when nobody waits. If someone did, more may
                    // wait, and an edge will not say so again: the next turn tries again.
                    if self.out_of_fds() && self.sel.kind().edge_triggered() {
                        self.listener_carry = true;
                    }
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
    /// True when a waiting connection was refused (there may be more).
    pub(super) fn out_of_fds(&mut self) -> bool {
        let mut refused = false;
        if self.spare_fd.take().is_some() {
            if let Ok((fd, peer)) = sys::accept(self.listen_fd) {
                self.reject(fd, peer, CloseReason::FdExhausted, OUT_OF_FDS);
                refused = true;
            }
            self.spare_fd = sys::open_devnull().ok();
        }
        if self.spare_fd.is_none() {
            // Could not get the spare back: stop watching the listener for a moment.
            self.pause_accepting();
        }
        refused
    }

    /// Stops watching the listener for [`ACCEPT_PAUSE`] (the sweep takes it back).
    pub(super) fn pause_accepting(&mut self) {
        if self.sel.unregister(self.listen_fd).is_ok() {
            self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
            self.next_sweep = self.next_sweep.min(Instant::now() + ACCEPT_PAUSE);
        }
    }

    /// Accepted only to be refused: one error line, then close.
    pub(super) fn reject(&mut self, fd: OwnedFd, peer: SocketAddr, reason: CloseReason, why: &str) {
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
    pub(super) fn send_error_line(&mut self, fd: RawFd, why: &str) {
        let line = format!("* error: {why}\n");
        let (bytes, would_block) = match sys::send(fd, line.as_bytes()) {
            Ok(n) => (n as u64, false),
            Err(e) => (0, sys::is_would_block(&e)),
        };
        self.counters.sent_bytes += bytes;
        self.counters.eagain += would_block as u64;
        self.sel.tel.emit(|| EventBody::Send { fd, bytes, would_block, queued: 0 });
    }

    pub(super) fn add_client(&mut self, fd: OwnedFd, peer: SocketAddr) {
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
        let id = self.next_client_id;
        self.next_client_id += 1;
        self.slots[idx] = Slot::Client(Box::new(Client {
            _socket: fd,
            id,
            threads: 0,
            writer: false,
            doomed: None,
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
}
