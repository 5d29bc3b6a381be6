//! Property tests of the timeline: for plausible generated sessions (joins and leaves with fd
//! reuse, wakeups with ready lists, recvs, broadcasts and their sends, nicks, model switches,
//! gaps, snapshots mid-stream, stale events), seeking anywhere gives the scene that folding the
//! items from the start gives; stepping back and forward again gives the same page; eviction
//! keeps both true for what is still held; and the history's memory adds up.

use super::*;
use crate::history::History;
use muxscope_shared::{CloseReason, Counters, CtlOp, EventBody, FdInfo, Interest, ReadyFd, ReadyFlags, Role, ServerMsg, PROTOCOL_VERSION};
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
enum Op {
    Accept,
    Wait(Vec<Index>),
    Recv(Index, u32),
    Broadcast(Index, u8),
    Send(Index, u64),
    Nick(Index, u8),
    Mod(Index),
    Close(Index),
    Switch(u8),
    Gap { dropped: u64, folded: bool, resync: bool, gateway: bool },
    Snapshot,
    Stale,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Accept),
        4 => prop::collection::vec(any::<Index>(), 0..4).prop_map(Op::Wait),
        4 => (any::<Index>(), 0u32..200).prop_map(|(i, b)| Op::Recv(i, b)),
        3 => (any::<Index>(), any::<u8>()).prop_map(|(i, t)| Op::Broadcast(i, t)),
        2 => (any::<Index>(), 0u64..100).prop_map(|(i, q)| Op::Send(i, q)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, n)| Op::Nick(i, n)),
        1 => any::<Index>().prop_map(Op::Mod),
        2 => any::<Index>().prop_map(Op::Close),
        1 => any::<u8>().prop_map(Op::Switch),
        1 => (1u64..50, any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(dropped, folded, resync, gateway)| Op::Gap { dropped, folded, resync, gateway }),
        1 => Just(Op::Snapshot),
        1 => Just(Op::Stale),
    ]
}

/// A loop that makes plausible items from ops: fds are reused lowest first, as the kernel does.
struct Sim {
    seq: u64,
    ts: u64,
    model: IoModel,
    /// Client fds and their names.
    fds: BTreeMap<i32, String>,
    items: Vec<Item>,
}

impl Sim {
    fn new() -> Sim {
        let mut sim = Sim { seq: 10, ts: 1_000, model: IoModel::Epoll, fds: BTreeMap::new(), items: vec![] };
        sim.snapshot();
        sim
    }

    fn ev(&mut self, body: EventBody) {
        self.seq += 1;
        self.ts += 1_000 + (self.seq * 7919) % 50_000;
        self.items.push(Item::Event(Event { seq: self.seq, ts_ns: self.ts, body }));
    }

    fn pick(&self, i: &Index) -> Option<i32> {
        (!self.fds.is_empty()).then(|| *self.fds.keys().nth(i.index(self.fds.len())).unwrap())
    }

    fn snapshot(&mut self) {
        let mut fds = vec![FdInfo { fd: 3, role: Role::Listener, interest: Interest::Read, name: "l".into(), pending_out: 0 }];
        fds.extend(self.fds.iter().map(|(fd, name)| FdInfo {
            fd: *fd,
            role: Role::Tcp,
            interest: Interest::Read,
            name: name.clone(),
            pending_out: 0,
        }));
        self.items.push(Item::Snapshot(Snapshot {
            version: PROTOCOL_VERSION,
            poller: self.model.name().into(),
            model: Some(self.model),
            chat_addr: "l".into(),
            fds,
            handover: false,
            threads: vec![],
            relay: None,
            counters: Counters { wakeups: self.seq, ..Counters::default() },
            seq: self.seq,
            ts_ns: self.ts,
        }));
    }

