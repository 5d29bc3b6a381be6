//! One item folded into the scene. Pure: the same items always give the same scene, whether the
//! page animated them, folded them in a flood, or replays them to seek.

use super::log::LogEntry;
use super::scene::{Flash, Played, Scene, LOG_CAP};
use super::Item;
use muxscope_shared::{CtlOp, Event, EventBody, Snapshot};
use std::rc::Rc;

/// Most fds remembered between their `ctl del` and what follows it (a close or, in a switch,
/// the add back).
const GONE_CAP: usize = 100_000;

impl Scene {
    /// Folds the item at history index `index`.
    pub fn apply(&mut self, index: u64, item: Item) {
        match item {
            Item::Snapshot(s) => self.apply_snapshot(index, s),
            Item::Event(e) => self.apply_event(index, e),
        }
    }

    pub(super) fn push_log(&mut self, entry: LogEntry) {
        if self.log.len() >= LOG_CAP {
            self.log.pop_front();
        }
        self.log.push_back(entry);
    }

    fn apply_snapshot(&mut self, index: u64, s: Snapshot) {
        self.ts_ns = self.ts_ns.max(s.ts_ns);
        let dropped = self.snap.counters.dropped_events.max(s.counters.dropped_events);
        let before = self.snap.model;
        let at_ns = s.ts_ns;
        self.snap = s;
        self.snap.counters.dropped_events = dropped;
        let snap = &self.snap;
        self.flashes.retain(|fd, _| snap.fd(*fd).is_some());
        if !self.snap.handover {
            self.building = None;
        }
        self.push_log(LogEntry::Snapshot { index, fds: self.snap.fds.len(), model: self.snap.model });
        // The first picture, or a switch whose `model` event this page never got.
        if let Some(now) = self.snap.model.filter(|m| before != Some(*m)) {
            self.handover(index, before, now, at_ns, true);
        }
    }

    fn apply_event(&mut self, index: u64, e: Event) {
        if let EventBody::Gap { dropped, folded, .. } = e.body {
            if folded {
                self.totals.folded += dropped;
            } else {
                self.totals.dropped += dropped;
            }
        }
        let stale = e.seq != 0 && e.seq <= self.snap.seq;
        if stale {
            // A gap is counted and told even when the picture is past it.
            if matches!(e.body, EventBody::Gap { .. }) {
                let model = self.snap.model.unwrap_or_default();
                self.push_log(LogEntry::Event(Rc::new(Played { index, event: e, model, name: None })));
            }
            return;
        }
        // Names as they were before this event (a close forgets them); none for an fd the
        // picture does not know (the view says its number).
        let name_of = |s: &Snapshot, fd: i32| s.fd(fd).map(|f| f.name.clone());
        let mut back = None;
        let name = match &e.body {
            EventBody::Close { fd, .. } => self.gone.remove(fd).map_or_else(|| name_of(&self.snap, *fd), |f| Some(f.name)),
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
                    back.as_ref().map(|f| f.name.clone())
                }
                (_, None) => None,
            },
            EventBody::Recv { fd, bytes, .. } if *bytes > 0 => name_of(&self.snap, *fd),
            _ => None,
        };
        self.insight.see(index, &e, name.as_deref(), &self.snap, self.building);
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
        self.totals.events += e.body.stands_for();
        self.ts_ns = self.ts_ns.max(e.ts_ns);
        if let EventBody::Close { fd, .. } | EventBody::Ctl { op: CtlOp::Del, fd, .. } = &e.body {
            self.flashes.remove(fd);
        }
        self.sweeps.see(&e.body, e.ts_ns);
        match &e.body {
            EventBody::Handover { to, .. } => self.building = Some(*to),
            EventBody::Model { model, from } => {
                self.building = None;
                self.handover(index, from.or(model_before), *model, e.ts_ns, false);
                // Told by the switch's own entry.
                return;
            }
            _ => {}
        }
        let serving = self.snap.model.unwrap_or_default();
        // A switch rebuilds the new model's table before its `model` event: an add while a
        // handover is under way is the new model's.
        let model = match &e.body {
            EventBody::Ctl { op: CtlOp::Add, .. } => self.building.unwrap_or(serving),
            _ => serving,
        };
        let p = Rc::new(Played { index, event: e, model, name });
        match &p.event.body {
            EventBody::Wait { ready, ready_total, .. } => {
                for r in ready {
                    self.flashes.insert(r.fd, (Flash::Ready, index));
                }
                self.wait = Some(p.clone());
                if *ready_total > 0 {
                    self.phase = Some(p.clone());
                }
            }
            EventBody::Recv { fd, bytes, eof, would_block, .. } => {
                if *bytes > 0 {
                    self.flashes.insert(*fd, (Flash::Copy, index));
                }
                if *bytes > 0 || *eof || *would_block {
                    self.phase = Some(p.clone());
                }
            }
            EventBody::UringEnter { .. } => self.phase = Some(p.clone()),
            EventBody::Broadcast { .. } => {
                self.fanout = Some(p.clone());
                self.phase = Some(p.clone());
            }
            EventBody::Send { fd, .. } => {
                self.flashes.insert(*fd, (Flash::Send, index));
            }
            EventBody::Ctl { op: CtlOp::Add, fd, error: None, .. } => {
                self.flashes.insert(*fd, (Flash::Join, index));
            }
            _ => {}
        }
        self.push_log(LogEntry::Event(p));
    }
}
