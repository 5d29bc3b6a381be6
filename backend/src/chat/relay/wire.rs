//! What nodes say to each other on the room's channels: JSON, one message per publish.
//!
//! - `muxscope:room`: `{"t":"line","node":"A","inst":7,"seq":12,"from":"alice","text":"hi"}` —
//!   one local line, published once by the node its sender is on. `inst` tells this run of a
//!   node from another with the same name (its own lines come back: it skips them); `seq`
//!   counts a node's lines, so a receiver counts the ones it never got.
//! - `muxscope:presence`: `{"t":"hello","node":"A","inst":7,"clients":3,"names":["alice",…]}`
//!   every second (a node unheard for [`super::presence::TTL`] is gone), `{"t":"bye",…}` when a
//!   node stops cleanly.

use serde::{Deserialize, Serialize};

pub const ROOM: &[u8] = b"muxscope:room";
pub const PRESENCE: &[u8] = b"muxscope:presence";
/// Names a heartbeat carries (`/who` says how many more there are).
pub const NAMES_IN_HELLO: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Msg {
    Line { node: String, inst: u64, seq: u64, from: String, text: String },
    Hello { node: String, inst: u64, clients: u32, names: Vec<String> },
    Bye { node: String, inst: u64 },
}

impl Msg {
    pub fn inst(&self) -> u64 {
        match self {
            Msg::Line { inst, .. } | Msg::Hello { inst, .. } | Msg::Bye { inst, .. } => *inst,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain data")
    }

    /// A message another node sent; garbage (another program on the channel) is an error.
    pub fn decode(payload: &[u8]) -> Result<Msg, String> {
        serde_json::from_slice(payload).map_err(|e| format!("not a muxscope message: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_an_error() {
        for m in [
            Msg::Line { node: "A".into(), inst: 1, seq: 2, from: "al\"ice".into(), text: "hi ✓".into() },
            Msg::Hello { node: "B".into(), inst: 3, clients: 2, names: vec!["x".into()] },
            Msg::Bye { node: "C".into(), inst: 4 },
        ] {
            assert_eq!(Msg::decode(&m.encode()).unwrap(), m);
        }
        assert!(Msg::decode(b"hello").is_err());
        assert!(Msg::decode(br#"{"t":"line"}"#).is_err());
    }
}
