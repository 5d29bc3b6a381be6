//! Each warning rule on short sequences that fire it, and on near misses that must not.

use super::text::{badge, explain, plot_title, title};
use super::*;
use crate::i18n::{Lang, Sight};
use crate::state::{Item, Scene};
use muxscope_shared::{CloseReason, Counters, CtlOp, EventBody, FdInfo, Interest, ReadyFd, ReadyFlags, Role, PROTOCOL_VERSION};

const MS: u64 = 1_000_000;

/// A scene fed by hand: a snapshot of `model` with clients on `fds`, then events.
pub(super) struct Feed {
    pub scene: Scene,
    index: u64,
    seq: u64,
}

pub(super) fn snapshot(model: IoModel, fds: &[i32], seq: u64, ts_ns: u64) -> Snapshot {
    let mut all = vec![FdInfo { fd: 3, role: Role::Listener, interest: Interest::Read, name: "l".into(), pending_out: 0 }];
    all.extend(fds.iter().map(|fd| FdInfo { fd: *fd, role: Role::Tcp, interest: Interest::Read, name: format!("c{fd}"), pending_out: 0 }));
    Snapshot {
        version: PROTOCOL_VERSION,
        poller: model.name().into(),
        model: Some(model),
        chat_addr: "l".into(),
        fds: all,
        handover: false,
        threads: vec![],
        relay: None,
        counters: Counters::default(),
        seq,
        ts_ns,
    }
}

pub(super) fn wait(blocked_ns: u64, ready: &[i32]) -> EventBody {
    EventBody::Wait {
        timeout_ms: -1,
        registered: 1,
        ready: ready.iter().map(|fd| ReadyFd { fd: *fd, flags: ReadyFlags(ReadyFlags::IN) }).collect(),
        ready_total: ready.len() as u32,
        blocked_ns,
        scanned: 1,
        rescan: 0,
        overflow: false,
    }
}

pub(super) fn recv(fd: i32, bytes: u32, would_block: bool) -> EventBody {
    EventBody::Recv { fd, bytes, eof: false, would_block, lines: bytes / 20 }
}

pub(super) fn send(fd: i32, bytes: u64) -> EventBody {
    EventBody::Send { fd, bytes, would_block: false, queued: 0 }
}

impl Feed {
    pub fn new(model: IoModel, fds: &[i32]) -> Feed {
        let mut f = Feed { scene: Scene::default(), index: 0, seq: 10 };
        f.scene.apply(0, Item::Snapshot(snapshot(model, fds, 10, 0)));
        f.index = 1;
        f
    }

    /// One event at loop time `ts_ns`.
    pub fn at(&mut self, ts_ns: u64, body: EventBody) -> &mut Feed {
        self.seq += 1;
        self.scene.apply(self.index, Item::Event(Event { seq: self.seq, ts_ns, body }));
        self.index += 1;
        self
    }

    pub fn get(&self, kind: Kind) -> Option<&Warning> {
        self.scene.insight.warnings.get(kind)
    }

    pub fn none(&self) -> bool {
        self.scene.insight.warnings.all().next().is_none()
    }
}

#[test]
fn a_long_turn_is_a_blocked_loop_naming_its_busiest_fd() {
    let mut f = Feed::new(IoModel::Epoll, &[5, 6]);
    // Returned at 10 ms; reads 5 (small), 6 (big, in two recvs); the next wait is entered at
    // 10 + 80 ms (it returns at 100 ms after blocking 10 ms).
    f.at(10 * MS, wait(1_000, &[5, 6])).at(11 * MS, recv(5, 10, false)).at(12 * MS, recv(6, 4000, false));
    f.at(13 * MS, recv(6, 4000, true)).at(14 * MS, send(5, 100)).at(100 * MS, wait(10 * MS, &[]));
    let w = f.get(Kind::Blocked).expect("fired");
    assert_eq!((w.fd, w.value, w.count, w.at), (Some(6), 80, 1, 6));
    assert!(f.get(Kind::EtStarved).is_none(), "level-triggered reads need not reach EAGAIN");
}

#[test]
fn a_long_wait_is_no_blocked_loop() {
    let mut f = Feed::new(IoModel::Epoll, &[5]);
    // 2 s asleep in the kernel, 40 ms of work: blocking in the wait is what a loop should do.
    f.at(MS, wait(0, &[5])).at(2 * MS, recv(5, 10, false)).at(2_041 * MS, wait(2_000 * MS, &[]));
    f.at(2_042 * MS, EventBody::UringEnter { submitted: 1, wait_nr: 1, blocked_ns: 0 });
    // A switch that takes a while is not a handler's turn.
    f.at(2_043 * MS, EventBody::Handover { from: IoModel::Epoll, to: IoModel::Poll });
    f.at(2_300 * MS, EventBody::Model { model: IoModel::Poll, from: Some(IoModel::Epoll) });
    f.at(2_301 * MS, wait(0, &[])).at(2_302 * MS, wait(0, &[]));
    assert!(f.none(), "{:?}", f.scene.insight.warnings);
}

