//! The warnings, like tokio-console's lints: each rule watches the event stream and, when it
//! fires, updates the one [`Warning`] of its [`Kind`] (the fd, when, how many times). One slot
//! per kind keeps the state small and fixed, whatever the stream does.
//!
//! The rules:
//! - **blocked**: a turn of the loop (from a `wait` returning to the next `wait` or
//!   `io_uring_enter` being entered) took longer than [`BLOCKED_NS`]; the fd named is the one
//!   with the most bytes in one run of recvs or sends in that turn (the core reads one fd at a
//!   time, so a run is that fd's share of the turn).
//! - **slow consumer cut**: a `close` for `output_hard_limit` or `output_soft_limit`.
//! - **ET starved**: under `epoll-et`, an fd whose last read did not end in EAGAIN (or EOF) and
//!   that a whole turn then passed without reading. Edge-triggered epoll will not report it
//!   again until more data comes, so what it holds waits. muxscope's core carries such an fd to
//!   the next turn (`backend/src/chat/server/read.rs`, "carry"), so on this server the rule
//!   stays quiet unless that carry breaks; it is here to show what ET demands.
//! - **fds climbing**: the registered count rose by [`CLIMB_MIN`] or more over [`CLIMB_NS`]
//!   with no close (or `ctl del`) in between: a leak, or a flood of connections.
//! - **select near FD_SETSIZE**: the model is `select` and the highest registered fd is
//!   [`SELECT_NEAR`] or more (select cannot watch fd 1024 and above).
//!
//! A gap (events the page never saw) resets what spans turns: missing reads must not look like
//! starvation. A model switch is not timed as a turn either (it is no handler).
//!
//! The rules run on the events' kinds; only the multiplexing models, sigio and io_uring have
//! waits (turns), so the blocking and non-blocking models get the cut and climbing rules
//! only.

use muxscope_shared::{CloseReason, CtlOp, Event, EventBody, Model as IoModel, Snapshot};

/// A turn longer than this blocked the loop.
pub const BLOCKED_NS: u64 = 50_000_000;
/// Fds climbing: at least this many more, over at least this long, with no close.
pub const CLIMB_MIN: usize = 10;
pub const CLIMB_NS: u64 = 10_000_000_000;
/// select: the highest fd at which the page warns (FD_SETSIZE is 1024).
pub const SELECT_NEAR: i32 = 900;
pub const FD_SETSIZE: i32 = 1024;
/// A warning is on show while its last occurrence is at most this old (in the loop's time).
pub const SHOW_NS: u64 = 30_000_000_000;
/// Fds tracked as read without EAGAIN at once (more are not tracked: a bound, not a rule).
const OWED_CAP: usize = 256;

/// What a warning is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Blocked,
    SlowConsumer,
    EtStarved,
    FdsClimbing,
    SelectNearLimit,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Blocked, Kind::SlowConsumer, Kind::EtStarved, Kind::FdsClimbing, Kind::SelectNearLimit];

    /// Its `data-kind` in the page.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Blocked => "blocked",
            Kind::SlowConsumer => "slow-consumer",
            Kind::EtStarved => "et-starved",
            Kind::FdsClimbing => "fds-climbing",
            Kind::SelectNearLimit => "select-limit",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// The newest occurrence of one kind, and how many there were.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub kind: Kind,
    /// The fd it is about (none for a blocked turn with no IO in it).
    pub fd: Option<i32>,
    /// The fd's name, for a slow consumer.
    pub name: Option<String>,
    /// The number the text gives: ms blocked, fds gained, the highest fd, the close's reason
    /// (0 hard, 1 soft).
    pub value: u64,
    /// The history index of the event that fired it, and its loop time.
    pub at: u64,
    pub ts_ns: u64,
    pub count: u64,
}

