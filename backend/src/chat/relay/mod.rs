//! The cluster relay, sans IO: what this node says to Redis and what it makes of what Redis
//! says. The loop (`chat/server/relay.rs`) owns the socket and does every syscall; this holds
//! the link's state, its bounded output queue, the nodes heard, and the counts of what was
//! not relayed (never silently: each is counted, shown, and told to the sender once).

mod clean;
pub mod presence;
pub mod resp;
mod url;
pub mod wire;

use clean::{clean_name, clean_presence, MAX_REMOTE_CHARS};
use muxscope_shared::{ClusterNode, RelayState, RelayStatus};
use presence::Presence;
use resp::Reply;
use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
pub use url::parse_url;
use wire::Msg;

/// How often this node says it is up (and how many clients it has), unless told otherwise
/// (`--cluster-heartbeat-ms`, for tests); a node unheard for three heartbeats is gone.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// Reconnect backoff: doubles from the first to the last.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(100);
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// A connect (and handshake) that has not finished in this long is given up and retried.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Bytes from Redis held while a frame is incomplete (a line is at most a few KiB; a heartbeat
/// with its names about 10 KiB).
pub const IN_LIMIT: usize = 1 << 20;

/// Why a local line was not relayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lost {
    Down,
    Slow,
}

/// What the loop should do with a remote line: fan `[from@node] text` out to local clients.
#[derive(Debug, PartialEq)]
pub struct Remote {
    pub name: String,
    pub text: String,
}

pub struct Relay {
    pub node: String,
    pub url: String,
    pub addr: SocketAddr,
    /// This run of the node: its own lines come back from Redis and are skipped by it.
    inst: u64,
    state: RelayState,
    since_ms: u64,
    error: Option<String>,
    /// Set once the socket is connected: the handshake is queued, the subscriptions awaited.
    handshaking: bool,
    /// When the current attempt began (its timeout runs from there).
    attempt_at: Instant,
    subscribed: u8,
    retry_at: Option<Instant>,
    backoff: Duration,
    next_hello: Instant,
    heartbeat: Duration,
    /// Bytes owed to Redis are `out[head..]`; `base` counts the bytes ever dropped from the
    /// front of `out`, so a queued line's end (where its PUBLISH ends, counted from the start
    /// of the link) stays fixed while sends take the front.
    out: Vec<u8>,
    head: usize,
    base: u64,
    out_lines: VecDeque<u64>,
    out_limit: usize,
    /// PUBLISHes Redis has not answered yet, in order (true: a room line, false: presence).
    awaiting: VecDeque<bool>,
    unconfirmed: u64,
    input: Vec<u8>,
    next_seq: u64,
    presence: Presence,
    published: u64,
    received: u64,
    lost_down: u64,
    lost_slow: u64,
    missed: u64,
    /// Senders (client ids) already told their lines are not relayed, this outage.
    told: HashSet<u64>,
    /// The status changed since the picture was last told.
    pub changed: bool,
}

