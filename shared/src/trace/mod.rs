//! Export to Perfetto: a recording, or the page's history, as Chrome Trace Event JSON.
//!
//! `muxscope export FILE -o OUT.json` and the page's *Export* button both write it with
//! [`write_chrome_trace`]; open the file at <https://ui.perfetto.dev> (or `chrome://tracing`).
//! It is written as it is read, event by event, so a recording of millions of events costs
//! memory only for the fds open at once.
//!
//! # The file
//!
//! ```json
//! {"displayTimeUnit":"ns","traceEvents":[
//! {"ph":"X","cat":"wait","name":"epoll_wait","pid":1,"tid":1,"ts":1.2,"dur":0.9,"args":{"seq":8,"ts_ns":2100,"kind":"wait",…}},
//! {"ph":"i","s":"t","cat":"recv","name":"recv","pid":1,"tid":3,"ts":2.15,"args":{"seq":9,…,"kind":"recv","fd":5,"bytes":3,…}},
//! …
//! {"ph":"M","name":"thread_name","pid":1,"tid":3,"args":{"name":"fd 5 · alice (tcp)"}}
//! ],"metadata":{"source":"muxscope",…}}
//! ```
//!
//! `ts` and `dur` are microseconds, as the format wants, printed with three decimals so they
//! are the events' `ts_ns` exactly. Every mark's `args` are its event's fields as `/ws/events`
//! sends them (`seq`, `ts_ns`, `kind`, …), plus `flows` / `flows_ended` where flows start or end
//! (and `flows_omitted` where a broadcast left some out, see *Flow budget*).
//! `metadata` says what was read: events, snapshots, events the recording lost (`dropped`),
//! the first and last `seq`, the model at the end and the chat address.
//!
//! # Tracks
//!
//! - `pid` 1 is the server, named `muxscope (MODEL on CHAT_ADDR)`: the model it started in and
//!   its address, from the first snapshot (or, when a switch came before it, the switch's
//!   `from`; or what [`ChromeTrace::assume_model`] was told, from a recording's header).
//! - `tid` 1, *event loop*: the waits, and what concerns no fd: `gap`, `handover`, `model`, and
//!   a `snapshot` mark where a snapshot was read (the first, or a resync after lost events).
//! - One track per fd **and generation**, `tid` 2, 3, … in order of appearance, named
//!   `fd 7 · alice (tcp)`; the next connection to get number 7 is another track,
//!   `fd 7 · 127.0.0.1:41234 (tcp) #2`. A number gets a new generation at an `accept` of it, or
//!   at any other event of a live connection (`ctl add`, `recv`, `send`, `broadcast`, `nick`, or
//!   its being in a snapshot) after its track was closed: by a `close`, or by a snapshot without
//!   it (the close was among lost events). A `ctl del` closes nothing: a model switch tears down
//!   and rebuilds the interest list (`handover`, `ctl del`s, `ctl add`s, `model`) with every
//!   connection kept, and a paused listener is taken off it for a while. Marks that may come
//!   after a close (`ctl mod`/`del`, `thread`, `accept_eagain`) stay on the closed track.
//! - Each track is named (`M` `thread_name`) once, when its number's next generation retires
//!   it or at the end of the trace, with the last name it had: a `nick` renames the track.
//!
//! # Marks
//!
//! | event | drawn as | on |
//! |---|---|---|
//! | `wait` | `X` named by the model's call (`epoll_wait`, `poll`, `pselect6`, `rt_sigtimedwait`), from `ts_ns − blocked_ns` to `ts_ns` | loop |
//! | `uring_enter` | `X` `io_uring_enter`, `blocked_ns` long | loop |
//! | `sleep` | `X` `clock_nanosleep`, `ns` long | loop |
//! | `ctl` | `i` `ctl add` / `ctl mod` / `ctl del` | the fd |
//! | `accept`, `recv`, `nick`, `thread` | `i` (`recv EOF`, `recv EAGAIN`, `thread spawn` … by what happened) | the fd |
//! | `accept_eagain` | `i` `accept EAGAIN` | the listener |
//! | `send` | `i` `send` (`send EAGAIN`), or a 1 ns `X` when it ends flows | the fd |
//! | `close` | `i`, or a 1 ns `X` when it ends flows | the fd |
//! | `broadcast` | 1 ns `X`, where its flows start | the sender |
//! | `gap`, `handover`, `model`, snapshots | `i` | loop |
//!
//! # Flows
//!
//! Each `broadcast` starts one flow per recipient drawn (all of them in a room of 64 or fewer,
//! see *Flow budget*) (`s` on the sender's track, `cat` `flow`,
//! `name` `broadcast`, a unique `id`), and each ends (`f`, `"bp":"e"`) on that recipient's next
//! `send` that wrote bytes: output is coalesced, so one send may end several flows. Recipients
//! are the clients (role `tcp` or `web`) registered when the line was broadcast; when the
//! event's `recipients` is 1 and that is not how many clients there are, the line went back to
//! its sender only (`--app echo`). A recipient that closes before its send ends its flows at
//! its `close`; a track retired or dropped by a snapshot ends them there (`gone`); flows still
//! owed when the trace ends end on an `unsent at end` mark at the last timestamp.
//!
//! ## Flow budget
//!
//! A broadcast to a big room would draw an arrow to every recipient: a 2-second blast to 1,000
//! clients is 94 million flows, an 18 GB file nobody can open. So a trace draws only so many,
//! and counts the rest ([`TraceOptions`]; the defaults, 0 turning a limit off):
//!
//! - **per broadcast**, at most 64 recipients: a room of 64 or fewer is drawn whole; in a
//!   bigger one each broadcast draws 64 arrows, to the next 64 recipients in fd order after the
//!   ones the last partial fan-out drew (wrapping round), so every client's track gets arrows in
//!   turn, and one fan-out shows what each looks like;
//! - **paced**, at most `4,096 + 2 × events read` flows drawn at any point: a broadcast whose
//!   share is not earned yet draws none. A chat (a send per recipient per line) earns more than
//!   it draws and is never paced; a blast (sends that carry many lines) draws a full fan-out
//!   every ~32 events, from its start to its end rather than all at the start, and the file stays
//!   proportional to the events (under 1 KB each);
//! - **in all**, at most 200,000 flows (`muxscope export --max-flows N`; 0 draws every flow):
//!   the last bound on the file, 38 MB of arrows, reached after ~100,000 paced events; a longer
//!   recording draws no arrows past it (a 2-second blast to 1,000 clients, 93,610 events, drew
//!   184,832, a fan-out every ~1.1 ms to its end, in 64 MB: 684 bytes per event).
//!
//! A broadcast that draws fewer than its recipients says how many it left out in its args
//! (`"flows":64,"flows_omitted":936`); `metadata` has the total (`flows_omitted`, also in its
//! `summary`) and the budget (`flow_budget`). Flows drawn start and end exactly as above.
//!
//! Binding: Perfetto's JSON importer ties a flow event to the slice on top of its track's stack
//! when it reads the flow event, and reads events of equal `ts` in file order. So each flow
//! event is written right after the mark it belongs to, at the same `ts`, and that mark is an
//! `X` slice of 1 ns (`"dur":0.001`) rather than an instant, so that viewers that only bind
//! flows to slices with a duration (the legacy `chrome://tracing`) draw the arrows too.
//!
//! # Time
//!
//! On each track, timestamps never go back: a wait starts no earlier than the loop's last
//! mark, and an event stamped before its track's last mark (the blocking model's threads stamp
//! their own events) is moved up to it. Slices on a track nest or follow each other, never
//! overlap, as Perfetto requires.
//!
//! # Lost events and snapshots
//!
//! A `gap` (from the loop, the recorder, or the gateway's `seq` 0 ones) is a loop mark with its
//! count. A snapshot read mid-stream (a resync) closes the tracks of fds it lacks and opens
//! tracks for fds it has; events at or before its `seq` are already in it and are skipped.

