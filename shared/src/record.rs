//! The recording file: what `muxscope --record FILE` writes, `muxscope replay FILE` and
//! `muxscope export FILE` read, and the page opens and saves.
//!
//! ```text
//! file   = MAGIC chunk*
//! MAGIC  = "MUXSCOPE-REC 1\n"                      (15 bytes; the digit is the format version)
//! chunk  = kind:u8  length:u32 (little-endian)  payload[length]
//! kind   = 'H'  header: JSON, a RecordHeader     (first, once)
//!        | 'S'  snapshot: JSON, a Snapshot         (the first after the header; again after a
//!                                                   loss that changed the fd table)
//!        | 'E'  events: packed (see `pack`), decoded on their own from the chunk's start
//! ```
//!
//! Every event the loop emits is written, unfolded, in order. The recorder never makes the loop
//! wait: what it could not keep is a `gap` event (seq 0, `dropped` = how many, `resync` when a
//! lost event changed the fd table, in which case a snapshot chunk follows), never a silent
//! hole. A file cut short (the process was killed mid-write) reads up to its last whole chunk,
//! and says it was truncated. The seq numbers of events only live watchers were told (the
//! gateway's own `gap`s) are skipped in a recording.
//!
//! [`read`] reads a recording held in memory; [`Reader`] reads one from any `Read` a chunk at a
//! time, in bounded memory, yielding the same items.
//!
//! Packed events are 6–15 bytes each (a busy room's run is under 12 on average): compact
//! without a compressor, so the page reads and writes the same file with no extra code.

use crate::map_struct::map_struct_deserialize;
use crate::pack::{PackError, Unpacker};
use crate::{Event, Model, ServerMsg, Snapshot};
use serde::Serialize;
use std::fmt;
use std::io::{self, Read, Write};

pub const MAGIC: &[u8; 15] = b"MUXSCOPE-REC 1\n";
/// Longest chunk a reader accepts (a writer keeps them far smaller): a corrupt length cannot
/// make a reader allocate without bound.
pub const MAX_CHUNK: usize = 64 << 20;
/// Writers start a new events chunk past this many bytes.
pub const CHUNK_TARGET: usize = 1 << 20;
/// Longest events chunk a reader accepts: events can pack into 4 bytes and decode into a
/// hundred, so a 64 MiB chunk of them would hold gigabytes once read (a writer's are at most
/// [`CHUNK_TARGET`] and one event).
pub const MAX_EVENTS_CHUNK: usize = 4 * CHUNK_TARGET;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordHeader {
    /// The format version (the digit in [`MAGIC`]).
    pub format: u32,
    /// Who wrote it: `muxscope 0.1.0`, or `muxscope page` for a history the page saved.
    pub writer: String,
    /// Wall-clock time of the first event, ms since the Unix epoch (0 when unknown).
    pub started_unix_ms: u64,
    pub chat_addr: String,
    pub model: Option<Model>,
}

// Read by `crate::map_struct` (a map only; the same fields and errors as a derive: `model`
// absent is `None`, as the derive reads an absent `Option`).
map_struct_deserialize!(RecordHeader { format, writer, started_unix_ms, chat_addr, model: default });

#[derive(Debug)]
pub enum RecordError {
    NotARecording,
    Version(u8),
    Header(String),
    Chunk { offset: usize, what: String },
    Events { offset: usize, err: PackError },
    Io(io::Error),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::NotARecording => f.write_str("not a muxscope recording (it does not start with \"MUXSCOPE-REC\")"),
            RecordError::Version(v) => write!(f, "a muxscope recording of format {}, which this version cannot read", *v as char),
            RecordError::Header(e) => write!(f, "the recording's header is unreadable: {e}"),
            RecordError::Chunk { offset, what } => write!(f, "the recording is corrupt at byte {offset}: {what}"),
            RecordError::Events { offset, err } => write!(f, "the recording's events chunk at byte {offset}: {err}"),
            RecordError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RecordError {}

impl From<io::Error> for RecordError {
    fn from(e: io::Error) -> RecordError {
        RecordError::Io(e)
    }
}

/// A recording read whole.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    pub header: RecordHeader,
    /// Snapshots and events in order; each events chunk is one [`ServerMsg::Events`].
    pub items: Vec<ServerMsg>,
    /// The file ended inside a chunk (the writer was killed): `items` holds what came before.
    pub truncated: bool,
}

