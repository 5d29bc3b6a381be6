//! Each event's marks, and the flows from broadcasts to sends (the mapping is in the module
//! doc of `trace`).

use super::json::{Ph, Sink};
use super::tracks::{Claim, Track, Tracks};
use super::ChromeTrace;
use crate::{CtlOp, Event, EventBody, Model, Snapshot, ThreadOp};
use std::io::{self, Write};

/// How long a mark that carries flow events lasts: a slice, so that every viewer binds the
/// flows to it, and the shortest one, so that it says "at this instant".
const MARK_NS: u64 = 1;

impl<W: Write> ChromeTrace<W> {
    /// Reads a snapshot: the first names the process and opens a track per fd; a later one
    /// (a resync after lost events) closes the tracks of fds it lacks and opens the missing.
    pub fn snapshot(&mut self, s: &Snapshot) -> io::Result<()> {
        self.seen.snapshots += 1;
        self.last_ts = self.last_ts.max(s.ts_ns);
        self.started_in(s.model);
        if self.chat_addr.is_empty() {
            self.chat_addr.clone_from(&s.chat_addr);
        }
        let (sink, tracks, ts) = (&mut self.sink, &mut self.tracks, s.ts_ns);
        for fd in tracks.open_fds() {
            if s.fd(fd).is_none() {
                let t = tracks.get_mut(fd).expect("an open track");
                t.open = false;
                if !t.owed.is_empty() {
                    end_flows(sink, t, ts, "close", "gone", None)?;
                }
            }
        }
        for f in &s.fds {
            let t = claim(tracks, sink, f.fd, Claim::Live, ts)?;
            t.name.clone_from(&f.name);
            t.role = Some(f.role);
        }
        let lp = &mut tracks.lp;
        let at = lp.at(ts);
        sink.mark(Ph::Instant, "snapshot", "snapshot", lp.tid, at, None, &[("seq", s.seq), ("fds", s.fds.len() as u64)])?;
        self.snap = s.clone();
        Ok(())
    }

    /// Reads one event. One at or before the last snapshot's `seq` is already in it: skipped.
    pub fn event(&mut self, e: &Event) -> io::Result<()> {
        if !matches!(e.body, EventBody::Gap { .. }) && e.seq != 0 && e.seq <= self.snap.seq {
            self.seen.skipped += 1;
            return Ok(());
        }
        self.seen.events += 1;
        if e.seq != 0 {
            self.seen.first_seq.get_or_insert(e.seq);
            self.seen.last_seq = e.seq;
        }
        self.seen.first_ts.get_or_insert(e.ts_ns);
        self.last_ts = self.last_ts.max(e.ts_ns);
        let (sink, tracks, ts) = (&mut self.sink, &mut self.tracks, e.ts_ns);
        // The plain marks on an fd's track: which fd, how the event claims it, the mark's name.
        let plain = match &e.body {
            EventBody::Wait { blocked_ns, .. } => {
                let call = self.snap.model.unwrap_or_default().wait_call();
                waited(sink, &mut tracks.lp, ts, *blocked_ns, call, e)?;
                None
            }
            EventBody::UringEnter { blocked_ns, .. } => {
                waited(sink, &mut tracks.lp, ts, *blocked_ns, "io_uring_enter", e)?;
                None
            }
            EventBody::Sleep { ns } => {
                waited(sink, &mut tracks.lp, ts, *ns, "clock_nanosleep", e)?;
                None
            }
            EventBody::Relay { .. } => {
                instant(sink, &mut tracks.lp, "relay", e)?;
                None
            }
            EventBody::Gap { dropped, .. } => {
                self.seen.dropped += dropped;
                instant(sink, &mut tracks.lp, "gap", e)?;
                None
            }
            EventBody::Handover { from, .. } | EventBody::Model { from: Some(from), .. } => {
                let from = *from;
                instant(sink, &mut tracks.lp, e.body.kind(), e)?;
                self.started_in(Some(from));
                None
            }
            EventBody::Model { model, from: None } => {
                let model = *model;
                instant(sink, &mut tracks.lp, "model", e)?;
                self.started_in(Some(model));
                None
            }
            EventBody::Send { fd, bytes, would_block, .. } => {
                let t = claim(tracks, sink, *fd, Claim::Live, ts)?;
                match (bytes, would_block) {
                    // The bytes the line's flows stand for reached the kernel.
                    (1.., _) => end_flows(sink, t, ts, "send", "send", Some(e))?,
                    (0, true) => instant(sink, t, "send EAGAIN", e)?,
                    (0, false) => instant(sink, t, "send", e)?,
                }
                None
            }
            EventBody::Close { fd, .. } => {
                let t = claim(tracks, sink, *fd, Claim::Any, ts)?;
                end_flows(sink, t, ts, "close", "close", Some(e))?;
                t.open = false;
                None
            }
            EventBody::Broadcast { from, recipients, .. } => {
                self.broadcast(e, *from, *recipients)?;
                None
            }
            EventBody::Ctl { op: CtlOp::Add, fd, .. } => Some((*fd, Claim::Live, "ctl add")),
            EventBody::Ctl { op: CtlOp::Mod, fd, .. } => Some((*fd, Claim::Any, "ctl mod")),
            EventBody::Ctl { op: CtlOp::Del, fd, .. } => Some((*fd, Claim::Any, "ctl del")),
            EventBody::Accept { fd, .. } => Some((*fd, Claim::Accept, "accept")),
            EventBody::Recv { fd, eof: true, .. } => Some((*fd, Claim::Live, "recv EOF")),
            EventBody::Recv { fd, would_block: true, .. } => Some((*fd, Claim::Live, "recv EAGAIN")),
            EventBody::Recv { fd, .. } => Some((*fd, Claim::Live, "recv")),
            EventBody::Nick { fd, .. } => Some((*fd, Claim::Live, "nick")),
            EventBody::Thread { op: ThreadOp::Spawn, fd, .. } => Some((*fd, Claim::Any, "thread spawn")),
            EventBody::Thread { op: ThreadOp::Exit, fd, .. } => Some((*fd, Claim::Any, "thread exit")),
            EventBody::AcceptEagain { listener } => Some((*listener, Claim::Any, "accept EAGAIN")),
        };
        if let Some((fd, how, name)) = plain {
            let t = claim(&mut self.tracks, &mut self.sink, fd, how, ts)?;
            instant(&mut self.sink, t, name, e)?;
        }
        self.snap.apply(e);
        // Names follow the fd table: an accept's peer, a nick, the listener's address.
        if let EventBody::Ctl { fd, .. } | EventBody::Accept { fd, .. } | EventBody::Nick { fd, .. } = &e.body {
            if let (Some(f), Some(t)) = (self.snap.fd(*fd), self.tracks.get_mut(*fd)) {
                if t.name != f.name {
                    t.name.clone_from(&f.name);
                }
                t.role = Some(f.role);
            }
        }
        Ok(())
    }

