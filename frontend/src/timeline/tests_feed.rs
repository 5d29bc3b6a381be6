//! The feed: a window built only when needed, slid forward while live with no seek, and the same
//! as one built from scratch.

use super::feed::{Feed, Source, LIVE_REBUILD_MS};
use super::lanes::{build_window, MAX_WINDOW_EVENTS};
use muxscope_shared::{CloseReason, Event, EventBody, Snapshot};
use std::cell::Cell;

/// A history over a list of events (indices may skip, where a snapshot item would be).
struct Hist {
    events: Vec<(u64, Event)>,
    first: u64,
    end: u64,
    cursor: u64,
    seeks: Cell<usize>,
    read: Cell<usize>,
}

impl Source for Hist {
    fn first_index(&self) -> u64 {
        self.first
    }
    fn end_index(&self) -> u64 {
        self.end
    }
    fn cursor(&self) -> u64 {
        self.cursor
    }
    fn events_between(&self, from: u64, to: u64) -> Vec<(u64, Event)> {
        let out: Vec<_> = self.events.iter().filter(|(i, _)| (from..to).contains(i)).cloned().collect();
        self.read.set(self.read.get() + out.len());
        out
    }
    fn snapshot_at(&self, i: u64) -> Option<Snapshot> {
        self.seeks.set(self.seeks.get() + 1);
        Some(table_at(&self.events, i))
    }
}

fn table_at(events: &[(u64, Event)], i: u64) -> Snapshot {
    let mut s = Snapshot::empty();
    for (_, e) in events.iter().filter(|(j, _)| *j < i) {
        s.apply(e);
    }
    s
}

/// `n` events of a room of 50 where one connection leaves and one joins every 100 events, and a
/// line goes out every 10.
fn room(n: u64) -> Hist {
    let events = (0..n)
        .map(|k| {
            let fd = 5 + (k / 100 % 50) as i32;
            let body = match k % 100 {
                0 => EventBody::Close { fd, reason: CloseReason::Quit, detail: None },
                1 => EventBody::Accept { fd, peer: format!("10.0.0.1:{k}"), listener: 3 },
                k if k % 10 == 5 => EventBody::Broadcast { from: fd, name: "x".into(), recipients: 50, bytes: 9, text: "hi".into() },
                _ => EventBody::Send { fd: 5 + (k % 50) as i32, bytes: 9, would_block: false, queued: 0 },
            };
            (k, Event { seq: k + 1, ts_ns: 1_000 * (k + 1), body })
        })
        .collect();
    Hist { events, first: 0, end: n, cursor: n, seeks: Cell::new(0), read: Cell::new(0) }
}

/// What a window over `[from, to)` built from scratch looks like.
fn fresh(h: &Hist, from: u64, to: u64) -> super::Window {
    let events: Vec<_> = h.events.iter().filter(|(i, _)| (from..to).contains(i)).cloned().collect();
    build_window(&table_at(&h.events, from), &events)
}

#[test]
fn live_it_rebuilds_at_most_every_quarter_second_and_slides_without_seeking() {
    let n = MAX_WINDOW_EVENTS as u64;
    let mut h = room(n + 5_000);
    (h.end, h.cursor) = (n, n);
    let mut feed = Feed::default();
    let first = feed.update(&h, 1_000.0);
    assert_eq!((h.seeks.get(), first.first_index, first.end_index), (1, 0, n));
    (h.end, h.cursor) = (n + 100, n + 100);
    let again = feed.update(&h, 1_100.0);
    assert!(std::rc::Rc::ptr_eq(&first, &again), "a new event waits for the next build");
    (h.end, h.cursor) = (n + 3_000, n + 3_000);
    let slid = feed.update(&h, 1_000.0 + LIVE_REBUILD_MS);
    assert_eq!((slid.first_index, slid.end_index), (3_000, n + 3_000));
    assert_eq!(h.seeks.get(), 1, "no seek while live");
    assert_eq!(h.read.get() as u64, n + 3_000, "each event read once");
    assert_eq!(*slid, fresh(&h, 3_000, n + 3_000));
}