impl Relay {
    pub fn new(url: &str, node: String, out_limit: usize, heartbeat: Duration, now: Instant) -> Result<Relay, String> {
        let addr = parse_url(url)?;
        let inst =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0) ^ (std::process::id() as u64) << 32;
        Ok(Relay {
            node,
            url: url.to_string(),
            addr,
            inst,
            state: RelayState::Down,
            since_ms: now_ms(),
            error: Some("not connected yet".into()),
            handshaking: false,
            attempt_at: now,
            subscribed: 0,
            retry_at: Some(now),
            backoff: BACKOFF_FIRST,
            next_hello: now,
            heartbeat,
            out: Vec::new(),
            head: 0,
            base: 0,
            out_lines: VecDeque::new(),
            out_limit,
            awaiting: VecDeque::new(),
            unconfirmed: 0,
            input: Vec::new(),
            next_seq: 0,
            presence: Presence::new(heartbeat * 3),
            published: 0,
            received: 0,
            lost_down: 0,
            lost_slow: 0,
            missed: 0,
            told: HashSet::new(),
            changed: true,
        })
    }

    pub fn state(&self) -> RelayState {
        self.state
    }

    /// A connection attempt is due (the loop then connects and calls [`Relay::connecting`]).
    pub fn connect_due(&self, now: Instant) -> bool {
        self.state == RelayState::Down && self.retry_at.is_some_and(|t| now >= t)
    }

    pub fn connecting(&mut self, now: Instant) {
        self.attempt_at = now;
        self.set_state(RelayState::Connecting, None);
        self.retry_at = None;
        self.handshaking = false;
        self.subscribed = 0;
        self.input.clear();
    }

    /// The socket is connected: queue the handshake (RESP3, so one connection both subscribes
    /// and publishes).
    pub fn connected(&mut self) {
        self.handshaking = true;
        resp::command(&mut self.out, &[b"HELLO", b"3"]);
        resp::command(&mut self.out, &[b"SUBSCRIBE", wire::ROOM, wire::PRESENCE]);
    }

    pub fn handshaking(&self) -> bool {
        self.handshaking
    }

    /// The attempt under way has taken longer than [`CONNECT_TIMEOUT`] (a black-holed address,
    /// a Redis that accepts but never answers).
    pub fn attempt_timed_out(&self, now: Instant) -> bool {
        self.state == RelayState::Connecting && now.duration_since(self.attempt_at) >= CONNECT_TIMEOUT
    }

    /// The link failed (connect refused, reset, EOF, a Redis error): what was queued is lost
    /// and counted, and the next attempt waits out the backoff.
    pub fn down(&mut self, why: String, now: Instant) {
        // Lines still queued never left: counted as not relayed, not as published.
        let unsent = self.out_lines.len() as u64;
        self.lost_down += unsent;
        self.published -= unsent;
        // Sent, but Redis never said it took them.
        let unanswered = self.awaiting.iter().filter(|&&line| line).count() as u64;
        self.unconfirmed += unanswered.saturating_sub(unsent);
        self.awaiting.clear();
        self.out.clear();
        (self.head, self.base) = (0, 0);
        self.out_lines.clear();
        self.input.clear();
        self.handshaking = false;
        if self.state == RelayState::Up {
            self.backoff = BACKOFF_FIRST;
            self.told.clear();
        }
        self.retry_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        if self.state != RelayState::Down || self.error.as_deref() != Some(&why) {
            self.set_state(RelayState::Down, Some(why));
        }
    }

    fn set_state(&mut self, state: RelayState, error: Option<String>) {
        if self.state != state {
            self.since_ms = now_ms();
        }
        self.state = state;
        self.error = error;
        self.changed = true;
    }

    /// A local line, to be published once. `Err` when it cannot be: the caller tells the
    /// sender (once, see [`Relay::first_notice`]).
    pub fn publish(&mut self, from: &str, text: &str) -> Result<(), Lost> {
        if self.state != RelayState::Up {
            self.lost_down += 1;
            self.changed = true;
            return Err(Lost::Down);
        }
        let msg = Msg::Line { node: self.node.clone(), inst: self.inst, seq: self.next_seq, from: from.into(), text: text.into() };
        let payload = msg.encode();
        if self.out.len() - self.head + payload.len() + 64 > self.out_limit {
            self.lost_slow += 1;
            self.changed = true;
            return Err(Lost::Slow);
        }
        self.next_seq += 1;
        resp::command(&mut self.out, &[b"PUBLISH", wire::ROOM, &payload]);
        self.out_lines.push_back(self.base + self.out.len() as u64);
        self.awaiting.push_back(true);
        self.published += 1;
        Ok(())
    }

    /// Whether `client` is to be told now that its lines are not relayed (once an outage).
    pub fn first_notice(&mut self, client: u64) -> bool {
        self.told.insert(client)
    }

    /// Bytes owed to Redis.
    pub fn out(&self) -> &[u8] {
        &self.out[self.head..]
    }

    /// `n` bytes of [`Relay::out`] were sent.
    pub fn sent(&mut self, n: usize) {
        self.head += n;
        let done = self.base + self.head as u64;
        while self.out_lines.front().is_some_and(|&end| end <= done) {
            self.out_lines.pop_front();
        }
        // Sent bytes are dropped from the front once they are half the buffer: each byte is
        // moved at most once, not once a send.
        if self.head == self.out.len() || self.head > self.out.len() / 2 {
            self.out.drain(..self.head);
            self.base += self.head as u64;
            self.head = 0;
        }
        if self.out.len() - self.head < self.out_limit / 2 && self.lost_slow > 0 && self.state == RelayState::Up {
            // Past the slow spell: a sender who loses lines again is told again.
            self.told.clear();
        }
    }

    /// Bytes from Redis: the remote lines they complete. `Err` ends the link (the caller then
    /// closes it and calls [`Relay::down`]).
    pub fn input(&mut self, bytes: &[u8], now: Instant) -> Result<Vec<Remote>, String> {
        if self.input.len() + bytes.len() > IN_LIMIT {
            return Err(format!("a frame from Redis longer than {IN_LIMIT} bytes"));
        }
        self.input.extend_from_slice(bytes);
        let mut at = 0;
        let mut lines = Vec::new();
        let res = loop {
            match resp::next(&self.input[at..]) {
                Ok(Some((reply, n))) => {
                    at += n;
                    if let Err(e) = self.reply(reply, now, &mut lines) {
                        break Err(e);
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.input.drain(..at);
        res.map(|()| lines)
    }

    fn reply(&mut self, reply: Reply, now: Instant, lines: &mut Vec<Remote>) -> Result<(), String> {
        match reply {
            Reply::Error(e) => return Err(format!("Redis said: {e}")),
            Reply::Subscribed(_) => {
                self.subscribed += 1;
                if self.subscribed == 2 {
                    self.handshaking = false;
                    self.backoff = BACKOFF_FIRST;
                    self.told.clear();
                    self.next_hello = now;
                    self.set_state(RelayState::Up, None);
                }
            }
            Reply::Message { channel, payload } => {
                let msg = match Msg::decode(&payload) {
                    Ok(m) => m,
                    // Another program on the channel: not ours to fan out, and no reason to
                    // drop the link.
                    Err(_) => return Ok(()),
                };
                if msg.inst() == self.inst {
                    return Ok(());
                }
                match msg {
                    Msg::Line { node, inst, seq, from, text } if channel == wire::ROOM => {
                        // Anyone on the Redis may publish: what reaches a terminal is made safe
                        // as a local line is (no control characters, no extra lines, bounded).
                        let (from, node) = (clean_name(&from), clean_name(&node));
                        let text: String = crate::chat::framer::sanitize(text.as_bytes()).chars().take(MAX_REMOTE_CHARS).collect();
                        let missed = self.presence.line(inst, seq);
                        if missed > 0 {
                            self.missed += missed;
                            self.changed = true;
                        }
                        self.received += 1;
                        lines.push(Remote { name: format!("{from}@{node}"), text });
                    }
                    m @ (Msg::Hello { .. } | Msg::Bye { .. }) if channel == wire::PRESENCE => {
                        self.changed |= self.presence.heard(clean_presence(m), now);
                    }
                    _ => {}
                }
            }
            Reply::Published(_) => {
                self.awaiting.pop_front();
            }
            Reply::Hello | Reply::Other => {}
        }
        Ok(())
    }

    /// Timers: drops nodes gone quiet; when a heartbeat is due, queues it (with `clients` and
    /// the first names) and says so.
    pub fn tick(&mut self, now: Instant, clients: u32, names: impl FnOnce() -> Vec<String>) -> bool {
        self.changed |= self.presence.expire(now);
        if self.state != RelayState::Up || now < self.next_hello {
            return false;
        }
        self.next_hello = now + self.heartbeat;
        let hello = Msg::Hello { node: self.node.clone(), inst: self.inst, clients, names: names() };
        // A heartbeat goes even past the bound: it is small, and without it the others would
        // drop this node from their strips.
        resp::command(&mut self.out, &[b"PUBLISH", wire::PRESENCE, &hello.encode()]);
        self.awaiting.push_back(false);
        true
    }

    /// A goodbye, for a clean stop.
    pub fn bye(&mut self) {
        if self.state == RelayState::Up {
            let bye = Msg::Bye { node: self.node.clone(), inst: self.inst };
            resp::command(&mut self.out, &[b"PUBLISH", wire::PRESENCE, &bye.encode()]);
            self.awaiting.push_back(false);
        }
    }

    /// When the loop must wake for the relay: a reconnect or a heartbeat.
    pub fn deadline(&self) -> Option<Instant> {
        match self.state {
            RelayState::Down => self.retry_at,
            RelayState::Up => Some(self.next_hello),
            RelayState::Connecting => Some(self.attempt_at + CONNECT_TIMEOUT),
        }
    }

    pub fn status(&self, fd: Option<i32>, clients: u32) -> RelayStatus {
        RelayStatus {
            node: self.node.clone(),
            redis: self.url.clone(),
            state: self.state,
            fd,
            since_ms: self.since_ms,
            error: self.error.clone(),
            nodes: self.presence.nodes(ClusterNode { name: self.node.clone(), clients, me: true }),
            published: self.published,
            received: self.received,
            lost_down: self.lost_down,
            lost_slow: self.lost_slow,
            unconfirmed: self.unconfirmed,
            missed: self.missed,
        }
    }

    /// Lines published and received so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.published, self.received)
    }

    /// Other nodes' names for `/who`.
    pub fn remote_names(&self) -> (Vec<String>, u64) {
        self.presence.remote_names(&self.node)
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests;
