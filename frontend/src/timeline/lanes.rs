//! A window of the history as lanes: the loop's own lane (where it blocked), one lane per fd
//! *generation* (a new connection on a reused fd number is a new lane, a model switch is not), and
//! the flows of each broadcast to the sends that delivered it. Pure, so it is tested natively;
//! the canvas only draws a [`Window`].
//!
//! Flows are stored per send, not per recipient: a send ends every broadcast its lane was owed
//! since its last send (sends are coalesced), which is a run of consecutive broadcasts. A turn
//! of 100 lines to 1,000 clients is then 1,000 [`FlowEnd`]s, not 100,000 pairs.

use muxscope_shared::{CtlOp, Event, EventBody, Role, Snapshot};
use std::collections::HashMap;

/// Most events one window holds: about what a busy room sends the page in a few seconds.
pub const MAX_WINDOW_EVENTS: usize = 20_000;

/// Most fd lanes one window keeps (the most active); the canvas shows as many as fit.
pub const MAX_LANES: usize = 256;

/// An index into [`Window::lanes`].
pub type LaneId = u32;

/// What happened at a mark. Loop marks (`Gap`, `Switch`) sit on the loop's lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MarkKind {
    Recv,
    /// A recv that found nothing (EAGAIN): the non-blocking model's sweeps are made of them.
    RecvEmpty,
    Send,
    Ctl(CtlOp),
    Accept,
    Close,
    /// The lane's client sent a line that was fanned out: flows start here.
    Broadcast,
    /// Events the page never saw (dropped or folded).
    Gap,
    /// A model switch began (`handover`) or ended (`model`).
    Switch,
}

/// One event on a lane, with its absolute index in the history (what a click seeks to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub ts: u64,
    pub index: u64,
    pub kind: MarkKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SliceKind {
    /// `epoll_wait`, `poll`, `select`, `sigtimedwait`: `ready` fds came back.
    Wait { ready: u32 },
    /// One `io_uring_enter` that blocked.
    Uring,
    /// The non-blocking model's nap after an empty sweep.
    Sleep,
}

/// Time the loop spent blocked: the event comes when the call returns, so it ends at `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    pub start: u64,
    pub end: u64,
    pub index: u64,
    pub kind: SliceKind,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoopLane {
    pub slices: Vec<Slice>,
    pub marks: Vec<Mark>,
}

/// One connection (or the listener, the waker) for as long as it holds its fd number.
#[derive(Clone, Debug, PartialEq)]
pub struct Lane {
    pub fd: i32,
    /// How many earlier lanes of this window had the same fd number.
    pub generation: u32,
    pub role: Role,
    /// The name at the window's end (nicks are followed); empty when the table has none (the
    /// view then says the fd number only).
    pub name: String,
    /// When it began inside the window (`None`: it was open at the window's start).
    pub opened: Option<u64>,
    /// When it closed inside the window (`None`: still open at the window's end).
    pub closed: Option<u64>,
    /// In time order.
    pub marks: Vec<Mark>,
}

/// A line fanned out, from the sender's lane (`None`: the sender's lane is not kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Broadcast {
    pub ts: u64,
    pub index: u64,
    pub lane: Option<LaneId>,
    /// `--app echo` (or a room of one): only the sender receives it.
    pub echo: bool,
}

/// A send (or a close) on `lane` that ends the flows of `broadcasts[from..to]` owed to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowEnd {
    pub lane: LaneId,
    pub ts: u64,
    pub index: u64,
    pub from: u32,
    pub to: u32,
    /// The connection closed before it was sent what it was owed.
    pub closed: bool,
}

/// The lanes of a stretch of history, ready to draw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    /// Absolute index of the first event, and one past the last.
    pub first_index: u64,
    pub end_index: u64,
    pub start_ts: u64,
    pub end_ts: u64,
    pub loop_lane: LoopLane,
    /// Most active first (most marks), at most [`MAX_LANES`].
    pub lanes: Vec<Lane>,
    /// Lanes left out by the cap.
    pub hidden: usize,
    pub broadcasts: Vec<Broadcast>,
    /// In event order; ends on lanes left out are dropped.
    pub flow_ends: Vec<FlowEnd>,
    /// Events past [`MAX_WINDOW_EVENTS`] that were left out (from the window's end).
    pub cut: usize,
    /// `(ts, index)` of every event, for a click between marks.
    pub times: Vec<(u64, u64)>,
}

