//! How many flows a trace draws (the rule is in the module doc of `trace`, under *Flow
//! budget*): at most so many per broadcast, taken in turn round the recipients; paced by the
//! events read, so the arrows spread over the whole trace and its size stays proportional to
//! them; and at most so many in all.

use serde::Serialize;

/// Flow pairs (`s` + `f`, about 190 bytes of JSON) a trace draws in all, by default: 38 MB of
/// arrows at most, beside the events. Perfetto opens a JSON trace of a few million events
/// comfortably; this is 400,000 of them. Paced at 2 per event, it lasts a recording's first
/// ~100,000 events (a 2-second 1,000-client blast, 93,610 events, drew 184,832 flows, a full
/// fan-out about every 1.1 ms from its start to its end, in a 64 MB trace: 684 bytes per event,
/// where every flow would have been 78 million of them and ~15 GB); past that, arrows stop and
/// every flow is counted, unless `--max-flows` raises it.
pub const DEFAULT_MAX_FLOWS: u64 = 200_000;
/// Recipients of one broadcast that get an arrow, by default: a room of 64 or fewer is drawn
/// whole; in a bigger one a fan-out of 64 shows what happened, and 1,000 arrows from one
/// instant are a smear in Perfetto, not a picture.
pub const DEFAULT_FLOWS_PER_BROADCAST: u32 = 64;
/// Flow pairs each event read earns, by default: a chat with one send per recipient and line
/// earns more than it draws and is never paced; a blast, where a send carries many lines at
/// once, draws a full fan-out every ~32 events.
pub const DEFAULT_FLOWS_PER_EVENT: u32 = 2;
/// Flow pairs a trace may draw before any event earned them, by default (64 full fan-outs).
pub const DEFAULT_FLOW_BURST: u64 = 4_096;

/// What a trace draws of the flows it could. Each limit is off when 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TraceOptions {
    /// Flow pairs in all ([`DEFAULT_MAX_FLOWS`]).
    pub max_flows: u64,
    /// Flow pairs from one broadcast ([`DEFAULT_FLOWS_PER_BROADCAST`]).
    pub max_flows_per_broadcast: u32,
    /// Pacing: at any point, at most `flow_burst + flows_per_event × events read` pairs drawn
    /// ([`DEFAULT_FLOWS_PER_EVENT`]); a broadcast waits until its whole share is earned.
    pub flows_per_event: u32,
    /// ([`DEFAULT_FLOW_BURST`]); only with `flows_per_event`.
    pub flow_burst: u64,
}

impl Default for TraceOptions {
    fn default() -> TraceOptions {
        TraceOptions {
            max_flows: DEFAULT_MAX_FLOWS,
            max_flows_per_broadcast: DEFAULT_FLOWS_PER_BROADCAST,
            flows_per_event: DEFAULT_FLOWS_PER_EVENT,
            flow_burst: DEFAULT_FLOW_BURST,
        }
    }
}

impl TraceOptions {
    /// Every flow of every broadcast: a trace as large as the room makes it.
    pub const UNLIMITED: TraceOptions = TraceOptions { max_flows: 0, max_flows_per_broadcast: 0, flows_per_event: 0, flow_burst: 0 };

    /// The defaults with at most `n` flow pairs in all, or (`n` = 0) no limit of any kind:
    /// what `muxscope export --max-flows N` asks for.
    pub fn with_max_flows(n: u64) -> TraceOptions {
        match n {
            0 => TraceOptions::UNLIMITED,
            n => TraceOptions { max_flows: n, ..TraceOptions::default() },
        }
    }
}

/// The budget as it is spent.
pub(super) struct Budget {
    opts: TraceOptions,
    /// Flow pairs drawn so far.
    drawn: u64,
    /// Where the next partial fan-out starts in its recipient list, so that every recipient's
    /// track gets arrows in turn.
    turn: usize,
}

impl Budget {
    pub fn new(opts: TraceOptions) -> Budget {
        Budget { opts, drawn: 0, turn: 0 }
    }

    pub fn options(&self) -> TraceOptions {
        self.opts
    }

    /// Which of a broadcast's recipients `to` get a flow, `events` read so far (this one
    /// included): all of them, or a run of them taken in turn (wrapping round), or none.
    pub fn pick(&mut self, to: &[i32], events: u64) -> Vec<i32> {
        let o = self.opts;
        let want = to.len() as u64;
        let mut k = match o.max_flows_per_broadcast {
            0 => want,
            n => want.min(n as u64),
        };
        if o.flows_per_event > 0 {
            let earned = o.flow_burst.saturating_add(events.saturating_mul(o.flows_per_event as u64));
            if earned.saturating_sub(self.drawn) < k {
                k = 0;
            }
        }
        if o.max_flows > 0 {
            k = k.min(o.max_flows.saturating_sub(self.drawn));
        }
        self.drawn += k;
        if k == want {
            return to.to_vec();
        }
        let start = self.turn % to.len().max(1);
        self.turn = start + k as usize;
        to.iter().cycle().skip(start).take(k as usize).copied().collect()
    }
}
