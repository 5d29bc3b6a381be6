//! `muxscope bench`: load generators that measure any chat-like server at an address, so one run
//! can compare muxscope, the seed's Python server, Redis pub/sub and the kernel floor.
//!
//! Protocols: `line` (muxscope, the seed: a line in, a line out to everyone) and `redis`
//! (SUBSCRIBE / PUBLISH). Every load loop is bounded in count and time and targets loopback only.

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
        }
    }
    /// LFs a receiver sees per delivered message.
    fn lf_per_message(self) -> u64 {
        match self {
            Proto::Line => 1,
            // *3 / $7 / message / $5 / bench / $64 / payload
            Proto::Redis => 7,
        }
    }
    /// What a receiver sends right after connecting, and how many LFs prove the server took it.
    fn hello(self) -> (&'static [u8], u64) {
        match self {
            Proto::Line => (b"", 0),
            // *3 / $9 / subscribe / $5 / bench / :1
            Proto::Redis => (b"SUBSCRIBE bench\r\n", 6),
        }
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

impl Receivers {
    fn connect(target: SocketAddr, n: usize, proto: Proto) -> io::Result<Receivers> {
        let mut socks = Vec::with_capacity(n);
        let (hello, _) = proto.hello();
        for _ in 0..n {
            let s = TcpStream::connect(target)?;
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

fn set_reset_on_close(s: &TcpStream) {
    // Close with RST: ten thousand TIME_WAIT sockets per run would eat the ephemeral ports.
    let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
}

/// Makes sure every receiver is registered: the server answered its hello, and (line protocol)
/// one broadcast from `sender` reached all of them. Returns the LFs each receiver has seen.
fn barrier(rx: &mut Receivers, sender: &mut TcpStream, proto: Proto, idx: &[usize]) -> io::Result<u64> {
    let (_, hello_lfs) = proto.hello();
    match proto {
        Proto::Redis => {
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

#[derive(Debug, Serialize)]
pub struct FanoutResult {
    pub clients: usize,
    #[serde(flatten)]
    pub stats: Stats,
}

/// (a) One 64 B message to N idle clients: time until the last one has it, over `rounds` rounds.
pub fn fanout(target: SocketAddr, proto: Proto, clients: usize, rounds: usize) -> io::Result<FanoutResult> {
    let mut rx = Receivers::connect(target, clients, proto)?;
    let mut sender = TcpStream::connect(target)?;
    sender.set_nodelay(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let drain = drain_in_background(&sender, stop.clone())?;
    let idx = rx.index();
    let mut seen = barrier(&mut rx, &mut sender, proto, &idx)?;
    let mut samples = Vec::with_capacity(rounds);
    for r in 0..rounds {
        // Let the previous round's echoes settle.
        std::thread::sleep(Duration::from_millis(20));
        let msg = proto.message(r as u64 + 1);
        let t0 = Instant::now();
        sender.write_all(msg.as_bytes())?;
        seen += proto.lf_per_message();
        rx.wait_all(seen, &idx)?;
        samples.push(t0.elapsed());
    }
    hang_up(rx, sender, &stop, drain);
    Ok(FanoutResult { clients, stats: stats(samples) })
}

/// The kernel floor for (a): one process writes the message to N loopback sockets and reads it
/// back, with no server logic at all.
pub fn floor(clients: usize, rounds: usize) -> io::Result<FanoutResult> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut pairs = Vec::with_capacity(clients);
    for _ in 0..clients {
        let c = TcpStream::connect(addr)?;
        let (s, _) = listener.accept()?;
        c.set_nodelay(true)?;
        s.set_nodelay(true)?;
        pairs.push((s, c));
    }
    let msg = format!("[127.0.0.1:40000] {}\n", payload(0));
    let mut buf = vec![0u8; 4096];
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        std::thread::sleep(Duration::from_millis(20));
        let t0 = Instant::now();
        for (s, _) in &pairs {
            crate::sys::send(s.as_raw_fd(), msg.as_bytes())?;
        }
        for (_, c) in &mut pairs {
            let mut got = 0;
            while got < msg.len() {
                got += c.read(&mut buf[..msg.len() - got])?;
            }
        }
        samples.push(t0.elapsed());
    }
    for (s, c) in &pairs {
        set_reset_on_close(s);
        set_reset_on_close(c);
    }
    Ok(FanoutResult { clients, stats: stats(samples) })
}

#[derive(Debug, Serialize)]
pub struct BlastResult {
    pub clients: usize,
    pub senders: usize,
    pub seconds: f64,
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    pub sent_messages: u64,
    /// Receivers the server cut during the run (slow-consumer limits).
    pub receivers_cut: usize,
}

/// (b) `clients` receivers, `senders` senders writing 64 B lines as fast as the server takes
/// them, for `seconds` after a one-second warm-up: deliveries per second at the receivers.
pub fn blast(target: SocketAddr, proto: Proto, clients: usize, senders: usize, seconds: f64) -> io::Result<BlastResult> {
    let mut rx = Receivers::connect(target, clients, proto)?;
    let idx = rx.index();
    let mut first = TcpStream::connect(target)?;
    let stop = Arc::new(AtomicBool::new(false));
    let drain0 = drain_in_background(&first, stop.clone())?;
    let base = barrier(&mut rx, &mut first, proto, &idx)?;
    let _ = base;
    let sent = Arc::new(AtomicU64::new(0));
    let mut threads = vec![];
    for s in 0..senders {
        let sock = if s == 0 { first.try_clone()? } else { TcpStream::connect(target)? };
        sock.set_nodelay(true)?;
        let drain = if s == 0 { None } else { Some(drain_in_background(&sock, stop.clone())?) };
        let (stop, sent) = (stop.clone(), sent.clone());
        threads.push(std::thread::spawn(move || {
            // Many messages per write: the server sees a stream, as from a real fast client.
            let mut chunk = String::new();
            for i in 0..256 {
                chunk.push_str(&proto.message(i));
            }
            let mut w = &sock;
            let _ = sock.set_write_timeout(Some(Duration::from_millis(200)));
            while !stop.load(Ordering::Relaxed) {
                match w.write_all(chunk.as_bytes()) {
                    Ok(()) => {
                        sent.fetch_add(256, Ordering::Relaxed);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {}
                    Err(_) => break,
                }
            }
            set_reset_on_close(&sock);
            if let Some(d) = drain {
                let _ = d.join();
            }
        }));
    }
    let warmup = Duration::from_secs(1);
    let window = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut counted = 0u64;
    let mut measuring = false;
    let mut t_measure = start;
    let mut cut = vec![false; clients];
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let now = Instant::now();
        if !measuring && now >= start + warmup {
            measuring = true;
            t_measure = now;
        }
        if measuring && now >= t_measure + window {
            break;
        }
        let info = rx.sel.select(Some(Duration::from_millis(50)))?;
        for i in 0..info.ready {
            let Some((key, _)) = rx.sel.ready_at(i) else { continue };
            let r = idx[key.fd as usize];
            match read_lfs(key.fd, &mut buf) {
                Ok(n) => {
                    if measuring {
                        counted += n;
                    }
                }
                Err(_) => {
                    cut[r] = true;
                    let _ = rx.sel.unregister(key.fd);
                }
            }
        }
    }
    let elapsed = t_measure.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let _ = drain0.join();
    for s in &rx.socks {
        set_reset_on_close(s);
    }
    let deliveries = counted / proto.lf_per_message();
    Ok(BlastResult {
        clients,
        senders,
        seconds: elapsed,
        deliveries,
        deliveries_per_sec: deliveries as f64 / elapsed,
        sent_messages: sent.load(Ordering::Relaxed),
        receivers_cut: cut.iter().filter(|&&c| c).count(),
    })
}

#[derive(Debug, Serialize)]
pub struct ConnectResult {
    pub clients: usize,
    /// From the first connect until the server has served every client once.
    pub seconds: f64,
    pub connects_per_sec: f64,
    /// Server RSS growth per idle client, when the server's pid was given.
    pub rss_per_client_bytes: Option<f64>,
    pub rss_before_bytes: Option<u64>,
    pub rss_after_bytes: Option<u64>,
}

pub fn rss_of(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| io::Error::other("no VmRSS"))?;
    Ok(kb * 1024)
}

/// (c) `clients` connections made one after another, then proof that the server serves them all
/// (line: one broadcast reaches every one; redis: every SUBSCRIBE was confirmed).
/// (d) With `pid`, the server's RSS growth per idle client, measured after the barrier.
pub fn connect(target: SocketAddr, proto: Proto, clients: usize, pid: Option<u32>) -> io::Result<ConnectResult> {
    let rss_before = pid.map(rss_of).transpose()?;
    let t0 = Instant::now();
    let mut rx = Receivers::connect(target, clients, proto)?;
    let idx = rx.index();
    let mut sender = TcpStream::connect(target)?;
    let stop = Arc::new(AtomicBool::new(false));
    let drain = drain_in_background(&sender, stop.clone())?;
    barrier(&mut rx, &mut sender, proto, &idx)?;
    let seconds = t0.elapsed().as_secs_f64();
    // Let the allocator settle, then read RSS with every client connected and idle.
    std::thread::sleep(Duration::from_millis(300));
    let rss_after = pid.map(rss_of).transpose()?;
    hang_up(rx, sender, &stop, drain);
    let per_client = match (rss_before, rss_after) {
        (Some(b), Some(a)) => Some((a as f64 - b as f64) / clients as f64),
        _ => None,
    };
    Ok(ConnectResult {
        clients,
        seconds,
        connects_per_sec: clients as f64 / seconds,
        rss_per_client_bytes: per_client,
        rss_before_bytes: rss_before,
        rss_after_bytes: rss_after,
    })
}

#[derive(Debug, Serialize)]
pub struct ChatLoadResult {
    pub clients: usize,
    pub target_rate: f64,
    pub seconds: f64,
    pub sent: u64,
    pub received_lines: u64,
}

/// `clients` chat clients that together send `rate` lines a second for `seconds`, while one
/// thread reads everything they are sent (so none is cut as a slow consumer). A realistic busy
/// room, for watching the page under load.
pub fn chat_load(target: SocketAddr, clients: usize, rate: f64, seconds: f64) -> io::Result<ChatLoadResult> {
    let mut rx = Receivers::connect(target, clients, Proto::Line)?;
    let writers: Vec<TcpStream> = rx.socks.iter().map(|s| s.try_clone()).collect::<io::Result<_>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let sender = {
        let (stop, sent) = (stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Paced by the clock: line i is due at i / rate seconds.
                let due = Duration::from_secs_f64(i as f64 / rate);
                let now = t0.elapsed();
                if due > now {
                    std::thread::sleep((due - now).min(Duration::from_millis(5)));
                    continue;
                }
                let w = &writers[i as usize % writers.len()];
                let line = format!("message {i} from a busy room\n");
                match crate::sys::send(w.as_raw_fd(), line.as_bytes()) {
                    Ok(_) => {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) if crate::sys::is_would_block(&e) => {}
                    Err(_) => break,
                }
                i += 1;
            }
        })
    };
    let t0 = Instant::now();
    let mut buf = vec![0u8; 256 << 10];
    let mut lines = 0u64;
    while t0.elapsed() < Duration::from_secs_f64(seconds) {
        let info = rx.sel.select(Some(Duration::from_millis(50)))?;
        for i in 0..info.ready {
            let Some((key, _)) = rx.sel.ready_at(i) else { continue };
            match read_lfs(key.fd, &mut buf) {
                Ok(n) => lines += n,
                Err(_) => {
                    let _ = rx.sel.unregister(key.fd);
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sender.join();
    for s in &rx.socks {
        set_reset_on_close(s);
    }
    Ok(ChatLoadResult {
        clients,
        target_rate: rate,
        seconds: t0.elapsed().as_secs_f64(),
        sent: sent.load(Ordering::Relaxed),
        received_lines: lines,
    })
}

#[derive(Debug, Serialize)]
pub struct ChurnResult {
    pub seconds: f64,
    pub waves: u64,
    pub connections: u64,
    pub lines_sent: u64,
    pub lines_received: u64,
}

/// Soak load: waves of `clients` connections that join, chat, and leave — some with `quit`,
/// some with a reset, some by closing — for `seconds`.
pub fn churn(target: SocketAddr, clients: usize, seconds: f64) -> io::Result<ChurnResult> {
    let t0 = Instant::now();
    let (mut waves, mut conns, mut sent, mut got) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = vec![0u8; 64 << 10];
    while t0.elapsed() < Duration::from_secs_f64(seconds) {
        let mut socks = Vec::with_capacity(clients);
        for _ in 0..clients {
            let s = TcpStream::connect(target)?;
            s.set_read_timeout(Some(Duration::from_millis(200)))?;
            socks.push(s);
        }
        conns += clients as u64;
        // A few talk; everyone reads what arrives.
        for (i, s) in socks.iter().enumerate().step_by(50) {
            let mut w = s;
            w.write_all(format!("/nick churn{i}\nwave {waves} client {i}\n").as_bytes())?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
        for s in &socks {
            s.set_nonblocking(true)?;
            if let Ok(n) = (&*s).read(&mut buf) {
                got += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
            }
        }
        for (i, s) in socks.iter().enumerate() {
            match i % 3 {
                0 => {
                    let _ = (&*s).write_all(b"quit\n");
                }
                1 => set_reset_on_close(s),
                _ => {}
            }
        }
        drop(socks);
        waves += 1;
    }
    Ok(ChurnResult { seconds: t0.elapsed().as_secs_f64(), waves, connections: conns, lines_sent: sent, lines_received: got })
}
