//! The tour engine: step order, next and back, arrival over event sequences, and every tour's
//! words and targets.

use super::*;
use crate::i18n::Lang;
use muxscope_shared::{CloseReason, CtlOp, EventBody, Interest, ReadyFd, ReadyFlags, Role};

fn ev(seq: u64, body: EventBody) -> (u64, Event) {
    (seq, Event { seq, ts_ns: seq * 1000, body })
}

fn add(fd: i32) -> EventBody {
    EventBody::Ctl { op: CtlOp::Add, fd, interest: Some(Interest::Read), role: Role::Bot, error: None }
}

fn wait(ready: &[i32], scanned: u32) -> EventBody {
    EventBody::Wait {
        timeout_ms: -1,
        registered: 10,
        ready: ready.iter().map(|&fd| ReadyFd { fd, flags: ReadyFlags::default() }).collect(),
        ready_total: ready.len() as u32,
        blocked_ns: 1000,
        scanned,
        rescan: 0,
        overflow: false,
    }
}

fn recv(fd: i32, bytes: u32) -> EventBody {
    EventBody::Recv { fd, bytes, eof: false, would_block: bytes == 0, lines: u32::from(bytes > 0) }
}

fn broadcast(from: i32) -> EventBody {
    EventBody::Broadcast { from, name: "bot-1".into(), recipients: 2, bytes: 10, text: "hi".into() }
}

fn send(fd: i32) -> EventBody {
    EventBody::Send { fd, bytes: 10, would_block: false, queued: 0 }
}

/// A bot joins at 10 and names itself at 11, then one message: the listener's wakeup, a stray wakeup, the bot's.
fn one_message() -> Vec<(u64, Event)> {
    vec![
        ev(9, EventBody::Accept { fd: 7, peer: "127.0.0.1:1".into(), listener: 3 }),
        ev(10, add(7)),
        ev(11, EventBody::Nick { fd: 7, name: "bot-1".into(), role: Role::Bot }),
        ev(12, wait(&[9], 2)),
        ev(13, recv(8, 5)), // an fd not in that wakeup's ready list: not its copy
        ev(14, wait(&[7], 2)),
        ev(15, recv(7, 12)),
        ev(16, recv(7, 0)),
        ev(17, broadcast(7)),
        ev(18, send(7)),
        ev(19, send(9)),
    ]
}

#[test]
fn every_tour_is_found_by_its_slug_and_has_words_in_both_languages_and_targets() {
    let names: Vec<_> = TOURS.iter().map(|t| t.name).collect();
    assert_eq!(names, ["join", "message", "slow-reader", "select-wall", "scan-cost", "et", "threads"]);
    for t in &TOURS {
        assert_eq!(find(t.name).map(|f| f.name), Some(t.name));
        assert_eq!(from_hash(&format!("#tour={}", t.name)).map(|f| f.name), Some(t.name));
        assert!(!t.steps.is_empty(), "{}", t.name);
        for lang in Lang::ALL {
            assert!(!t.title.t(lang).is_empty());
        }
        for (i, s) in t.steps.iter().enumerate() {
            let (en, zh) = (s.text.t(Lang::En), s.text.t(Lang::Zh));
            assert!(!en.is_empty() && !zh.is_empty() && en != zh, "{} step {i}", t.name);
            assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{} step {i}: Chinese", t.name);
            let sel = s.target.selector();
            assert!(!sel.is_empty() && sel.matches('[').count() == sel.matches(']').count(), "{sel}");
            assert!(!s.until.pattern.is_empty() && s.until.at < s.until.pattern.len(), "{} step {i}", t.name);
        }
        // The first step drives the room (or, for the slow reader, waits for the class's nc).
        assert!(!t.steps[0].drive.is_empty() || t.name == "slow-reader", "{}", t.name);
    }
    assert!(find("nope").is_none());
    assert_eq!(from_hash("#lang=zh&tour=message").map(|t| t.name), Some("message"));
    assert_eq!(Target::Role("bot").selector(), "[data-testid=\"fd-node\"][data-role=\"bot\"]");
    for w in crate::i18n::TourText::ALL {
        assert!(!w.t(Lang::En).is_empty() && !w.t(Lang::Zh).is_empty(), "{w:?}");
    }
}

