//! The gateway, end to end: the real binary, real WebSockets (tokio-tungstenite), real TCP.

mod common;
use common::*;
use futures_util::{SinkExt, StreamExt};
use muxscope_shared::{EventBody, Role, ServerMsg};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn web_server(poller: &str) -> Server {
    Server::start(poller, &["--web-addr", "127.0.0.1:0"])
}

async fn ws(s: &Server, path: &str) -> Ws {
    let url = format!("ws://{}{path}", s.web.unwrap());
    tokio_tungstenite::connect_async(url).await.expect("ws connect").0
}

async fn next_msg(ws: &mut Ws) -> ServerMsg {
    loop {
        let m = tokio::time::timeout(TIMEOUT, ws.next()).await.expect("timed out waiting for a frame").expect("stream ended").unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap_or_else(|e| panic!("bad frame {e}: {}", t.as_str()));
        }
    }
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        let m = tokio::time::timeout(TIMEOUT, ws.next()).await.expect("timed out").expect("stream ended").unwrap();
        if let Message::Text(t) = m {
            return t.as_str().to_string();
        }
    }
}

/// An event stream read event by event (frames are split, nothing is skipped).
struct Events {
    ws: Ws,
    queued: std::collections::VecDeque<EventBody>,
}

impl Events {
    async fn open(s: &Server) -> (Events, muxscope_shared::Snapshot) {
        let mut w = ws(s, "/ws/events").await;
        let ServerMsg::Snapshot(snap) = next_msg(&mut w).await else { panic!("first frame is not a snapshot") };
        (Events { ws: w, queued: Default::default() }, snap)
    }

    async fn next(&mut self) -> EventBody {
        loop {
            if let Some(e) = self.queued.pop_front() {
                return e;
            }
            if let ServerMsg::Events { events } = next_msg(&mut self.ws).await {
                self.queued.extend(events.into_iter().map(|e| e.body));
            }
        }
    }

    /// Reads until `pred` holds; returns every event seen, the matching one last.
    async fn until(&mut self, mut pred: impl FnMut(&EventBody) -> bool) -> Vec<EventBody> {
        let mut seen = vec![];
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            let e = self.next().await;
            let hit = pred(&e);
            seen.push(e);
            if hit {
                return seen;
            }
        }
        panic!("event never came; saw {seen:?}");
    }
}

#[tokio::test]
async fn snapshot_first_then_live_events() {
    for p in POLLERS {
        let s = web_server(p);
        let (mut w, snap) = Events::open(&s).await;
        assert_eq!(snap.poller, p);
        assert!(snap.fds.iter().any(|f| f.role == Role::Listener), "{snap:?}");
        assert!(snap.fds.iter().any(|f| f.role == Role::Waker), "{snap:?}");
        let mut c = s.client();
        let port = c.local.port();
        let seen = w.until(|e| matches!(e, EventBody::Ctl { role: Role::Tcp, .. })).await;
        let accept_fd = seen
            .iter()
            .find_map(|e| match e {
                EventBody::Accept { fd, peer, .. } if peer.ends_with(&format!(":{port}")) => Some(*fd),
                _ => None,
            })
            .expect("accept event");
        // The wakeup that announced the connection: the listener in the ready list.
        assert!(seen.iter().any(|e| matches!(e, EventBody::Wait { ready, .. } if !ready.is_empty())), "{p}: {seen:?}");
        c.send("hello events\n");
        let seen = w.until(|e| matches!(e, EventBody::Broadcast { .. })).await;
        assert!(seen.iter().any(|e| matches!(e, EventBody::Recv { fd, bytes: 13, .. } if *fd == accept_fd)), "{p}: {seen:?}");
        let EventBody::Broadcast { from, text, recipients, .. } = seen.last().unwrap() else { unreachable!() };
        assert_eq!((*from, text.as_str(), *recipients), (accept_fd, "hello events", 1));
        let seen = w.until(|e| matches!(e, EventBody::Send { .. })).await;
        assert!(matches!(seen.last(), Some(EventBody::Send { fd, bytes, .. }) if *fd == accept_fd && *bytes > 13));
        c.send("quit\n");
        w.until(|e| matches!(e, EventBody::Close { fd, .. } if *fd == accept_fd)).await;
    }
}

