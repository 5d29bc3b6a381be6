//! The page's state: a pure reducer over the event stream. `(Model, Action) -> Model`, with the
//! clock passed in, so the same events always give the same picture. Compiled and tested
//! natively; the Yew components only draw a [`Model`].
//!
//! Playback: frames from `/ws/events` go into a queue; `Tick` plays them. Live (speed 1) plays
//! everything each tick, animating the newest [`ANIMATE_PER_TICK`] and folding the rest into the
//! state with a visible "×N folded" count. Slow motion (0.1×–0.9×) plays one event every
//! `SLOW_BASE_MS / speed`. Paused plays nothing until `Step`. The queue is bounded: past
//! [`QUEUE_CAP`] its oldest half is folded, and says so.

use muxscope_shared::{CloseReason, CtlOp, Event, EventBody, Interest, ReadyFd, Role, ServerMsg, Snapshot};
use std::collections::{HashMap, VecDeque};

pub const LOG_CAP: usize = 150;
pub const CHAT_CAP: usize = 500;
pub const QUEUE_CAP: usize = 20_000;
pub const ANIMATE_PER_TICK: usize = 24;
pub const SLOW_BASE_MS: f64 = 250.0;
const RATE_WINDOW_MS: f64 = 2000.0;
/// How long after the last fold the view stays in busy (still) mode.
pub const BUSY_MS: f64 = 1500.0;
/// In busy mode the live picture is redrawn at most this often.
pub const BUSY_REDRAW_MS: f64 = 1000.0;
/// The view's clock: a tick this often, and this often while busy.
pub const TICK_MS: u32 = 50;
pub const BUSY_TICK_MS: u32 = 250;
/// Shortest time a live fan-out stays drawn.
pub const FANOUT_MS: f64 = 600.0;

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Event(Event),
    Snapshot(Snapshot),
}

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

#[derive(Clone, Debug, PartialEq)]
pub struct WaitView {
    pub id: u64,
    pub call: &'static str,
    pub timeout_ms: i64,
    pub registered: u32,
    pub ready: Vec<ReadyFd>,
    pub ready_total: u32,
    pub blocked_ms: f64,
    pub scanned: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fanout {
    pub id: u64,
    pub from: i32,
    pub to: Vec<i32>,
    pub line: String,
}

/// What the current step is, in the seed's words.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    pub id: u64,
    pub step: u8,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub id: u64,
    pub class: &'static str,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    at_ms: f64,
    wakeups: u64,
    messages: u64,
    bytes: u64,
    events: u64,
}

/// Per-second rates over the last two seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    pub wakeups: f64,
    pub messages: f64,
    pub bytes: f64,
    pub events_per_wakeup: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Connected(bool),
    /// The event stream closed: the server's reason (empty when the connection just dropped)
    /// and the seconds until the page tries again.
    StreamClosed {
        reason: String,
        retry_s: u32,
    },
    Server(ServerMsg),
    Tick(f64),
    /// Frames received since the last tick, then a tick at the given time: the view batches
    /// what arrives between ticks, so a busy stream costs one update per tick, not one per frame.
    Receive(Vec<ServerMsg>, f64),
    Pause,
    Resume,
    Step,
    Speed(f64),
    Live,
    ChatLine(String),
    ChatStatus(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The loop as of the last played event.
    pub snap: Snapshot,
    pub connected: bool,
    /// Why the event stream is down, when the server said (e.g. too many watchers).
    pub stream_closed: Option<String>,
    pub queue: VecDeque<Item>,
    pub paused: bool,
    pub speed: f64,
    next_play_ms: f64,
    /// Timestamp of the newest event received, and of the last one played.
    pub live_ts_ns: u64,
    pub played_ts_ns: u64,
    pub wait: Option<WaitView>,
    pub phase: Option<Phase>,
    pub fanout: Option<Fanout>,
    pub flashes: HashMap<i32, (Flash, u64)>,
    pub log: VecDeque<LogLine>,
    pub folded_total: u64,
    pub gaps_total: u64,
    pub events_played: u64,
    samples: VecDeque<Sample>,
    pub rates: Rates,
    pub chat: VecDeque<LogLine>,
    /// Names of fds just deleted from the interest list, for the `close` that follows.
    gone: HashMap<i32, String>,
    /// The clock of the last tick, and when the current fan-out started drawing.
    now_ms: f64,
    fanout_at_ms: f64,
    /// When events were last folded: while that is recent the view draws marks, not animations.
    folded_at_ms: f64,
    live_played_ms: f64,
    /// When frames were last handed in by [`Action::Receive`].
    received_ms: f64,
    next_id: u64,
}

impl Default for Model {
    fn default() -> Model {
        Model {
            snap: Snapshot::empty(),
            stream_closed: None,
            connected: false,
            queue: VecDeque::new(),
            paused: false,
            speed: 1.0,
            next_play_ms: 0.0,
            live_ts_ns: 0,
            played_ts_ns: 0,
            wait: None,
            phase: None,
            fanout: None,
            flashes: HashMap::new(),
            log: VecDeque::new(),
            folded_total: 0,
            gaps_total: 0,
            events_played: 0,
            samples: VecDeque::new(),
            rates: Rates::default(),
            chat: VecDeque::new(),
            gone: HashMap::new(),
            now_ms: 0.0,
            fanout_at_ms: f64::NEG_INFINITY,
            folded_at_ms: f64::NEG_INFINITY,
            live_played_ms: f64::NEG_INFINITY,
            received_ms: f64::NEG_INFINITY,
            next_id: 1,
        }
    }
}