    fn ctl(&mut self, op: CtlOp, fd: i32) {
        let interest = (op != CtlOp::Del).then_some(Interest::Read);
        self.ev(EventBody::Ctl { op, fd, interest, role: Role::Tcp, error: None });
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::Accept => {
                let fd = (5..).find(|fd| !self.fds.contains_key(fd)).unwrap();
                self.fds.insert(fd, format!("127.0.0.1:{}", 40_000 + self.seq));
                self.ev(EventBody::Accept { fd, peer: self.fds[&fd].clone(), listener: 3 });
                self.ctl(CtlOp::Add, fd);
            }
            Op::Wait(picks) => {
                let mut ready: Vec<i32> = picks.iter().filter_map(|i| self.pick(i)).collect();
                ready.dedup();
                let ready: Vec<ReadyFd> = ready.into_iter().map(|fd| ReadyFd { fd, flags: ReadyFlags(ReadyFlags::IN) }).collect();
                let body = EventBody::Wait {
                    timeout_ms: -1,
                    registered: self.fds.len() as u32 + 1,
                    ready_total: ready.len() as u32,
                    ready,
                    blocked_ns: self.seq * 100,
                    scanned: 1,
                    rescan: 0,
                    overflow: false,
                };
                self.ev(body);
            }
            Op::Recv(i, bytes) => {
                if let Some(fd) = self.pick(i) {
                    self.ev(EventBody::Recv { fd, bytes: *bytes, eof: false, would_block: *bytes == 0, lines: bytes / 20 });
                }
            }
            Op::Broadcast(i, t) => {
                if let Some(from) = self.pick(i) {
                    let (name, n) = (self.fds[&from].clone(), self.fds.len() as u32);
                    self.ev(EventBody::Broadcast { from, name, recipients: n, bytes: 12, text: format!("line {t}") });
                    for fd in self.fds.keys().copied().collect::<Vec<_>>() {
                        self.ev(EventBody::Send { fd, bytes: 12, would_block: false, queued: 0 });
                    }
                }
            }
            Op::Send(i, queued) => {
                if let Some(fd) = self.pick(i) {
                    self.ev(EventBody::Send { fd, bytes: 30, would_block: *queued > 0, queued: *queued });
                }
            }
            Op::Nick(i, n) => {
                if let Some(fd) = self.pick(i) {
                    let name = format!("nick{n}");
                    self.fds.insert(fd, name.clone());
                    self.ev(EventBody::Nick { fd, name, role: Role::Tcp });
                }
            }
            Op::Mod(i) => {
                if let Some(fd) = self.pick(i) {
                    self.ev(EventBody::Ctl { op: CtlOp::Mod, fd, interest: Some(Interest::ReadWrite), role: Role::Tcp, error: None });
                }
            }
            Op::Close(i) => {
                if let Some(fd) = self.pick(i) {
                    self.ctl(CtlOp::Del, fd);
                    self.fds.remove(&fd);
                    self.ev(EventBody::Close { fd, reason: CloseReason::Quit, detail: None });
                }
            }
            Op::Switch(k) => {
                let to = IoModel::ALL[*k as usize % IoModel::ALL.len()];
                let from = self.model;
                self.ev(EventBody::Handover { from, to });
                let fds: Vec<i32> = self.fds.keys().copied().collect();
                for fd in &fds {
                    self.ctl(CtlOp::Del, *fd);
                }
                for fd in &fds {
                    self.ctl(CtlOp::Add, *fd);
                }
                self.model = to;
                self.ev(EventBody::Model { model: to, from: Some(from) });
            }
            Op::Gap { dropped, folded, resync, gateway } => {
                let body = EventBody::Gap { dropped: *dropped, folded: *folded, resync: *resync, counters: None };
                if *gateway {
                    self.items.push(Item::Event(Event { seq: 0, ts_ns: 0, body }));
                } else {
                    self.seq += dropped;
                    self.ev(body);
                }
            }
            Op::Snapshot => self.snapshot(),
            Op::Stale => {
                let e = Event { seq: self.seq.saturating_sub(3), ts_ns: self.ts, body: EventBody::Sleep { ns: 1_000 } };
                self.items.push(Item::Event(e));
            }
        }
    }
}

fn session(ops: &[Op]) -> Vec<Item> {
    let mut sim = Sim::new();
    for op in ops {
        sim.run(op);
    }
    sim.items
}

/// The scene after each prefix of `items`, folded from the start: `scenes[i] = fold(items[..i])`.
fn folds(items: &[Item]) -> Vec<Scene> {
    let mut s = Scene::default();
    let mut out = vec![s.clone()];
    for (i, item) in items.iter().enumerate() {
        s.apply(i as u64, item.clone());
        out.push(s.clone());
    }
    out
}

