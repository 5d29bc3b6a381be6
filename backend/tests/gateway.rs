//! The gateway, end to end: the real binary, real WebSockets (tokio-tungstenite), real TCP.

mod common;
use common::ws::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use muxscope_shared::{EventBody, Role, ServerMsg};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

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
