//! The hub sits between the loop's telemetry queue and any number of browsers.
//!
//! A plain thread (the queue is a std channel) that keeps a mirror of the loop's state — the
//! last snapshot moved forward by every event — and cuts the stream into frames, one per tick,
//! each serialized once for every subscriber. A frame holds at most [`FRAME_CAP`] events; the
//! rest of a busy tick is folded into a counted `gap` that carries the totals after them, and,
//! when the folded events changed the fd table, a fresh snapshot follows (at most twice a
//! second). So a browser always ends up with the exact state and an honest count of what it
//! did not see, without parsing a thousand-fd snapshot for every busy tick.

use crate::chat::Control;
use crate::telemetry::{Batch, Tap, TelemetryRx};
use muxscope_shared::{Counters, Event, EventBody, ServerMsg, Snapshot};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot};

/// One frame every 40 ms (25 per second): smooth enough to animate, cheap to parse.
pub const TICK: Duration = Duration::from_millis(40);
/// Events per frame (3,750 a second); a busier tick is folded (a `gap` marked `folded`). A
/// busy page animates about a hundred events a second: parsing more would only cost it frames
/// and take CPU from everything else on the machine.
pub const FRAME_CAP: usize = 150;
/// When lost or folded events changed the fd table, a fresh snapshot resyncs the browsers, at
/// most this often (a snapshot of a thousand fds is ~80 KB of JSON to parse).
pub const RESYNC_EVERY: Duration = Duration::from_millis(500);
/// Frames a subscriber may fall behind before it is told it lagged (default).
pub const SUBSCRIBER_BACKLOG: usize = 128;

/// A serialized `/ws/events` message and the event seqs it covers.
#[derive(Debug)]
pub struct Frame {
    pub json: String,
    /// For a snapshot, the snapshot's seq; for events, the newest event the frame stands for,
    /// the ones it folded included (the mirror's seq when it was cut). A subscriber that has
    /// seen up to this seq can skip the frame and lose nothing.
    pub last_seq: u64,
    pub snapshot: bool,
    /// Events the frame stands for (sent and folded), whether any of them changed the fd table,
    /// and the totals after them: what a subscriber that skips the frame must be told instead.
    pub events: u64,
    pub table: bool,
    pub counters: Counters,
    /// It carries a `gap` asking for a resync (the loop lost table changes, or the hub folded
    /// some): a page that gets it waits for a snapshot, even one no newer than this frame.
    pub resync: bool,
    /// The events the JSON holds (none for a snapshot or a gap), kept for [`Frame::still`].
    list: Vec<Event>,
    still: OnceLock<Still>,
}

/// Events a still picture is sent (and the frame's last wakeup): a little under what a busy page
/// animates of one picture (24, with room for the wakeup and the gaps). The rest of its frame is
/// folded into the gap after them.
pub const STILL_EVENTS: usize = 20;

/// A frame cut down for a page that draws still pictures (see [`Frame::still`]).
#[derive(Debug)]
pub struct Still {
    pub json: String,
    /// Events this cut left out changed the fd table: only the session that sends it knows, so
    /// it must ask for a snapshot. (A gap the frame already carried says so itself, with
    /// `resync`, and the hub sends the snapshot for it.)
    pub table: bool,
}

impl Frame {
    /// Whether a subscriber that has everything up to `seen` still needs this frame: whether it
    /// stands for anything newer (an events frame's `last_seq` covers what it folded too).
    pub fn needed_after(&self, seen: u64) -> bool {
        self.last_seq > seen
    }

