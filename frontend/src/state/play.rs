//! One item played: the picture moves, and with `animate` the marks, the phase and the log
//! follow.

use super::{describe, push_capped, wait_call, Fanout, Flash, Item, LogLine, Model, Phase, WaitView, FANOUT_MS, LOG_CAP};
use muxscope_shared::{CtlOp, EventBody, Role, Snapshot};

impl Model {
    /// Marks a node; the number counts this node's flashes (the view alternates on it).
    /// Live and busy, the count stays: a still mark that does not change is not redrawn, so a
    /// flood repaints only the nodes whose mark changed kind.
    fn flash(&mut self, fd: i32, kind: Flash) {
        let still = self.draws_still();
        let n = self.flashes.get(&fd).map_or(0, |f| if still { f.1 } else { f.1 + 1 });
        self.flashes.insert(fd, (kind, n));
    }

    /// Plays one item: the state always moves; with `animate`, the picture and the log follow.
    pub(super) fn play(&mut self, item: Item, animate: bool) {
        let e = match item {
            Item::Snapshot(s) => {
                self.played_ts_ns = self.played_ts_ns.max(s.ts_ns);
                let dropped = self.snap.counters.dropped_events.max(s.counters.dropped_events);
                self.snap = s;
                self.snap.counters.dropped_events = dropped;
                let fds: Vec<i32> = self.snap.fds.iter().map(|f| f.fd).collect();
                self.flashes.retain(|fd, _| fds.binary_search(fd).is_ok());
                if animate {
                    let text = format!("snapshot: {} fds registered, {} poller", self.snap.fds.len(), self.snap.poller);
                    self.log_line("sys", text);
                }
                return;
            }
            Item::Event(e) => e,
        };
        if let EventBody::Gap { dropped, folded, resync, .. } = e.body {
            let then = if resync { "a snapshot follows" } else { "the totals stay exact" };
            if folded {
                self.folded_total += dropped;
                self.folded_at_ms = self.now_ms;
                // The gateway's gaps have no seq; the loop's are events of its own.
                let text = if e.seq == 0 {
                    format!("×{dropped} events folded by the gateway (faster than a browser can draw); {then}")
                } else {
                    format!(
                        "×{dropped} events folded by the loop (a flooded turn describes its first few hundred and counts the rest); {then}"
                    )
                };
                self.log_line("fold", text);
            } else {
                self.gaps_total += dropped;
                self.log_line(
                    "gap",
                    format!(
                        "⚠ {dropped} events dropped (a full event queue, or one turn made more than it can hand over); counted, {then}"
                    ),
                );
            }
        }
        if e.seq != 0 && e.seq <= self.snap.seq {
            return;
        }
        // Names as they were before this event (a close forgets them).
        let name_of = |s: &Snapshot, fd: i32| s.fd(fd).map(|f| f.name.clone()).unwrap_or_else(|| format!("fd {fd}"));
        let before_name = match &e.body {
            EventBody::Close { fd, .. } => Some(self.gone.remove(fd).unwrap_or_else(|| name_of(&self.snap, *fd))),
            EventBody::Ctl { fd, op, .. } => {
                let n = name_of(&self.snap, *fd);
                if *op == CtlOp::Del {
                    if self.gone.len() > 4096 {
                        self.gone.clear();
                    }
                    self.gone.insert(*fd, n.clone());
                }
                Some(n)
            }
            _ => None,
        };
        self.snap.apply(&e);
        // A gap stands for the events it left out: events per wakeup counts them too.
        self.events_played += e.body.stands_for();
        self.played_ts_ns = self.played_ts_ns.max(e.ts_ns);
        if let EventBody::Close { fd, .. } | EventBody::Ctl { op: CtlOp::Del, fd, .. } = &e.body {
            self.flashes.remove(fd);
        }
        if !animate {
            return;
        }
        let poller = self.snap.poller.clone();
        let id = self.id();
        match &e.body {
            EventBody::Wait { timeout_ms, registered, ready, ready_total, blocked_ns, scanned } => {
                for r in ready {
                    self.flash(r.fd, Flash::Ready);
                }
                self.wait = Some(WaitView {
                    id,
                    call: wait_call(&poller),
                    timeout_ms: *timeout_ms,
                    registered: *registered,
                    ready: ready.clone(),
                    ready_total: *ready_total,
                    blocked_ms: *blocked_ns as f64 / 1e6,
                    scanned: *scanned,
                });
                if *ready_total > 0 {
                    let fds: Vec<String> = ready.iter().take(6).map(|r| format!("fd {} {}", r.fd, r.flags)).collect();
                    let more = if *ready_total as usize > fds.len() { " …" } else { "" };
                    self.phase = Some(Phase {
                        id,
                        step: 1,
                        text: format!(
                            "① the kernel has data: {} returned {ready_total} ready ({}{more})",
                            wait_call(&poller),
                            fds.join(", ")
                        ),
                    });
                }
            }
            EventBody::Recv { fd, bytes, eof, would_block, .. } => {
                if *bytes > 0 {
                    self.flash(*fd, Flash::Copy);
                    let name = name_of(&self.snap, *fd);
                    self.phase = Some(Phase {
                        id,
                        step: 2,
                        text: format!("② recv(fd {fd}) copied {bytes} bytes from the kernel to user space ({name})"),
                    });
                } else if *eof {
                    self.phase = Some(Phase { id, step: 2, text: format!("② recv(fd {fd}) returned 0: the peer closed") });
                } else if *would_block {
                    self.phase =
                        Some(Phase { id, step: 2, text: format!("② recv(fd {fd}) → EAGAIN: drained, nothing more in the kernel") });
                }
            }
            // Live and busy: a fan-out is drawn for at least FANOUT_MS before the next replaces it
            // (the counters carry the rate); otherwise every one is drawn.
            EventBody::Broadcast { .. } if self.draws_still() && self.now_ms - self.fanout_at_ms < FANOUT_MS => {}
            EventBody::Broadcast { from, name, text, .. } => {
                self.fanout_at_ms = self.now_ms;
                let to: Vec<i32> = self.snap.fds.iter().filter(|f| matches!(f.role, Role::Tcp | Role::Web)).map(|f| f.fd).collect();
                self.fanout = Some(Fanout { id, from: *from, to, line: format!("[{name}] {text}") });
                self.phase =
                    Some(Phase { id, step: 3, text: format!("③ fan-out: \"[{name}] {text}\" encoded once, owed to every client") });
            }
            EventBody::Send { fd, .. } => self.flash(*fd, Flash::Send),
            EventBody::Ctl { op: CtlOp::Add, fd, error: None, .. } => self.flash(*fd, Flash::Join),
            _ => {}
        }
        // A gap already has its own line (above), which says who left the events out and why.
        if !matches!(e.body, EventBody::Gap { .. }) {
            let text = describe(&e.body, &poller, before_name.as_deref());
            push_capped(&mut self.log, LogLine { id, class: e.body.kind(), text }, LOG_CAP);
        }
    }
}
