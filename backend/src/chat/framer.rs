//! Line framing and clean-up for the chat protocol.
//!
//! Bytes arrive in whatever pieces TCP hands over. [`split_lines`] glues them to the client's
//! partial line, yields complete lines (LF-terminated, a CR before it dropped) and keeps the
//! unfinished tail, never more than the line limit. [`sanitize`] makes a line safe to fan out to
//! terminals and browsers: valid UTF-8, no NUL, no control characters, no escape sequences.

use std::borrow::Cow;
use std::ops::ControlFlow;

#[derive(Debug, PartialEq, Eq)]
pub struct LineTooLong;

/// Feeds `data` after `partial`. Calls `on_line` with every complete line, without its LF (and
/// CR); `on_line` may stop the split (e.g. after `quit`). What is left unterminated stays in
/// `partial`. A line longer than `max` bytes, complete or not, is an error; lines before it have
/// been delivered.
pub fn split_lines(
    partial: &mut Vec<u8>,
    data: &[u8],
    max: usize,
    mut on_line: impl FnMut(&[u8]) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, LineTooLong> {
    let mut rest = data;
    if !partial.is_empty() {
        match memchr::memchr(b'\n', rest) {
            None => {
                // +1: the tail may end in the CR of a CRLF that is still on its way.
                if partial.len() + rest.len() > max + 1 {
                    return Err(LineTooLong);
                }
                partial.extend_from_slice(rest);
                return Ok(ControlFlow::Continue(()));
            }
            Some(i) => {
                if partial.len() + i > max + 1 {
                    return Err(LineTooLong);
                }
                partial.extend_from_slice(&rest[..i]);
                rest = &rest[i + 1..];
                // Idle clients keep no buffer: the partial line's memory goes with it.
                let line = std::mem::take(partial);
                let line = strip_cr(&line);
                if line.len() > max {
                    return Err(LineTooLong);
                }
                if on_line(line).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
    }
    while let Some(i) = memchr::memchr(b'\n', rest) {
        let line = strip_cr(&rest[..i]);
        if line.len() > max {
            return Err(LineTooLong);
        }
        if on_line(line).is_break() {
            return Ok(ControlFlow::Break(()));
        }
        rest = &rest[i + 1..];
    }
    if !rest.is_empty() {
        if rest.len() > max + 1 {
            return Err(LineTooLong);
        }
        partial.extend_from_slice(rest);
    }
    Ok(ControlFlow::Continue(()))
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Makes a received line safe to show anywhere: invalid UTF-8 becomes U+FFFD; NUL, C0/C1 control
/// characters and DEL are removed, and so are whole ANSI escape sequences (ESC [ … final, ESC ] …
/// BEL/ST, ESC x), so nobody can move a cursor or retitle a terminal across the room. Tabs become
/// spaces. Surrounding whitespace is trimmed.
pub fn sanitize(line: &[u8]) -> Cow<'_, str> {
    let text = String::from_utf8_lossy(line);
    let clean = |c: char| !c.is_control() && c != '\u{7f}';
    if text.chars().all(clean) {
        return match text {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
            Cow::Owned(s) => Cow::Owned(s.trim().to_string()),
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates up to a final byte in @..~
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC, DCS, and friends: up to BEL or ST (ESC \)
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\t' => out.push(' '),
            c if clean(c) => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines_of(chunks: &[&[u8]], max: usize) -> (Vec<Vec<u8>>, Vec<u8>, bool) {
        let mut partial = Vec::new();
        let mut out = Vec::new();
        for c in chunks {
            if split_lines(&mut partial, c, max, |l| {
                out.push(l.to_vec());
                ControlFlow::Continue(())
            })
            .is_err()
            {
                return (out, partial, true);
            }
        }
        (out, partial, false)
    }

    #[test]
    fn lf_and_crlf() {
        let (lines, rest, err) = lines_of(&[b"a\nb\r\nc"], 100);
        assert_eq!(lines, vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(rest, b"c");
        assert!(!err);
    }

    #[test]
    fn a_line_split_across_reads() {
        let (lines, rest, _) = lines_of(&[b"hel", b"lo wo", b"rld\r", b"\nnext"], 100);
        assert_eq!(lines, vec![b"hello world".to_vec()]);
        assert_eq!(rest, b"next");
    }

    #[test]
    fn too_long_complete_and_partial() {
        assert!(lines_of(&[b"12345\n"], 4).2);
        assert!(lines_of(&[b"1234\n"], 4).0 == vec![b"1234".to_vec()]);
        // Five bytes may still be "1234\r" waiting for its LF; six cannot.
        assert!(!lines_of(&[b"12", b"345"], 4).2);
        assert!(lines_of(&[b"12", b"3456"], 4).2);
        assert!(lines_of(&[b"12", b"3", b"4", b"5\n"], 4).2);
        // A CRLF right at the limit is fine.
        assert_eq!(lines_of(&[b"1234\r", b"\n"], 4).0, vec![b"1234".to_vec()]);
        // Lines before the long one were delivered.
        let (lines, _, err) = lines_of(&[b"ok\n123456789"], 4);
        assert!(err);
        assert_eq!(lines, vec![b"ok".to_vec()]);
    }

    #[test]
    fn stop_after_quit() {
        let mut partial = Vec::new();
        let mut seen = vec![];
        let r = split_lines(&mut partial, b"a\nquit\nb\n", 10, |l| {
            seen.push(l.to_vec());
            if l == b"quit" {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(r, Ok(ControlFlow::Break(())));
        assert_eq!(seen, vec![b"a".to_vec(), b"quit".to_vec()]);
    }

    #[test]
    fn sanitize_strips_what_terminals_obey() {
        assert_eq!(sanitize(b"hi"), "hi");
        assert_eq!(sanitize(b"  padded \t"), "padded");
        assert_eq!(sanitize(b"a\0b"), "ab");
        assert_eq!(sanitize(b"\x1b[31mred\x1b[0m"), "red");
        assert_eq!(sanitize(b"\x1b]0;pwned\x07title"), "title");
        assert_eq!(sanitize(b"\x1b]0;pwned\x1b\\title"), "title");
        assert_eq!(sanitize(b"bell\x07 del\x7f"), "bell del");
        assert_eq!(sanitize(b"bad \xff utf8"), "bad \u{fffd} utf8");
        assert_eq!(sanitize("C1\u{9b}31m".as_bytes()), "C131m");
        assert_eq!(sanitize("<b>html</b> stays text".as_bytes()), "<b>html</b> stays text");
        assert_eq!(sanitize("中文 ok".as_bytes()), "中文 ok");
    }

    proptest! {
        /// However TCP cuts a stream, the lines are the same.
        #[test]
        fn any_split_yields_the_same_lines(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), any::<u8>()], 0..400),
            cuts in proptest::collection::vec(0usize..400, 0..20),
        ) {
            let (whole, whole_rest, whole_err) = lines_of(&[&data], 64);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut chunks: Vec<&[u8]> = vec![];
            let mut prev = 0;
            for c in cuts {
                chunks.push(&data[prev..c]);
                prev = c;
            }
            chunks.push(&data[prev..]);
            let (split, split_rest, split_err) = lines_of(&chunks, 64);
            prop_assert_eq!(&split, &whole);
            prop_assert_eq!(split_err, whole_err);
            if !whole_err {
                prop_assert_eq!(split_rest, whole_rest);
            }
        }

        #[test]
        fn sanitized_text_has_no_controls(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let s = sanitize(&data);
            let forbidden = ['\n', '\r', '\0', '\u{1b}'];
            prop_assert!(!s.contains(forbidden), "{:?}", s);
            prop_assert!(s.chars().all(|c| !c.is_control()));
        }
    }
}
