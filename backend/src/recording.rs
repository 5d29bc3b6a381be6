//! `--record FILE`: the recorder's thread. It takes the chunks the loop packs (see
//! [`crate::telemetry::rec_channel`]) and writes them in the recording format
//! (`muxscope_shared::record`), so the loop never waits on the disk. It flushes whenever its
//! queue is empty, so what the loop emitted is on disk within a turn or two of an idle moment,
//! and a killed process leaves a file that reads up to its last whole chunk.

use crate::telemetry::{rec_channel, RecChunk, RecStats, RecTx};
use muxscope_shared::record::{RecordHeader, Writer};
use muxscope_shared::Model;
use std::fs::File;
use std::io::{self, BufWriter};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

/// A write buffer this big, flushed when the queue runs dry (or it fills).
const WRITE_BUFFER: usize = 1 << 20;
/// How long [`Recorder::finish`] waits for the last chunks to be written.
pub const FINISH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

pub struct Recorder {
    pub path: PathBuf,
    pub stats: Arc<RecStats>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// Creates `path` (a directory is refused with a clear error) and starts the thread. Give the returned [`RecTx`] to `Telemetry::record_to`.
pub fn start(path: &Path, chat_addr: SocketAddr, model: Model) -> io::Result<(RecTx, Recorder)> {
    if path.is_dir() {
        return Err(io::Error::other(format!("--record {}: is a directory", path.display())));
    }
    let file = File::create(path).map_err(|e| io::Error::new(e.kind(), format!("--record {}: {e}", path.display())))?;
    let header = RecordHeader {
        format: 1,
        writer: format!("muxscope {}", env!("CARGO_PKG_VERSION")),
        started_unix_ms: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
        chat_addr: chat_addr.to_string(),
        model: Some(model),
    };
    let writer = Writer::new(BufWriter::with_capacity(WRITE_BUFFER, file), &header)?;
    let (tx, rx, stats) = rec_channel();
    let st = stats.clone();
    let thread = std::thread::Builder::new().name("recorder".into()).spawn(move || {
        let r = write_all(writer, rx, &st);
        if let Err(e) = &r {
            st.failed.store(true, Ordering::Relaxed);
            tracing::error!("recording failed: {e}");
        }
        r
    })?;
    Ok((tx, Recorder { path: path.to_path_buf(), stats, thread: Some(thread) }))
}

fn write_all(mut w: Writer<BufWriter<File>>, rx: Receiver<RecChunk>, stats: &RecStats) -> io::Result<()> {
    // Until disconnected: the loop ended, and everything it handed over is written.
    while let Ok(first) = rx.recv() {
        // Everything queued now, then one flush: at most one write per burst, and nothing
        // waits in the buffer once the loop is idle.
        let mut next = Some(first);
        while let Some(chunk) = next {
            match chunk {
                RecChunk::Events { bytes, .. } => {
                    w.packed(&bytes)?;
                    stats.queued.fetch_sub(bytes.len() as u64, Ordering::Relaxed);
                }
                RecChunk::Snapshot(s) => w.snapshot(&s)?,
            }
            next = rx.try_recv().ok();
        }
        w.flush()?;
        stats.written.store(w.written(), Ordering::Relaxed);
    }
    w.flush()
}

impl Recorder {
    /// Waits for the thread to write everything the loop handed over (the loop must have
    /// ended, dropping its end) and says what was recorded.
    /// Waits at most [`FINISH_WAIT`]: a loop that did not stop still holds its end, and the
    /// process should not hang on the recording at exit.
    pub fn finish(mut self) -> io::Result<String> {
        if let Some(t) = self.thread.take() {
            let t0 = std::time::Instant::now();
            while !t.is_finished() {
                if t0.elapsed() > FINISH_WAIT {
                    return Err(io::Error::other(format!("the recorder did not finish within {FINISH_WAIT:?}: {}", self.summary())));
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            t.join().map_err(|_| io::Error::other("the recorder thread panicked"))??;
        }
        Ok(self.summary())
    }

    pub fn summary(&self) -> String {
        let s = &self.stats;
        let lost = s.lost.load(Ordering::Relaxed);
        let failed =
            if s.failed.load(Ordering::Relaxed) { " — the recording FAILED (see the error above); the file ends early" } else { "" };
        format!(
            "recorded {} events to {} ({:.1} MiB){}",
            s.events.load(Ordering::Relaxed),
            self.path.display(),
            s.written.load(Ordering::Relaxed) as f64 / (1 << 20) as f64,
            if lost > 0 { format!("; {lost} lost (the disk did not keep up), each told by a gap in the file") } else { String::new() },
        ) + failed
    }
}
