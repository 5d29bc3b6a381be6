//! The page's history: every item it played, so it can go back. Stored the way the Elm
//! debugger does it, with keyframes: a list of segments, each a keyframe (the whole scene at its
//! start) and the events after it packed into a few bytes each. Any point is the nearest
//! keyframe at or before it plus a replay of at most one segment. A snapshot in the stream
//! starts a segment of its own (it is a keyframe already).
//!
//! Keyframe spacing follows the keyframe's size: a keyframe may cost about
//! [`KEYFRAME_SHARE`] bytes per event of its segment, between [`MIN_SPACING`] and
//! [`MAX_SPACING`] events. A room of a thousand fds has a keyframe of ~100 KB, so one every
//! ~5,000 events; the cap keeps a seek within ~16 k events of replay (≤ 50 ms in wasm) in any
//! room, at the price of more bytes per event in the very biggest ones.
//!
//! Memory is bounded ([`DEFAULT_BOUND`]): past it the oldest segments go, and the count of
//! events let go is kept so the page can say so.

mod query;
mod segment;
pub mod synthetic;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_size;
mod timeline;

use crate::state::{Item, Scene};
use muxscope_shared::{ServerMsg, Snapshot};
use segment::Segment;
use std::collections::VecDeque;
pub use timeline::Timeline;

/// Memory the history may hold by default.
pub const DEFAULT_BOUND: usize = 64 << 20;
/// Bytes of keyframe per event of its segment that spacing aims for.
pub const KEYFRAME_SHARE: usize = 20;
pub const MIN_SPACING: u64 = 256;
pub const MAX_SPACING: u64 = 16_384;

/// How far apart keyframes are, for a keyframe of `bytes`, at most `max` events.
pub fn spacing(bytes: usize, max: u64) -> u64 {
    ((bytes / KEYFRAME_SHARE) as u64).clamp(MIN_SPACING.min(max), max)
}

/// What the status line says of the history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryStats {
    /// Items held (events and snapshots), and the bytes they take.
    pub items: u64,
    pub bytes: usize,
    /// Loop time from the oldest item held to the newest.
    pub span_ns: u64,
    /// Events let go so far to stay within the bound.
    pub evicted: u64,
}

pub struct History {
    /// The scene at the end: every item played so far, folded.
    head: Scene,
    /// Oldest first; the last one is open (new events go there).
    segments: VecDeque<Segment>,
    /// Items played so far (the index the next one gets).
    end: u64,
    bound: usize,
    /// The sum of the segments' bytes.
    bytes: usize,
    evicted: u64,
    /// The most events between keyframes ([`MAX_SPACING`]; tests make it small).
    max_spacing: u64,
}

impl Default for History {
    fn default() -> History {
        History::new(DEFAULT_BOUND)
    }
}

impl History {
    /// An empty history that holds at most about `bound` bytes.
    pub fn new(bound: usize) -> History {
        History::with_spacing(bound, MAX_SPACING)
    }

    /// The same, with keyframes at most `max_spacing` events apart.
    pub fn with_spacing(bound: usize, max_spacing: u64) -> History {
        let first = Segment::new(0, Scene::default(), false);
        let bytes = first.bytes();
        History { head: Scene::default(), segments: VecDeque::from([first]), end: 0, bound, bytes, evicted: 0, max_spacing }
    }

    /// The scene after every item played.
    pub fn head(&self) -> &Scene {
        &self.head
    }

    /// Plays `item` at the end: packed into the open segment (or, for a snapshot, a new
    /// segment) and folded into the head. Returns how many events were let go to stay within the
    /// bound.
    pub fn push(&mut self, item: Item) -> u64 {
        let index = self.end;
        match item {
            Item::Snapshot(s) => {
                self.head.apply(index, Item::Snapshot(s));
                self.end += 1;
                self.start_segment(true);
            }
            Item::Event(e) => {
                let open = self.segments.back().expect("a history always has a segment");
                if open.len() >= spacing(open.keyframe_bytes, self.max_spacing) {
                    self.start_segment(false);
                }
                let open = self.segments.back_mut().expect("a history always has a segment");
                let before = open.bytes();
                open.push(&e);
                self.bytes = self.bytes + open.bytes() - before;
                self.head.apply(index, Item::Event(e));
                self.end += 1;
            }
        }
        self.evict()
    }

