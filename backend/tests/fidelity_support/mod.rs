//! The fidelity test's parts (tests/fidelity.rs): strace and its parser, what each model's
//! syscalls and events stand for, the `/ws/events` watcher, the scripted session, the window
//! and the comparison, and the table.

pub mod compare;
pub mod kinds;
pub mod script;
pub mod session;
pub mod strace;
pub mod table;
pub mod watcher;
