//! Edge-triggered carry-over and the timers (line timeout, soft limit, closing grace, paused accept).

use super::*;

impl ChatServer {
    pub(super) fn run_carried(&mut self) {
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
    pub(super) fn sweep(&mut self) {
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
}
