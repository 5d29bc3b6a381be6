//! Scale-out: several muxscope nodes as one chat room through a real Redis (pub/sub), started
//! by each test on a free loopback port.
//!
//! - three nodes: every line reaches every client on every node exactly once, in order per
//!   sender; `/who` lists the whole room, each name marked with its node;
//! - Redis killed mid-traffic: local delivery goes on on every node, a sender whose lines are
//!   not relayed is told once, the relay is back within 5 s of Redis restarting, and nothing
//!   arrives twice;
//! - a node that stops (SIGKILL, no goodbye) leaves the others' node lists within a few
//!   seconds while they carry on;
//! - the relay runs in the multiplexing models only: others refuse `--cluster`, and a live
//!   switch to one is refused.
//!
//! The relay fd's syscalls are held to strace in `tests/fidelity.rs`.

mod common;
use common::cli::{http, switch_model};
use common::redis::{redis_available, Redis};
use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const REQUIRE: &str = "MUXSCOPE_REQUIRE_REDIS";

fn node(redis: &Redis, name: &str, web: bool) -> Server {
    let url = redis.url();
    let mut args = vec!["--cluster", url.as_str(), "--node", name];
    if web {
        args.extend(["--web-addr", "127.0.0.1:0"]);
    }
    Server::start("epoll", &args)
}

fn relay(web: SocketAddr) -> Value {
    let (status, body) = http(web, "GET", "/api/stats", "");
    assert_eq!(status, 200);
    serde_json::from_slice::<Value>(&body).unwrap()["relay"].clone()
}