    /// The frame as a page drawing one still picture a second wants it: only its last
    /// [`STILL_EVENTS`] events (and its last `wait`), then one folded gap standing for the rest
    /// (and for any gap the frame carried) with the totals after all of them, so the page's
    /// counts stay exact. A page of a flood parses and draws a few thousand bytes a second
    /// instead of ~30 KB. Built once, by the first still subscriber that sends it, and shared.
    pub fn still(&self) -> &Still {
        self.still.get_or_init(|| {
            // The loop's events (its own gaps included); the hub's gaps have seq 0.
            let (real, hub_gaps): (Vec<&Event>, Vec<&Event>) = self.list.iter().partition(|e| e.seq != 0);
            if real.len() <= STILL_EVENTS && hub_gaps.is_empty() {
                return Still { json: self.json.clone(), table: false };
            }
            let skip = real.len().saturating_sub(STILL_EVENTS);
            // The picture's wakeup: the frame's last `wait`, kept even when it is older than the
            // tail, so the page's wait bar shows this flood's ready list, not one from before it.
            let wait = real.iter().rposition(|e| matches!(e.body, EventBody::Wait { .. })).filter(|&i| i < skip);
            let (mut events, mut dropped, mut cut_table) = (Vec::new(), 0, false);
            for (i, e) in real.into_iter().enumerate() {
                if i >= skip || Some(i) == wait {
                    events.push(e.clone());
                } else {
                    dropped += e.body.stands_for();
                    cut_table |= e.body.changes_table();
                }
            }
            dropped += hub_gaps.iter().map(|e| e.body.stands_for()).sum::<u64>();
            let resync = cut_table || hub_gaps.iter().any(|e| e.body.changes_table());
            let ts_ns = events.last().map_or(0, |e| e.ts_ns);
            events.push(Event { seq: 0, ts_ns, body: EventBody::folded(dropped, resync, self.counters.clone()) });
            let json = serde_json::to_string(&ServerMsg::Events { events }).expect("events serialize");
            Still { json, table: cut_table }
        })
    }
}

type SnapshotReply = oneshot::Sender<Arc<Frame>>;

pub struct Hub {
    frames: broadcast::Sender<Arc<Frame>>,
    requests: Mutex<mpsc::Sender<SnapshotReply>>,
    subscribers: AtomicUsize,
    /// Bumped each time watching starts from nobody: the mirror is stale until the next snapshot.
    epoch: AtomicU64,
    tap: Arc<Tap>,
    control: Control,
    /// Frames folded because a tick was over [`FRAME_CAP`].
    pub folded_events: AtomicU64,
}

/// While alive, the loop emits events. Dropped when a browser leaves.
pub struct Subscription {
    hub: Arc<Hub>,
    pub frames: broadcast::Receiver<Arc<Frame>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if self.hub.subscribers.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.hub.tap.subscribed.store(false, Ordering::SeqCst);
        }
    }
}

impl Hub {
    /// `backlog`: frames a subscriber may fall behind before it gets a gap and a snapshot.
    pub fn start(rx: TelemetryRx, control: Control, backlog: usize) -> std::io::Result<Arc<Hub>> {
        let (frames, _) = broadcast::channel(backlog.max(1));
        let (req_tx, req_rx) = mpsc::channel();
        let hub = Arc::new(Hub {
            frames,
            requests: Mutex::new(req_tx),
            subscribers: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
            tap: rx.tap.clone(),
            control,
            folded_events: AtomicU64::new(0),
        });
        let h = hub.clone();
        std::thread::Builder::new().name("event-hub".into()).spawn(move || h.run(rx, req_rx))?;
        Ok(hub)
    }

    pub fn loop_dropped(&self) -> u64 {
        self.tap.dropped.load(Ordering::Relaxed)
    }

    pub fn subscriber_count(&self) -> usize {
        self.subscribers.load(Ordering::SeqCst)
    }

    /// Starts watching. The first subscriber turns the loop's telemetry on and asks it for a
    /// snapshot to rebuild the mirror from.
    pub fn subscribe(self: &Arc<Self>) -> Subscription {
        let frames = self.frames.subscribe();
        if self.subscribers.fetch_add(1, Ordering::SeqCst) == 0 {
            self.epoch.fetch_add(1, Ordering::SeqCst);
            self.tap.subscribed.store(true, Ordering::SeqCst);
            self.control.request_snapshot();
        }
        Subscription { hub: self.clone(), frames }
    }

    /// The present state, as a snapshot frame (waits for the loop's snapshot if the mirror is
    /// stale).
    pub async fn snapshot(&self) -> Option<Arc<Frame>> {
        let (tx, rx) = oneshot::channel();
        self.requests.lock().ok()?.send(tx).ok()?;
        tokio::time::timeout(Duration::from_secs(5), rx).await.ok()?.ok()
    }

