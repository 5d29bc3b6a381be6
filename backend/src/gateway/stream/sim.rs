//! A deterministic simulation of the loop, its telemetry queue, the hub and the watchers, driven
//! through seeded random sequences: crowds join and leave, rooms flood, watchers join, leave,
//! stall and change pace, the hub stalls so the loop drops events. After traffic settles every
//! watcher's table and counters must equal the loop's.
//!
//! The parts are the real ones (the loop's [`Telemetry`] and its bounded queue, [`Mirror`],
//! [`Watcher`], the JSON the pages parse); only the threads and sockets are replaced by steps
//! on a simulated clock, in the order the real hub thread and sessions take them.
//! `MUXSCOPE_SIM_CASES=N` runs more cases (the long run).

use super::{Body, Mirror, Watcher, TICK};
use crate::gateway::frame::Frame;
use crate::telemetry::{self, Batch, Telemetry, TelemetryRx};
use muxscope_shared::{CloseReason, Counters, CtlOp, Event, EventBody, Interest, ReadyFd, ReadyFlags, Role, ServerMsg, Snapshot};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Frames a simulated watcher's queue holds before it lags (small, so lag happens).
const BACKLOG: usize = 6;
/// How often a simulated session looks at the clock (as `events::CHECK_EVERY`).
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// splitmix64: small, seeded, the same sequence everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }
    /// Below `big` with probability `p`, else below `small`: mostly small, now and then not.
    pub fn sometimes_below(&mut self, p: f64, big: u64, small: u64) -> u64 {
        let n = if self.chance(p) { big } else { small };
        self.below(n)
    }
}

/// One thing the loop does in a turn.
#[derive(Clone, Copy, Debug)]
pub enum Work {
    Idle,
    Join(usize),
    Leave(usize),
    Talk(usize),
    Nick,
    SlowReader,
}

/// The chat loop: its truth (every event applied, watched or not) and its real telemetry.
struct Loop {
    tel: Telemetry,
    truth: Snapshot,
    clients: Vec<i32>,
    /// Snapshot generations asked for and sent (the loop's half of `Control`).
    wanted: u64,
    served: u64,
}

impl Loop {
    fn new(tel: Telemetry) -> Loop {
        let mut truth = Snapshot::empty();
        truth.fds.push(muxscope_shared::FdInfo {
            fd: 3,
            role: Role::Listener,
            interest: Interest::Read,
            name: "listener".into(),
            pending_out: 0,
        });
        Loop { tel, truth, clients: Vec::new(), wanted: 0, served: 0 }
    }

    fn emit(&mut self, body: EventBody) {
        // As the chat loop does: it knows when a flush empties a queue it said was owed.
        if self.truth.changed_by(&body) {
            self.tel.emit_table(|| body.clone());
        } else {
            self.tel.emit(|| body.clone());
        }
        // The truth keeps its own count: it must not depend on how telemetry numbers events.
        let seq = self.truth.seq + 1;
        self.truth.apply(&Event { seq, ts_ns: 0, body });
    }

    fn counters(&self) -> Counters {
        Counters { dropped_events: self.tel.dropped_total(), ..self.truth.counters.clone() }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot { seq: self.tel.seq(), counters: self.counters(), ..self.truth.clone() }
    }

    /// The lowest free fd, as the kernel hands them out (so numbers are reused).
    fn free_fd(&self) -> i32 {
        (4..).find(|fd| self.truth.fd(*fd).is_none()).expect("an fd")
    }