/// Waits until the node's relay is `state` and hears exactly `nodes`; how long that took.
fn wait_relay(web: SocketAddr, state: &str, nodes: &[&str], within: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let r = relay(web);
        let names: Vec<&str> = r["nodes"].as_array().map(|a| a.iter().filter_map(|n| n["name"].as_str()).collect()).unwrap_or_default();
        if r["state"] == state && names == nodes {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < within, "relay not {state} with nodes {nodes:?} within {within:?}: {r}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every line a client gets within `quiet` of silence.
fn drain(c: &mut Client, quiet: Duration) -> Vec<String> {
    c.stream.set_read_timeout(Some(quiet)).unwrap();
    let mut got = vec![];
    loop {
        let mut s = String::new();
        match std::io::BufRead::read_line(c.reader_mut(), &mut s) {
            Ok(n) if n > 0 => got.push(s.trim_end().to_string()),
            _ => break,
        }
    }
    c.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    got
}

/// Lines until (and with) the first that `last` accepts (10 s at most), then whatever else
/// comes within `quiet` (a duplicate would be there).
fn read_until(c: &mut Client, mut last: impl FnMut(&str) -> bool, quiet: Duration) -> Vec<String> {
    let mut got = vec![];
    loop {
        let l = c.line();
        let done = last(&l);
        got.push(l);
        if done {
            break;
        }
    }
    got.extend(drain(c, quiet));
    got
}

#[test]
fn three_nodes_deliver_every_line_exactly_once_in_order() {
    if !redis_available(REQUIRE) {
        return;
    }
    let redis = Redis::start();
    let a = node(&redis, "A", true);
    let (b, c) = (node(&redis, "B", false), node(&redis, "C", false));
    let nodes = [&a, &b, &c];
    // Two clients a node, named after it; every node hears the other two.
    let mut clients: Vec<(String, Client)> = vec![];
    for (n, s) in ["A", "B", "C"].iter().zip(nodes) {
        for i in 0..2 {
            let mut cl = s.joined();
            let nick = format!("{}{i}", n.to_lowercase());
            cl.send(&format!("/nick {nick}\n"));
            clients.push((n.to_string(), cl));
        }
    }
    wait_relay(a.web.unwrap(), "up", &["A", "B", "C"], Duration::from_secs(10));
    // Heartbeats carry the names: once every node heard every other's, /who is the room.
    let deadline = Instant::now() + Duration::from_secs(10);
    let who = loop {
        clients[0].1.send("/who\n");
        let l = clients[0].1.line_until_prefix("* ");
        if l.starts_with("* 6 online") || Instant::now() > deadline {
            break l;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(who, "* 6 online: a0@A, a1@A, b0@B, b1@B, c0@C, c1@C", "/who marks each name with its node");
    // One sender a node (its first client), 40 lines each, all at once.
    const N: usize = 40;
    for (node, cl) in clients.iter_mut().step_by(2) {
        let lines: String = (0..N).map(|i| format!("{node}-{i}\n")).collect();
        cl.send(&lines);
    }
    for (node, cl) in clients.iter_mut() {
        // Every sender's last line, then a quiet spell for anything twice.
        let mut last_seen = std::collections::HashSet::new();
        let got = read_until(
            cl,
            |l| {
                if l.ends_with(&format!("-{}", N - 1)) {
                    last_seen.insert(l.to_string());
                }
                last_seen.len() == 3
            },
            Duration::from_millis(500),
        );
        let mut seen: HashMap<&str, Vec<usize>> = HashMap::new();
        for l in &got {
            let Some((who, text)) = l.strip_prefix('[').and_then(|l| l.split_once("] ")) else { continue };
            let Some((from, i)) = text.split_once('-') else { continue };
            let want_name = if from == node { format!("{}0", from.to_lowercase()) } else { format!("{}0@{from}", from.to_lowercase()) };
            assert_eq!(who, want_name, "a line from node {from} as seen on node {node}");
            let from = ["A", "B", "C"].into_iter().find(|n| *n == from).unwrap();
            seen.entry(from).or_default().push(i.parse().unwrap());
        }
        for from in ["A", "B", "C"] {
            let want: Vec<usize> = (0..N).collect();
            assert_eq!(seen.get(from), Some(&want), "node {node} client: every line from {from} once, in order");
        }
    }
    // The stats' copy of the counts is at most a heartbeat old.
    std::thread::sleep(Duration::from_millis(1200));
    let r = relay(a.web.unwrap());
    assert_eq!((r["published"].as_u64(), r["received"].as_u64()), (Some(N as u64), Some(2 * N as u64)), "{r}");
    assert_eq!((r["lost_down"].as_u64(), r["lost_slow"].as_u64(), r["missed"].as_u64()), (Some(0), Some(0), Some(0)));
}

#[test]
fn redis_killed_mid_traffic_local_chat_goes_on_and_the_relay_comes_back() {
    if !redis_available(REQUIRE) {
        return;
    }
    let mut redis = Redis::start();
    let (a, b) = (node(&redis, "A", true), node(&redis, "B", true));
    let (wa, wb) = (a.web.unwrap(), b.web.unwrap());
    let (mut sa, mut ra, mut sb, mut rb) = (a.joined(), a.joined(), b.joined(), b.joined());
    sa.send("/nick sa\n");
    sb.send("/nick sb\n");
    wait_relay(wa, "up", &["A", "B"], Duration::from_secs(10));
    wait_relay(wb, "up", &["A", "B"], Duration::from_secs(10));
    sa.send("before\n");
    assert!(rb.line_until_prefix("[sa@A] ").ends_with("before"));

    // A talker keeps going while Redis dies under it.
    let talk = std::thread::spawn(move || {
        for i in 0..40 {
            sa.send(&format!("a-{i}\n"));
            std::thread::sleep(Duration::from_millis(10));
        }
        sa
    });
    std::thread::sleep(Duration::from_millis(150));
    redis.kill();
    let mut sa = talk.join().unwrap();
    wait_relay(wa, "down", &["A"], Duration::from_secs(10));
    sa.send("a-down\n");
    sb.send("b-down\n");
    // Local delivery goes on on both nodes.
    let on_a = read_until(&mut ra, |l| l == "[sa] a-down", Duration::from_millis(200));
    for i in 0..40 {
        assert!(on_a.contains(&format!("[sa] a-{i}")), "A's own line a-{i} reached A's client: {on_a:?}");
    }
    assert!(on_a.contains(&"[sa] a-down".to_string()));
    assert!(rb.line_until_prefix("[sb] ").ends_with("b-down"), "B's line reached B's client");
    // The sender was told, once.
    let told_a = drain(&mut sa, Duration::from_millis(500));
    let notices = told_a.iter().filter(|l| l.starts_with("* relay down")).count();
    assert_eq!(notices, 1, "one notice for the outage: {told_a:?}");
    let r = relay(wa);
    assert!(r["lost_down"].as_u64().unwrap() >= 1, "{r}");
    assert!(r["error"].as_str().is_some_and(|e| !e.is_empty()), "the page says why: {r}");
    // What B got of A's talk before the kill: each line at most once, in order.
    let before_kill: Vec<String> = drain(&mut rb, Duration::from_millis(300)).into_iter().filter(|l| l.starts_with("[sa@A] a-")).collect();
    assert!(!before_kill.contains(&"[sa@A] a-down".to_string()));

    redis.restart();
    let back = wait_relay(wa, "up", &["A", "B"], Duration::from_secs(10));
    wait_relay(wb, "up", &["A", "B"], Duration::from_secs(10));
    assert!(back <= Duration::from_secs(5), "the relay came back {back:?} after Redis did (at most 5 s)");
    sa.send("after\n");
    let got = read_until(&mut rb, |l| l == "[sa@A] after", Duration::from_millis(300));
    let mut from_a: Vec<&String> = before_kill.iter().chain(got.iter().filter(|l| l.starts_with("[sa@A] "))).collect();
    assert_eq!(from_a.last().map(|s| s.as_str()), Some("[sa@A] after"), "{got:?}");
    from_a.pop();
    let idx: Vec<usize> = from_a.iter().map(|l| l.trim_start_matches("[sa@A] a-").parse().unwrap()).collect();
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "no line twice, none out of order: {idx:?}");
    assert!(!got.iter().any(|l| l.contains("a-down")), "a line not relayed stays not relayed (no late duplicate)");
    assert_eq!(drain(&mut sa, Duration::from_millis(200)).iter().filter(|l| l.starts_with("* relay")).count(), 0, "no notice once up");
}

#[test]
fn a_node_that_stops_leaves_the_others_lists_and_they_carry_on() {
    if !redis_available(REQUIRE) {
        return;
    }
    let redis = Redis::start();
    let a = node(&redis, "A", true);
    let mut b = node(&redis, "B", false);
    let c = node(&redis, "C", false);
    let (mut ca, mut cc) = (a.joined(), c.joined());
    ca.send("/nick ann\n");
    cc.send("/nick cy\n");
    wait_relay(a.web.unwrap(), "up", &["A", "B", "C"], Duration::from_secs(10));
    // SIGKILL: no goodbye, so only silence tells.
    let _ = b.child.kill();
    let _ = b.child.wait();
    let gone = wait_relay(a.web.unwrap(), "up", &["A", "C"], Duration::from_secs(8));
    eprintln!("B left A's list {gone:?} after it died");
    ca.send("still here\n");
    assert_eq!(cc.line_until_prefix("[ann@A] "), "[ann@A] still here");
    cc.send("me too\n");
    assert_eq!(ca.line_until_prefix("[cy@C] "), "[cy@C] me too");
}

#[test]
fn the_relay_runs_in_the_multiplexing_models_only() {
    if !redis_available(REQUIRE) {
        return;
    }
    let redis = Redis::start();
    let url = redis.url();
    for model in ["blocking", "nonblocking", "sigio", "io_uring"] {
        let out = std::process::Command::new(common::cli::bin())
            .args(["--no-web", "--chat-addr", "127.0.0.1:0", "--model", model, "--cluster", &url])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("--cluster works with the multiplexing models"), "{model}: {err}");
    }
    for bad in ["127.0.0.1:6379", "redis://u:p@h:1"] {
        let out = std::process::Command::new(common::cli::bin())
            .args(["--no-web", "--chat-addr", "127.0.0.1:0", "--cluster", bad])
            .output()
            .unwrap();
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("redis://HOST:PORT"), "{bad}");
    }
    let a = node(&redis, "A", true);
    let web = a.web.unwrap();
    wait_relay(web, "up", &["A"], Duration::from_secs(10));
    assert_eq!(switch_model(web, "poll"), 200, "a multiplexing model takes the relay fd along");
    assert_eq!(switch_model(web, "blocking"), 409);
    assert_eq!(switch_model(web, "epoll-et"), 200);
    let (mut x, mut y) = (a.joined(), a.joined());
    x.send("/nick x\nhi\n");
    assert_eq!(y.line_until_prefix("[x] "), "[x] hi");
    // The stats' copy is brought up to date within 100 ms.
    let deadline = Instant::now() + Duration::from_secs(2);
    while relay(web)["published"].as_u64() != Some(1) {
        assert!(Instant::now() < deadline, "{}", relay(web));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(relay(web)["state"], "up");
}

#[test]
fn a_slow_redis_meets_a_bounded_queue_and_every_dropped_line_is_counted() {
    if !redis_available(REQUIRE) {
        return;
    }
    let redis = Redis::start();
    // The relay's queue is bounded like a client's: by --out-hard-limit (8 MiB by default).
    let a = node(&redis, "A", true);
    let b = node(&redis, "B", false);
    let web = a.web.unwrap();
    let (mut sender, mut rb) = (a.joined(), b.joined());
    sender.send("/nick sal\n");
    wait_relay(web, "up", &["A", "B"], Duration::from_secs(10));
    // The sender hears its own lines (the room includes it): read them as they come.
    const N: usize = 6000;
    let mut echo = Client::from_stream(sender.stream.try_clone().unwrap());
    let last = format!("[sal] {} ", N - 1);
    let reader = std::thread::spawn(move || read_until(&mut echo, |l| l.starts_with(&last), Duration::from_millis(300)));
    // Redis stops reading: the kernel's buffers fill, then the relay's queue, then lines drop.
    redis.pause(true);
    let line = "x".repeat(4000);
    let far = std::thread::spawn(move || {
        let mut seen = 0;
        // B gets what was relayed, once Redis goes on.
        loop {
            let mut s = String::new();
            rb.stream.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
            match std::io::BufRead::read_line(rb.reader_mut(), &mut s) {
                Ok(n) if n > 0 => seen += s.starts_with("[sal@A] ") as usize,
                _ => return seen,
            }
        }
    });
    for i in 0..N {
        sender.send(&format!("{i} {line}\n"));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while relay(web)["lost_slow"].as_u64().unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "the relay's queue never filled: {}", relay(web));
        std::thread::sleep(Duration::from_millis(50));
    }
    redis.pause(false);
    let own = reader.join().unwrap();
    assert_eq!(own.iter().filter(|l| l.starts_with("[sal] ")).count(), N, "local delivery lost nothing");
    assert_eq!(own.iter().filter(|l| l.starts_with("* relay behind")).count(), 1, "the sender is told once");
    let got = far.join().unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let r = relay(web);
    let (published, lost) = (r["published"].as_u64().unwrap(), r["lost_slow"].as_u64().unwrap());
    assert_eq!(published + lost, N as u64, "every line published or counted: {r}");
    assert_eq!(got as u64, published, "B got exactly the lines published: {r}");
    assert_eq!(r["state"], "up", "a slow Redis is no outage");
}
