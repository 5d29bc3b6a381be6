//! Reading the history: the scene at any index, the events of a stretch, and where a time falls.
//! Indices are absolute (an item keeps its index however much older history is let go); a
//! cursor `i` is the point after `items[..i]`.

use super::segment::Segment;
use super::History;
use crate::state::Scene;
use muxscope_shared::Event;

impl History {
    /// The segment that shows cursor `i`: the newest one starting at or before it (when two
    /// hold it, the later one's keyframe is exactly there).
    fn segment_at(&self, i: u64) -> Option<&Segment> {
        let k = self.segments.partition_point(|s| s.start <= i).checked_sub(1)?;
        let seg = &self.segments[k];
        (i <= seg.end()).then_some(seg)
    }

    /// The scene at cursor `i` (after `items[..i]`): the nearest keyframe and a replay of at
    /// most one segment. `None` outside `first_index()..=end_index()`.
    pub fn seek(&self, i: u64) -> Option<Scene> {
        if i == self.end {
            return Some(self.head.clone());
        }
        let seg = self.segment_at(i)?;
        let mut scene = seg.keyframe.clone();
        seg.replay(&mut scene, seg.start, i);
        Some(scene)
    }

    /// Moves `scene`, the scene at cursor `from`, forward to cursor `to`: the events between
    /// when they are in one segment, else from `to`'s keyframe (never more replay than a seek).
    pub fn forward(&self, scene: &mut Scene, from: u64, to: u64) {
        if to <= from {
            return;
        }
        if to == self.end && self.segment_at(from).is_none_or(|s| s.end() < to) {
            *scene = self.head.clone();
            return;
        }
        let Some(seg) = self.segment_at(to) else { return };
        if seg.start > from {
            *scene = seg.keyframe.clone();
            seg.replay(scene, seg.start, to);
        } else {
            seg.replay(scene, from, to);
        }
    }

    /// The events with an index in `from..to` that the history still holds, with their indices
    /// (snapshots are not events: their indices are skipped).
    pub fn events_between(&self, from: u64, to: u64) -> Vec<(u64, Event)> {
        let mut out = Vec::new();
        for seg in self.segments.iter().filter(|s| s.start < to && s.end() > from) {
            out.extend(seg.decode().skip(from.saturating_sub(seg.start) as usize).take_while(|(i, _)| *i < to));
        }
        out
    }

    /// The loop's time at cursor `i`: the newest timestamp among `items[..i]` (gaps from the
    /// gateway carry no time of their own, so this never goes back).
    pub fn ts_at(&self, i: u64) -> Option<u64> {
        let seg = self.segment_at(i)?;
        let mut ts = seg.ts_start;
        for (_, e) in seg.decode().take((i - seg.start) as usize) {
            ts = ts.max(e.ts_ns);
        }
        Some(ts)
    }

    /// The cursor at loop time `ts_ns`: after every item up to that time, before the first
    /// later one (clamped to what the history holds).
    pub fn index_at_ts(&self, ts_ns: u64) -> u64 {
        let k = self.segments.partition_point(|s| s.ts_end <= ts_ns);
        let Some(seg) = self.segments.get(k) else {
            return self.end;
        };
        if seg.ts_start > ts_ns {
            // Before its keyframe: the snapshot that began it is later than `ts_ns`.
            let before = if seg.after_snapshot { seg.start - 1 } else { seg.start };
            return before.max(self.first_index());
        }
        let mut ts = seg.ts_start;
        for (i, e) in seg.decode() {
            ts = ts.max(e.ts_ns);
            if ts > ts_ns {
                return i;
            }
        }
        seg.end()
    }
}