    /// Closes the open segment and opens one at the end, with the head as its keyframe.
    fn start_segment(&mut self, after_snapshot: bool) {
        if let Some(open) = self.segments.back_mut() {
            let before = open.bytes();
            open.events.shrink();
            self.bytes = self.bytes + open.bytes() - before;
        }
        let seg = Segment::new(self.end, self.head.clone(), after_snapshot);
        self.bytes += seg.bytes();
        self.segments.push_back(seg);
    }

    fn evict(&mut self) -> u64 {
        let mut gone = 0;
        while self.bytes > self.bound && self.segments.len() > 1 {
            let Some(seg) = self.segments.pop_front() else { break };
            self.bytes -= seg.bytes();
            gone += seg.len();
        }
        self.evicted += gone;
        gone
    }

    /// The oldest cursor the history can show (the first segment's keyframe).
    pub fn first_index(&self) -> u64 {
        self.segments.front().map_or(self.end, |s| s.start)
    }

    /// Items played so far: the cursor at the live end.
    pub fn end_index(&self) -> u64 {
        self.end
    }

    /// Heap bytes held (what the bound applies to).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The same, added up segment by segment (a check on the running total).
    pub fn bytes_counted(&self) -> usize {
        self.segments.iter().map(Segment::bytes).sum()
    }

    pub fn bound(&self) -> usize {
        self.bound
    }

    /// Keyframes held.
    pub fn keyframes(&self) -> usize {
        self.segments.len()
    }

    pub fn stats(&self) -> HistoryStats {
        let first = self.segments.front().map_or(0, |s| s.ts_start);
        let last = self.segments.back().map_or(0, |s| s.ts_end);
        HistoryStats { items: self.end - self.first_index(), bytes: self.bytes, span_ns: last.saturating_sub(first), evicted: self.evicted }
    }

    /// A history of `msgs` (a recording), every one of them played.
    pub fn from_recording(msgs: Vec<ServerMsg>, bound: usize) -> History {
        let mut h = History::new(bound);
        for msg in msgs {
            match msg {
                ServerMsg::Snapshot(s) => {
                    h.push(Item::Snapshot(s));
                }
                ServerMsg::Events { events } => {
                    for e in events {
                        h.push(Item::Event(e));
                    }
                }
            }
        }
        h
    }

    /// The history held, as a recording's messages: a snapshot (the oldest keyframe's picture,
    /// and each snapshot the stream brought) and the events between. Played again it gives the
    /// same pictures (the same indices too, when nothing was let go).
    pub fn to_recording(&self) -> Vec<ServerMsg> {
        self.recording_from(0).collect()
    }

    /// The same, lazily (one segment decoded at a time), from the segment that holds index
    /// `from` (earlier ones are left out; that segment's keyframe starts it as a snapshot).
    pub fn recording_from(&self, from: u64) -> impl Iterator<Item = ServerMsg> + '_ {
        let first = self.segments.partition_point(|s| s.start <= from).saturating_sub(1);
        self.segments.iter().enumerate().skip(first).flat_map(move |(k, seg)| {
            // The oldest keyframe shown stands for everything before it (a history that
            // starts at 0 starts from nothing, as its replay will).
            let snapshot = (seg.after_snapshot || (k == first && seg.start > 0)).then(|| ServerMsg::Snapshot(snapshot_of(&seg.keyframe)));
            let events: Vec<_> = seg.decode().map(|(_, e)| e).collect();
            let events = (!events.is_empty()).then_some(ServerMsg::Events { events });
            snapshot.into_iter().chain(events)
        })
    }
}

fn snapshot_of(s: &Scene) -> Snapshot {
    s.snap.clone()
}
