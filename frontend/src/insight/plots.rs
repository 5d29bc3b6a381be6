//! Rolling histograms of four of the loop's numbers, kept a second at a time so the last 10 s
//! or 60 s are a sum of at most [`SLOTS`] slots, by the events' own clock (a paused page's
//! plots stay as they were; stepping back shows the plots of that moment):
//! - time blocked per wait (`wait`, `io_uring_enter`);
//! - events per wakeup: the stream's events from one wait to the next (a gap counts the events
//!   it stands for), as the counter beside it counts them;
//! - bytes per send (one flush of a client's queue);
//! - a line's round trip to its sender, from the events: from the `recv` that brought a line
//!   (`lines > 0`) to the next `send` to that same fd, which carries the sender's own copy of
//!   its broadcast back (the loop flushes once per turn, after reading). This is the loop's
//!   share of the round trip, for every client alike, not only the browser's own user.
//!
//! Buckets are log-scale ([`bucket`]). A slot holds one model's counts: where the model was
//! switched inside the window, [`Plots::summary`] gives the current model's histogram and the
//! previous one's apart, so the view can draw one over the other.

use muxscope_shared::{Event, EventBody, Model as IoModel};
use std::collections::VecDeque;

/// Buckets per histogram.
pub const BUCKETS: usize = 12;
/// Slots kept: a minute of seconds, and a few more for switches inside a second.
pub const SLOTS: usize = 64;
/// Lines tracked between their recv and the send back to their sender at once.
const PENDING_CAP: usize = 256;

pub type Hist = [u32; BUCKETS];

/// One of the four plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plot {
    Blocked,
    EventsPerWakeup,
    BytesPerSend,
    RoundTrip,
}

impl Plot {
    pub const ALL: [Plot; 4] = [Plot::Blocked, Plot::EventsPerWakeup, Plot::BytesPerSend, Plot::RoundTrip];

    /// The lower edge of bucket `b`, in the plot's unit (ns, events, bytes).
    pub fn lower_edge(self, b: usize) -> u64 {
        match self {
            // ×4 from 1 µs: 1 µs, 4 µs … 4 s.
            Plot::Blocked | Plot::RoundTrip if b == 0 => 0,
            Plot::Blocked | Plot::RoundTrip => 1_000 << (2 * (b - 1)),
            // 0, then ×2: 1, 2, 4 … 1024.
            Plot::EventsPerWakeup if b == 0 => 0,
            Plot::EventsPerWakeup => 1 << (b - 1),
            // ×4: 1, 4, 16 … 4 MiB.
            Plot::BytesPerSend => 1 << (2 * b),
        }
    }
}

/// The bucket of `v` in `plot`: the last whose lower edge is at most `v`.
pub fn bucket(plot: Plot, v: u64) -> usize {
    let log = |x: u64| 63 - x.max(1).leading_zeros() as usize;
    let b = match plot {
        Plot::Blocked | Plot::RoundTrip if v < 1_000 => 0,
        Plot::Blocked | Plot::RoundTrip => 1 + log(v / 1_000) / 2,
        Plot::EventsPerWakeup if v == 0 => 0,
        Plot::EventsPerWakeup => 1 + log(v),
        Plot::BytesPerSend => log(v) / 2,
    };
    b.min(BUCKETS - 1)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    /// The loop's second (`ts_ns / 1e9`) and the model serving in it.
    sec: u64,
    model: IoModel,
    hists: [Hist; 4],
}

/// The histograms' state, folded with the scene.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plots {
    slots: VecDeque<Slot>,
    /// Events since the last wait (none before the first).
    turn_events: Option<u64>,
    /// Lines read and not yet sent back to their sender: (fd, when read).
    pending: Vec<(i32, u64)>,
}

/// The histograms of a window, for drawing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub window_s: u64,
    /// The model serving now, and the one before it inside the window (if it was switched).
    pub current: Option<IoModel>,
    pub previous: Option<IoModel>,
    pub now: [Hist; 4],
    pub before: [Hist; 4],
}

impl Plots {
    /// Folds one event, served by `model`.
    pub fn see(&mut self, e: &Event, model: IoModel) {
        match &e.body {
            EventBody::Wait { blocked_ns, .. } | EventBody::UringEnter { blocked_ns, .. } => {
                self.add(e, model, Plot::Blocked, *blocked_ns);
                if let Some(n) = self.turn_events {
                    self.add(e, model, Plot::EventsPerWakeup, n);
                }
                self.turn_events = Some(0);
                return;
            }
            EventBody::Send { fd, bytes, .. } if *bytes > 0 => {
                self.add(e, model, Plot::BytesPerSend, *bytes);
                if let Some(i) = self.pending.iter().position(|(f, _)| f == fd) {
                    let (_, read) = self.pending.swap_remove(i);
                    self.add(e, model, Plot::RoundTrip, e.ts_ns.saturating_sub(read));
                }
            }
            EventBody::Recv { fd, lines, .. }
                if *lines > 0 && self.pending.len() < PENDING_CAP && !self.pending.iter().any(|(f, _)| f == fd) =>
            {
                self.pending.push((*fd, e.ts_ns));
            }
            EventBody::Close { fd, .. } => self.pending.retain(|(f, _)| f != fd),
            // Missed events: a send back may be among them.
            EventBody::Gap { .. } => self.pending.clear(),
            _ => {}
        }
        if let Some(n) = self.turn_events.as_mut() {
            *n += e.body.stands_for();
        }
    }

    fn add(&mut self, e: &Event, model: IoModel, plot: Plot, v: u64) {
        let sec = e.ts_ns / 1_000_000_000;
        let fits = self.slots.back().is_some_and(|s| s.model == model && s.sec >= sec);
        if !fits {
            if self.slots.len() >= SLOTS {
                self.slots.pop_front();
            }
            self.slots.push_back(Slot { sec, model, hists: [[0; BUCKETS]; 4] });
        }
        let slot = self.slots.back_mut().expect("pushed above");
        let h = &mut slot.hists[plot as usize][bucket(plot, v)];
        *h = h.saturating_add(1);
    }

    /// The last `window_s` seconds up to loop time `now_ns`, with `current` the model serving.
    pub fn summary(&self, now_ns: u64, window_s: u64, current: Option<IoModel>) -> Summary {
        let now_sec = now_ns / 1_000_000_000;
        let from = (now_sec + 1).saturating_sub(window_s);
        let mut out = Summary { window_s, current, ..Summary::default() };
        let inside = self.slots.iter().rev().filter(|s| s.sec >= from && s.sec <= now_sec);
        for s in inside {
            let into = if Some(s.model) == current {
                &mut out.now
            } else if out.previous.is_none_or(|p| p == s.model) {
                out.previous = Some(s.model);
                &mut out.before
            } else {
                // A model from before the previous one: not drawn.
                continue;
            };
            for (h, add) in into.iter_mut().zip(&s.hists) {
                for (c, a) in h.iter_mut().zip(add) {
                    *c = c.saturating_add(*a);
                }
            }
        }
        out
    }

    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>() + self.pending.capacity() * std::mem::size_of::<(i32, u64)>()
    }
}
