//! The loop's end of a recording (`--record FILE`): every event, unfolded, packed on the loop
//! thread (a few bytes and tens of nanoseconds each) and handed to the recorder's thread, which
//! writes them, in batches: every [`REC_HANDOVER_NS`] or [`REC_HANDOVER_BYTES`], and before the
//! loop waits long. The loop never waits on the disk: when the recorder's queue is full (by
//! count or by bytes) the batch is counted as lost, and the first thing packed after it is a
//! `gap` that says how many (with `resync` when a lost event changed the fd table; a fresh
//! snapshot is then written after the gap). Nothing is lost silently.

use muxscope_shared::pack::Packer;
use muxscope_shared::record::CHUNK_TARGET;
use muxscope_shared::{Counters, Event, EventBody, Snapshot};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// Chunks the recorder's queue holds, and bytes (a disk that stalls holds the loop's memory
/// to this, not to 256 chunks of a MiB).
pub const REC_QUEUE_CHUNKS: usize = 256;
pub const REC_QUEUE_BYTES: u64 = 32 << 20;
/// Packed events are handed over once this many bytes are waiting, or [`REC_HANDOVER_NS`]
/// after the oldest of them: a busy loop turns thousands of times a second, and a hand-over
/// per turn would wake the recorder's thread (a futex and a context switch on a machine whose
/// cores the loop and its clients already use) as often.
pub const REC_HANDOVER_BYTES: usize = 256 << 10;
pub const REC_HANDOVER_NS: u64 = 20_000_000;

/// What crosses from the loop to the recorder's thread.
#[derive(Debug)]
pub enum RecChunk {
    /// Packed events (see `muxscope_shared::pack`), decodable on their own.
    Events {
        bytes: Vec<u8>,
        events: u64,
    },
    Snapshot(Box<Snapshot>),
}

/// Shared between the loop's end and the recorder's: what was recorded and lost.
#[derive(Debug, Default)]
pub struct RecStats {
    /// Events handed to the recorder, and events lost (its queue was full).
    pub events: AtomicU64,
    pub lost: AtomicU64,
    /// Bytes the recorder wrote to the file.
    pub written: AtomicU64,
    /// Packed bytes handed over and not yet written (bounded by [`REC_QUEUE_BYTES`]).
    pub queued: AtomicU64,
    /// The recorder stopped (a write failed); the summary says so.
    pub failed: AtomicBool,
}

pub struct RecTx {
    tx: SyncSender<RecChunk>,
    stats: Arc<RecStats>,
}

pub fn rec_channel() -> (RecTx, Receiver<RecChunk>, Arc<RecStats>) {
    let (tx, rx) = sync_channel(REC_QUEUE_CHUNKS);
    let stats = Arc::new(RecStats::default());
    (RecTx { tx, stats: stats.clone() }, rx, stats)
}

/// Kept by [`super::Telemetry`] while it records.
pub(super) struct RecLink {
    tx: SyncSender<RecChunk>,
    stats: Arc<RecStats>,
    packer: Packer,
    /// Of the events in `packer`, how many changed the fd table.
    table: u64,
    /// Lost and not yet told by a gap in the file; whether any of them changed the table.
    lost: u64,
    lost_table: bool,
    /// No snapshot written yet, or one is owed after a loss that changed the table.
    wants_snapshot: bool,
    first_snapshot: bool,
    /// The gap at the head of `packer`, if any: what it tells (lost again if its chunk is).
    gap_in_packer: Option<(u64, bool)>,
    /// When the oldest event waiting in `packer` was packed, and the newest event's time.
    since_ns: u64,
    last_ts_ns: u64,
    /// [`REC_HANDOVER_BYTES`] and [`REC_HANDOVER_NS`] (tests hand over every turn).
    handover_bytes: usize,
    handover_ns: u64,
}

impl RecLink {
    pub(super) fn new(rec: RecTx) -> RecLink {
        RecLink {
            tx: rec.tx,
            stats: rec.stats,
            packer: Packer::new(),
            table: 0,
            lost: 0,
            lost_table: false,
            wants_snapshot: true,
            first_snapshot: true,
            gap_in_packer: None,
            since_ns: 0,
            last_ts_ns: 0,
            handover_bytes: REC_HANDOVER_BYTES,
            handover_ns: REC_HANDOVER_NS,
        }
    }

    /// Tells the losses at a turn's start, with the totals, if nothing was packed since.
    pub(super) fn begin_turn(&mut self, now_ns: u64, counters: impl FnOnce() -> Counters) {
        self.tell_losses(now_ns, Some(counters));
    }

    /// Losses are told by a gap that is the first thing packed after them (after a loss the
    /// packer is empty: the batch went with it), wherever that happens: a turn's start, the
    /// next event, a snapshot, the end.
    fn tell_losses(&mut self, now_ns: u64, counters: Option<impl FnOnce() -> Counters>) {
        if self.lost == 0 || !self.packer.is_empty() {
            return;
        }
        let dropped = std::mem::take(&mut self.lost);
        let resync = std::mem::take(&mut self.lost_table);
        self.gap_in_packer = Some((dropped, resync));
        self.since_ns = now_ns;
        let counters = counters.map(|f| f());
        self.packer.push(&Event { seq: 0, ts_ns: now_ns, body: EventBody::Gap { dropped, folded: false, resync, counters } });
    }

