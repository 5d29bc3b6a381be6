//! The watchers' WebSocket, written by hand for one reason: memory. A watcher is sent shared
//! frames (the same bytes for every watcher); a general WebSocket library copies each message
//! into a per-connection buffer that keeps its largest size for good (80 KB after a snapshot of
//! a thousand fds), so two thousand watchers held hundreds of MB. Here a message is a header
//! of at most 10 bytes written in front of the shared bytes, with nothing kept afterwards.
//!
//! Server to page: unfragmented, unmasked text frames, and a close frame. Page to server
//! (RFC 6455 §5): masked frames of at most `max` bytes; text messages go up to the session,
//! pings are answered, a close is answered and ends the stream, anything else (binary,
//! fragments, reserved bits, oversize) closes it with the code the RFC gives and a reason.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, Response, StatusCode};
use bytes::{Buf, Bytes};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

/// Checks an upgrade request (RFC 6455 §4.2.1) and answers it: the 101 to send, and the
/// connection once hyper hands it over. A request that is not a WebSocket upgrade gets 400.
pub fn accept(mut req: Request<Body>) -> Result<(Response<Body>, hyper::upgrade::OnUpgrade), Box<Response<Body>>> {
    let bad = |why: &str| {
        Box::new(Response::builder().status(StatusCode::BAD_REQUEST).body(Body::from(format!("{why}\n"))).expect("static response"))
    };
    let h = req.headers();
    let has = |h: &HeaderMap, name: header::HeaderName, token: &str| {
        h.get_all(name).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has(h, header::UPGRADE, "websocket") || !has(h, header::CONNECTION, "upgrade") {
        return Err(bad("expected a WebSocket upgrade"));
    }
    if h.get(header::SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
        return Err(bad("WebSocket version 13 only"));
    }
    let Some(key) = h.get(header::SEC_WEBSOCKET_KEY) else { return Err(bad("no Sec-WebSocket-Key")) };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return Err(bad("this connection cannot be upgraded"));
    };
    let resp = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .expect("valid headers");
    Ok((resp, on_upgrade))
}