#[test]
fn paused_it_builds_only_when_the_cursor_leaves_the_window() {
    let n = MAX_WINDOW_EVENTS as u64;
    let mut h = room(3 * n);
    let mut feed = Feed::default();
    feed.update(&h, 0.0);
    h.cursor = 3 * n - 10;
    feed.update(&h, 10.0);
    h.cursor = 3 * n - 500;
    let w = feed.update(&h, 20.0);
    assert_eq!((h.seeks.get(), w.first_index), (1, 2 * n), "stepping back inside the window");
    h.cursor = n;
    let w = feed.update(&h, 30.0);
    assert_eq!(h.seeks.get(), 2, "a jump seeks");
    assert_eq!((w.first_index, w.end_index), (n / 2, n + n / 2));
    assert_eq!(*w, fresh(&h, n / 2, n + n / 2));
}

#[test]
fn a_snapshot_item_in_what_is_let_go_takes_the_table_from_the_history() {
    let n = MAX_WINDOW_EVENTS as u64;
    let mut h = room(n + 1_000);
    // Index 500 is a snapshot item: no event has it.
    h.events.retain(|(i, _)| *i != 500);
    (h.end, h.cursor) = (n, n);
    let mut feed = Feed::default();
    feed.update(&h, 0.0);
    (h.end, h.cursor) = (n + 1_000, n + 1_000);
    let w = feed.update(&h, 1_000.0);
    assert_eq!(h.seeks.get(), 2);
    assert_eq!(*w, fresh(&h, 1_000, n + 1_000));
}

#[test]
fn older_history_let_go_moves_the_window_and_a_closed_timeline_builds_again() {
    let mut h = room(1_000);
    let mut feed = Feed::default();
    feed.update(&h, 0.0);
    h.cursor = 900;
    feed.update(&h, 1.0);
    assert_eq!(h.seeks.get(), 1);
    // The feed holds the events the history let go: it folds them, no seek.
    h.first = 100;
    let w = feed.update(&h, 2.0);
    assert_eq!((h.seeks.get(), w.first_index), (1, 100));
    assert_eq!(*w, fresh(&h, 100, 1_000));
    feed.clear();
    h.seeks.set(1);
    feed.update(&h, 3.0);
    assert_eq!(h.seeks.get(), 2);
}

#[test]
fn the_page_history_is_a_source() {
    use crate::history::{History, Timeline};
    use crate::state::Item;
    let n = MAX_WINDOW_EVENTS as u64;
    let hist = room(n + 2_000);
    let mut table = Snapshot::empty();
    table.fds = (5..55)
        .map(|fd| muxscope_shared::FdInfo {
            fd,
            role: muxscope_shared::Role::Tcp,
            interest: muxscope_shared::Interest::Read,
            name: format!("c{fd}"),
            pending_out: 0,
        })
        .collect();
    let mut h = History::new(usize::MAX);
    h.push(Item::Snapshot(table));
    for (_, e) in &hist.events[..n as usize] {
        h.push(Item::Event(e.clone()));
    }
    let mut t = Timeline::new(h);
    // What a window over [from, to) is, from the history's own table and events.
    let fresh = |t: &Timeline, from: u64, to: u64| build_window(&t.history().seek(from).unwrap().snap, &t.events_between(from, to));
    let mut feed = Feed::default();
    let w = feed.update(&t, 0.0);
    assert_eq!((w.first_index, w.end_index), (1, n + 1), "index 0 is the snapshot");
    assert_eq!(*w, fresh(&t, 1, n + 1));
    assert_eq!(w.lanes.iter().filter(|l| l.opened.is_none()).count(), 50);
    for (_, e) in &hist.events[n as usize..] {
        t.push(Item::Event(e.clone()));
    }
    let w = feed.update(&t, LIVE_REBUILD_MS);
    assert_eq!((w.first_index, w.end_index), (2_001, n + 2_001));
    assert_eq!(*w, fresh(&t, 2_001, n + 2_001), "slid forward, the same as built from the history");
    assert!(t.seek(n / 2));
    let w = feed.update(&t, 2.0 * LIVE_REBUILD_MS);
    assert!(w.first_index < n / 2 && n / 2 < w.end_index);
    assert_eq!(*w, fresh(&t, w.first_index, w.end_index));
}