#[cfg(test)]
mod blast_tests;
mod budget;
#[cfg(test)]
mod check;
mod events;
mod json;
#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod tests;
mod tracks;

pub use budget::{TraceOptions, DEFAULT_FLOWS_PER_BROADCAST, DEFAULT_FLOWS_PER_EVENT, DEFAULT_FLOW_BURST, DEFAULT_MAX_FLOWS};

use crate::{Model, ServerMsg, Snapshot, PROTOCOL_VERSION};
use budget::Budget;
use json::Sink;
use serde::Serialize;
use std::io::{self, Write};
use tracks::Tracks;

/// The one process: the server.
const PID: u32 = 1;

/// What a trace holds, counted as it was written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TraceSummary {
    /// Named tracks: the loop's and one per fd and generation.
    pub tracks: u64,
    /// `X` slices: waits, broadcasts and the marks that end flows.
    pub slices: u64,
    /// `i` marks.
    pub instants: u64,
    /// Flows started (`s`), one per broadcast and recipient drawn.
    pub flows: u64,
    /// Flows a broadcast did not draw, for the flow budget ([`TraceOptions`]): with `flows`,
    /// one per broadcast and recipient.
    pub flows_omitted: u64,
    /// Flow ends (`f`): every flow ends, so this equals `flows` in a finished trace.
    pub flow_ends: u64,
    /// Events read (gaps included), and events skipped as already in a snapshot.
    pub events: u64,
    pub skipped: u64,
}

/// Writes `items` (snapshots and event batches, in order) to `out` as Chrome Trace Event JSON,
/// with the default flow budget. `out` is written in many small pieces: give it a buffered
/// writer.
pub fn write_chrome_trace<'a, W: Write>(items: impl IntoIterator<Item = &'a ServerMsg>, out: W) -> io::Result<TraceSummary> {
    write_chrome_trace_with(items, out, TraceOptions::default())
}

/// [`write_chrome_trace`] with another flow budget.
pub fn write_chrome_trace_with<'a, W: Write>(
    items: impl IntoIterator<Item = &'a ServerMsg>,
    out: W,
    opts: TraceOptions,
) -> io::Result<TraceSummary> {
    let mut t = ChromeTrace::with_options(out, opts)?;
    for m in items {
        t.push(m)?;
    }
    t.finish()
}

