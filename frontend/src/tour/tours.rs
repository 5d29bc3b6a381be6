//! The tours. Each pattern counts from the latest step that drove the room, so a later step
//! without a drive repeats the earlier pattern and extends it: the steps of one message's life
//! are one wakeup, its recv, its broadcast and its sends, not the next message's.
//!
//! Targets prefer hooks that are always on the page; where the thing is drawn only for a moment
//! (the fan-out lines), a fallback follows it in the selector list.

use super::{Cond, Drive, Step, Target, Tour, Until};
use crate::i18n::TourText as T;
use muxscope_shared::Model as M;
use Cond::*;

const fn until(pattern: &'static [Cond], at: usize) -> Until {
    Until { pattern, at }
}

const NONE: &[Drive] = &[];

/// A bot's node as it joins: a plain TCP client until its hello (`/role bot`) is read.
const JOINED: &str = "[data-testid=\"fd-node\"][data-role=\"bot\"], [data-testid=\"fd-node\"][data-role=\"tcp\"]";

const MESSAGE: &[Cond] = &[BotNamed, WaitReady, RecvData, Broadcast, Send];

pub static TOURS: [Tour; 7] = [
    Tour {
        name: "join",
        title: T::JoinTitle,
        steps: &[
            Step {
                text: T::JoinAccept,
                target: Target::Role("listener"),
                drive: &[Drive::AddBots { add: 1, rate: 0.0 }],
                until: until(&[Accept, CtlAdd], 0),
            },
            Step { text: T::JoinCtl, target: Target::Css(JOINED), drive: NONE, until: until(&[Accept, CtlAdd], 1) },
            Step { text: T::JoinGrown, target: Target::Css("rect.kernel"), drive: NONE, until: until(&[Accept, CtlAdd], 1) },
        ],
    },
    Tour {
        name: "message",
        title: T::MessageTitle,
        steps: &[
            Step {
                text: T::MsgJoin,
                target: Target::TestId("bots"),
                drive: &[Drive::AddBots { add: 1, rate: 0.5 }],
                until: until(&[BotNamed], 0),
            },
            Step { text: T::MsgWait, target: Target::Css(".waitbar"), drive: NONE, until: until(MESSAGE, 1) },
            Step { text: T::MsgReady, target: Target::Role("bot"), drive: NONE, until: until(MESSAGE, 1) },
            Step { text: T::MsgRecv, target: Target::Css(".phase"), drive: NONE, until: until(MESSAGE, 2) },
            Step {
                text: T::MsgBroadcast,
                target: Target::Css("[data-testid=\"fanout\"], [data-testid=\"chat-log\"]"),
                drive: NONE,
                until: until(MESSAGE, 3),
            },
            Step { text: T::MsgSend, target: Target::TestId("fd-node"), drive: NONE, until: until(MESSAGE, 4) },
        ],
    },
    Tour {
        name: "slow-reader",
        title: T::SlowTitle,
        steps: &[
            Step { text: T::SlowMake, target: Target::TestId("chat-log"), drive: NONE, until: until(&[Accept], 0) },
            Step {
                text: T::SlowQueue,
                target: Target::TestId("counter-bytes"),
                drive: &[Drive::AddBots { add: 250, rate: 20.0 }],
                until: until(&[SendQueued], 0),
            },
            Step {
                text: T::SlowArmed,
                target: Target::Css(".wants-write, [data-testid=\"fd-node\"]"),
                drive: NONE,
                until: until(&[SendQueued, WriteArmed], 1),
            },
            Step { text: T::SlowCut, target: Target::TestId("event-log"), drive: NONE, until: until(&[SendQueued, Cut], 1) },
        ],
    },
    Tour {
        name: "select-wall",
        title: T::SelectTitle,
        steps: &[
            Step {
                text: T::SelectSwitch,
                target: Target::TestId("model"),
                drive: &[Drive::Model(M::Select)],
                until: until(&[Model(M::Select)], 0),
            },
            // Up to the wall first, then over it in a small step: a join of hundreds at once is
            // a flood the gateway folds, and the refusals would be folded with it.
            Step {
                text: T::SelectFill,
                target: Target::TestId("counter-clients"),
                drive: &[Drive::AddBots { add: 480, rate: 0.0 }],
                until: until(&[Clients(480)], 0),
            },
            Step {
                text: T::SelectPush,
                target: Target::TestId("event-log"),
                drive: &[Drive::AddBots { add: 60, rate: 0.0 }],
                until: until(&[Refused], 0),
            },
            // The bots stay silent until now: a room of 500 chatting is a flood whose events the
            // gateway folds, refusals among them.
            Step {
                text: T::SelectServed,
                target: Target::Role("bot"),
                drive: &[Drive::AddBots { add: 0, rate: 0.1 }],
                until: until(&[Broadcast], 0),
            },
        ],
    },
    Tour {
        name: "scan-cost",
        title: T::ScanTitle,
        steps: &[
            Step {
                text: T::ScanIdle,
                target: Target::TestId("bots"),
                drive: &[Drive::AddBots { add: 1000, rate: 0.05 }],
                until: until(&[Clients(1000)], 0),
            },
            Step {
                text: T::ScanPoll,
                target: Target::Css(".waitbar"),
                drive: &[Drive::Model(M::Poll)],
                until: until(&[Model(M::Poll), Scanned(1000)], 1),
            },
            Step {
                text: T::ScanEpoll,
                target: Target::TestId("compare"),
                drive: &[Drive::Model(M::Epoll)],
                until: until(&[Model(M::Epoll), NoScan], 1),
            },
        ],
    },
    Tour {
        name: "et",
        title: T::EtTitle,
        steps: &[
            Step {
                text: T::EtSwitch,
                target: Target::TestId("model"),
                drive: &[Drive::Model(M::EpollEt), Drive::AddBots { add: 3, rate: 1.0 }],
                until: until(&[Model(M::EpollEt)], 0),
            },
            Step {
                text: T::EtDrain,
                target: Target::TestId("event-log"),
                drive: NONE,
                until: until(&[Model(M::EpollEt), RecvData, RecvEagain], 2),
            },
            Step {
                text: T::EtLevel,
                target: Target::TestId("model"),
                drive: &[Drive::Model(M::Epoll)],
                until: until(&[Model(M::Epoll)], 0),
            },
        ],
    },
    Tour {
        name: "threads",
        title: T::ThreadsTitle,
        steps: &[
            Step {
                text: T::ThreadsBlocking,
                target: Target::Css("[data-testid=\"thread-count\"], rect.user"),
                drive: &[Drive::Model(M::Blocking), Drive::AddBots { add: 20, rate: 0.5 }],
                until: until(&[Model(M::Blocking)], 0),
            },
            Step { text: T::ThreadsCost, target: Target::TestId("compare"), drive: NONE, until: until(&[Model(M::Blocking)], 0) },
            Step {
                text: T::ThreadsMux,
                target: Target::TestId("compare"),
                drive: &[Drive::Model(M::Epoll)],
                until: until(&[Model(M::Epoll)], 0),
            },
        ],
    },
];
