//! The page's state. Compiled and tested natively; the Yew components only draw a [`Model`].
//! Every change to it is an [`Action`] through [`Model::update`] — frames of `/ws/events`, the
//! clock's ticks, the controls, the chat socket's lines, the compare report — with the clock
//! passed in, so the same actions always give the same page.
//!
//! It is made of parts with one purpose each:
//! - the **timeline** (`crate::history`): every item played, packed behind keyframes, and a
//!   cursor on it; step back is `seek(cursor - 1)`;
//! - the **scene** ([`Scene`]): what is drawn at the cursor, a pure fold over the items
//!   (`scene_after(i) = fold(items[..i])`), with the **log** as typed entries ([`LogEntry`]) —
//!   the words are the view's (`crate::text`);
//! - the **player** ([`Player`]): the queue of frames received but not played, pause, speed, the
//!   clock, and whether a flood is drawn as still pictures;
//! - the **tally** ([`Tally`]): rates sampled from the scene's counters, and the events the page
//!   folded;
//! - what the page knows of its connections: the stream's state and [`Note`]s, the chat lines,
//!   the compare report.
//!
//! Playback: frames from `/ws/events` go into the queue; `Tick` plays them into the history.
//! Live (speed 1) plays everything each tick as one picture, telling when more than
//! [`ANIMATE_PER_TICK`] came at once ("×N folded": nothing is lost, the history has them all).
//! Slow motion (0.1×–0.9×) plays one item every `SLOW_BASE_MS / speed`. Paused plays nothing
//! until `Step`; `StepBack`, `Seek` (the scrubber, a click on a log line) move the cursor
//! through the history. The queue is bounded: past [`QUEUE_CAP`] its oldest half is played at
//! once, and says so.

mod fold;
mod handover;
mod log;
mod player;
mod rates;
mod scene;
mod sweeps;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_models;
#[cfg(test)]
mod tests_open;
#[cfg(test)]
pub(crate) mod tests_props;
mod update;

use crate::history::{HistoryStats, Timeline, DEFAULT_BOUND};
pub use handover::BANNER_MS;
pub use log::{merge, FoldWhy, LogEntry, LogLine, Note, NoteEntry};
use muxscope_shared::{Event, Model as IoModel, ModelsReport, Snapshot};
pub use player::Player;
pub use rates::{Rates, Tally};
pub use scene::{Banner, Flash, Played, Scene, Totals, LOG_CAP};
use std::collections::VecDeque;
use std::rc::Rc;
pub use sweeps::{Nap, Sweeps, SPIN_AFTER_NS};
pub use update::Action;

pub const CHAT_CAP: usize = 500;
pub const QUEUE_CAP: usize = 20_000;
pub const ANIMATE_PER_TICK: usize = 24;
pub const SLOW_BASE_MS: f64 = 250.0;
/// How long after the last fold the view stays in busy (still) mode.
pub const BUSY_MS: f64 = 1500.0;
/// In busy mode the live picture is redrawn at most this often.
pub const BUSY_REDRAW_MS: f64 = 1000.0;
/// The view's clock: a tick this often, and this often while busy.
pub const TICK_MS: u32 = 50;
pub const BUSY_TICK_MS: u32 = 250;

/// What the history holds: a frame's events one by one, and snapshots.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Event(Event),
    Snapshot(Snapshot),
}

/// Why the event stream is down, as the server said (the view words it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamDown {
    /// The server's reason; empty when the connection just dropped.
    pub reason: String,
    /// Seconds until the page tries again.
    pub retry_s: u32,
}

/// A line of the chat pane: one the server sent, or the pane's own status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatEntry {
    pub id: u64,
    pub status: bool,
    pub text: String,
}

pub struct Model {
    /// What the page shows: the live loop, or a recording (served by `muxscope replay`, or
    /// opened from disk). A recording is not mixed with live frames: they are let go.
    pub source: Source,
    timeline: Timeline,
    pub player: Player,
    pub tally: Tally,
    /// Notes about the page itself, placed in the log by their history index.
    notes: VecDeque<NoteEntry>,
    pub connected: bool,
    /// Why the event stream is down, when the server said (e.g. too many watchers).
    pub stream_closed: Option<StreamDown>,
    pub chat: VecDeque<ChatEntry>,
    /// The last `GET /api/models` report, and why the last fetch failed (if it did).
    pub report: Option<Rc<ModelsReport>>,
    pub report_error: Option<String>,
    /// The page's language: every part of the view says its words in it (the state itself
    /// holds no prose, only typed entries).
    pub lang: crate::i18n::Lang,
    next_id: u64,
}