impl Model {
    pub fn is_live(&self) -> bool {
        !self.paused && self.speed >= 0.999
    }

    /// Seconds the picture is behind the newest event received.
    pub fn behind_s(&self) -> f64 {
        if self.queue.is_empty() {
            0.0
        } else {
            self.live_ts_ns.saturating_sub(self.played_ts_ns) as f64 / 1e9
        }
    }

    /// False when a `Tick` at `now` would change nothing (lets the view skip a copy).
    pub fn needs_tick(&self, now: f64) -> bool {
        // Busy and live, the rates are sampled with the next still picture, not on their own.
        let waits = self.busy_redraw_waits(now);
        let sample_due = !waits && self.samples.back().is_none_or(|s| now - s.at_ms >= 250.0);
        let busy_ends = self.busy() && now - self.folded_at_ms >= BUSY_MS;
        let play_due = !self.paused && !self.queue.is_empty() && !waits;
        sample_due || busy_ends || play_due
    }

    /// Live and busy: the picture is a still one, redrawn every [`BUSY_REDRAW_MS`].
    pub fn draws_still(&self) -> bool {
        self.is_live() && self.busy()
    }

    /// How often the view should send `Tick`s: often enough to animate, or, while a flood is
    /// drawn as still pictures, a few times per picture (a browser that wakes less often
    /// leaves more CPU to the server it watches).
    pub fn tick_ms(&self) -> u32 {
        if self.draws_still() {
            BUSY_TICK_MS
        } else {
            TICK_MS
        }
    }

    /// Whether frames received meanwhile should be handed in at `now`. Live and busy, or paused,
    /// the picture cannot use them before its next redraw, so they wait (outside the model) and
    /// are handed in together: a flood costs a few updates a second, not one per frame.
    /// A snapshot among them (`snapshot_waits`) does not wait for a still page's next picture:
    /// it is the present, and a crowd that just joined is drawn while it starts talking, not
    /// up to a second into its flood.
    pub fn takes_frames(&self, now: f64, snapshot_waits: bool) -> bool {
        // Paused with nothing queued, frames come in at once: a Step must have something to play.
        let paused = self.paused && !self.queue.is_empty();
        let hold = self.draws_still() || paused;
        !hold || now - self.received_ms >= BUSY_REDRAW_MS || (snapshot_waits && !paused)
    }

    /// Events come faster than they can be animated: the view shows still marks instead of
    /// animations (a thousand animations at once would cost every frame).
    pub fn busy(&self) -> bool {
        self.now_ms - self.folded_at_ms < BUSY_MS
    }

    /// Live and busy, and the last still picture is younger than [`BUSY_REDRAW_MS`].
    fn busy_redraw_waits(&self, now: f64) -> bool {
        self.draws_still() && now - self.live_played_ms < BUSY_REDRAW_MS
    }