impl Window {
    /// Every (broadcast, end) pair: one per recipient that was sent the line or closed first.
    pub fn flows(&self) -> impl Iterator<Item = (&Broadcast, &FlowEnd)> {
        self.flow_ends.iter().flat_map(move |e| {
            self.broadcasts[e.from as usize..e.to as usize].iter().filter(move |b| !b.echo || b.lane == Some(e.lane)).map(move |b| (b, e))
        })
    }

    /// The last event at or before `ts` (the first one if `ts` is before them all).
    pub fn index_at(&self, ts: u64) -> Option<u64> {
        let n = self.times.partition_point(|&(t, _)| t <= ts);
        self.times.get(n.saturating_sub(1)).map(|&(_, i)| i)
    }
}

/// [`build_window_with`] with the default caps.
pub fn build_window(snapshot_at_start: &Snapshot, events: &[(u64, Event)]) -> Window {
    build_window_with(snapshot_at_start, events, MAX_WINDOW_EVENTS, MAX_LANES)
}

/// Builds the lanes of `events` (absolute index, event), starting from the fd table
/// `snapshot_at_start` holds just before the first of them. At most `max_events` are read
/// and `max_lanes` fd lanes kept.
pub fn build_window_with(snapshot_at_start: &Snapshot, events: &[(u64, Event)], max_events: usize, max_lanes: usize) -> Window {
    let kept = &events[..events.len().min(max_events)];
    let mut b = Builder {
        snap: snapshot_at_start.clone(),
        lanes: Vec::new(),
        current: OpenLanes::default(),
        generations: HashMap::new(),
        loop_lane: LoopLane::default(),
        broadcasts: Vec::new(),
        flow_ends: Vec::new(),
    };
    for f in &snapshot_at_start.fds {
        b.open(f.fd, f.role, &f.name, None);
    }
    // Time never goes back: a gap the gateway made has no time of its own (0), and each lane's
    // marks must stay in time order for the canvas to find the visible ones.
    let mut now = snapshot_at_start.ts_ns;
    let mut times = Vec::with_capacity(kept.len());
    for (index, e) in kept {
        now = now.max(e.ts_ns);
        times.push((now, *index));
        b.event(*index, e, now);
    }
    let mut w = b.finish(max_lanes);
    w.cut = events.len() - kept.len();
    w.first_index = kept.first().map_or(0, |(i, _)| *i);
    w.end_index = kept.last().map_or(w.first_index, |(i, _)| i + 1);
    w.start_ts = times.first().map_or(snapshot_at_start.ts_ns, |(t, _)| *t);
    // A wait that began before the first event still shows whole.
    w.start_ts = w.loop_lane.slices.first().map_or(w.start_ts, |s| s.start.min(w.start_ts));
    w.end_ts = now.max(w.start_ts);
    w.times = times;
    w
}

/// A lane while the window is read: what it is owed.
#[derive(Default)]
struct Building {
    lane: Option<Lane>,
    /// In the fd table as a client since broadcast number `since` (it receives every line).
    member_since: Option<u32>,
    /// Runs of broadcasts owed from earlier memberships (rare: a client that left the table
    /// without closing), still to be ended by a send or a close.
    owed: Vec<(u32, u32)>,
}

/// The open lane of each fd number: fds are small and dense, so a table indexed by fd beats
/// hashing on every event.
#[derive(Default)]
struct OpenLanes(Vec<Option<LaneId>>);

impl OpenLanes {
    fn get(&self, fd: i32) -> Option<LaneId> {
        usize::try_from(fd).ok().and_then(|i| self.0.get(i).copied().flatten())
    }

    fn set(&mut self, fd: i32, id: Option<LaneId>) {
        let Ok(i) = usize::try_from(fd) else { return };
        if i >= self.0.len() {
            self.0.resize(i + 1, None);
        }
        self.0[i] = id;
    }

