//! One item played: the picture moves, and with `animate` the marks, the phase and the log
//! follow.

use super::{describe, push_capped, Fanout, Flash, Item, LogLine, Model, Phase, WaitView, FANOUT_MS, LOG_CAP};
use muxscope_shared::{CtlOp, Event, EventBody, Model as IoModel, Role, Snapshot};

/// Most fds remembered between their `ctl del` and what follows it (a close or, in a switch,
/// the add back).
const GONE_CAP: usize = 100_000;

impl Model {
    /// Marks a node; the number counts this node's flashes (the view alternates on it).
    /// Live and busy, the count stays: a still mark that does not change is not redrawn, so a
    /// flood repaints only the nodes whose mark changed kind.
    fn flash(&mut self, fd: i32, kind: Flash) {
        let still = self.draws_still();
        let n = self.flashes.get(&fd).map_or(0, |f| if still { f.1 } else { f.1 + 1 });
        self.flashes.insert(fd, (kind, n));
    }

    /// The model a switch queued next is building the table for, if the items queued next are
    /// that switch's `ctl`s and then its `model` event.
    fn switching_to(&self) -> Option<IoModel> {
        let next = self.queue.iter().find(|i| !matches!(i, Item::Event(Event { body: EventBody::Ctl { .. }, .. })));
        match next {
            Some(Item::Event(Event { body: EventBody::Model { model, .. }, .. })) => Some(*model),
            _ => None,
        }
    }

