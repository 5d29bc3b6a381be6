//! One session's syscalls against its events: the counts, the outcomes, the order, and what
//! failed.

use super::kinds::{backed, event_step, sigio_arming, syscall_step, Step, CHANGES, KINDS, OUTCOMES};
use super::script::Script;
use super::strace::Call;
use muxscope_shared::{Event, EventBody, Model};
use std::collections::BTreeMap;

/// Syscalls and events of one kind (or outcome).
#[derive(Clone, Copy, Debug, Default)]
pub struct Count {
    pub sys: u64,
    /// Events that stand for a syscall in this model.
    pub ev: u64,
    /// Events that stand for none in this model (table edits).
    pub edits: u64,
}

/// The counts of one model's session.
#[derive(Default)]
pub struct Report {
    pub counts: BTreeMap<&'static str, Count>,
    /// (kind, outcome or op) → counts.
    pub subs: BTreeMap<(&'static str, &'static str), Count>,
    /// `recv`/`send` → (syscalls, events) bytes.
    pub bytes: BTreeMap<&'static str, (u64, u64)>,
    /// `read`s of the waker eventfd inside the window (no event).
    pub waker_reads: u64,
    pub gaps: u64,
    pub events_total: usize,
    /// How the window was cut, and other per-model remarks, for the table's notes.
    pub notes: Vec<String>,
    pub failures: Vec<String>,
}

/// Everything compared: the window's calls (already cut, and for the blocking model already
/// only the chat's threads) and the events after the snapshot (seq > `snap_seq`, gaps too).
pub struct Input<'a> {
    pub model: Model,
    pub calls: &'a [Call],
    pub events: &'a [Event],
    pub snap_seq: u64,
    pub waker: i32,
    pub want: &'a Script,
}