    fn take(&mut self, fd: i32) -> Option<LaneId> {
        let id = self.get(fd);
        self.set(fd, None);
        id
    }
}

struct Builder {
    snap: Snapshot,
    lanes: Vec<Building>,
    /// The open lane of each fd number.
    current: OpenLanes,
    generations: HashMap<i32, u32>,
    loop_lane: LoopLane,
    broadcasts: Vec<Broadcast>,
    flow_ends: Vec<FlowEnd>,
}

impl Builder {
    /// Starts a new lane for `fd` (closing the one it had, if its close was never seen).
    fn open(&mut self, fd: i32, role: Role, name: &str, at: Option<u64>) -> LaneId {
        if let Some(old) = self.current.take(fd) {
            let lane = self.lanes[old as usize].lane.as_mut().expect("open lanes exist");
            lane.closed = lane.closed.or(at);
        }
        let g = self.generations.entry(fd).or_insert(0);
        let generation = *g;
        *g += 1;
        let id = self.lanes.len() as LaneId;
        let lane = Lane { fd, generation, role, name: name.to_string(), opened: at, closed: None, marks: Vec::new() };
        self.lanes.push(Building { lane: Some(lane), ..Building::default() });
        self.current.set(fd, Some(id));
        self.sync_member(fd);
        id
    }

    /// The open lane of `fd`, started now if the window never saw it begin.
    fn lane_of(&mut self, fd: i32, ts: u64) -> LaneId {
        match self.current.get(fd) {
            Some(id) => id,
            None => {
                let (role, name) = self.snap.fd(fd).map_or((Role::Tcp, String::new()), |f| (f.role, f.name.clone()));
                self.open(fd, role, &name, Some(ts))
            }
        }
    }

    fn lane(&mut self, id: LaneId) -> &mut Lane {
        self.lanes[id as usize].lane.as_mut().expect("lanes are taken only at the end")
    }

    fn mark(&mut self, fd: i32, ts: u64, index: u64, kind: MarkKind) -> LaneId {
        let id = self.lane_of(fd, ts);
        self.lane(id).marks.push(Mark { ts, index, kind });
        id
    }

    /// Brings `fd`'s membership of the broadcast audience in line with the table: a client
    /// (tcp, web or bot) in it receives every line from now on.
    fn sync_member(&mut self, fd: i32) {
        let Some(id) = self.current.get(fd) else { return };
        let client = self.snap.fd(fd).is_some_and(|f| f.role.is_client());
        let now = self.broadcasts.len() as u32;
        let b = &mut self.lanes[id as usize];
        match (client, b.member_since) {
            (true, None) => b.member_since = Some(now),
            (false, Some(since)) => {
                if since < now {
                    b.owed.push((since, now));
                }
                b.member_since = None;
            }
            _ => {}
        }
    }

    /// Ends every flow owed to lane `id` here: at a send, or at its close.
    fn deliver(&mut self, id: LaneId, ts: u64, index: u64, closed: bool) {
        let now = self.broadcasts.len() as u32;
        let b = &mut self.lanes[id as usize];
        let mut runs = std::mem::take(&mut b.owed);
        if let Some(since) = b.member_since {
            if since < now {
                runs.push((since, now));
            }
            b.member_since = Some(now);
        }
        self.flow_ends.extend(runs.into_iter().map(|(from, to)| FlowEnd { lane: id, ts, index, from, to, closed }));
    }