/// A frame header for a payload of `len` bytes (FIN set, no mask).
fn header(opcode: u8, len: usize) -> ([u8; 10], usize) {
    let mut h = [0u8; 10];
    h[0] = 0x80 | opcode;
    let n = if len < 126 {
        h[1] = len as u8;
        2
    } else if len <= u16::MAX as usize {
        h[1] = 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    (h, n)
}

/// Writes one text message: its header, then the shared bytes themselves (vectored).
pub async fn send_text<W: AsyncWrite + Unpin>(w: &mut W, payload: Bytes) -> std::io::Result<()> {
    let (h, n) = header(0x1, payload.len());
    let mut buf = Bytes::copy_from_slice(&h[..n]).chain(payload);
    w.write_all_buf(&mut buf).await?;
    w.flush().await
}

async fn send_control<W: AsyncWrite + Unpin>(w: &mut W, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
    let (h, n) = header(opcode, payload.len());
    let mut frame = h[..n].to_vec();
    frame.extend_from_slice(payload);
    w.write_all(&frame).await?;
    w.flush().await
}

/// A close frame with `code` and `reason` (cut to fit a control frame's 125 bytes).
pub async fn send_close<W: AsyncWrite + Unpin>(w: &mut W, code: u16, reason: &str) -> std::io::Result<()> {
    let mut payload = code.to_be_bytes().to_vec();
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    send_control(w, 0x8, &payload).await
}

pub async fn send_pong<W: AsyncWrite + Unpin>(w: &mut W, payload: &[u8]) -> std::io::Result<()> {
    send_control(w, 0xA, payload).await
}

/// What the page sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Text(Vec<u8>),
    Ping(Vec<u8>),
    /// An unasked pong: nothing to do.
    Pong,
    /// The page closed (its close frame was read); answer it and stop.
    Close,
    /// A frame this endpoint does not take: close with this code and reason.
    Refused(u16, &'static str),
}

/// Reads one frame from the page. `Err` when the connection ended.
pub async fn read<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Incoming> {
    let mut h = [0u8; 2];
    r.read_exact(&mut h).await?;
    let (fin, rsv, opcode, masked) = (h[0] & 0x80 != 0, h[0] & 0x70, h[0] & 0x0F, h[1] & 0x80 != 0);
    let len = match h[1] & 0x7F {
        126 => r.read_u16().await? as u64,
        127 => r.read_u64().await?,
        n => n as u64,
    };
    if rsv != 0 || !masked {
        return Ok(Incoming::Refused(1002, "protocol error: reserved bits set or frame not masked"));
    }
    if len > max as u64 {
        return Ok(Incoming::Refused(1009, "message too big"));
    }
    let mut mask = [0u8; 4];
    r.read_exact(&mut mask).await?;
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await?;
    payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= mask[i % 4]);
    Ok(match (opcode, fin) {
        (0x1, true) => Incoming::Text(payload),
        (0x8, _) => Incoming::Close,
        (0x9, true) if len <= 125 => Incoming::Ping(payload),
        (0xA, true) if len <= 125 => Incoming::Pong,
        (0x2, _) => Incoming::Refused(1003, "binary messages are not taken here"),
        (0x0 | 0x1, _) => Incoming::Refused(1003, "fragmented messages are not taken here"),
        _ => Incoming::Refused(1002, "protocol error: unknown or malformed frame"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(opcode_byte: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut f = vec![opcode_byte, 0x80 | payload.len() as u8];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    #[tokio::test]
    async fn frames_from_a_page_are_read_or_refused_with_the_rfcs_code() {
        let text = masked(0x81, br#"{"type":"pace","still":true}"#);
        assert_eq!(read(&mut &text[..], 1024).await.unwrap(), Incoming::Text(br#"{"type":"pace","still":true}"#.to_vec()));
        assert_eq!(read(&mut &masked(0x89, b"hi")[..], 1024).await.unwrap(), Incoming::Ping(b"hi".to_vec()));
        assert_eq!(read(&mut &masked(0x88, &[3, 232])[..], 1024).await.unwrap(), Incoming::Close);
        assert!(matches!(read(&mut &masked(0x82, b"x")[..], 1024).await.unwrap(), Incoming::Refused(1003, _)));
        assert!(matches!(read(&mut &masked(0x01, b"x")[..], 1024).await.unwrap(), Incoming::Refused(1003, _)));
        assert!(matches!(read(&mut &masked(0xC1, b"x")[..], 1024).await.unwrap(), Incoming::Refused(1002, _)), "RSV1 without an extension");
        assert!(matches!(read(&mut &[0x81u8, 0x01, b'x'][..], 1024).await.unwrap(), Incoming::Refused(1002, _)), "unmasked");
        assert!(matches!(read(&mut &masked(0x81, &[b'x'; 100])[..], 64).await.unwrap(), Incoming::Refused(1009, _)));
        assert!(read(&mut &text[..5], 1024).await.is_err(), "a connection that ends mid-frame");
    }

    #[tokio::test]
    async fn a_message_is_its_header_then_the_shared_bytes() {
        for len in [0usize, 125, 126, 65535, 65536] {
            let mut out = Vec::new();
            send_text(&mut out, Bytes::from(vec![b'a'; len])).await.unwrap();
            let head = match len {
                0..=125 => 2,
                126..=65535 => 4,
                _ => 10,
            };
            assert_eq!(out.len(), head + len);
            assert_eq!(out[0], 0x81);
        }
        let mut out = Vec::new();
        send_close(&mut out, 1013, &"é".repeat(100)).await.unwrap();
        assert_eq!(&out[..4], &[0x88, 124, 0x03, 0xF5], "cut to a control frame, on a char boundary");
    }
}
