//! `muxscope export FILE -o OUT.json`: a recording (`--record FILE`) as Chrome Trace Event
//! JSON, to open at <https://ui.perfetto.dev>. The page's *Export* button writes the same file
//! from its history: both call `muxscope_shared::trace`, whose module doc is the format's.

use anyhow::Context;
use muxscope_shared::record;
use muxscope_shared::trace::{ChromeTrace, TraceSummary};
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The largest recording export reads: it is held in memory (the trace is streamed out).
pub const MAX_EXPORT_BYTES: u64 = 2 << 30;

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    pub output: PathBuf,
    pub trace: TraceSummary,
    pub bytes: u64,
    /// The recording ended inside a chunk (its writer was killed): the trace stops there too.
    pub truncated: bool,
}

impl fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.trace;
        write!(
            f,
            "wrote {} ({} bytes): {} events on {} tracks, {} slices, {} marks, {} flows; open it at https://ui.perfetto.dev",
            self.output.display(),
            self.bytes,
            t.events,
            t.tracks,
            t.slices,
            t.instants,
            t.flows
        )?;
        if self.truncated {
            f.write_str(" (the recording was cut short: the trace ends where it does)")?;
        }
        Ok(())
    }
}

/// Reads the recording at `input` and writes its trace to `output`. The trace is written to
/// `OUTPUT.part` and renamed when whole, so a failed export leaves no half a trace behind.
pub fn run(input: &Path, output: &Path) -> anyhow::Result<ExportSummary> {
    let rec = record::read_file(input, MAX_EXPORT_BYTES).map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    let mut part = output.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let file = File::create(&part).with_context(|| format!("cannot create {}", part.display()))?;
    let mut out = Counting { w: BufWriter::with_capacity(1 << 20, file), n: 0 };
    let written = (|| {
        let mut t = ChromeTrace::new(&mut out)?;
        if let Some(model) = rec.header.model {
            t.assume_model(model);
        }
        t.metadata(
            "recording",
            serde_json::json!({
                "file": input.display().to_string(),
                "writer": rec.header.writer,
                "started_unix_ms": rec.header.started_unix_ms,
                "truncated": rec.truncated,
            }),
        );
        for m in &rec.items {
            t.push(m)?;
        }
        t.finish()
    })();
    let trace = match written {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e).with_context(|| format!("cannot write {}", part.display()));
        }
    };
    std::fs::rename(&part, output).with_context(|| format!("cannot rename {} to {}", part.display(), output.display()))?;
    Ok(ExportSummary { output: output.to_path_buf(), trace, bytes: out.n, truncated: rec.truncated })
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