    /// Clients (TCP and web) registered now.
    pub fn clients(&self) -> usize {
        self.snap.fds.iter().filter(|f| matches!(f.role, Role::Tcp | Role::Web)).count()
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Applies one action. Returns false when nothing changed (the view need not redraw).
    pub fn update(&mut self, action: Action) -> bool {
        match action {
            Action::Connected(c) => {
                if self.connected == c {
                    return false;
                }
                self.connected = c;
                if c {
                    self.stream_closed = None;
                }
                let text = if c { "connected to the event stream" } else { "event stream lost; reconnecting…" };
                self.log_line("sys", text.to_string());
            }
            Action::StreamClosed { reason, retry_s } => {
                self.connected = false;
                let text = if reason.is_empty() {
                    format!("event stream lost; trying again in {retry_s} s")
                } else {
                    format!("event stream closed by the server: {reason} (trying again in {retry_s} s)")
                };
                self.stream_closed = Some(text.clone());
                self.log_line("sys", text);
            }
            Action::Receive(msgs, now) => {
                self.received_ms = now;
                for msg in msgs {
                    self.update(Action::Server(msg));
                }
                self.tick(now);
            }
            Action::Server(msg) => {
                match msg {
                    ServerMsg::Snapshot(s) => {
                        self.live_ts_ns = self.live_ts_ns.max(s.ts_ns);
                        self.queue.push_back(Item::Snapshot(s));
                    }
                    ServerMsg::Events { events } => {
                        for e in events {
                            self.live_ts_ns = self.live_ts_ns.max(e.ts_ns);
                            self.queue.push_back(Item::Event(e));
                        }
                    }
                }
                if self.queue.len() > QUEUE_CAP {
                    let n = self.queue.len() - QUEUE_CAP / 2;
                    self.fold(n, "queue full");
                }
            }
            Action::Tick(now) => return self.tick(now),
            Action::Pause => self.paused = true,
            Action::Resume => {
                self.paused = false;
                self.next_play_ms = 0.0;
            }
            Action::Step => {
                if !self.paused {
                    self.paused = true;
                }
                match self.queue.pop_front() {
                    Some(item) => self.play(item, true),
                    None => return false,
                }
            }
            Action::Speed(s) => {
                let s = if s.is_finite() { s.clamp(0.1, 1.0) } else { 1.0 };
                if (s - self.speed).abs() < 1e-9 {
                    return false;
                }
                self.speed = s;
                self.next_play_ms = 0.0;
            }
            Action::Live => {
                self.paused = false;
                self.speed = 1.0;
                self.play_live();
            }
            Action::ChatLine(text) => {
                let id = self.id();
                push_capped(&mut self.chat, LogLine { id, class: "chat", text }, CHAT_CAP);
            }
            Action::ChatStatus(text) => {
                let id = self.id();
                push_capped(&mut self.chat, LogLine { id, class: "status", text }, CHAT_CAP);
            }
        }
        true
    }

    fn tick(&mut self, now: f64) -> bool {
        let was_busy = self.busy();
        self.now_ms = now;
        if was_busy && !self.busy() {
            // The flood is over. Its still marks are up to a second and a half old: calm, they
            // would all start animating at once, as if it were happening now. Plain nodes.
            self.flashes.clear();
            self.fanout = None;
        }
        let played = self.play_due(now);
        // Rates after playing: they describe the picture on screen.
        self.sample(now) || played
    }

    fn play_due(&mut self, now: f64) -> bool {
        if self.paused || self.queue.is_empty() {
            return false;
        }
        if self.is_live() {
            // Busy: a few still pictures a second say as much as twenty, for a fraction of the work.
            // A snapshot is drawn at once (see `takes_frames`) and starts the next second's wait.
            let snapshot = self.queue.iter().any(|i| matches!(i, Item::Snapshot(_)));
            if self.busy_redraw_waits(now) && !snapshot {
                return false;
            }
            self.live_played_ms = now;
            self.play_live();
            return true;
        }
        let interval = SLOW_BASE_MS / self.speed;
        if self.next_play_ms == 0.0 {
            self.next_play_ms = now;
        }
        if now < self.next_play_ms {
            return false;
        }
        if let Some(item) = self.queue.pop_front() {
            self.play(item, true);
        }
        self.next_play_ms = (self.next_play_ms + interval).max(now - interval);
        true
    }

    /// Everything queued, now: the newest few animate, the rest are folded (and counted).
    fn play_live(&mut self) {
        let n = self.queue.len();
        if n > ANIMATE_PER_TICK {
            self.fold(n - ANIMATE_PER_TICK, "faster than it can be drawn");
        }
        while let Some(item) = self.queue.pop_front() {
            self.play(item, true);
        }
    }

    /// Applies the oldest `n` queued items without animating them.
    fn fold(&mut self, n: usize, why: &str) {
        let mut folded = 0u64;
        for _ in 0..n {
            let Some(item) = self.queue.pop_front() else { break };
            if matches!(item, Item::Event(_)) {
                folded += 1;
            }
            self.play(item, false);
        }
        if folded > 0 {
            self.folded_at_ms = self.now_ms;
            self.folded_total += folded;
            self.log_line("fold", format!("×{folded} events folded ({why})"));
        }
    }

    fn sample(&mut self, now: f64) -> bool {
        let c = &self.snap.counters;
        let s =
            Sample { at_ms: now, wakeups: c.wakeups, messages: c.messages, bytes: c.recv_bytes + c.sent_bytes, events: self.events_played };
        if let Some(last) = self.samples.back() {
            if now - last.at_ms < 250.0 {
                return false;
            }
        }
        self.samples.push_back(s);
        while self.samples.len() > 2 && now - self.samples[0].at_ms > RATE_WINDOW_MS {
            self.samples.pop_front();
        }
        let first = self.samples[0];
        let dt = (now - first.at_ms) / 1000.0;
        let old = self.rates;
        if dt > 0.0 {
            let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
            let wakeups = s.wakeups.saturating_sub(first.wakeups);
            self.rates = Rates {
                wakeups: per(s.wakeups, first.wakeups),
                messages: per(s.messages, first.messages),
                bytes: per(s.bytes, first.bytes),
                events_per_wakeup: if wakeups > 0 { s.events.saturating_sub(first.events) as f64 / wakeups as f64 } else { 0.0 },
            };
        }
        self.rates != old
    }

    fn log_line(&mut self, class: &'static str, text: String) {
        let id = self.id();
        push_capped(&mut self.log, LogLine { id, class, text }, LOG_CAP);
    }

    /// Marks a node; the number counts this node's flashes (the view alternates on it).
    /// Live and busy, the count stays: a still mark that does not change is not redrawn, so a
    /// flood repaints only the nodes whose mark changed kind.
    fn flash(&mut self, fd: i32, kind: Flash) {
        let still = self.draws_still();
        let n = self.flashes.get(&fd).map_or(0, |f| if still { f.1 } else { f.1 + 1 });
        self.flashes.insert(fd, (kind, n));
    }

    /// Plays one item: the state always moves; with `animate`, the picture and the log follow.
    fn play(&mut self, item: Item, animate: bool) {
        let e = match item {
            Item::Snapshot(s) => {
                self.played_ts_ns = self.played_ts_ns.max(s.ts_ns);
                let dropped = self.snap.counters.dropped_events.max(s.counters.dropped_events);
                self.snap = s;
                self.snap.counters.dropped_events = dropped;
                let fds: Vec<i32> = self.snap.fds.iter().map(|f| f.fd).collect();
                self.flashes.retain(|fd, _| fds.binary_search(fd).is_ok());
                if animate {
                    let text = format!("snapshot: {} fds registered, {} poller", self.snap.fds.len(), self.snap.poller);
                    self.log_line("sys", text);
                }
                return;
            }
            Item::Event(e) => e,
        };
        if let EventBody::Gap { dropped, folded, resync, .. } = e.body {
            let then = if resync { "a snapshot follows" } else { "the totals stay exact" };
            if folded {
                self.folded_total += dropped;
                self.folded_at_ms = self.now_ms;
                // The gateway's gaps have no seq; the loop's are events of its own.
                let text = if e.seq == 0 {
                    format!("×{dropped} events folded by the gateway (faster than a browser can draw); {then}")
                } else {
                    format!(
                        "×{dropped} events folded by the loop (a flooded turn describes its first few hundred and counts the rest); {then}"
                    )
                };
                self.log_line("fold", text);
            } else {
                self.gaps_total += dropped;
                self.log_line(
                    "gap",
                    format!(
                        "⚠ {dropped} events dropped (a full event queue, or one turn made more than it can hand over); counted, {then}"
                    ),
                );
            }
        }
        if e.seq != 0 && e.seq <= self.snap.seq {
            return;
        }
        // Names as they were before this event (a close forgets them).
        let name_of = |s: &Snapshot, fd: i32| s.fd(fd).map(|f| f.name.clone()).unwrap_or_else(|| format!("fd {fd}"));
        let before_name = match &e.body {
            EventBody::Close { fd, .. } => Some(self.gone.remove(fd).unwrap_or_else(|| name_of(&self.snap, *fd))),
            EventBody::Ctl { fd, op, .. } => {
                let n = name_of(&self.snap, *fd);
                if *op == CtlOp::Del {
                    if self.gone.len() > 4096 {
                        self.gone.clear();
                    }
                    self.gone.insert(*fd, n.clone());
                }
                Some(n)
            }
            _ => None,
        };
        self.snap.apply(&e);
        // A gap stands for the events it left out: events per wakeup counts them too.
        self.events_played += e.body.stands_for();
        self.played_ts_ns = self.played_ts_ns.max(e.ts_ns);
        if let EventBody::Close { fd, .. } | EventBody::Ctl { op: CtlOp::Del, fd, .. } = &e.body {
            self.flashes.remove(fd);
        }
        if !animate {
            return;
        }
        let poller = self.snap.poller.clone();
        let id = self.id();
        match &e.body {
            EventBody::Wait { timeout_ms, registered, ready, ready_total, blocked_ns, scanned } => {
                for r in ready {
                    self.flash(r.fd, Flash::Ready);
                }
                self.wait = Some(WaitView {
                    id,
                    call: wait_call(&poller),
                    timeout_ms: *timeout_ms,
                    registered: *registered,
                    ready: ready.clone(),
                    ready_total: *ready_total,
                    blocked_ms: *blocked_ns as f64 / 1e6,
                    scanned: *scanned,
                });
                if *ready_total > 0 {
                    let fds: Vec<String> = ready.iter().take(6).map(|r| format!("fd {} {}", r.fd, r.flags)).collect();
                    let more = if *ready_total as usize > fds.len() { " …" } else { "" };
                    self.phase = Some(Phase {
                        id,
                        step: 1,
                        text: format!(
                            "① the kernel has data: {} returned {ready_total} ready ({}{more})",
                            wait_call(&poller),
                            fds.join(", ")
                        ),
                    });
                }
            }
            EventBody::Recv { fd, bytes, eof, would_block, .. } => {
                if *bytes > 0 {
                    self.flash(*fd, Flash::Copy);
                    let name = name_of(&self.snap, *fd);
                    self.phase = Some(Phase {
                        id,
                        step: 2,
                        text: format!("② recv(fd {fd}) copied {bytes} bytes from the kernel to user space ({name})"),
                    });
                } else if *eof {
                    self.phase = Some(Phase { id, step: 2, text: format!("② recv(fd {fd}) returned 0: the peer closed") });
                } else if *would_block {
                    self.phase =
                        Some(Phase { id, step: 2, text: format!("② recv(fd {fd}) → EAGAIN: drained, nothing more in the kernel") });
                }
            }
            // Live and busy: a fan-out is drawn for at least FANOUT_MS before the next replaces it
            // (the counters carry the rate); otherwise every one is drawn.
            EventBody::Broadcast { .. } if self.draws_still() && self.now_ms - self.fanout_at_ms < FANOUT_MS => {}
            EventBody::Broadcast { from, name, text, .. } => {
                self.fanout_at_ms = self.now_ms;
                let to: Vec<i32> = self.snap.fds.iter().filter(|f| matches!(f.role, Role::Tcp | Role::Web)).map(|f| f.fd).collect();
                self.fanout = Some(Fanout { id, from: *from, to, line: format!("[{name}] {text}") });
                self.phase =
                    Some(Phase { id, step: 3, text: format!("③ fan-out: \"[{name}] {text}\" encoded once, owed to every client") });
            }
            EventBody::Send { fd, .. } => self.flash(*fd, Flash::Send),
            EventBody::Ctl { op: CtlOp::Add, fd, error: None, .. } => self.flash(*fd, Flash::Join),
            _ => {}
        }
        // A gap already has its own line (above), which says who left the events out and why.
        if !matches!(e.body, EventBody::Gap { .. }) {
            let text = describe(&e.body, &poller, before_name.as_deref());
            push_capped(&mut self.log, LogLine { id, class: e.body.kind(), text }, LOG_CAP);
        }
    }
}

fn push_capped<T>(q: &mut VecDeque<T>, v: T, cap: usize) {
    if q.len() >= cap {
        q.pop_front();
    }
    q.push_back(v);
}

pub fn wait_call(poller: &str) -> &'static str {
    match poller {
        "poll" => "poll",
        "select" => "select",
        _ => "epoll_wait",
    }
}

