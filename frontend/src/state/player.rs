//! The player: what feeds items into the timeline, and when. The queue of frames received but
//! not played, pause and speed, the page's clock, and whether a flood is drawn as still
//! pictures (busy). Also the view's timing of what the scene only records: how long a switch's
//! banner shows, and which marks are too old to draw once a flood ends.

use super::log::{FoldWhy, Note};
use super::{Item, Model, ANIMATE_PER_TICK, BUSY_MS, BUSY_REDRAW_MS, BUSY_TICK_MS, SLOW_BASE_MS, TICK_MS};
use super::{BANNER_MS, QUEUE_CAP};
use muxscope_shared::{Event, EventBody, ServerMsg};
use std::collections::VecDeque;

#[derive(Clone, Debug, PartialEq)]
pub struct Player {
    /// Items received, not played yet.
    pub queue: VecDeque<Item>,
    pub paused: bool,
    pub speed: f64,
    /// Playing a recording at its own pace (× speed), by its timestamps.
    pub recorded: bool,
    /// Recorded pace: the page's time and the loop's time it started from.
    pub(super) anchor: Option<(f64, u64)>,
    pub(super) next_play_ms: f64,
    /// Timestamp of the newest item received.
    pub live_ts_ns: u64,
    /// The clock of the last tick.
    pub(super) now_ms: f64,
    /// When events were last folded: while that is recent the view draws marks, not animations.
    pub(super) folded_at_ms: f64,
    pub(super) live_played_ms: f64,
    /// When frames were last handed in by `Action::Receive`.
    pub(super) received_ms: f64,
    /// Marks and fan-outs made by items before this index are not drawn: when a flood ends, its
    /// still marks (up to a second and a half old) would otherwise all come alive at once.
    pub calm_from: u64,
    /// The banner on show: the index of the switch, and the clock when it goes.
    pub(super) banner: Option<(u64, f64)>,
}

impl Default for Player {
    fn default() -> Player {
        Player {
            queue: VecDeque::new(),
            paused: false,
            speed: 1.0,
            recorded: false,
            anchor: None,
            next_play_ms: 0.0,
            live_ts_ns: 0,
            now_ms: 0.0,
            folded_at_ms: f64::NEG_INFINITY,
            live_played_ms: f64::NEG_INFINITY,
            received_ms: f64::NEG_INFINITY,
            calm_from: 0,
            banner: None,
        }
    }
}

impl Player {
    pub(super) fn banner_shows(&self, index: u64) -> bool {
        self.banner.is_some_and(|(i, until)| i == index && self.now_ms < until)
    }

    /// Queues a frame's items.
    pub(super) fn receive(&mut self, msg: ServerMsg) {
        match msg {
            ServerMsg::Snapshot(s) => {
                self.live_ts_ns = self.live_ts_ns.max(s.ts_ns);
                self.queue.push_back(Item::Snapshot(s));
            }
            ServerMsg::Events { events } => {
                for e in events {
                    self.live_ts_ns = self.live_ts_ns.max(e.ts_ns);
                    self.queue.push_back(Item::Event(e));
                }
            }
        }
    }
}

impl Model {
    /// Events come faster than they can be animated: the view shows still marks instead of
    /// animations (a thousand animations at once would cost every frame).
    pub fn busy(&self) -> bool {
        self.player.now_ms - self.player.folded_at_ms < BUSY_MS
    }

    /// Live and busy: the picture is a still one, redrawn every [`BUSY_REDRAW_MS`].
    pub fn draws_still(&self) -> bool {
        self.is_live() && self.busy()
    }

    /// How often the view should send `Tick`s: often enough to animate, or, while a flood is
    /// drawn as still pictures, a few times per picture (a browser that wakes less often
    /// leaves more CPU to the server it watches).
    pub fn tick_ms(&self) -> u32 {
        if self.draws_still() {
            BUSY_TICK_MS
        } else {
            TICK_MS
        }
    }

    /// Live and busy, and the last still picture is younger than [`BUSY_REDRAW_MS`].
    fn busy_redraw_waits(&self, now: f64) -> bool {
        self.draws_still() && now - self.player.live_played_ms < BUSY_REDRAW_MS
    }

    /// Whether frames received meanwhile should be handed in at `now`. Live and busy, or paused,
    /// the picture cannot use them before its next redraw, so they wait (outside the model) and
    /// are handed in together: a flood costs a few updates a second, not one per frame.
    /// A snapshot among them (`snapshot_waits`) does not wait for a still page's next picture:
    /// it is the present, and a crowd that just joined is drawn while it starts talking, not
    /// up to a second into its flood.
    pub fn takes_frames(&self, now: f64, snapshot_waits: bool) -> bool {
        // Paused with nothing queued, frames come in at once: a Step must have something to play.
        let paused = self.player.paused && !self.player.queue.is_empty();
        let hold = self.draws_still() || paused;
        !hold || now - self.player.received_ms >= BUSY_REDRAW_MS || (snapshot_waits && !paused)
    }

    /// False when a `Tick` at `now` would change nothing (lets the view skip a redraw).
    pub fn needs_tick(&self, now: f64) -> bool {
        let p = &self.player;
        // Busy and live, the rates are sampled with the next still picture, not on their own.
        let waits = self.busy_redraw_waits(now);
        let sample_due = !waits && self.tally.due(now);
        let busy_ends = self.busy() && now - p.folded_at_ms >= BUSY_MS;
        let play_due = !p.paused && (!p.queue.is_empty() || !self.timeline.at_end()) && !waits;
        let banner_ends = p.banner.is_some_and(|(_, until)| now >= until);
        sample_due || busy_ends || play_due || banner_ends
    }