#[test]
fn a_cut_for_output_limits_is_a_slow_consumer_with_its_name() {
    let mut f = Feed::new(IoModel::Epoll, &[5, 6, 7]);
    f.at(MS, EventBody::Ctl { op: CtlOp::Del, fd: 6, interest: None, role: Role::Tcp, error: None });
    f.at(2 * MS, EventBody::Close { fd: 6, reason: CloseReason::OutputHardLimit, detail: None });
    let w = f.get(Kind::SlowConsumer).expect("fired").clone();
    assert_eq!((w.fd, w.name.as_deref(), w.value, w.count), (Some(6), Some("c6"), 0, 1));
    f.at(3 * MS, EventBody::Close { fd: 7, reason: CloseReason::OutputSoftLimit, detail: None });
    let w = f.get(Kind::SlowConsumer).expect("fired");
    assert_eq!((w.fd, w.value, w.count), (Some(7), 1, 2));
    assert!(explain(w, Lang::En).contains("fd 7 (c7)"));
    let mut g = Feed::new(IoModel::Epoll, &[5]);
    g.at(MS, EventBody::Close { fd: 5, reason: CloseReason::Eof, detail: None });
    assert!(g.none(), "a client leaving is nothing to warn about");
}

#[test]
fn et_warns_of_an_fd_left_unread_for_a_whole_turn() {
    let mut f = Feed::new(IoModel::EpollEt, &[5, 6]);
    // Turn 1: fd 5 read without EAGAIN (the budget ran out); fd 6 drained.
    f.at(MS, wait(0, &[5, 6])).at(2 * MS, recv(5, 4096, false)).at(3 * MS, recv(6, 10, false)).at(4 * MS, recv(6, 0, true));
    // Turn 2: nobody reads fd 5 (no carry).
    f.at(5 * MS, wait(0, &[])).at(6 * MS, send(6, 10));
    assert!(f.get(Kind::EtStarved).is_none(), "one turn later is still in time");
    f.at(7 * MS, wait(0, &[]));
    let w = f.get(Kind::EtStarved).expect("fired");
    assert_eq!((w.fd, w.count), (Some(5), 1));
    f.at(8 * MS, wait(0, &[]));
    assert_eq!(f.get(Kind::EtStarved).unwrap().count, 1, "told once");
}

#[test]
fn et_with_the_cores_carry_is_no_starvation() {
    let mut f = Feed::new(IoModel::EpollEt, &[5]);
    // Budget-limited reads carried into every next turn, until EAGAIN.
    f.at(MS, wait(0, &[5])).at(2 * MS, recv(5, 4096, false));
    f.at(3 * MS, wait(0, &[])).at(4 * MS, recv(5, 4096, false));
    f.at(5 * MS, wait(0, &[])).at(6 * MS, recv(5, 100, false)).at(7 * MS, recv(5, 0, true));
    for t in 8..12 {
        f.at(t * MS, wait(0, &[]));
    }
    assert!(f.none());
    // A gap may hide the reads: no guess.
    let mut g = Feed::new(IoModel::EpollEt, &[5]);
    g.at(MS, wait(0, &[5])).at(2 * MS, recv(5, 4096, false)).at(3 * MS, EventBody::gap(40));
    g.at(4 * MS, wait(0, &[])).at(5 * MS, wait(0, &[]));
    assert!(g.none());
    // Closed before its turn came: nothing is waiting any more.
    let mut h = Feed::new(IoModel::EpollEt, &[5]);
    h.at(MS, wait(0, &[5]))
        .at(2 * MS, recv(5, 4096, false))
        .at(3 * MS, EventBody::Close { fd: 5, reason: CloseReason::Quit, detail: None });
    h.at(4 * MS, wait(0, &[])).at(5 * MS, wait(0, &[]));
    assert!(h.none());
}

fn accept(fd: i32) -> EventBody {
    EventBody::Accept { fd, peer: format!("127.0.0.1:{fd}"), listener: 3 }
}

fn add(fd: i32) -> EventBody {
    EventBody::Ctl { op: CtlOp::Add, fd, interest: Some(Interest::Read), role: Role::Tcp, error: None }
}

#[test]
fn fds_climbing_for_ten_seconds_without_a_close_warn() {
    let mut f = Feed::new(IoModel::Epoll, &[]);
    for (k, fd) in (5..25).enumerate() {
        let t = k as u64 * 600 * MS;
        f.at(t, accept(fd)).at(t + 1, add(fd)).at(t + 2, wait(0, &[]));
    }
    let w = f.get(Kind::FdsClimbing).expect("fired");
    assert!(w.value >= 10, "{w:?}");
    // The same, with one client leaving on the way.
    let mut g = Feed::new(IoModel::Epoll, &[]);
    for (k, fd) in (5..25).enumerate() {
        let t = k as u64 * 600 * MS;
        g.at(t, accept(fd)).at(t + 1, add(fd)).at(t + 2, wait(0, &[]));
        if fd == 15 {
            g.at(t + 3, EventBody::Close { fd: 6, reason: CloseReason::Quit, detail: None });
        }
    }
    assert!(g.get(Kind::FdsClimbing).is_none());
    // Few new fds over a long time are no climb either.
    let mut h = Feed::new(IoModel::Epoll, &[]);
    for (k, fd) in (5..10).enumerate() {
        h.at(k as u64 * 5_000 * MS, accept(fd)).at(k as u64 * 5_000 * MS + 1, add(fd));
    }
    assert!(h.none());
}