#[tokio::test]
async fn chat_bridge_both_ways_with_a_tcp_client() {
    let s = web_server("epoll");
    let (mut watch, _) = Events::open(&s).await;
    let mut browser = ws(&s, "/ws/chat?nick=ann").await;
    // The browser user is a real fd, named and marked as web.
    watch.until(|e| matches!(e, EventBody::Nick { name, role: Role::Web, .. } if name == "ann")).await;
    let mut tcp = s.joined();
    browser.send(Message::Text("hello from the browser".into())).await.unwrap();
    assert_eq!(tcp.line_until("[ann] hello from the browser"), Vec::<String>::new());
    assert_eq!(next_text(&mut browser).await, "[ann] hello from the browser");
    tcp.send("hi ann\n");
    assert_eq!(next_text(&mut browser).await, format!("[{}] hi ann", tcp.name()));
    // Several lines in one frame are several chat lines.
    browser.send(Message::Text("one\ntwo".into())).await.unwrap();
    assert_eq!(next_text(&mut browser).await, "[ann] one");
    assert_eq!(next_text(&mut browser).await, "[ann] two");
}

#[tokio::test]
async fn bad_nick_origin_and_host_are_refused() {
    let s = web_server("epoll");
    let base = s.web.unwrap();
    let err = tokio_tungstenite::connect_async(format!("ws://{base}/ws/chat?nick=a%20b")).await.unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
    let mut req = format!("ws://{base}/ws/events").into_client_request().unwrap();
    req.headers_mut().insert("Origin", HeaderValue::from_static("http://evil.example"));
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    let mut req = format!("ws://{base}/ws/events").into_client_request().unwrap();
    req.headers_mut().insert("Origin", HeaderValue::from_str(&format!("http://localhost:{}", base.port())).unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok(), "the page's own origin must pass");
    let mut req = format!("ws://{base}/ws/events").into_client_request().unwrap();
    req.headers_mut().insert("Host", HeaderValue::from_static("rebound.example:8080"));
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
}

