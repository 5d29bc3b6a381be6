//! The bounds on watchers and fds, end to end: the real binary, real WebSockets, real TCP.
#![allow(clippy::await_holding_lock)]

mod common;
use common::ws::Ws;
use common::*;
use futures_util::StreamExt;
use muxscope_shared::ServerMsg;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// These tests load the machine (thousands of sockets): one at a time, so a round trip measured
/// by one is not another's load. (Each test has its own thread and runtime, so holding this
/// lock across an await blocks nothing but the other tests: `await_holding_lock` is allowed.)
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

async fn watcher(web: SocketAddr) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://{web}/ws/events")).await.expect("ws connect").0
}

/// The first text message, or the close frame that came instead.
async fn first(ws: &mut Ws) -> Result<ServerMsg, (CloseCode, String)> {
    loop {
        match tokio::time::timeout(TIMEOUT, ws.next()).await.expect("timed out").expect("stream ended").unwrap() {
            Message::Text(t) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
            Message::Close(Some(c)) => return Err((c.code, c.reason.to_string())),
            Message::Close(None) => panic!("closed without a reason"),
            _ => {}
        }
    }
}

fn get(web: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(web).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn stat(web: SocketAddr, key: &str) -> u64 {
    let body = get(web, "/api/stats");
    let json: serde_json::Value =
        serde_json::from_str(body.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap_or_else(|e| panic!("stats {e}: {body}"));
    json[key].as_u64().unwrap_or_else(|| panic!("no {key} in {json}"))
}

/// Watcher 257 at the default cap is turned away with 1013 and a reason; 256 watch; when one
/// leaves, a newcomer gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_over_the_cap_is_told_to_come_back_later() {
    let _one_at_a_time = serial();
    raise_fd_limit();
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let web = server.web.unwrap();
    let mut crowd = Vec::new();
    for i in 0..256 {
        let mut w = watcher(web).await;
        assert!(matches!(first(&mut w).await, Ok(ServerMsg::Snapshot(_))), "watcher {} got no snapshot", i + 1);
        crowd.push(w);
    }
    assert_eq!((stat(web, "watchers"), stat(web, "max_watchers")), (256, 256));
    let mut over = watcher(web).await;
    let (code, reason) = first(&mut over).await.expect_err("watcher 257 was let in");
    assert_eq!(code, CloseCode::Again, "1013, try again later");
    assert!(reason.contains("--max-watchers"), "{reason}");
    drop(crowd.pop());
    let t0 = Instant::now();
    while stat(web, "watchers") > 255 {
        assert!(t0.elapsed() < TIMEOUT, "a watcher that left is still counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut again = watcher(web).await;
    assert!(matches!(first(&mut again).await, Ok(ServerMsg::Snapshot(_))), "a free slot is taken again");
}

/// Half-sent requests fill the web port's budget: the web port stops accepting (its next
/// request waits in the kernel's backlog), and the chat port goes on as if nothing happened.
#[test]
fn half_sent_requests_cannot_take_the_chat_ports_fds() {
    let _one_at_a_time = serial();
    raise_fd_limit();
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0", "--max-web-connections", "40"]);
    let web = server.web.unwrap();
    assert_eq!(stat(web, "max_web_connections"), 40);
    let open_fds = || std::fs::read_dir(format!("/proc/{}/fd", server.pid())).unwrap().count();
    let before = open_fds();
    let hogs: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(web).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let taken = open_fds() - before;
    assert!(taken <= 40, "the web port took {taken} fds for 200 half-sent requests (budget 40)");
    // The chat port: clients join and chat.
    let mut clients: Vec<Client> = (0..50).map(|_| Client::connect(server.chat)).collect();
    clients[0].send("hello, despite the hogs\n");
    for c in clients.iter_mut() {
        assert!(c.line().ends_with("hello, despite the hogs"));
    }
    // The web port is busy, not dead: once the hogs go, it answers again.
    drop(hogs);
    assert!(get(web, "/api/stats").starts_with("HTTP/1.1 200"));
}

/// One address is held to `--max-clients-per-ip`; the client over it gets an error line and
/// EOF, and a client from another address still gets in.
#[test]
fn one_address_cannot_take_every_slot() {
    let _one_at_a_time = serial();
    let server = Server::start("epoll", &["--max-clients-per-ip", "3"]);
    let mut three: Vec<Client> = (0..3).map(|_| Client::connect(server.chat)).collect();
    let mut fourth = Client::connect(server.chat);
    let said = fourth.read_to_eof();
    assert!(said.contains("* error: too many connections from 127.0.0.1 (3, --max-clients-per-ip)"), "{said:?}");
    // Another loopback address.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&"127.0.0.2:0".parse::<SocketAddr>().unwrap().into()).unwrap();
    sock.connect(&server.chat.into()).unwrap();
    let mut other = Client::from_stream(sock.into());
    other.send("from another address\n");
    assert!(three[0].line().ends_with("from another address"));
    assert!(other.line().ends_with("from another address"));
    // A slot given back is free again.
    drop(three.pop());
    let t0 = Instant::now();
    loop {
        let mut again = Client::connect(server.chat);
        again.send("/who\n");
        let l = again.line();
        if !l.starts_with("* error") {
            break;
        }
        assert!(t0.elapsed() < TIMEOUT, "the slot never came back: {l}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A watcher that reads its snapshot and then nothing: a socket with a small receive buffer,
/// so the server's sends back up at once.
async fn stalled_watcher(web: SocketAddr) -> Ws {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&web.into()).unwrap();
    sock.set_nonblocking(true).unwrap();
    let tcp = tokio::net::TcpStream::from_std(sock.into()).unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{web}/ws/events"), tokio_tungstenite::MaybeTlsStream::Plain(tcp))
        .await
        .expect("ws handshake");
    assert!(matches!(first(&mut ws).await, Ok(ServerMsg::Snapshot(_))));
    ws
}

/// Reads every socket of a crowd, so the crowd's own output queues stay empty.
fn drain(crowd: Vec<TcpStream>, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        for s in &crowd {
            s.set_nonblocking(true).unwrap();
        }
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for mut s in &crowd {
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    })
}

/// A client that times its own lines' round trips through the room: its reader thread never
/// stops reading (a sender gets every line back, its own included), so nothing backs up.
struct Pinger {
    client: Client,
    back: std::sync::mpsc::Receiver<(usize, Instant)>,
    next: usize,
}

impl Pinger {
    fn new(chat: SocketAddr) -> Pinger {
        let client = Client::connect(chat);
        let stream = client.stream.try_clone().unwrap();
        // Quiet spells are fine: the reader waits for as long as the test runs.
        stream.set_read_timeout(None).unwrap();
        let mut reader = std::io::BufReader::new(stream);
        let (tx, back) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            while matches!(std::io::BufRead::read_line(&mut reader, &mut line), Ok(n) if n > 0) {
                if let Some(i) = line.trim_end().rsplit(' ').next().and_then(|w| w.strip_prefix("ping:")).and_then(|n| n.parse().ok()) {
                    let _ = tx.send((i, Instant::now()));
                }
                line.clear();
            }
        });
        Pinger { client, back, next: 0 }
    }

    /// The median of `n` round trips.
    fn median(&mut self, n: usize) -> Duration {
        let mut times: Vec<Duration> = (0..n)
            .map(|_| {
                let i = self.next;
                self.next += 1;
                let t0 = Instant::now();
                self.client.send(&format!("ping:{i}\n"));
                loop {
                    let (j, at) = self.back.recv_timeout(TIMEOUT).expect("the ping never came back");
                    if j == i {
                        return at - t0;
                    }
                }
            })
            .collect();
        times.sort();
        times[n / 2]
    }
}

/// 2,000 watchers that read nothing while a room of 1,000 floods: the server's memory grows by
/// a bounded amount per watcher, a fresh watcher gets the true table, and a chat line's round
/// trip stays within 2× of the same flood with nobody watching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_watchers_during_a_flood() {
    let _one_at_a_time = serial();
    const WATCHERS: usize = 2000;
    raise_fd_limit();
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0", "--max-watchers", "3000"]);
    let web = server.web.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let room: Vec<TcpStream> = (0..1000).map(|_| TcpStream::connect(server.chat).unwrap()).collect();
    let flooder = TcpStream::connect(server.chat).unwrap();
    let mut room = room;
    room.push(flooder.try_clone().unwrap());
    let reader = drain(room, stop.clone());
    let mut pinger = tokio::task::block_in_place(|| Pinger::new(server.chat));
    let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flood = {
        let (stop, flooding) = (stop.clone(), flooding.clone());
        std::thread::spawn(move || {
            let mut c = flooder;
            let line = format!("{}\n", "x".repeat(60));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if flooding.load(std::sync::atomic::Ordering::Relaxed) {
                    for _ in 0..20 {
                        c.write_all(line.as_bytes()).unwrap();
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rtt_alone = tokio::task::block_in_place(|| pinger.median(21));
    // The room goes quiet; the watchers join it and read their snapshots.
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = server.rss_bytes();
    let t_join = Instant::now();
    let mut watchers = Vec::with_capacity(WATCHERS);
    for _ in 0..WATCHERS / 100 {
        watchers.extend(futures_util::future::join_all((0..100).map(|_| stalled_watcher(web))).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = server.rss_bytes();
    // The flood again: now they stall. Watch the peak while the send timeouts run out.
    flooding.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut peak = server.rss_bytes();
    let t0 = Instant::now();
    let mut rtt_watched = Duration::ZERO;
    while t0.elapsed() < Duration::from_secs(12) {
        peak = peak.max(server.rss_bytes());
        // Measured once they have stalled: in their first seconds two thousand watchers still
        // take frames until their buffers fill, and that costs what watching costs.
        if rtt_watched.is_zero() && t0.elapsed() > Duration::from_secs(5) {
            rtt_watched = tokio::task::block_in_place(|| pinger.median(21));
        }
        if std::env::var_os("RTT_TRACE").is_some() {
            let r = tokio::task::block_in_place(|| pinger.median(5));
            println!("t={:?} rtt={r:?} rss={}", t0.elapsed(), server.rss_bytes() >> 20);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (idle, stalled) = ((rss_idle.saturating_sub(rss_before)) / WATCHERS as u64, peak.saturating_sub(rss_before) / WATCHERS as u64);
    println!(
        "{WATCHERS} watchers joined in {:?}; RSS {} MiB before, {} MiB idle ({} KiB each), peak {} MiB stalled ({} KiB each); round trip {rtt_alone:?} alone, {rtt_watched:?} watched",
        t_join.elapsed(),
        rss_before >> 20,
        rss_idle >> 20,
        idle >> 10,
        peak >> 20,
        stalled >> 10
    );
    assert!(idle <= 16 << 10, "an idle watcher costs {} KiB (bound: 16 KiB)", idle >> 10);
    assert!(stalled <= 256 << 10, "a stalled watcher costs {} KiB (bound: 256 KiB)", stalled >> 10);
    let mut fresh = watcher(web).await;
    let Ok(ServerMsg::Snapshot(s)) = first(&mut fresh).await else { panic!("no snapshot for a fresh watcher") };
    let tcp = s.fds.iter().filter(|f| f.role == muxscope_shared::Role::Tcp).count();
    assert_eq!(tcp, 1002, "the room, the flooder and the pinger");
    drop(watchers);
    drop(fresh);
    // The flood alone once more, now that they are gone: the baseline is the slower of the two,
    // so a machine that got busier meanwhile (other processes) is not blamed on the watchers.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rtt_alone = rtt_alone.max(tokio::task::block_in_place(|| pinger.median(21)));
    assert!(
        rtt_watched <= rtt_alone * 2 + Duration::from_millis(5),
        "round trip {rtt_alone:?} alone, {rtt_watched:?} with stalled watchers"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flood.join().unwrap();
    reader.join().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = server.rss_bytes();
    println!("RSS after every watcher left: {} MiB", rss_after >> 20);
    // The last watcher to leave hands freed memory back (malloc_trim): close to where it was.
    assert!(
        rss_after <= rss_before + (peak - rss_before) / 2,
        "RSS stayed at {} MiB after every watcher left ({} MiB before)",
        rss_after >> 20,
        rss_before >> 20
    );
}
