//! The relay's side of RESP3, on the `redis-protocol` crate (sans-IO: bytes in, frames out).
//! One connection does everything: after `HELLO 3` a subscribed connection may still publish,
//! and the messages it is subscribed to arrive as push frames beside the replies.

use redis_protocol::resp3::decode::complete::decode;
use redis_protocol::resp3::encode::complete::encode_borrowed;
use redis_protocol::resp3::types::{BorrowedFrame, OwnedFrame};

/// A frame from Redis, as the relay sees it.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// The answer to `HELLO 3` (a map of server facts).
    Hello,
    /// A `subscribe` confirmation for one channel.
    Subscribed(Vec<u8>),
    /// A message published on a channel this connection subscribed to.
    Message { channel: Vec<u8>, payload: Vec<u8> },
    /// `PUBLISH`'s answer: how many subscribers got it.
    Published(i64),
    /// An error reply (`-ERR …`, `-NOPROTO …`).
    Error(String),
    /// Anything else (ignored).
    Other,
}

/// Appends one command (an array of bulk strings) to `out`.
pub fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let parts: Vec<BorrowedFrame> = args.iter().map(|a| BorrowedFrame::BlobString { data: a, attributes: None }).collect();
    let frame = BorrowedFrame::Array { data: &parts, attributes: None };
    let at = out.len();
    out.resize(at + frame.encode_len(false), 0);
    let n = encode_borrowed(&mut out[at..], &frame, false).expect("sized by encode_len");
    out.truncate(at + n);
}

/// The next whole frame at the front of `buf` and its length; `None` until one is whole.
pub fn next(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let Some((frame, used)) = decode(buf).map_err(|e| format!("bad RESP from Redis: {e:?}"))? else { return Ok(None) };
    Ok(Some((reply(frame), used)))
}

fn reply(frame: OwnedFrame) -> Reply {
    match frame {
        OwnedFrame::Map { .. } => Reply::Hello,
        OwnedFrame::Number { data, .. } => Reply::Published(data),
        OwnedFrame::SimpleError { data, .. } => Reply::Error(data),
        OwnedFrame::BlobError { data, .. } => Reply::Error(String::from_utf8_lossy(&data).into_owned()),
        OwnedFrame::Push { data, .. } => push(data),
        _ => Reply::Other,
    }
}

fn push(mut data: Vec<OwnedFrame>) -> Reply {
    let text = |f: &OwnedFrame| match f {
        OwnedFrame::BlobString { data, .. } | OwnedFrame::SimpleString { data, .. } => Some(data.clone()),
        _ => None,
    };
    match data.first().and_then(text).as_deref() {
        Some(b"message") if data.len() == 3 => {
            let payload = text(&data[2]).unwrap_or_default();
            let channel = text(&data[1]).unwrap_or_default();
            data.clear();
            Reply::Message { channel, payload }
        }
        Some(b"subscribe") if data.len() >= 2 => Reply::Subscribed(text(&data[1]).unwrap_or_default()),
        _ => Reply::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        command(&mut out, &[b"PUBLISH", b"room", b"a b\r\n"]);
        assert_eq!(out, b"*3\r\n$7\r\nPUBLISH\r\n$4\r\nroom\r\n$5\r\na b\r\n\r\n");
    }

    #[test]
    fn frames_are_read_whole_and_one_at_a_time() {
        let wire = b">3\r\n$9\r\nsubscribe\r\n$4\r\nroom\r\n:1\r\n>3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$2\r\nhi\r\n:2\r\n-ERR no\r\n";
        let mut at = 0;
        let mut got = Vec::new();
        while let Some((r, n)) = next(&wire[at..]).unwrap() {
            got.push(r);
            at += n;
        }
        assert_eq!(at, wire.len());
        assert_eq!(
            got,
            vec![
                Reply::Subscribed(b"room".to_vec()),
                Reply::Message { channel: b"room".to_vec(), payload: b"hi".to_vec() },
                Reply::Published(2),
                Reply::Error("ERR no".into()),
            ]
        );
        // Cut anywhere, a frame is not read until it is whole.
        for cut in 0..wire.len() {
            let mut at = 0;
            while let Some((_, n)) = next(&wire[at..cut]).unwrap() {
                at += n;
            }
            assert!(at <= cut);
        }
        assert!(next(b"?garbage\r\n").is_err());
    }
}
