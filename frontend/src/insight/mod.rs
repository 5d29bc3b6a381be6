//! Warnings and plots: what the event stream says went wrong, and how the loop's numbers are
//! spread, as a fold over the history like the scene itself ([`Insight`] is a field of
//! [`crate::state::Scene`]). Stepping back therefore shows the warnings and the histograms of
//! that moment, and a paused page's plots stay still: nothing here reads a clock, only the
//! events' own timestamps.
//!
//! The fold does a bounded, allocation-free amount of work per event (a few comparisons, a
//! bucket increment, a search of a short list); the view sums at most [`plots::SLOTS`] slots
//! when it draws, a few times a second.

pub mod plots;
pub mod text;
#[cfg(target_arch = "wasm32")]
pub mod view;
pub mod warnings;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_plots;
#[cfg(test)]
mod tests_props;

use muxscope_shared::{Event, Model as IoModel, Snapshot};
pub use plots::{Hist, Plot, Plots, Summary, BUCKETS};
pub use warnings::{Kind, Warning, Warnings, SHOW_NS};

/// What the page derives from the stream besides the picture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Insight {
    pub warnings: Warnings,
    pub plots: Plots,
}

impl Insight {
    /// Folds the event at history index `index`. `name` is the fd's name before the event (the
    /// scene's fold knows it even for a close after its `ctl del`), `snap` the loop before it,
    /// `building` the model a switch under way builds its table for.
    pub fn see(&mut self, index: u64, e: &Event, name: Option<&str>, snap: &Snapshot, building: Option<IoModel>) {
        let model = snap.model.unwrap_or_default();
        self.plots.see(e, model);
        self.warnings.see(index, e, name, snap, building);
    }

    /// About how many heap bytes it holds (a keyframe's share).
    pub fn heap_bytes(&self) -> usize {
        self.plots.heap_bytes() + self.warnings.heap_bytes()
    }
}
