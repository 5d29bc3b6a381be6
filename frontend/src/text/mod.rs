//! The page's words. The reducer keeps what happened as typed values (log entries, notes, the
//! phase, a switch, the history's size); this module says them, in English for now — the one
//! place a translation has to touch. Compiled natively, so its lines are tested without a
//! browser.

mod describe;
#[cfg(test)]
mod tests;

use crate::history::HistoryStats;
use crate::state::{Banner, FoldWhy, LogEntry, LogLine, Note, Played, Source, StreamDown};
pub use describe::{describe, ms};
use muxscope_shared::{EventBody, Model as IoModel};

/// A log line's class (its colour) and text.
pub fn log_line(line: &LogLine) -> (&'static str, String) {
    match line {
        LogLine::Entry(e) => entry(e),
        LogLine::Note(n) => note(&n.note),
    }
}

fn entry(e: &LogEntry) -> (&'static str, String) {
    match e {
        LogEntry::Event(p) => match &p.event.body {
            EventBody::Gap { dropped, folded, resync, .. } => gap(*dropped, *folded, *resync, p.event.seq == 0),
            body => {
                // An fd the picture did not know is named by its number.
                let number = match body {
                    EventBody::Ctl { fd, .. } | EventBody::Close { fd, .. } => Some(format!("fd {fd}")),
                    _ => None,
                };
                (body.kind(), describe(body, p.model, p.name.as_deref().or(number.as_deref())))
            }
        },
        LogEntry::Snapshot { fds, model, .. } => {
            let model = model.map_or("unknown", |m| m.name());
            ("sys", format!("snapshot: {fds} fds registered, {model} model"))
        }
        LogEntry::Switch { from, to, fds, seen_in_snapshot, .. } => {
            let how = if *seen_in_snapshot { " (seen in a snapshot)" } else { "" };
            let said = describe(&EventBody::Model { model: *to, from: Some(*from) }, *to, None);
            ("model", format!("{said}, {fds} fds handed over{how}"))
        }
    }
}

fn gap(dropped: u64, folded: bool, resync: bool, by_gateway: bool) -> (&'static str, String) {
    let then = if resync { "a snapshot follows" } else { "the totals stay exact" };
    if !folded {
        let text = format!("⚠ {dropped} events dropped (a full event queue, or one turn made more than it can hand over); counted, {then}");
        return ("gap", text);
    }
    // The gateway's gaps have no seq; the loop's are events of its own.
    let text = if by_gateway {
        format!("×{dropped} events folded by the gateway (faster than a browser can draw); {then}")
    } else {
        format!("×{dropped} events folded by the loop (a flooded turn describes its first few hundred and counts the rest); {then}")
    };
    ("fold", text)
}

fn note(n: &Note) -> (&'static str, String) {
    match n {
        Note::Connected => ("sys", "connected to the event stream".into()),
        Note::Lost => ("sys", "event stream lost; reconnecting…".into()),
        Note::Closed { reason, retry_s } => ("sys", stream_down(&StreamDown { reason: reason.clone(), retry_s: *retry_s })),
        Note::Folded { n, why } => {
            let why = match why {
                FoldWhy::TooFast => "faster than it can be drawn",
                FoldWhy::QueueFull => "queue full",
            };
            ("fold", format!("×{n} events folded ({why})"))
        }
        Note::Evicted { events } => {
            ("gap", format!("history full: its oldest {events} events were let go (the page keeps what fits in its memory bound)"))
        }
        Note::Opened { events } => ("sys", format!("recording opened: {events} items, paused at its start")),
    }
}

/// Why the event stream is down, and when the page tries again.
pub fn stream_down(d: &StreamDown) -> String {
    if d.reason.is_empty() {
        format!("event stream lost; trying again in {} s", d.retry_s)
    } else {
        format!("event stream closed by the server: {} (trying again in {} s)", d.reason, d.retry_s)
    }
}