fn interest_flags(poller: &str, i: Interest) -> &'static str {
    match (poller, i) {
        ("poll", Interest::Read) => "POLLIN",
        ("poll", Interest::Write) => "POLLOUT",
        ("poll", Interest::ReadWrite) => "POLLIN|POLLOUT",
        ("select", Interest::Read) => "readfds",
        ("select", Interest::Write) => "writefds",
        ("select", Interest::ReadWrite) => "readfds+writefds",
        (_, Interest::Read) => "EPOLLIN",
        (_, Interest::Write) => "EPOLLOUT",
        (_, Interest::ReadWrite) => "EPOLLIN|EPOLLOUT",
    }
}

fn close_reason(r: CloseReason) -> &'static str {
    match r {
        CloseReason::Eof => "peer closed",
        CloseReason::Quit => "said quit",
        CloseReason::Error => "socket error",
        CloseReason::LineTooLong => "line too long",
        CloseReason::LineTimeout => "line never finished",
        CloseReason::OutputHardLimit => "slow consumer: hard output limit",
        CloseReason::OutputSoftLimit => "slow consumer: soft output limit",
        CloseReason::SelectorLimit => "select() cannot watch it (FD_SETSIZE)",
        CloseReason::MaxClients => "server full (--max-clients)",
        CloseReason::PerIpLimit => "too many from its address (--max-clients-per-ip)",
        CloseReason::FdExhausted => "out of file descriptors",
        CloseReason::Shutdown => "server stopping",
    }
}

