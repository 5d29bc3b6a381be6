//! The hub sits between the loop's telemetry queue and any number of watchers.
//!
//! A plain thread (the queue is a std channel) that moves bytes: the loop's batches into the
//! [`Mirror`], its frames out to every watcher (each serialized once), its snapshot requests to
//! the loop, and the present to whoever asks. What is sent when is the mirror's to decide (see
//! [`crate::gateway::stream`]).

use super::frame::Frame;
use super::stream::{Mirror, TICK};
use crate::chat::Control;
use crate::telemetry::{Batch, Tap, TelemetryRx};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot};

/// Frames a watcher may fall behind before it is told it lagged (default).
pub const SUBSCRIBER_BACKLOG: usize = 128;

type SnapshotReply = oneshot::Sender<Arc<Frame>>;

/// What reaches the hub thread besides the loop's batches, in the order it was sent.
enum Msg {
    /// Watching started from nobody: the mirror is no longer the present.
    Watching,
    /// Someone wants the present.
    Ask(SnapshotReply),
}

pub struct Hub {
    frames: broadcast::Sender<Arc<Frame>>,
    /// Watchers now. Under the lock because the loop's switch (`tap.subscribed`) and the
    /// [`Msg::Watching`] that goes with it must follow the count in order: a leave and a join
    /// racing must not leave the loop switched off while someone watches.
    watchers: Mutex<usize>,
    msgs: Mutex<mpsc::Sender<Msg>>,
    tap: Arc<Tap>,
    control: Control,
    /// Events folded because a tick was over the frame cap.
    pub folded_events: AtomicU64,
}

/// While alive, the loop emits events. Dropped when a watcher leaves.
pub struct Subscription {
    hub: Arc<Hub>,
    pub frames: broadcast::Receiver<Arc<Frame>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut n = self.hub.watchers.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        if *n == 0 {
            self.hub.tap.subscribed.store(false, Ordering::SeqCst);
            // The last watcher left: hand what a crowd of watchers freed back to the system
            // (glibc keeps freed memory otherwise, and RSS would stay at the crowd's peak).
            // SAFETY: malloc_trim only releases free heap memory; it is safe at any time.
            unsafe { libc::malloc_trim(0) };
        }
    }
}

impl Hub {
    /// `backlog`: frames a watcher may fall behind before it gets a gap and a snapshot.
    pub fn start(rx: TelemetryRx, control: Control, backlog: usize) -> std::io::Result<Arc<Hub>> {
        let (frames, _) = broadcast::channel(backlog.max(1));
        let (msg_tx, msg_rx) = mpsc::channel();
        let hub = Arc::new(Hub {
            frames,
            watchers: Mutex::new(0),
            msgs: Mutex::new(msg_tx),
            tap: rx.tap.clone(),
            control,
            folded_events: AtomicU64::new(0),
        });
        let h = hub.clone();
        std::thread::Builder::new().name("event-hub".into()).spawn(move || h.run(rx, msg_rx))?;
        Ok(hub)
    }

    pub fn loop_dropped(&self) -> u64 {
        self.tap.dropped.load(Ordering::Relaxed)
    }

    pub fn subscriber_count(&self) -> usize {
        *self.watchers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, msg: Msg) -> bool {
        self.msgs.lock().map(|tx| tx.send(msg).is_ok()).unwrap_or(false)
    }

    /// Starts watching, unless `max` watchers already do. The first watcher turns the loop's
    /// telemetry on; the hub then drops its mirror and asks the loop for a snapshot of the
    /// present.
    pub fn subscribe(self: &Arc<Self>, max: usize) -> Option<Subscription> {
        let mut n = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        if *n >= max {
            return None;
        }
        *n += 1;
        if *n == 1 {
            self.tap.subscribed.store(true, Ordering::SeqCst);
            self.send(Msg::Watching);
        }
        Some(Subscription { hub: self.clone(), frames: self.frames.subscribe() })
    }

    /// The present, as a snapshot frame (after the loop's snapshot when the mirror is not the
    /// present yet). `None` when the hub is gone or the loop does not answer within 5 s.
    pub async fn snapshot(&self) -> Option<Arc<Frame>> {
        let (tx, rx) = oneshot::channel();
        if !self.send(Msg::Ask(tx)) {
            return None;
        }
        tokio::time::timeout(Duration::from_secs(5), rx).await.ok()?.ok()
    }

    fn run(self: Arc<Self>, rx: TelemetryRx, msgs: mpsc::Receiver<Msg>) {
        let mut mirror = Mirror::new();
        let mut waiting: Vec<SnapshotReply> = Vec::new();
        let mut next_tick = Instant::now() + TICK;
        loop {
            match rx.rx.recv_timeout(next_tick.saturating_duration_since(Instant::now())) {
                Ok(Batch::Events(events)) => mirror.loop_events(events),
                Ok(Batch::Snapshot { snap, generation }) => {
                    let (seq, fds) = (snap.seq, snap.fds.len());
                    if let Some(frame) = mirror.loop_snapshot(*snap, generation, Instant::now()) {
                        tracing::debug!(seq, fds, generation, waiting = waiting.len(), "hub: the loop's snapshot");
                        let _ = self.frames.send(frame.clone());
                        for w in waiting.drain(..) {
                            let _ = w.send(frame.clone());
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(msg) = msgs.try_recv() {
                match msg {
                    Msg::Watching => self.control.request_snapshot(mirror.watching_started(Instant::now())),
                    Msg::Ask(reply) => match mirror.present() {
                        Some(frame) => {
                            let _ = reply.send(frame);
                        }
                        None => waiting.push(reply),
                    },
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + TICK;
                let out = mirror.tick(now);
                for frame in out.frames {
                    let _ = self.frames.send(frame);
                }
                if let Some(generation) = out.ask_loop {
                    self.control.request_snapshot(generation);
                }
                waiting.retain(|w| !w.is_closed());
                self.folded_events.store(mirror.folded_total, Ordering::Relaxed);
            }
        }
    }
}
