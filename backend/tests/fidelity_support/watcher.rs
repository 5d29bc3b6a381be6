//! The `/ws/events` watcher: every event the loop tells, as a browser would receive it.

use crate::common::{Client, TIMEOUT};
use futures_util::StreamExt;
use muxscope_shared::{CloseReason, Event, EventBody, ServerMsg, Snapshot};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// No event for this long: the loop is blocked in a wait with nothing to do (longer than its
/// 250 ms timer sweep, which stops once no client has a timer running).
const QUIET: Duration = Duration::from_millis(900);

/// A `/ws/events` watcher on its own thread, recording every event it is sent.
pub struct Watcher {
    pub snapshot: Snapshot,
    events: Arc<Mutex<Vec<Event>>>,
    /// Snapshots after the first (only after a gap asked for a resync).
    resyncs: Arc<Mutex<Vec<u64>>>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Watcher {
    pub fn open(web: SocketAddr) -> Watcher {
        let events = Arc::new(Mutex::new(Vec::new()));
        let resyncs = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let (ev, rs, st) = (events.clone(), resyncs.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{web}/ws/events")).await.expect("ws connect");
                let mut first = Some(first_tx);
                while !st.load(Ordering::SeqCst) {
                    let m = match tokio::time::timeout(Duration::from_millis(50), ws.next()).await {
                        Err(_) => continue,
                        Ok(Some(Ok(m))) => m,
                        Ok(other) => panic!("the event stream ended: {other:?}"),
                    };
                    let Message::Text(t) = m else { continue };
                    match serde_json::from_str::<ServerMsg>(t.as_str()).unwrap_or_else(|e| panic!("bad frame {e}: {}", t.as_str())) {
                        ServerMsg::Snapshot(s) => match first.take() {
                            Some(tx) => tx.send(s).unwrap(),
                            None => rs.lock().unwrap().push(s.seq),
                        },
                        ServerMsg::Events { events } => {
                            assert!(first.is_none(), "events before the snapshot");
                            ev.lock().unwrap().extend(events);
                        }
                    }
                }
            });
        });
        let snapshot = first_rx.recv_timeout(TIMEOUT).expect("no snapshot on /ws/events");
        Watcher { snapshot, events, resyncs, stop, thread }
    }

    /// The index of the first event `pred` accepts, at index `from` or later, if it came yet.
    pub fn find(&self, from: usize, pred: impl Fn(&EventBody) -> bool) -> Option<usize> {
        let events = self.events.lock().unwrap();
        (from..events.len()).find(|&i| pred(&events[i].body))
    }

    /// Waits for an event `pred` accepts, at index `from` or later; returns it and its index.
    pub fn wait_for(&self, what: &str, from: usize, pred: impl Fn(&EventBody) -> bool) -> (EventBody, usize) {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Some((i, e)) = self.events.lock().unwrap().iter().enumerate().skip(from).find(|(_, e)| pred(&e.body)) {
                return (e.body.clone(), i);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("no event for {what}; saw {:?}", self.events.lock().unwrap().iter().map(|e| &e.body).collect::<Vec<_>>());
    }

    /// The fd the loop accepted `c` as, and where in the stream (fd numbers are reused).
    pub fn fd_of(&self, c: &Client) -> Accepted {
        let peer = c.local.to_string();
        match self.wait_for(&format!("accept of {peer}"), 0, |e| matches!(e, EventBody::Accept { peer: p, .. } if *p == peer)) {
            (EventBody::Accept { fd, .. }, at) => Accepted { fd, at },
            _ => unreachable!(),
        }
    }

    /// Waits for the loop to close `a` (not an earlier fd with the same number).
    pub fn wait_close(&self, a: Accepted, reason: CloseReason) {
        let fd = a.fd;
        self.wait_for(
            &format!("close of fd {fd} ({reason:?})"),
            a.at,
            |e| matches!(e, EventBody::Close { fd: f, reason: r, .. } if *f == fd && *r == reason),
        );
    }

    /// Returns once no event has come for [`QUIET`], but those `ignore` accepts (the
    /// non-blocking model's idle sweeps, which never stop).
    pub fn quiesce(&self, ignore: impl Fn(&EventBody) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        let busy = || self.events.lock().unwrap().iter().filter(|e| !ignore(&e.body)).count();
        let (mut n, mut since) = (busy(), Instant::now());
        while since.elapsed() < QUIET {
            assert!(Instant::now() < deadline, "the loop never went quiet");
            std::thread::sleep(Duration::from_millis(20));
            if busy() != n {
                (n, since) = (busy(), Instant::now());
            }
        }
    }

    pub fn close(self) -> (Snapshot, Vec<Event>, Vec<u64>) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("watcher thread");
        let events = std::mem::take(&mut *self.events.lock().unwrap());
        let resyncs = std::mem::take(&mut *self.resyncs.lock().unwrap());
        (self.snapshot, events, resyncs)
    }
}

#[derive(Clone, Copy)]
pub struct Accepted {
    pub fd: i32,
    /// Index of its `accept` event in the stream.
    pub at: usize,
}
