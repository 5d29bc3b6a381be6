//! Rates and counters: per-second rates sampled from the picture's counters on the page's
//! clock, and the events the page itself folded.

use super::scene::Scene;
use std::collections::VecDeque;

const RATE_WINDOW_MS: f64 = 2000.0;
/// Rates are sampled at most this often.
pub const SAMPLE_MS: f64 = 250.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Sample {
    pub at_ms: f64,
    wakeups: u64,
    messages: u64,
    bytes: u64,
    events: u64,
    eagains: u64,
    seen: u64,
}

/// Per-second rates over the last two seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    pub wakeups: f64,
    pub messages: f64,
    pub bytes: f64,
    pub events_per_wakeup: f64,
    /// EAGAINs seen per second (see [`super::Sweeps`]).
    pub eagains: f64,
    /// The same, scaled by the share of the events the page was sent (folded ones are only
    /// counted): what the loop made, if the events sent are a fair sample of it.
    pub eagains_all: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    samples: VecDeque<Sample>,
    pub rates: Rates,
    /// Events the page played as one picture (faster than it can draw them, or a full queue).
    pub folded: u64,
}

impl Tally {
    /// Whether a sample is due at `now`.
    pub fn due(&self, now: f64) -> bool {
        self.samples.back().is_none_or(|s| now - s.at_ms >= SAMPLE_MS)
    }

    /// Samples the picture's counters at `now`; true when the rates changed.
    pub fn sample(&mut self, scene: &Scene, now: f64) -> bool {
        let c = &scene.snap.counters;
        let s = Sample {
            at_ms: now,
            wakeups: c.wakeups,
            messages: c.messages,
            bytes: c.recv_bytes + c.sent_bytes,
            events: scene.totals.events,
            eagains: scene.sweeps.eagains,
            seen: scene.sweeps.seen,
        };
        if !self.due(now) {
            return false;
        }
        // The cursor went back through the history: the counters are older than the samples.
        if self.samples.back().is_some_and(|last| s.events < last.events) {
            self.samples.clear();
        }
        self.samples.push_back(s);
        while self.samples.len() > 2 && now - self.samples[0].at_ms > RATE_WINDOW_MS {
            self.samples.pop_front();
        }
        let first = self.samples[0];
        let dt = (now - first.at_ms) / 1000.0;
        let old = self.rates;
        if dt > 0.0 {
            let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
            let wakeups = s.wakeups.saturating_sub(first.wakeups);
            self.rates = Rates {
                wakeups: per(s.wakeups, first.wakeups),
                messages: per(s.messages, first.messages),
                bytes: per(s.bytes, first.bytes),
                events_per_wakeup: if wakeups > 0 { s.events.saturating_sub(first.events) as f64 / wakeups as f64 } else { 0.0 },
                eagains: per(s.eagains, first.eagains),
                eagains_all: match s.seen.saturating_sub(first.seen) {
                    0 => 0.0,
                    seen => per(s.eagains, first.eagains) * s.events.saturating_sub(first.events) as f64 / seen as f64,
                },
            };
        }
        self.rates != old
    }
}
