//! The actions and how each changes the page.

use super::log::Note;
use super::{push_capped, ChatEntry, Model, StreamDown, CHAT_CAP};
use crate::history::{History, Timeline};
use muxscope_shared::{ModelsReport, ServerMsg};
use std::rc::Rc;

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
    /// One item forward: through the history, or at its end the next one queued (pauses).
    Step,
    /// One item back through the history (pauses).
    StepBack,
    /// The cursor to a history index: the scrubber, a click on a log line (pauses).
    Seek(u64),
    Speed(f64),
    /// Back to the live end, playing.
    Live,
    /// A recording to show instead of the stream: the whole of it becomes the history, shown
    /// paused at its start; resumed, it plays at its recorded pace × speed.
    Open(Vec<ServerMsg>),
    /// Where the events come from now (set with [`Action::Open`] for a recording).
    Source(super::Source),
    ChatLine(String),
    ChatStatus(String),
    /// `GET /api/models` answered: the report, or why there is none.
    Report(Result<Rc<ModelsReport>, String>),
    /// The page's language (the toggle): only the view's words change.
    Lang(crate::i18n::Lang),
}

impl Model {
    /// Applies one action. Returns false when nothing changed (the view need not redraw).
    pub fn update(&mut self, action: Action) -> bool {
        let from = self.cursor();
        let changed = self.apply(action);
        self.notice_banner(from);
        changed
    }

    fn apply(&mut self, action: Action) -> bool {
        match action {
            // A recording is on show: the live stream's comings and goings are not its story.
            Action::Connected(_) | Action::StreamClosed { .. } if self.source != super::Source::Live => return false,
            Action::Connected(c) => {
                if self.connected == c {
                    return false;
                }
                self.connected = c;
                if c {
                    self.stream_closed = None;
                }
                self.note(if c { Note::Connected } else { Note::Lost });
            }
            Action::StreamClosed { reason, retry_s } => {
                self.connected = false;
                self.stream_closed = Some(StreamDown { reason: reason.clone(), retry_s });
                self.note(Note::Closed { reason, retry_s });
            }
            Action::Receive(msgs, now) => {
                self.player.received_ms = now;
                for msg in msgs {
                    self.apply(Action::Server(msg));
                }
                self.tick(now);
            }
            // A recording is on show: live frames are not mixed into it.
            Action::Server(_) if self.source != super::Source::Live => return false,
            Action::Server(msg) => {
                self.player.receive(msg);
                self.bound_queue();
            }
            Action::Tick(now) => return self.tick(now),
            Action::Pause => self.player.paused = true,
            Action::Resume => {
                self.player.paused = false;
                self.player.next_play_ms = 0.0;
                self.player.anchor = None;
            }
            Action::Step => {
                let was_paused = self.player.paused;
                self.pause_here();
                if !self.timeline.step_forward() {
                    match self.player.queue.pop_front() {
                        Some(item) => self.play(item),
                        // Nothing to step to: the pause alone changed the page.
                        None => return !was_paused,
                    }
                }
            }
            Action::StepBack => {
                let was_paused = self.player.paused;
                self.pause_here();
                return self.timeline.step_back() || !was_paused;
            }
            Action::Seek(i) => {
                let was_paused = self.player.paused;
                self.pause_here();
                return self.timeline.seek(i) || !was_paused;
            }
            Action::Speed(s) => {
                let s = if s.is_finite() { s.clamp(0.1, 1.0) } else { 1.0 };
                if (s - self.player.speed).abs() < 1e-9 {
                    return false;
                }
                self.player.speed = s;
                self.player.next_play_ms = 0.0;
                self.player.anchor = None;
            }
            Action::Live => {
                self.player.paused = false;
                self.player.speed = 1.0;
                self.player.anchor = None;
                self.timeline.to_end();
                self.play_live();
            }
            Action::Open(msgs) => {
                let history = History::from_recording(msgs, self.timeline().history().bound());
                let events = history.end_index();
                let evicted = history.stats().evicted;
                // A new story: nothing of the live page's player (its queue, its flood's calm
                // point, its clock), notes or rates carries over into the recording's.
                let speed = self.player.speed;
                self.player = super::Player { recorded: true, paused: true, speed, live_ts_ns: history.head().ts_ns, ..Default::default() };
                self.tally = super::Tally::default();
                self.notes.clear();
                self.timeline = Timeline::new(history);
                let first = self.timeline().first_index();
                self.timeline.seek(first);
                // Said where the recording starts, where the picture is now.
                self.note_at(Note::Opened { events }, first);
                if evicted > 0 {
                    // The page keeps what its history bound holds: the start went first.
                    self.note_at(Note::Evicted { events: evicted }, first);
                }
            }
            Action::Source(source) => {
                if self.source == source {
                    return false;
                }
                self.source = source;
            }
            Action::ChatLine(text) => {
                let id = self.id();
                push_capped(&mut self.chat, ChatEntry { id, status: false, text }, CHAT_CAP);
            }
            Action::Lang(lang) => {
                if self.lang == lang {
                    return false;
                }
                self.lang = lang;
            }
            Action::ChatStatus(text) => {
                let id = self.id();
                push_capped(&mut self.chat, ChatEntry { id, status: true, text }, CHAT_CAP);
            }
            Action::Report(Ok(report)) => {
                if self.report.as_ref() == Some(&report) && self.report_error.is_none() {
                    return false;
                }
                self.report = Some(report);
                self.report_error = None;
            }
            Action::Report(Err(why)) => {
                if self.report_error.as_ref() == Some(&why) {
                    return false;
                }
                self.report_error = Some(why);
            }
        }
        true
    }

    /// Paused where the picture is (a recording's pace starts again from there).
    fn pause_here(&mut self) {
        self.player.paused = true;
        self.player.anchor = None;
    }
}
