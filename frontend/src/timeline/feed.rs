//! Which stretch of history the timeline shows, and when its lanes are built again. Building a
//! window reads up to [`MAX_WINDOW_EVENTS`] events, so it is done only when the picture needs
//! it: while live at most every [`LIVE_REBUILD_MS`], paused only when the cursor leaves the
//! window (stepping through it rebuilds nothing).
//!
//! A window starts from the fd table at its first event. Asking the history for it is a seek
//! (a keyframe and up to a segment of replay, tens of ms in a big room), so the feed keeps the
//! table and the window's events itself: live, the window slides forward by the new events
//! alone, folding the ones it lets go into its table. It seeks only to start a window somewhere
//! else (a jump while paused, older history let go, a resync in the stream).

use super::lanes::{build_window, Window, MAX_WINDOW_EVENTS};
use muxscope_shared::{Event, Snapshot};
use std::collections::VecDeque;
use std::rc::Rc;

/// While live, the window is rebuilt at most this often (the newest marks lag by as much).
pub const LIVE_REBUILD_MS: f64 = 250.0;

/// What the timeline reads from the history. Indices are absolute; a cursor `i` is the point
/// after `items[..i]`.
pub trait Source {
    fn first_index(&self) -> u64;
    fn end_index(&self) -> u64;
    /// Where the picture is.
    fn cursor(&self) -> u64;
    /// The events with an index in `from..to` (snapshot items are not events: skipped).
    fn events_between(&self, from: u64, to: u64) -> Vec<(u64, Event)>;
    /// The fd table at cursor `i` (the scene's snapshot there).
    fn snapshot_at(&self, i: u64) -> Option<Snapshot>;
}

/// The event range `[from, to)` to show for a history holding `[first, end)` with the picture at
/// `cursor`: the last [`MAX_WINDOW_EVENTS`] while live, else a window around the cursor.
/// `current` is kept while the cursor stays well inside it.
pub fn window_range(first: u64, end: u64, cursor: u64, current: Option<(u64, u64)>) -> (u64, u64) {
    let n = MAX_WINDOW_EVENTS as u64;
    let cursor = cursor.clamp(first, end);
    if cursor == end {
        return (end.saturating_sub(n).max(first), end);
    }
    if let Some((from, to)) = current {
        // A margin of an eighth on each side, unless that side is the history's own edge.
        let margin = (to - from) / 8;
        let low_ok = from == first || cursor >= from + margin;
        let high_ok = to == end || cursor + margin <= to;
        if first <= from && to <= end && from <= cursor && cursor <= to && low_ok && high_ok {
            return (from, to);
        }
    }
    let from = cursor.saturating_sub(n / 2).max(first);
    let to = (from + n).min(end);
    (to.saturating_sub(n).max(first), to)
}

/// The window the timeline draws, kept between renders with what it was built from.
#[derive(Default)]
pub struct Feed {
    window: Rc<Window>,
    range: Option<(u64, u64)>,
    built_ms: f64,
    /// The fd table at `range.0`, and the events of `range`.
    table: Option<Snapshot>,
    events: VecDeque<(u64, Event)>,
}

impl Feed {
    /// The window for `h` now: the one already built while it still serves, else a new one.
    pub fn update(&mut self, h: &impl Source, now_ms: f64) -> Rc<Window> {
        let (first, end, cursor) = (h.first_index(), h.end_index(), h.cursor());
        let want = window_range(first, end, cursor, self.range);
        if Some(want) == self.range {
            return self.window.clone();
        }
        // Live: the newest events wait a little; the window still holds the recent past.
        let live = cursor >= end;
        let fresh = now_ms - self.built_ms < LIVE_REBUILD_MS;
        if live && fresh && self.range.is_some_and(|(from, _)| from >= first) {
            return self.window.clone();
        }
        if !self.slide(h, want) {
            self.table = Some(h.snapshot_at(want.0).unwrap_or_else(Snapshot::empty));
            self.events = h.events_between(want.0, want.1).into();
        }
        let table = self.table.as_ref().expect("set by slide or just now");
        self.window = Rc::new(build_window(table, self.events.make_contiguous()));
        self.range = Some(want);
        self.built_ms = now_ms;
        self.window.clone()
    }

    /// Moves the kept window forward to `want` with only the events that are new, if it can:
    /// `want` starts inside it and ends at or after it, and no snapshot item lies in what is let
    /// go (its indices would jump: the table is then taken from the history).
    fn slide(&mut self, h: &impl Source, (from, to): (u64, u64)) -> bool {
        let (Some((old_from, old_to)), Some(table)) = (self.range, self.table.as_mut()) else {
            return false;
        };
        if from < old_from || from > old_to || to < old_to || from < h.first_index() {
            return false;
        }
        self.events.extend(h.events_between(old_to, to));
        let mut next = old_from;
        while self.events.front().is_some_and(|(i, _)| *i < from) {
            let (i, e) = self.events.pop_front().expect("front checked");
            if i != next {
                return false;
            }
            table.apply(&e);
            next = i + 1;
        }
        self.events.front().is_none_or(|(i, _)| *i == next.max(from))
    }

    /// Forgets the window (the timeline was closed: it costs nothing until opened again).
    pub fn clear(&mut self) {
        *self = Feed::default();
    }
}
