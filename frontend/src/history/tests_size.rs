//! What the history costs in a realistic busy session: a thousand clients join, a few of them
//! talk every turn, and every line goes out to all of them (a `send` per client per turn).
//! The page stores these unfolded when it shows a recording, so this is its heaviest case.
//!
//! `cargo test -p muxscope-frontend --release -- --ignored --nocapture history_of_a_million`
//! measures bytes per event and seek times over a 1 M-event history (BENCHMARKS.md).

use super::*;
use muxscope_shared::{CtlOp, Event, EventBody, FdInfo, Interest, Model as IoModel, ReadyFd, ReadyFlags, Role};
use std::time::{Duration, Instant};

/// A busy room of `clients`, played until it has about `events` events.
pub(crate) fn busy_room(clients: i32, events: u64) -> impl Iterator<Item = Item> {
    let mut seq = 0u64;
    let mut ts = 1_000_000_000u64;
    let mut ev = move |body: EventBody, dt: u64| {
        seq += 1;
        ts += dt;
        Item::Event(Event { seq, ts_ns: ts, body })
    };
    let listener = FdInfo { fd: 3, role: Role::Listener, interest: Interest::Read, name: "127.0.0.1:3999".into(), pending_out: 0 };
    let first = Item::Snapshot(Snapshot {
        model: Some(IoModel::Epoll),
        poller: "epoll".into(),
        chat_addr: "127.0.0.1:3999".into(),
        fds: vec![listener],
        ..Snapshot::empty()
    });
    let fds = 5..5 + clients;
    let joins: Vec<Item> = fds
        .clone()
        .flat_map(|fd| {
            let peer = format!("127.0.0.1:{}", 40_000 + fd);
            vec![
                ev(EventBody::Accept { fd, peer, listener: 3 }, 20_000),
                ev(EventBody::Ctl { op: CtlOp::Add, fd, interest: Some(Interest::Read), role: Role::Tcp, error: None }, 2_000),
                ev(EventBody::Nick { fd, name: format!("user{fd}"), role: Role::Tcp }, 50_000),
            ]
        })
        .collect();
    let mut turn = 0u64;
    let chat = std::iter::from_fn(move || {
        turn += 1;
        // One to three talkers a turn, each a line of about 40 bytes.
        let talkers: Vec<i32> = (0..1 + turn % 3).map(|k| 5 + ((turn * 7919 + k * 104_729) % clients as u64) as i32).collect();
        let ready = talkers.iter().map(|fd| ReadyFd { fd: *fd, flags: ReadyFlags(ReadyFlags::IN) }).collect::<Vec<_>>();
        let mut out = vec![ev(
            EventBody::Wait {
                timeout_ms: -1,
                registered: clients as u32 + 1,
                ready_total: ready.len() as u32,
                ready,
                blocked_ns: 300_000 + turn % 1000 * 1000,
                scanned: talkers.len() as u32,
                rescan: 0,
                overflow: false,
            },
            400_000,
        )];
        for from in &talkers {
            out.push(ev(EventBody::Recv { fd: *from, bytes: 41, eof: false, would_block: false, lines: 1 }, 3_000));
            let text = format!("message {turn} from a client, about forty");
            out.push(ev(
                EventBody::Broadcast { from: *from, name: format!("user{from}"), recipients: clients as u32, bytes: 52, text },
                2_000,
            ));
        }
        let bytes = 52 * talkers.len() as u64;
        out.extend((5..5 + clients).map(|fd| ev(EventBody::Send { fd, bytes, would_block: false, queued: 0 }, 4_000)));
        Some(out)
    })
    .flatten();
    std::iter::once(first).chain(joins).chain(chat).take(events as usize)
}

/// Bytes per event of a history of `events` events of a busy room of `clients`.
fn bytes_per_event(clients: i32, events: u64) -> (History, f64) {
    let mut h = History::new(usize::MAX);
    for item in busy_room(clients, events) {
        h.push(item);
    }
    let per = h.bytes() as f64 / h.end_index() as f64;
    (h, per)
}

#[test]
fn a_busy_room_costs_under_40_bytes_per_event() {
    let (h, per) = bytes_per_event(1000, 100_000);
    println!("history of a busy room of 1,000: {per:.1} bytes/event ({} events, {} keyframes)", h.end_index(), h.keyframes());
    assert!(per < 40.0, "{per:.1} bytes per event");
    assert_eq!(h.bytes(), h.bytes_counted());
}

/// Seeks to `n` points spread over the history; the slowest and the mean.
fn seek_times(h: &History, n: u64) -> (Duration, Duration) {
    let (first, end) = (h.first_index(), h.end_index());
    let mut worst = Duration::ZERO;
    let mut total = Duration::ZERO;
    for k in 0..n {
        let i = first + (k * 7919 * 104_729) % (end - first);
        let t0 = Instant::now();
        let s = h.seek(i).expect("held");
        let dt = t0.elapsed();
        std::hint::black_box(s);
        worst = worst.max(dt);
        total += dt;
    }
    (worst, total / n as u32)
}

/// Seeks to the last cursor of each segment (the longest replay there is); the slowest.
fn worst_seek(h: &History) -> Duration {
    let ends: Vec<u64> = h.segments.iter().map(|s| s.end()).filter(|e| *e > h.first_index()).collect();
    ends.iter()
        .map(|&i| {
            let t0 = Instant::now();
            std::hint::black_box(h.seek(i - 1));
            t0.elapsed()
        })
        .max()
        .unwrap_or_default()
}

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn history_of_a_million_events() {
    for clients in [10, 1000, 10_000] {
        let t0 = Instant::now();
        let (h, per) = bytes_per_event(clients, 1_000_000);
        let build = t0.elapsed();
        let (worst, mean) = seek_times(&h, 200);
        let longest = worst_seek(&h);
        println!(
            "BENCH history clients={clients} events={} bytes_per_event={per:.1} MiB={:.1} keyframes={} build_s={:.2} seek_mean_ms={:.2} seek_max_ms={:.2} seek_longest_replay_ms={:.2}",
            h.end_index(),
            h.bytes() as f64 / (1 << 20) as f64,
            h.keyframes(),
            build.as_secs_f64(),
            mean.as_secs_f64() * 1e3,
            worst.as_secs_f64() * 1e3,
            longest.as_secs_f64() * 1e3
        );
    }
}