#[test]
fn the_message_tour_walks_one_message_and_back() {
    let tour = find("message").unwrap();
    let (mut run, fx) = Run::start(tour, 10, Some(muxscope_shared::Model::Epoll));
    assert_eq!(fx, [Effect::Live, Effect::Drive(Drive::AddBots { add: 1, rate: 0.5 })]);
    assert_eq!(Drive::AddBots { add: 1, rate: 0.5 }.request().2.as_deref(), Some("{\"add\":1,\"rate\":0.5}"));
    assert!(!run.is_arrived());
    assert_eq!(run.fed(), 10);
    let events = one_message();
    // The bot's hello (`/role bot`) arrives the first step, at its event.
    assert_eq!(run.feed(&events[..3], 12, &End::default()), Some(Effect::Seek(12)));
    assert!(run.is_arrived());
    // Next: no drive, the pattern is matched again from the origin, the newest wakeup wins.
    assert_eq!(run.next(12), [Effect::Live]);
    assert_eq!(run.fed(), 10, "matched from where the room was driven");
    assert_eq!(run.feed(&events[..6], 15, &End::default()), None, "a wakeup, but no recv of its ready fd yet");
    assert_eq!(run.feed(&events[6..], 20, &End::default()), Some(Effect::Seek(15)), "the wakeup whose ready fd recv copied from");
    let arrivals: Vec<Option<Effect>> = (2..6)
        .map(|_| {
            run.next(20);
            let from = run.fed();
            run.feed(&events.iter().filter(|(i, _)| *i >= from).cloned().collect::<Vec<_>>(), 20, &End::default())
        })
        .collect();
    // ready list (the same wakeup), recv, broadcast, the first send.
    assert_eq!(arrivals, [Some(Effect::Seek(15)), Some(Effect::Seek(16)), Some(Effect::Seek(18)), Some(Effect::Seek(19))]);
    assert!(run.is_last());
    assert_eq!(run.next(20), [], "nothing after the last");
    // Back: where that step arrived, nothing driven again.
    assert_eq!(run.back(20), [Effect::Seek(18)]);
    assert_eq!(run.step, 4);
    assert_eq!(run.next(20), [Effect::Seek(19)]);
    assert_eq!(run.end(), [Effect::Live, Effect::Drive(Drive::RemoveBots)], "its bots go, no model to restore");
    for _ in 0..10 {
        run.back(20);
    }
    assert_eq!((run.step, run.back(20)), (0, vec![]));
}

#[test]
fn patterns_over_event_sequences() {
    let seen = |pattern: &'static [Cond], events: Vec<EventBody>| -> Option<Vec<u64>> {
        let mut m = Matcher::new(pattern);
        let mut out = None;
        for (i, e) in events.iter().enumerate() {
            out = m.see(i as u64, e).map(|h| h.to_vec());
        }
        out
    };
    // A slow reader: queued, armed, then cut.
    let armed = EventBody::Ctl { op: CtlOp::Mod, fd: 7, interest: Some(Interest::ReadWrite), role: Role::Tcp, error: None };
    let queued = EventBody::Send { fd: 7, bytes: 10, would_block: true, queued: 4096 };
    let cut = EventBody::Close { fd: 7, reason: CloseReason::OutputSoftLimit, detail: None };
    assert_eq!(
        seen(&[Cond::SendQueued, Cond::WriteArmed, Cond::Cut], vec![armed.clone(), queued.clone(), send(3), armed, cut]),
        Some(vec![1, 3, 4])
    );
    // Order matters: a cut before anything queued is not this story.
    let cut2 = EventBody::Close { fd: 8, reason: CloseReason::OutputHardLimit, detail: None };
    assert_eq!(seen(&[Cond::SendQueued, Cond::Cut], vec![cut2.clone(), queued]), None);
    // select's wall: a refused fd, then the room still served.
    let refused = EventBody::Close { fd: 1030, reason: CloseReason::SelectorLimit, detail: None };
    assert_eq!(seen(&[Cond::Refused, Cond::Broadcast], vec![broadcast(5), refused, wait(&[5], 900), broadcast(5)]), Some(vec![1, 3]));
    // Scan cost: poll scans every fd, epoll only the ready ones.
    let switched = |model| EventBody::Model { model, from: None };
    use muxscope_shared::Model as M;
    assert_eq!(
        seen(&[Cond::Model(M::Poll), Cond::Scanned(1000)], vec![wait(&[5], 1200), switched(M::Poll), wait(&[5], 40), wait(&[5], 1003)]),
        Some(vec![1, 3])
    );
    assert_eq!(seen(&[Cond::Model(M::Epoll), Cond::NoScan], vec![switched(M::Epoll), wait(&[5], 1003), wait(&[5], 1)]), Some(vec![0, 2]));
    // ET drains to EAGAIN; counted adds; threads.
    assert_eq!(seen(&[Cond::RecvData, Cond::RecvEagain], vec![recv(5, 0), recv(5, 9), recv(5, 0)]), Some(vec![1, 2]));
    assert_eq!(seen(&[Cond::Adds(3)], vec![add(5), add(6), wait(&[], 0), add(7)]), Some(vec![3]));
    let spawn = EventBody::Thread { op: muxscope_shared::ThreadOp::Spawn, tid: 1, fd: 5, role: muxscope_shared::ThreadRole::Reader };
    assert_eq!(seen(&[Cond::Model(M::Blocking), Cond::Spawn], vec![spawn.clone(), switched(M::Blocking), spawn]), Some(vec![1, 2]));
    // A refused add is no join; the listener's accept is.
    let refused_add =
        EventBody::Ctl { op: CtlOp::Add, fd: 1030, interest: Some(Interest::Read), role: Role::Bot, error: Some("EINVAL".into()) };
    assert_eq!(seen(&[Cond::CtlAdd], vec![refused_add.clone()]), None);
    assert_eq!(seen(&[Cond::Refused], vec![refused_add]), Some(vec![0]));
}