#[tokio::test]
async fn a_lagging_subscriber_gets_a_counted_gap_and_a_fresh_snapshot() {
    // A short backlog, so that lag comes before the socket buffers between us have filled.
    let s = Server::start("epoll", &["--web-addr", "127.0.0.1:0", "--ws-backlog-frames", "4"]);
    // A watcher with a tiny receive window that stops reading.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&s.web.unwrap().into()).unwrap();
    sock.set_nonblocking(true).unwrap();
    let stream = TcpStream::from_std(sock.into()).unwrap();
    let (mut slow, _) =
        tokio_tungstenite::client_async(format!("ws://{}/ws/events", s.web.unwrap()), MaybeTlsStream::Plain(stream)).await.unwrap();
    let ServerMsg::Snapshot(first) = next_msg(&mut slow).await else { panic!() };
    // Meanwhile a healthy watcher keeps up.
    let mut healthy = ws(&s, "/ws/events").await;
    let _ = next_msg(&mut healthy).await;
    // Lots of events: 40 clients chatting as fast as they can for a while.
    let chat = s.chat;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let talkers: Vec<_> = (0..40)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(chat);
                let mut r = c.stream.try_clone().unwrap();
                std::thread::spawn(move || std::io::copy(&mut r, &mut std::io::sink()));
                let t0 = Instant::now();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(20) {
                    c.send(&format!("talker {i} says something\n"));
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        })
        .collect();
    // The healthy watcher sees the traffic live while the slow one is stuck.
    let t0 = Instant::now();
    let mut healthy_events = 0usize;
    while t0.elapsed() < Duration::from_secs(8) {
        if let ServerMsg::Events { events } = next_msg(&mut healthy).await {
            healthy_events += events.len();
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in talkers {
        t.join().unwrap();
    }
    assert!(healthy_events > 1000, "healthy watcher saw only {healthy_events} events");
    // Now the slow one reads: somewhere in its stream there is a gap, and a snapshot after it.
    let mut gap_total = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut snapshot_after_gap = None;
    while Instant::now() < deadline && snapshot_after_gap.is_none() {
        match next_msg(&mut slow).await {
            ServerMsg::Events { events } => {
                // A lag gap, not the gateway's ordinary folding of a busy tick.
                gap_total +=
                    events.iter().map(|e| if let EventBody::Gap { dropped, folded: false, .. } = e.body { dropped } else { 0 }).sum::<u64>()
            }
            ServerMsg::Snapshot(snap) if gap_total > 0 => snapshot_after_gap = Some(snap),
            ServerMsg::Snapshot(_) => {}
        }
    }
    let snap = snapshot_after_gap.expect("the lagging watcher never got a gap followed by a snapshot");
    assert!(gap_total > 0);
    assert!(snap.seq > first.seq);
    // The loop itself never waited: the server still answers instantly.
    let mut c = s.joined();
    c.send("still quick\n");
    c.line_until(&format!("[{}] still quick", c.name()));
}

/// A flood folds (far more events than a browser is sent), yet a watcher that only applies what
/// it gets ends with the loop's exact totals: folded gaps carry them. Snapshots, the expensive
/// part for a browser, come only after a gap that says the fd table changed.
#[tokio::test]
async fn a_flood_is_folded_with_exact_totals_and_snapshots_only_when_needed() {
    use std::io::{BufRead, Write};
    let s = web_server("epoll");
    let mut w = ws(&s, "/ws/events").await;
    let ServerMsg::Snapshot(mut state) = next_msg(&mut w).await else { panic!("first frame is not a snapshot") };
    const LINES: usize = 30_000;
    let stream = std::net::TcpStream::connect(s.chat).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    // Read everything back as it comes, so no output queue forms.
    let reader = {
        let stream = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(stream);
            let (mut got, mut line) = (0, String::new());
            while got < LINES {
                line.clear();
                if r.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                got += line.ends_with("] x\n") as usize;
            }
            got
        })
    };
    let writer = std::thread::spawn(move || {
        let mut stream = stream;
        for _ in 0..LINES / 1000 {
            stream.write_all(&b"x\n".repeat(1000)).unwrap();
        }
        stream
    });
    let (mut folded, mut gaps_with_totals, mut snapshots, mut resync_owed) = (0u64, 0, 0, false);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut reader = Some(reader);
    while state.counters.messages < LINES as u64 && Instant::now() < deadline {
        match next_msg(&mut w).await {
            ServerMsg::Events { events } => {
                for e in &events {
                    if let EventBody::Gap { dropped, folded: f, resync, counters } = &e.body {
                        folded += if *f { *dropped } else { 0 };
                        gaps_with_totals += counters.is_some() as usize;
                        resync_owed |= *resync;
                    }
                    state.apply(e);
                }
            }
            ServerMsg::Snapshot(snap) => {
                assert!(
                    resync_owed,
                    "a snapshot came without a gap asking for it (seq {} after {}, {snapshots} before)",
                    snap.seq, state.seq
                );
                resync_owed = false;
                snapshots += 1;
                state = snap;
            }
        }
        if reader.as_ref().is_some_and(|r| r.is_finished()) {
            assert_eq!(reader.take().unwrap().join().unwrap(), LINES, "the client got every line");
        }
    }
    let _stream = writer.join().unwrap();
    assert_eq!(state.counters.messages, LINES as u64, "the watcher's totals match the loop's");
    assert!(folded > 0 && gaps_with_totals > 0, "a flood of {LINES} lines was never folded");
    eprintln!("folded {folded} events in {gaps_with_totals} gaps; {snapshots} snapshots");
}

