//! Bots: a room of chatting clients for a class, made by the gateway (`/api/bots`, the page's
//! bots panel) or a terminal (`muxscope bots`). Each bot is a real TCP client of the chat port,
//! run as a tokio task here and never inside the loop, so the loop serves it exactly as it
//! serves `nc`: it is accepted, registered and read like anyone, and drawn with role `bot`.
//!
//! Bounds (all-or-nothing for one request: a request over any of them adds no bot and changes
//! no rate, and says which bound and why):
//! - at most [`MAX_BOTS`] bots at once;
//! - at most [`MAX_RATE_EACH`] lines a second for each bot;
//! - at most [`MAX_TOTAL_RATE`] lines a second across all bots (bots × rate): each line is
//!   fanned out to every client, so the total is what decides the loop's work.
//!
//! One rate holds for every bot (a classroom's knob: "make the room busier"); a request that
//! sets it changes the bots already running too. A request whose bots cannot all connect (the
//! server refuses them, or is gone) closes the ones it did connect. A bot the server closes
//! later (past `--max-clients`, or cut as a slow consumer) ends and leaves the count, which is
//! always the bots connected now.

mod api;
mod bot;

pub use api::{add, list, remove_all};

use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Mutex, Semaphore};
use tokio::task::JoinSet;

/// Most bots at once: a room big enough to see select's 1,024 wall and the crowd drawing, well
/// inside the machine's fd limit (each bot is two fds when the gateway runs it: its end and the
/// loop's).
pub const MAX_BOTS: usize = 5_000;
/// Most lines a second one bot says.
pub const MAX_RATE_EACH: f64 = 20.0;
/// Most lines a second all bots say together.
pub const MAX_TOTAL_RATE: f64 = 5_000.0;
/// How often a bot talks until someone sets it.
pub const DEFAULT_RATE: f64 = 1.0;
/// Bots connecting at once: a request for 1,000 stays well inside the listener's backlog.
const CONNECTING_AT_ONCE: usize = 128;
/// How long one bot may take to connect and introduce itself.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which bound a request is over: the 409's `"bound"`, so the page can say it in its own
/// language (the `"error"` beside it is English, for curl).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// [`MAX_BOTS`].
    Bots,
    /// [`MAX_RATE_EACH`].
    RateEach,
    /// [`MAX_TOTAL_RATE`].
    TotalRate,
}

impl Bound {
    /// The bound's value, as the 409's `"limit"`.
    pub fn limit(self) -> f64 {
        match self {
            Bound::Bots => MAX_BOTS as f64,
            Bound::RateEach => MAX_RATE_EACH,
            Bound::TotalRate => MAX_TOTAL_RATE,
        }
    }
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Refused {
    /// Not a request: a rate that is no number of lines a second (HTTP 400).
    Bad(String),
    /// Over a bound (HTTP 409): nothing was changed.
    Over(Bound, String),
    /// The chat port did not take them all (HTTP 409): this request's bots were closed again.
    Unreachable(String),
}

impl Refused {
    pub fn message(&self) -> &str {
        match self {
            Refused::Bad(m) | Refused::Over(_, m) | Refused::Unreachable(m) => m,
        }
    }
}

/// Whether `add` more bots at `rate` lines a second each fit beside the `running` ones.
/// The whole request or nothing: the caller changes nothing when this refuses.
pub fn check(running: usize, add: usize, rate: f64) -> Result<(), Refused> {
    if !rate.is_finite() || rate < 0.0 {
        return Err(Refused::Bad(format!("rate is lines a second for each bot, a number from 0 to {MAX_RATE_EACH}; got {rate}")));
    }
    if rate > MAX_RATE_EACH {
        return Err(Refused::Over(
            Bound::RateEach,
            format!("at most {MAX_RATE_EACH} lines a second for each bot (asked {rate}); nothing changed"),
        ));
    }
    let total = running.saturating_add(add);
    if total > MAX_BOTS {
        return Err(Refused::Over(
            Bound::Bots,
            format!(
                "at most {MAX_BOTS} bots: {running} running, {add} more asked; no bot added (add at most {})",
                MAX_BOTS - running.min(MAX_BOTS)
            ),
        ));
    }
    let lines = total as f64 * rate;
    if lines > MAX_TOTAL_RATE {
        return Err(Refused::Over(
            Bound::TotalRate,
            format!(
                "at most {MAX_TOTAL_RATE} lines a second across all bots: {total} bots × {rate} a second would be {lines}; \
             nothing changed (lower the rate or add fewer)"
            ),
        ));
    }
    Ok(())
}

/// What `GET /api/bots` says (and every answer that changed something).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    /// Bots connected now.
    pub bots: usize,
    /// Lines a second each one says.
    pub rate: f64,
    /// Lines all bots have said since the start.
    pub said: u64,
    pub max_bots: usize,
    pub max_rate_each: f64,
    pub max_total_rate: f64,
}

