//! The hub's half of the owner: the mirror of the loop's state and the frames cut from it.

use super::{FRAME_CAP, RESYNC_EVERY};
use crate::gateway::frame::{snapshot_frame, Frame};
use muxscope_shared::{Event, EventBody, Snapshot};
use std::sync::Arc;
use std::time::Instant;

/// The loop's state as the hub knows it, and what the watchers are owed from it.
#[derive(Debug, Default)]
pub struct Mirror {
    /// The loop's state as of the last event applied. `None` from the moment watching starts
    /// from nobody until the loop's snapshot for that start arrives: the loop built no events
    /// while nobody watched, so what the mirror held then is no picture of the present.
    snap: Option<Snapshot>,
    /// The newest snapshot generation asked of the loop, and the one watching last started
    /// with: only a snapshot answering that one or a newer request is the present.
    asked: u64,
    floor: u64,
    /// The loop lost events that changed the table: only its own snapshot can fix the mirror.
    stale: bool,
    /// Events for the next frame (with whether each changed the table), and what it stands for.
    pending: Vec<Event>,
    pending_changed: Vec<bool>,
    pending_stands: u64,
    pending_table: bool,
    /// Past [`FRAME_CAP`] a tick's events are folded: counted, not sent.
    folded: u64,
    folded_table: bool,
    /// A fold left table changes out: every watcher is owed a snapshot.
    resync_owed: bool,
    last_resync: Option<Instant>,
    last_ask: Option<Instant>,
    /// Events folded so far (for `/api/stats`).
    pub folded_total: u64,
    /// The present as a snapshot frame, while the mirror has not moved: a crowd of watchers
    /// joining a quiet room shares one (each would otherwise hold its own 80 KB of JSON).
    present: Option<Arc<Frame>>,
}

/// What a tick gives the watchers, in order, and whether the loop must be asked for a snapshot
/// (of that generation).
#[derive(Debug, Default)]
pub struct TickOut {
    pub frames: Vec<Arc<Frame>>,
    pub ask_loop: Option<u64>,
}

impl Mirror {
    pub fn new() -> Mirror {
        Mirror::default()
    }

    fn ask(&mut self, now: Instant) -> u64 {
        self.asked += 1;
        self.last_ask = Some(now);
        self.asked
    }

    /// Watching starts from nobody. Returns the snapshot generation to ask the loop for.
    pub fn watching_started(&mut self, now: Instant) -> u64 {
        let floor = self.ask(now);
        *self = Mirror { asked: floor, floor, last_ask: self.last_ask, folded_total: self.folded_total, ..Mirror::default() };
        floor
    }

    /// The present as a snapshot frame, for a new watcher or one owed a snapshot; `None` until
    /// the mirror is the present (the asker waits for [`loop_snapshot`](Self::loop_snapshot)).
    pub fn present(&mut self) -> Option<Arc<Frame>> {
        let snap = self.snap.as_ref().filter(|_| !self.stale)?;
        match &self.present {
            // Same seq, same picture (seqs are the loop's clock).
            Some(f) if f.last_seq == snap.seq => Some(f.clone()),
            _ => Some(self.present.insert(snapshot_frame(snap)).clone()),
        }
    }

    /// The loop's events, in its order.
    pub fn loop_events(&mut self, events: Vec<Event>) {
        let Some(m) = self.snap.as_mut() else { return };
        for e in events {
            if e.seq <= m.seq && e.seq != 0 {
                // Before the mirror's snapshot: already in it.
                continue;
            }
            if let EventBody::Gap { resync: true, folded: false, .. } = e.body {
                self.stale = true;
            }
            let table = m.changed_by(&e.body);
            m.apply(&e);
            if self.pending.len() < FRAME_CAP {
                self.pending_stands += e.body.stands_for();
                self.pending_table |= table;
                self.pending_changed.push(table);
                self.pending.push(e);
            } else {
                self.folded += e.body.stands_for();
                self.folded_table |= table;
            }
        }
    }

    /// The loop's snapshot, answering the request of `generation`. When it is the present (it
    /// answers this watching's start or later), it becomes the mirror and the returned frame goes
    /// to every watcher and every waiting asker. An older one, asked before watching restarted,
    /// is dropped.
    pub fn loop_snapshot(&mut self, snap: Snapshot, generation: u64, now: Instant) -> Option<Arc<Frame>> {
        if generation < self.floor {
            return None;
        }
        // What was not yet cut into a frame is in the snapshot.
        let keep = self.pending.iter().position(|e| e.seq > snap.seq).unwrap_or(self.pending.len());
        self.pending.drain(..keep);
        self.pending_changed.drain(..keep);
        self.pending_stands = self.pending.iter().map(|e| e.body.stands_for()).sum();
        self.pending_table = self.pending_changed.iter().any(|&c| c);
        (self.folded, self.folded_table) = (0, false);
        let frame = snapshot_frame(&snap);
        self.snap = Some(snap);
        self.stale = false;
        self.resync_owed = false;
        self.last_resync = Some(now);
        Some(frame)
    }