    pub(super) fn tick(&mut self, now: f64) -> bool {
        let was_busy = self.busy();
        self.player.now_ms = now;
        let mut changed = false;
        if was_busy && !self.busy() {
            self.player.calm_from = self.cursor();
            changed = true;
        }
        changed |= self.play_due(now);
        let banner_ends = self.player.banner.is_some_and(|(_, until)| now >= until);
        if banner_ends {
            self.player.banner = None;
        }
        // Rates after playing: they describe the picture on screen.
        let sampled = self.tally.sample(self.timeline.scene(), now);
        sampled || changed || banner_ends
    }

    /// A switch came into the picture as the cursor moved forward from `from`: its banner
    /// shows from now for [`BANNER_MS`] (one the cursor goes back to is history).
    pub(super) fn notice_banner(&mut self, from: u64) {
        let Some(index) = self.scene().banner.as_ref().map(|b| b.index) else { return };
        let seen = self.player.banner.is_some_and(|(i, _)| i == index);
        if !seen && index >= from {
            self.player.banner = Some((index, self.player.now_ms + BANNER_MS));
        }
    }

    fn play_due(&mut self, now: f64) -> bool {
        if self.player.paused {
            return false;
        }
        if self.player.recorded && !self.timeline.at_end() {
            return self.play_recorded(now);
        }
        let behind = !self.timeline.at_end();
        if self.is_live() {
            // Resumed at 1× behind the end: the rest of the history is played at once.
            let caught_up = behind && self.timeline.to_end();
            if self.player.queue.is_empty() {
                return caught_up;
            }
            // Busy: a few still pictures a second say as much as twenty, for a fraction of the work.
            // A snapshot is drawn at once (see `takes_frames`) and starts the next second's wait.
            let snapshot = self.player.queue.iter().any(|i| matches!(i, Item::Snapshot(_)));
            if self.busy_redraw_waits(now) && !snapshot {
                return caught_up;
            }
            self.player.live_played_ms = now;
            self.play_live();
            return true;
        }
        if !behind && self.player.queue.is_empty() {
            return false;
        }
        let interval = SLOW_BASE_MS / self.player.speed;
        if self.player.next_play_ms == 0.0 {
            self.player.next_play_ms = now;
        }
        if now < self.player.next_play_ms {
            return false;
        }
        if !self.timeline.step_forward() {
            if let Some(item) = self.player.queue.pop_front() {
                self.play(item);
            }
        }
        self.player.next_play_ms = (self.player.next_play_ms + interval).max(now - interval);
        true
    }

    /// A recording at its own pace: the cursor goes to the loop time `speed ×` the time since
    /// it started (or resumed).
    fn play_recorded(&mut self, now: f64) -> bool {
        let from = self.cursor();
        let &mut (at_ms, at_ts) = self.player.anchor.get_or_insert((now, self.timeline.ts_at(from).unwrap_or(0)));
        let ts = at_ts.saturating_add(((now - at_ms).max(0.0) * self.player.speed * 1e6) as u64);
        let to = self.timeline.index_at_ts(ts).max(from);
        if to == from {
            return false;
        }
        if to - from > ANIMATE_PER_TICK as u64 {
            self.player.folded_at_ms = now;
        }
        self.timeline.seek(to)
    }

    /// Everything queued, now: the newest few animate, the rest are folded (and counted).
    pub(super) fn play_live(&mut self) {
        let n = self.player.queue.len();
        if n > ANIMATE_PER_TICK {
            self.fold(n - ANIMATE_PER_TICK, FoldWhy::TooFast);
        }
        while let Some(item) = self.player.queue.pop_front() {
            self.play(item);
        }
    }

    /// Plays the oldest `n` queued items as one picture.
    pub(super) fn fold(&mut self, n: usize, why: FoldWhy) {
        let mut folded = 0u64;
        for _ in 0..n {
            let Some(item) = self.player.queue.pop_front() else { break };
            if matches!(item, Item::Event(_)) {
                folded += 1;
            }
            self.play(item);
        }
        if folded > 0 {
            self.player.folded_at_ms = self.player.now_ms;
            self.tally.folded += folded;
            self.note(Note::Folded { n: folded, why });
        }
    }

    /// Bounds the queue: past [`QUEUE_CAP`] its oldest half is played.
    pub(super) fn bound_queue(&mut self) {
        if self.player.queue.len() > QUEUE_CAP {
            let n = self.player.queue.len() - QUEUE_CAP / 2;
            self.fold(n, FoldWhy::QueueFull);
        }
    }

    /// One item into the history (and into the picture, if the cursor is at the end).
    pub(super) fn play(&mut self, item: Item) {
        // Folded upstream: the view draws still marks for a while. Not for a trickle: a still
        // page's gateway folds the few events a second of a quiet loop too, and counting those
        // kept the page still (and the gateway folding, closes and all) for as long as it lasted.
        if let Item::Event(Event { body: EventBody::Gap { folded: true, dropped, .. }, .. }) = &item {
            if *dropped > ANIMATE_PER_TICK as u64 {
                self.player.folded_at_ms = self.player.now_ms;
            }
        }
        let gone = self.timeline.push(item);
        if gone > 0 {
            self.note(Note::Evicted { events: gone });
        }
    }
}
