//! `muxscope bench`: load generators that measure any chat-like server at an address, so one run
//! can compare muxscope, the seed's Python server, Redis pub/sub, NATS and the kernel floor.
//!
//! Protocols: `line` (muxscope, the seed: a line in, a line out to everyone), `redis`
//! (SUBSCRIBE / PUBLISH) and `nats` (SUB / PUB, NATS's text protocol). Every load loop is
//! bounded in count and time and targets loopback only.
//!
//! One file per scenario: [`fanout`] (and the kernel [`floor`]), [`blast`], [`connect`] (connects
//! and RSS per idle client), [`load`] (a busy room and the soak's churn), [`models`] (every IO
//! model on the same connections, switched live); the receivers and the protocol they share are
//! here.

mod blast;
mod connect;
mod fanout;
mod load;
pub mod models;

pub use blast::{blast, BlastResult};
pub use connect::{connect, rss_of, ConnectResult};
pub use fanout::{fanout, floor, FanoutResult};
pub use load::{chat_load, churn, ChatLoadResult, ChurnResult};

use crate::selector::Selector;
use crate::telemetry::Telemetry;
use muxscope_shared::{Interest, Model, Role};
use serde::Serialize;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    /// A line in, `[name] line` out to every client (muxscope, the seed's chat_server.py).
    Line,
    /// Redis pub/sub: receivers SUBSCRIBE, senders PUBLISH.
    Redis,
    /// NATS: everyone says CONNECT (not verbose, so no `+OK` per message), receivers SUB,
    /// senders PUB.
    Nats,
}

/// What a NATS client says first: without it the server acknowledges every message (`+OK`).
macro_rules! nats_connect {
    () => {
        "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n"
    };
}

const CHANNEL: &str = "bench";
/// The 64-byte message: what every scenario sends.
pub const PAYLOAD_LEN: usize = 64;
/// Nothing a scenario waits for may take longer than this.
const DEADLINE: Duration = Duration::from_secs(120);

fn payload(tag: u64) -> String {
    let head = format!("m{tag}-");
    format!("{head}{}", "x".repeat(PAYLOAD_LEN - head.len()))
}

impl Proto {
    /// One message as a sender writes it.
    fn message(self, tag: u64) -> String {
        match self {
            Proto::Line => format!("{}\n", payload(tag)),
            Proto::Redis => format!("PUBLISH {CHANNEL} {}\r\n", payload(tag)),
            Proto::Nats => format!("PUB {CHANNEL} {PAYLOAD_LEN}\r\n{}\r\n", payload(tag)),
        }
    }
    /// LFs a receiver sees per delivered message.
    fn lf_per_message(self) -> u64 {
        match self {
            Proto::Line => 1,
            // *3 / $7 / message / $5 / bench / $64 / payload
            Proto::Redis => 7,
            // MSG bench 1 64 / payload
            Proto::Nats => 2,
        }
    }
    /// What a receiver sends right after connecting, and how many LFs prove the server took it.
    fn hello(self) -> (&'static [u8], u64) {
        match self {
            Proto::Line => (b"", 0),
            // *3 / $9 / subscribe / $5 / bench / :1
            Proto::Redis => (b"SUBSCRIBE bench\r\n", 6),
            // The server's INFO, then the PONG: it comes after the SUB is in place.
            Proto::Nats => (concat!(nats_connect!(), "SUB bench 1\r\nPING\r\n").as_bytes(), 2),
        }
    }

    /// A sender's connection, ready for [`Proto::message`]s.
    fn sender(self, target: SocketAddr) -> io::Result<TcpStream> {
        let mut s = TcpStream::connect(target)?;
        s.set_nodelay(true)?;
        if self == Proto::Nats {
            s.write_all(nats_connect!().as_bytes())?;
        }
        Ok(s)
    }
}

#[derive(Debug, Serialize)]
pub struct Stats {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub min_ms: f64,
    pub rounds: usize,
}

pub fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| ms(samples[((samples.len() as f64 - 1.0) * q).round() as usize]);
    Stats { p50_ms: at(0.5), p95_ms: at(0.95), min_ms: ms(samples[0]), rounds: samples.len() }
}

/// Receivers, all in one epoll, counting LFs per socket.
struct Receivers {
    socks: Vec<TcpStream>,
    lfs: Vec<u64>,
    sel: Selector,
    buf: Vec<u8>,
}

/// Where the `i`th client (or sender) goes when a scenario spreads them over several servers
/// (nodes of one cluster): round-robin, so the first goes to the first target.
pub fn spread(targets: &[SocketAddr], i: usize) -> SocketAddr {
    targets[i % targets.len()]
}

impl Receivers {
    fn connect(target: SocketAddr, n: usize, proto: Proto) -> io::Result<Receivers> {
        Receivers::connect_spread(&[target], n, proto)
    }

    /// `n` receivers spread round-robin over `targets` ([`spread`]).
    fn connect_spread(targets: &[SocketAddr], n: usize, proto: Proto) -> io::Result<Receivers> {
        let mut socks = Vec::with_capacity(n);
        let (hello, _) = proto.hello();
        for i in 0..n {
            let s = TcpStream::connect(spread(targets, i))?;
            s.set_nodelay(true)?;
            if !hello.is_empty() {
                (&s).write_all(hello)?;
            }
            s.set_nonblocking(true)?;
            socks.push(s);
        }
        let mut sel = Selector::new(Model::Epoll, Telemetry::disabled())?;
        for s in &socks {
            sel.register(s.as_raw_fd(), Interest::Read, Role::Tcp).map_err(io::Error::from)?;
        }
        Ok(Receivers { lfs: vec![0; socks.len()], socks, sel, buf: vec![0; 256 << 10] })
    }