/// The bots of one gateway (or one `muxscope bots`): their tasks, their shared rate and count.
pub struct Bots {
    target: SocketAddr,
    /// One request at a time: the bounds are checked against what the last one left.
    inner: Mutex<Inner>,
    connecting: Arc<Semaphore>,
    said: Arc<AtomicU64>,
}

struct Inner {
    tasks: JoinSet<()>,
    rate: watch::Sender<f64>,
    /// The next bot's number (its nick is `bot-N`).
    next: u64,
}

impl Bots {
    /// Bots of the chat server at `target`; none run until [`Bots::add`].
    pub fn new(target: SocketAddr) -> Bots {
        let (rate, _) = watch::channel(DEFAULT_RATE);
        Bots {
            target,
            inner: Mutex::new(Inner { tasks: JoinSet::new(), rate, next: 1 }),
            connecting: Arc::new(Semaphore::new(CONNECTING_AT_ONCE)),
            said: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Adds `add` bots (0: only sets the rate), all talking at `rate` (or the rate they have).
    /// Returns once every new bot is connected and has said who it is.
    pub async fn add(&self, add: usize, rate: Option<f64>) -> Result<Status, Refused> {
        let mut inner = self.inner.lock().await;
        inner.reap();
        let before = *inner.rate.borrow();
        let rate = rate.unwrap_or(before);
        check(inner.tasks.len(), add, rate)?;
        inner.rate.send_replace(rate);
        let mut ready = Vec::with_capacity(add);
        let mut started = Vec::with_capacity(add);
        for _ in 0..add {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let id = inner.next;
            inner.next += 1;
            let b = bot::Bot { id, target: self.target, rate: inner.rate.subscribe(), said: self.said.clone() };
            started.push(inner.tasks.spawn(b.run(self.connecting.clone(), CONNECT_TIMEOUT, tx)));
            ready.push(rx);
        }
        let mut failed: Option<String> = None;
        let mut connected = 0usize;
        for rx in ready {
            match rx.await {
                Ok(Ok(())) => connected += 1,
                Ok(Err(e)) => failed = failed.or(Some(e)),
                Err(_) => failed = failed.or(Some("a bot ended before it connected".into())),
            }
        }
        if let Some(why) = failed {
            started.iter().for_each(|h| h.abort());
            // An aborted task ends at its next poll; until then it still counts.
            while started.iter().any(|h| !h.is_finished()) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            inner.reap();
            inner.rate.send_replace(before);
            return Err(Refused::Unreachable(format!(
                "only {connected} of {add} bots reached the chat port {}: {why}; this request's bots were closed",
                self.target
            )));
        }
        Ok(inner.status(&self.said))
    }

    /// Closes every bot; returns once their sockets are closed.
    pub async fn remove_all(&self) -> Status {
        let mut inner = self.inner.lock().await;
        inner.tasks.shutdown().await;
        inner.status(&self.said)
    }

    pub async fn status(&self) -> Status {
        let mut inner = self.inner.lock().await;
        inner.reap();
        inner.status(&self.said)
    }
}

impl Inner {
    /// Forgets the bots that ended (the server closed them, or they were aborted).
    fn reap(&mut self) {
        while self.tasks.try_join_next().is_some() {}
    }

    fn status(&self, said: &AtomicU64) -> Status {
        Status {
            bots: self.tasks.len(),
            rate: *self.rate.borrow(),
            said: said.load(Ordering::Relaxed),
            max_bots: MAX_BOTS,
            max_rate_each: MAX_RATE_EACH,
            max_total_rate: MAX_TOTAL_RATE,
        }
    }
}

#[cfg(test)]
mod tests;
