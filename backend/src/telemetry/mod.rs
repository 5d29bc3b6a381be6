//! The loop's side of the event stream: a bounded queue it never blocks on.
//!
//! Events are built only while someone listens (one relaxed atomic load per loop turn decides),
//! but every event is numbered either way: `seq` is the loop's clock, so two pictures with the
//! same seq are the same picture, even across a time nobody watched. Events are
//! collected in a per-turn batch and handed over with one `try_send` per turn. When the queue is
//! full the batch is dropped and counted; the next event the consumer sees is a `gap` that says
//! how many were lost. Nothing is lost silently and nothing waits.
//!
//! A flooded turn describes only its first [`TURN_DETAIL`] events that leave the fd table as it
//! was (waits, reads, broadcasts, flushes that emptied their queue); the rest are counted and
//! told by a folded `gap` at the end of the turn, with the totals after them. Every event
//! that changes the table is still built, so the consumer's picture stays exact. A watcher draws
//! a few hundred events a second; building ten thousand a turn for it only cost the loop.
//!
//! A recording (`--record`, [`rec`]) is a second consumer with its own accounting: it takes
//! every event, unfolded, whether or not anyone watches, and its losses are its own gaps.

mod rec;

use crate::sys::monotonic_ns;
use muxscope_shared::{Counters, Event, EventBody, Snapshot};
pub use rec::{rec_channel, RecChunk, RecStats, RecTx, REC_HANDOVER_BYTES, REC_HANDOVER_NS, REC_QUEUE_BYTES, REC_QUEUE_CHUNKS};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// Most events one loop turn may queue; the rest of that turn is counted as dropped.
pub const MAX_BATCH: usize = 4096;
/// Events that do not change the fd table one loop turn describes; the rest are folded.
pub const TURN_DETAIL: usize = 512;
/// After the consumer's queue was found full, this many turns only count their events (a
/// consumer that fell behind gets a gap either way; building events it cannot take is waste).
const BACKOFF_TURNS: u32 = 16;
/// Batches the queue holds before the loop starts dropping.
pub const QUEUE_BATCHES: usize = 32;

/// What crosses from the loop thread to the consumer.
#[derive(Debug)]
pub enum Batch {
    Events(Vec<Event>),
    /// The loop's state, answering the snapshot request of `generation` (or a newer one).
    Snapshot {
        snap: Box<Snapshot>,
        generation: u64,
    },
}

/// Shared between the loop and its consumer.
#[derive(Debug, Default)]
pub struct Tap {
    /// Set by the consumer while anyone wants events.
    pub subscribed: AtomicBool,
    /// Events dropped by the loop so far (also reported in-band as `gap`).
    pub dropped: AtomicU64,
}

pub struct Telemetry {
    link: Option<(SyncSender<Batch>, Arc<Tap>)>,
    /// Events are built this turn: someone watches, or a recording runs.
    enabled: bool,
    /// Someone watches this turn (the live stream's accounting below is about them).
    watched: bool,
    rec: Option<rec::RecLink>,
    seq: u64,
    epoch_ns: u64,
    batch: Vec<Event>,
    /// Turns left in which events are counted, not built.
    backoff: u32,
    /// Dropped and not yet reported by a delivered `gap`.
    unreported: u64,
    /// What the `gap` in the current batch reports.
    gap_in_batch: u64,
    /// Of the unreported, how many changed the fd table (the consumer must resync), and how
    /// many of those the `gap` in the current batch covers.
    unreported_table: u64,
    gap_table: u64,
    dropped_total: u64,
    /// Events this turn that leave the fd table as it was, built so far.
    detail: usize,
    /// Of the events in `batch`, how many changed the fd table (if the batch is lost, a resync).
    batch_table: u64,
    /// Folded (counted, not built) and not yet told by a delivered folded `gap`, and how many
    /// the folded `gap` in the current batch tells.
    folded_unreported: u64,
    folded_in_batch: u64,
}

/// The consumer's end.
pub struct TelemetryRx {
    pub rx: Receiver<Batch>,
    pub tap: Arc<Tap>,
}

pub fn channel() -> (Telemetry, TelemetryRx) {
    let (tx, rx) = sync_channel(QUEUE_BATCHES);
    let tap = Arc::new(Tap::default());
    let mut tel = Telemetry::disabled();
    tel.link = Some((tx, tap.clone()));
    (tel, TelemetryRx { rx, tap })
}

