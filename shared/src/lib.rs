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

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

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

/// What a registered fd waits for. Never empty (as in Python's `selectors`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Interest {
    #[serde(rename = "r")]
    Read,
    #[serde(rename = "w")]
    Write,
    #[serde(rename = "rw")]
    ReadWrite,
}

impl Interest {
    pub fn is_readable(self) -> bool {
        matches!(self, Interest::Read | Interest::ReadWrite)
    }
    pub fn is_writable(self) -> bool {
        matches!(self, Interest::Write | Interest::ReadWrite)
    }
    pub fn from_bools(read: bool, write: bool) -> Option<Interest> {
        match (read, write) {
            (true, false) => Some(Interest::Read),
            (false, true) => Some(Interest::Write),
            (true, true) => Some(Interest::ReadWrite),
            (false, false) => None,
        }
    }
    /// The union, named as `selectors` says it (adding interest), not an arithmetic `+`.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: Interest) -> Interest {
        Interest::from_bools(self.is_readable() || other.is_readable(), self.is_writable() || other.is_writable())
            .expect("union of non-empty interests is non-empty")
    }
    /// `None` when removing `other` leaves nothing.
    pub fn remove(self, other: Interest) -> Option<Interest> {
        Interest::from_bools(self.is_readable() && !other.is_readable(), self.is_writable() && !other.is_writable())
    }
}

impl fmt::Display for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Interest::Read => "READ",
            Interest::Write => "WRITE",
            Interest::ReadWrite => "READ|WRITE",
        })
    }
}

/// Readiness reported by a wait, with epoll's names. ERR and HUP count as readable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReadyFlags(pub u8);