    /// What the first snapshot, or the first switch, says the trace started in.
    fn started_in(&mut self, model: Option<Model>) {
        if !self.start_known {
            self.start_known = true;
            self.start_model = model.or(self.start_model);
        }
    }

    /// A broadcast's slice on the sender's track, and a flow from it to each recipient the
    /// budget draws; its args count the ones it does not.
    fn broadcast(&mut self, e: &Event, from: i32, recipients: u32) -> io::Result<()> {
        let to = recipients_of(&self.snap, from, recipients);
        let drawn = self.budget.pick(&to, self.seen.events);
        let omitted = (to.len() - drawn.len()) as u64;
        self.sink.summary.flows_omitted += omitted;
        let sender = claim(&mut self.tracks, &mut self.sink, from, Claim::Live, e.ts_ns)?;
        let (tid, ts) = (sender.tid, sender.at(e.ts_ns));
        let counts = [("flows", drawn.len() as u64), ("flows_omitted", omitted)];
        let extra = if omitted > 0 { &counts[..] } else { &counts[..1] };
        self.sink.mark(Ph::Slice(MARK_NS), "broadcast", "broadcast", tid, ts, Some(e), extra)?;
        for fd in drawn {
            let id = self.next_flow;
            self.next_flow += 1;
            self.sink.flow(true, id, tid, ts)?;
            claim(&mut self.tracks, &mut self.sink, fd, Claim::Live, ts)?.owed.push(id);
        }
        Ok(())
    }
}

/// Who a broadcast went to: the clients registered when it happened, or its sender alone when
/// the event says one queue got it and there is not exactly one client (`--app echo`).
fn recipients_of(snap: &Snapshot, from: i32, recipients: u32) -> Vec<i32> {
    let clients: Vec<i32> = snap.fds.iter().filter(|f| f.role.is_client()).map(|f| f.fd).collect();
    if recipients == 1 && clients.len() != 1 {
        vec![from]
    } else {
        clients
    }
}

/// `fd`'s track for an event claiming it `how`; the track that claim retired (the number's
/// previous connection) is named, and what it still owed ends on it.
fn claim<'t, W: Write>(tracks: &'t mut Tracks, sink: &mut Sink<W>, fd: i32, how: Claim, ts: u64) -> io::Result<&'t mut Track> {
    let (t, retired) = tracks.claim(fd, how);
    if let Some(mut old) = retired {
        retire(sink, &mut old, ts, "gone")?;
    }
    Ok(t)
}

/// Names a track no event will go on any more; flows it still owes end on a `why` mark at `ts`.
pub(super) fn retire<W: Write>(sink: &mut Sink<W>, t: &mut Track, ts: u64, why: &str) -> io::Result<()> {
    if !t.owed.is_empty() {
        end_flows(sink, t, ts, "close", why, None)?;
    }
    sink.name("thread_name", Some(t.tid), &t.title())
}

/// An event's instant on `t`, at its time (or the track's last, if it went back).
fn instant<W: Write>(sink: &mut Sink<W>, t: &mut Track, name: &str, e: &Event) -> io::Result<()> {
    let ts = t.at(e.ts_ns);
    sink.mark(Ph::Instant, e.body.kind(), name, t.tid, ts, Some(e), &[])
}

/// A mark on `t` that ends every flow it owes: a 1 ns slice with the `f`s right after it, or an
/// instant when it owes none.
fn end_flows<W: Write>(sink: &mut Sink<W>, t: &mut Track, ts: u64, cat: &str, name: &str, e: Option<&Event>) -> io::Result<()> {
    let ts = t.at(ts);
    if t.owed.is_empty() {
        return sink.mark(Ph::Instant, cat, name, t.tid, ts, e, &[]);
    }
    sink.mark(Ph::Slice(MARK_NS), cat, name, t.tid, ts, e, &[("flows_ended", t.owed.len() as u64)])?;
    for id in t.owed.drain(..) {
        sink.flow(false, id, t.tid, ts)?;
    }
    Ok(())
}

/// A blocking call's slice on the loop's track, ending at its event: it started `blocked` ns
/// before, or at the loop's last mark if the clocks disagree (slices on a track never overlap).
fn waited<W: Write>(sink: &mut Sink<W>, lp: &mut Track, ts: u64, blocked: u64, name: &str, e: &Event) -> io::Result<()> {
    let start = ts.saturating_sub(blocked).max(lp.last);
    let end = ts.max(start);
    lp.last = end;
    sink.mark(Ph::Slice(end - start), e.body.kind(), name, lp.tid, start, Some(e), &[])
}
