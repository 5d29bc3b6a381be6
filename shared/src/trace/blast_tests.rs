//! The flow budget ([`TraceOptions`]), and what a big room costs: a simulated 1,000-client
//! blast exports to less than a kilobyte per event.

use super::check::*;
use super::*;
use crate::EventBody;
use serde_json::Value;
use std::collections::BTreeMap;

/// `clients` connected on fds 5, 6, …, then `rounds` of a blast by the first `senders`: a wait
/// (every fourth with 256 ready fds, the most an event holds), a recv of 8 lines from each
/// sender and their broadcasts to everyone, and coalesced sends to the next 4 clients in turn
/// (a blast's sends carry many lines each: most of its events are broadcasts).
fn blast(clients: i32, senders: i32, rounds: usize) -> H {
    let mut h = H::new();
    let fds: Vec<i32> = (5..5 + clients).collect();
    for &fd in &fds {
        h.connect(fd, &format!("127.0.0.1:{}", 40_000 + fd));
    }
    let mut next = 0;
    for round in 0..rounds {
        let ready: Vec<i32> =
            if round % 4 == 0 { fds.iter().copied().cycle().skip(round).take(256).collect() } else { fds[..senders as usize].to_vec() };
        h.wait(2_000, &ready);
        for from in 5..5 + senders {
            h.ev(EventBody::Recv { fd: from, bytes: 512, eof: false, would_block: false, lines: 8 });
            for line in 0..8 {
                let text = format!("blast {from} {round:06} {line} {}", "x".repeat(40));
                h.ev(EventBody::Broadcast { from, name: format!("sender{from}"), recipients: clients as u32, bytes: 64, text });
            }
        }
        for _ in 0..4 {
            h.send(fds[next % fds.len()], 64 * 8 * senders as u64 * 250);
            next += 1;
        }
    }
    h
}

/// The trace of `h` written with `opts`, checked, with the summary the writer returned.
fn traced(h: &H, opts: TraceOptions) -> (Trace, TraceSummary, usize) {
    let mut out = Vec::new();
    let summary = write_chrome_trace_with(&h.items, &mut out, opts).unwrap();
    let t = check(std::str::from_utf8(&out).unwrap());
    assert_eq!(t.metadata["summary"], serde_json::to_value(&summary).unwrap());
    assert_eq!(t.metadata["flows_omitted"].as_u64(), Some(summary.flows_omitted));
    assert_eq!(t.metadata["flow_budget"], serde_json::to_value(opts).unwrap());
    assert_eq!((summary.flows, summary.flow_ends), (t.flows().len() as u64, t.flows().len() as u64));
    (t, summary, out.len())
}

/// Each broadcast's `(flows, flows_omitted)`, in order, after checking that its flows follow it.
fn fan_outs(t: &Trace) -> Vec<(u64, Option<u64>)> {
    let mut out = Vec::new();
    for (i, e) in t.events.iter().enumerate().filter(|(_, e)| e["name"] == "broadcast" && e["ph"] == "X") {
        let n = e["args"]["flows"].as_u64().unwrap();
        let after = &t.events[i + 1..];
        assert!(after[..n as usize].iter().all(|f| f["ph"] == "s" && f["tid"] == e["tid"]), "{e}");
        assert_ne!(after.get(n as usize).map(|f| &f["ph"]), Some(&Value::from("s")), "more flows than it says: {e}");
        out.push((n, e["args"]["flows_omitted"].as_u64()));
    }
    out
}

fn room(clients: i32) -> H {
    let mut h = H::new();
    for fd in 5..5 + clients {
        h.connect(fd, &format!("c:{fd}"));
    }
    h
}

#[test]
fn the_budget_in_all_is_spent_exactly_and_every_flow_left_out_is_counted() {
    let mut h = room(10);
    for _ in 0..5 {
        h.say(5, 10);
    }
    for fd in 5..15 {
        h.send(fd, 90);
    }
    let (t, s, _) = traced(&h, TraceOptions { max_flows: 23, ..TraceOptions::UNLIMITED });
    assert_eq!(fan_outs(&t), [(10, None), (10, None), (3, Some(7)), (0, Some(10)), (0, Some(10))]);
    assert_eq!((s.flows, s.flow_ends, s.flows_omitted), (23, 23, 27));
    // Every flow drawn ended on its recipient's send.
    assert!(t.named("unsent at end").next().is_none());
    // The same through the constructor the page and the CLI use.
    let mut out = Vec::new();
    let mut w = ChromeTrace::with_max_flows(&mut out, 23).unwrap();
    h.items.iter().try_for_each(|m| w.push(m)).unwrap();
    assert_eq!(w.finish().unwrap(), s);
}