    fn turn(&mut self, work: Work, rng: &mut Rng) {
        let c = self.counters();
        self.tel.begin_turn(|| c);
        if self.wanted > self.served && self.tel.send_snapshot(self.snapshot(), self.wanted) {
            self.served = self.wanted;
        }
        if !matches!(work, Work::Idle) {
            let ready = self.clients.iter().take(3).map(|&fd| ReadyFd { fd, flags: ReadyFlags(ReadyFlags::IN) }).collect();
            let registered = self.truth.fds.len() as u32;
            self.emit(EventBody::Wait {
                timeout_ms: -1,
                registered,
                ready,
                ready_total: 1,
                blocked_ns: 1,
                scanned: 1,
                rescan: 0,
                overflow: false,
            });
        }
        match work {
            Work::Idle => {}
            Work::Join(n) => {
                for _ in 0..n {
                    let fd = self.free_fd();
                    self.emit(EventBody::Accept { fd, peer: format!("127.0.0.1:{}", 10_000 + rng.below(50_000)), listener: 3 });
                    self.emit(EventBody::Ctl { op: CtlOp::Add, fd, interest: Some(Interest::Read), role: Role::Tcp, error: None });
                    self.clients.push(fd);
                }
            }
            Work::Leave(n) => {
                for _ in 0..n.min(self.clients.len()) {
                    let fd = self.clients.swap_remove(rng.below(self.clients.len() as u64) as usize);
                    self.emit(EventBody::Ctl { op: CtlOp::Del, fd, interest: None, role: Role::Tcp, error: None });
                    self.emit(EventBody::Close { fd, reason: CloseReason::Quit, detail: None });
                }
            }
            Work::Talk(lines) if !self.clients.is_empty() => {
                for _ in 0..lines {
                    let from = self.clients[rng.below(self.clients.len() as u64) as usize];
                    self.emit(EventBody::Recv { fd: from, bytes: 9, eof: false, would_block: false, lines: 1 });
                    let recipients = self.clients.len() as u32;
                    self.emit(EventBody::Broadcast { from, name: "x".into(), recipients, bytes: 12, text: "hi".into() });
                }
                for fd in self.clients.clone() {
                    self.emit(EventBody::Send { fd, bytes: 12, would_block: false, queued: 0 });
                }
            }
            Work::Talk(_) => {}
            Work::Nick if !self.clients.is_empty() => {
                let fd = self.clients[rng.below(self.clients.len() as u64) as usize];
                self.emit(EventBody::Nick { fd, name: format!("n{}", rng.below(1000)), role: Role::Tcp });
            }
            Work::Nick => {}
            Work::SlowReader if !self.clients.is_empty() => {
                let fd = self.clients[rng.below(self.clients.len() as u64) as usize];
                let queued = rng.below(3) * 4096;
                self.emit(EventBody::Send { fd, bytes: 100, would_block: queued > 0, queued });
            }
            Work::SlowReader => {}
        }
        let c = self.counters();
        self.tel.end_turn(|| c);
    }
}

enum HubMsg {
    Watching,
    Ask(usize),
}

/// One page: its session's watcher, the frames queued for it, and the page's own picture.
struct Page {
    /// Frames broadcast to it, not yet read; `lagged` when some were lost meanwhile.
    queue: VecDeque<Arc<Frame>>,
    lagged: bool,
    watcher: Option<Watcher>,
    /// The hub's answer to its ask (the first snapshot, or one it is owed).
    answer: Option<Arc<Frame>>,
    asking: bool,
    picture: Snapshot,
    stalled_until: Instant,
    next_check: Instant,
}

/// What the page does with a message: its reducer replaces the picture with a snapshot and
/// applies events (gaps included) to it.
fn show(picture: &mut Snapshot, json: &[u8]) {
    match serde_json::from_slice::<ServerMsg>(json).expect("the page parses what it is sent") {
        ServerMsg::Snapshot(s) => {
            let dropped = picture.counters.dropped_events.max(s.counters.dropped_events);
            *picture = s;
            picture.counters.dropped_events = dropped;
        }
        ServerMsg::Events { events } => events.iter().for_each(|e| picture.apply(e)),
    }
}

/// What the session does with a plan.
fn carry_out(picture: &mut Snapshot, gaps: Vec<String>, body: Option<Body>, f: Option<&Frame>) {
    gaps.iter().for_each(|g| show(picture, g.as_bytes()));
    match (body, f) {
        (Some(Body::Whole), Some(f)) => show(picture, &f.json),
        (Some(Body::Still), Some(f)) => show(picture, &f.still().json),
        _ => {}
    }
}

