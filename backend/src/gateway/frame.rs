//! A frame: one serialized `/ws/events` message, serialized once for every watcher, with what
//! it stands for (seqs, events, table changes, totals) so a watcher that skips it knows what to
//! be told instead. Pure data: [`super::stream`] decides who gets which frame.

use bytes::Bytes;
use muxscope_shared::{Counters, Event, EventBody, ServerMsg, Snapshot};
use std::sync::{Arc, OnceLock};

/// Events a still picture is sent (and the frame's last wakeup): a little under what a busy page
/// animates of one picture (24, with room for the wakeup and the gaps). The rest of its frame is
/// folded into the gap after them.
pub const STILL_EVENTS: usize = 20;

/// A serialized `/ws/events` message and the event seqs it covers.
#[derive(Debug)]
pub struct Frame {
    /// Shared by every watcher it is sent to, never copied.
    pub json: Bytes,
    /// For a snapshot, the snapshot's seq; for events, the newest event the frame stands for,
    /// the ones it folded included (the mirror's seq when it was cut). A watcher that has seen
    /// up to this seq can skip the frame and lose nothing.
    pub last_seq: u64,
    pub snapshot: bool,
    /// Events the frame stands for (sent and folded, a gap counted as what it left out),
    /// whether any of them changed the fd table, and the totals after them: what a watcher that
    /// skips the frame must be told instead.
    pub events: u64,
    pub table: bool,
    pub counters: Counters,
    /// It carries a `gap` asking for a resync (the loop lost table changes, or the hub folded
    /// some): a snapshot that fixes it follows from the hub.
    pub resync: bool,
    /// The events the JSON holds (none for a snapshot), and whether each changed the fd table
    /// (which the event alone may not say: see `Snapshot::changed_by`), for [`Frame::still`].
    list: Vec<Event>,
    changed: Vec<bool>,
    still: OnceLock<Still>,
}

/// A frame cut down for a page that draws still pictures (see [`Frame::still`]).
#[derive(Debug)]
pub struct Still {
    pub json: Bytes,
    /// Events this cut left out changed the fd table: only the watcher it is sent to is missing
    /// them, so that watcher must ask for a snapshot. (A gap the frame already carried says so
    /// itself, with `resync`, and the hub sends the snapshot for it.)
    pub table: bool,
}

impl Frame {
    /// An events frame cut at `last_seq` (see the field).
    pub fn events(list: Vec<Event>, changed: Vec<bool>, last_seq: u64, events: u64, table: bool, counters: Counters) -> Frame {
        debug_assert_eq!(list.len(), changed.len());
        let msg = ServerMsg::Events { events: list };
        let json = serde_json::to_string(&msg).expect("events serialize").into();
        let ServerMsg::Events { events: list } = msg else { unreachable!("built as events") };
        let resync = list.iter().any(|e| matches!(e.body, EventBody::Gap { resync: true, .. }));
        Frame { json, last_seq, snapshot: false, events, table, counters, resync, list, changed, still: OnceLock::new() }
    }

    /// The frame as a page drawing one still picture a second wants it: only its last
    /// [`STILL_EVENTS`] events (and its last `wait`), then one folded gap standing for the rest
    /// (and for any gap the frame carried) with the totals after all of them, so the page's
    /// counts stay exact. A page of a flood parses and draws a few thousand bytes a second
    /// instead of ~30 KB. Built once, by the first still watcher that sends it, and shared.
    pub fn still(&self) -> &Still {
        self.still.get_or_init(|| {
            // The loop's events (its own gaps included); the hub's gaps have seq 0.
            let (real, hub_gaps): (Vec<_>, Vec<_>) = self.list.iter().zip(&self.changed).partition(|(e, _)| e.seq != 0);
            if real.len() <= STILL_EVENTS && hub_gaps.is_empty() {
                return Still { json: self.json.clone(), table: false };
            }
            let skip = real.len().saturating_sub(STILL_EVENTS);
            // The picture's wakeup: the frame's last `wait`, kept even when it is older than the
            // tail, so the page's wait bar shows this flood's ready list, not one from before it.
            let wait = real.iter().rposition(|(e, _)| matches!(e.body, EventBody::Wait { .. })).filter(|&i| i < skip);
            let (mut events, mut dropped, mut cut_table) = (Vec::new(), 0, false);
            for (i, (e, &changed)) in real.into_iter().enumerate() {
                if i >= skip || Some(i) == wait {
                    events.push(e.clone());
                } else {
                    dropped += e.body.stands_for();
                    cut_table |= changed;
                }
            }
            dropped += hub_gaps.iter().map(|(e, _)| e.body.stands_for()).sum::<u64>();
            let resync = cut_table || hub_gaps.iter().any(|(e, _)| e.body.changes_table());
            let ts_ns = events.last().map_or(0, |e| e.ts_ns);
            events.push(Event { seq: 0, ts_ns, body: EventBody::folded(dropped, resync, self.counters.clone()) });
            let json = serde_json::to_string(&ServerMsg::Events { events }).expect("events serialize").into();
            Still { json, table: cut_table }
        })
    }
}

