//! Which track an event goes on: one per fd number *and generation*, so a connection that gets
//! a closed one's number gets a lane of its own.

use crate::Role;
use std::collections::BTreeMap;

/// The loop's own track.
pub(super) const LOOP_TID: u32 = 1;

#[derive(Clone, Debug)]
pub(super) struct Track {
    pub tid: u32,
    /// -1 for the loop.
    pub fd: i32,
    /// 1 for the first connection on this number, 2 for the next, …
    pub generation: u32,
    /// The last name the fd had (peer address, nick, listen address).
    pub name: String,
    pub role: Option<Role>,
    /// Closed: the next event of a live connection on this number starts a new generation.
    pub open: bool,
    /// The latest timestamp written on this track; nothing written later on it goes before.
    pub last: u64,
    /// Flows (ids) from broadcasts this fd is owed and has not been sent yet, oldest first.
    pub owed: Vec<u64>,
}

impl Track {
    fn new(tid: u32, fd: i32, generation: u32) -> Track {
        Track { tid, fd, generation, name: String::new(), role: None, open: true, last: 0, owed: Vec::new() }
    }

    /// `ts`, or the track's last timestamp if the input went back in time on this track (the
    /// blocking model's threads stamp their events each on its own): what is written on a track
    /// never goes back.
    pub fn at(&mut self, ts: u64) -> u64 {
        self.last = self.last.max(ts);
        self.last
    }

    /// The `thread_name`: `fd 7 · alice (tcp)`, `#2` on for the second connection on fd 7.
    pub fn title(&self) -> String {
        if self.fd < 0 {
            return "event loop".into();
        }
        let mut t = format!("fd {}", self.fd);
        // A client registered without an accept seen is named `fd N` by the snapshot.
        if !self.name.is_empty() && self.name != t {
            t.push_str(" · ");
            t.push_str(&self.name);
        }
        if let Some(role) = self.role {
            t.push_str(match role {
                Role::Listener => " (listener)",
                Role::Tcp => " (tcp)",
                Role::Web => " (web)",
                Role::Waker => " (waker)",
                Role::Bot => " (bot)",
                Role::Relay => " (relay)",
            });
        }
        if self.generation > 1 {
            t.push_str(&format!(" #{}", self.generation));
        }
        t
    }
}

/// How an event claims its fd's track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Claim {
    /// An `accept`: a new connection, so a new generation if the number was seen before.
    Accept,
    /// An event of a live connection (`ctl add`, `recv`, `send`, `broadcast`, `nick`, or the fd
    /// being in a snapshot): a new generation if the number's last track was closed.
    Live,
    /// Anything else (`close`, `ctl mod`/`del`, `thread`, `accept_eagain`): the number's
    /// current track, closed or not (a blocking-model thread may end after its socket closed).
    Any,
}

pub(super) struct Tracks {
    pub lp: Track,
    by_fd: BTreeMap<i32, Track>,
    next_tid: u32,
}

impl Tracks {
    pub fn new() -> Tracks {
        Tracks { lp: Track::new(LOOP_TID, -1, 1), by_fd: BTreeMap::new(), next_tid: LOOP_TID + 1 }
    }

    /// The track `fd`'s event goes on, and the track it retired (a number's previous
    /// generation), which the caller names and ends.
    pub fn claim(&mut self, fd: i32, claim: Claim) -> (&mut Track, Option<Track>) {
        let new_generation = match (self.by_fd.get(&fd), claim) {
            (None, _) => Some(1),
            (Some(t), Claim::Accept) => Some(t.generation + 1),
            (Some(t), Claim::Live) if !t.open => Some(t.generation + 1),
            (Some(_), _) => None,
        };
        let retired = new_generation.and_then(|generation| {
            let fresh = Track::new(self.next_tid, fd, generation);
            self.next_tid += 1;
            self.by_fd.insert(fd, fresh)
        });
        (self.by_fd.get_mut(&fd).expect("just ensured"), retired)
    }

    pub fn get_mut(&mut self, fd: i32) -> Option<&mut Track> {
        self.by_fd.get_mut(&fd)
    }

    /// The fds whose current track is open.
    pub fn open_fds(&self) -> Vec<i32> {
        self.by_fd.values().filter(|t| t.open).map(|t| t.fd).collect()
    }

    /// Every current track (the ones no later generation retired), for the end of the trace.
    pub fn into_current(self) -> impl Iterator<Item = Track> {
        self.by_fd.into_values()
    }
}