#[test]
fn a_tour_that_switches_models_restores_the_first_one_at_its_end() {
    let tour = find("scan-cost").unwrap();
    let (mut run, _) = Run::start(tour, 0, Some(muxscope_shared::Model::Sigio));
    let fx = run.next(5);
    assert_eq!(fx, [Effect::Live, Effect::Drive(Drive::Model(muxscope_shared::Model::Poll))]);
    assert_eq!(run.fed(), 5, "a driving step matches from its own start");
    assert_eq!(run.end(), [Effect::Live, Effect::Drive(Drive::RemoveBots), Effect::Drive(Drive::Model(muxscope_shared::Model::Sigio))]);
    // Ended before it drove anything: nothing to undo but the pause.
    let (run, _) = Run::start(find("slow-reader").unwrap(), 0, None);
    assert_eq!(run.end(), [Effect::Live]);
}

#[test]
fn a_switch_told_by_a_snapshot_still_arrives() {
    use muxscope_shared::Model as M;
    let (mut run, _) = Run::start(find("et").unwrap(), 0, Some(M::Epoll));
    // No `model` event kept (folded), the history's end serving epoll: not yet.
    assert_eq!(run.feed(&[ev(3, recv(5, 4))], 4, &End { serving: Some(M::Epoll), clients: 0, ..End::default() }), None);
    // Then the end shows epoll-et: arrived there.
    assert_eq!(run.feed(&[], 9, &End { serving: Some(M::EpollEt), clients: 0, ..End::default() }), Some(Effect::Seek(9)));
    // The step after matches from the same origin: the model again, then a drain.
    run.next(9);
    assert_eq!(
        run.feed(&[ev(9, recv(5, 7)), ev(10, recv(5, 0))], 11, &End { serving: Some(M::EpollEt), clients: 0, ..End::default() }),
        Some(Effect::Seek(11))
    );
}

#[test]
fn a_room_filled_in_a_flood_arrives_by_its_count() {
    // The joins were folded away: the count at the history's end tells.
    let (mut run, _) = Run::start(find("scan-cost").unwrap(), 0, Some(muxscope_shared::Model::Epoll));
    assert_eq!(
        run.feed(&[ev(0, wait(&[3], 1))], 1, &End { serving: Some(muxscope_shared::Model::Epoll), clients: 400, ..End::default() }),
        None
    );
    assert_eq!(
        run.feed(&[ev(1, wait(&[3], 1))], 2, &End { serving: Some(muxscope_shared::Model::Epoll), clients: 1000, ..End::default() }),
        Some(Effect::Seek(2))
    );
}

#[test]
fn a_slow_reader_folded_in_a_flood_is_followed_by_what_the_end_shows() {
    let (mut run, _) = Run::start(find("slow-reader").unwrap(), 0, None);
    assert_eq!(
        run.feed(&[ev(0, EventBody::Accept { fd: 9, peer: "127.0.0.1:2".into(), listener: 3 })], 1, &End::default()),
        Some(Effect::Seek(1))
    );
    run.next(1);
    let owed = End { owed: vec![9], fds: vec![3, 9], ..End::default() };
    assert_eq!(run.feed(&[], 5, &End { fds: vec![3, 9], ..End::default() }), None, "nothing owed yet");
    assert_eq!(run.feed(&[], 8, &owed), Some(Effect::Seek(8)));
    run.next(8);
    // Matched again from the origin: owed, then fd 9's write interest (another fd's is not it).
    let armed_other = End { armed: vec![4], ..owed.clone() };
    assert_eq!(run.feed(&[], 9, &armed_other), None);
    assert_eq!(run.feed(&[], 12, &End { armed: vec![9], ..owed.clone() }), Some(Effect::Seek(12)));
    run.next(12);
    assert_eq!(run.feed(&[], 14, &owed), None, "still there");
    assert_eq!(run.feed(&[], 20, &End { fds: vec![3], ..End::default() }), Some(Effect::Seek(20)), "gone: cut");
}
