//! The fidelity test's parts (tests/fidelity.rs): strace and its parser, the `/ws/events`
//! watcher, and the scripted session.

pub mod script;
pub mod strace;
pub mod watcher;