    /// One tick: the frame of the events since the last one (its fold counted), then a resync
    /// snapshot when one is owed and due.
    pub fn tick(&mut self, now: Instant) -> TickOut {
        let mut out = TickOut::default();
        let due = |at: Option<Instant>| at.is_none_or(|t| now.duration_since(t) >= RESYNC_EVERY);
        if self.stale && due(self.last_ask) {
            out.ask_loop = Some(self.ask(now));
        }
        let Some(m) = self.snap.as_ref() else { return out };
        let events = self.pending_stands + self.folded;
        let table = self.pending_table || self.folded_table;
        if self.folded > 0 {
            // The totals after the folded events keep every watcher's counters exact; only a
            // change to the fd table needs a snapshot.
            self.folded_total += self.folded;
            self.pending.push(Event {
                seq: 0,
                ts_ns: m.ts_ns,
                body: EventBody::folded(self.folded, self.folded_table, m.counters.clone()),
            });
            self.pending_changed.push(self.folded_table);
            self.resync_owed |= self.folded_table;
        }
        if !self.pending.is_empty() {
            // Not the last event sent: the folded ones after it count too (see `Frame::last_seq`).
            let (list, changed) = (std::mem::take(&mut self.pending), std::mem::take(&mut self.pending_changed));
            out.frames.push(Arc::new(Frame::events(list, changed, m.seq, events, table, m.counters.clone())));
        }
        (self.pending_stands, self.pending_table, self.folded, self.folded_table) = (0, false, 0, false);
        if self.resync_owed && !self.stale && due(self.last_resync) {
            self.resync_owed = false;
            self.last_resync = Some(now);
            out.frames.push(snapshot_frame(m));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::frame::tests::events as parse;
    use muxscope_shared::{CtlOp, Interest, Role};
    use std::time::Duration;

    fn join(seq: u64) -> Event {
        Event {
            seq,
            ts_ns: seq,
            body: EventBody::Ctl { op: CtlOp::Add, fd: seq as i32 + 10, interest: Some(Interest::Read), role: Role::Tcp, error: None },
        }
    }

    #[test]
    fn frames_tile_the_seqs_and_a_fold_of_registrations_asks_for_a_resync() {
        let t0 = Instant::now();
        let mut m = Mirror::new();
        let g = m.watching_started(t0);
        assert!(m.present().is_none(), "nothing to show before the loop's snapshot");
        assert!(m.loop_snapshot(Snapshot::empty(), g, t0).is_some());
        // 400 registrations in one tick: a frame holds the first FRAME_CAP, the rest are folded.
        m.loop_events((1..=400).map(join).collect());
        let out = m.tick(t0 + Duration::from_secs(1));
        let f = &out.frames[0];
        assert_eq!((f.last_seq, f.events), (400, 400));
        assert_eq!(parse(&f.json).iter().filter(|e| e.seq != 0).count(), FRAME_CAP);
        assert!(f.resync && f.table, "the fold left out registrations: the frame says a snapshot follows");
        assert!(out.frames[1].snapshot, "and the snapshot follows, the resync being due");
        assert_eq!(out.frames[1].last_seq, 400);
        assert_eq!(m.folded_total, 400 - FRAME_CAP as u64);
    }

    #[test]
    fn a_snapshot_asked_before_watching_restarted_is_not_the_present() {
        let t0 = Instant::now();
        let mut m = Mirror::new();
        let g1 = m.watching_started(t0);
        let mut old = Snapshot::empty();
        old.seq = 5;
        assert!(m.loop_snapshot(old.clone(), g1, t0).is_some());
        // Everybody left and somebody came back: the old generation's snapshot arrives late.
        let g2 = m.watching_started(t0);
        assert!(g2 > g1);
        assert!(m.present().is_none(), "the mirror is no picture of the present any more");
        assert!(m.loop_snapshot(old, g1, t0).is_none());
        assert!(m.present().is_none());
        let mut now = Snapshot::empty();
        now.seq = 3000;
        assert_eq!(m.loop_snapshot(now, g2, t0).unwrap().last_seq, 3000);
        assert_eq!(m.present().unwrap().last_seq, 3000);
    }

    #[test]
    fn a_stale_mirror_asks_the_loop_with_a_new_generation_until_it_answers() {
        let t0 = Instant::now();
        let mut m = Mirror::new();
        let g = m.watching_started(t0);
        m.loop_snapshot(Snapshot::empty(), g, t0);
        m.loop_events(vec![Event { seq: 9, ts_ns: 9, body: EventBody::Gap { dropped: 8, folded: false, resync: true, counters: None } }]);
        assert!(m.present().is_none(), "a stale mirror is not sent as the present");
        let a1 = m.tick(t0 + RESYNC_EVERY).ask_loop.expect("asks the loop");
        assert!(m.tick(t0 + RESYNC_EVERY + Duration::from_millis(40)).ask_loop.is_none(), "at most every RESYNC_EVERY");
        let a2 = m.tick(t0 + RESYNC_EVERY * 2).ask_loop.expect("asks again");
        assert!(a2 > a1, "a new generation, or the loop would take it as served");
        let mut s = Snapshot::empty();
        s.seq = 9;
        assert!(m.loop_snapshot(s, a1, t0).is_some(), "any answer since watching started will do");
        assert!(m.present().is_some());
    }
}
