//! Bots, end to end: `/api/bots` adds real clients of the loop (fds with role `bot` in the
//! picture, names in `/who`) that talk at about their rate; a request over a bound gets the
//! message and adds nothing; `DELETE` closes them; `muxscope bots` does the same from a
//! terminal; a replay refuses bots.

mod common;
use common::cli::{self, bin, replay, temp_file, terminate};
use common::*;
use futures_util::StreamExt;
use muxscope_shared::{Role, ServerMsg, Snapshot};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// One request to the gateway: the answer's status and body, as text.
fn http(web: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let (status, body) = cli::http(web, method, path, body);
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn bots_of(body: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["bots"].as_u64().unwrap_or_else(|| panic!("no bots in {body}"))
}

/// The loop's present picture, as a new watcher gets it.
async fn snapshot(web: SocketAddr) -> Snapshot {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{web}/ws/events")).await.expect("ws connect");
    loop {
        let m = tokio::time::timeout(TIMEOUT, ws.next()).await.expect("a frame").expect("a message").unwrap();
        if let Message::Text(t) = m {
            let ServerMsg::Snapshot(s) = serde_json::from_str(t.as_str()).unwrap() else { panic!("first frame is not a snapshot") };
            return s;
        }
    }
}

/// Waits until the picture has `n` bot fds, all named `bot-N`.
async fn until_bot_fds(web: SocketAddr, n: usize) {
    let t0 = Instant::now();
    loop {
        let snap = snapshot(web).await;
        let bots: Vec<_> = snap.fds.iter().filter(|f| f.role == Role::Bot).collect();
        if bots.len() == n && bots.iter().all(|f| f.name.starts_with("bot-")) {
            return;
        }
        assert!(t0.elapsed() < TIMEOUT, "{} bot fds in the picture, want {n}", bots.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `/who` until it says `n` online.
fn until_online(c: &mut Client, n: usize) {
    let t0 = Instant::now();
    loop {
        let got = c.who_count();
        if got == n {
            return;
        }
        assert!(t0.elapsed() < TIMEOUT, "/who says {got} online, want {n}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Lines from bots that `c` receives in `window`.
fn bot_lines_in(c: &mut Client, window: Duration) -> usize {
    let t0 = Instant::now();
    let mut n = 0;
    c.stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut r = BufReader::new(c.stream.try_clone().unwrap());
    let mut line = String::new();
    while t0.elapsed() < window {
        line.clear();
        if r.read_line(&mut line).is_ok() && line.starts_with("[bot-") {
            n += 1;
        }
    }
    c.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_join_as_role_bot_talk_at_their_rate_are_bounded_and_leave() {
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let web = server.web.unwrap();
    let mut me = server.joined();
    let before = me.who_count();
    assert_eq!(bots_of(&http(web, "GET", "/api/bots", "").1), 0);

    let (status, body) = http(web, "POST", "/api/bots", r#"{"add":20,"rate":5}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(bots_of(&body), 20);
    assert!(body.contains("\"rate\":5"), "{body}");
    until_online(&mut me, before + 20);
    until_bot_fds(web, 20).await;

    // 20 bots × 5 lines a second, for 2 s: about 200 lines, each to everyone (me included).
    let heard = bot_lines_in(&mut me, Duration::from_secs(2));
    assert!((100..=300).contains(&heard), "heard {heard} bot lines in 2 s, want about 200");

    // Over a bound: the message, and no more bots.
    for (req, says, bound) in [
        (r#"{"add":4990,"rate":0}"#, "at most 5000 bots", r#""bound":"bots""#),
        (r#"{"add":1,"rate":100}"#, "at most 20 lines a second for each bot", r#""bound":"rate_each""#),
        (r#"{"add":980,"rate":6}"#, "at most 5000 lines a second across all bots", r#""bound":"total_rate""#),
    ] {
        let (status, body) = http(web, "POST", "/api/bots", req);
        assert_eq!(status, 409, "{req}: {body}");
        assert!(body.contains(says) && body.contains(bound) && body.contains("\"limit\":"), "{req}: {body}");
    }
    assert_eq!(http(web, "POST", "/api/bots", r#"{"add":-1}"#).0, 400);
    assert_eq!(http(web, "POST", "/api/bots", "not json").0, 400);
    let (_, body) = http(web, "GET", "/api/bots", "");
    assert_eq!(bots_of(&body), 20, "{body}");
    assert!(body.contains("\"rate\":5"), "a refused request keeps the rate: {body}");
    until_online(&mut me, before + 20);

    // A browser on another page may not add bots.
    let mut s = TcpStream::connect(web).unwrap();
    let req = format!("POST /api/bots HTTP/1.1\r\nHost: {web}\r\nOrigin: http://evil.example\r\nConnection: close\r\nContent-Length: 9\r\n\r\n{{\"add\":1}}");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");

    let (status, body) = http(web, "DELETE", "/api/bots", "");
    assert_eq!((status, bots_of(&body)), (200, 0), "{body}");
    until_bot_fds(web, 0).await;
    until_online(&mut me, before);
}

#[test]
fn muxscope_bots_adds_clients_that_talk_until_its_time_is_up() {
    let server = Server::start("epoll", &[]);
    let mut me = server.joined();
    let before = me.who_count();
    let mut bots = Command::new(bin())
        .args(["bots", "--target", &server.chat.to_string(), "--clients", "10", "--rate", "5", "--seconds", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(bots.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("muxscope: 10 bots connected to"), "{line}");
    until_online(&mut me, before + 10);
    let heard = bot_lines_in(&mut me, Duration::from_secs(1));
    assert!((20..=80).contains(&heard), "heard {heard} bot lines in 1 s, want about 50");
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(bots.wait().unwrap().success(), "{rest}");
    assert!(rest.contains("closed"), "{rest}");
    until_online(&mut me, before);

    // Over the cap: the message, and no bot joins.
    let refused = Command::new(bin()).args(["bots", "--target", &server.chat.to_string(), "--clients", "5001"]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("at most 5000 bots"));
    assert_eq!(me.who_count(), before);
}

#[test]
fn a_replay_refuses_bots() {
    let file = temp_file("bots", "r.muxrec");
    let mut server = Server::start("epoll", &["--record", file.to_str().unwrap()]);
    server.joined().send("hi\n");
    terminate(&mut server);
    let (mut replay, web) = replay(&file);
    for method in ["GET", "POST", "DELETE"] {
        let (status, body) = http(web, method, "/api/bots", r#"{"add":1}"#);
        assert_eq!(status, 409, "{method}: {body}");
        assert!(body.contains("replay"), "{body}");
    }
    let _ = replay.kill();
    let _ = replay.wait();
    let _ = std::fs::remove_file(&file);
}

/// Every IO model draws a bot as a bot, and hears it (the protocol is the same in each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_are_bots_in_every_model() {
    for model in MODELS {
        let server = Server::start(model, &["--web-addr", "127.0.0.1:0"]);
        let web = server.web.unwrap();
        let mut me = server.joined();
        let (status, body) = http(web, "POST", "/api/bots", r#"{"add":5,"rate":4}"#);
        assert_eq!(status, 200, "{model}: {body}");
        until_online(&mut me, 6);
        until_bot_fds(web, 5).await;
        assert!(bot_lines_in(&mut me, Duration::from_millis(1500)) > 0, "{model}: no bot said anything");
        assert_eq!(http(web, "DELETE", "/api/bots", "").0, 200);
        until_bot_fds(web, 0).await;
    }
}