/// A paused page (unbounded history, keyframes every `spacing`) that has received `items` and
/// played none of them yet.
pub(crate) fn paused_with(items: &[Item], spacing: u64) -> Model {
    let mut m = Model::with_history(History::with_spacing(usize::MAX, spacing));
    m.update(Action::Pause);
    for item in items {
        match item {
            Item::Snapshot(s) => m.update(Action::Server(ServerMsg::Snapshot(s.clone()))),
            Item::Event(e) => m.update(Action::Server(ServerMsg::Events { events: vec![e.clone()] })),
        };
    }
    m
}

fn history(items: &[Item], bound: usize, spacing: u64) -> History {
    let mut h = History::with_spacing(bound, spacing);
    for item in items {
        h.push(item.clone());
    }
    h
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn seeking_anywhere_is_folding_from_the_start(ops in prop::collection::vec(op(), 1..160), spacing in 1u64..40) {
        let items = session(&ops);
        let scenes = folds(&items);
        let h = history(&items, usize::MAX, spacing);
        prop_assert_eq!(h.end_index(), items.len() as u64);
        prop_assert_eq!(h.bytes(), h.bytes_counted());
        for (i, want) in scenes.iter().enumerate() {
            let got = h.seek(i as u64).expect("held");
            prop_assert!(&got == want, "seek({}) differs from the fold of items[..{}]", i, i);
        }
        // Forward from any point to any later one gives the same as seeking there.
        for (from, to) in [(0, items.len()), (items.len() / 3, items.len() / 2), (1, items.len() - 1)] {
            if from <= to {
                let mut s = scenes[from].clone();
                h.forward(&mut s, from as u64, to as u64);
                prop_assert!(s == scenes[to], "forward {}→{}", from, to);
            }
        }
        // The events held are the items' events, at their indices.
        let events: Vec<(u64, Event)> = items.iter().enumerate()
            .filter_map(|(i, it)| match it { Item::Event(e) => Some((i as u64, e.clone())), _ => None }).collect();
        prop_assert_eq!(h.events_between(0, items.len() as u64), events);
    }

    #[test]
    fn stepping_back_then_forward_gives_the_same_page(ops in prop::collection::vec(op(), 1..120), back in 1usize..60, spacing in 1u64..30) {
        let items = session(&ops);
        let mut m = paused_with(&items, spacing);
        // Played by Step, one at a time.
        for _ in 0..items.len() {
            prop_assert!(m.update(Action::Step));
        }
        prop_assert!(!m.update(Action::Step), "nothing left to play");
        let end = m.scene().clone();
        let lines = |m: &Model| m.log_lines().iter().map(|l| format!("{l:?}")).collect::<Vec<_>>();
        let end_lines = lines(&m);
        let k = back.min(items.len());
        for _ in 0..k {
            prop_assert!(m.update(Action::StepBack));
        }
        prop_assert_eq!(m.cursor(), (items.len() - k) as u64);
        let scenes = folds(&items);
        prop_assert!(m.scene() == &scenes[items.len() - k], "k back is the fold of the shorter prefix");
        for _ in 0..k {
            prop_assert!(m.update(Action::Step));
        }
        prop_assert!(m.scene() == &end);
        prop_assert_eq!(lines(&m), end_lines);
        prop_assert_eq!(m.cursor(), m.timeline().end_index());
    }

    #[test]
    fn eviction_keeps_what_is_held_exact(ops in prop::collection::vec(op(), 20..200), bound_kb in 4usize..40) {
        let items = session(&ops);
        let scenes = folds(&items);
        let h = history(&items, bound_kb * 1024, 8);
        prop_assert_eq!(h.bytes(), h.bytes_counted());
        prop_assert!(h.bytes() <= h.bound() || h.keyframes() == 1, "over the bound with {} keyframes", h.keyframes());
        let (first, end) = (h.first_index(), h.end_index());
        prop_assert!(h.seek(first.wrapping_sub(1)).is_none() || first == 0);
        for i in first..=end {
            prop_assert!(h.seek(i).as_ref() == Some(&scenes[i as usize]), "seek({}) after eviction", i);
        }
        let held = items[first as usize..].iter().filter(|i| matches!(i, Item::Event(_))).count() as u64;
        let all = items.iter().filter(|i| matches!(i, Item::Event(_))).count() as u64;
        prop_assert_eq!(h.stats().evicted + held, all, "every event is held or counted as let go");
    }
}