/// Where the page's events come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Live,
    /// `muxscope replay FILE`: the server plays a recording and sends nothing.
    Replay {
        name: String,
    },
    /// A recording opened from disk in the page.
    File {
        name: String,
    },
}

impl Source {
    /// The recording's name, when the page shows one.
    pub fn recording(&self) -> Option<&str> {
        match self {
            Source::Live => None,
            Source::Replay { name } | Source::File { name } => Some(name),
        }
    }
}

impl Default for Model {
    fn default() -> Model {
        Model::with_history(crate::history::History::new(DEFAULT_BOUND))
    }
}

impl Model {
    /// A page over `history` (empty, usually: its bound and spacing are what matter).
    pub fn with_history(history: crate::history::History) -> Model {
        Model {
            source: Source::Live,
            timeline: Timeline::new(history),
            player: Player::default(),
            tally: Tally::default(),
            notes: VecDeque::new(),
            connected: false,
            stream_closed: None,
            chat: VecDeque::new(),
            report: None,
            report_error: None,
            lang: crate::i18n::Lang::En,
            next_id: 0,
        }
    }

    /// The scene at the cursor: what the page draws.
    pub fn scene(&self) -> &Scene {
        self.timeline.scene()
    }

    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// Where the picture is in the history (after `items[..cursor()]`).
    pub fn cursor(&self) -> u64 {
        self.timeline.cursor()
    }

    pub fn history_stats(&self) -> HistoryStats {
        self.timeline.stats()
    }

    pub fn is_live(&self) -> bool {
        !self.player.paused && self.player.speed >= 0.999
    }

    /// Seconds the picture is behind the newest event received.
    pub fn behind_s(&self) -> f64 {
        if self.player.queue.is_empty() && self.timeline.at_end() {
            0.0
        } else {
            self.player.live_ts_ns.saturating_sub(self.scene().ts_ns) as f64 / 1e9
        }
    }

    /// The model serving, as of the picture (unknown before the first snapshot).
    pub fn io_model(&self) -> Option<IoModel> {
        self.scene().snap.model
    }

    /// How the non-blocking model naps as of the picture (see [`Sweeps::nap`]).
    pub fn nap(&self) -> Nap {
        self.scene().sweeps.nap(self.scene().ts_ns)
    }

    /// Clients (TCP and web) registered in the picture.
    pub fn clients(&self) -> usize {
        self.scene().clients()
    }

    /// Model switches played (the view fetches the compare report again after each; going
    /// back through the history is no reason to).
    pub fn switches(&self) -> u64 {
        self.timeline.history().head().totals.switches
    }

    /// Events folded, by the loop, the gateway or the page.
    pub fn folded_total(&self) -> u64 {
        self.scene().totals.folded + self.tally.folded
    }

    /// The banner of the last switch while it is on show.
    pub fn banner(&self) -> Option<&Banner> {
        let b = self.scene().banner.as_ref()?;
        self.player.banner_shows(b.index).then_some(b)
    }

    /// The log as shown: the scene's entries and the notes made up to the cursor, in history
    /// order, the newest [`LOG_CAP`].
    pub fn log_lines(&self) -> Vec<LogLine<'_>> {
        merge(self.scene().log.iter(), self.notes.iter(), self.cursor(), LOG_CAP)
    }

    /// Every note kept (the newest [`LOG_CAP`]).
    pub fn notes(&self) -> impl DoubleEndedIterator<Item = &NoteEntry> {
        self.notes.iter()
    }

    /// The history as a recording (to save it, or to export it), from the segment holding
    /// index `from`, decoded one segment at a time.
    pub fn recording_from(&self, from: u64) -> impl Iterator<Item = muxscope_shared::ServerMsg> + '_ {
        self.timeline.history().recording_from(from)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn note(&mut self, note: Note) {
        let at = self.timeline.end_index();
        self.note_at(note, at);
    }

    /// A note placed at history index `at` (it shows once the cursor is there).
    fn note_at(&mut self, note: Note, at: u64) {
        let id = self.id();
        push_capped(&mut self.notes, NoteEntry { id, at, note }, LOG_CAP);
    }
}

fn push_capped<T>(q: &mut VecDeque<T>, v: T, cap: usize) {
    if q.len() >= cap {
        q.pop_front();
    }
    q.push_back(v);
}