/// The whole system on a simulated clock.
pub struct Sim {
    pub now: Instant,
    lp: Loop,
    rx: TelemetryRx,
    mirror: Mirror,
    inbox: VecDeque<HubMsg>,
    waiting: Vec<usize>,
    next_tick: Instant,
    hub_stalled_until: Instant,
    pages: Vec<Option<Page>>,
    pub rng: Rng,
}

impl Sim {
    pub fn new(seed: u64) -> Sim {
        let (tel, rx) = telemetry::channel();
        let now = Instant::now();
        let lp = Loop::new(tel);
        Sim {
            now,
            lp,
            rx,
            mirror: Mirror::new(),
            inbox: VecDeque::new(),
            waiting: Vec::new(),
            next_tick: now + TICK,
            hub_stalled_until: now,
            pages: Vec::new(),
            rng: Rng::new(seed),
        }
    }

    fn watching(&self) -> usize {
        self.pages.iter().flatten().count()
    }

    /// A page opens `/ws/events`: it subscribes (the first turns the loop's events on), then
    /// asks for the present. Returns its id.
    pub fn open(&mut self) -> usize {
        if self.watching() == 0 {
            self.rx.tap.subscribed.store(true, Ordering::SeqCst);
            self.inbox.push_back(HubMsg::Watching);
        }
        let id = self.pages.len();
        self.inbox.push_back(HubMsg::Ask(id));
        let page = Page {
            queue: VecDeque::new(),
            lagged: false,
            watcher: None,
            answer: None,
            asking: true,
            picture: Snapshot::empty(),
            stalled_until: self.now,
            next_check: self.now,
        };
        self.pages.push(Some(page));
        id
    }

    pub fn close(&mut self, id: usize) {
        if self.pages[id].take().is_some() && self.watching() == 0 {
            self.rx.tap.subscribed.store(false, Ordering::SeqCst);
        }
    }

    pub fn open_pages(&self) -> Vec<usize> {
        (0..self.pages.len()).filter(|&i| self.pages[i].is_some()).collect()
    }

    pub fn stall_page(&mut self, id: usize, d: Duration) {
        if let Some(p) = self.pages[id].as_mut() {
            p.stalled_until = self.now + d;
        }
    }

    pub fn pace(&mut self, id: usize, still: bool) {
        if let Some(w) = self.pages[id].as_mut().and_then(|p| p.watcher.as_mut()) {
            w.pace(still);
        }
    }

    pub fn stall_hub(&mut self, d: Duration) {
        self.hub_stalled_until = self.now + d;
    }

    fn broadcast(&mut self, f: Arc<Frame>) {
        for p in self.pages.iter_mut().flatten() {
            p.queue.push_back(f.clone());
            if p.queue.len() > BACKLOG {
                p.queue.pop_front();
                p.lagged = true;
            }
        }
    }

    fn answer(&mut self, id: usize, f: Arc<Frame>) {
        if let Some(p) = self.pages.get_mut(id).and_then(|p| p.as_mut()) {
            p.answer = Some(f);
        }
    }

    /// The hub thread's iteration: the loop's batches, then its messages, then a tick if due.
    fn hub(&mut self) {
        if self.now < self.hub_stalled_until {
            return;
        }
        while let Ok(batch) = self.rx.rx.try_recv() {
            match batch {
                Batch::Events(events) => self.mirror.loop_events(events),
                Batch::Snapshot { snap, generation } => {
                    if let Some(f) = self.mirror.loop_snapshot(*snap, generation, self.now) {
                        self.broadcast(f.clone());
                        for id in std::mem::take(&mut self.waiting) {
                            self.answer(id, f.clone());
                        }
                    }
                }
            }
        }
        while let Some(msg) = self.inbox.pop_front() {
            match msg {
                HubMsg::Watching => self.lp.wanted = self.lp.wanted.max(self.mirror.watching_started(self.now)),
                HubMsg::Ask(id) => match self.mirror.present() {
                    Some(f) => self.answer(id, f),
                    None => self.waiting.push(id),
                },
            }
        }
        if self.now >= self.next_tick {
            self.next_tick = self.now + TICK;
            let out = self.mirror.tick(self.now);
            out.frames.into_iter().for_each(|f| self.broadcast(f));
            if let Some(g) = out.ask_loop {
                self.lp.wanted = self.lp.wanted.max(g);
            }
        }
    }

