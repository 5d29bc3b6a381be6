use super::*;

fn body(fd: i32) -> EventBody {
    EventBody::Nick { fd, name: "x".into(), role: muxscope_shared::Role::Tcp }
}

#[test]
fn nothing_is_built_without_a_subscriber() {
    let (mut tel, rx) = channel();
    tel.begin_turn(|| Counters { wakeups: 7, ..Counters::default() });
    let mut built = false;
    tel.emit(|| {
        built = true;
        body(1)
    });
    tel.flush();
    assert!(!built);
    assert!(rx.rx.try_recv().is_err());
    assert_eq!(tel.seq(), 1, "numbered all the same: the loop's clock runs while nobody watches");
}

#[test]
fn a_full_queue_becomes_a_counted_gap() {
    let (mut tel, rx) = channel();
    rx.tap.subscribed.store(true, Ordering::Relaxed);
    for turn in 0..QUEUE_BATCHES + 3 {
        tel.begin_turn(|| Counters { wakeups: 7, ..Counters::default() });
        tel.emit_table(|| body(turn as i32));
        tel.flush();
    }
    // Turn 32 lost its event; turns 33 and 34, backing off, only counted theirs.
    assert_eq!(tel.dropped_total(), 3);
    assert_eq!(rx.tap.dropped.load(Ordering::Relaxed), 3);
    let mut seqs = vec![];
    while let Ok(Batch::Events(b)) = rx.rx.try_recv() {
        seqs.extend(b.iter().map(|e| e.seq));
    }
    assert_eq!(seqs, (1..=QUEUE_BATCHES as u64).collect::<Vec<_>>());
    // While backing off nothing is built; then the gap comes first.
    let mut built = false;
    // Turns 33 and 34 used two of the back-off turns, and each begin_turn counts one down.
    for _ in 0..BACKOFF_TURNS - 3 {
        tel.begin_turn(|| Counters { wakeups: 7, ..Counters::default() });
        tel.emit_table(|| {
            built = true;
            body(0)
        });
        tel.flush();
    }
    assert!(!built, "events were built while the consumer was known to be full");
    tel.begin_turn(|| Counters { wakeups: 7, ..Counters::default() });
    tel.flush();
    let Ok(Batch::Events(b)) = rx.rx.try_recv() else { panic!("no gap batch") };
    let dropped = 3 + (BACKOFF_TURNS as u64 - 3);
    let EventBody::Gap { dropped: d, folded: false, resync: true, counters: Some(c) } = &b[0].body else {
        panic!("not a resync gap with counters: {:?}", b[0].body)
    };
    assert_eq!((*d, c.wakeups, c.dropped_events), (dropped, 7, dropped), "lost nicks ask for a resync; totals ride along");
    // The stream has no unexplained hole: last seen + dropped + 1.
    assert_eq!(b[0].seq, QUEUE_BATCHES as u64 + dropped + 1);
}

#[test]
fn one_turn_is_capped() {
    let (mut tel, rx) = channel();
    rx.tap.subscribed.store(true, Ordering::Relaxed);
    tel.begin_turn(|| Counters { wakeups: 7, ..Counters::default() });
    for i in 0..MAX_BATCH + 10 {
        tel.emit_table(|| body(i as i32));
    }
    tel.flush();
    let Ok(Batch::Events(b)) = rx.rx.try_recv() else { panic!() };
    assert_eq!(b.len(), MAX_BATCH);
    assert_eq!(tel.dropped_total(), 10);
}

