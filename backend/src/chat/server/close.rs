//! Closing: one client (deferred while the blocking model's threads are on it), or everyone.

use super::*;

impl ChatServer {
    pub(super) fn close_client(&mut self, fd: RawFd, reason: CloseReason, mut detail: Option<String>) {
        if self.close_deferred(fd, reason, &mut detail) {
            return;
        }
        if self.sel.kind() == Model::IoUring && self.client(fd).is_some() {
            // Its recv (and any send) in the ring complete now, and are ignored.
            sys::shutdown(fd);
        }
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

    pub(super) fn shutdown(&mut self) {
        self.relay_bye();
        for fd in self.live.clone() {
            self.close_client(fd, CloseReason::Shutdown, None);
        }
        let _ = self.sel.unregister(self.listen_fd);
        self.listener = None;
        self.sel.tel.flush();
    }
}
