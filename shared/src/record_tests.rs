use super::*;
use crate::{EventBody, Role};

fn header() -> RecordHeader {
    RecordHeader {
        format: 1,
        writer: "muxscope test".into(),
        started_unix_ms: 1,
        chat_addr: "127.0.0.1:3999".into(),
        model: Some(Model::Poll),
    }
}

fn sample() -> Vec<ServerMsg> {
    let mut snap = Snapshot::empty();
    snap.seq = 4;
    snap.model = Some(Model::Poll);
    let ev = |seq, body| Event { seq, ts_ns: seq * 1000, body };
    vec![
        ServerMsg::Snapshot(snap.clone()),
        ServerMsg::Events {
            events: vec![
                ev(5, EventBody::Accept { fd: 7, peer: "127.0.0.1:9".into(), listener: 3 }),
                ev(6, EventBody::Nick { fd: 7, name: "bob".into(), role: Role::Tcp }),
            ],
        },
        ServerMsg::Events { events: vec![Event { seq: 0, ts_ns: 7000, body: EventBody::gap(3) }, ev(10, EventBody::Sleep { ns: 5 })] },
        ServerMsg::Snapshot(Snapshot { seq: 10, ..snap }),
    ]
}

fn write(items: &[ServerMsg]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), &header()).unwrap();
    for m in items {
        w.item(m).unwrap();
    }
    let n = w.written();
    let bytes = w.into_inner();
    assert_eq!(n, bytes.len() as u64);
    bytes
}

#[test]
fn what_is_written_reads_back_in_order() {
    let bytes = write(&sample());
    let r = read(&bytes).unwrap();
    assert_eq!(r.header, header());
    assert_eq!(r.items, sample());
    assert!(!r.truncated);
    assert_eq!(r.event_count(), 4);
}

#[test]
fn a_file_cut_anywhere_reads_its_whole_chunks_and_says_so() {
    let bytes = write(&sample());
    let header_end = MAGIC.len() + 5 + serde_json::to_vec(&header()).unwrap().len();
    for cut in header_end..bytes.len() {
        let r = read(&bytes[..cut]).unwrap();
        assert!(r.truncated || cut == header_end || r.items.len() < sample().len(), "cut at {cut}");
        assert_eq!(r.items[..], sample()[..r.items.len()], "cut at {cut}: a prefix");
    }
    for cut in 0..header_end {
        assert!(read(&bytes[..cut]).is_err(), "cut at {cut} inside the header");
    }
}

#[test]
fn other_files_and_corruption_are_clear_errors() {
    assert!(matches!(read(b"{\"type\":\"snapshot\"}"), Err(RecordError::NotARecording)));
    assert!(matches!(read(b"MUXSCOPE-REC 9\n"), Err(RecordError::Version(b'9'))));
    let mut bytes = write(&sample());
    let at = bytes.len() - 3;
    bytes[at] = 0xff;
    let e = read(&bytes).unwrap_err().to_string();
    assert!(e.contains("corrupt") || e.contains("chunk"), "{e}");
    // A length past the limit is refused before anything is allocated.
    let mut huge = MAGIC.to_vec();
    huge.extend(chunk(b'H', &serde_json::to_vec(&header()).unwrap()));
    huge.extend([b'E', 0xff, 0xff, 0xff, 0xff]);
    assert!(read(&huge).unwrap_err().to_string().contains("limit"));
    // An events chunk is held to a smaller limit: packed events decode to many times their size.
    let mut big_events = MAGIC.to_vec();
    big_events.extend(chunk(b'H', &serde_json::to_vec(&header()).unwrap()));
    big_events.extend([b'E']);
    big_events.extend(((MAX_EVENTS_CHUNK + 1) as u32).to_le_bytes());
    assert!(read(&big_events).unwrap_err().to_string().contains("limit"));
    let mut w = Writer::new(Vec::new(), &header()).unwrap();
    assert!(w.packed(&vec![8u8; MAX_EVENTS_CHUNK + 1]).is_err(), "a writer never makes one");
    let mut unknown = write(&[]);
    unknown.extend(chunk(b'Z', b""));
    assert!(read(&unknown).unwrap_err().to_string().contains("unknown chunk"));
}