pub fn compare(i: &Input) -> Report {
    let model = i.model;
    let mut r = Report { events_total: i.events.len(), ..Report::default() };
    r.counts = KINDS.iter().map(|k| (*k, Count::default())).collect();
    r.subs = OUTCOMES.iter().chain(&CHANGES).map(|ks| (*ks, Count::default())).collect();
    r.bytes = [("recv", (0, 0)), ("send", (0, 0))].into();

    // Seqs: contiguous from the snapshot on, except for what gaps say they stand for.
    r.gaps = i.events.iter().map(|e| if let EventBody::Gap { dropped, .. } = e.body { dropped } else { 0 }).sum();
    let seqs: Vec<u64> = i.events.iter().filter(|e| e.seq != 0).map(|e| e.seq).collect();
    let holes = seqs.iter().zip(std::iter::once(&i.snap_seq).chain(&seqs)).map(|(s, prev)| s.saturating_sub(prev + 1)).sum::<u64>();
    if holes != r.gaps || seqs.windows(2).any(|p| p[1] <= p[0]) {
        r.failures.push(format!("seqs after snapshot {} have {holes} missing, gaps say {}", i.snap_seq, r.gaps));
    }

    let sys_steps: Vec<(Step, &Call)> = i.calls.iter().filter_map(|c| Some((syscall_step(model, c)?, c))).collect();
    for (s, _) in &sys_steps {
        r.counts.get_mut(s.kind).expect("a compared kind").sys += 1;
        if let Some(c) = r.subs.get_mut(&(s.kind, s.sub)) {
            c.sys += 1;
        }
        if let Some(b) = r.bytes.get_mut(s.kind) {
            b.0 += s.bytes;
        }
    }
    let (mut broadcasts, mut nicks, mut others) = (0, 0, vec![]);
    let mut ev_steps = vec![];
    let refusal_sends = refusal_sends(i.events);
    for (k, e) in i.events.iter().enumerate() {
        match &e.body {
            EventBody::Broadcast { .. } => broadcasts += 1,
            EventBody::Nick { .. } => nicks += 1,
            EventBody::Gap { .. } => {}
            b => match event_step(b) {
                Some(s) => {
                    // io_uring's completions are no syscall, but a refused client's error line
                    // is one plain `send` (see [`refusal_sends`]).
                    let is_call = backed(model, s.kind, s.sub) || refusal_sends.contains(&k);
                    let add = |c: &mut Count| if is_call { c.ev += 1 } else { c.edits += 1 };
                    add(r.counts.get_mut(s.kind).expect("a compared kind"));
                    if let Some(c) = r.subs.get_mut(&(s.kind, s.sub)) {
                        add(c);
                    }
                    if let Some(b) = r.bytes.get_mut(s.kind).filter(|_| is_call) {
                        b.1 += s.bytes;
                    }
                    if is_call {
                        ev_steps.push(s);
                    }
                }
                None => others.push(b.kind()),
            },
        }
    }
    if !others.is_empty() {
        r.failures.push(format!("events the script never causes: {others:?}"));
    }

    r.waker_reads = i.calls.iter().filter(|c| c.name == "read" && c.fd == Some(i.waker) && c.ret.is_some()).count() as u64;
    let other_reads: Vec<&str> = i.calls.iter().filter(|c| c.name == "read" && c.fd != Some(i.waker)).map(|c| c.line.as_str()).collect();
    if !other_reads.is_empty() {
        r.failures.push(format!("the loop read(2) something besides its waker: {other_reads:?}"));
    }
    if model == Model::Nonblocking && r.waker_reads > 0 {
        r.failures.push(format!("the non-blocking sweep read its waker {} times (it never should)", r.waker_reads));
    }
    // Calls for which this model has no event at all (epoll_ctl from a poll loop, say).
    for ((k, s), c) in &r.subs {
        if !backed(model, k, s) && c.sys > c.ev {
            r.failures
                .push(format!("{k} {s}: {} syscalls, but in {model} it is a table edit (no syscall) but for {} refusals", c.sys, c.ev));
        }
    }
    // Every client that joined left, and every thread that started ended.
    let sub = |k, s| r.subs[&(k, s)];
    let (adds, dels) = (sub("ctl", "add"), sub("ctl", "del"));
    let (adds, dels) = (adds.ev + adds.edits, dels.ev + dels.edits);
    if r.gaps == 0 && (adds != i.want.joins || dels != i.want.joins) {
        r.failures
            .push(format!("ctl add/del events {adds}/{dels}, the script joined {} clients (each must be added and deleted)", i.want.joins));
    }
    let (spawns, exits) = (sub("thread", "spawn").ev, sub("thread", "exit").ev);
    if r.gaps == 0 && spawns != exits {
        r.failures.push(format!("{spawns} thread spawn events but {exits} exits, with every client gone"));
    }
    if model == Model::Sigio {
        let [own, sig, fl] = sigio_arming(i.calls);
        r.notes.push(format!(
            "sigio arming fcntls F_SETOWN_EX/F_SETSIG/F_SETFL+O_ASYNC: {own}/{sig}/{fl}, ctl add events {}",
            sub("ctl", "add").ev
        ));
        if r.gaps == 0 && [own, sig, fl] != [sub("ctl", "add").ev; 3] {
            r.failures.push(format!("sigio arms with three fcntls per ctl add: {own}/{sig}/{fl} for {} adds", sub("ctl", "add").ev));
        }
    }

    if r.gaps > 0 {
        reconcile(i, &mut r, broadcasts + nicks);
        return r;
    }
    for k in KINDS {
        let c = r.counts[k];
        if c.sys != c.ev {
            r.failures.push(format!("{k}: {} syscalls, {} events", c.sys, c.ev));
        }
    }
    for ((k, s), c) in &r.subs {
        if backed(model, k, s) && c.sys != c.ev {
            r.failures.push(format!("{k} {s}: {} by the syscalls, {} by the events", c.sys, c.ev));
        }
    }
    for (k, (sys, ev)) in &r.bytes {
        if sys != ev {
            r.failures.push(format!("{k} bytes in all: {sys} by the syscalls, {ev} by the events"));
        }
    }
    if (broadcasts, nicks) != (i.want.broadcasts, i.want.nicks) {
        r.failures.push(format!("broadcast/nick events {broadcasts}/{nicks}, the script made {}/{}", i.want.broadcasts, i.want.nicks));
    }
    if model == Model::Blocking {
        same_steps_by_fd(&sys_steps, &ev_steps, &mut r.failures);
    } else {
        same_order(&sys_steps, &ev_steps, &mut r.failures);
    }
    r
}

