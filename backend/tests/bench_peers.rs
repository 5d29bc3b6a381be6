//! The load generators of `muxscope bench` against the real servers `cargo xtask bench` compares:
//! muxscope (the line protocol), `redis-server` (SUBSCRIBE / PUBLISH) and `nats-server` (SUB /
//! PUB). A probe subscribed beside the bench's clients checks what went over the wire: every
//! round's 64 B message, once, in the protocol's own framing. `blast` and `connect` must run to
//! the end with numbers that add up (a blast may cut receivers that fall behind; it counts them).

mod common;

use common::cli::bin;
use common::nats::{nats_available, Nats};
use common::redis::{redis_available, Redis};
use common::*;
use serde_json::Value;
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// The 64-byte message of round `k`, as the bench's senders write it.
fn payload(k: u64) -> String {
    let head = format!("m{k}-");
    format!("{head}{}", "x".repeat(64 - head.len()))
}

fn bench(args: &[&str]) -> Value {
    let out = Command::new(bin()).arg("bench").args(args).output().expect("run muxscope bench");
    assert!(out.status.success(), "muxscope bench {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("bench printed {text:?}: {e}"))
}

/// Every line the probe has, until the server has been quiet for half a second.
fn lines_until_quiet(c: &mut Client) -> Vec<String> {
    c.stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut lines = vec![];
    loop {
        let mut l = String::new();
        match c.reader_mut().read_line(&mut l) {
            Ok(n) if n > 0 => lines.push(l.trim_end_matches(['\r', '\n']).to_string()),
            _ => return lines,
        }
    }
}

/// Runs fanout, blast and connect against `target` with `proto`; `probe` is a client subscribed
/// there already, `pid` the server's.
fn exercise(target: SocketAddr, proto: &str, mut probe: Client, pid: u32) {
    let t = target.to_string();
    let rounds = 4;
    let v = bench(&["fanout", "--target", &t, "--proto", proto, "--clients", "40", "--rounds", &rounds.to_string()]);
    assert_eq!(v["rounds"], rounds, "{proto}: {v}");
    assert!(v["p50_ms"].as_f64().unwrap() > 0.0 && v["p95_ms"].as_f64() >= v["p50_ms"].as_f64(), "{proto}: {v}");
    let lines = lines_until_quiet(&mut probe);
    for k in 1..=rounds {
        // The line protocol's broadcast is `[name] text`; Redis and NATS put the payload on a
        // line of its own after the frame's header.
        let n = lines.iter().filter(|l| *l == &payload(k) || l.ends_with(&format!("] {}", payload(k)))).count();
        assert_eq!(n, 1, "{proto}: round {k}'s message reached the probe {n} times: {lines:?}");
    }
    let stray: Vec<&String> = lines.iter().filter(|l| l.starts_with('-') || l.starts_with("+OK")).collect();
    assert!(stray.is_empty(), "{proto}: the server objected or acknowledged: {stray:?}");
    drop(probe);

    // One reading thread for every receiver can fall behind a sender that writes as fast as the
    // server takes it, and a server may cut receivers that fall too far behind (muxscope does,
    // past its bounded per-client queue; Redis and NATS allow more). The bench counts them, and
    // a receiver that stayed to the end was sent lines all along, so it must have some.
    let clients = 400u64;
    let v = bench(&["blast", "--target", &t, "--proto", proto, "--clients", &clients.to_string(), "--senders", "1", "--seconds", "1"]);
    let (deliveries, sent, cut) =
        (v["deliveries"].as_u64().unwrap(), v["sent_messages"].as_u64().unwrap(), v["receivers_cut"].as_u64().unwrap());
    assert!(sent > 0 && cut <= clients, "{proto}: {v}");
    assert!(cut == clients || deliveries > 0, "{proto}: {} receivers stayed and none got a line: {v}", clients - cut);
    assert!(deliveries <= sent * clients, "{proto}: {deliveries} deliveries of {sent} messages to {clients}: {v}");

    let v = bench(&["connect", "--target", &t, "--proto", proto, "--clients", "300", "--pid", &pid.to_string()]);
    assert_eq!(v["clients"], 300, "{proto}: {v}");
    assert!(v["seconds"].as_f64().unwrap() > 0.0 && v["rss_after_bytes"].as_u64().unwrap() > 0, "{proto}: {v}");
}

#[test]
fn the_load_generators_speak_the_line_protocol_to_muxscope() {
    let server = Server::start("epoll", &[]);
    let probe = server.joined();
    exercise(server.chat, "line", probe, server.pid());
}

#[test]
fn the_load_generators_speak_redis_pub_sub() {
    if !redis_available("MUXSCOPE_REQUIRE_REDIS") {
        return;
    }
    let redis = Redis::start();
    let mut probe = Client::connect(redis.addr());
    probe.send("SUBSCRIBE bench\r\n");
    probe.line_until(":1\r");
    exercise(redis.addr(), "redis", probe, redis.pid());
}

#[test]
fn the_load_generators_speak_nats() {
    if !nats_available("MUXSCOPE_REQUIRE_NATS") {
        return;
    }
    let nats = Nats::start();
    let mut probe = Client::connect(nats.addr());
    probe.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB bench 9\r\nPING\r\n");
    probe.line_until("PONG\r");
    exercise(nats.addr(), "nats", probe, nats.pid());
}
