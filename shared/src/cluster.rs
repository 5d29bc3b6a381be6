//! The cluster: several muxscope nodes sharing one chat room through Redis pub/sub
//! (`--cluster redis://HOST:PORT`). Each node keeps one connection to Redis, an fd with role
//! `relay` in its own loop; a `relay` event tells the picture whenever that link or the set of
//! nodes it hears changes.

use crate::map_struct::map_struct_deserialize;
use serde::Serialize;

/// Where the relay's connection to Redis stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayState {
    /// A non-blocking `connect` is under way (or the handshake: `HELLO 3`, `SUBSCRIBE`).
    Connecting,
    /// Subscribed: local lines are published, remote lines fanned out.
    Up,
    /// No connection; the next attempt is due after a backoff. Lines are not relayed (counted).
    Down,
}

impl RelayState {
    pub const ALL: [RelayState; 3] = [RelayState::Connecting, RelayState::Up, RelayState::Down];
}

/// One node the relay hears (its own included, marked `me`), from the presence channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterNode {
    pub name: String,
    /// Chat clients on that node at its last heartbeat.
    pub clients: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub me: bool,
}

/// Everything the picture shows of the cluster: the link, the nodes that are up, and what was
/// not relayed (never silently).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RelayStatus {
    /// This node's name (`--node`).
    pub node: String,
    /// `redis://HOST:PORT`.
    pub redis: String,
    pub state: RelayState,
    /// The relay's fd while it has a socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd: Option<i32>,
    /// Milliseconds since the Unix epoch when the state began ("relay down since …").
    pub since_ms: u64,
    /// Why the link went down, as the kernel or Redis said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Nodes that are up (heard within the presence window), sorted by name.
    pub nodes: Vec<ClusterNode>,
    /// Local lines published to the room.
    pub published: u64,
    /// Remote lines fanned out here.
    pub received: u64,
    /// Local lines not relayed because the link was down.
    pub lost_down: u64,
    /// Local lines not relayed because the relay's output queue was full (a slow Redis).
    pub lost_slow: u64,
    /// Local lines written to Redis just before the link broke, whose PUBLISH Redis never
    /// answered: they may or may not have reached the other nodes.
    #[serde(default)]
    pub unconfirmed: u64,
    /// Remote lines that never arrived (a gap in another node's sequence numbers: published
    /// while this node's link was down, or cut by Redis).
    pub missed: u64,
}

// Read by `crate::map_struct` (a map only; the same fields, defaults and errors as a derive).
map_struct_deserialize!(ClusterNode { name, clients, me: default });
map_struct_deserialize!(RelayStatus {
    node,
    redis,
    state,
    fd: default,
    since_ms,
    error: default,
    nodes,
    published,
    received,
    lost_down,
    lost_slow,
    unconfirmed: default,
    missed,
});
