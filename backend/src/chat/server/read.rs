//! Reading: phase two of IO (recv copies from the kernel), framing, and what each line asks for.

use super::*;

impl ChatServer {
    pub(super) fn client_ready(&mut self, fd: RawFd, flags: ReadyFlags) {
        let Some(c) = self.client(fd) else { return };
        if flags.writable() && !c.out.is_empty() {
            c.dirty = true;
            self.dirty.push(fd);
        }
        let c = self.client(fd).expect("checked above");
        if flags.readable() && !c.closing {
            // A carried read still pending stays pending (once): see `read_client`.
            self.read_client(fd);
        } else if c.closing && flags.contains(ReadyFlags::ERR | ReadyFlags::HUP) {
            // Nobody left to take the last line.
            let reason = c.closing_reason;
            self.close_client(fd, reason, None);
        }
    }

    /// Phase two of IO: copy what the kernel holds into user space, up to the turn's budget.
    pub(super) fn read_client(&mut self, fd: RawFd) {
        let edge = self.sel.kind().edge_triggered();
        let mut rbuf = std::mem::take(&mut self.rbuf);
        let mut total = 0;
        loop {
            let res = sys::recv(fd, &mut rbuf);
            let n = *res.as_ref().unwrap_or(&0);
            if !self.took_recv(fd, res, &rbuf) {
                break;
            }
            if n == 0 {
                // EINTR: the same call again.
                continue;
            }
            total += n;
            // Level-triggered: a short read means the socket is empty for now, and if it fills
            // again the next wait says so. Edge-triggered must see EAGAIN.
            if !edge && n < rbuf.len() {
                break;
            }
            if total >= self.cfg.read_budget {
                // `carry` ⇔ in the carry list, once. (Pushing it again for every budget-limited
                // read let the list grow by one a turn, and the carried fd be read that many
                // times a turn: input outran the output queues, which the limits then cut.)
                if edge {
                    if let Some(c) = self.client(fd).filter(|c| !c.carry) {
                        c.carry = true;
                        self.carry.push(fd);
                    }
                }
                break;
            }
        }
        self.rbuf = rbuf;
    }