/// Every rule's state, and the newest warning of each kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Warnings {
    slots: [Option<Warning>; 5],
    /// When the current turn began (the last `wait` returned).
    turn_start: Option<u64>,
    /// The turn's busiest run: (fd, bytes), and the run going on.
    busiest: Option<(i32, u64)>,
    run: Option<(i32, u64)>,
    /// Turns seen; fds last read without EAGAIN, with the turn of that read (epoll-et only).
    turn: u64,
    owed: Vec<(i32, u64)>,
    /// Fds climbing: the count and loop time where the climb began.
    climb: Option<(usize, u64)>,
    /// select near its limit as of the last wait.
    near: bool,
}

impl Warnings {
    /// The newest warning of each kind that fired, in [`Kind::ALL`] order.
    pub fn all(&self) -> impl Iterator<Item = &Warning> {
        self.slots.iter().flatten()
    }

    /// Those on show at loop time `now_ns`: fired within [`SHOW_NS`].
    pub fn recent(&self, now_ns: u64) -> impl Iterator<Item = &Warning> {
        self.all().filter(move |w| now_ns.saturating_sub(w.ts_ns) <= SHOW_NS)
    }

    pub fn get(&self, kind: Kind) -> Option<&Warning> {
        self.slots[kind.slot()].as_ref()
    }

    pub fn heap_bytes(&self) -> usize {
        self.owed.capacity() * std::mem::size_of::<(i32, u64)>()
            + self.all().map(|w| w.name.as_ref().map_or(0, String::capacity)).sum::<usize>()
    }

    fn fire(&mut self, kind: Kind, e: &Event, at: u64, fd: Option<i32>, value: u64, name: Option<&str>) {
        let slot = &mut self.slots[kind.slot()];
        let count = slot.as_ref().map_or(0, |w| w.count) + 1;
        *slot = Some(Warning { kind, fd, name: name.map(str::to_string), value, at, ts_ns: e.ts_ns, count });
    }

    /// Folds one event (see [`super::Insight::see`]).
    pub fn see(&mut self, index: u64, e: &Event, name: Option<&str>, snap: &Snapshot, building: Option<IoModel>) {
        let model = snap.model.unwrap_or_default();
        match &e.body {
            EventBody::Wait { blocked_ns, .. } | EventBody::UringEnter { blocked_ns, .. } => {
                self.end_turn(index, e, *blocked_ns);
                self.turn += 1;
                if model == IoModel::EpollEt {
                    self.starved(index, e);
                } else {
                    self.owed.clear();
                }
                self.climbing(index, e, snap.fds.len());
                self.select_limit(index, e, snap, model);
            }
            EventBody::Recv { fd, bytes, eof, would_block, .. } => {
                self.ran(*fd, u64::from(*bytes));
                if model == IoModel::EpollEt {
                    self.read(*fd, *eof || *would_block);
                }
            }
            EventBody::Send { fd, bytes, .. } => self.ran(*fd, *bytes),
            EventBody::Accept { .. } => self.climbing(index, e, snap.fds.len() + 1),
            EventBody::Ctl { op: CtlOp::Add, fd, error, .. } => {
                let select = building.unwrap_or(model) == IoModel::Select;
                if select && (*fd >= SELECT_NEAR || error.is_some()) && !self.near {
                    self.near = true;
                    self.fire(Kind::SelectNearLimit, e, index, Some(*fd), *fd as u64, None);
                }
            }
            EventBody::Ctl { op: CtlOp::Del, fd, .. } => {
                self.forget(*fd);
                self.climb = None;
            }
            EventBody::Close { fd, reason, .. } => {
                self.forget(*fd);
                self.climb = None;
                let soft = match reason {
                    CloseReason::OutputHardLimit => Some(0),
                    CloseReason::OutputSoftLimit => Some(1),
                    _ => None,
                };
                if let Some(soft) = soft {
                    self.fire(Kind::SlowConsumer, e, index, Some(*fd), soft, name);
                }
            }
            // A switch is no handler: the turn it interrupts is not timed.
            EventBody::Handover { .. } => self.turn_start = None,
            EventBody::Gap { .. } => {
                self.owed.clear();
                self.turn_start = None;
                self.run = None;
                self.busiest = None;
            }
            _ => {}
        }
    }