    /// Reads one event that happened at `ts`.
    fn event(&mut self, index: u64, e: &Event, ts: u64) {
        let mut touched = None;
        match &e.body {
            EventBody::Wait { blocked_ns, ready_total, .. } => {
                let kind = SliceKind::Wait { ready: *ready_total };
                self.loop_lane.slices.push(Slice { start: ts.saturating_sub(*blocked_ns), end: ts, index, kind });
            }
            EventBody::UringEnter { blocked_ns, .. } => {
                self.loop_lane.slices.push(Slice { start: ts.saturating_sub(*blocked_ns), end: ts, index, kind: SliceKind::Uring });
            }
            EventBody::Sleep { ns } => {
                self.loop_lane.slices.push(Slice { start: ts.saturating_sub(*ns), end: ts, index, kind: SliceKind::Sleep });
            }
            EventBody::Gap { .. } => self.loop_lane.marks.push(Mark { ts, index, kind: MarkKind::Gap }),
            // The cluster strip tells it; the relay fd's own lane shows its calls.
            EventBody::Relay { .. } => {}
            EventBody::Handover { .. } | EventBody::Model { .. } => {
                self.loop_lane.marks.push(Mark { ts, index, kind: MarkKind::Switch });
            }
            EventBody::Accept { fd, peer, .. } => {
                // Always a new connection, even where a close was never seen.
                let id = self.open(*fd, Role::Tcp, peer, Some(ts));
                self.lane(id).marks.push(Mark { ts, index, kind: MarkKind::Accept });
                touched = Some(*fd);
            }
            EventBody::Ctl { op, fd, role, error, .. } => {
                // An add on an fd with no open lane is a new one (the listener, a connection the
                // blocking model's acceptor took); during a switch the lane is still open.
                if *op == CtlOp::Add && error.is_none() && self.current.get(*fd).is_none() {
                    self.open(*fd, *role, "", Some(ts));
                }
                self.mark(*fd, ts, index, MarkKind::Ctl(*op));
                touched = Some(*fd);
            }
            EventBody::Recv { fd, bytes, would_block, .. } => {
                let kind = if *would_block && *bytes == 0 { MarkKind::RecvEmpty } else { MarkKind::Recv };
                self.mark(*fd, ts, index, kind);
            }
            EventBody::Send { fd, bytes, .. } => {
                let id = self.mark(*fd, ts, index, MarkKind::Send);
                if *bytes > 0 {
                    self.deliver(id, ts, index, false);
                }
            }
            EventBody::Broadcast { from, recipients, .. } => {
                let id = self.mark(*from, ts, index, MarkKind::Broadcast);
                self.broadcasts.push(Broadcast { ts, index, lane: Some(id), echo: *recipients <= 1 });
            }
            EventBody::Close { fd, .. } => {
                let id = self.mark(*fd, ts, index, MarkKind::Close);
                self.deliver(id, ts, index, true);
                self.lanes[id as usize].member_since = None;
                self.lane(id).closed = Some(ts);
                self.current.set(*fd, None);
            }
            EventBody::Nick { fd, .. } => touched = Some(*fd),
            EventBody::AcceptEagain { .. } | EventBody::Thread { .. } => {}
        }
        self.snap.apply(e);
        if let Some(fd) = touched {
            self.sync_member(fd);
            // Labels follow the table: a nick, a browser user's role, the listener's address.
            if let (Some(id), Some(f)) = (self.current.get(fd), self.snap.fd(fd)) {
                let (role, name) = (f.role, f.name.clone());
                let lane = self.lane(id);
                lane.role = role;
                lane.name = name;
            }
        }
    }

    /// Keeps the `max_lanes` most active lanes, and renumbers what points at them.
    fn finish(mut self, max_lanes: usize) -> Window {
        let mut order: Vec<LaneId> = (0..self.lanes.len() as LaneId).collect();
        let key = |id: &LaneId| {
            let l = self.lanes[*id as usize].lane.as_ref().expect("lanes are taken only at the end");
            (std::cmp::Reverse(l.marks.len()), l.fd, l.generation)
        };
        order.sort_by_key(key);
        let hidden = order.len().saturating_sub(max_lanes);
        order.truncate(max_lanes);
        let mut new_id = vec![None; self.lanes.len()];
        let mut lanes = Vec::with_capacity(order.len());
        for (new, old) in order.into_iter().enumerate() {
            new_id[old as usize] = Some(new as LaneId);
            lanes.push(self.lanes[old as usize].lane.take().expect("each lane is taken once"));
        }
        for b in &mut self.broadcasts {
            b.lane = b.lane.and_then(|l| new_id[l as usize]);
        }
        let flow_ends = self.flow_ends.into_iter().filter_map(|e| new_id[e.lane as usize].map(|lane| FlowEnd { lane, ..e })).collect();
        Window { loop_lane: self.loop_lane, lanes, hidden, broadcasts: self.broadcasts, flow_ends, ..Window::default() }
    }
}