#[test]
fn a_big_room_draws_a_fan_out_per_broadcast_taking_the_recipients_in_turn() {
    let mut h = room(10);
    for from in [5, 6, 7, 8, 9] {
        h.say(from, 10);
    }
    for fd in 5..15 {
        h.send(fd, 450);
    }
    let (t, s, _) = traced(&h, TraceOptions { max_flows_per_broadcast: 4, ..TraceOptions::UNLIMITED });
    assert_eq!(fan_outs(&t), [(4, Some(6)); 5]);
    assert_eq!((s.flows, s.flows_omitted), (20, 30));
    // Five fan-outs of four, taken in turn round ten clients: each got two arrows.
    let mut per_track: BTreeMap<u64, usize> = BTreeMap::new();
    for (_, (_, end)) in t.flows() {
        *per_track.entry(end).or_default() += 1;
    }
    assert_eq!(per_track.len(), 10, "{per_track:?}");
    assert!(per_track.values().all(|&n| n == 2), "{per_track:?}");
    // A room no bigger than the fan-out is drawn whole.
    let (t, s, _) = traced(&h, TraceOptions { max_flows_per_broadcast: 10, ..TraceOptions::UNLIMITED });
    assert_eq!(fan_outs(&t), [(10, None); 5]);
    assert_eq!(s.flows_omitted, 0);
}

#[test]
fn flows_are_paced_by_the_events_read_and_spread_over_the_whole_trace() {
    let h = blast(100, 2, 60);
    let opts = TraceOptions { max_flows: 0, max_flows_per_broadcast: 10, flows_per_event: 1, flow_burst: 20 };
    let (t, s, _) = traced(&h, opts);
    let mut drawn = 0;
    let mut drawing = Vec::new();
    for e in t.events.iter().filter(|e| e["name"] == "broadcast" && e["ph"] == "X") {
        let n = e["args"]["flows"].as_u64().unwrap();
        assert!(n == 0 || n == 10, "a fan-out is drawn whole or not at all: {e}");
        assert_eq!(n + e["args"]["flows_omitted"].as_u64().unwrap(), 100);
        drawn += n;
        // Events are numbered from 1 and none is skipped: its seq is how many were read.
        let read = e["args"]["seq"].as_u64().unwrap();
        assert!(drawn <= 20 + read, "{drawn} flows drawn by event {read}");
        drawing.push(n > 0);
    }
    assert_eq!(s.flows, drawn);
    assert_eq!(s.flows + s.flows_omitted, drawing.len() as u64 * 100);
    let last_tenth = &drawing[drawing.len() * 9 / 10..];
    assert!(last_tenth.iter().filter(|&&d| d).count() >= 2, "the end of the trace has arrows too");
}

#[test]
fn the_default_budget_in_all_binds_a_long_blast_exactly() {
    let h = blast(200, 4, 120);
    let opts = TraceOptions::with_max_flows(5_000);
    assert_eq!(opts, TraceOptions { max_flows: 5_000, ..TraceOptions::default() });
    let (t, s, _) = traced(&h, opts);
    let fans = fan_outs(&t);
    assert_eq!(s.flows, 5_000);
    assert_eq!(s.flows + s.flows_omitted, fans.len() as u64 * 200);
    assert!(fans.iter().all(|&(n, omitted)| n <= 64 && omitted == Some(200 - n)));
    assert_eq!(fans.last(), Some(&(0, Some(200))));
}

#[test]
fn no_limit_draws_every_flow() {
    let h = blast(100, 2, 10);
    let (t, s, _) = traced(&h, TraceOptions::with_max_flows(0));
    assert_eq!(TraceOptions::with_max_flows(0), TraceOptions::UNLIMITED);
    assert!(fan_outs(&t).iter().all(|&f| f == (100, None)));
    assert_eq!((s.flows, s.flows_omitted), (10 * 2 * 8 * 100, 0));
}

/// The 18 GB export this budget is for, in small: a 1,000-client blast of 4 senders.
#[test]
fn a_1000_client_blast_exports_in_under_a_kilobyte_per_event() {
    let h = blast(1_000, 4, 500);
    let (t, s, bytes) = traced(&h, TraceOptions::default());
    let per_event = bytes as f64 / s.events as f64;
    eprintln!(
        "1,000-client blast: {} events, {bytes} bytes, {per_event:.0} bytes/event, {} flows drawn, {} left out",
        s.events, s.flows, s.flows_omitted
    );
    assert!(per_event < 1024.0, "{per_event:.0} bytes per event");
    let fans = fan_outs(&t);
    assert_eq!(fans.len(), 500 * 4 * 8);
    assert_eq!(s.flows + s.flows_omitted, fans.len() as u64 * 1_000);
    assert!(s.flows <= DEFAULT_FLOW_BURST + DEFAULT_FLOWS_PER_EVENT as u64 * s.events);
    assert!(fans[fans.len() - 100..].iter().any(|&(n, _)| n == 64), "the last broadcasts draw fan-outs too");
    // Every client's track gets arrows.
    let ends: std::collections::BTreeSet<u64> = t.flows().values().map(|&(_, end)| end).collect();
    assert_eq!(ends.len(), 1_000);
}