impl Recording {
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.items.iter().flat_map(|m| match m {
            ServerMsg::Events { events } => events.as_slice(),
            ServerMsg::Snapshot(_) => &[],
        })
    }

    /// Events, not counting the gaps that stand for events the recorder could not keep.
    pub fn event_count(&self) -> usize {
        self.events().count()
    }
}

/// One chunk's bytes: kind, length, payload.
pub fn chunk(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Writes a recording: the magic and header at once, then snapshots and packed events.
pub struct Writer<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(mut out: W, header: &RecordHeader) -> io::Result<Writer<W>> {
        out.write_all(MAGIC)?;
        let json = serde_json::to_vec(header).map_err(io::Error::other)?;
        out.write_all(&chunk(b'H', &json))?;
        Ok(Writer { out, written: (MAGIC.len() + 5 + json.len()) as u64 })
    }

    pub fn snapshot(&mut self, s: &Snapshot) -> io::Result<()> {
        let json = serde_json::to_vec(s).map_err(io::Error::other)?;
        self.raw(b'S', &json)
    }

    /// A [`crate::pack::Packer`]'s bytes (one chunk; empty ones are skipped).
    pub fn packed(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.raw(b'E', bytes)
    }

    /// Events, packed in chunks of about [`CHUNK_TARGET`] bytes.
    pub fn events(&mut self, events: &[Event]) -> io::Result<()> {
        let mut p = crate::pack::Packer::new();
        for e in events {
            p.push(e);
            if p.byte_len() >= CHUNK_TARGET {
                self.packed(&p.take())?;
            }
        }
        self.packed(&p.take())
    }

    /// Snapshots and events as the `/ws/events` stream has them.
    pub fn item(&mut self, m: &ServerMsg) -> io::Result<()> {
        match m {
            ServerMsg::Snapshot(s) => self.snapshot(s),
            ServerMsg::Events { events } => self.events(events),
        }
    }

    fn raw(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        let max = if kind == b'E' { MAX_EVENTS_CHUNK } else { MAX_CHUNK };
        if payload.len() > max {
            return Err(io::Error::other(format!("a chunk of {} bytes is over the limit of {max}", payload.len())));
        }
        self.out.write_all(&[kind])?;
        self.out.write_all(&(payload.len() as u32).to_le_bytes())?;
        self.out.write_all(payload)?;
        self.written += 5 + payload.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Whether `bytes` start like a recording (to tell one from another file before reading it).
pub fn is_recording(bytes: &[u8]) -> bool {
    bytes.len() >= 13 && &bytes[..13] == b"MUXSCOPE-REC "
}

/// Reads a whole recording held in memory.
pub fn read(bytes: &[u8]) -> Result<Recording, RecordError> {
    let mut r = Reader::new(bytes)?;
    let items = r.by_ref().collect::<Result<Vec<_>, _>>()?;
    Ok(Recording { header: r.header().clone(), items, truncated: r.truncated() })
}

/// Reads a recording from any [`Read`], one chunk at a time: it holds one chunk (at most
/// [`MAX_CHUNK`] bytes, a writer's are about [`CHUNK_TARGET`]), so a recording of any length
/// is read in bounded memory (`muxscope export`). [`new`](Reader::new) reads the magic and the
/// header; the reader then yields the snapshots and event batches in order, as
/// [`Recording::items`] has them. Where the file was cut short the items end and
/// [`truncated`](Reader::truncated) says so; an error is the last item. Give it a buffered
/// reader: it reads a chunk's head in one small read.
pub struct Reader<R: Read> {
    chunks: Chunks<R>,
    header: RecordHeader,
    done: bool,
}

impl<R: Read> Reader<R> {
    pub fn new(mut r: R) -> Result<Reader<R>, RecordError> {
        let mut magic = [0u8; MAGIC.len()];
        let n = read_full(&mut r, &mut magic)?;
        if !is_recording(&magic[..n]) {
            return Err(RecordError::NotARecording);
        }
        if n < MAGIC.len() || magic != *MAGIC {
            return Err(RecordError::Version(magic[..n].get(13).copied().unwrap_or(b'?')));
        }
        let mut chunks = Chunks { r, pos: MAGIC.len(), buf: Vec::new(), truncated: false };
        let header = match chunks.next()? {
            Some((b'H', _)) => json(&chunks.buf).map_err(RecordError::Header)?,
            Some((_, at)) => return Err(RecordError::Chunk { offset: at, what: "no header before the first chunk".into() }),
            None => return Err(RecordError::Header("the file ends before its header".into())),
        };
        Ok(Reader { chunks, header, done: false })
    }

    pub fn header(&self) -> &RecordHeader {
        &self.header
    }

    /// The file ended inside a chunk (its writer was killed): what came before was read.
    pub fn truncated(&self) -> bool {
        self.chunks.truncated
    }

    /// Bytes read in whole chunks (the magic and header included).
    pub fn offset(&self) -> u64 {
        self.chunks.pos as u64
    }

    fn item(&mut self) -> Result<Option<ServerMsg>, RecordError> {
        let Some((kind, at)) = self.chunks.next()? else {
            return Ok(None);
        };
        let payload = &self.chunks.buf[..];
        match kind {
            b'H' => Err(RecordError::Chunk { offset: at, what: "a second header".into() }),
            b'S' => json_with(payload, crate::msg::snapshot_from_str)
                .map(|s| Some(ServerMsg::Snapshot(s)))
                .map_err(|e| RecordError::Chunk { offset: at, what: format!("an unreadable snapshot: {e}") }),
            b'E' => Unpacker::new(payload)
                .collect::<Result<Vec<_>, _>>()
                .map(|events| Some(ServerMsg::Events { events }))
                .map_err(|err| RecordError::Events { offset: at, err: PackError { offset: at + 5 + err.offset, ..err } }),
            k => Err(RecordError::Chunk { offset: at, what: format!("an unknown chunk kind {:?}", k as char) }),
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<ServerMsg, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.item();
        self.done = !matches!(item, Ok(Some(_)));
        item.transpose()
    }
}

/// The chunks of a file whose magic was read.
struct Chunks<R: Read> {
    r: R,
    /// The file offset of the next chunk.
    pos: usize,
    /// The last chunk's payload.
    buf: Vec<u8>,
    truncated: bool,
}

impl<R: Read> Chunks<R> {
    /// The next whole chunk's kind and offset, its payload in `buf`; `None` at the end of the
    /// file, or where it was cut inside a chunk (`truncated`).
    fn next(&mut self) -> Result<Option<(u8, usize)>, RecordError> {
        let mut head = [0u8; 5];
        let n = read_full(&mut self.r, &mut head)?;
        if n < head.len() {
            self.truncated = n > 0;
            return Ok(None);
        }
        let len = u32::from_le_bytes(head[1..5].try_into().expect("four bytes")) as usize;
        let max = if head[0] == b'E' { MAX_EVENTS_CHUNK } else { MAX_CHUNK };
        if len > max {
            return Err(RecordError::Chunk { offset: self.pos, what: format!("a chunk of {len} bytes (the limit is {max})") });
        }
        self.buf.clear();
        // Grown as the bytes come: a length read from a cut file allocates only what is there.
        (&mut self.r).take(len as u64).read_to_end(&mut self.buf)?;
        if self.buf.len() < len {
            self.truncated = true;
            return Ok(None);
        }
        let at = self.pos;
        self.pos += head.len() + len;
        Ok(Some((head[0], at)))
    }
}

/// Fills `buf` from `r` until it is full or `r` ends; how many bytes it got.
/// A chunk's JSON, read as a `str` as the page reads its frames: one copy of each type's
/// reader in the page's wasm instead of one per input type.
fn json<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    json_with(payload, |text| serde_json::from_str(text))
}

fn json_with<T>(payload: &[u8], read: impl FnOnce(&str) -> serde_json::Result<T>) -> Result<T, String> {
    let text = std::str::from_utf8(payload).map_err(|e| format!("not UTF-8: {e}"))?;
    read(text).map_err(|e| e.to_string())
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads a recording from a file, refusing one larger than `max_bytes` (it is held in memory).
pub fn read_file(path: &std::path::Path, max_bytes: u64) -> Result<Recording, RecordError> {
    let len = std::fs::metadata(path)?.len();
    if len > max_bytes {
        return Err(RecordError::Chunk {
            offset: 0,
            what: format!("the file is {len} bytes, more than the {max_bytes} this reads into memory"),
        });
    }
    read(&std::fs::read(path)?)
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
