//! Property: the warnings and plots at history index i are those of folding `items[..i]`,
//! whether reached by seeking (keyframe + replay), by stepping back on the page, or by folding
//! from the start; and every warning shown at i was fired by an item before i.

use super::tests::{recv, send, snapshot, wait};
use super::*;
use crate::history::History;
use crate::state::{Action, Item, Scene};
use muxscope_shared::{CloseReason, CtlOp, EventBody, Interest, Role};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// A wait that returns after `ms` of work since the last one, having blocked `blocked_ms`.
    Wait {
        work_ms: u64,
        blocked_ms: u64,
    },
    Read {
        fd: i32,
        bytes: u32,
        drained: bool,
    },
    Send {
        fd: i32,
        bytes: u64,
    },
    Join,
    Cut {
        fd: i32,
        hard: bool,
    },
    Gap,
    Switch(u8),
    Snapshot,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..120, 0u64..2000).prop_map(|(work_ms, blocked_ms)| Op::Wait { work_ms, blocked_ms }),
        4 => (5i32..12, 0u32..5000, any::<bool>()).prop_map(|(fd, bytes, drained)| Op::Read { fd, bytes, drained }),
        3 => (5i32..12, 0u64..100_000).prop_map(|(fd, bytes)| Op::Send { fd, bytes }),
        2 => Just(Op::Join),
        1 => (5i32..12, any::<bool>()).prop_map(|(fd, hard)| Op::Cut { fd, hard }),
        1 => Just(Op::Gap),
        1 => any::<u8>().prop_map(Op::Switch),
        1 => Just(Op::Snapshot),
    ]
}

fn items(ops: &[Op]) -> Vec<Item> {
    let (mut seq, mut ts, mut next_fd, mut model) = (10u64, 1_000u64, 12i32, IoModel::EpollEt);
    let fds: Vec<i32> = (5..12).collect();
    let mut out = vec![Item::Snapshot(snapshot(model, &fds, seq, ts))];
    let ev = |out: &mut Vec<Item>, seq: &mut u64, ts: u64, body| {
        *seq += 1;
        out.push(Item::Event(Event { seq: *seq, ts_ns: ts, body }));
    };
    for op in ops {
        ts += 1_000_000;
        match op {
            Op::Wait { work_ms, blocked_ms } => {
                ts += (work_ms + blocked_ms) * 1_000_000;
                ev(&mut out, &mut seq, ts, wait(blocked_ms * 1_000_000, &[5, 6]));
            }
            Op::Read { fd, bytes, drained } => ev(&mut out, &mut seq, ts, recv(*fd, *bytes, *drained)),
            Op::Send { fd, bytes } => ev(&mut out, &mut seq, ts, send(*fd, *bytes)),
            Op::Join => {
                ts += 700_000_000;
                ev(&mut out, &mut seq, ts, EventBody::Accept { fd: next_fd, peer: "p".into(), listener: 3 });
                ev(
                    &mut out,
                    &mut seq,
                    ts + 1,
                    EventBody::Ctl { op: CtlOp::Add, fd: next_fd, interest: Some(Interest::Read), role: Role::Tcp, error: None },
                );
                next_fd += 1;
            }
            Op::Cut { fd, hard } => {
                let reason = if *hard { CloseReason::OutputHardLimit } else { CloseReason::OutputSoftLimit };
                ev(&mut out, &mut seq, ts, EventBody::Close { fd: *fd, reason, detail: None });
            }
            Op::Gap => ev(&mut out, &mut seq, ts, EventBody::gap(3)),
            Op::Switch(k) => {
                let to = [IoModel::Select, IoModel::Poll, IoModel::Epoll, IoModel::EpollEt][*k as usize % 4];
                ev(&mut out, &mut seq, ts, EventBody::Handover { from: model, to });
                ev(&mut out, &mut seq, ts + 1, EventBody::Model { model: to, from: Some(model) });
                model = to;
            }
            Op::Snapshot => out.push(Item::Snapshot(snapshot(model, &fds, seq, ts))),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn warnings_at_i_are_the_fold_of_items_before_i(ops in prop::collection::vec(op(), 1..200), spacing in 1u64..40, back in 1usize..50) {
        let items = items(&ops);
        let mut s = Scene::default();
        let mut folds = vec![s.insight.clone()];
        for (i, item) in items.iter().enumerate() {
            s.apply(i as u64, item.clone());
            folds.push(s.insight.clone());
        }
        let mut h = History::with_spacing(usize::MAX, spacing);
        for item in &items {
            h.push(item.clone());
        }
        for (i, want) in folds.iter().enumerate() {
            let got = h.seek(i as u64).expect("held");
            prop_assert!(&got.insight == want, "seek({}) differs from the fold of items[..{}]", i, i);
            prop_assert!(want.warnings.all().all(|w| w.at < i as u64 && w.count >= 1));
        }
        // On the page: played, then stepped back.
        let mut m = crate::state::tests_props::paused_with(&items, spacing);
        for _ in 0..items.len() {
            m.update(Action::Step);
        }
        let k = back.min(items.len());
        for _ in 0..k {
            m.update(Action::StepBack);
        }
        prop_assert!(m.scene().insight == folds[items.len() - k]);
    }
}