impl ReadyFlags {
    pub const IN: u8 = 1;
    pub const OUT: u8 = 2;
    pub const ERR: u8 = 4;
    pub const HUP: u8 = 8;
    pub const RDHUP: u8 = 16;
    const NAMES: [(u8, &'static str); 5] =
        [(Self::IN, "IN"), (Self::OUT, "OUT"), (Self::ERR, "ERR"), (Self::HUP, "HUP"), (Self::RDHUP, "RDHUP")];

    pub fn contains(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    /// Python's rule: an error or hang-up wakes a reader, who then sees EOF or the error.
    pub fn readable(self) -> bool {
        self.0 & (Self::IN | Self::ERR | Self::HUP | Self::RDHUP) != 0
    }
    pub fn writable(self) -> bool {
        self.0 & (Self::OUT | Self::ERR | Self::HUP) != 0
    }
}

impl fmt::Display for ReadyFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (bit, name) in Self::NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl Serialize for ReadyFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReadyFlags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let mut bits = 0;
        for part in text.split('|').filter(|p| !p.is_empty()) {
            let (bit, _) = Self::NAMES
                .iter()
                .find(|(_, name)| *name == part)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown ready flag {part:?}")))?;
            bits |= bit;
        }
        Ok(ReadyFlags(bits))
    }
}

/// What an fd is, for the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The listening socket: readable means "a connection waits in the backlog".
    Listener,
    /// A TCP chat client (nc, telnet, the seed's clients).
    Tcp,
    /// A browser user, bridged by the gateway over a real TCP connection.
    Web,
    /// The eventfd the gateway uses to wake the loop (the self-pipe trick).
    Waker,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CtlOp {
    Add,
    Mod,
    Del,
}

/// Why an fd left the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The peer closed its side (recv returned 0).
    Eof,
    /// The client sent `quit`.
    Quit,
    /// recv/send failed (e.g. ECONNRESET).
    Error,
    /// A line longer than the limit.
    LineTooLong,
    /// No newline within the time limit.
    LineTimeout,
    /// The output queue passed the hard limit.
    OutputHardLimit,
    /// The output queue stayed over the soft limit for too long.
    OutputSoftLimit,
    /// The selector cannot watch this fd (select and FD_SETSIZE).
    SelectorLimit,
    /// `--max-clients` reached.
    MaxClients,
    /// `--max-clients-per-ip` reached for the client's address.
    PerIpLimit,
    /// The process ran out of fds (EMFILE): accepted only to say so.
    FdExhausted,
    /// The server is stopping.
    Shutdown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyFd {
    pub fd: i32,
    pub flags: ReadyFlags,
}

/// One step of the loop. `kind` comes from the flattened body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub ts_ns: u64,
    #[serde(flatten)]
    pub body: EventBody,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// The interest list changed. `interest` is absent for `del`. `error` is set when the kernel
    /// (or select's FD_SETSIZE) refused.
    Ctl {
        op: CtlOp,
        fd: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interest: Option<Interest>,
        role: Role,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// One wakeup. `timeout_ms` is -1 for "block until something is ready". `ready` holds at
    /// most [`MAX_READY_IN_EVENT`] entries; `ready_total` is the full length of the ready list.
    /// `scanned` is how many fds the kernel had to look at: every registered one for poll and
    /// select (the linear scan), only the ready ones for epoll.
    Wait {
        timeout_ms: i64,
        registered: u32,
        ready: Vec<ReadyFd>,
        ready_total: u32,
        blocked_ns: u64,
        scanned: u32,
    },
    Accept {
        fd: i32,
        peer: String,
        listener: i32,
    },
    /// `bytes` copied into user space; `eof` when recv returned 0; `would_block` when it returned
    /// EAGAIN (the kernel had nothing more); `lines` complete lines found.
    Recv {
        fd: i32,
        bytes: u32,
        eof: bool,
        would_block: bool,
        lines: u32,
    },
    /// One flush of a client's output queue (one writev/sendmsg call).
    Send {
        fd: i32,
        bytes: u64,
        would_block: bool,
        queued: u64,
    },
    /// One line fanned out: `from` is the sender's fd, `recipients` how many queues got it.
    Broadcast {
        from: i32,
        name: String,
        recipients: u32,
        bytes: u32,
        text: String,
    },
    /// (extension) a client named itself with `/nick`; `role` tells a browser user (`web`)
    /// from a TCP one.
    Nick {
        fd: i32,
        name: String,
        role: Role,
    },
    Close {
        fd: i32,
        reason: CloseReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// `dropped` events were not delivered to this consumer. `folded` (optional, default false):
    /// they were left out on purpose, only counted: by the loop, past the first few hundred of
    /// a flooded turn that leave the fd table alone (such a gap has a seq), or by the gateway,
    /// because they came faster than a browser can draw (seq 0). Only their description and
    /// animation are skipped. Optional extensions that keep the state exact without
    /// a snapshot per gap: `counters`, the totals after the missing events; `resync`, set when
    /// the missing events changed the fd table (a registration, name, role or output queue), so
    /// a fresh snapshot follows.
    Gap {
        dropped: u64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        folded: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        resync: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        counters: Option<Counters>,
    },
}

impl EventBody {
    /// A plain `gap`: `dropped` events lost, nothing else known.
    pub fn gap(dropped: u64) -> EventBody {
        EventBody::Gap { dropped, folded: false, resync: false, counters: None }
    }

    /// A `gap` for `dropped` events the gateway left out on purpose, with the totals after them.
    pub fn folded(dropped: u64, resync: bool, counters: Counters) -> EventBody {
        EventBody::Gap { dropped, folded: true, resync, counters: Some(counters) }
    }

    /// How many of the loop's events this one stands for: a gap, the events it left out; any
    /// other, itself.
    pub fn stands_for(&self) -> u64 {
        match self {
            EventBody::Gap { dropped, .. } => *dropped,
            _ => 1,
        }
    }

    /// Whether the event changes the fd table a snapshot holds (and not only counters): losing
    /// one makes the consumer's picture stale until the next snapshot. A `send` that emptied a
    /// queue shown as owed changes it too, which only the picture knows: see
    /// [`Snapshot::changed_by`].
    pub fn changes_table(&self) -> bool {
        match self {
            EventBody::Ctl { .. } | EventBody::Accept { .. } | EventBody::Nick { .. } | EventBody::Close { .. } => true,
            EventBody::Send { queued, .. } => *queued > 0,
            // A gap that lost such events stands for them.
            EventBody::Gap { resync, .. } => *resync,
            EventBody::Wait { .. } | EventBody::Recv { .. } | EventBody::Broadcast { .. } => false,
        }
    }

    /// The JSON `kind` string.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Ctl { .. } => "ctl",
            EventBody::Wait { .. } => "wait",
            EventBody::Accept { .. } => "accept",
            EventBody::Recv { .. } => "recv",
            EventBody::Send { .. } => "send",
            EventBody::Broadcast { .. } => "broadcast",
            EventBody::Nick { .. } => "nick",
            EventBody::Close { .. } => "close",
            EventBody::Gap { .. } => "gap",
        }
    }
}

