//! A watcher's half of the owner: what one `/ws/events` page has been sent, whether its fd table
//! is exact, and what it is owed. Every decision is a function of this state, the input and the
//! time passed in; the session only carries out the [`Plan`].

use super::{COMING_PATIENCE, STILL_EVERY, STILL_SNAPSHOT_BURST, STILL_SNAPSHOT_BYTES_PER_SEC};
use crate::gateway::bucket::TokenBucket;
use crate::gateway::frame::{gap_json, Frame};
use muxscope_shared::{Counters, EventBody};
use std::time::Instant;

/// What restores a watcher whose table is not exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fix {
    /// Nothing: the table is exact.
    None,
    /// The hub sends every watcher a snapshot for this (since then); past
    /// [`COMING_PATIENCE`] the watcher asks for one itself.
    Coming(Instant),
    /// Only this watcher is missing table changes: it asks the hub for the present.
    Ask,
}

/// What to send, in order: gaps made for this watcher, then the frame (whole or its still cut).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub gaps: Vec<String>,
    pub body: Option<Body>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    Whole,
    Still,
}

/// Frames a still page skipped between pictures, to be told as one folded gap.
#[derive(Debug, Default)]
struct Skipped {
    events: u64,
    table: bool,
    last_seq: u64,
    counters: Option<Counters>,
}

#[derive(Debug)]
pub struct Watcher {
    /// The newest seq of what it was sent (events, gaps for skipped frames, snapshots).
    seen: u64,
    /// Whether its table equals the loop's as of `seen`.
    exact: bool,
    fix: Fix,
    /// It asked the hub for a snapshot and waits for the answer.
    asking: bool,
    /// It lagged (missed frames) after `seen`: a gap for them precedes the snapshot it asks for.
    lag_from: Option<u64>,
    /// It draws still pictures (a frame a second).
    still: bool,
    skipped: Skipped,
    last_sent: Instant,
    budget: TokenBucket,
    /// The size of the last snapshot: what the owed one will about cost.
    snapshot_len: usize,
}

impl Watcher {
    /// A watcher whose first message, the snapshot `first`, was sent at `now`.
    pub fn new(first: &Frame, now: Instant) -> Watcher {
        let mut budget = TokenBucket::full(STILL_SNAPSHOT_BYTES_PER_SEC, STILL_SNAPSHOT_BURST, now);
        budget.spend(first.json.len() as f64, now);
        Watcher {
            seen: first.last_seq,
            exact: true,
            fix: Fix::None,
            asking: false,
            lag_from: None,
            still: false,
            skipped: Skipped::default(),
            last_sent: now,
            budget,
            snapshot_len: first.json.len(),
        }
    }

    pub fn seen(&self) -> u64 {
        self.seen
    }

    pub fn exact(&self) -> bool {
        self.exact
    }

    pub fn fix(&self) -> Fix {
        self.fix
    }

    /// The page asked for still pictures (`true`) or every frame.
    pub fn pace(&mut self, still: bool) {
        self.still = still;
    }

    /// The table is missing changes; `fix` says who mends it (the stronger claim stands).
    fn lose(&mut self, fix: Fix) {
        self.exact = false;
        self.fix = match (self.fix, fix) {
            (Fix::Ask, _) | (_, Fix::Ask) => Fix::Ask,
            (Fix::Coming(since), _) => Fix::Coming(since),
            (_, f) => f,
        };
    }

    /// A snapshot up to the minute: everything before it is in it.
    fn mended(&mut self, f: &Frame, now: Instant) {
        self.seen = self.seen.max(f.last_seq);
        self.exact = true;
        self.fix = Fix::None;
        self.budget.spend(f.json.len() as f64, now);
        self.snapshot_len = f.json.len();
        self.last_sent = now;
    }

    /// The gaps owed before anything newer: frames skipped, and frames lost to lag (`upto`: the
    /// seq what comes next follows on from).
    fn owed_gaps(&mut self, upto: Option<u64>) -> Vec<String> {
        let mut gaps = Vec::new();
        let s = std::mem::take(&mut self.skipped);
        if let Some(counters) = s.counters {
            gaps.push(gap_json(EventBody::folded(s.events, s.table, counters)));
            self.seen = self.seen.max(s.last_seq);
            if s.table {
                self.lose(Fix::Ask);
            }
        }
        if let (Some(from), Some(to)) = (self.lag_from, upto) {
            self.lag_from = None;
            let dropped = to.saturating_sub(from);
            gaps.push(gap_json(EventBody::Gap { dropped, folded: false, resync: true, counters: None }));
        }
        gaps
    }

