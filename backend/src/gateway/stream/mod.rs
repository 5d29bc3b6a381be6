//! The one owner of what every `/ws/events` watcher has seen and is owed.
//!
//! Two halves, each a struct with pure transitions (the clock is passed in):
//! - [`Mirror`], the hub's: the loop's state moved forward by its events, the frames cut from
//!   it (at most [`FRAME_CAP`] events a tick, the rest folded into a counted gap), resync
//!   snapshots, and which of the loop's snapshots is the present.
//! - [`Watcher`], one per page: what it was sent, whether its table is exact, and what it is
//!   owed (skipped frames as one folded gap, a gap for frames lost to lag, a snapshot).
//!
//! The hub thread ([`crate::gateway::hub`]) and each session ([`crate::gateway::events`]) only
//! move bytes between the loop, these two and the sockets. `sim.rs` drives them, with the real
//! telemetry queue, through random sequences and checks the invariants below.
//!
//! # Invariants
//! 1. **Seqs are the loop's clock.** The loop numbers every event, watched or not (it only
//!    skips building them when nobody watches). Two pictures with the same seq are the same
//!    picture; a snapshot is never older than an event with a smaller seq.
//! 2. **The mirror is the present or nothing.** When watching starts from nobody the mirror is
//!    dropped and the loop is asked for a snapshot of a new *generation*; only a snapshot
//!    answering that generation or a newer request becomes the mirror. When the loop lost
//!    events that changed the table, the mirror is *stale* and is not handed out until the
//!    loop's snapshot arrives (asked again, with a new generation, every [`RESYNC_EVERY`]).
//!    So a new watcher's first picture is no older than its connection.
//! 3. **Frames tile the seqs.** A frame stands for every event after the previous frame up to
//!    its `last_seq` (the mirror's seq when cut, folded events included); `events` counts them
//!    (a gap as what it left out), and a gap that folds any counts exactly those, with the
//!    loop's totals after them, so a watcher's counters stay exact without a snapshot.
//! 4. **Exact, or owed a snapshot.** A watcher's table equals the loop's as of `seen` unless
//!    it was sent something that left table changes out (a fold of the hub's or a loss of the
//!    loop's: the hub's resync snapshot is coming; a still cut, skipped frames, lost frames: it
//!    asks the hub itself). An inexact watcher takes the next snapshot no older than `seen`,
//!    and asks for one when the promised one is late ([`COMING_PATIENCE`]) or its own is due
//!    (a still page's byte budget allows it). A watcher never gets a snapshot older than what
//!    it has.
//! 5. **Nothing silent.** Every event a watcher does not get is inside a gap it gets (folded, or
//!    lost with a count), or behind a snapshot it gets.
//!
//! Once traffic settles, every watcher's table and counters equal the loop's.

mod mirror;
#[cfg(test)]
mod model_test;
#[cfg(test)]
mod sim;
mod watcher;

pub use mirror::{Mirror, TickOut};
pub use watcher::{Body, Fix, Plan, Watcher};

use std::time::Duration;

/// One frame every 40 ms (25 per second): smooth enough to animate, cheap to parse.
pub const TICK: Duration = Duration::from_millis(40);
/// Events per frame (3,750 a second); a busier tick is folded (a `gap` marked `folded`). A
/// busy page animates about a hundred events a second: parsing more would only cost it frames
/// and take CPU from everything else on the machine.
pub const FRAME_CAP: usize = 150;
/// When lost or folded events changed the fd table, a fresh snapshot resyncs the watchers, at
/// most this often (a snapshot of a thousand fds is ~80 KB of JSON to parse).
pub const RESYNC_EVERY: Duration = Duration::from_millis(500);
/// A watcher promised the hub's resync snapshot asks for its own after this long.
pub const COMING_PATIENCE: Duration = Duration::from_secs(2);
/// While a page draws still pictures (one a second), it is sent a frame at most this often.
pub const STILL_EVERY: Duration = Duration::from_millis(1000);
/// ...and snapshots from a byte budget: about one of a thousand fds (80 KB, the most expensive
/// message a browser parses) a second, with room for a burst, so the crowd that just joined a
/// small room is drawn at once.
pub const STILL_SNAPSHOT_BYTES_PER_SEC: f64 = 80_000.0;
pub const STILL_SNAPSHOT_BURST: f64 = 160_000.0;