/// The ready list inside a `wait` event is cut to this length (the count stays exact).
pub const MAX_READY_IN_EVENT: usize = 256;

/// One registered fd as a snapshot sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdInfo {
    pub fd: i32,
    pub role: Role,
    pub interest: Interest,
    /// Nick if set, else `ip:port` for clients, the address for the listener.
    pub name: String,
    /// Bytes waiting in the output queue.
    #[serde(default)]
    pub pending_out: u64,
}

/// Totals since the core started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub wakeups: u64,
    pub accepted: u64,
    pub closed: u64,
    pub messages: u64,
    pub deliveries: u64,
    pub recv_bytes: u64,
    pub sent_bytes: u64,
    /// Telemetry events the core could not queue (no consumer kept up).
    pub dropped_events: u64,
}

/// The present state of the loop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    /// `epoll`, `epoll-et`, `poll` or `select`.
    pub poller: String,
    pub chat_addr: String,
    pub fds: Vec<FdInfo>,
    pub counters: Counters,
    /// Events after this snapshot have `seq > seq`.
    pub seq: u64,
    pub ts_ns: u64,
}

impl Snapshot {
    /// An empty picture, before the first snapshot arrives.
    pub fn empty() -> Snapshot {
        Snapshot {
            version: PROTOCOL_VERSION,
            poller: String::new(),
            chat_addr: String::new(),
            fds: Vec::new(),
            counters: Counters::default(),
            seq: 0,
            ts_ns: 0,
        }
    }

    pub fn fd(&self, fd: i32) -> Option<&FdInfo> {
        self.fds.binary_search_by_key(&fd, |f| f.fd).ok().map(|i| &self.fds[i])
    }

    fn fd_mut(&mut self, fd: i32) -> Option<&mut FdInfo> {
        self.fds.binary_search_by_key(&fd, |f| f.fd).ok().map(|i| &mut self.fds[i])
    }

    fn upsert(&mut self, info: FdInfo) {
        match self.fds.binary_search_by_key(&info.fd, |f| f.fd) {
            Ok(i) => self.fds[i] = info,
            Err(i) => self.fds.insert(i, info),
        }
    }

    fn remove(&mut self, fd: i32) {
        if let Ok(i) = self.fds.binary_search_by_key(&fd, |f| f.fd) {
            self.fds.remove(i);
        }
    }

    /// Whether `body`, applied to this picture, would change its fd table: what
    /// [`EventBody::changes_table`] says, and also a flush that emptied a queue this picture
    /// shows as owed (its `pending_out` goes back to 0).
    pub fn changed_by(&self, body: &EventBody) -> bool {
        match body {
            EventBody::Send { fd, queued: 0, .. } => self.fd(*fd).is_some_and(|f| f.pending_out > 0),
            other => other.changes_table(),
        }
    }

