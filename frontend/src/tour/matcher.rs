//! A step's pattern over the event stream: conditions met in order, each by a later event than
//! the one before. The only context kept is the last matched wakeup's ready list, so that "the
//! recv of a ready fd" is the copy that follows that wakeup, not any recv.

use muxscope_shared::{CloseReason, CtlOp, EventBody, Interest, Model as IoModel, Role};

/// One condition of a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    /// `accept` took a connection.
    Accept,
    /// An fd joined the interest list (`ctl add` that the kernel took).
    CtlAdd,
    /// A bot named itself (`/role bot`, `/nick`): from here its lines are chat, not its hello.
    BotNamed,
    /// At least this many clients online (the history's end shows it: see
    /// [`Matcher::see_state`]); never met by an event.
    Clients(u32),
    /// `n` such adds (counted from where the pattern got to).
    Adds(u32),
    /// A wakeup with a non-empty ready list. A later one replaces it while the condition after
    /// it is still unmet (the pattern follows the newest wakeup).
    WaitReady,
    /// `recv` copied bytes; after [`Cond::WaitReady`], on one of that wakeup's ready fds.
    RecvData,
    /// `recv` returned EAGAIN: the fd was drained.
    RecvEagain,
    /// A line fanned out.
    Broadcast,
    /// A `send` that handed bytes to the kernel.
    Send,
    /// A `send` that left bytes queued (the client's kernel buffer was full).
    SendQueued,
    /// Write interest armed (`ctl mod` to w or rw).
    WriteArmed,
    /// A slow consumer cut at an output limit.
    Cut,
    /// The selector refused an fd (select's FD_SETSIZE).
    Refused,
    /// The server runs this model now.
    Model(IoModel),
    /// A wakeup whose kernel scanned at least this many fds.
    Scanned(u32),
    /// A wakeup that scanned no more fds than it found ready (epoll).
    NoScan,
    /// A thread started (the blocking model).
    Spawn,
}

impl Cond {
    /// Whether `e` meets it; `ready` is the last matched wakeup's ready list, if the condition
    /// before this one was [`Cond::WaitReady`].
    pub fn meets(self, e: &EventBody, ready: Option<&[i32]>) -> bool {
        match (self, e) {
            (Cond::Accept, EventBody::Accept { .. }) => true,
            (Cond::CtlAdd | Cond::Adds(_), EventBody::Ctl { op: CtlOp::Add, error: None, role, .. }) => role.is_client(),
            (Cond::BotNamed, EventBody::Nick { role: Role::Bot, .. }) => true,
            (Cond::WaitReady, EventBody::Wait { ready_total, .. }) => *ready_total > 0,
            (Cond::RecvData, EventBody::Recv { fd, bytes, .. }) => *bytes > 0 && ready.is_none_or(|r| r.contains(fd)),
            (Cond::RecvEagain, EventBody::Recv { would_block, .. }) => *would_block,
            (Cond::Broadcast, EventBody::Broadcast { .. }) => true,
            (Cond::Send, EventBody::Send { bytes, .. }) => *bytes > 0,
            (Cond::SendQueued, EventBody::Send { queued, would_block, .. }) => *queued > 0 || *would_block,
            (Cond::WriteArmed, EventBody::Ctl { op: CtlOp::Mod | CtlOp::Add, interest: Some(i), error: None, .. }) => {
                matches!(i, Interest::Write | Interest::ReadWrite)
            }
            (Cond::Cut, EventBody::Close { reason, .. }) => matches!(reason, CloseReason::OutputHardLimit | CloseReason::OutputSoftLimit),
            (Cond::Refused, EventBody::Close { reason: CloseReason::SelectorLimit, .. }) => true,
            (Cond::Refused, EventBody::Ctl { op: CtlOp::Add, error: Some(_), .. }) => true,
            (Cond::Model(m), EventBody::Model { model, .. }) => *model == m,
            (Cond::Scanned(n), EventBody::Wait { scanned, .. }) => *scanned >= n,
            (Cond::NoScan, EventBody::Wait { scanned, ready_total, .. }) => *ready_total > 0 && scanned <= ready_total,
            (Cond::Spawn, EventBody::Thread { op: muxscope_shared::ThreadOp::Spawn, .. }) => true,
            _ => false,
        }
    }
}

