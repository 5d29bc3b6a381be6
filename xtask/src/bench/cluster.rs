//! Section (k) of the bench: what the cluster's hop through Redis costs (issue 14). In one run,
//! every server up at once and the rows measured alternately:
//!
//! - **plain**: one `muxscope` without `--cluster` (what the relay itself costs);
//! - **one node**: one `muxscope --cluster` on a Redis of its own (it publishes every line, and
//!   Redis sends it back to it alone, where it is skipped), so both sides pay the publishing;
//! - **3 nodes**: three `muxscope --cluster` nodes on another Redis, the clients spread over them
//!   round-robin (`muxscope bench … --target A --target B --target C`), the sender on the first.
//!
//! Fan-out: one 64 B line to 9,000 idle clients, until the last on any node has it. Blast: 3,000
//! clients (3 × 1,000 in the cluster), 4 senders (spread too), deliveries/s on every node. Every
//! node has its web port (nobody watches: the loop builds no events) so the relay's counters can
//! be read from `GET /api/stats` after each run.

use super::{bench, f, median, muxscope, redis, Proc, Report};
use crate::{step, Result};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const REDIS_SOLO: u16 = 5050;
const REDIS_CLUSTER: u16 = 5056;

struct Node {
    _proc: Proc,
    chat: String,
    web: u16,
}