    /// A recv or send of `bytes` on `fd`: the run of one fd's IO goes on, or a new one starts.
    fn ran(&mut self, fd: i32, bytes: u64) {
        let run = match self.run {
            Some((f, b)) if f == fd => (fd, b + bytes),
            _ => (fd, bytes),
        };
        self.run = Some(run);
        if self.busiest.is_none_or(|(_, b)| run.1 > b) {
            self.busiest = Some(run);
        }
    }

    /// A turn ends as the next wait is entered (`blocked_ns` before the wait returned at
    /// `e.ts_ns`); the next begins as it returns.
    fn end_turn(&mut self, index: u64, e: &Event, blocked_ns: u64) {
        if let Some(start) = self.turn_start {
            let busy = e.ts_ns.saturating_sub(blocked_ns).saturating_sub(start);
            if busy > BLOCKED_NS {
                let fd = self.busiest.map(|(fd, _)| fd);
                self.fire(Kind::Blocked, e, index, fd, busy / 1_000_000, None);
            }
        }
        self.turn_start = Some(e.ts_ns);
        self.run = None;
        self.busiest = None;
    }

    /// An ET read: one that ended in EAGAIN or EOF settles the fd; any other leaves it owed.
    fn read(&mut self, fd: i32, drained: bool) {
        let at = self.owed.iter().position(|(f, _)| *f == fd);
        match (at, drained) {
            (Some(i), true) => {
                self.owed.swap_remove(i);
            }
            (Some(i), false) => self.owed[i].1 = self.turn,
            (None, false) if self.owed.len() < OWED_CAP => self.owed.push((fd, self.turn)),
            _ => {}
        }
    }

    /// At a wait: fds owed since before the turn that just ended were not read in it.
    fn starved(&mut self, index: u64, e: &Event) {
        let turn = self.turn;
        while let Some(i) = self.owed.iter().position(|(_, t)| t + 1 < turn) {
            let (fd, _) = self.owed.swap_remove(i);
            self.fire(Kind::EtStarved, e, index, Some(fd), 0, None);
        }
    }

    fn forget(&mut self, fd: i32) {
        if let Some(i) = self.owed.iter().position(|(f, _)| *f == fd) {
            self.owed.swap_remove(i);
        }
    }

    /// The registered count is `n` now: a climb starts, goes on, or (long and high enough)
    /// fires and starts again from here. A fall ends it.
    fn climbing(&mut self, index: u64, e: &Event, n: usize) {
        match self.climb {
            Some((from, since)) if n >= from => {
                if e.ts_ns.saturating_sub(since) >= CLIMB_NS && n - from >= CLIMB_MIN {
                    self.fire(Kind::FdsClimbing, e, index, None, (n - from) as u64, None);
                    self.climb = Some((n, e.ts_ns));
                }
            }
            _ => self.climb = Some((n, e.ts_ns)),
        }
    }

    /// At a wait: select with its highest fd near FD_SETSIZE (the table is sorted by fd).
    fn select_limit(&mut self, index: u64, e: &Event, snap: &Snapshot, model: IoModel) {
        let top = snap.fds.last().map_or(0, |f| f.fd);
        let near = model == IoModel::Select && top >= SELECT_NEAR;
        if near && !self.near {
            self.fire(Kind::SelectNearLimit, e, index, Some(top), top as u64, None);
        } else if near {
            // Still near: the warning stays on show, with the highest fd as of now.
            if let Some(w) = self.slots[Kind::SelectNearLimit.slot()].as_mut() {
                (w.fd, w.value, w.ts_ns) = (Some(top), top as u64, e.ts_ns);
            }
        }
        self.near = near;
    }
}
