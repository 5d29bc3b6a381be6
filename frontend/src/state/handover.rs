//! A model switch as the page tells it: one log line, a banner on the stage for [`BANNER_MS`],
//! and a fresh start for what belonged to the old model (its last wait, its sweeps). The `ctl`
//! events before a `model` event already animate the teardown and the rebuild.

use super::{describe, Model};
use muxscope_shared::{EventBody, Model as IoModel};

/// How long the banner of a switch stays on the stage.
pub const BANNER_MS: f64 = 2000.0;

#[derive(Clone, Debug, PartialEq)]
pub struct Banner {
    pub id: u64,
    pub text: String,
    /// The page's clock when it goes.
    pub until_ms: f64,
}

impl Model {
    /// The server serves with `to` from `at_ns` on; the picture (`snap`) is already the new
    /// model's. `seen_in_snapshot`: the `model` event itself was not played (lost in a gap),
    /// a snapshot showed the change.
    pub(super) fn handover(&mut self, from: Option<IoModel>, to: IoModel, at_ns: u64, seen_in_snapshot: bool) {
        self.sweeps.restart(at_ns);
        self.switches += 1;
        // The old model's wait and step say nothing of the new one, which may not wait at all.
        self.wait = None;
        self.phase = None;
        let Some(from) = from.filter(|f| *f != to) else {
            return;
        };
        let n = self.snap.fds.len();
        let how = if seen_in_snapshot { " (seen in a snapshot)" } else { "" };
        let line = format!("{}, {n} fds handed over{how}", describe(&EventBody::Model { model: to, from: Some(from) }, to, None));
        self.log_line("model", line);
        let id = self.id();
        self.banner = Some(Banner {
            id,
            text: format!("{from} → {to}: {n} fds handed over, every connection kept"),
            until_ms: self.now_ms + BANNER_MS,
        });
    }
}