/// The trace as a string (the page's *Export* button).
pub fn chrome_trace_string<'a>(items: impl IntoIterator<Item = &'a ServerMsg>) -> String {
    let mut out = Vec::new();
    write_chrome_trace(items, &mut out).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("the trace is written as UTF-8")
}

/// The writer behind [`write_chrome_trace`], for a caller that has its events one at a time
/// (the page unpacks its history as it goes): [`push`](Self::push), or
/// [`snapshot`](Self::snapshot) and [`event`](Self::event), then [`finish`](Self::finish).
pub struct ChromeTrace<W: Write> {
    sink: Sink<W>,
    /// The loop's state, folded as events are read: who the clients are, the model, names.
    snap: Snapshot,
    tracks: Tracks,
    next_flow: u64,
    budget: Budget,
    /// The latest timestamp read: where owed flows end.
    last_ts: u64,
    /// The model the trace starts in, for the process name: the first snapshot's, or the one a
    /// switch left if a switch came first (a recording whose first snapshot came late).
    start_model: Option<Model>,
    start_known: bool,
    /// The first snapshot's chat address.
    chat_addr: String,
    seen: Seen,
    extra: serde_json::Map<String, serde_json::Value>,
}

/// What was read, for `metadata`.
#[derive(Default)]
struct Seen {
    events: u64,
    skipped: u64,
    snapshots: u64,
    dropped: u64,
    first_seq: Option<u64>,
    last_seq: u64,
    first_ts: Option<u64>,
}

impl<W: Write> ChromeTrace<W> {
    /// Starts the file (its first bytes are written at once), with the default flow budget.
    pub fn new(out: W) -> io::Result<ChromeTrace<W>> {
        ChromeTrace::with_options(out, TraceOptions::default())
    }

    /// The defaults with at most `n` flow pairs in all; 0 draws every flow.
    pub fn with_max_flows(out: W, n: u64) -> io::Result<ChromeTrace<W>> {
        ChromeTrace::with_options(out, TraceOptions::with_max_flows(n))
    }

    pub fn with_options(out: W, opts: TraceOptions) -> io::Result<ChromeTrace<W>> {
        Ok(ChromeTrace {
            sink: Sink::new(out)?,
            snap: Snapshot::empty(),
            tracks: Tracks::new(),
            next_flow: 1,
            budget: Budget::new(opts),
            last_ts: 0,
            start_model: None,
            start_known: false,
            chat_addr: String::new(),
            seen: Seen::default(),
            extra: serde_json::Map::new(),
        })
    }

    /// The model the server ran when the recording began (its header says), for what comes
    /// before the first snapshot: the waits' names and the process name.
    pub fn assume_model(&mut self, model: Model) {
        self.snap.model.get_or_insert(model);
        if !self.start_known {
            self.start_model = Some(model);
        }
    }

    /// Adds a field to `metadata` (e.g. the recording's header, or that it was truncated).
    pub fn metadata(&mut self, key: &str, value: serde_json::Value) {
        self.extra.insert(key.to_string(), value);
    }

    pub fn push(&mut self, m: &ServerMsg) -> io::Result<()> {
        match m {
            ServerMsg::Snapshot(s) => self.snapshot(s),
            ServerMsg::Events { events } => events.iter().try_for_each(|e| self.event(e)),
        }
    }

    /// Ends every flow still owed, names every track, writes `metadata`; returns what was
    /// written, after flushing `out`.
    pub fn finish(mut self) -> io::Result<TraceSummary> {
        let end = self.last_ts;
        for mut t in self.tracks.into_current() {
            events::retire(&mut self.sink, &mut t, end, "unsent at end")?;
        }
        self.sink.name("thread_name", Some(tracks::LOOP_TID), "event loop")?;
        let process = match (self.start_model.map(Model::name), self.chat_addr.as_str()) {
            (None, _) => "muxscope".to_string(),
            (Some(model), "") => format!("muxscope ({model})"),
            (Some(model), addr) => format!("muxscope ({model} on {addr})"),
        };
        self.sink.name("process_name", None, &process)?;
        let mut summary = self.sink.summary.clone();
        summary.events = self.seen.events;
        summary.skipped = self.seen.skipped;
        let mut meta = serde_json::json!({
            "source": "muxscope",
            "format": "muxscope_shared::trace",
            "protocol_version": PROTOCOL_VERSION,
            "model": self.snap.model,
            "chat_addr": self.snap.chat_addr,
            "events": summary.events,
            "skipped": summary.skipped,
            "snapshots": self.seen.snapshots,
            "dropped": self.seen.dropped,
            "first_seq": self.seen.first_seq,
            "last_seq": self.seen.last_seq,
            "first_ts_ns": self.seen.first_ts,
            "last_ts_ns": self.last_ts,
            "flows_omitted": summary.flows_omitted,
            "flow_budget": self.budget.options(),
            "summary": summary,
        });
        meta.as_object_mut().expect("an object").extend(self.extra);
        self.sink.finish(&meta)?;
        Ok(summary)
    }
}
