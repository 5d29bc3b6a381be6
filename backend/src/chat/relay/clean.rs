//! What another node says, made as safe to show as a local line: anyone who can publish on
//! the Redis the nodes share can put anything on the room's channels.

use super::wire::{self, Msg};

/// Longest remote line fanned out, in characters (a local one is at most `--max-line` bytes).
pub const MAX_REMOTE_CHARS: usize = 4096;

/// A name from another node, as safe as a nick: no whitespace, control characters or brackets,
/// at most 32 characters.
pub fn clean_name(s: &str) -> String {
    let n: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && *c != '[' && *c != ']')
        .take(muxscope_shared::MAX_NICK_CHARS)
        .collect();
    if n.is_empty() {
        "?".into()
    } else {
        n
    }
}

/// A presence message made safe to show (`/who` writes its names to terminals): names as
/// nicks, at most [`wire::NAMES_IN_HELLO`] of them.
pub fn clean_presence(m: Msg) -> Msg {
    match m {
        Msg::Hello { node, inst, clients, names } => Msg::Hello {
            node: clean_name(&node),
            inst,
            clients,
            names: names.iter().take(wire::NAMES_IN_HELLO).map(|n| clean_name(n)).collect(),
        },
        Msg::Bye { node, inst } => Msg::Bye { node: clean_name(&node), inst },
        line => line,
    }
}