/// The gap after a capped turn: `resync` only when what was lost changed the fd table.
#[test]
fn a_gap_asks_for_a_resync_only_when_the_table_changed() {
    for table in [false, true] {
        let (mut tel, rx) = channel();
        rx.tap.subscribed.store(true, Ordering::Relaxed);
        tel.begin_turn(Counters::default);
        // A batch full of table changes (those are never folded)...
        for i in 0..MAX_BATCH {
            tel.emit_table(|| body(i as i32));
        }
        tel.emit(|| EventBody::Recv { fd: 5, bytes: 1, eof: false, would_block: false, lines: 0 });
        if table {
            tel.emit_table(|| body(5));
        }
        tel.flush();
        tel.begin_turn(|| Counters { messages: 3, ..Counters::default() });
        tel.flush();
        let _ = rx.rx.try_recv();
        let Ok(Batch::Events(b)) = rx.rx.try_recv() else { panic!("no gap") };
        let lost = 1 + table as u64;
        assert_eq!(
            b[0].body,
            EventBody::Gap {
                dropped: lost,
                folded: false,
                resync: table,
                counters: Some(Counters { messages: 3, dropped_events: lost, ..Counters::default() })
            }
        );
        // Reported: the next gap starts from nothing.
        tel.emit(|| EventBody::Recv { fd: 5, bytes: 1, eof: false, would_block: false, lines: 0 });
        assert_eq!((tel.unreported, tel.unreported_table), (0, 0));
    }
}

/// A flooded turn builds its first `TURN_DETAIL` events that leave the table alone, and
/// every one that changes it; the rest are told as one folded gap, not as drops.
#[test]
fn a_flooded_turn_describes_its_first_events_and_folds_the_rest() {
    let (mut tel, rx) = channel();
    let recv = || EventBody::Recv { fd: 5, bytes: 1, eof: false, would_block: false, lines: 1 };
    // Nobody watching: nothing is built or folded, only numbered.
    tel.begin_turn(Counters::default);
    for _ in 0..TURN_DETAIL + 5 {
        tel.emit(recv);
    }
    tel.flush();
    let base = tel.seq();
    assert_eq!(base, (TURN_DETAIL + 5) as u64);
    assert!(!tel.owes_gap(), "unwatched events are no gap: a snapshot will cover them");
    rx.tap.subscribed.store(true, Ordering::Relaxed);
    tel.begin_turn(Counters::default);
    let mut built = 0;
    for i in 0..TURN_DETAIL + 100 {
        tel.emit(|| {
            built += 1;
            recv()
        });
        if i % 200 == 199 {
            tel.emit_table(|| body(i as i32));
        }
    }
    tel.end_turn(|| Counters { messages: 612, ..Counters::default() });
    assert_eq!(built, TURN_DETAIL, "only the turn's detail is built");
    let Ok(Batch::Events(b)) = rx.rx.try_recv() else { panic!("no batch") };
    assert_eq!(b.len(), TURN_DETAIL + 3 + 1, "every table change is built, then the gap: {}", b.len());
    // The third table change came after 600 reads, 88 of them folded: seqs count them all.
    assert_eq!(b[b.len() - 2].seq, base + 600 + 3, "seqs go on through folded events");
    // The turn's own batch ends with its folded gap and the totals after it.
    assert_eq!(
        b.last().unwrap().body,
        EventBody::folded(100, false, Counters { messages: 612, ..Counters::default() }),
        "the 100 reads not built are folded"
    );
    assert_eq!(b.last().unwrap().seq, base + (TURN_DETAIL + 100 + 3 + 1) as u64);
    assert!(!tel.owes_gap(), "told at once: the loop need not wake again for it");
    assert_eq!(tel.dropped_total(), 0, "folding is not dropping");
    // Told once; a new turn starts a new detail.
    tel.begin_turn(Counters::default);
    tel.emit(recv);
    tel.flush();
    let Ok(Batch::Events(b)) = rx.rx.try_recv() else { panic!("no batch") };
    assert!(matches!(b[..], [Event { body: EventBody::Recv { .. }, .. }]), "{b:?}");
}