    /// A frame the hub broadcast, at `now`.
    pub fn offer(&mut self, f: &Frame, now: Instant) -> Plan {
        if f.snapshot {
            return self.offer_snapshot(f, now);
        }
        if f.last_seq <= self.seen.max(self.skipped.last_seq) {
            // A snapshot it was sent already holds it.
            return Plan::default();
        }
        if self.still && now.saturating_duration_since(self.last_sent) < STILL_EVERY {
            self.skipped.events += f.events;
            self.skipped.table |= f.table;
            self.skipped.last_seq = f.last_seq;
            self.skipped.counters = Some(f.counters.clone());
            return Plan::default();
        }
        // The frame's events follow straight on from `last_seq - events`: frames lost to lag
        // before that are told first.
        let gaps = self.owed_gaps(Some(f.last_seq.saturating_sub(f.events)));
        let body = if self.still {
            if f.still().table {
                self.lose(Fix::Ask);
            }
            Body::Still
        } else {
            Body::Whole
        };
        if f.resync {
            self.lose(Fix::Coming(now));
        }
        self.seen = f.last_seq;
        self.last_sent = now;
        Plan { gaps, body: Some(body) }
    }

    fn offer_snapshot(&mut self, f: &Frame, now: Instant) -> Plan {
        let newest = self.seen.max(self.skipped.last_seq);
        // Older than what it has would move it back; as old, it only helps an inexact table.
        if f.last_seq < newest || (f.last_seq == newest && self.exact) {
            return Plan::default();
        }
        if self.still && self.budget.available(now) < (f.json.len() as f64).min(self.budget.burst()) {
            // Over a still page's budget: it asks for the present once the budget allows.
            self.snapshot_len = f.json.len();
            self.lose(Fix::Ask);
            return Plan::default();
        }
        let gaps = self.owed_gaps(Some(f.last_seq));
        self.mended(f, now);
        Plan { gaps, body: Some(Body::Whole) }
    }

    /// Frames were lost to this watcher (it read too slowly): it asks for the present.
    pub fn lagged(&mut self) {
        self.lag_from.get_or_insert(self.seen);
        self.lose(Fix::Ask);
    }

    /// The hub's answer to this watcher's ask: the present. It is sent whatever the budget (the
    /// budget allowed the ask).
    pub fn answer(&mut self, f: &Frame, now: Instant) -> Plan {
        self.asking = false;
        if f.last_seq < self.seen.max(self.skipped.last_seq) {
            // Cannot happen (the hub's present is never older than a frame it sent); ask again.
            return Plan::default();
        }
        let gaps = self.owed_gaps(Some(f.last_seq));
        self.mended(f, now);
        Plan { gaps, body: Some(Body::Whole) }
    }

    /// The passing of time: skipped frames that nothing newer carries, and the ask for a
    /// snapshot once it is due. Returns the gaps to send and whether to ask the hub.
    pub fn tick(&mut self, now: Instant) -> (Vec<String>, bool) {
        let mut gaps = Vec::new();
        if self.skipped.counters.is_some() && (!self.still || now.saturating_duration_since(self.last_sent) >= STILL_EVERY) {
            gaps = self.owed_gaps(None);
            self.last_sent = now;
        }
        if let Fix::Coming(since) = self.fix {
            if now.saturating_duration_since(since) >= COMING_PATIENCE {
                self.fix = Fix::Ask;
            }
        }
        let affordable = !self.still || self.budget.available(now) >= (self.snapshot_len as f64).min(self.budget.burst());
        let ask = self.fix == Fix::Ask && !self.asking && affordable;
        self.asking |= ask;
        (gaps, ask)
    }

    /// The ask could not be answered (the hub is gone or slow): ask again on a later tick.
    pub fn unanswered(&mut self) {
        self.asking = false;
    }
}