/// A page drawing still pictures asks for fewer frames; it gets about one a second, the frames
/// in between folded into gaps that carry the totals, so nothing is lost from its counts.
#[tokio::test]
async fn a_still_page_gets_about_a_frame_a_second_and_exact_totals() {
    let s = web_server("epoll");
    let mut w = ws(&s, "/ws/events").await;
    let ServerMsg::Snapshot(mut state) = next_msg(&mut w).await else { panic!("first frame is not a snapshot") };
    w.send(Message::Text(r#"{"type":"pace","still":true}"#.into())).await.unwrap();
    let mut c = s.joined();
    const LINES: u64 = 1500;
    let start = state.counters.messages;
    let talker = std::thread::spawn(move || {
        for i in 0..LINES {
            c.send(&format!("line {i}\n"));
            std::thread::sleep(Duration::from_millis(2));
        }
        c
    });
    let t0 = Instant::now();
    let (mut frames, mut folded) = (0u32, 0u64);
    while state.counters.messages < start + LINES && t0.elapsed() < Duration::from_secs(20) {
        match next_msg(&mut w).await {
            ServerMsg::Events { events } => {
                frames += 1;
                // Only the tail of a frame (and its last wakeup), then the gap for the rest
                // (`hub::STILL_EVENTS`).
                assert!(events.len() <= 22, "a still page was sent {} events in one message", events.len());
                for e in &events {
                    if let EventBody::Gap { dropped, folded: true, .. } = e.body {
                        folded += dropped;
                    }
                    state.apply(e);
                }
            }
            ServerMsg::Snapshot(snap) => state = snap,
        }
    }
    let _c = talker.join().unwrap();
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(state.counters.messages, start + LINES, "the paced page's totals are exact");
    assert!(folded > 0, "nothing was folded");
    // Without pacing this is ~25 frames a second; a skipped stretch is told by one gap message.
    let allowed = (secs * 2.0).ceil() as u32 + 3;
    assert!(frames <= allowed, "{frames} event messages in {secs:.1} s (allowed {allowed})");
    eprintln!("{frames} event messages in {secs:.1} s; {folded} events folded");
}

/// Watches a crowd of 600 join, then 5 latecomers a few frames later, as a page does (snapshots
/// replace the picture, events move it), and returns how many of them the picture ends up with.
/// `still`: the page asks for still pictures first; `wait`: how long after the first snapshot
/// the crowd starts joining.
async fn crowd_seen_by_a_page(still: bool, wait: Duration) -> usize {
    const CROWD: usize = 605;
    let s = web_server("epoll");
    let mut w = ws(&s, "/ws/events").await;
    let ServerMsg::Snapshot(mut state) = next_msg(&mut w).await else { panic!("first frame is not a snapshot") };
    if still {
        w.send(Message::Text(r#"{"type":"pace","still":true}"#.into())).await.unwrap();
    }
    tokio::time::sleep(wait).await;
    let chat = s.chat;
    let crowd = std::thread::spawn(move || {
        let mut crowd: Vec<Client> = (0..600).map(|_| Client::connect(chat)).collect();
        std::thread::sleep(Duration::from_millis(150));
        crowd.extend((600..CROWD).map(|_| Client::connect(chat)));
        crowd
    });
    let clients = |st: &muxscope_shared::Snapshot| st.fds.iter().filter(|f| f.role == Role::Tcp).count();
    let t0 = Instant::now();
    while clients(&state) != CROWD && t0.elapsed() < Duration::from_secs(8) {
        if let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(Duration::from_millis(300), w.next()).await {
            match serde_json::from_str::<ServerMsg>(t.as_str()).unwrap() {
                ServerMsg::Snapshot(snap) => state = snap,
                ServerMsg::Events { events } => events.iter().for_each(|e| state.apply(e)),
            }
        }
    }
    let _crowd = crowd.join().unwrap();
    clients(&state)
}

/// A still page is sent only the tail of a frame: when what it left out joined the fd table, the
/// page must still end up with every fd, even when the snapshot that fixes it is no newer than
/// the last picture it was sent.
#[tokio::test]
async fn a_still_page_ends_up_with_every_client_of_a_crowd() {
    assert_eq!(crowd_seen_by_a_page(true, Duration::from_millis(1100)).await, 605, "the still page's picture is missing part of the crowd");
}

/// The same for a page that takes every frame: the hub folds a crowd that joins faster than a
/// frame holds, and the snapshot it sends to fix the fd table can come after the latecomers'
/// frame, with the same seq. It is needed all the same.
#[tokio::test]
async fn a_live_page_ends_up_with_every_client_of_a_crowd() {
    assert_eq!(crowd_seen_by_a_page(false, Duration::ZERO).await, 605, "the page's picture is missing part of the crowd");
}

#[tokio::test]
async fn a_bad_control_message_closes_the_event_stream_with_a_reason() {
    let s = web_server("epoll");
    let mut w = ws(&s, "/ws/events").await;
    let _ = next_msg(&mut w).await;
    w.send(Message::Text(r#"{"type":"faster"}"#.into())).await.unwrap();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(Instant::now() < deadline, "no close after a bad message");
        match tokio::time::timeout(TIMEOUT, w.next()).await.expect("timed out").expect("ended without a close frame").unwrap() {
            Message::Close(Some(f)) => {
                assert_eq!(u16::from(f.code), 1003);
                assert!(f.reason.as_str().contains("bad message"), "{}", f.reason.as_str());
                break;
            }
            Message::Close(None) => panic!("closed without a reason"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn oversized_websocket_messages_close_the_connection() {
    let s = web_server("epoll");
    let mut browser = ws(&s, "/ws/chat?nick=big").await;
    // 64 KiB in one message: far over the 8 KiB cap (tungstenite's default would take 64 MiB).
    let _ = browser.send(Message::Text("x".repeat(64 << 10).into())).await;
    let t0 = Instant::now();
    let closed = loop {
        match tokio::time::timeout(TIMEOUT, browser.next()).await {
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => break true,
            Ok(Some(Ok(_))) => continue,
            Err(_) => break false,
        }
    };
    assert!(closed, "an oversized message did not close the WebSocket");
    assert!(t0.elapsed() < TIMEOUT);
    // Nothing of it reached the chat.
    let mut tcp = s.joined();
    assert_eq!(tcp.who_count(), 1);
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = web_server("epoll");
    let mut slow = TcpStream::connect(s.web.unwrap()).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    let t0 = Instant::now();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(20), slow.read(&mut buf)).await.expect("the gateway kept a half-sent request open");
    assert!(matches!(n, Ok(0)) || n.is_err() || String::from_utf8_lossy(&buf).contains("408"), "{n:?}");
    assert!(t0.elapsed() >= Duration::from_secs(9), "closed too early: {:?}", t0.elapsed());
}

#[tokio::test]
async fn one_browser_cannot_flood_the_room() {
    let s = web_server("epoll");
    let mut browser = ws(&s, "/ws/chat?nick=flood").await;
    let mut tcp = s.joined();
    // 40 lines in one go: the burst (20) passes, the rest is refused out loud.
    let lines: Vec<String> = (0..40).map(|i| format!("spam {i}")).collect();
    browser.send(Message::Text(lines.join("\n").into())).await.unwrap();
    let mut refused = 0;
    let mut echoed = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && refused + echoed < 40 {
        let t = next_text(&mut browser).await;
        if t.starts_with("* slow down") {
            refused += 1;
        } else if t.starts_with("[flood] spam") {
            echoed += 1;
        }
    }
    assert_eq!(echoed, 20, "the burst allowance");
    assert_eq!(refused, 20, "every refused line is reported, none silently dropped");
    // The room saw exactly the allowed ones.
    let skipped = tcp.line_until("[flood] spam 19");
    assert_eq!(skipped.len(), 19);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = web_server("epoll");
    let web = s.web.unwrap();
    let mut c = TcpStream::connect(web).await.unwrap();
    c.write_all(format!("GET /api/stats HTTP/1.1\r\nHost: {web}\r\n\r\n").as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = c.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Then nothing: the next request head never starts. The connection must not live forever.
    let t0 = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(20), c.read(&mut buf)).await.expect("an idle keep-alive connection stayed open");
    assert!(matches!(r, Ok(0)) || r.is_err(), "{r:?}");
    eprintln!("idle keep-alive closed after {:?}", t0.elapsed());
}

#[tokio::test]
async fn a_watcher_ends_up_with_the_true_state_after_a_storm() {
    let s = web_server("epoll");
    let (mut w, snap) = Events::open(&s).await;
    let mut state = snap;
    let chat = s.chat;
    // A storm: 8 threads, each churning 150 clients that join, talk, and leave (some by reset).
    let storm: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..150 {
                    let mut c = Client::connect(chat);
                    c.send(&format!("storm {t} {i}\n{}\n", "y".repeat(200)));
                    if i % 2 == 0 {
                        socket2::SockRef::from(&c.stream).set_linger(Some(Duration::ZERO)).unwrap();
                    }
                }
            })
        })
        .collect();
    // Three clients stay.
    let stay: Vec<Client> = (0..3).map(|_| s.joined()).collect();
    let t0 = Instant::now();
    let mut gaps = 0u64;
    while t0.elapsed() < Duration::from_secs(4) {
        if let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(Duration::from_millis(200), w.ws.next()).await {
            match serde_json::from_str::<ServerMsg>(t.as_str()).unwrap() {
                ServerMsg::Snapshot(snap) => state = snap,
                ServerMsg::Events { events } => {
                    for e in &events {
                        if let EventBody::Gap { dropped, .. } = e.body {
                            gaps += dropped;
                        }
                        state.apply(e);
                    }
                }
            }
        }
    }
    for t in storm {
        t.join().unwrap();
    }
    // Let the last closes land, then read on until things are quiet.
    let quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(2) {
        if let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(Duration::from_millis(300), w.ws.next()).await {
            match serde_json::from_str::<ServerMsg>(t.as_str()).unwrap() {
                ServerMsg::Snapshot(snap) => state = snap,
                ServerMsg::Events { events } => events.iter().for_each(|e| state.apply(e)),
            }
        }
    }
    let clients: Vec<i32> = state.fds.iter().filter(|f| f.role == Role::Tcp).map(|f| f.fd).collect();
    assert_eq!(
        clients.len(),
        stay.len(),
        "the watcher's picture has {} clients, the loop has {} (gaps seen: {gaps})",
        clients.len(),
        stay.len()
    );
    assert_eq!(state.counters.accepted, 1200 + 3, "accepted count");
}
