//! A model switch as the scene keeps it: a log entry, a banner (the view shows it for
//! [`BANNER_MS`]), and a fresh start for what belonged to the old model (its last wait, its
//! sweeps). The `ctl` events before a `model` event already show the teardown and the rebuild.

use super::log::LogEntry;
use super::scene::{Banner, Scene};
use muxscope_shared::Model as IoModel;

/// How long the banner of a switch stays on the stage.
pub const BANNER_MS: f64 = 2000.0;

impl Scene {
    /// The server serves with `to` from `at_ns` on; the picture (`snap`) is already the new
    /// model's. `seen_in_snapshot`: the `model` event itself was not played (lost in a gap),
    /// a snapshot showed the change.
    pub(super) fn handover(&mut self, index: u64, from: Option<IoModel>, to: IoModel, at_ns: u64, seen_in_snapshot: bool) {
        self.sweeps.restart(at_ns);
        self.totals.switches += 1;
        // The old model's wait and step say nothing of the new one, which may not wait at all.
        self.wait = None;
        self.phase = None;
        let Some(from) = from.filter(|f| *f != to) else {
            return;
        };
        let fds = self.snap.fds.len();
        self.push_log(LogEntry::Switch { index, from, to, fds, seen_in_snapshot });
        self.banner = Some(Banner { index, from, to, fds });
    }
}
