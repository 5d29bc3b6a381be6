//! One stretch of the history: a keyframe (the scene at its start) and the events after it,
//! packed (`muxscope_shared::pack`, a few bytes each, delta-coded from the segment's start).

use crate::state::{Item, Scene};
use muxscope_shared::pack::{Packer, Unpacker};
use muxscope_shared::Event;

pub(super) struct Segment {
    /// The history index of its first event; the keyframe is the scene after `items[..start]`.
    pub start: u64,
    pub keyframe: Scene,
    /// What the keyframe costs ([`Scene::heap_bytes`], measured once).
    pub keyframe_bytes: usize,
    pub events: Packer,
    /// A snapshot (the item at `start - 1`) began it: it is in the keyframe, not in `events`.
    pub after_snapshot: bool,
    /// The newest timestamp before its first event (the keyframe's) and after its last.
    pub ts_start: u64,
    pub ts_end: u64,
}

impl Segment {
    pub fn new(start: u64, keyframe: Scene, after_snapshot: bool) -> Segment {
        let keyframe_bytes = keyframe.heap_bytes();
        let ts = keyframe.ts_ns;
        Segment { start, keyframe, keyframe_bytes, events: Packer::new(), after_snapshot, ts_start: ts, ts_end: ts }
    }

    pub fn len(&self) -> u64 {
        self.events.len() as u64
    }

    /// The index just after its last event (the last cursor it can give).
    pub fn end(&self) -> u64 {
        self.start + self.len()
    }

    /// Heap bytes held: the keyframe and the packed events.
    pub fn bytes(&self) -> usize {
        self.keyframe_bytes + self.events.heap_bytes()
    }

    pub fn push(&mut self, e: &Event) {
        self.events.push(e);
        self.ts_end = self.ts_end.max(e.ts_ns);
    }

    /// Its events in order, with their history indices. Stops at the first that does not
    /// decode (which only a bug in the packer could cause).
    pub fn decode(&self) -> impl Iterator<Item = (u64, Event)> + '_ {
        Unpacker::new(self.events.bytes()).map_while(Result::ok).enumerate().map(|(k, e)| (self.start + k as u64, e))
    }

    /// Moves `scene` from the cursor `from` to `to` (both within this segment) by folding the
    /// events between. Decoding starts at the segment's start: events are delta-coded.
    pub fn replay(&self, scene: &mut Scene, from: u64, to: u64) {
        for (i, e) in self.decode().skip((from - self.start) as usize).take((to - from) as usize) {
            scene.apply(i, Item::Event(e));
        }
    }
}