#[test]
fn a_recording_takes_every_event_unwatched_and_a_full_queue_is_a_gap_then_a_snapshot() {
    use muxscope_shared::pack::unpack;
    let (mut tel, hub) = channel();
    let (rec, chunks, stats) = rec_channel();
    tel.record_to(rec);
    tel.record_every_turn();
    tel.begin_turn(Counters::default);
    // Before the first snapshot: already in it, left out of the file.
    tel.emit_table(|| body(1));
    assert!(tel.record_wants_snapshot());
    tel.record_snapshot(Snapshot::empty());
    assert!(!tel.record_wants_snapshot());
    tel.flush();
    // The snapshot took one place; the queue fills, and three turns are lost.
    for turn in 0..REC_QUEUE_CHUNKS + 2 {
        tel.begin_turn(Counters::default);
        tel.emit_table(|| body(turn as i32));
        tel.emit(|| body(-1));
        tel.end_turn(Counters::default);
    }
    assert!(hub.rx.try_recv().is_err(), "nobody watches: the watchers' queue gets nothing");
    assert_eq!(stats.lost.load(Ordering::Relaxed), 6);
    assert!(tel.record_wants_snapshot(), "lost events changed the table");
    assert!(tel.owes_gap());
    let mut seqs = vec![];
    for c in chunks.try_iter() {
        match c {
            RecChunk::Snapshot(_) => assert!(seqs.is_empty(), "the snapshot comes first"),
            RecChunk::Events { bytes, events } => {
                let ev = unpack(&bytes).unwrap();
                assert_eq!(ev.len() as u64, events);
                seqs.extend(ev.iter().map(|e| e.seq));
            }
        }
    }
    // Every event numbered, in order, none folded: 2 a turn for the turns that fit.
    assert_eq!(seqs, (2..2 + 2 * (REC_QUEUE_CHUNKS as u64 - 1)).collect::<Vec<_>>());
    tel.begin_turn(|| Counters { wakeups: 9, ..Counters::default() });
    tel.emit(|| body(999));
    tel.end_turn(Counters::default);
    tel.record_snapshot(Snapshot::empty());
    let Ok(RecChunk::Events { bytes, .. }) = chunks.try_recv() else { panic!("events first") };
    let ev = unpack(&bytes).unwrap();
    match &ev[0].body {
        EventBody::Gap { dropped: 6, resync: true, counters: Some(c), folded: false } => assert_eq!(c.wakeups, 9),
        other => panic!("expected the recorder's gap, got {other:?}"),
    }
    assert_eq!(ev[0].seq, 0, "a gap of the recording is not one of the loop's events");
    assert_eq!(ev[1].body, body(999));
    assert!(matches!(chunks.try_recv(), Ok(RecChunk::Snapshot(_))), "then the fresh snapshot");
    assert!(!tel.owes_gap());
}

#[test]
fn a_recording_hands_over_in_batches_and_nothing_waits_for_long() {
    let (mut tel, _hub) = channel();
    let (rec, chunks, stats) = rec_channel();
    tel.record_to(rec);
    tel.begin_turn(Counters::default);
    tel.record_snapshot(Snapshot::empty());
    for turn in 0..100 {
        tel.begin_turn(Counters::default);
        tel.emit(|| body(turn));
        tel.end_turn(Counters::default);
    }
    // A hundred quick turns: one snapshot, no events handed over yet; nothing wakes the loop
    // for them (a wakeup would be in the picture), and a short wait keeps them.
    assert_eq!(chunks.try_iter().count(), 1);
    assert!(!tel.owes_gap());
    tel.before_wait(Some(std::time::Duration::from_millis(1)));
    assert_eq!(chunks.try_iter().count(), 0);
    // A wait that may be long: handed over first.
    tel.before_wait(None);
    let got: Vec<RecChunk> = chunks.try_iter().collect();
    assert!(matches!(&got[..], [RecChunk::Events { events: 100, .. }]), "{got:?}");
    // A busy loop that never waits long hands over every REC_HANDOVER_NS.
    tel.begin_turn(Counters::default);
    tel.emit(|| body(1));
    tel.end_turn(Counters::default);
    std::thread::sleep(std::time::Duration::from_nanos(REC_HANDOVER_NS));
    tel.begin_turn(Counters::default);
    tel.end_turn(Counters::default);
    assert!(matches!(chunks.try_recv(), Ok(RecChunk::Events { events: 1, .. })));
    // What is packed when the loop ends is handed over, not lost.
    tel.begin_turn(Counters::default);
    tel.emit(|| body(7));
    tel.end_turn(Counters::default);
    drop(tel);
    assert!(matches!(chunks.try_recv(), Ok(RecChunk::Events { events: 1, .. })));
    assert_eq!(stats.lost.load(Ordering::Relaxed), 0);
}

