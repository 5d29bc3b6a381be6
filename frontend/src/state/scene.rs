//! The scene: what the stage, the wait bar, the phase line and the event log draw at one point
//! of the history. It is a pure fold over the items played (`scene_after(i) = fold(items[..i])`,
//! see `fold.rs`): no wall clock, no "was this animated", no English. How it is drawn (an
//! animation or a still mark, how long a banner stays) is the player's and the view's business;
//! they get what they need here, such as the index of the event behind each mark.

use super::log::LogEntry;
use super::sweeps::Sweeps;
use muxscope_shared::{Event, EventBody, FdInfo, Model as IoModel, Snapshot};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// Entries the scene's log keeps (the newest).
pub const LOG_CAP: usize = 150;

/// The mark an fd's node carries, with the history index of the event that made it: the view
/// restarts an animation when the index changes, and draws a still mark while busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flash {
    /// Phase one: the kernel has data (in the ready list).
    Ready,
    /// Phase two: recv copied it to user space.
    Copy,
    /// send/writev handed bytes to the kernel.
    Send,
    /// Just joined the interest list.
    Join,
}

/// One played event with the context its words need, shared (by `Rc`) between the log, the
/// phase line, the wait bar and the fan-out: a keyframe copies pointers, not events.
#[derive(Clone, Debug, PartialEq)]
pub struct Played {
    /// Its index in the history.
    pub index: u64,
    pub event: Event,
    /// The model that made it (for a `ctl add` of a switch, the model being built).
    pub model: IoModel,
    /// The fd's name as it was before the event (ctl, close, recv), if the picture knew it.
    pub name: Option<String>,
}

impl Played {
    /// The IO phase the event shows (①, ② or ③), if it sets one (see [`Scene::phase`]).
    pub fn step(&self) -> u8 {
        match self.event.body {
            EventBody::Recv { .. } => 2,
            EventBody::Broadcast { .. } => 3,
            _ => 1,
        }
    }
}

/// A model switch, shown on the stage (the view decides for how long).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Banner {
    /// The index of the item that told it (a `model` event or a snapshot).
    pub index: u64,
    pub from: IoModel,
    pub to: IoModel,
    /// Fds handed over.
    pub fds: usize,
}

/// Totals folded from the items themselves (the page's own folding is the player's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Events the loop or the gateway left out on purpose (folded gaps).
    pub folded: u64,
    /// Events lost (plain gaps).
    pub dropped: u64,
    /// Events played, counting what gaps stand for (events per wakeup needs both).
    pub events: u64,
    /// Model switches seen.
    pub switches: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    /// The loop as of the last item.
    pub snap: Snapshot,
    /// The newest timestamp played.
    pub ts_ns: u64,
    /// The last wakeup (a `wait` event), the current IO phase and the last fan-out.
    pub wait: Option<Rc<Played>>,
    pub phase: Option<Rc<Played>>,
    pub fanout: Option<Rc<Played>>,
    /// Each fd's last mark and the index of the event that made it.
    pub flashes: HashMap<i32, (Flash, u64)>,
    /// The last model switch.
    pub banner: Option<Banner>,
    pub log: VecDeque<LogEntry>,
    /// The non-blocking model's EAGAINs and naps.
    pub sweeps: Sweeps,
    /// The warnings and the plots' histograms, folded like the rest (`crate::insight`).
    pub insight: crate::insight::Insight,
    pub totals: Totals,
    /// The model a switch under way builds its table for (from its `handover` event).
    pub(super) building: Option<IoModel>,
    /// Fds just deleted from the interest list, for the `close` that follows (it names them).
    /// A switch deletes every fd and adds it back: the add takes its name and owed output from
    /// here.
    pub(super) gone: HashMap<i32, FdInfo>,
}

impl Default for Scene {
    fn default() -> Scene {
        Scene {
            snap: Snapshot::empty(),
            ts_ns: 0,
            wait: None,
            phase: None,
            fanout: None,
            flashes: HashMap::new(),
            banner: None,
            log: VecDeque::new(),
            sweeps: Sweeps::default(),
            insight: Default::default(),
            totals: Totals::default(),
            building: None,
            gone: HashMap::new(),
        }
    }
}

impl Scene {
    /// The model serving (unknown before the first snapshot).
    pub fn io_model(&self) -> Option<IoModel> {
        self.snap.model
    }

    /// Clients (TCP and web) registered.
    pub fn clients(&self) -> usize {
        self.snap.fds.iter().filter(|f| is_client(f)).count()
    }

    /// The fan-out's recipients: every client registered (derived when drawn, so a broadcast
    /// to a thousand costs the fold nothing).
    pub fn recipients(&self) -> impl Iterator<Item = i32> + '_ {
        self.snap.fds.iter().filter(|f| is_client(f)).map(|f| f.fd)
    }

    /// The index of the newest log entry: the event shown as current.
    pub fn last_index(&self) -> Option<u64> {
        self.log.back().map(LogEntry::index)
    }

    /// About how many heap bytes the scene holds: a keyframe's share of the history's memory,
    /// and what decides how far apart keyframes are. Shared `Rc`s are counted in full (an
    /// over-estimate that keeps the bound honest).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let s = &self.snap;
        let fds = s.fds.capacity() * size_of::<FdInfo>() + s.fds.iter().map(|f| f.name.capacity()).sum::<usize>();
        let threads = s.threads.capacity() * size_of::<muxscope_shared::ThreadInfo>();
        let snap = fds + threads + s.poller.capacity() + s.chat_addr.capacity();
        // A hash map: a slot and a control byte per bucket, about 8/7 buckets per entry.
        let map = |n: usize, slot: usize| n.next_power_of_two() * 8 / 7 * (slot + 1);
        let flashes = map(self.flashes.capacity(), size_of::<(i32, (Flash, u64))>());
        let gone = map(self.gone.capacity(), size_of::<(i32, FdInfo)>()) + self.gone.values().map(|f| f.name.capacity()).sum::<usize>();
        let log = self.log.capacity() * size_of::<LogEntry>() + self.log.iter().map(LogEntry::heap_bytes).sum::<usize>();
        size_of::<Scene>() + snap + flashes + gone + log + self.insight.heap_bytes()
    }
}

fn is_client(f: &FdInfo) -> bool {
    f.role.is_client()
}

/// Heap bytes of one played event (its strings and ready list included).
pub(super) fn played_bytes(p: &Played) -> usize {
    use std::mem::size_of;
    let body = match &p.event.body {
        EventBody::Wait { ready, .. } => ready.capacity() * size_of::<muxscope_shared::ReadyFd>(),
        EventBody::Broadcast { name, text, .. } => name.capacity() + text.capacity(),
        EventBody::Accept { peer, .. } => peer.capacity(),
        EventBody::Nick { name, .. } => name.capacity(),
        EventBody::Close { detail, .. } => detail.as_ref().map_or(0, String::capacity),
        EventBody::Ctl { error, .. } => error.as_ref().map_or(0, String::capacity),
        _ => 0,
    };
    // The Rc's two counts, the struct, what it points to.
    16 + size_of::<Played>() + body + p.name.as_ref().map_or(0, String::capacity)
}
