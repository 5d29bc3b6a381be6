//! The chat protocol with no IO in it: what a line means, and the bytes the server answers with.
//! It holds no fd and makes no syscall, so every IO model can drive the same rules (the models
//! issue); the loop in `server.rs` is the first driver. Framing and sanitizing are `framer.rs`.

use muxscope_shared::Role;

/// What one (sanitized, non-empty) line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// `quit`: the client leaves (as in the seed).
    Quit,
    /// `/nick NAME` (`/nick` alone asks with an empty name, which is refused).
    Nick(&'a str),
    /// `/role web` (the gateway, for a browser user) or `/role bot` (a bot the gateway or
    /// `muxscope bots` runs): only changes how the fd is drawn, never what it may do.
    Role(Role),
    /// `/who`: who is online.
    Who,
    /// `/help`: the commands.
    Help,
    /// Anything else is said to everyone.
    Say(&'a str),
}

/// What `text` asks for; `None` for an empty line (nothing to do).
pub fn parse(text: &str) -> Option<Command<'_>> {
    if text.is_empty() {
        return None;
    }
    Some(match text {
        "quit" => Command::Quit,
        "/role web" => Command::Role(Role::Web),
        "/role bot" => Command::Role(Role::Bot),
        "/who" => Command::Who,
        "/help" => Command::Help,
        _ => match text.strip_prefix("/nick") {
            Some(rest) if rest.is_empty() || rest.starts_with(' ') => Command::Nick(rest.trim()),
            _ => Command::Say(text),
        },
    })
}

/// The answer to `/help`.
pub const HELP: &[u8] =
    b"* commands: /nick NAME (be called NAME), /who (who is online), quit (leave). Anything else is said to everyone.\n";
/// The answer to a `/nick` with a name the rule refuses (`muxscope_shared::valid_nick`).
pub const BAD_NICK: &[u8] = b"* error: a nick is 1 to 32 characters, without spaces or brackets\n";
/// Names `/who` lists before it says how many more there are.
pub const WHO_LISTS: usize = 50;

/// The answer to `/who`: how many are online and the first [`WHO_LISTS`] names, sorted.
pub fn who_line(names: Vec<String>) -> String {
    let total = names.len() as u64;
    who_line_of(names, total)
}

/// `/who` when `total` online are more than the `names` known (a cluster: other nodes send
/// only their first names).
pub fn who_line_of(mut names: Vec<String>, total: u64) -> String {
    names.sort();
    let total = total.max(names.len() as u64);
    names.truncate(WHO_LISTS);
    let more = if total > names.len() as u64 { format!(" … and {} more", total - names.len() as u64) } else { String::new() };
    format!("* {total} online: {}{more}\n", names.join(", "))
}

/// Appends `[NAME] TEXT\n` to `buf`; `name` writes the sender's name (a nick, or its address,
/// formatted straight into the buffer). Returns the bytes appended.
pub fn encode_broadcast(buf: &mut Vec<u8>, name: impl FnOnce(&mut Vec<u8>), text: &str) -> usize {
    let start = buf.len();
    buf.push(b'[');
    name(buf);
    buf.extend_from_slice(b"] ");
    buf.extend_from_slice(text.as_bytes());
    buf.push(b'\n');
    buf.len() - start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_mean_what_the_seed_and_the_help_say() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("quit"), Some(Command::Quit));
        assert_eq!(parse("quit now"), Some(Command::Say("quit now")), "only the whole line quits");
        assert_eq!(parse("/nick ann"), Some(Command::Nick("ann")));
        assert_eq!(parse("/nick   ann  "), Some(Command::Nick("ann")));
        assert_eq!(parse("/nick"), Some(Command::Nick("")), "asked without a name: refused later");
        assert_eq!(parse("/nickname"), Some(Command::Say("/nickname")), "not a command");
        assert_eq!(parse("/who"), Some(Command::Who));
        assert_eq!(parse("/help"), Some(Command::Help));
        assert_eq!(parse("/role web"), Some(Command::Role(Role::Web)));
        assert_eq!(parse("/role bot"), Some(Command::Role(Role::Bot)));
        assert_eq!(parse("/role tcp"), Some(Command::Say("/role tcp")), "only the roles a client may claim");
        assert_eq!(parse("hello"), Some(Command::Say("hello")));
    }

    #[test]
    fn who_lists_fifty_names_sorted_and_counts_the_rest() {
        assert_eq!(who_line(vec!["bo".into(), "al".into()]), "* 2 online: al, bo\n");
        let many: Vec<String> = (0..60).map(|i| format!("n{i:02}")).collect();
        let line = who_line(many);
        assert!(line.starts_with("* 60 online: n00, n01,"), "{line}");
        assert!(line.ends_with("n49 … and 10 more\n"), "{line}");
    }

    #[test]
    fn a_broadcast_is_the_name_in_brackets_then_the_text() {
        let mut buf = b"before".to_vec();
        let n = encode_broadcast(&mut buf, |b| b.extend_from_slice(b"ann"), "hi there");
        assert_eq!(&buf[6..], b"[ann] hi there\n");
        assert_eq!(n, 15);
    }
}
