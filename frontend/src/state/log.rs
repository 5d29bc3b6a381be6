//! The event log as typed entries: the reducer keeps what happened, the view (`crate::text`)
//! says it, in the page's language. Two kinds: entries folded from the items (part of the
//! scene, so they follow the cursor through the history) and notes about the page itself (the
//! stream, its folding, the history's eviction), which happen in wall-clock time and are kept
//! beside the history, each with the history index it happened at.

use super::scene::{played_bytes, Played};
use muxscope_shared::Model as IoModel;
use std::rc::Rc;

/// One line of the scene's log. Each knows its history index: clicking it jumps there.
#[derive(Clone, Debug, PartialEq)]
pub enum LogEntry {
    /// An event, with what its words need (a `gap` too; a `model` event is told as a
    /// [`LogEntry::Switch`]).
    Event(Rc<Played>),
    /// A snapshot: the loop's whole table.
    Snapshot { index: u64, fds: usize, model: Option<IoModel> },
    /// A model switch: `fds` handed over; `seen_in_snapshot` when its `model` event was lost and
    /// a snapshot showed it.
    Switch { index: u64, from: IoModel, to: IoModel, fds: usize, seen_in_snapshot: bool },
}

impl LogEntry {
    pub fn index(&self) -> u64 {
        match self {
            LogEntry::Event(p) => p.index,
            LogEntry::Snapshot { index, .. } | LogEntry::Switch { index, .. } => *index,
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            LogEntry::Event(p) => played_bytes(p),
            _ => 0,
        }
    }
}

/// Why the page folded events (played them at once, as one picture).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoldWhy {
    /// Live, more arrived in a tick than it animates.
    TooFast,
    /// The queue of received events passed its bound.
    QueueFull,
}

/// What happened to the page itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    Connected,
    /// The event stream dropped; the page reconnects.
    Lost,
    /// The event stream closed: the server's reason (empty when it just dropped) and the
    /// seconds until the page tries again.
    Closed {
        reason: String,
        retry_s: u32,
    },
    /// `n` events played as one picture.
    Folded {
        n: u64,
        why: FoldWhy,
    },
    /// The history's oldest `events` were let go to stay within its memory bound.
    Evicted {
        events: u64,
    },
    /// A recording of `events` events was opened (the history is now that recording).
    Opened {
        events: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteEntry {
    /// Unique among notes (a key for the view).
    pub id: u64,
    /// The history's end when it happened: it sits between the entries of `at - 1` and `at`.
    pub at: u64,
    pub note: Note,
}

/// A line of the log as the view shows it: an entry of the scene or a note, merged in history
/// order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LogLine<'a> {
    Entry(&'a LogEntry),
    Note(&'a NoteEntry),
}

impl LogLine<'_> {
    /// Where clicking the line goes: the cursor just after its event (or at its note).
    pub fn jump_to(&self) -> u64 {
        match self {
            LogLine::Entry(e) => e.index() + 1,
            LogLine::Note(n) => n.at,
        }
    }

    /// The history order: an entry of index `i` after a note made at `i`, before one at `i + 1`.
    fn key(&self) -> (u64, u8) {
        match self {
            LogLine::Entry(e) => (e.index(), 1),
            LogLine::Note(n) => (n.at, 0),
        }
    }
}

/// The newest `cap` lines of `entries` and of the `notes` made at or before `cursor`, in order.
pub fn merge<'a>(
    entries: impl DoubleEndedIterator<Item = &'a LogEntry>,
    notes: impl DoubleEndedIterator<Item = &'a NoteEntry>,
    cursor: u64,
    cap: usize,
) -> Vec<LogLine<'a>> {
    let mut e = entries.rev().map(LogLine::Entry).peekable();
    let mut n = notes.rev().filter(|n| n.at <= cursor).map(LogLine::Note).peekable();
    let mut out = Vec::with_capacity(cap);
    while out.len() < cap {
        let take_entry = match (e.peek(), n.peek()) {
            (Some(a), Some(b)) => a.key() > b.key(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_entry { e.next() } else { n.next() };
        out.extend(next);
    }
    out.reverse();
    out
}