/// Something folded after all: no per-kind claim, but the totals must reconcile. The events
/// of table edits have no syscall to count, so those folded are unknown: with any in the
/// model, the totals may differ by at most the gaps.
fn reconcile(i: &Input, r: &mut Report, named: u64) {
    let sys: u64 = r.counts.values().map(|c| c.sys).sum();
    let ev: u64 = r.counts.values().map(|c| c.ev).sum();
    let edits = KINDS.iter().any(|k| r.counts[k].edits > 0) || ["add", "mod", "del"].iter().any(|s| !backed(i.model, "ctl", s));
    let (lhs, rhs, gaps) = (sys + i.want.broadcasts + i.want.nicks, ev + named + r.gaps, r.gaps);
    if if edits { lhs > rhs || rhs > lhs + gaps } else { lhs != rhs } {
        r.failures.push(format!("with {gaps} events folded: syscalls {sys} + script {} vs events {} + gaps {gaps}", lhs - sys, rhs - gaps));
    }
}

fn show(s: &Step) -> String {
    let fd = s.fd.map_or(String::new(), |f| format!(" {f}"));
    let bytes = if s.bytes > 0 { format!(" {}B", s.bytes) } else { String::new() };
    format!("{}{}{fd}{bytes}", s.kind, if s.sub.is_empty() { String::new() } else { format!("/{}", s.sub) })
}

/// One thread made every call and told every event: the same steps in the same order.
fn same_order(sys: &[(Step, &Call)], ev: &[Step], failures: &mut Vec<String>) {
    let Some(i) = (0..sys.len().max(ev.len())).find(|&i| sys.get(i).map(|s| s.0) != ev.get(i).copied()) else { return };
    let (from, to) = (i.saturating_sub(3), i + 3);
    let sys_ctx: Vec<String> = sys[from.min(sys.len())..to.min(sys.len())].iter().map(|s| show(&s.0)).collect();
    let ev_ctx: Vec<String> = ev[from.min(ev.len())..to.min(ev.len())].iter().map(show).collect();
    let line = sys.get(i).map_or("(none)", |s| s.1.line.as_str());
    failures.push(format!(
        "order differs at step {i} of {}/{}: syscalls {sys_ctx:?}\n    vs events {ev_ctx:?}\n    the syscall there: {line}",
        sys.len(),
        ev.len()
    ));
}

/// Many threads: their calls interleave in strace's order, and their events in the order they
/// took the room's lock, so only the steps themselves are compared, fd by fd (thread by thread
/// for spawn and exit), as multisets.
fn same_steps_by_fd(sys: &[(Step, &Call)], ev: &[Step], failures: &mut Vec<String>) {
    let mut diff: BTreeMap<Step, (i64, Vec<String>)> = BTreeMap::new();
    for (s, c) in sys {
        let d = diff.entry(*s).or_default();
        d.0 += 1;
        d.1.push(format!("thread {}: {}", c.tid.unwrap_or(0), c.line));
    }
    for s in ev {
        diff.entry(*s).or_default().0 -= 1;
    }
    let bad: Vec<String> = diff
        .iter()
        .filter(|(_, d)| d.0 != 0)
        .map(|(s, (n, lines))| match *n {
            n if n > 0 => format!("{} more syscalls than events of {}: {:?}", n, show(s), lines.iter().take(3).collect::<Vec<_>>()),
            n => format!("{} more events than syscalls of {}", -n, show(s)),
        })
        .collect();
    if !bad.is_empty() {
        failures.push(format!("steps differ, fd by fd:\n    {}", bad.join("\n    ")));
    }
}

/// The `send`s that tell a refused client why (`--max-clients`, the per-address limit, no fds):
/// the next event on that fd is its `close` with such a reason. Every model makes that one
/// plain `send` syscall, io_uring too (the connection is closed at once, not handed to the ring).
fn refusal_sends(events: &[Event]) -> std::collections::BTreeSet<usize> {
    use muxscope_shared::CloseReason::*;
    let mut out = std::collections::BTreeSet::new();
    for (k, e) in events.iter().enumerate() {
        let EventBody::Send { fd, .. } = e.body else { continue };
        let next = events[k + 1..].iter().find_map(|n| match &n.body {
            EventBody::Close { fd: f, reason, .. } if *f == fd => Some(Some(*reason)),
            EventBody::Send { fd: f, .. } | EventBody::Recv { fd: f, .. } | EventBody::Ctl { fd: f, .. } if *f == fd => Some(None),
            _ => None,
        });
        if matches!(next, Some(Some(MaxClients | PerIpLimit | FdExhausted | SelectorLimit))) {
            out.insert(k);
        }
    }
    out
}