/// Hands out at most `step` bytes a read, and counts what it handed out.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
    given: std::rc::Rc<std::cell::Cell<usize>>,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.step).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        self.given.set(self.given.get() + n);
        Ok(n)
    }
}

fn trickle(bytes: &[u8], step: usize) -> Trickle<'_> {
    Trickle { bytes, step, given: Default::default() }
}

/// What a [`Reader`] makes of `r`: the header, the items up to the first error, that error,
/// and whether the file was cut short.
type Streamed = (RecordHeader, Vec<ServerMsg>, Option<String>, bool);

fn stream(r: impl Read) -> Result<Streamed, RecordError> {
    let mut reader = Reader::new(r)?;
    let mut items = Vec::new();
    let mut err = None;
    for item in reader.by_ref() {
        match item {
            Ok(m) => items.push(m),
            Err(e) => {
                assert!(err.is_none(), "an error is the last item");
                err = Some(e.to_string());
            }
        }
    }
    assert!(reader.next().is_none(), "a finished reader stays finished");
    Ok((reader.header().clone(), items, err, reader.truncated()))
}

#[test]
fn the_streaming_reader_reads_what_read_reads_however_the_bytes_come() {
    let bytes = write(&sample());
    for step in [1, 2, 3, 7, 4096] {
        let (h, items, err, truncated) = stream(trickle(&bytes, step)).unwrap();
        assert_eq!((h, items, err, truncated), (header(), sample(), None, false), "{step} bytes a read");
    }
    let mut r = Reader::new(&bytes[..]).unwrap();
    r.by_ref().for_each(drop);
    assert_eq!(r.offset(), bytes.len() as u64);
}

/// `read` as it was before [`Reader`] (it read a slice in place), with the events-chunk limit
/// added since: the oracle the reader is held to.
fn reference_read(bytes: &[u8]) -> Result<Recording, RecordError> {
    if !is_recording(bytes) {
        return Err(RecordError::NotARecording);
    }
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC[..] {
        return Err(RecordError::Version(bytes.get(13).copied().unwrap_or(b'?')));
    }
    let mut pos = MAGIC.len();
    let mut header = None;
    let mut items = Vec::new();
    let mut truncated = false;
    while pos < bytes.len() {
        if bytes.len() - pos < 5 {
            truncated = true;
            break;
        }
        let kind = bytes[pos];
        let len = u32::from_le_bytes(bytes[pos + 1..pos + 5].try_into().expect("four bytes")) as usize;
        // (Since the reader: an events chunk has its own, smaller limit.)
        let max = if kind == b'E' { MAX_EVENTS_CHUNK } else { MAX_CHUNK };
        if len > max {
            return Err(RecordError::Chunk { offset: pos, what: format!("a chunk of {len} bytes (the limit is {max})") });
        }
        let start = pos + 5;
        if bytes.len() - start < len {
            truncated = true;
            break;
        }
        let payload = &bytes[start..start + len];
        match (kind, &header) {
            (b'H', None) => header = Some(json(payload).map_err(RecordError::Header)?),
            (_, None) => return Err(RecordError::Chunk { offset: pos, what: "no header before the first chunk".into() }),
            (b'H', Some(_)) => return Err(RecordError::Chunk { offset: pos, what: "a second header".into() }),
            (b'S', _) => {
                let s: Snapshot =
                    json(payload).map_err(|e| RecordError::Chunk { offset: pos, what: format!("an unreadable snapshot: {e}") })?;
                items.push(ServerMsg::Snapshot(s));
            }
            (b'E', _) => {
                let events = Unpacker::new(payload)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|err| RecordError::Events { offset: pos, err: PackError { offset: start + err.offset, ..err } })?;
                items.push(ServerMsg::Events { events });
            }
            (k, _) => return Err(RecordError::Chunk { offset: pos, what: format!("an unknown chunk kind {:?}", k as char) }),
        }
        pos = start + len;
    }
    let header = header.ok_or_else(|| RecordError::Header("the file ends before its header".into()))?;
    Ok(Recording { header, items, truncated })
}

