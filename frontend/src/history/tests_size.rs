//! What the history costs in a realistic busy session (`synthetic::busy_room`: a thousand
//! clients, a few talking each turn, a `send` per client per line), unfolded as the page stores
//! a recording: its heaviest case.
//!
//! `cargo test -p muxscope-frontend --release -- --ignored --nocapture history_of_a_million`
//! measures bytes per event and seek times over a 1 M-event history (BENCHMARKS.md).

use super::synthetic::{busy_room, seek_bench, SeekBench};
use super::*;
use std::time::Instant;

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

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn history_of_a_million_events() {
    let t0 = Instant::now();
    let now = move || t0.elapsed().as_secs_f64() * 1e3;
    for clients in [10, 1000, 10_000] {
        let b: SeekBench = seek_bench(clients, 1_000_000, 200, &now);
        println!(
            "BENCH history clients={clients} events={} bytes_per_event={:.1} keyframes={} build_ms={:.0} seek_mean_ms={:.2} seek_max_ms={:.2} seek_longest_replay_ms={:.2}",
            b.events, b.bytes_per_event, b.keyframes, b.build_ms, b.seek_mean_ms, b.seek_max_ms, b.seek_longest_ms
        );
    }
}