    /// Plays one item: the state always moves; with `animate`, the picture and the log follow.
    pub(super) fn play(&mut self, item: Item, animate: bool) {
        let e = match item {
            Item::Snapshot(s) => {
                self.played_ts_ns = self.played_ts_ns.max(s.ts_ns);
                let dropped = self.snap.counters.dropped_events.max(s.counters.dropped_events);
                let before = self.snap.model;
                let at_ns = s.ts_ns;
                self.snap = s;
                self.snap.counters.dropped_events = dropped;
                let fds: Vec<i32> = self.snap.fds.iter().map(|f| f.fd).collect();
                self.flashes.retain(|fd, _| fds.binary_search(fd).is_ok());
                if animate {
                    let model = self.snap.model.map_or("unknown", |m| m.name());
                    let text = format!("snapshot: {} fds registered, {model} model", self.snap.fds.len());
                    self.log_line("sys", text);
                }
                // The first picture, or a switch whose `model` event this page never got.
                if let Some(now) = self.snap.model.filter(|m| before != Some(*m)) {
                    self.handover(before, now, at_ns, true);
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
        let mut back = None;
        let before_name = match &e.body {
            EventBody::Close { fd, .. } => Some(self.gone.remove(fd).map_or_else(|| name_of(&self.snap, *fd), |f| f.name)),
            EventBody::Ctl { fd, op, .. } => match (op, self.snap.fd(*fd)) {
                (CtlOp::Del, Some(f)) => {
                    // Bounded: a switch of the biggest room the page draws fits.
                    if self.gone.len() > GONE_CAP {
                        self.gone.clear();
                    }
                    self.gone.insert(*fd, f.clone());
                    Some(f.name.clone())
                }
                (_, Some(f)) => Some(f.name.clone()),
                // Deleted and added back, without a close between: the same connection.
                (CtlOp::Add, None) => {
                    back = self.gone.remove(fd);
                    Some(back.as_ref().map_or_else(|| format!("fd {fd}"), |f| f.name.clone()))
                }
                (_, None) => Some(format!("fd {fd}")),
            },
            _ => None,
        };
        let model_before = self.snap.model;
        self.snap.apply(&e);
        match (back, &e.body) {
            (Some(was), EventBody::Ctl { fd, error: None, .. }) => {
                if let Ok(i) = self.snap.fds.binary_search_by_key(fd, |f| f.fd) {
                    self.snap.fds[i].name = was.name;
                    self.snap.fds[i].pending_out = was.pending_out;
                }
            }
            // Refused: the close that follows still names it.
            (Some(was), EventBody::Ctl { fd, .. }) => {
                self.gone.insert(*fd, was);
            }
            _ => {}
        }
        // A gap stands for the events it left out: events per wakeup counts them too.
        self.events_played += e.body.stands_for();
        self.played_ts_ns = self.played_ts_ns.max(e.ts_ns);
        if let EventBody::Close { fd, .. } | EventBody::Ctl { op: CtlOp::Del, fd, .. } = &e.body {
            self.flashes.remove(fd);
        }
        // Counted and told even when folded: a rate needs every one, and a switch is rare and
        // changes what everything else on the page means.
        self.sweeps.see(&e.body, e.ts_ns);
        if let EventBody::Model { model, from } = &e.body {
            self.handover(from.or(model_before), *model, e.ts_ns, false);
        }
        if !animate {
            return;
        }
        let model = self.snap.model.unwrap_or_default();
        let id = self.id();
        // A switch rebuilds the new model's table before its `model` event says which model that
        // is: an add followed (past other adds and dels) by a `model` event is the new model's.
        let ctl_model = match &e.body {
            EventBody::Ctl { op: CtlOp::Add, .. } => self.switching_to().unwrap_or(model),
            _ => model,
        };
        match &e.body {
            EventBody::Wait { timeout_ms, registered, ready, ready_total, blocked_ns, scanned, rescan, overflow } => {
                for r in ready {
                    self.flash(r.fd, Flash::Ready);
                }
                self.wait = Some(WaitView {
                    id,
                    call: model.wait_call(),
                    timeout_ms: *timeout_ms,
                    registered: *registered,
                    ready: ready.clone(),
                    ready_total: *ready_total,
                    blocked_ms: *blocked_ns as f64 / 1e6,
                    scanned: *scanned,
                    rescan: *rescan,
                    overflow: *overflow,
                });
                if *ready_total > 0 {
                    let fds: Vec<String> = ready.iter().take(6).map(|r| format!("fd {} {}", r.fd, r.flags)).collect();
                    let more = if *ready_total as usize > fds.len() { " …" } else { "" };
                    self.phase = Some(Phase {
                        id,
                        step: 1,
                        text: format!(
                            "① the kernel has data: {} returned {ready_total} ready ({}{more})",
                            model.wait_call(),
                            fds.join(", ")
                        ),
                    });
                }
            }
            EventBody::Recv { fd, bytes, eof, would_block, .. } => {
                let text = if *bytes > 0 {
                    self.flash(*fd, Flash::Copy);
                    let name = name_of(&self.snap, *fd);
                    if model == IoModel::IoUring {
                        format!("② the kernel copied {bytes} bytes into the loop's buffer: recv(fd {fd}) completed ({name})")
                    } else {
                        format!("② recv(fd {fd}) copied {bytes} bytes from the kernel to user space ({name})")
                    }
                } else if *eof {
                    format!("② recv(fd {fd}) returned 0: the peer closed")
                } else if *would_block && model == IoModel::Nonblocking {
                    format!("② recv(fd {fd}) → EAGAIN: nothing there yet; the next sweep tries again")
                } else if *would_block {
                    format!("② recv(fd {fd}) → EAGAIN: drained, nothing more in the kernel")
                } else {
                    String::new()
                };
                if !text.is_empty() {
                    self.phase = Some(Phase { id, step: 2, text });
                }
            }
            EventBody::UringEnter { submitted, wait_nr, blocked_ns } => {
                let text = format!(
                    "① io_uring_enter handed the kernel {submitted} operations and waited {:.1} ms for {wait_nr} to complete",
                    *blocked_ns as f64 / 1e6
                );
                self.phase = Some(Phase { id, step: 1, text });
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
        // A gap already has its own line (above), which says who left the events out and why; a
        // switch has its own (`handover`), which says how many fds it handed over.
        if !matches!(e.body, EventBody::Gap { .. } | EventBody::Model { .. }) {
            let text = describe(&e.body, ctl_model, before_name.as_deref());
            push_capped(&mut self.log, LogLine { id, class: e.body.kind(), text }, LOG_CAP);
        }
    }
}
