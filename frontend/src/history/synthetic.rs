//! A synthetic busy room, for measuring the history where it is heaviest: a thousand clients
//! join, a few of them talk every turn, and every line goes out to all of them (a `send` per
//! client per turn), unfolded, as the page stores a recording. The same measure runs natively
//! (`tests_size`) and in the browser (`crate::bench`, for headless Chromium), with the clock
//! passed in.

use super::History;
use crate::state::Item;
use muxscope_shared::{CtlOp, Event, EventBody, FdInfo, Interest, Model as IoModel, ReadyFd, ReadyFlags, Role, Snapshot};

/// A busy room of `clients`, played until it has about `events` events.
pub fn busy_room(clients: i32, events: u64) -> impl Iterator<Item = Item> {
    let mut seq = 0u64;
    let mut ts = 1_000_000_000u64;
    let mut ev = move |body: EventBody, dt: u64| {
        seq += 1;
        ts += dt;
        Item::Event(Event { seq, ts_ns: ts, body })
    };
    let listener = FdInfo { fd: 3, role: Role::Listener, interest: Interest::Read, name: "127.0.0.1:3999".into(), pending_out: 0 };
    let first = Item::Snapshot(Snapshot {
        model: Some(IoModel::Epoll),
        poller: "epoll".into(),
        chat_addr: "127.0.0.1:3999".into(),
        fds: vec![listener],
        ..Snapshot::empty()
    });
    let fds = 5..5 + clients;
    let joins: Vec<Item> = fds
        .clone()
        .flat_map(|fd| {
            let peer = format!("127.0.0.1:{}", 40_000 + fd);
            vec![
                ev(EventBody::Accept { fd, peer, listener: 3 }, 20_000),
                ev(EventBody::Ctl { op: CtlOp::Add, fd, interest: Some(Interest::Read), role: Role::Tcp, error: None }, 2_000),
                ev(EventBody::Nick { fd, name: format!("user{fd}"), role: Role::Tcp }, 50_000),
            ]
        })
        .collect();
    let mut turn = 0u64;
    let chat = std::iter::from_fn(move || {
        turn += 1;
        // One to three talkers a turn, each a line of about 40 bytes.
        let talkers: Vec<i32> = (0..1 + turn % 3).map(|k| 5 + ((turn * 7919 + k * 104_729) % clients as u64) as i32).collect();
        let ready = talkers.iter().map(|fd| ReadyFd { fd: *fd, flags: ReadyFlags(ReadyFlags::IN) }).collect::<Vec<_>>();
        let mut out = vec![ev(
            EventBody::Wait {
                timeout_ms: -1,
                registered: clients as u32 + 1,
                ready_total: ready.len() as u32,
                ready,
                blocked_ns: 300_000 + turn % 1000 * 1000,
                scanned: talkers.len() as u32,
                rescan: 0,
                overflow: false,
            },
            400_000,
        )];
        for from in &talkers {
            out.push(ev(EventBody::Recv { fd: *from, bytes: 41, eof: false, would_block: false, lines: 1 }, 3_000));
            let text = format!("message {turn} from a client, about forty");
            out.push(ev(
                EventBody::Broadcast { from: *from, name: format!("user{from}"), recipients: clients as u32, bytes: 52, text },
                2_000,
            ));
        }
        let bytes = 52 * talkers.len() as u64;
        out.extend((5..5 + clients).map(|fd| ev(EventBody::Send { fd, bytes, would_block: false, queued: 0 }, 4_000)));
        Some(out)
    })
    .flatten();
    std::iter::once(first).chain(joins).chain(chat).take(events as usize)
}

/// What a history of a busy room costs and how fast it seeks (times in ms).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SeekBench {
    pub events: u64,
    pub bytes_per_event: f64,
    pub keyframes: usize,
    pub build_ms: f64,
    /// Seeks to points spread over the history.
    pub seek_mean_ms: f64,
    pub seek_max_ms: f64,
    /// Seeks to the last cursor of each segment: the longest replays there are.
    pub seek_longest_ms: f64,
}

/// Builds a history of about `events` events of a busy room of `clients` and seeks it `seeks`
/// times; `now_ms` is the clock.
pub fn seek_bench(clients: i32, events: u64, seeks: u64, now_ms: &dyn Fn() -> f64) -> SeekBench {
    let t0 = now_ms();
    let mut h = History::new(usize::MAX);
    for item in busy_room(clients, events) {
        h.push(item);
    }
    let build_ms = now_ms() - t0;
    let (first, end) = (h.first_index(), h.end_index());
    let time = |i: u64| {
        let t0 = now_ms();
        std::hint::black_box(h.seek(i));
        now_ms() - t0
    };
    let spread: Vec<f64> = (0..seeks).map(|k| time(first + (k * 7919 * 104_729) % (end - first).max(1))).collect();
    let longest = h.segments.iter().map(|s| s.end()).filter(|e| *e > first).map(|e| time(e - 1)).fold(0.0, f64::max);
    SeekBench {
        events: end,
        bytes_per_event: h.bytes() as f64 / end.max(1) as f64,
        keyframes: h.keyframes(),
        build_ms,
        seek_mean_ms: spread.iter().sum::<f64>() / spread.len().max(1) as f64,
        seek_max_ms: spread.iter().copied().fold(0.0, f64::max),
        seek_longest_ms: longest,
    }
}
