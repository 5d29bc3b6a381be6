//! The page's history as what the timeline reads ([`Source`]): its indices and events as they
//! are, and the fd table at a cursor from the scene there.

use super::feed::Source;
use crate::history::Timeline;
use muxscope_shared::{Event, Snapshot};

impl Source for Timeline {
    fn first_index(&self) -> u64 {
        Timeline::first_index(self)
    }

    fn end_index(&self) -> u64 {
        Timeline::end_index(self)
    }

    fn cursor(&self) -> u64 {
        Timeline::cursor(self)
    }

    fn events_between(&self, from: u64, to: u64) -> Vec<(u64, Event)> {
        Timeline::events_between(self, from, to)
    }

    /// The scene shown holds it at the cursor; anywhere else it is a seek (a keyframe and a
    /// replay), which the feed asks for only to start a window somewhere new.
    fn snapshot_at(&self, i: u64) -> Option<Snapshot> {
        if i == Timeline::cursor(self) {
            return Some(self.scene().snap.clone());
        }
        self.history().seek(i).map(|s| s.snap)
    }
}