impl Telemetry {
    /// Emits nothing, costs one branch per call site.
    pub fn disabled() -> Telemetry {
        Telemetry {
            link: None,
            enabled: false,
            watched: false,
            rec: None,
            backoff: 0,
            seq: 0,
            epoch_ns: monotonic_ns(),
            batch: Vec::new(),
            unreported: 0,
            gap_in_batch: 0,
            unreported_table: 0,
            gap_table: 0,
            dropped_total: 0,
            detail: 0,
            batch_table: 0,
            folded_unreported: 0,
            folded_in_batch: 0,
        }
    }

    /// Called once per loop turn: are we being watched? `counters` (called only when a `gap` is
    /// due) are the loop's totals now, which the gap carries so a consumer's counters stay exact.
    pub fn begin_turn(&mut self, counters: impl FnOnce() -> Counters) {
        self.backoff = self.backoff.saturating_sub(1);
        self.watched = match &self.link {
            Some((_, tap)) => tap.subscribed.load(Ordering::Relaxed),
            None => false,
        };
        self.enabled = self.watched || self.rec.is_some();
        self.detail = 0;
        let mut counters = Some(counters);
        let mut totals = move || counters.take().map(|f| f()).unwrap_or_default();
        let mut cached: Option<Counters> = None;
        if let Some(rec) = &mut self.rec {
            if rec.owes_gap() {
                let now = monotonic_ns().saturating_sub(self.epoch_ns);
                let c = cached.get_or_insert_with(&mut totals).clone();
                rec.begin_turn(now, || c);
            }
        }
        if !self.watched {
            // Folded while someone watched, and nobody does now: there is no one to tell.
            self.folded_unreported = 0;
            return;
        }
        // Folds are told by `end_turn`, which also retries them after a full queue.
        if self.backoff == 0 && self.unreported > 0 && self.gap_in_batch == 0 {
            let dropped = self.unreported;
            self.gap_in_batch = dropped;
            self.gap_table = self.unreported_table;
            let counters = Counters { dropped_events: self.dropped_total, ..cached.unwrap_or_else(totals) };
            let resync = self.gap_table > 0;
            self.push(resync, EventBody::Gap { dropped, folded: false, resync, counters: Some(counters) });
        }
    }

    /// Starts recording every event, unfolded, to `rec` (see [`rec`]).
    pub fn record_to(&mut self, rec: RecTx) {
        self.rec = Some(rec::RecLink::new(rec));
    }

    /// The loop is about to wait up to `timeout` (None: until something happens). Packed
    /// events that would wait longer than their hand-over delay for the next turn go to the
    /// recorder now.
    pub fn before_wait(&mut self, timeout: Option<std::time::Duration>) {
        let long = timeout.is_none_or(|t| t.as_nanos() >= REC_HANDOVER_NS as u128);
        if let Some(rec) = &mut self.rec {
            if long && rec.has_waiting() && !rec.flush() {
                self.stop_recording();
            }
        }
    }

    #[cfg(test)]
    fn record_every_turn(&mut self) {
        if let Some(r) = &mut self.rec {
            r.hand_over_every_turn();
        }
    }

    /// The recording needs a snapshot (its first, or one after a loss that changed the table).
    pub fn record_wants_snapshot(&self) -> bool {
        self.rec.as_ref().is_some_and(|r| r.wants_snapshot())
    }

    /// Writes `snap` into the recording after every event emitted so far.
    pub fn record_snapshot(&mut self, snap: Snapshot) {
        if let Some(rec) = &mut self.rec {
            if !rec.snapshot(snap) {
                self.stop_recording();
            }
        }
    }

    fn stop_recording(&mut self) {
        tracing::error!("the recorder stopped (see its error above); the loop goes on without recording");
        self.rec = None;
        self.enabled = self.watched;
    }

    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Drops are waiting to be reported by a `gap` (the loop should not sleep on them).
    pub fn owes_gap(&self) -> bool {
        (self.watched && (self.unreported > 0 || self.folded_unreported > 0)) || self.rec.as_ref().is_some_and(|r| r.owes_gap())
    }

    /// Records one event. The closure runs only while someone listens and the event can be
    /// queued; otherwise the event is only counted (and reported by the next `gap`).
    #[inline]
    pub fn emit(&mut self, body: impl FnOnce() -> EventBody) {
        self.record(false, body);
    }

    /// [`emit`](Self::emit) for an event that changes the fd table (see
    /// [`EventBody::changes_table`]): if it is lost, the next `gap` asks for a resync.
    #[inline]
    pub fn emit_table(&mut self, body: impl FnOnce() -> EventBody) {
        self.record(true, body);
    }