#[test]
fn select_near_fd_setsize_warns_and_other_models_do_not() {
    let fds: Vec<i32> = (5..=950).collect();
    let mut f = Feed::new(IoModel::Select, &fds);
    f.at(MS, wait(0, &[]));
    let w = f.get(Kind::SelectNearLimit).expect("fired");
    assert_eq!((w.fd, w.count), (Some(950), 1));
    f.at(2 * MS, wait(0, &[])).at(40_000 * MS, wait(39_997 * MS, &[]));
    assert_eq!(f.get(Kind::SelectNearLimit).unwrap().count, 1, "one occurrence while it stays near");
    assert_eq!(f.scene.insight.warnings.recent(40_000 * MS).count(), 1, "still on show while near");
    let mut g = Feed::new(IoModel::Poll, &fds);
    g.at(MS, wait(0, &[]));
    assert!(g.none(), "poll has no FD_SETSIZE");
    let low: Vec<i32> = (5..=800).collect();
    let mut h = Feed::new(IoModel::Select, &low);
    h.at(MS, wait(0, &[]));
    assert!(h.none());
    // An add past the line, told at once.
    h.at(2 * MS, add(901));
    assert_eq!(h.get(Kind::SelectNearLimit).unwrap().fd, Some(901));
}

#[test]
fn warnings_go_off_show_after_a_while_but_stay_counted() {
    let mut f = Feed::new(IoModel::Epoll, &[5]);
    f.at(MS, EventBody::Close { fd: 5, reason: CloseReason::OutputHardLimit, detail: None });
    let w = &f.scene.insight.warnings;
    assert_eq!(w.recent(MS + SHOW_NS).count(), 1);
    assert_eq!(w.recent(2 * MS + SHOW_NS).count(), 0);
    assert_eq!(w.all().count(), 1);
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[test]
fn every_word_is_in_both_languages() {
    for k in Sight::ALL {
        let (en, zh) = (k.t(Lang::En), k.t(Lang::Zh));
        assert!(!en.is_empty() && !zh.is_empty() && en != zh || en.chars().all(|c| !c.is_alphabetic()), "{k:?}");
    }
    for kind in Kind::ALL {
        let w = Warning { kind, fd: Some(7), name: Some("bob".into()), value: 3, at: 1, ts_ns: 1, count: 2 };
        assert!(has_cjk(&explain(&w, Lang::Zh)) && !has_cjk(&explain(&w, Lang::En)), "{kind:?}");
        assert!(has_cjk(&badge(&w, Lang::Zh)) && badge(&w, Lang::En).contains("fd 7 ×2"), "{kind:?}");
        assert!(has_cjk(title(kind).t(Lang::Zh)));
    }
    for p in Plot::ALL {
        assert!(has_cjk(plot_title(p).t(Lang::Zh)) && !has_cjk(plot_title(p).t(Lang::En)));
    }
}

/// A slow consumer's cut reaches the warnings only as a `close` event: folded into a snapshot,
/// its reason is gone. A still page's gateway folds even a quiet loop's few events a second,
/// and those folds must not keep the page still (and the gateway folding) after a flood.
#[test]
fn a_folded_trickle_lets_the_page_calm_down_but_a_flood_does_not() {
    use crate::state::{Action, Model, BUSY_MS};
    use muxscope_shared::ServerMsg;
    let gap = |seq, n| Event { seq, ts_ns: seq, body: EventBody::folded(n, false, Counters::default()) };
    let mut m = Model::default();
    m.update(Action::Receive(vec![ServerMsg::Snapshot(snapshot(IoModel::Epoll, &[5], 10, 0))], 1000.0));
    m.update(Action::Receive(vec![ServerMsg::Events { events: vec![gap(0, 5000)] }], 1000.0));
    assert!(m.busy(), "a flood folded upstream is drawn still");
    let mut now = 1000.0;
    for _ in 0..8 {
        now += 400.0;
        m.update(Action::Receive(vec![ServerMsg::Events { events: vec![gap(0, 4)] }], now));
        m.update(Action::Tick(now));
    }
    assert!(now > 1000.0 + BUSY_MS && !m.busy(), "a trickle of small folds is no flood");
    m.update(Action::Receive(vec![ServerMsg::Events { events: vec![gap(0, 500)] }], now + 10.0));
    assert!(m.busy());
}
