//! Watchers on `/ws/events`: joining in batches, a third of them stalled (a 4 KiB receive
//! buffer, never read), each leaving after a while, always under `--max-watchers`.

use super::{bump, drain, BATCH, BATCH_EVERY, IO_TIMEOUT, STALLED_RCVBUF, WATCHERS_HELD, WATCHER_SWEEP};
use crate::Result;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Default)]
pub(super) struct WatchCounts {
    opened: AtomicU64,
    stalled: AtomicU64,
    refused: AtomicU64,
    closed_by_server: AtomicU64,
    bytes_read: AtomicU64,
}

struct Watcher {
    sock: TcpStream,
    stalled: bool,
    leave_at: Instant,
    /// The server closed it (seen only by a reading watcher).
    gone: bool,
}

/// A raw WebSocket client on /ws/events: the upgrade by hand, the response head read. A stalled
/// one has a small receive buffer and is never read again.
fn open_watcher(web: SocketAddr, stalled: bool) -> io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    if stalled {
        sock.set_recv_buffer_size(STALLED_RCVBUF)?;
    }
    sock.connect_timeout(&web.into(), IO_TIMEOUT)?;
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    write!(
        s,
        "GET /ws/events HTTP/1.1\r\nHost: {web}\r\nOrigin: http://{web}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: c29hay13YXRjaGVyLWtleQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )?;
    let mut head = Vec::new();
    let mut b = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut b)?;
        if n == 0 || head.len() > 8192 {
            return Err(io::Error::other("no response head"));
        }
        head.extend_from_slice(&b[..n]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        let first = String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string();
        return Err(io::Error::other(format!("not upgraded: {first}")));
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Watchers joining in batches, a third stalled, each leaving after 10-40 s.
pub(super) fn watchers(web: SocketAddr, stop: &AtomicBool, counts: &WatchCounts) -> Result<String> {
    let mut held: Vec<Watcher> = vec![];
    let mut buf = vec![0u8; 64 << 10];
    let mut next_batch = Instant::now();
    let (mut batch, mut peak, mut last_err) = (0u64, 0usize, None::<String>);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_batch {
            for j in 0..BATCH {
                if held.len() >= WATCHERS_HELD || stop.load(Ordering::Relaxed) {
                    break;
                }
                let stalled = j % 3 == 0;
                match open_watcher(web, stalled) {
                    Ok(sock) => {
                        bump(&counts.opened, 1);
                        if stalled {
                            bump(&counts.stalled, 1);
                        }
                        // 10-40 s; a stalled one at least 20 s, so the server's 10 s send
                        // timeout is what ends it, not us.
                        let secs = 10 + (j as u64 * 7 + batch * 3) % 31;
                        let secs = if stalled { secs.max(20) } else { secs };
                        held.push(Watcher { sock, stalled, leave_at: Instant::now() + Duration::from_secs(secs), gone: false });
                    }
                    Err(e) => {
                        bump(&counts.refused, 1);
                        last_err = Some(e.to_string());
                    }
                }
            }
            peak = peak.max(held.len());
            batch += 1;
            next_batch = now + BATCH_EVERY;
        }
        for w in held.iter_mut().filter(|w| !w.stalled && !w.gone) {
            if !drain(&w.sock, &mut buf, &counts.bytes_read) {
                w.gone = true;
                bump(&counts.closed_by_server, 1);
            }
        }
        // Those whose time is up leave: half of the readers with a close frame, the rest by
        // dropping the connection (a reset for the other half of the readers).
        let now = Instant::now();
        let mut k = 0u64;
        held.retain(|w| {
            if now < w.leave_at && !w.gone {
                return true;
            }
            k += 1;
            if !w.stalled && !w.gone {
                if k % 2 == 1 {
                    // FIN, masked (key 0), 2-byte payload: code 1000.
                    let _ = (&w.sock).write(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8]);
                } else {
                    let _ = socket2::SockRef::from(&w.sock).set_linger(Some(Duration::ZERO));
                }
            }
            false
        });
        std::thread::sleep(WATCHER_SWEEP);
    }
    let at_end = held.len();
    drop(held);
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Ok(format!(
        "{} watchers opened in {batch} batches ({} stalled), at most {peak} held at once, {at_end} at the end; \
         {:.1} MB read by the reading ones; {} readers closed by the server; {} refused or failed{}",
        c(&counts.opened),
        c(&counts.stalled),
        c(&counts.bytes_read) as f64 / 1e6,
        c(&counts.closed_by_server),
        c(&counts.refused),
        last_err.map(|e| format!(" (last: {e})")).unwrap_or_default()
    ))
}
