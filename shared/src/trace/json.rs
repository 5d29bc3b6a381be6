//! The trace's JSON, written straight to the output. A recording may hold millions of events,
//! so none of them goes through a `serde_json::Value`: each is printed field by field, and only
//! strings go through serde (for their escaping).

use super::{TraceSummary, PID};
use crate::Event;
use serde::Serialize;
use std::fmt;
use std::io::{self, Write};

/// Nanoseconds printed as the format's microseconds, exactly (`1234.567`): a float would round,
/// and two events a nanosecond apart must stay in order when Perfetto reads them back as ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Us(pub u64);

impl fmt::Display for Us {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0 / 1000, self.0 % 1000) {
            (us, 0) => write!(f, "{us}"),
            (us, ns) => write!(f, "{us}.{ns:03}"),
        }
    }
}

/// One JSON object being written: it places the commas, the caller names the fields (fixed
/// ASCII keys, never escaped) and closes it.
pub(super) struct Obj<'a, W: Write> {
    w: &'a mut W,
    empty: bool,
}

impl<'a, W: Write> Obj<'a, W> {
    pub fn open(w: &'a mut W) -> io::Result<Obj<'a, W>> {
        w.write_all(b"{")?;
        Ok(Obj { w, empty: true })
    }

    fn key(&mut self, k: &str) -> io::Result<()> {
        if !self.empty {
            self.w.write_all(b",")?;
        }
        self.empty = false;
        write!(self.w, "\"{k}\":")
    }

    /// A number or a boolean (anything whose `Display` is valid JSON).
    pub fn num(&mut self, k: &str, v: impl fmt::Display) -> io::Result<&mut Self> {
        self.key(k)?;
        write!(self.w, "{v}")?;
        Ok(self)
    }

    pub fn str(&mut self, k: &str, v: &str) -> io::Result<&mut Self> {
        self.key(k)?;
        serde_json::to_writer(&mut *self.w, v)?;
        Ok(self)
    }

    /// A nested object; close it before writing to this one again.
    pub fn obj(&mut self, k: &str) -> io::Result<Obj<'_, W>> {
        self.key(k)?;
        Obj::open(self.w)
    }

    /// The fields of `v` (which serializes as an object), as fields of this one.
    pub fn splice(&mut self, v: &impl Serialize) -> io::Result<()> {
        let text = serde_json::to_vec(v)?;
        let inner = text.strip_prefix(b"{").and_then(|t| t.strip_suffix(b"}")).unwrap_or_default();
        if !inner.is_empty() {
            if !self.empty {
                self.w.write_all(b",")?;
            }
            self.empty = false;
            self.w.write_all(inner)?;
        }
        Ok(())
    }

    pub fn close(self) -> io::Result<()> {
        self.w.write_all(b"}")
    }
}

/// The `traceEvents` array: one event a line, so a trace can be grepped and diffed.
pub(super) struct Sink<W: Write> {
    w: W,
    first: bool,
    /// What was written so far.
    pub summary: TraceSummary,
}

/// What an event is drawn as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ph {
    /// `i`, scoped to its thread (`"s":"t"`).
    Instant,
    /// `X` with a duration in ns.
    Slice(u64),
}

impl<W: Write> Sink<W> {
    pub fn new(mut w: W) -> io::Result<Sink<W>> {
        // displayTimeUnit first: Perfetto flags it as "too late" after the events.
        w.write_all(b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")?;
        Ok(Sink { w, first: true, summary: TraceSummary::default() })
    }

    fn next(&mut self) -> io::Result<Obj<'_, W>> {
        self.w.write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        Obj::open(&mut self.w)
    }

    /// An instant or a slice on `tid`; its args are `event`'s fields (as `/ws/events` sends it)
    /// and `extra`.
    #[allow(clippy::too_many_arguments)]
    pub fn mark(
        &mut self,
        ph: Ph,
        cat: &str,
        name: &str,
        tid: u32,
        ts: u64,
        event: Option<&Event>,
        extra: &[(&str, u64)],
    ) -> io::Result<()> {
        match ph {
            Ph::Instant => self.summary.instants += 1,
            Ph::Slice(_) => self.summary.slices += 1,
        }
        let mut o = self.next()?;
        match ph {
            Ph::Instant => o.str("ph", "i")?.str("s", "t")?,
            Ph::Slice(_) => o.str("ph", "X")?,
        };
        o.str("cat", cat)?.str("name", name)?.num("pid", PID)?.num("tid", tid)?.num("ts", Us(ts))?;
        if let Ph::Slice(dur) = ph {
            o.num("dur", Us(dur))?;
        }
        let mut a = o.obj("args")?;
        if let Some(e) = event {
            a.splice(e)?;
        }
        for (k, v) in extra {
            a.num(k, v)?;
        }
        a.close()?;
        o.close()
    }

    /// One end of a flow (`s` or `f`); it binds to the slice written just before it on `tid`.
    pub fn flow(&mut self, start: bool, id: u64, tid: u32, ts: u64) -> io::Result<()> {
        if start {
            self.summary.flows += 1;
        } else {
            self.summary.flow_ends += 1;
        }
        let mut o = self.next()?;
        o.str("ph", if start { "s" } else { "f" })?;
        if !start {
            o.str("bp", "e")?;
        }
        o.str("cat", "flow")?.str("name", "broadcast")?.num("id", id)?.num("pid", PID)?.num("tid", tid)?.num("ts", Us(ts))?;
        o.close()
    }

    /// `M` metadata: `thread_name` (with a tid) or `process_name`.
    pub fn name(&mut self, what: &str, tid: Option<u32>, name: &str) -> io::Result<()> {
        self.summary.tracks += tid.is_some() as u64;
        let mut o = self.next()?;
        o.str("ph", "M")?.str("name", what)?.num("pid", PID)?;
        if let Some(tid) = tid {
            o.num("tid", tid)?;
        }
        let mut a = o.obj("args")?;
        a.str("name", name)?;
        a.close()?;
        o.close()
    }

    /// Ends the array and the object, with the trailing fields.
    pub fn finish(mut self, metadata: &serde_json::Value) -> io::Result<W> {
        self.w.write_all(b"\n],\"metadata\":")?;
        serde_json::to_writer(&mut self.w, metadata)?;
        self.w.write_all(b"}\n")?;
        self.w.flush()?;
        Ok(self.w)
    }
}
