//! Wire types shared by the muxscope chat core, its axum gateway and the Yew page.
//!
//! # The event stream (`/ws/events`)
//!
//! Every step of the event loop is an [`Event`]: a sequence number (`seq`, strictly increasing,
//! no holes except where a [`EventBody::Gap`] says how many were dropped), a monotonic timestamp in
//! nanoseconds (`ts_ns`, since the core started) and a body whose JSON `"kind"` is one of:
//!
//! | kind        | meaning (seed vocabulary)                                                  |
//! |-------------|----------------------------------------------------------------------------|
//! | `ctl`       | the interest list changed: `epoll_ctl` add / mod / del (or the poll/select table) |
//! | `wait`      | one wakeup: the wait's timeout, how many fds were registered, the ready list it returned, how long the loop was blocked, how many fds the kernel scanned |
//! | `accept`    | a new connection came off the listen backlog                                |
//! | `recv`      | phase two of IO: recv copied `bytes` from the kernel into user space        |
//! | `send`      | a flush of a client's output queue: bytes written, whether it hit EAGAIN, bytes still queued |
//! | `broadcast` | one chat line fanned out to every client                                   |
//! | `close`     | an fd left the loop, with the reason                                       |
//! | `gap`       | `dropped` events not described: lost (a full queue) or `folded` on purpose; counted, never silent |
//! | `nick`      | (extension) a client took a name with `/nick`                              |
//! | `accept_eagain` | (extension) accept found the backlog empty (EAGAIN)                    |
//! | `sleep`     | (extension, nonblocking) a sweep found nothing, so the loop napped          |
//! | `handover`  | (extension) a model switch begins: the old table is torn down, the new one built |
//! | `model`     | (extension) the server switched IO model; every connection was handed over |
//! | `relay`     | (extension, `--cluster`) the relay's link to Redis or the nodes it hears changed: the whole [`RelayStatus`] |
//!
//! Which syscall each kind stands for depends on the model ([`Model`]): `wait` is `epoll_wait`,
//! `poll`, `pselect6` or (sigio) `rt_sigtimedwait`; `ctl` is `epoll_ctl`, an edit of the
//! poll/select table (no syscall), or (sigio) the three `fcntl`s that arm a socket's signal
//! (F_SETOWN_EX, F_SETSIG, F_SETFL O_ASYNC) and the one that disarms it. The non-blocking
//! model's sweep is no syscall and no event; each of its `recv`s is one.
//!
//! Example (one line each):
//! ```json
//! {"seq":7,"ts_ns":1200,"kind":"ctl","op":"add","fd":5,"interest":"r","role":"tcp"}
//! {"seq":8,"ts_ns":1300,"kind":"wait","timeout_ms":-1,"registered":2,"ready":[{"fd":5,"flags":"IN"}],"ready_total":1,"blocked_ns":900,"scanned":1}
//! ```
//!
//! A `/ws/events` subscriber first receives a [`ServerMsg::Snapshot`] (everything that is
//! registered now, with counters), then [`ServerMsg::Events`] batches whose events all have
//! `seq > snapshot.seq`. A subscriber that falls behind gets a `gap` and a fresh snapshot.
//!
//! The types here are versioned by [`PROTOCOL_VERSION`]; new kinds and new optional fields may be
//! added, existing names are never changed.

pub mod cluster;
mod event;
mod interest;
mod map_struct;
mod model;
mod msg;
pub mod pack;
pub mod record;
mod snapshot;
#[cfg(test)]
mod tests;
pub mod trace;
mod unit_enum;

pub use cluster::{ClusterNode, RelayState, RelayStatus};
pub use event::*;
pub use interest::*;
pub use model::*;
pub use msg::*;
pub use snapshot::*;

/// Bumped when a change would break an older reader.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest nick, in characters.
pub const MAX_NICK_CHARS: usize = 32;

/// The nick rule, the same in the chat core (`/nick`), the gateway (`/ws/chat?nick=`) and the
/// page: 1 to 32 characters, no whitespace, no control characters, no brackets (a nick is shown
/// as `[NICK]`).
pub fn valid_nick(n: &str) -> bool {
    !n.is_empty() && n.chars().count() <= MAX_NICK_CHARS && n.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '[' && c != ']')
}
