//! The history's queries: indices, times, events of a stretch, a recording in and out.

use super::*;
use crate::state::{Action, Model};
use muxscope_shared::{Event, EventBody, ServerMsg};

fn ev(seq: u64, ts_ns: u64) -> Event {
    Event { seq, ts_ns, body: EventBody::Recv { fd: 5, bytes: 3, eof: false, would_block: false, lines: 1 } }
}

fn snap(seq: u64, ts_ns: u64) -> Snapshot {
    Snapshot { seq, ts_ns, ..Snapshot::empty() }
}

/// A snapshot at index 0, events 1..=40 (ts 10 µs apart), a snapshot at 41, events 42..=60.
fn sample() -> History {
    let mut h = History::with_spacing(usize::MAX, 8);
    h.push(Item::Snapshot(snap(0, 0)));
    for i in 1..=40 {
        h.push(Item::Event(ev(i, i * 10_000)));
    }
    h.push(Item::Snapshot(snap(500, 405_000)));
    for i in 42..=60 {
        h.push(Item::Event(ev(500 + i, i * 10_000)));
    }
    h
}

#[test]
fn indices_times_and_stretches() {
    let h = sample();
    assert_eq!((h.first_index(), h.end_index()), (0, 61));
    assert!(h.keyframes() >= 7, "a keyframe at most every 8 events, and one per snapshot: {}", h.keyframes());
    assert_eq!(h.ts_at(0), Some(0));
    assert_eq!(h.ts_at(11), Some(100_000), "after items[..11]: the event of index 10");
    assert_eq!(h.ts_at(42), Some(405_000), "the snapshot is later than the events before it");
    assert_eq!(h.index_at_ts(100_000), 11);
    assert_eq!(h.index_at_ts(100_001), 11);
    assert_eq!(h.index_at_ts(99_999), 10);
    assert_eq!(h.index_at_ts(404_000), 41, "before the snapshot at 41");
    assert_eq!(h.index_at_ts(u64::MAX), 61);
    let between = h.events_between(38, 44);
    let idx: Vec<u64> = between.iter().map(|(i, _)| *i).collect();
    assert_eq!(idx, [38, 39, 40, 42, 43], "index 41 is a snapshot, not an event");
    assert_eq!(between[3].1.seq, 542);
    assert!(h.events_between(70, 80).is_empty());
}

#[test]
fn a_history_saved_as_a_recording_plays_back_the_same() {
    let h = sample();
    let again = History::from_recording(h.to_recording(), usize::MAX);
    assert_eq!(again.end_index(), h.end_index());
    for i in [0, 1, 20, 41, 42, 61] {
        assert_eq!(again.seek(i).map(|s| s.snap), h.seek(i).map(|s| s.snap), "at {i}");
    }
}

#[test]
fn a_recording_of_the_newest_part_starts_from_a_keyframe_and_ends_the_same() {
    let h = sample();
    for from in [0, 5, 17, 33, 41, 50, 61] {
        let part: Vec<ServerMsg> = h.recording_from(from).collect();
        let again = History::from_recording(part.clone(), usize::MAX);
        // It holds `from` and what follows; its last picture is the history's.
        let held = part.iter().map(|m| if let ServerMsg::Events { events } = m { events.len() } else { 0 }).sum::<usize>();
        assert!(held as u64 >= h.end_index().saturating_sub(from + 2), "from {from}: {held} events");
        assert_eq!(again.seek(again.end_index()).map(|s| s.snap), h.seek(h.end_index()).map(|s| s.snap), "from {from}");
        if from > 0 {
            assert!(matches!(part.first(), Some(ServerMsg::Snapshot(_))), "from {from}: a keyframe's snapshot first");
        }
    }
    assert_eq!(h.recording_from(0).collect::<Vec<_>>(), h.to_recording());
}

#[test]
fn an_opened_recording_starts_paused_at_its_start_and_plays_at_its_pace() {
    let mut m = Model::default();
    m.update(Action::Tick(0.0));
    let events: Vec<Event> = (1..=100).map(|i| ev(i, i * 1_000_000)).collect();
    m.update(Action::Open(vec![ServerMsg::Snapshot(snap(0, 0)), ServerMsg::Events { events }]));
    assert!(m.player.paused);
    assert_eq!(m.cursor(), m.timeline().first_index());
    assert_eq!(m.timeline().end_index(), 101);
    // Resumed at 0.5×: 20 ms of the page is 10 ms of the recording.
    m.update(Action::Speed(0.5));
    m.update(Action::Resume);
    m.update(Action::Tick(1000.0));
    let start = m.cursor();
    m.update(Action::Tick(1020.0));
    assert_eq!(m.scene().ts_ns, m.timeline().ts_at(m.cursor()).unwrap());
    assert_eq!(m.cursor() - start, 10, "10 ms of events, one a millisecond");
    m.update(Action::Tick(1_000_000.0));
    assert_eq!(m.cursor(), 101, "at the end it stays");
    m.update(Action::Seek(50));
    assert!(m.player.paused);
    assert_eq!(m.cursor(), 50);
}

#[test]
fn the_oldest_go_past_the_bound_and_the_page_says_so() {
    let mut m = Model::with_history(History::with_spacing(64 << 10, 64));
    m.update(Action::Server(ServerMsg::Snapshot(snap(0, 0))));
    m.update(Action::Tick(0.0));
    for k in 0..200u64 {
        let events: Vec<Event> = (0..100).map(|i| ev(1 + k * 100 + i, (k * 100 + i) * 1000)).collect();
        m.update(Action::Receive(vec![ServerMsg::Events { events }], k as f64 * 50.0));
    }
    let stats = m.history_stats();
    assert!(stats.evicted > 0 && stats.bytes <= 64 << 10, "{stats:?}");
    assert_eq!(stats.items + stats.evicted + 1, m.timeline().end_index(), "held, or let go and counted (and the first snapshot)");
    assert!(m.notes().any(|n| matches!(n.note, crate::state::Note::Evicted { .. })));
    // Seeking before what is held goes to the oldest point still held.
    m.update(Action::Seek(0));
    assert_eq!(m.cursor(), m.timeline().first_index());
}