/// The phase line for the event that set the phase ([`crate::state::Scene::phase`]).
pub fn phase(p: &Played) -> String {
    let model = p.model;
    match &p.event.body {
        EventBody::Wait { ready, ready_total, .. } => {
            let fds: Vec<String> = ready.iter().take(6).map(|r| format!("fd {} {}", r.fd, r.flags)).collect();
            let more = if *ready_total as usize > fds.len() { " …" } else { "" };
            format!("① the kernel has data: {} returned {ready_total} ready ({}{more})", model.wait_call(), fds.join(", "))
        }
        EventBody::Recv { fd, bytes, eof, would_block, .. } => {
            let name = p.name.clone().unwrap_or_else(|| format!("fd {fd}"));
            if *bytes > 0 && model == IoModel::IoUring {
                format!("② the kernel copied {bytes} bytes into the loop's buffer: recv(fd {fd}) completed ({name})")
            } else if *bytes > 0 {
                format!("② recv(fd {fd}) copied {bytes} bytes from the kernel to user space ({name})")
            } else if *eof {
                format!("② recv(fd {fd}) returned 0: the peer closed")
            } else if *would_block && model == IoModel::Nonblocking {
                format!("② recv(fd {fd}) → EAGAIN: nothing there yet; the next sweep tries again")
            } else {
                format!("② recv(fd {fd}) → EAGAIN: drained, nothing more in the kernel")
            }
        }
        EventBody::UringEnter { submitted, wait_nr, blocked_ns } => format!(
            "① io_uring_enter handed the kernel {submitted} operations and waited {:.1} ms for {wait_nr} to complete",
            *blocked_ns as f64 / 1e6
        ),
        EventBody::Broadcast { name, text, .. } => format!("③ fan-out: \"[{name}] {text}\" encoded once, owed to every client"),
        other => describe(other, model, p.name.as_deref()),
    }
}

/// The phase line before the first phase.
pub const PHASES: &str = "① wait for readiness → ② recv copies the data → ③ fan-out to every client";

/// The fan-out's line, as the chat shows it.
pub fn fanout_line(p: &Played) -> String {
    match &p.event.body {
        EventBody::Broadcast { name, text, .. } => format!("[{name}] {text}"),
        _ => String::new(),
    }
}

/// What the header says while a recording is on show.
pub fn showing(source: &Source, name: &str) -> String {
    match source {
        Source::Replay { .. } => format!("replay of {name}"),
        _ => format!("recording {name}"),
    }
}

/// The chat pane's line while a recording is on show (its input is off).
pub fn chat_read_only(source: &Source, name: &str) -> String {
    match source {
        Source::Replay { .. } => format!("* this is a replay of {name}: the chat below is what was said then, and nothing can be sent"),
        _ => format!("* showing the recording {name}: nothing can be sent (✕ live returns to the loop)"),
    }
}

pub fn banner(b: &Banner) -> String {
    format!("{} → {}: {} fds handed over, every connection kept", b.from, b.to, b.fds)
}

/// The history's status line: "history: 41 min, 2.1 M events, 38 MiB".
pub fn history(s: &HistoryStats) -> String {
    let secs = s.span_ns / 1_000_000_000;
    let span = match secs {
        0..60 => format!("{secs} s"),
        60..7200 => format!("{} min", secs / 60),
        _ => format!("{:.1} h", secs as f64 / 3600.0),
    };
    let items = match s.items {
        0..10_000 => s.items.to_string(),
        10_000..1_000_000 => format!("{} k", s.items / 1000),
        n => format!("{:.1} M", n as f64 / 1e6),
    };
    let mib = s.bytes as f64 / (1024.0 * 1024.0);
    let bytes = if mib < 10.0 { format!("{mib:.1} MiB") } else { format!("{mib:.0} MiB") };
    let evicted = if s.evicted > 0 { format!(" (oldest {} let go)", s.evicted) } else { String::new() };
    format!("history: {span}, {items} events, {bytes}{evicted}")
}