fn node(chat: u16, web: u16, cluster: Option<(u16, &str)>) -> Result<Node> {
    let web_addr = format!("127.0.0.1:{web}");
    let mut extra = vec!["--web-addr".to_string(), web_addr];
    if let Some((redis, name)) = cluster {
        extra.extend(["--cluster".into(), format!("redis://127.0.0.1:{redis}"), "--node".into(), name.into()]);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    Ok(Node { _proc: muxscope(chat, &extra)?, chat: format!("127.0.0.1:{chat}"), web })
}

/// `GET /api/stats` of a node.
fn stats(web: u16) -> Result<Value> {
    crate::soak::sample::api_stats(SocketAddr::from(([127, 0, 0, 1], web))).map_err(|e| format!("GET /api/stats on port {web}: {e}"))
}

/// Waits (at most 15 s) until every node's relay is up and sees all `nodes.len()` nodes.
fn wait_up(nodes: &[&Node]) -> Result {
    let t0 = Instant::now();
    loop {
        let mut ok = true;
        for n in nodes {
            let v = stats(n.web)?;
            let r = &v["relay"];
            ok &= r["state"] == "up" && r["nodes"].as_array().map_or(0, |a| a.len()) == nodes.len();
        }
        if ok {
            return Ok(());
        }
        if t0.elapsed() > Duration::from_secs(15) {
            return Err(format!("the relays of {} nodes were not all up with each other within 15 s", nodes.len()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The relay counters summed over `nodes` (published, received, lost_down, lost_slow, missed).
/// A node's status is refreshed at its heartbeat (every second): call after a pause.
fn counters(nodes: &[&Node]) -> Result<[u64; 5]> {
    let mut c = [0u64; 5];
    for n in nodes {
        let v = stats(n.web)?;
        for (i, k) in ["published", "received", "lost_down", "lost_slow", "missed"].iter().enumerate() {
            c[i] += v["relay"][k].as_u64().unwrap_or(0);
        }
    }
    Ok(c)
}

fn targets(nodes: &[&Node]) -> Vec<String> {
    nodes.iter().flat_map(|n| ["--target".to_string(), n.chat.clone()]).collect()
}

pub fn section(quick: bool, r: &mut Report) -> Result {
    let runs = if quick { 1 } else { 3 };
    let rounds = if quick { "10" } else { "20" };
    let secs = if quick { "2" } else { "3" };
    let fan_n: usize = if quick { 3000 } else { 9000 };
    step(&format!("(k) cluster: fan-out to {fan_n} clients and blast, one node vs 3 nodes through Redis ({runs} alternating runs)"));
    let _redis_solo = redis(REDIS_SOLO)?;
    let _redis_cluster = redis(REDIS_CLUSTER)?;
    let plain = node(5051, 5061, None)?;
    let solo = node(5052, 5062, Some((REDIS_SOLO, "solo")))?;
    let c1 = node(5053, 5063, Some((REDIS_CLUSTER, "n1")))?;
    let c2 = node(5054, 5064, Some((REDIS_CLUSTER, "n2")))?;
    let c3 = node(5055, 5065, Some((REDIS_CLUSTER, "n3")))?;
    let rows: [(&str, Vec<&Node>); 3] = [
        ("one node, plain (no --cluster)", vec![&plain]),
        ("one node, --cluster (its own Redis)", vec![&solo]),
        ("3 nodes through Redis", vec![&c1, &c2, &c3]),
    ];
    let relayed = |i: usize| i > 0;
    let check_up = |i: usize, nodes: &[&Node]| if relayed(i) { wait_up(nodes) } else { Ok(()) };
    for (i, (_, nodes)) in rows.iter().enumerate() {
        check_up(i, nodes)?;
    }
    let clusters: Vec<&Node> = vec![&c1, &c2, &c3];
    let before = counters(&clusters)?;
    let solo_before = counters(&[&solo])?;

    // Fan-out, the rows alternating within each run.
    // Two sizes: 3 clients (one on each node in the cluster), where the fan-out itself is nothing and
    // the difference is the hop alone, and `fan_n`, the room.
    let sizes = [3, fan_n];
    let mut fan: Vec<Vec<Vec<(f64, f64)>>> = vec![vec![vec![]; rows.len()]; sizes.len()];
    for _ in 0..runs {
        for (s, n) in sizes.iter().enumerate() {
            let n = n.to_string();
            for (i, (name, nodes)) in rows.iter().enumerate() {
                check_up(i, nodes)?;
                eprintln!("    fan-out to {n}, {name}");
                let mut args: Vec<String> = ["fanout", "--clients", &n, "--rounds", rounds].iter().map(|s| s.to_string()).collect();
                args.extend(targets(nodes));
                let v = bench(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
                fan[s][i].push((f(&v, "p50_ms"), f(&v, "p95_ms")));
            }
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    let after_fan = counters(&clusters)?;

    // Blast, the same way.
    let mut blast: Vec<Vec<f64>> = vec![vec![]; rows.len()];
    let mut cut = vec![0u64; rows.len()];
    for _ in 0..runs {
        for (i, (name, nodes)) in rows.iter().enumerate() {
            check_up(i, nodes)?;
            eprintln!("    blast, {name}");
            let mut args: Vec<String> =
                ["blast", "--clients", "3000", "--senders", "4", "--seconds", secs].iter().map(|s| s.to_string()).collect();
            args.extend(targets(nodes));
            let v = bench(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
            blast[i].push(f(&v, "deliveries_per_sec"));
            cut[i] += v["receivers_cut"].as_u64().unwrap_or(0);
            // What Redis and the relays still hold drains before the next row.
            std::thread::sleep(Duration::from_millis(1500));
        }
    }
    let after_blast = counters(&clusters)?;
    let solo_after = counters(&[&solo])?;

    r.line(String::new());
    r.line(format!(
        "## (k) the cluster's hop through Redis: fan-out to 3 and to {fan_n} clients, {rounds} rounds; p50 / p95 in ms, median of {runs} alternating runs"
    ));
    r.line("| target | fan-out p50 / p95 (median of runs) | runs p50 / p95 | hop: p50 / p95 over one node --cluster |".into());
    r.line("|---|---|---|---|".into());
    for (s, n) in sizes.iter().enumerate() {
        let fan = &fan[s];
        let med = |i: usize| (median(fan[i].iter().map(|x| x.0).collect()), median(fan[i].iter().map(|x| x.1).collect()));
        let (solo50, solo95) = med(1);
        // Milliseconds, with more digits where they are small.
        let ms = |x: f64| if x.abs() < 10.0 { format!("{x:.2}") } else { format!("{x:.1}") };
        for (i, (name, _)) in rows.iter().enumerate() {
            let (p50, p95) = med(i);
            let all: Vec<String> = fan[i].iter().map(|&(a, b)| format!("{} / {}", ms(a), ms(b))).collect();
            let sign = |x: f64| if x >= 0.0 { format!("+{}", ms(x)) } else { format!("−{}", ms(-x)) };
            let hop = if i == 2 { format!("**{} / {} ms**", sign(p50 - solo50), sign(p95 - solo95)) } else { String::new() };
            let label = if i == 2 { format!("{name}, 3 × {}", n / 3) } else { format!("{name}, {n}") };
            r.line(format!("| {label} | {} / {} | {} | {hop} |", ms(p50), ms(p95), all.join(", ")));
        }
    }
    r.line(String::new());
    r.line(format!("### (k) blast: 3,000 clients, 4 senders, deliveries/s on every node, median of {runs} × {secs} s"));
    r.line("| target | deliveries/s (median) | runs | ÷ one node, plain | receivers cut |".into());
    r.line("|---|---|---|---|---|".into());
    let base = median(blast[0].clone());
    for (i, (name, _)) in rows.iter().enumerate() {
        let m = median(blast[i].clone());
        let all: Vec<String> = blast[i].iter().map(|x| format!("{:.2} M", x / 1e6)).collect();
        let label = if i == 2 { format!("{name} (3 × 1,000, senders 2+1+1)") } else { name.to_string() };
        r.line(format!("| {label} | {:.2} M | {} | {:.2} | {} |", m / 1e6, all.join(", "), m / base, cut[i]));
    }
    let d = |a: [u64; 5], b: [u64; 5]| -> Vec<u64> { (0..5).map(|k| b[k] - a[k]).collect() };
    for (who, what, c) in [
        ("The 3 nodes' relays", "fan-out", d(before, after_fan)),
        ("The 3 nodes' relays", "blast", d(after_fan, after_blast)),
        ("The one --cluster node's relay", "the whole section", d(solo_before, solo_after)),
    ] {
        r.line(format!(
            "\n{who} during {what} (sums): {} lines published, {} remote lines fanned out, {} not relayed while down, {} not relayed past the queue bound (lost_slow), {} missed (seq gaps).",
            c[0], c[1], c[2], c[3], c[4]
        ));
    }
    r.line(String::new());
    Ok(())
}