/// A chunk's JSON: UTF-8 text, then the type.
fn json<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(payload).map_err(|e| format!("not UTF-8: {e}"))?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

#[test]
fn the_streaming_reader_agrees_with_read_on_every_cut_and_every_corruption() {
    let bytes = write(&sample());
    for cut in 0..bytes.len() {
        assert_eq!(format!("{:?}", read(&bytes[..cut])), format!("{:?}", reference_read(&bytes[..cut])), "cut {cut}");
        match (reference_read(&bytes[..cut]), stream(trickle(&bytes[..cut], 5))) {
            (Ok(r), Ok((h, items, None, truncated))) => assert_eq!((r.header, r.items, r.truncated), (h, items, truncated), "cut {cut}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "cut {cut}"),
            (a, b) => panic!("cut {cut}: read says {a:?}, the reader {b:?}"),
        }
    }
    // Any byte corrupt: the same answer, or the same items before the same error.
    for at in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0xa5;
        let want = reference_read(&bad);
        assert_eq!(format!("{:?}", read(&bad)), format!("{want:?}"), "byte {at}");
        if let (Err(e), Ok((_, items, err, _))) = (&want, stream(&bad[..])) {
            assert_eq!(err, Some(e.to_string()), "byte {at}: {items:?}");
        }
    }
    // A corrupt chunk: the items before it, then the error read reports.
    let mut bad = write(&sample());
    let at = bad.len() - 3;
    bad[at] = 0xff;
    let (_, items, err, _) = stream(&bad[..]).unwrap();
    assert_eq!(items[..], sample()[..items.len()]);
    assert_eq!(err, Some(reference_read(&bad).unwrap_err().to_string()));
    let mut unknown = write(&sample()[..1]);
    unknown.extend(chunk(b'Z', b""));
    let (_, items, err, _) = stream(&unknown[..]).unwrap();
    assert_eq!((items.len(), err), (1, Some(reference_read(&unknown).unwrap_err().to_string())));
    assert!(matches!(Reader::new(&b"{\"type\":\"snapshot\"}"[..]), Err(RecordError::NotARecording)));
    assert!(matches!(Reader::new(&b"MUXSCOPE-REC 9\n"[..]), Err(RecordError::Version(b'9'))));
}

#[test]
fn the_streaming_reader_holds_one_chunk_at_a_time() {
    // Ten events chunks of about a kilobyte each.
    let mut w = Writer::new(Vec::new(), &header()).unwrap();
    for c in 0..10u64 {
        let events: Vec<Event> =
            (0..100).map(|i| Event { seq: c * 100 + i + 1, ts_ns: i, body: EventBody::Sleep { ns: 1 << 40 } }).collect();
        let mut p = crate::pack::Packer::new();
        events.iter().for_each(|e| p.push(e));
        w.packed(&p.take()).unwrap();
    }
    let bytes = w.into_inner();
    let src = trickle(&bytes, 64);
    let given = src.given.clone();
    let mut r = Reader::new(src).unwrap();
    let mut n = 0;
    while let Some(m) = r.next() {
        let Ok(ServerMsg::Events { events }) = m else { panic!("an events chunk: {m:?}") };
        n += events.len();
        // Each item comes when its chunk is read, before any byte of the next.
        assert_eq!(given.get() as u64, r.offset(), "after {n} events");
    }
    assert_eq!(n, 1000);
    assert_eq!(given.get(), bytes.len());
}