    #[inline]
    fn record(&mut self, table: bool, body: impl FnOnce() -> EventBody) {
        if !self.enabled {
            // Numbered all the same: a snapshot taken after it must be newer than one before.
            self.seq += 1;
            return;
        }
        // The watchers' share: built, or only counted (dropped after a full queue, or folded).
        let watchers = if !self.watched {
            false
        } else if self.backoff > 0 || self.batch.len() >= MAX_BATCH {
            self.unreported_table += table as u64;
            self.drop_events(1);
            false
        } else if !table && self.detail >= TURN_DETAIL {
            self.folded_unreported += 1;
            false
        } else {
            self.detail += !table as usize;
            true
        };
        self.seq += 1;
        if !watchers && self.rec.is_none() {
            return;
        }
        let e = Event { seq: self.seq, ts_ns: self.now_ns(), body: body() };
        if let Some(rec) = &mut self.rec {
            rec.push(&e, table);
        }
        if watchers {
            self.batch_table += table as u64;
            if self.batch.capacity() == 0 {
                self.batch.reserve(256);
            }
            self.batch.push(e);
        }
    }

    /// The watchers' own events (their gaps): numbered, but not recorded. `table`: the event
    /// changes the fd table (the caller knows; the body alone may not).
    fn push(&mut self, table: bool, body: EventBody) {
        self.seq += 1;
        if self.batch.len() >= MAX_BATCH {
            self.unreported_table += table as u64;
            self.drop_events(1);
            return;
        }
        self.batch_table += table as u64;
        if self.batch.capacity() == 0 {
            self.batch.reserve(256);
        }
        self.batch.push(Event { seq: self.seq, ts_ns: self.now_ns(), body });
    }

    fn drop_events(&mut self, n: u64) {
        self.unreported += n;
        self.dropped_total += n;
        if let Some((_, tap)) = &self.link {
            tap.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn now_ns(&self) -> u64 {
        monotonic_ns().saturating_sub(self.epoch_ns)
    }

    /// The seq of the last event emitted (or dropped).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }

    /// Ends a turn: what it folded is told at once, by a folded gap at the end of its own batch
    /// with the totals after it (`counters`, called only then), so the loop need not wake again
    /// just to say so. Then [`flush`](Self::flush).
    pub fn end_turn(&mut self, counters: impl FnOnce() -> Counters) {
        if self.watched && self.backoff == 0 && self.folded_unreported > 0 && self.folded_in_batch == 0 {
            // Only events that left the table as it was are folded: no resync.
            let folded = self.folded_unreported;
            self.folded_in_batch = folded;
            let counters = Counters { dropped_events: self.dropped_total, ..counters() };
            self.push(false, EventBody::folded(folded, false, counters));
        }
        self.flush();
    }

    /// Hands this turn's events to the consumer, or counts them as dropped. Never blocks.
    pub fn flush(&mut self) {
        let now = self.now_ns();
        if let Some(rec) = &mut self.rec {
            if !rec.flush_due(now) {
                self.stop_recording();
            }
        }
        if self.batch.is_empty() {
            return;
        }
        let Some((tx, _)) = &self.link else {
            self.batch.clear();
            self.batch_table = 0;
            return;
        };
        let batch = std::mem::take(&mut self.batch);
        let batch_table = std::mem::take(&mut self.batch_table);
        let gap = std::mem::take(&mut self.gap_in_batch);
        let gap_table = std::mem::take(&mut self.gap_table);
        let folded = std::mem::take(&mut self.folded_in_batch);
        match tx.try_send(Batch::Events(batch)) {
            Ok(()) => {
                self.unreported -= gap;
                self.unreported_table -= gap_table;
                self.folded_unreported -= folded;
            }
            Err(TrySendError::Full(Batch::Events(b))) => {
                // Lost with the batch: its own gap, which the next gap will cover.
                self.drop_events(b.len() as u64);
                self.unreported_table += batch_table;
                self.backoff = BACKOFF_TURNS;
                // Keep the allocation for the next turn.
                self.batch = b;
                self.batch.clear();
            }
            Err(TrySendError::Full(_)) => unreachable!("sent an events batch"),
            Err(TrySendError::Disconnected(_)) => {
                self.link = None;
                self.watched = false;
                self.enabled = self.rec.is_some();
            }
        }
    }

    /// Queues a snapshot after everything emitted so far, answering the request of `generation`.
    /// False when the queue is full (ask again next turn).
    pub fn send_snapshot(&mut self, snap: Snapshot, generation: u64) -> bool {
        self.flush();
        let Some((tx, _)) = &self.link else { return true };
        match tx.try_send(Batch::Snapshot { snap: Box::new(snap), generation }) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => false,
            Err(TrySendError::Disconnected(_)) => {
                self.link = None;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests;