    fn index(&self) -> Vec<usize> {
        // fd → receiver index
        let max = self.socks.iter().map(|s| s.as_raw_fd()).max().unwrap_or(0) as usize;
        let mut idx = vec![usize::MAX; max + 1];
        for (i, s) in self.socks.iter().enumerate() {
            idx[s.as_raw_fd() as usize] = i;
        }
        idx
    }

    /// Reads until every receiver has seen at least `want` LFs in total.
    fn wait_all(&mut self, want: u64, idx: &[usize]) -> io::Result<()> {
        let mut behind = self.lfs.iter().filter(|&&n| n < want).count();
        let deadline = Instant::now() + DEADLINE;
        while behind > 0 {
            if Instant::now() > deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, format!("{behind} receivers never got the message")));
            }
            let info = self.sel.select(Some(Duration::from_millis(500)))?;
            for i in 0..info.ready {
                let Some((key, _)) = self.sel.ready_at(i) else { continue };
                let r = idx[key.fd as usize];
                let n = read_lfs(key.fd, &mut self.buf)?;
                let before = self.lfs[r];
                self.lfs[r] += n;
                if before < want && self.lfs[r] >= want {
                    behind -= 1;
                }
            }
        }
        Ok(())
    }
}

/// Drains what is readable on `fd` now; returns the LFs seen. EOF is an error: a receiver was cut.
fn read_lfs(fd: RawFd, buf: &mut [u8]) -> io::Result<u64> {
    let mut lfs = 0;
    loop {
        match crate::sys::recv(fd, buf) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed a receiver")),
            Ok(n) => {
                lfs += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
                if n < buf.len() {
                    return Ok(lfs);
                }
            }
            Err(e) if crate::sys::is_would_block(&e) => return Ok(lfs),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A blast sender: writes `chunk` (256 messages) again and again until `stop`, counting the
/// messages the kernel took in `sent`. A write the server is too slow to take within 200 ms is
/// retried (the stop flag is checked between tries); any other failure ends it.
fn blast_writes(sock: &TcpStream, chunk: &[u8], stop: &AtomicBool, sent: &AtomicU64) {
    let _ = sock.set_write_timeout(Some(Duration::from_millis(200)));
    let mut w = sock;
    while !stop.load(Ordering::Relaxed) {
        match w.write_all(chunk) {
            Ok(()) => {
                sent.fetch_add(256, Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
}

fn set_reset_on_close(s: &TcpStream) {
    // Close with RST: ten thousand TIME_WAIT sockets per run would eat the ephemeral ports.
    let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
}

/// Makes sure every receiver is registered: the server answered its hello, and (line protocol)
/// one broadcast from `sender` reached all of them. Returns the LFs each receiver has seen.
fn barrier(rx: &mut Receivers, sender: &mut TcpStream, proto: Proto, idx: &[usize]) -> io::Result<u64> {
    let (_, hello_lfs) = proto.hello();
    match proto {
        Proto::Redis | Proto::Nats => {
            rx.wait_all(hello_lfs, idx)?;
            Ok(hello_lfs)
        }
        Proto::Line => {
            sender.write_all(proto.message(0).as_bytes())?;
            rx.wait_all(1, idx)?;
            Ok(1)
        }
    }
}

/// Keeps reading a sender's socket in the background so broadcasts back to it never pile up.
fn drain_in_background(s: &TcpStream, stop: Arc<AtomicBool>) -> io::Result<std::thread::JoinHandle<()>> {
    let mut r = s.try_clone()?;
    r.set_read_timeout(Some(Duration::from_millis(100)))?;
    Ok(std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        while !stop.load(Ordering::Relaxed) {
            match r.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
        }
    }))
}

/// Ends a scenario: stops the sender's drain thread and closes every socket with a reset.
fn hang_up(rx: Receivers, sender: TcpStream, stop: &AtomicBool, drain: std::thread::JoinHandle<()>) {
    stop.store(true, Ordering::Relaxed);
    for s in rx.socks.iter().chain(std::iter::once(&sender)) {
        set_reset_on_close(s);
    }
    drop(rx);
    drop(sender);
    let _ = drain.join();
}

#[cfg(test)]
mod tests {
    use super::spread;
    use std::net::SocketAddr;

    #[test]
    fn bench_spreads_clients_round_robin_over_targets() {
        let t: Vec<SocketAddr> = (0..3).map(|i| SocketAddr::from(([127, 0, 0, 1], 5000 + i))).collect();
        // 10 clients over 3 nodes: 4, 3, 3, the first on the first node.
        let mut per = [0; 3];
        for i in 0..10 {
            per[(spread(&t, i).port() - 5000) as usize] += 1;
        }
        assert_eq!(per, [4, 3, 3]);
        assert_eq!(spread(&t, 0), t[0]);
        // 4 senders over 3 nodes: the 4th joins the first again.
        assert_eq!((0..4).map(|s| spread(&t, s).port()).collect::<Vec<_>>(), [5000, 5001, 5002, 5000]);
        // One target: everything on it, as before.
        assert!((0..5).all(|i| spread(&t[..1], i) == t[0]));
    }
}
