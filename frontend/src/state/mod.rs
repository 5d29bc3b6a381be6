//! The page's state: a pure reducer over the event stream. `(Model, Action) -> Model`, with the
//! clock passed in, so the same events always give the same picture. Compiled and tested
//! natively; the Yew components only draw a [`Model`].
//!
//! Playback: frames from `/ws/events` go into a queue; `Tick` plays them. Live (speed 1) plays
//! everything each tick, animating the newest [`ANIMATE_PER_TICK`] and folding the rest into the
//! state with a visible "×N folded" count. Slow motion (0.1×–0.9×) plays one event every
//! `SLOW_BASE_MS / speed`. Paused plays nothing until `Step`. The queue is bounded: past
//! [`QUEUE_CAP`] its oldest half is folded, and says so.

mod describe;
mod handover;
mod play;
mod playback;
mod sweeps;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_models;

pub use describe::{describe, ms};
pub use handover::{Banner, BANNER_MS};
use muxscope_shared::{Event, FdInfo, Model as IoModel, ModelsReport, ReadyFd, Role, ServerMsg, Snapshot};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
pub use sweeps::{Nap, Sweeps, SPIN_AFTER_NS};

pub const LOG_CAP: usize = 150;
pub const CHAT_CAP: usize = 500;
pub const QUEUE_CAP: usize = 20_000;
pub const ANIMATE_PER_TICK: usize = 24;
pub const SLOW_BASE_MS: f64 = 250.0;
const RATE_WINDOW_MS: f64 = 2000.0;
/// How long after the last fold the view stays in busy (still) mode.
pub const BUSY_MS: f64 = 1500.0;
/// In busy mode the live picture is redrawn at most this often.
pub const BUSY_REDRAW_MS: f64 = 1000.0;
/// The view's clock: a tick this often, and this often while busy.
pub const TICK_MS: u32 = 50;
pub const BUSY_TICK_MS: u32 = 250;
/// Shortest time a live fan-out stays drawn.
pub const FANOUT_MS: f64 = 600.0;

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Event(Event),
    Snapshot(Snapshot),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flash {
    /// Phase one: the kernel has data (in the ready list).
    Ready,
    /// Phase two: recv copied it to user space.
    Copy,
    /// send/writev handed bytes to the kernel.
    Send,
    /// Just joined the interest list.
    Join,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WaitView {
    pub id: u64,
    pub call: &'static str,
    pub timeout_ms: i64,
    pub registered: u32,
    pub ready: Vec<ReadyFd>,
    pub ready_total: u32,
    pub blocked_ms: f64,
    pub scanned: u32,
    /// (sigio) Ready entries the loop added itself, and whether after a signal-queue overflow.
    pub rescan: u32,
    pub overflow: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fanout {
    pub id: u64,
    pub from: i32,
    pub to: Vec<i32>,
    pub line: String,
}

/// What the current step is, in the seed's words.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    pub id: u64,
    pub step: u8,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub id: u64,
    pub class: &'static str,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    at_ms: f64,
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
    /// EAGAINs seen per second (see [`Sweeps`]).
    pub eagains: f64,
    /// The same, scaled by the share of the events the page was sent (folded ones are only
    /// counted): what the loop made, if the events sent are a fair sample of it.
    pub eagains_all: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Connected(bool),
    /// The event stream closed: the server's reason (empty when the connection just dropped)
    /// and the seconds until the page tries again.
    StreamClosed {
        reason: String,
        retry_s: u32,
    },
    Server(ServerMsg),
    Tick(f64),
    /// Frames received since the last tick, then a tick at the given time: the view batches
    /// what arrives between ticks, so a busy stream costs one update per tick, not one per frame.
    Receive(Vec<ServerMsg>, f64),
    Pause,
    Resume,
    Step,
    Speed(f64),
    Live,
    ChatLine(String),
    ChatStatus(String),
    /// `GET /api/models` answered: the report, or why there is none.
    Report(Result<Rc<ModelsReport>, String>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The loop as of the last played event.
    pub snap: Snapshot,
    pub connected: bool,
    /// Why the event stream is down, when the server said (e.g. too many watchers).
    pub stream_closed: Option<String>,
    pub queue: VecDeque<Item>,
    pub paused: bool,
    pub speed: f64,
    next_play_ms: f64,
    /// Timestamp of the newest event received, and of the last one played.
    pub live_ts_ns: u64,
    pub played_ts_ns: u64,
    pub wait: Option<WaitView>,
    pub phase: Option<Phase>,
    pub fanout: Option<Fanout>,
    pub flashes: HashMap<i32, (Flash, u64)>,
    pub log: VecDeque<LogLine>,
    pub folded_total: u64,
    pub gaps_total: u64,
    pub events_played: u64,
    samples: VecDeque<Sample>,
    pub rates: Rates,
    pub chat: VecDeque<LogLine>,
    /// The last model switch, shown on the stage until its time is up.
    pub banner: Option<Banner>,
    /// Model switches seen (the view fetches the compare report again after each).
    pub switches: u64,
    /// The non-blocking model's EAGAINs and naps.
    pub sweeps: Sweeps,
    /// The last `GET /api/models` report, and why the last fetch failed (if it did).
    pub report: Option<Rc<ModelsReport>>,
    pub report_error: Option<String>,
    /// Fds just deleted from the interest list, for the `close` that follows (it names them).
    /// A switch deletes every fd and adds it back: the add takes its name and owed output from
    /// here.
    gone: HashMap<i32, FdInfo>,
    /// The clock of the last tick, and when the current fan-out started drawing.
    now_ms: f64,
    fanout_at_ms: f64,
    /// When events were last folded: while that is recent the view draws marks, not animations.
    folded_at_ms: f64,
    live_played_ms: f64,
    /// When frames were last handed in by [`Action::Receive`].
    received_ms: f64,
    next_id: u64,
}

impl Default for Model {
    fn default() -> Model {
        Model {
            snap: Snapshot::empty(),
            stream_closed: None,
            connected: false,
            queue: VecDeque::new(),
            paused: false,
            speed: 1.0,
            next_play_ms: 0.0,
            live_ts_ns: 0,
            played_ts_ns: 0,
            wait: None,
            phase: None,
            fanout: None,
            flashes: HashMap::new(),
            log: VecDeque::new(),
            folded_total: 0,
            gaps_total: 0,
            events_played: 0,
            samples: VecDeque::new(),
            rates: Rates::default(),
            chat: VecDeque::new(),
            banner: None,
            switches: 0,
            sweeps: Sweeps::default(),
            report: None,
            report_error: None,
            gone: HashMap::new(),
            now_ms: 0.0,
            fanout_at_ms: f64::NEG_INFINITY,
            folded_at_ms: f64::NEG_INFINITY,
            live_played_ms: f64::NEG_INFINITY,
            received_ms: f64::NEG_INFINITY,
            next_id: 1,
        }
    }
}

impl Model {
    pub fn is_live(&self) -> bool {
        !self.paused && self.speed >= 0.999
    }

    /// Seconds the picture is behind the newest event received.
    pub fn behind_s(&self) -> f64 {
        if self.queue.is_empty() {
            0.0
        } else {
            self.live_ts_ns.saturating_sub(self.played_ts_ns) as f64 / 1e9
        }
    }

    /// False when a `Tick` at `now` would change nothing (lets the view skip a copy).
    pub fn needs_tick(&self, now: f64) -> bool {
        // Busy and live, the rates are sampled with the next still picture, not on their own.
        let waits = self.busy_redraw_waits(now);
        let sample_due = !waits && self.samples.back().is_none_or(|s| now - s.at_ms >= 250.0);
        let busy_ends = self.busy() && now - self.folded_at_ms >= BUSY_MS;
        let play_due = !self.paused && !self.queue.is_empty() && !waits;
        let banner_ends = self.banner.as_ref().is_some_and(|b| now >= b.until_ms);
        sample_due || busy_ends || play_due || banner_ends
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

    /// Whether frames received meanwhile should be handed in at `now`. Live and busy, or paused,
    /// the picture cannot use them before its next redraw, so they wait (outside the model) and
    /// are handed in together: a flood costs a few updates a second, not one per frame.
    /// A snapshot among them (`snapshot_waits`) does not wait for a still page's next picture:
    /// it is the present, and a crowd that just joined is drawn while it starts talking, not
    /// up to a second into its flood.
    pub fn takes_frames(&self, now: f64, snapshot_waits: bool) -> bool {
        // Paused with nothing queued, frames come in at once: a Step must have something to play.
        let paused = self.paused && !self.queue.is_empty();
        let hold = self.draws_still() || paused;
        !hold || now - self.received_ms >= BUSY_REDRAW_MS || (snapshot_waits && !paused)
    }

    /// Events come faster than they can be animated: the view shows still marks instead of
    /// animations (a thousand animations at once would cost every frame).
    pub fn busy(&self) -> bool {
        self.now_ms - self.folded_at_ms < BUSY_MS
    }

    /// Live and busy, and the last still picture is younger than [`BUSY_REDRAW_MS`].
    fn busy_redraw_waits(&self, now: f64) -> bool {
        self.draws_still() && now - self.live_played_ms < BUSY_REDRAW_MS
    }

    /// The model serving, as of the last played event (unknown before the first snapshot).
    pub fn io_model(&self) -> Option<IoModel> {
        self.snap.model
    }

    /// How the non-blocking model naps now (see [`Sweeps::nap`]).
    pub fn nap(&self) -> Nap {
        self.sweeps.nap(self.played_ts_ns)
    }

    /// Clients (TCP and web) registered now.
    pub fn clients(&self) -> usize {
        self.snap.fds.iter().filter(|f| matches!(f.role, Role::Tcp | Role::Web)).count()
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

fn push_capped<T>(q: &mut VecDeque<T>, v: T, cap: usize) {
    if q.len() >= cap {
        q.pop_front();
    }
    q.push_back(v);
}