    /// What one recv call into `buf` returned, told and acted on (every model's reads end
    /// here). False when there is nothing more to read now: EOF, EAGAIN, a failure, or the
    /// client is gone or going.
    pub(super) fn took_recv(&mut self, fd: RawFd, res: io::Result<usize>, buf: &[u8]) -> bool {
        match res {
            Ok(0) => {
                self.sel.tel.emit(|| EventBody::Recv { fd, bytes: 0, eof: true, would_block: false, lines: 0 });
                self.peer_finished(fd);
                false
            }
            Ok(n) => {
                self.counters.recv_bytes += n as u64;
                self.take_bytes(fd, &buf[..n])
            }
            Err(e) if sys::is_would_block(&e) => {
                self.counters.eagain += 1;
                self.sel.tel.emit(|| EventBody::Recv { fd, bytes: 0, eof: false, would_block: true, lines: 0 });
                false
            }
            // A call that failed is a call too (strace counts it): told as a recv of nothing,
            // and a failure by the close that follows with the error.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                self.sel.tel.emit(|| EventBody::Recv { fd, bytes: 0, eof: false, would_block: false, lines: 0 });
                true
            }
            Err(e) => {
                self.sel.tel.emit(|| EventBody::Recv { fd, bytes: 0, eof: false, would_block: false, lines: 0 });
                self.close_client(fd, CloseReason::Error, Some(e.to_string()));
                false
            }
        }
    }

    /// Tells what one recv call returned without acting on it: the blocking model's reader of a
    /// connection already being closed (its call happened, so it is an event all the same).
    pub(super) fn tell_recv(&mut self, fd: RawFd, res: &io::Result<usize>, buf: &[u8]) {
        let (bytes, eof, would_block, lines) = match res {
            Ok(0) => (0, true, false, 0),
            Ok(n) => (*n as u32, false, false, memchr::memchr_iter(b'\n', &buf[..*n]).count() as u32),
            Err(e) => (0, false, sys::is_would_block(e), 0),
        };
        self.counters.recv_bytes += bytes as u64;
        self.counters.eagain += would_block as u64;
        self.sel.tel.emit(|| EventBody::Recv { fd, bytes, eof, would_block, lines });
    }

    /// Frames and handles `data` from `fd`. False when the client is gone or going.
    pub(super) fn take_bytes(&mut self, fd: RawFd, data: &[u8]) -> bool {
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
    pub(super) fn handle_line(&mut self, fd: RawFd, line: &[u8]) -> ControlFlow<()> {
        let text = sanitize(line);
        match protocol::parse(&text) {
            None => {}
            Some(Command::Quit) => {
                self.close_client(fd, CloseReason::Quit, None);
                return ControlFlow::Break(());
            }
            Some(Command::Nick(name)) => self.set_nick(fd, name),
            Some(Command::Role(role)) => {
                if let Some(c) = self.client(fd) {
                    c.role = role;
                    let name = c.name();
                    self.sel.tel.emit_table(|| EventBody::Nick { fd, name, role });
                }
            }
            Some(Command::Who) => {
                // In a cluster, the whole room (each name marked with its node).
                let line = self.cluster_who().unwrap_or_else(|| protocol::who_line(self.online_names(usize::MAX)));
                self.send_private(fd, line.as_bytes());
            }
            Some(Command::Help) => self.send_private(fd, protocol::HELP),
            Some(Command::Say(text)) => self.broadcast(fd, text),
        }
        ControlFlow::Continue(())
    }

    /// The names of the clients online (not being closed), the first `max`: `/who`'s, and a
    /// cluster heartbeat's.
    pub(super) fn online_names(&self, max: usize) -> Vec<String> {
        self.live
            .iter()
            .filter_map(|&f| match &self.slots[f as usize] {
                Slot::Client(c) if !c.closing => Some(c.name()),
                _ => None,
            })
            .take(max)
            .collect()
    }

    pub(super) fn set_nick(&mut self, fd: RawFd, name: &str) {
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
    pub(super) fn broadcast(&mut self, fd: RawFd, text: &str) {
        if self.cfg.app == App::Echo {
            return self.echo(fd, text);
        }
        let Some(Slot::Client(c)) = self.slots.get(fd as usize) else { return };
        let bytes = protocol::encode_broadcast(&mut self.turn.buf, |buf| c.write_name(buf), text) as u32;
        let recipients = self.live.len() as u32;
        self.counters.messages += 1;
        self.counters.deliveries += recipients as u64;
        // The name (a formatted peer address for an unnamed client) is built only with the event:
        // past the turn's cap, a watched flood only counts its broadcasts.
        self.sel.tel.emit(|| EventBody::Broadcast { from: fd, name: c.name(), recipients, bytes, text: text.to_string() });
        self.relay_publish(fd, text);
    }

    /// `--app echo`: the line goes back to its sender only, encoded as a broadcast is.
    fn echo(&mut self, fd: RawFd, text: &str) {
        let Some(Slot::Client(c)) = self.slots.get(fd as usize) else { return };
        let mut line = Vec::with_capacity(text.len() + 40);
        let bytes = protocol::encode_broadcast(&mut line, |buf| c.write_name(buf), text) as u32;
        self.counters.messages += 1;
        self.counters.deliveries += 1;
        self.sel.tel.emit(|| EventBody::Broadcast { from: fd, name: c.name(), recipients: 1, bytes, text: text.to_string() });
        self.send_private(fd, &line);
    }

    /// A line for one client only, after whatever it was already owed this turn.
    pub(super) fn send_private(&mut self, fd: RawFd, line: &[u8]) {
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
    pub(super) fn peer_finished(&mut self, fd: RawFd) {
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
    pub(super) fn materialize_turn(&mut self, fd: RawFd) -> bool {
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
    pub(super) fn close_with_message(&mut self, fd: RawFd, reason: CloseReason, why: &str) {
        self.send_private(fd, format!("* error: {why}; closing\n").as_bytes());
        self.start_closing(fd, reason);
    }

    /// The client takes no more input and is closed once its queue is written (see
    /// [`flush_turn`](Self::flush_turn)) or the grace period ends; a partial line is dropped.
    pub(super) fn start_closing(&mut self, fd: RawFd, reason: CloseReason) {
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
}