/// Where a pattern has got to.
#[derive(Debug, Clone)]
pub struct Matcher {
    pattern: &'static [Cond],
    /// The history index of each condition met so far.
    hits: Vec<u64>,
    /// The last matched wakeup's ready fds.
    ready: Vec<i32>,
    /// Adds counted towards an [`Cond::Adds`].
    count: u32,
    /// The fd whose output queued (a slow reader's story follows it).
    watched: Option<i32>,
}

impl Matcher {
    pub fn new(pattern: &'static [Cond]) -> Matcher {
        Matcher { pattern, hits: Vec::new(), ready: Vec::new(), count: 0, watched: None }
    }

    /// Whether the whole pattern was seen.
    pub fn done(&self) -> bool {
        self.hits.len() == self.pattern.len()
    }

    /// The event at history index `i`: the indices of the whole pattern's events once it is
    /// complete (then and after).
    pub fn see(&mut self, i: u64, e: &EventBody) -> Option<&[u64]> {
        if self.done() {
            return Some(&self.hits);
        }
        let k = self.hits.len();
        let after_wait = k > 0 && self.pattern[k - 1] == Cond::WaitReady;
        // A newer wakeup stands in for the one matched, while what follows it is unmet.
        if after_wait && Cond::WaitReady.meets(e, None) {
            self.hits[k - 1] = i;
            self.ready = ready_fds(e);
            return None;
        }
        let cond = self.pattern[k];
        if cond.meets(e, after_wait.then_some(&self.ready[..])) {
            if let Cond::Adds(n) = cond {
                self.count += 1;
                if self.count < n {
                    return None;
                }
                self.count = 0;
            }
            if cond == Cond::WaitReady {
                self.ready = ready_fds(e);
            }
            if let (Cond::SendQueued, EventBody::Send { fd, .. }) = (cond, e) {
                self.watched = Some(*fd);
            }
            self.hits.push(i);
        }
        self.done().then_some(&self.hits[..])
    }
}

/// What the history's end shows, for the conditions a flood could hide: the gateway folds
/// what a busy page cannot draw into gaps and a fresh snapshot, so a switch, a room filling, a
/// queue owed or a cut may come with no event of its own.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct End {
    pub serving: Option<IoModel>,
    pub clients: usize,
    /// Clients owing output, and fds with write interest armed.
    pub owed: Vec<i32>,
    pub armed: Vec<i32>,
    /// Every fd in the table.
    pub fds: Vec<i32>,
}

impl End {
    pub fn of(scene: &crate::state::Scene) -> End {
        let fds = &scene.snap.fds;
        // A reader the class stopped (nc) before a bot that lagged a moment.
        let mut owed: Vec<_> = fds.iter().filter(|f| f.role.is_client() && f.pending_out > 0).collect();
        owed.sort_by_key(|f| f.role == muxscope_shared::Role::Bot);
        End {
            serving: scene.snap.model,
            clients: scene.clients(),
            owed: owed.iter().map(|f| f.fd).collect(),
            armed: fds.iter().filter(|f| f.interest != Interest::Read).map(|f| f.fd).collect(),
            fds: fds.iter().map(|f| f.fd).collect(),
        }
    }
}

impl Matcher {
    /// The history's end, at index `i`: it meets the condition waiting when what that
    /// condition looks for shows there (a switch to the model already serving, too, has nothing
    /// to wait for). The fd that owes output is watched: its write interest, then its cut.
    pub fn see_state(&mut self, i: u64, end: &End) -> Option<&[u64]> {
        while !self.done() {
            let met = match self.pattern[self.hits.len()] {
                Cond::Model(m) => end.serving == Some(m),
                Cond::Clients(n) => end.clients >= n as usize,
                Cond::SendQueued => match end.owed.first() {
                    Some(fd) => {
                        self.watched = Some(*fd);
                        true
                    }
                    None => false,
                },
                Cond::WriteArmed => self.watched.map_or(!end.armed.is_empty(), |fd| end.armed.contains(&fd)),
                Cond::Cut => self.watched.is_some_and(|fd| !end.fds.contains(&fd)),
                _ => false,
            };
            if !met {
                break;
            }
            self.hits.push(i);
        }
        self.done().then_some(&self.hits[..])
    }
}

fn ready_fds(e: &EventBody) -> Vec<i32> {
    match e {
        EventBody::Wait { ready, .. } => ready.iter().map(|r| r.fd).collect(),
        _ => Vec::new(),
    }
}