#[test]
fn a_loss_is_told_by_the_first_thing_recorded_after_it_and_at_the_end() {
    use muxscope_shared::pack::unpack;
    let (mut tel, _hub) = channel();
    let (rec, chunks, stats) = rec_channel();
    tel.record_to(rec);
    tel.begin_turn(Counters::default);
    tel.record_snapshot(Snapshot::empty());
    // Every turn handed over before a long wait, until the queue is full: the last two are lost
    // in `before_wait`, after their turn began.
    for turn in 0..REC_QUEUE_CHUNKS + 1 {
        tel.begin_turn(Counters::default);
        tel.emit_table(|| body(turn as i32));
        tel.end_turn(Counters::default);
        tel.before_wait(None);
    }
    assert_eq!(stats.lost.load(Ordering::Relaxed), 2);
    let kept: Vec<RecChunk> = chunks.try_iter().collect();
    assert_eq!(kept.len(), REC_QUEUE_CHUNKS);
    // The wait returns: its event is the first thing after the loss, so the gap comes before it.
    tel.emit(|| body(-5));
    assert!(tel.record_wants_snapshot(), "the lost events changed the table");
    tel.record_snapshot(Snapshot::empty());
    let Ok(RecChunk::Events { bytes, .. }) = chunks.try_recv() else { panic!("the gap and the event first") };
    let ev = unpack(&bytes).unwrap();
    assert!(matches!(ev[0].body, EventBody::Gap { dropped: 2, resync: true, .. }), "{:?}", ev[0]);
    assert_eq!(ev[1].body, body(-5));
    assert!(matches!(chunks.try_recv(), Ok(RecChunk::Snapshot(_))), "then the snapshot that repairs it");
    // Lost at the very end: told by a gap at the end of the file.
    for turn in 0..REC_QUEUE_CHUNKS + 1 {
        tel.begin_turn(Counters::default);
        tel.emit(|| body(turn as i32));
        tel.end_turn(Counters::default);
        tel.before_wait(None);
    }
    let lost = stats.lost.load(Ordering::Relaxed) - 2;
    assert!(lost > 0);
    let _ = chunks.try_iter().count();
    drop(tel);
    let last: Vec<EventBody> = chunks
        .try_iter()
        .flat_map(|c| match c {
            RecChunk::Events { bytes, .. } => unpack(&bytes).unwrap().into_iter().map(|e| e.body).collect(),
            RecChunk::Snapshot(_) => vec![],
        })
        .collect();
    assert!(matches!(last.last(), Some(EventBody::Gap { dropped, .. }) if *dropped == lost), "{last:?}");
}

#[test]
fn the_recorders_queue_is_bounded_in_bytes_too() {
    let (mut tel, _hub) = channel();
    let (rec, chunks, stats) = rec_channel();
    tel.record_to(rec);
    tel.begin_turn(Counters::default);
    tel.record_snapshot(Snapshot::empty());
    // As if the disk stalled with REC_QUEUE_BYTES waiting: the next batch is lost, not queued.
    stats.queued.store(REC_QUEUE_BYTES, Ordering::Relaxed);
    tel.begin_turn(Counters::default);
    tel.emit(|| body(1));
    tel.before_wait(None);
    assert_eq!(stats.lost.load(Ordering::Relaxed), 1);
    assert_eq!(chunks.try_iter().count(), 1, "only the snapshot");
}