    /// Losses to tell (the loop wakes soon to tell them). Packed events waiting for their
    /// hand-over do not wake it: it hands them over before it sleeps (`before_wait`), so a
    /// recording never adds a wakeup to the picture.
    pub(super) fn owes_gap(&self) -> bool {
        self.lost > 0
    }

    pub(super) fn has_waiting(&self) -> bool {
        !self.packer.is_empty()
    }

    /// Hands over what is packed if enough is waiting, or it has waited long enough.
    pub(super) fn flush_due(&mut self, now_ns: u64) -> bool {
        if self.packer.byte_len() >= self.handover_bytes || now_ns.saturating_sub(self.since_ns) >= self.handover_ns {
            self.flush()
        } else {
            true
        }
    }

    pub(super) fn push(&mut self, e: &Event, table: bool) {
        self.tell_losses(e.ts_ns, None::<fn() -> Counters>);
        self.last_ts_ns = e.ts_ns;
        if self.packer.is_empty() {
            self.since_ns = e.ts_ns;
        }
        self.packer.push(e);
        self.table += table as u64;
        if self.packer.byte_len() >= CHUNK_TARGET {
            self.flush();
        }
    }

    /// Hands the packed events over, or counts them lost. Never blocks. False once the
    /// recorder is gone (its thread failed): the caller stops recording.
    pub(super) fn flush(&mut self) -> bool {
        if self.packer.is_empty() {
            return true;
        }
        let events = self.packer.len() as u64;
        let table = std::mem::take(&mut self.table);
        let bytes = self.packer.take();
        let gap = self.gap_in_packer.take();
        let len = bytes.len() as u64;
        let room = self.stats.queued.load(Ordering::Relaxed) + len <= REC_QUEUE_BYTES;
        let sent = if room {
            self.tx.try_send(RecChunk::Events { bytes, events })
        } else {
            Err(TrySendError::Full(RecChunk::Events { bytes, events }))
        };
        match sent {
            Ok(()) => {
                self.stats.queued.fetch_add(len, Ordering::Relaxed);
                // A gap of the recording's own is not one of the loop's events.
                self.stats.events.fetch_add(events - gap.is_some() as u64, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) => {
                // The gap lost with the chunk is not an event of the loop; what it told is.
                let (told, told_table) = gap.unwrap_or((0, false));
                self.lose(events - gap.is_some() as u64, table > 0);
                self.lost += told;
                self.lost_table |= told_table;
                self.wants_snapshot |= told_table;
                true
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stats.lost.fetch_add(events, Ordering::Relaxed);
                false
            }
        }
    }

    fn lose(&mut self, events: u64, table: bool) {
        self.lost += events;
        self.lost_table |= table;
        self.wants_snapshot |= table;
        self.stats.lost.fetch_add(events, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub(super) fn hand_over_every_turn(&mut self) {
        self.handover_bytes = 0;
        self.handover_ns = 0;
    }

    pub(super) fn wants_snapshot(&self) -> bool {
        self.wants_snapshot
    }

    /// Writes `snap` after everything packed so far. The first one starts the file: events
    /// packed before it are already in it and are left out.
    pub(super) fn snapshot(&mut self, snap: Snapshot) -> bool {
        if self.first_snapshot {
            self.packer.take();
            self.table = 0;
            self.gap_in_packer = None;
            (self.lost, self.lost_table) = (0, false);
        } else {
            // The gap goes before the snapshot that repairs what it lost.
            self.tell_losses(snap.ts_ns, None::<fn() -> Counters>);
            if !self.flush() {
                return false;
            }
            if self.lost > 0 {
                // That hand-over failed too: its gap, then the snapshot, at a later try.
                return true;
            }
        }
        match self.tx.try_send(RecChunk::Snapshot(Box::new(snap))) {
            Ok(()) => {
                self.wants_snapshot = false;
                self.first_snapshot = false;
                true
            }
            Err(TrySendError::Full(_)) => true,
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

impl Drop for RecLink {
    /// The loop ended: what is still packed goes to the recorder, waiting for room if it must
    /// (the recorder is draining, and nothing else is left to do).
    fn drop(&mut self) {
        // Losses still untold are told at the end of the file, after its last event.
        self.tell_losses(self.last_ts_ns, None::<fn() -> Counters>);
        if self.packer.is_empty() {
            return;
        }
        let events = self.packer.len() as u64;
        let own = self.gap_in_packer.take().is_some() as u64;
        let bytes = self.packer.take();
        if self.tx.send(RecChunk::Events { bytes, events }).is_ok() {
            self.stats.events.fetch_add(events - own, Ordering::Relaxed);
        } else {
            self.stats.lost.fetch_add(events - own, Ordering::Relaxed);
        }
    }
}
