//! muxscope: a chat server on a hand-written, instrumented event loop (epoll, poll or select),
//! and the gateway that streams every step of it to a browser.
//!
//! - [`selector`]: Python's `selectors` in Rust, over real syscalls; one file per backend.
//! - [`chat`]: the seed's chat server on that selector, single-threaded, non-blocking.
//! - [`telemetry`]: the bounded, never-blocking queue that carries events out of the loop.

pub mod bench;
pub mod chat;
pub mod gateway;
pub(crate) mod procstat;
pub mod recording;
pub mod selector;
pub mod sys;
pub mod telemetry;