    fn run(self: Arc<Self>, rx: TelemetryRx, requests: mpsc::Receiver<SnapshotReply>) {
        let mut mirror: Option<Snapshot> = None;
        let mut mirror_epoch = 0;
        let mut pending: Vec<Event> = Vec::new();
        let mut folded: u64 = 0;
        // A folded event changed the fd table: the browsers need a snapshot.
        let mut folded_table = false;
        // A sent one did (a subscriber that skips the frame needs a snapshot).
        let mut pending_table = false;
        let mut waiting: Vec<SnapshotReply> = Vec::new();
        let mut next_tick = Instant::now() + TICK;
        let mut resync_owed = false;
        // The loop lost events that changed the fd table: only its own snapshot can fix the mirror.
        let mut mirror_stale = false;
        let mut last_snapshot = Instant::now();
        let mut last_request = Instant::now() - RESYNC_EVERY;
        loop {
            let epoch = self.epoch.load(Ordering::SeqCst);
            if epoch != mirror_epoch {
                // Watching restarted: events were not emitted meanwhile, so the mirror is stale.
                mirror = None;
                mirror_epoch = epoch;
                pending.clear();
                folded = 0;
                folded_table = false;
                pending_table = false;
            }
            let wait = next_tick.saturating_duration_since(Instant::now());
            match rx.rx.recv_timeout(wait) {
                Ok(Batch::Events(events)) => {
                    if let Some(m) = mirror.as_mut() {
                        for e in events {
                            // The loop's gaps carry its totals (applied below) and say whether
                            // what it lost changed the fd table.
                            if let EventBody::Gap { resync: true, folded: false, .. } = e.body {
                                mirror_stale = true;
                            }
                            m.apply(&e);
                            if pending.len() < FRAME_CAP {
                                pending_table |= e.body.changes_table();
                                pending.push(e);
                            } else {
                                folded += e.body.stands_for();
                                folded_table |= e.body.changes_table();
                            }
                        }
                    }
                }
                Ok(Batch::Snapshot(s)) => {
                    // Requested after the epoch began, so it is fresh for this epoch.
                    mirror_epoch = self.epoch.load(Ordering::SeqCst);
                    pending.retain(|e| e.seq > s.seq);
                    let frame = snapshot_frame(&s);
                    tracing::debug!(seq = s.seq, fds = s.fds.len(), waiting = waiting.len(), "hub: the loop's snapshot");
                    let _ = self.frames.send(frame.clone());
                    for w in waiting.drain(..) {
                        let _ = w.send(frame.clone());
                    }
                    mirror = Some(*s);
                    mirror_stale = false;
                    resync_owed = false;
                    last_snapshot = Instant::now();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            // Ask the loop for the truth, at most twice a second; its snapshot resets the mirror
            // and every browser.
            if mirror_stale && last_request.elapsed() >= RESYNC_EVERY {
                last_request = Instant::now();
                self.control.request_snapshot();
            }
            while let Ok(req) = requests.try_recv() {
                match &mirror {
                    // A stale mirror lost table changes: the loop's own snapshot answers instead. A
                    // stale one, sent as the present, would leave a page wrong with nothing newer
                    // coming to fix it.
                    Some(m) if !mirror_stale => {
                        let _ = req.send(snapshot_frame(m));
                    }
                    _ => waiting.push(req),
                }
            }
            if Instant::now() >= next_tick {
                next_tick = Instant::now() + TICK;
                let Some(m) = mirror.as_ref() else { continue };
                // Not the last event sent: the folded ones after it count too. A session that
                // got a snapshot newer than the sent events but older than the folded ones must
                // take this frame, whose gap says the folded ones changed the fd table.
                let last_seq = m.seq;
                let events = pending.len() as u64 + folded;
                let table = std::mem::take(&mut pending_table) || folded_table;
                if folded > 0 {
                    // The totals after the folded events keep every browser's counters exact;
                    // only a change to the fd table needs a snapshot.
                    self.folded_events.fetch_add(folded, Ordering::Relaxed);
                    pending.push(Event { seq: 0, ts_ns: m.ts_ns, body: EventBody::folded(folded, folded_table, m.counters.clone()) });
                    resync_owed |= folded_table;
                    folded = 0;
                    folded_table = false;
                }
                if !pending.is_empty() {
                    let msg = ServerMsg::Events { events: std::mem::take(&mut pending) };
                    let json = serde_json::to_string(&msg).expect("events serialize");
                    let ServerMsg::Events { events: list } = msg else { unreachable!("built as events") };
                    // The loop's gap or the hub's own fold left table changes out: the page needs
                    // the snapshot that follows even when it is no newer than this frame (the hub
                    // sends it at most every RESYNC_EVERY, often after the flood's last frame).
                    let resync = list.iter().any(|e| matches!(e.body, EventBody::Gap { resync: true, .. }));
                    let frame = Frame { json, last_seq, snapshot: false, events, table, counters: m.counters.clone(), resync, list, still: OnceLock::new() };
                    let _ = self.frames.send(Arc::new(frame));
                }
                if resync_owed && !mirror_stale && last_snapshot.elapsed() >= RESYNC_EVERY {
                    resync_owed = false;
                    last_snapshot = Instant::now();
                    tracing::debug!(seq = m.seq, fds = m.fds.len(), "hub: resync snapshot");
                    let _ = self.frames.send(snapshot_frame(m));
                }
            }
        }
    }
}

pub fn snapshot_frame(s: &Snapshot) -> Arc<Frame> {
    let json = serde_json::to_string(&ServerMsg::Snapshot(s.clone())).expect("snapshot serializes");
    Arc::new(Frame { json, last_seq: s.seq, snapshot: true, events: 0, table: false, counters: s.counters.clone(), resync: false, list: Vec::new(), still: OnceLock::new() })
}

/// A `gap` frame for a subscriber that skipped from `from_seq` to `to_seq`. Its seq is 0: a gap
/// is counted, it moves no state; the snapshot after it does (hence `resync`).
pub fn gap_frame(from_seq: u64, to_seq: u64) -> Arc<Frame> {
    let dropped = to_seq.saturating_sub(from_seq);
    let json = gap_json(EventBody::Gap { dropped, folded: false, resync: true, counters: None });
    Arc::new(Frame { json, last_seq: from_seq, snapshot: false, events: 0, table: true, counters: Counters::default(), resync: false, list: Vec::new(), still: OnceLock::new() })
}

/// Stands for frames a paced subscriber skipped: `events` folded, the totals after them, and
/// `resync` when any changed the fd table (a snapshot follows).
pub fn skipped_frame(events: u64, table: bool, counters: Counters) -> String {
    gap_json(EventBody::folded(events, table, counters))
}

/// An events message holding one gap (seq 0: counted, it moves no state).
fn gap_json(body: EventBody) -> String {
    serde_json::to_string(&ServerMsg::Events { events: vec![Event { seq: 0, ts_ns: 0, body }] }).expect("gap serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Tap;
    use muxscope_shared::{CtlOp, Interest, Role};

    #[tokio::test]
    async fn a_frame_says_the_newest_event_it_stands_for_folded_ones_included() {
        let (tx, rx) = mpsc::sync_channel(8);
        let hub = Hub::start(TelemetryRx { rx, tap: Arc::new(Tap::default()) }, Control::new().unwrap(), 64).unwrap();
        let mut sub = hub.subscribe();
        tx.send(Batch::Snapshot(Box::new(Snapshot::empty()))).unwrap();
        // 400 registrations in one tick: a frame holds the first FRAME_CAP, the rest are folded.
        let join = |seq: u64| Event { seq, ts_ns: seq, body: EventBody::Ctl { op: CtlOp::Add, fd: seq as i32 + 10, interest: Some(Interest::Read), role: Role::Tcp, error: None } };
        tx.send(Batch::Events((1..=400).map(join).collect())).unwrap();
        let mut seen = 0;
        while seen < 400 {
            let f = tokio::time::timeout(Duration::from_secs(5), sub.frames.recv()).await.expect("no frame").unwrap();
            if f.snapshot {
                continue;
            }
            // Frames tile the seqs: each covers exactly the events after the one before.
            assert_eq!(f.last_seq - seen, f.events, "frame through seq {} after {seen}", f.last_seq);
            let sent = events(&f.json).iter().filter(|e| e.seq != 0).count() as u64;
            if sent < f.events {
                assert!(f.resync, "the fold left out registrations: the frame must ask for a snapshot");
            }
            seen = f.last_seq;
        }
        assert_eq!(seen, 400);
    }

    fn recv(seq: u64) -> Event {
        Event { seq, ts_ns: seq * 10, body: EventBody::Recv { fd: 7, bytes: 5, eof: false, would_block: false, lines: 1 } }
    }

    fn frame(list: Vec<Event>) -> Frame {
        let json = serde_json::to_string(&ServerMsg::Events { events: list.clone() }).unwrap();
        let counters = Counters { messages: 999, ..Counters::default() };
        Frame { json, last_seq: 0, snapshot: false, events: 0, table: false, counters, resync: false, list, still: OnceLock::new() }
    }

    fn events(json: &str) -> Vec<Event> {
        let Ok(ServerMsg::Events { events }) = serde_json::from_str(json) else { panic!("not events: {json}") };
        events
    }

    #[test]
    fn a_still_picture_keeps_the_tail_and_folds_the_rest_with_the_totals() {
        // 150 events, the third a registration, then the hub's own fold of 40 more.
        let mut list: Vec<Event> = (1..=150).map(recv).collect();
        list[2].body = EventBody::Ctl { op: CtlOp::Add, fd: 9, interest: Some(Interest::Read), role: Role::Tcp, error: None };
        // The turn's wakeup, long before the tail.
        list[9].body = EventBody::Wait { timeout_ms: -1, registered: 9, ready: vec![], ready_total: 4, blocked_ns: 5, scanned: 4 };
        list.push(Event { seq: 0, ts_ns: 0, body: EventBody::folded(40, false, Counters::default()) });
        let f = frame(list);
        let still = f.still();
        let got = events(&still.json);
        assert_eq!(got.len(), 1 + STILL_EVENTS + 1);
        // The wakeup, then the tail, in seq order.
        assert_eq!(got[..=STILL_EVENTS].iter().map(|e| e.seq).collect::<Vec<_>>(), std::iter::once(10).chain(131..=150).collect::<Vec<_>>());
        assert!(matches!(got[0].body, EventBody::Wait { ready_total: 4, .. }));
        // The gap comes last, so its totals are the ones that stand.
        let want = EventBody::Gap { dropped: 129 + 40, folded: true, resync: true, counters: Some(Counters { messages: 999, ..Counters::default() }) };
        assert_eq!(got[STILL_EVENTS + 1].body, want);
        assert_eq!(got[STILL_EVENTS + 1].seq, 0);
        assert!(still.table, "a left-out registration owes the page a snapshot");
        assert!(std::ptr::eq(still, f.still()), "built once and shared");
    }

    #[test]
    fn a_fold_the_hub_made_is_the_hubs_to_resync() {
        // The tail is whole; only the hub's own gap left registrations out.
        let mut list: Vec<Event> = (1..=30).map(recv).collect();
        list.push(Event { seq: 0, ts_ns: 0, body: EventBody::folded(70, true, Counters::default()) });
        let f = frame(list);
        let got = events(&f.still().json);
        assert_eq!(got.last().unwrap().body, EventBody::folded(10 + 70, true, Counters { messages: 999, ..Counters::default() }), "the page is told a snapshot follows");
        assert!(!f.still().table, "the hub sends that snapshot: the session need not ask for another");
    }

    #[test]
    fn a_short_frame_is_sent_whole() {
        let f = frame((1..=STILL_EVENTS as u64).map(recv).collect());
        assert_eq!(f.still().json, f.json);
        assert!(!f.still().table);
        // Without a registration among the folded, no snapshot is owed.
        let f = frame((1..=60).map(recv).collect());
        let got = events(&f.still().json);
        assert_eq!(got.last().unwrap().body, EventBody::folded(40, false, Counters { messages: 999, ..Counters::default() }));
        assert!(!f.still().table);
    }
}
