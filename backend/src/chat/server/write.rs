//! Writing: the once-per-turn flush, output queues, write interest and the output limits.

use super::*;

impl ChatServer {
    /// The once-per-turn flush, before the loop sleeps again.
    pub(super) fn flush_turn(&mut self) {
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
    pub(super) fn flush_client(&mut self, fd: RawFd, with_turn: bool, to_close: &mut Vec<(RawFd, CloseReason, Option<String>)>) -> bool {
        let turn_len = self.turn.buf.len();
        let turn_id = self.turn.id;
        // io_uring: sends are queued in the ring after the turn, all in one enter.
        let completion = self.sel.kind() == Model::IoUring;
        let Some(Slot::Client(c)) = self.slots.get_mut(fd as usize) else { return false };
        // Armed and no EPOLLOUT since: the kernel said it is full, so don't ask again. A writer
        // thread (blocking model) owns the socket's sends while it lives.
        let can_write = (c.dirty || !c.write_armed) && !c.writer && !completion;
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
                    match tell_send(&mut self.sel.tel, &mut self.counters, c, fd, res) {
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
                match tell_send(&mut self.sel.tel, &mut self.counters, c, fd, res) {
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
    pub(super) fn update_interest(&mut self, fd: RawFd) {
        let Some(c) = self.client(fd) else { return };
        let want = c.interest();
        c.write_armed = want.is_writable();
        if want.is_writable() && !c.writer && self.sel.kind() == Model::Blocking {
            self.threads.need_writer.push(fd);
        }
        if let Err(e) = self.sel.modify(fd, want) {
            tracing::debug!("modify fd {fd}: {e}");
        }
    }
}

impl ChatServer {
    /// Blocking model: what a writer thread's blocking send did, told and acted on. False when
    /// the writer is done: its queue is empty, the client is gone or going, or the send failed.
    pub(super) fn writer_sent(&mut self, fd: RawFd, id: u64, res: io::Result<usize>) -> bool {
        let Some(Slot::Client(c)) = self.slots.get_mut(fd as usize) else { return false };
        if c.id != id {
            return false;
        }
        if c.doomed.is_some() {
            // Being closed by another thread (which woke this call): told, not acted on.
            tell_send(&mut self.sel.tel, &mut self.counters, c, fd, res);
            return false;
        }
        if let Ok(n) = res {
            c.out.consume(n);
            self.counters.sent_bytes += n as u64;
        }
        if let Sent::Failed(e) = tell_send(&mut self.sel.tel, &mut self.counters, c, fd, res) {
            self.close_client(fd, CloseReason::Error, Some(e));
            return false;
        }
        let Some(c) = self.client(fd) else { return false };
        if !c.out.is_empty() {
            return true;
        }
        if c.closing {
            let reason = c.closing_reason;
            self.close_client(fd, reason, None);
        } else {
            self.update_interest(fd);
        }
        false
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
fn tell_send(tel: &mut Telemetry, counters: &mut Counters, c: &mut Client, fd: RawFd, res: io::Result<usize>) -> Sent {
    let queued = c.out.bytes() as u64;
    let shown = std::mem::replace(&mut c.queued_shown, queued > 0);
    let (bytes, would_block, sent) = match res {
        Ok(n) => (n as u64, false, Sent::Bytes(n)),
        Err(e) if sys::is_would_block(&e) => {
            counters.eagain += 1;
            (0, true, Sent::WouldBlock)
        }
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