pub fn snapshot_frame(s: &Snapshot) -> Arc<Frame> {
    let json = serde_json::to_string(&ServerMsg::Snapshot(s.clone())).expect("snapshot serializes").into();
    Arc::new(Frame {
        json,
        last_seq: s.seq,
        snapshot: true,
        events: 0,
        table: false,
        counters: s.counters.clone(),
        resync: false,
        list: Vec::new(),
        changed: Vec::new(),
        still: OnceLock::new(),
    })
}

/// An events message holding one gap (seq 0: counted, it moves no state; the snapshot after it
/// does, when `resync`).
pub fn gap_json(body: EventBody) -> String {
    serde_json::to_string(&ServerMsg::Events { events: vec![Event { seq: 0, ts_ns: 0, body }] }).expect("gap serializes")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use muxscope_shared::{CtlOp, Interest, Role};

    fn recv(seq: u64) -> Event {
        Event { seq, ts_ns: seq * 10, body: EventBody::Recv { fd: 7, bytes: 5, eof: false, would_block: false, lines: 1 } }
    }

    fn frame(list: Vec<Event>) -> Frame {
        let changed = list.iter().map(|e| e.body.changes_table()).collect();
        Frame::events(list, changed, 0, 0, false, Counters { messages: 999, ..Counters::default() })
    }

    pub(crate) fn events(json: &[u8]) -> Vec<Event> {
        let Ok(ServerMsg::Events { events }) = serde_json::from_slice(json) else {
            panic!("not events: {}", String::from_utf8_lossy(json))
        };
        events
    }

    #[test]
    fn a_still_picture_keeps_the_tail_and_folds_the_rest_with_the_totals() {
        // 150 events, the third a registration, then the hub's own fold of 40 more.
        let mut list: Vec<Event> = (1..=150).map(recv).collect();
        list[2].body = EventBody::Ctl { op: CtlOp::Add, fd: 9, interest: Some(Interest::Read), role: Role::Tcp, error: None };
        // The turn's wakeup, long before the tail.
        list[9].body = EventBody::Wait {
            timeout_ms: -1,
            registered: 9,
            ready: vec![],
            ready_total: 4,
            blocked_ns: 5,
            scanned: 4,
            rescan: 0,
            overflow: false,
        };
        list.push(Event { seq: 0, ts_ns: 0, body: EventBody::folded(40, false, Counters::default()) });
        let f = frame(list);
        let still = f.still();
        let got = events(&still.json);
        assert_eq!(got.len(), 1 + STILL_EVENTS + 1);
        // The wakeup, then the tail, in seq order.
        assert_eq!(
            got[..=STILL_EVENTS].iter().map(|e| e.seq).collect::<Vec<_>>(),
            std::iter::once(10).chain(131..=150).collect::<Vec<_>>()
        );
        assert!(matches!(got[0].body, EventBody::Wait { ready_total: 4, .. }));
        // The gap comes last, so its totals are the ones that stand.
        let want = EventBody::Gap {
            dropped: 129 + 40,
            folded: true,
            resync: true,
            counters: Some(Counters { messages: 999, ..Counters::default() }),
        };
        assert_eq!(got[STILL_EVENTS + 1].body, want);
        assert_eq!(got[STILL_EVENTS + 1].seq, 0);
        assert!(still.table, "a left-out registration owes the page a snapshot");
        assert!(std::ptr::eq(still, f.still()), "built once and shared");
    }

    #[test]
    fn a_fold_the_hub_made_is_the_hubs_to_resync() {
        // The tail is whole; only the hub's own gap left registrations out.
        let mut list: Vec<Event> = (1..=30).map(recv).collect();
        list.push(Event { seq: 0, ts_ns: 0, body: EventBody::folded(70, true, Counters::default()) });
        let f = frame(list);
        assert!(f.resync, "the frame says a snapshot follows");
        let got = events(&f.still().json);
        assert_eq!(
            got.last().unwrap().body,
            EventBody::folded(10 + 70, true, Counters { messages: 999, ..Counters::default() }),
            "the page is told a snapshot follows"
        );
        assert!(!f.still().table, "the hub sends that snapshot: the watcher need not ask for another");
    }

    #[test]
    fn a_short_frame_is_sent_whole() {
        let f = frame((1..=STILL_EVENTS as u64).map(recv).collect());
        assert_eq!(f.still().json, f.json);
        assert!(!f.still().table);
        // Without a registration among the folded, no snapshot is owed.
        let f = frame((1..=60).map(recv).collect());
        let got = events(&f.still().json);
        assert_eq!(got.last().unwrap().body, EventBody::folded(40, false, Counters { messages: 999, ..Counters::default() }));
        assert!(!f.still().table);
    }
}
