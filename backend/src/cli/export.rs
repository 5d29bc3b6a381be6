//! `muxscope export FILE -o OUT.json [--max-flows N]`: a recording (`--record FILE`) as Chrome
//! Trace Event JSON, to open at <https://ui.perfetto.dev>. The page's *Export* button writes the
//! same file from its history: both call `muxscope_shared::trace`, whose module doc is the
//! format's and the flow budget's.

use anyhow::Context;
use muxscope_shared::record::{Reader, RecordError};
use muxscope_shared::trace::{ChromeTrace, TraceOptions, TraceSummary};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    pub output: PathBuf,
    pub trace: TraceSummary,
    /// The flow budget it was written with.
    pub options: TraceOptions,
    pub bytes: u64,
    /// The recording ended inside a chunk (its writer was killed): the trace stops there too.
    pub truncated: bool,
}

impl fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.trace;
        write!(
            f,
            "wrote {} ({} bytes): {} events on {} tracks, {} slices, {} marks, {} flows",
            self.output.display(),
            self.bytes,
            t.events,
            t.tracks,
            t.slices,
            t.instants,
            t.flows
        )?;
        if t.flows_omitted > 0 {
            let o = &self.options;
            write!(
                f,
                " ({} flows omitted, counted in each broadcast's flows_omitted: at most {} per broadcast, {} per event read, {} in all; \
                 --max-flows N raises the total, 0 draws them all)",
                t.flows_omitted, o.max_flows_per_broadcast, o.flows_per_event, o.max_flows
            )?;
        }
        f.write_str("; open it at https://ui.perfetto.dev")?;
        if self.truncated {
            f.write_str(" (the recording was cut short: the trace ends where it does)")?;
        }
        Ok(())
    }
}

/// Reads the recording at `input`, chunk by chunk, and writes its trace to `output`, drawing at
/// most `max_flows` flows (0: every one; see `muxscope_shared::trace`, *Flow budget*). The trace
/// is written to `OUTPUT.part` and renamed when whole, so a failed export leaves no half a
/// trace behind. Memory holds one chunk of the recording and the fds open at once.
pub fn run(input: &Path, output: &Path, max_flows: u64) -> anyhow::Result<ExportSummary> {
    let options = TraceOptions::with_max_flows(max_flows);
    let unreadable = |e: RecordError| anyhow::anyhow!("{}: {e}", input.display());
    let file = File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let mut rec = Reader::new(BufReader::with_capacity(1 << 20, file)).map_err(unreadable)?;
    let mut part = output.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let file = File::create(&part).with_context(|| format!("cannot create {}", part.display()))?;
    let mut out = Counting { w: BufWriter::with_capacity(1 << 20, file), n: 0 };
    let written = (|| -> anyhow::Result<TraceSummary> {
        let mut t = ChromeTrace::with_options(&mut out, options)?;
        if let Some(model) = rec.header().model {
            t.assume_model(model);
        }
        for m in rec.by_ref() {
            t.push(&m.map_err(unreadable)?)?;
        }
        t.metadata(
            "recording",
            serde_json::json!({
                "file": input.display().to_string(),
                "writer": rec.header().writer,
                "started_unix_ms": rec.header().started_unix_ms,
                "truncated": rec.truncated(),
            }),
        );
        Ok(t.finish()?)
    })();
    let trace = match written {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e).with_context(|| format!("no trace written to {}", output.display()));
        }
    };
    std::fs::rename(&part, output).with_context(|| format!("cannot rename {} to {}", part.display(), output.display()))?;
    Ok(ExportSummary { output: output.to_path_buf(), trace, options, bytes: out.n, truncated: rec.truncated() })
}

/// Counts what goes through, for the summary.
struct Counting<W: Write> {
    w: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.w.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}