    /// Moves the picture forward by one event: the same events always give the same picture.
    /// Events at or before `seq` are already in it and are ignored; a `gap` is always counted.
    pub fn apply(&mut self, e: &Event) {
        if let EventBody::Gap { dropped, folded, counters, .. } = &e.body {
            if !folded {
                self.counters.dropped_events += dropped;
            }
            // Totals after the missing events (unless the picture is already past them); drops
            // keep their own, larger, count.
            if let Some(c) = counters.as_ref().filter(|_| e.seq == 0 || e.seq > self.seq) {
                let dropped_events = self.counters.dropped_events.max(c.dropped_events);
                self.counters = Counters { dropped_events, ..c.clone() };
            }
        }
        if e.seq <= self.seq {
            return;
        }
        self.seq = e.seq;
        self.ts_ns = e.ts_ns;
        let c = &mut self.counters;
        match &e.body {
            EventBody::Ctl { op, fd, interest, role, error } => {
                if error.is_some() {
                    if *op == CtlOp::Add {
                        self.remove(*fd);
                    }
                    return;
                }
                match (op, interest) {
                    (CtlOp::Add, Some(interest)) => {
                        let name = match self.fd(*fd) {
                            Some(f) => f.name.clone(),
                            None if *role == Role::Listener => self.chat_addr.clone(),
                            None => format!("fd {fd}"),
                        };
                        self.upsert(FdInfo { fd: *fd, role: *role, interest: *interest, name, pending_out: 0 });
                    }
                    (CtlOp::Mod, Some(interest)) => {
                        if let Some(f) = self.fd_mut(*fd) {
                            f.interest = *interest;
                        }
                    }
                    (CtlOp::Del, _) => self.remove(*fd),
                    _ => {}
                }
            }
            EventBody::Wait { .. } => c.wakeups += 1,
            EventBody::Accept { fd, peer, .. } => {
                c.accepted += 1;
                // Registered by the ctl add that follows; named now.
                self.upsert(FdInfo { fd: *fd, role: Role::Tcp, interest: Interest::Read, name: peer.clone(), pending_out: 0 });
            }
            EventBody::Recv { bytes, .. } => c.recv_bytes += *bytes as u64,
            EventBody::Send { fd, bytes, queued, .. } => {
                c.sent_bytes += bytes;
                if let Some(f) = self.fd_mut(*fd) {
                    f.pending_out = *queued;
                }
            }
            EventBody::Broadcast { recipients, .. } => {
                c.messages += 1;
                c.deliveries += *recipients as u64;
            }
            EventBody::Nick { fd, name, role } => {
                if let Some(f) = self.fd_mut(*fd) {
                    f.name = name.clone();
                    f.role = *role;
                }
            }
            EventBody::Close { fd, .. } => {
                c.closed += 1;
                self.remove(*fd);
            }
            EventBody::Gap { .. } => {}
        }
    }
}

/// (extension) Messages a browser may send on `/ws/events`. `pace` with `still: true`: the page
/// draws a flood as still pictures, so the gateway sends it about a frame a second and
/// folds the rest into counted gaps that carry the totals (and ask for a snapshot when the fd
/// table changed); `still: false` returns to every frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    Pace { still: bool },
}

/// Frames on `/ws/events`, server to browser.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Snapshot(Snapshot),
    Events { events: Vec<Event> },
}

/// The same message, read the way serde reads any internally tagged enum (buffering it all
/// before it knows the type). Used when `type` is not the first key.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TaggedServerMsg {
    Snapshot(Snapshot),
    Events { events: Vec<Event> },
}

#[derive(Deserialize)]
struct EventsBody {
    events: Vec<Event>,
}