/// One log line per event, with the syscall each backend really made.
pub fn describe(e: &EventBody, poller: &str, name: Option<&str>) -> String {
    let et = if poller == "epoll-et" { "|EPOLLET" } else { "" };
    match e {
        EventBody::Ctl { op, fd, interest, error, .. } => {
            let call = match (poller, op, interest) {
                ("poll", CtlOp::Add, Some(i)) => format!("pollfd[] += {{fd {fd}, {}}}", interest_flags(poller, *i)),
                ("poll", CtlOp::Mod, Some(i)) => format!("pollfd[fd {fd}].events = {}", interest_flags(poller, *i)),
                ("poll", _, _) => format!("pollfd[] -= fd {fd}"),
                ("select", CtlOp::Add, Some(i)) | ("select", CtlOp::Mod, Some(i)) => {
                    format!("FD_SET({fd}, {})", interest_flags(poller, *i))
                }
                ("select", _, _) => format!("FD_CLR({fd})"),
                (_, CtlOp::Add, Some(i)) => format!("epoll_ctl(ADD, {fd}, {}{et})", interest_flags(poller, *i)),
                (_, CtlOp::Mod, Some(i)) => format!("epoll_ctl(MOD, {fd}, {}{et})", interest_flags(poller, *i)),
                (_, _, _) => format!("epoll_ctl(DEL, {fd})"),
            };
            let who = name.map(|n| format!("  [{n}]")).unwrap_or_default();
            match error {
                Some(err) => format!("{call} refused: {err}"),
                None => format!("{call}{who}"),
            }
        }
        EventBody::Wait { timeout_ms, registered, ready_total, blocked_ns, scanned, .. } => {
            let t = if *timeout_ms < 0 { "∞".to_string() } else { format!("{timeout_ms} ms") };
            let scan = match poller {
                "poll" | "select" => format!(", scanned {scanned} fds"),
                _ => String::new(),
            };
            format!(
                "{}({registered} fds, timeout {t}) → {ready_total} ready after {:.2} ms{scan}",
                wait_call(poller),
                *blocked_ns as f64 / 1e6
            )
        }
        EventBody::Accept { fd, peer, listener } => format!("accept4(fd {listener}) → fd {fd} from {peer}"),
        EventBody::Recv { fd, bytes, eof, would_block, lines } => {
            if *eof {
                format!("recv(fd {fd}) → 0 (EOF)")
            } else if *would_block {
                format!("recv(fd {fd}) → EAGAIN")
            } else {
                format!("recv(fd {fd}) → {bytes} B, {lines} line(s)")
            }
        }
        EventBody::Send { fd, bytes, would_block, queued } => {
            let wb = if *would_block { " (kernel buffer full: EAGAIN)" } else { "" };
            let q = if *queued > 0 { format!(", {queued} B still queued") } else { String::new() };
            format!("send(fd {fd}) → {bytes} B{wb}{q}")
        }
        EventBody::Broadcast { from, name, recipients, bytes, text } => {
            format!("broadcast from fd {from} [{name}] to {recipients} clients, {bytes} B: {text}")
        }
        EventBody::Nick { fd, name, role } => {
            let via = if *role == Role::Web { " (browser)" } else { "" };
            format!("fd {fd} is now {name}{via}")
        }
        EventBody::Close { fd, reason, detail } => {
            let d = detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default();
            let who = name.map(|n| format!(" [{n}]")).unwrap_or_default();
            format!("close(fd {fd}){who} — {}{d}", close_reason(*reason))
        }
        EventBody::Gap { dropped, folded: false, .. } => format!("gap: {dropped} events dropped"),
        EventBody::Gap { dropped, folded: true, .. } => format!("gap: {dropped} events folded (counted, not described)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muxscope_shared::{Counters, FdInfo, ReadyFlags};

    fn snap(seq: u64) -> Snapshot {
        Snapshot {
            version: 1,
            poller: "epoll".into(),
            chat_addr: "127.0.0.1:3999".into(),
            fds: vec![
                FdInfo { fd: 3, role: Role::Listener, interest: Interest::Read, name: "127.0.0.1:3999".into(), pending_out: 0 },
                FdInfo { fd: 5, role: Role::Tcp, interest: Interest::Read, name: "ann".into(), pending_out: 0 },
            ],
            counters: Counters::default(),
            seq,
            ts_ns: 0,
        }
    }

    fn ev(seq: u64, body: EventBody) -> Event {
        Event { seq, ts_ns: seq * 1000, body }
    }

    fn chat_turn(seq: u64) -> Vec<Event> {
        vec![
            ev(
                seq,
                EventBody::Wait {
                    timeout_ms: -1,
                    registered: 2,
                    ready: vec![ReadyFd { fd: 5, flags: ReadyFlags(ReadyFlags::IN) }],
                    ready_total: 1,
                    blocked_ns: 2_000_000,
                    scanned: 1,
                },
            ),
            ev(seq + 1, EventBody::Recv { fd: 5, bytes: 3, eof: false, would_block: false, lines: 1 }),
            ev(seq + 2, EventBody::Broadcast { from: 5, name: "ann".into(), recipients: 1, bytes: 9, text: "hi".into() }),
            ev(seq + 3, EventBody::Send { fd: 5, bytes: 9, would_block: false, queued: 0 }),
        ]
    }

    fn live(events: Vec<Event>) -> Model {
        let mut m = Model::default();
        m.update(Action::Server(ServerMsg::Snapshot(snap(10))));
        m.update(Action::Server(ServerMsg::Events { events }));
        m.update(Action::Tick(1000.0));
        m
    }

    #[test]
    fn a_chat_turn_shows_both_io_phases_and_the_fan_out() {
        let mut m = Model::default();
        m.update(Action::Server(ServerMsg::Snapshot(snap(10))));
        m.update(Action::Pause);
        m.update(Action::Server(ServerMsg::Events { events: chat_turn(11) }));
        assert_eq!(m.queue.len(), 5);
        m.update(Action::Step); // the snapshot
        m.update(Action::Step); // the wait
        assert_eq!(m.flashes.get(&5).map(|f| f.0), Some(Flash::Ready));
        assert_eq!(m.phase.as_ref().unwrap().step, 1);
        assert_eq!(m.wait.as_ref().unwrap().call, "epoll_wait");
        m.update(Action::Step); // recv
        assert_eq!(m.flashes.get(&5).map(|f| f.0), Some(Flash::Copy));
        assert!(m.phase.as_ref().unwrap().text.contains("copied 3 bytes from the kernel to user space"));
        m.update(Action::Step); // broadcast
        let f = m.fanout.as_ref().unwrap();
        assert_eq!((f.from, f.to.clone(), f.line.as_str()), (5, vec![5], "[ann] hi"));
        m.update(Action::Step);
        assert_eq!(m.flashes.get(&5).map(|f| f.0), Some(Flash::Send));
        assert!(m.queue.is_empty());
        assert_eq!(m.snap.counters.messages, 1);
        assert_eq!(m.log.back().unwrap().text, "send(fd 5) → 9 B");
    }

    #[test]
    fn the_same_events_give_the_same_picture() {
        let a = live(chat_turn(11));
        let b = live(chat_turn(11));
        assert_eq!(a, b);
    }

    #[test]
    fn paused_plays_nothing_and_slow_motion_plays_at_its_pace() {
        let mut m = Model::default();
        m.update(Action::Server(ServerMsg::Snapshot(snap(10))));
        m.update(Action::Speed(0.5));
        m.update(Action::Server(ServerMsg::Events { events: chat_turn(11) }));
        // 0.5×: one item every 500 ms.
        m.update(Action::Tick(0.0));
        assert_eq!(m.queue.len(), 4);
        m.update(Action::Tick(100.0));
        assert_eq!(m.queue.len(), 4);
        m.update(Action::Tick(520.0));
        assert_eq!(m.queue.len(), 3);
        assert!(m.behind_s() > 0.0);
        m.update(Action::Pause);
        m.update(Action::Tick(5000.0));
        assert_eq!(m.queue.len(), 3);
        m.update(Action::Live);
        assert!(m.queue.is_empty());
        assert!(m.is_live());
        assert_eq!(m.behind_s(), 0.0);
    }

    #[test]
    fn floods_are_folded_and_counted_never_dropped() {
        let mut events = vec![];
        for i in 0..100u64 {
            events.extend(chat_turn(11 + i * 4));
        }
        let m = live(events);
        assert_eq!(m.snap.counters.messages, 100, "every event reached the state");
        assert_eq!(m.folded_total, 400 - ANIMATE_PER_TICK as u64);
        assert!(m.log.iter().any(|l| l.class == "fold" && l.text.contains("×376 events folded")));
        assert!(m.busy());
        let mut m = m;
        m.update(Action::Tick(1000.0 + BUSY_MS + 1.0));
        assert!(!m.busy());
    }

    #[test]
    fn a_flood_is_taken_in_a_few_times_a_second_and_still_marks_stay_put() {
        let flood = |from: u64| (0..20u64).flat_map(|i| chat_turn(from + i * 4)).collect::<Vec<_>>();
        let mut m = Model::default();
        assert!(m.takes_frames(0.0, false), "a calm page takes frames on every tick");
        m.update(Action::Receive(vec![ServerMsg::Snapshot(snap(10)), ServerMsg::Events { events: flood(11) }], 1000.0));
        assert!(m.busy(), "80 events in one tick are more than it animates");
        assert_eq!(m.tick_ms(), BUSY_TICK_MS);
        assert_eq!(m.snap.counters.messages, 20);
        let mark = m.flashes.get(&5).copied();
        assert!(!m.takes_frames(1050.0, false), "busy and live: frames wait for the next still picture");
        assert!(m.takes_frames(1000.0 + BUSY_REDRAW_MS, false));
        // A snapshot does not wait: it is drawn on the next tick, and the next picture waits
        // a second after it.
        assert!(m.takes_frames(1250.0, true));
        let mut crowd = snap(200);
        crowd.fds.extend((20..60).map(|fd| FdInfo {
            fd,
            role: Role::Tcp,
            interest: Interest::Read,
            name: format!("c{fd}"),
            pending_out: 0,
        }));
        let mut early = m.clone();
        early.update(Action::Receive(vec![ServerMsg::Snapshot(crowd)], 1250.0));
        assert_eq!(early.clients(), 41, "the crowd is drawn at once");
        assert!(!early.takes_frames(1250.0 + BUSY_REDRAW_MS - 1.0, false));
        m.update(Action::Receive(vec![ServerMsg::Events { events: flood(91) }], 1000.0 + BUSY_REDRAW_MS));
        assert_eq!(m.snap.counters.messages, 40, "held frames lose nothing");
        assert_eq!(m.flashes.get(&5).copied(), mark, "the same mark again is not a new flash");
        // Paused: frames are taken at once while the queue is empty (so Step has one), then at
        // the still pace while it grows; calm again, every tick.
        m.update(Action::Pause);
        assert!(m.queue.is_empty() && m.takes_frames(1000.0 + BUSY_REDRAW_MS + 50.0, false));
        m.update(Action::Receive(vec![ServerMsg::Events { events: chat_turn(300) }], 1000.0 + BUSY_REDRAW_MS + 50.0));
        assert_eq!(m.queue.len(), 4);
        assert!(!m.takes_frames(1000.0 + BUSY_REDRAW_MS + 100.0, false));
        assert!(!m.takes_frames(1000.0 + BUSY_REDRAW_MS + 100.0, true), "paused, even a snapshot waits for Step");
        m.update(Action::Step);
        assert_eq!(m.queue.len(), 3);
        m.update(Action::Live);
        m.update(Action::Tick(1000.0 + BUSY_REDRAW_MS + BUSY_MS + 1.0));
        assert!(!m.busy());
        assert!(m.flashes.is_empty() && m.fanout.is_none(), "a flood's still marks do not come alive when it ends");
        assert_eq!(m.tick_ms(), TICK_MS);
        assert!(m.takes_frames(1000.0 + BUSY_REDRAW_MS + BUSY_MS + 2.0, false));
        m.update(Action::Receive(vec![ServerMsg::Events { events: chat_turn(200) }], 4000.0));
        assert_ne!(m.flashes.get(&5).copied(), mark, "calm: every flash animates anew");
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut m = Model::default();
        m.update(Action::Server(ServerMsg::Snapshot(snap(10))));
        m.update(Action::Pause);
        for i in 0..(QUEUE_CAP as u64 / 4 + 10) {
            m.update(Action::Server(ServerMsg::Events { events: chat_turn(11 + i * 4) }));
        }
        assert!(m.queue.len() <= QUEUE_CAP);
        assert!(m.folded_total > 0);
    }

    #[test]
    fn gaps_are_shown_and_snapshots_resync() {
        let mut m = live(chat_turn(11));
        m.update(Action::Server(ServerMsg::Events { events: vec![ev(0, EventBody::gap(42))] }));
        m.update(Action::Server(ServerMsg::Events {
            events: vec![ev(0, EventBody::Gap { dropped: 7, folded: true, resync: true, counters: None })],
        }));
        let mut s = snap(500);
        s.fds.push(FdInfo { fd: 9, role: Role::Web, interest: Interest::Read, name: "bob".into(), pending_out: 0 });
        m.update(Action::Server(ServerMsg::Snapshot(s)));
        m.update(Action::Tick(2000.0));
        assert_eq!(m.gaps_total, 42);
        let folded_before = m.folded_total;
        assert!(folded_before >= 7, "a gateway fold counts as folded, not dropped");
        assert!(m.log.iter().any(|l| l.class == "fold" && l.text.contains("×7 events folded by the gateway")));
        assert!(m.log.iter().any(|l| l.class == "gap"));
        assert_eq!(m.snap.seq, 500);
        assert_eq!(m.clients(), 2);
        // Old events after a newer snapshot change nothing.
        m.update(Action::Server(ServerMsg::Events { events: chat_turn(20) }));
        m.update(Action::Tick(3000.0));
        assert_eq!(m.snap.seq, 500);
    }

    #[test]
    fn calm_rooms_draw_every_fan_out() {
        let mut m = live(chat_turn(11));
        m.update(Action::Server(ServerMsg::Events {
            events: vec![ev(15, EventBody::Broadcast { from: 5, name: "ann".into(), recipients: 1, bytes: 9, text: "again".into() })],
        }));
        m.update(Action::Tick(1100.0));
        assert!(!m.busy());
        assert_eq!(m.fanout.as_ref().unwrap().line, "[ann] again");
    }

    #[test]
    fn a_close_after_its_del_still_names_the_client() {
        let mut m = live(vec![
            ev(11, EventBody::Ctl { op: CtlOp::Del, fd: 5, interest: None, role: Role::Tcp, error: None }),
            ev(12, EventBody::Close { fd: 5, reason: CloseReason::Quit, detail: None }),
        ]);
        m.update(Action::Tick(2000.0));
        assert_eq!(m.log.back().unwrap().text, "close(fd 5) [ann] — said quit");
        assert!(m.snap.fd(5).is_none());
    }

    #[test]
    fn syscalls_are_named_per_poller() {
        let add = EventBody::Ctl { op: CtlOp::Add, fd: 7, interest: Some(Interest::Read), role: Role::Tcp, error: None };
        assert_eq!(describe(&add, "epoll", None), "epoll_ctl(ADD, 7, EPOLLIN)");
        assert_eq!(describe(&add, "epoll-et", None), "epoll_ctl(ADD, 7, EPOLLIN|EPOLLET)");
        assert_eq!(describe(&add, "poll", None), "pollfd[] += {fd 7, POLLIN}");
        assert_eq!(describe(&add, "select", Some("ann")), "FD_SET(7, readfds)  [ann]");
        let wait = EventBody::Wait { timeout_ms: -1, registered: 9, ready: vec![], ready_total: 0, blocked_ns: 1_500_000, scanned: 12 };
        assert_eq!(describe(&wait, "select", None), "select(9 fds, timeout ∞) → 0 ready after 1.50 ms, scanned 12 fds");
    }

    #[test]
    fn rates_come_from_counters() {
        let mut m = live(chat_turn(11));
        m.update(Action::Tick(1250.0));
        let mut s = m.snap.clone();
        s.seq = 100;
        s.counters.messages += 10;
        s.counters.wakeups += 20;
        m.update(Action::Server(ServerMsg::Snapshot(s)));
        m.update(Action::Tick(2250.0));
        assert!((m.rates.messages - 10.0 / 1.25).abs() < 1e-6, "{:?}", m.rates);
    }

    /// In a flood most events arrive as a count: events per wakeup includes what gaps stand for.
    #[test]
    fn events_per_wakeup_counts_what_gaps_stand_for() {
        let mut m = live(chat_turn(11));
        m.update(Action::Tick(1250.0));
        let mut events = chat_turn(20);
        let mut c = m.snap.counters.clone();
        c.wakeups += 2;
        events.push(ev(0, EventBody::folded(96, false, c)));
        m.update(Action::Server(ServerMsg::Events { events }));
        m.update(Action::Tick(2250.0));
        // Four played and 96 folded over the two wakeups since the first sample.
        assert!((m.rates.events_per_wakeup - 50.0).abs() < 1e-6, "{:?}", m.rates);
    }

    #[test]
    fn a_stream_the_server_closed_says_why_and_when_it_tries_again() {
        let mut m = Model::default();
        m.update(Action::Connected(true));
        m.update(Action::StreamClosed { reason: "too many watchers (256, --max-watchers); try again later".into(), retry_s: 4 });
        assert!(!m.connected);
        let said = m.stream_closed.clone().unwrap();
        assert!(said.contains("--max-watchers") && said.contains("4 s"), "{said}");
        assert!(m.log.back().unwrap().text.contains("--max-watchers"));
        m.update(Action::Connected(true));
        assert_eq!(m.stream_closed, None, "back: nothing to explain");
    }
}