    /// Each session's iteration, as `events::events_session` takes them.
    fn sessions(&mut self) {
        let now = self.now;
        let mut asks = Vec::new();
        for (id, slot) in self.pages.iter_mut().enumerate() {
            let Some(p) = slot.as_mut() else { continue };
            if let Some(f) = p.answer.take() {
                p.asking = false;
                match p.watcher.as_mut() {
                    None => {
                        show(&mut p.picture, &f.json);
                        p.watcher = Some(Watcher::new(&f, now));
                    }
                    Some(w) => {
                        let plan = w.answer(&f, now);
                        carry_out(&mut p.picture, plan.gaps, plan.body, Some(&f));
                    }
                }
            }
            if p.asking || now < p.stalled_until {
                continue;
            }
            let Some(w) = p.watcher.as_mut() else { continue };
            let mut tend = now >= p.next_check;
            if std::mem::take(&mut p.lagged) {
                w.lagged();
                tend = true;
            }
            while let Some(f) = p.queue.pop_front() {
                let plan = w.offer(&f, now);
                carry_out(&mut p.picture, plan.gaps, plan.body, Some(&f));
            }
            if tend {
                p.next_check = now + CHECK_EVERY;
                let (gaps, ask) = w.tick(now);
                carry_out(&mut p.picture, gaps, None, None);
                if ask {
                    p.asking = true;
                    asks.push(id);
                }
            }
        }
        self.inbox.extend(asks.into_iter().map(HubMsg::Ask));
    }

    /// One step: the loop's turn, the hub, the sessions; then time moves on.
    pub fn step(&mut self, work: Work, dt: Duration) {
        self.lp.turn(work, &mut self.rng);
        self.hub();
        self.sessions();
        self.now += dt;
    }

    /// No more traffic and no more stalls: run until every watcher had time to be mended.
    pub fn settle(&mut self) {
        self.hub_stalled_until = self.now;
        for p in self.pages.iter_mut().flatten() {
            p.stalled_until = self.now;
        }
        for _ in 0..300 {
            self.step(Work::Idle, Duration::from_millis(20));
        }
    }

    pub fn has_picture(&self, id: usize) -> bool {
        self.pages[id].as_ref().is_some_and(|p| p.watcher.is_some())
    }

    pub fn clients(&self) -> usize {
        self.lp.clients.len()
    }

    /// Every open page against the loop: same table, same totals (drops aside: a page also
    /// counts what it lost itself), and its watcher knows it is exact.
    pub fn check(&self) -> Result<(), String> {
        let truth = self.lp.snapshot();
        let strip = |c: &Counters| Counters { dropped_events: 0, ..c.clone() };
        for (id, p) in self.pages.iter().enumerate() {
            let Some(p) = p else { continue };
            let Some(w) = p.watcher.as_ref() else { return Err(format!("page {id} never got its first picture")) };
            if p.picture.fds != truth.fds {
                let (have, want) = (p.picture.fds.len(), truth.fds.len());
                let first = p.picture.fds.iter().zip(&truth.fds).find(|(a, b)| a != b).map(|(a, b)| format!("{a:?} vs the loop's {b:?}"));
                let diff = first.unwrap_or_else(|| "one list is longer".into());
                return Err(format!(
                    "page {id}: {have} fds on the page, {want} in the loop, first difference {diff} (seen {}, exact {}, fix {:?})",
                    w.seen(),
                    w.exact(),
                    w.fix()
                ));
            }
            if strip(&p.picture.counters) != strip(&truth.counters) {
                return Err(format!("page {id}: counters {:?} vs the loop's {:?}", p.picture.counters, truth.counters));
            }
            if p.picture.counters.dropped_events < truth.counters.dropped_events {
                return Err(format!("page {id}: fewer drops shown than the loop made"));
            }
            if !w.exact() {
                return Err(format!("page {id}: right by luck, its watcher thinks it is owed {:?}", w.fix()));
            }
        }
        Ok(())
    }
}