/// A browser parses several of these a second while a room floods, so the usual case — `type`
/// first, as muxscope writes it — reads the rest straight into its type instead of buffering
/// the whole message first (about half the work for a snapshot of a thousand fds). Any other
/// key order still parses, the slow way.
impl<'de> Deserialize<'de> for ServerMsg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ServerMsg, D::Error> {
        use serde::de::value::MapAccessDeserializer;
        use serde::de::{Error, MapAccess, Visitor};
        use std::borrow::Cow;

        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ServerMsg;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a /ws/events message: an object with a \"type\"")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ServerMsg, A::Error> {
                let Some(first) = map.next_key::<Cow<'de, str>>()? else {
                    return Err(A::Error::missing_field("type"));
                };
                if first == "type" {
                    let tag = map.next_value::<Cow<'de, str>>()?;
                    return match tag.as_ref() {
                        "snapshot" => Snapshot::deserialize(MapAccessDeserializer::new(map)).map(ServerMsg::Snapshot),
                        "events" => {
                            EventsBody::deserialize(MapAccessDeserializer::new(map)).map(|b| ServerMsg::Events { events: b.events })
                        }
                        other => Err(A::Error::unknown_variant(other, &["snapshot", "events"])),
                    };
                }
                // Another order: gather the object and read it as tagged.
                let mut whole = serde_json::Map::new();
                whole.insert(first.into_owned(), map.next_value::<serde_json::Value>()?);
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    whole.insert(k, v);
                }
                let whole = serde_json::Value::Object(whole);
                match TaggedServerMsg::deserialize(whole).map_err(A::Error::custom)? {
                    TaggedServerMsg::Snapshot(s) => Ok(ServerMsg::Snapshot(s)),
                    TaggedServerMsg::Events { events } => Ok(ServerMsg::Events { events }),
                }
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_the_contract_names() {
        let e = Event {
            seq: 1,
            ts_ns: 2,
            body: EventBody::Ctl { op: CtlOp::Add, fd: 5, interest: Some(Interest::Read), role: Role::Tcp, error: None },
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"seq":1,"ts_ns":2,"kind":"ctl","op":"add","fd":5,"interest":"r","role":"tcp"}"#);
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
        let bodies = [
            EventBody::Wait {
                timeout_ms: -1,
                registered: 1,
                ready: vec![ReadyFd { fd: 3, flags: ReadyFlags(ReadyFlags::IN | ReadyFlags::HUP) }],
                ready_total: 1,
                blocked_ns: 5,
                scanned: 1,
            },
            EventBody::Accept { fd: 4, peer: "127.0.0.1:5".into(), listener: 3 },
            EventBody::Recv { fd: 4, bytes: 3, eof: false, would_block: false, lines: 1 },
            EventBody::Send { fd: 4, bytes: 3, would_block: true, queued: 9 },
            EventBody::Broadcast { from: 4, name: "a".into(), recipients: 2, bytes: 9, text: "hi".into() },
            EventBody::Close { fd: 4, reason: CloseReason::Eof, detail: None },
            EventBody::gap(10),
            EventBody::Gap { dropped: 3, folded: true, resync: false, counters: None },
            EventBody::Gap { dropped: 3, folded: true, resync: true, counters: Some(Counters { messages: 7, ..Counters::default() }) },
        ];
        for body in bodies {
            let kind = body.kind();
            let e = Event { seq: 1, ts_ns: 1, body };
            let v: serde_json::Value = serde_json::to_value(&e).unwrap();
            assert_eq!(v["kind"], kind);
            assert_eq!(serde_json::from_value::<Event>(v).unwrap(), e);
        }
    }

    #[test]
    fn ready_flags_read_like_epoll() {
        let f = ReadyFlags(ReadyFlags::IN | ReadyFlags::ERR);
        assert_eq!(f.to_string(), "IN|ERR");
        assert!(ReadyFlags(ReadyFlags::HUP).readable());
        assert!(!ReadyFlags(ReadyFlags::OUT).readable());
        assert!(serde_json::from_str::<ReadyFlags>("\"IN|BOGUS\"").is_err());
    }

    #[test]
    fn interest_algebra() {
        assert_eq!(Interest::Read.add(Interest::Write), Interest::ReadWrite);
        assert_eq!(Interest::ReadWrite.remove(Interest::Write), Some(Interest::Read));
        assert_eq!(Interest::Write.remove(Interest::Write), None);
    }

    #[test]
    fn apply_follows_a_client_through_its_life() {
        let mut s = Snapshot::empty();
        s.chat_addr = "127.0.0.1:3999".into();
        let ev = |seq, body| Event { seq, ts_ns: seq * 10, body };
        let steps = vec![
            ev(1, EventBody::Ctl { op: CtlOp::Add, fd: 3, interest: Some(Interest::Read), role: Role::Listener, error: None }),
            ev(2, EventBody::Accept { fd: 7, peer: "127.0.0.1:5000".into(), listener: 3 }),
            ev(3, EventBody::Ctl { op: CtlOp::Add, fd: 7, interest: Some(Interest::Read), role: Role::Tcp, error: None }),
            ev(4, EventBody::Nick { fd: 7, name: "ann".into(), role: Role::Web }),
            ev(5, EventBody::Ctl { op: CtlOp::Mod, fd: 7, interest: Some(Interest::ReadWrite), role: Role::Web, error: None }),
            ev(6, EventBody::Send { fd: 7, bytes: 10, would_block: true, queued: 90 }),
        ];
        for e in &steps {
            s.apply(e);
        }
        assert_eq!(s.fds.len(), 2);
        let f = s.fd(7).unwrap();
        assert_eq!((f.name.as_str(), f.role, f.interest, f.pending_out), ("ann", Role::Web, Interest::ReadWrite, 90));
        assert_eq!(s.fd(3).unwrap().name, "127.0.0.1:3999");
        // Replaying old events changes nothing.
        let before = s.clone();
        s.apply(&steps[1]);
        assert_eq!(s, before);
        s.apply(&ev(7, EventBody::Ctl { op: CtlOp::Del, fd: 7, interest: None, role: Role::Web, error: None }));
        s.apply(&ev(8, EventBody::Close { fd: 7, reason: CloseReason::Eof, detail: None }));
        assert!(s.fd(7).is_none());
        assert_eq!((s.counters.accepted, s.counters.closed, s.seq), (1, 1, 8));
        // A refused registration leaves nothing behind.
        s.apply(&ev(9, EventBody::Accept { fd: 1030, peer: "p".into(), listener: 3 }));
        s.apply(&ev(
            10,
            EventBody::Ctl { op: CtlOp::Add, fd: 1030, interest: Some(Interest::Read), role: Role::Tcp, error: Some("FD_SETSIZE".into()) },
        ));
        assert!(s.fd(1030).is_none());
        s.apply(&ev(3, EventBody::gap(4)));
        assert_eq!(s.counters.dropped_events, 4);
        // Folded by the gateway: not lost, not counted as dropped.
        s.apply(&ev(0, EventBody::Gap { dropped: 9, folded: true, resync: false, counters: None }));
        assert_eq!(s.counters.dropped_events, 4);
        // A gap that carries the totals after what it skipped sets them.
        let after = Counters { wakeups: 90, messages: 40, deliveries: 400, dropped_events: 2, ..s.counters.clone() };
        s.apply(&ev(0, EventBody::Gap { dropped: 9, folded: true, resync: false, counters: Some(after) }));
        assert_eq!((s.counters.wakeups, s.counters.messages, s.counters.deliveries), (90, 40, 400));
        assert_eq!(s.counters.dropped_events, 4, "drops keep the larger count");
        assert_eq!(s.seq, 10, "a gap moves no seq");
    }

    #[test]
    fn nick_rules() {
        assert!(valid_nick("ann"));
        assert!(valid_nick("中文"));
        assert!(!valid_nick(""));
        assert!(!valid_nick("a b"));
        assert!(!valid_nick("[x]"));
        assert!(!valid_nick("a\u{7}"));
        assert!(!valid_nick(&"x".repeat(33)));
    }

    #[test]
    fn server_msg_is_tagged_by_type() {
        let m = ServerMsg::Events { events: vec![] };
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"type":"events","events":[]}"#);
    }

    #[test]
    fn server_msgs_parse_in_any_key_order_and_bad_ones_say_why() {
        let mut snap = Snapshot::empty();
        snap.poller = "epoll".into();
        snap.fds.push(FdInfo { fd: 5, role: Role::Web, interest: Interest::ReadWrite, name: "ann".into(), pending_out: 9 });
        snap.counters.messages = 3;
        let events = vec![
            Event { seq: 4, ts_ns: 5, body: EventBody::Send { fd: 5, bytes: 3, would_block: true, queued: 9 } },
            Event {
                seq: 0,
                ts_ns: 6,
                body: EventBody::Gap { dropped: 2, folded: true, resync: false, counters: Some(snap.counters.clone()) },
            },
        ];
        for m in [ServerMsg::Snapshot(snap.clone()), ServerMsg::Events { events }] {
            let json = serde_json::to_string(&m).unwrap();
            assert!(json.starts_with(r#"{"type":"#), "muxscope writes the tag first: {json}");
            assert_eq!(serde_json::from_str::<ServerMsg>(&json).unwrap(), m, "tag first");
            // The same object with the tag last (another writer, or a JSON tool, may do that).
            let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
            let tag = v.as_object_mut().unwrap().remove("type").unwrap();
            let rest = serde_json::to_string(&v).unwrap();
            let moved = format!(r#"{},"type":{tag}}}"#, &rest[..rest.len() - 1]);
            assert!(!moved.starts_with(r#"{"type""#));
            assert_eq!(serde_json::from_str::<ServerMsg>(&moved).unwrap(), m, "tag last: {moved}");
        }
        for (bad, says) in [
            (r#"{"type":"nope","events":[]}"#, "unknown variant `nope`"),
            (r#"{}"#, "missing field `type`"),
            (r#"{"events":[]}"#, "missing field `type`"),
            (r#"{"type":"events"}"#, "missing field `events`"),
            (r#"[1]"#, "a /ws/events message"),
        ] {
            let err = serde_json::from_str::<ServerMsg>(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
