//! The per-fd timeline under the stage: a stretch of the history drawn as lanes on a canvas.
//! The loop's lane shows where it blocked (each wait, `io_uring_enter` or nap as a slice); each
//! fd generation has a lane with its recv, send, ctl, accept and close marks; each broadcast
//! draws a flow to every recipient's send. Zoom, pan, a cursor at the picture's time, and a
//! click on a mark seeks there.
//!
//! [`lanes`] builds a [`Window`] from events (pure), [`feed`] decides when it is built again
//! (reading the page's history through [`Source`], implemented in `source`),
//! [`viewport`] places it on the canvas (pure); `canvas` paints it and `view` is the Yew
//! component (wasm only). Closed, the timeline builds and draws nothing.

pub mod feed;
pub mod lanes;
mod source;
pub mod viewport;

#[cfg(target_arch = "wasm32")]
mod canvas;
#[cfg(target_arch = "wasm32")]
mod view;

pub use feed::{window_range, Feed, Source, LIVE_REBUILD_MS};
pub use lanes::{build_window, build_window_with, Window, MAX_LANES, MAX_WINDOW_EVENTS};
#[cfg(target_arch = "wasm32")]
pub use view::{Timeline, TimelineProps};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_feed;
#[cfg(test)]
mod tests_view;
