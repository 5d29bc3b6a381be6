//! The timeline: the history and a cursor on it. At the end the picture is the history's head;
//! behind it, a scene of its own that seek and step move. Step back is `seek(cursor - 1)`.
//!
//! This is also what the per-fd timeline canvas reads: [`Timeline::first_index`],
//! [`Timeline::end_index`], [`Timeline::cursor`], [`Timeline::events_between`],
//! [`Timeline::ts_at`] and [`Timeline::index_at_ts`] (absolute indices, stable as older history
//! is let go).

use super::{History, HistoryStats};
use crate::state::{Item, Scene};
use muxscope_shared::Event;

#[derive(Default)]
pub struct Timeline {
    history: History,
    /// The cursor and its scene, while the cursor is behind the end.
    behind: Option<(u64, Scene)>,
}

impl Timeline {
    pub fn new(history: History) -> Timeline {
        Timeline { history, behind: None }
    }

    /// The scene at the cursor.
    pub fn scene(&self) -> &Scene {
        self.behind.as_ref().map_or(self.history.head(), |(_, s)| s)
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// Where the picture is: after `items[..cursor()]`.
    pub fn cursor(&self) -> u64 {
        self.behind.as_ref().map_or(self.history.end_index(), |(i, _)| *i)
    }

    /// The cursor is at the live end (new items show as they are played).
    pub fn at_end(&self) -> bool {
        self.behind.is_none()
    }

    pub fn first_index(&self) -> u64 {
        self.history.first_index()
    }

    pub fn end_index(&self) -> u64 {
        self.history.end_index()
    }

    pub fn events_between(&self, from: u64, to: u64) -> Vec<(u64, Event)> {
        self.history.events_between(from, to)
    }

    pub fn ts_at(&self, index: u64) -> Option<u64> {
        self.history.ts_at(index)
    }

    pub fn index_at_ts(&self, ts_ns: u64) -> u64 {
        self.history.index_at_ts(ts_ns)
    }

    pub fn stats(&self) -> HistoryStats {
        self.history.stats()
    }

    /// Plays `item` at the end of the history (the picture follows only if the cursor is at the
    /// end). Returns how many events were let go to stay within the bound; a cursor on them
    /// moves to the oldest point still held.
    pub fn push(&mut self, item: Item) -> u64 {
        let gone = self.history.push(item);
        if gone > 0 && self.cursor() < self.first_index() {
            self.seek(self.first_index());
        }
        gone
    }

    /// Moves the cursor to `i` (clamped to what the history holds). False when it was there.
    pub fn seek(&mut self, i: u64) -> bool {
        let i = i.clamp(self.first_index(), self.end_index());
        if i == self.cursor() {
            return false;
        }
        if i == self.end_index() {
            self.behind = None;
            return true;
        }
        let first = self.first_index();
        self.behind = match self.behind.take() {
            // Forward from a scene still held: the events between, not a seek.
            Some((c, mut s)) if c < i && c >= first => {
                self.history.forward(&mut s, c, i);
                Some((i, s))
            }
            _ => self.history.seek(i).map(|s| (i, s)),
        };
        true
    }

    pub fn step_back(&mut self) -> bool {
        self.cursor() > self.first_index() && self.seek(self.cursor() - 1)
    }

    /// One item forward in the history; false at the end (the player then plays from its
    /// queue).
    pub fn step_forward(&mut self) -> bool {
        !self.at_end() && self.seek(self.cursor() + 1)
    }

    pub fn to_end(&mut self) -> bool {
        self.behind.take().is_some()
    }
}
