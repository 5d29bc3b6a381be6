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
    let mut unknown = write(&[]);
    unknown.extend(chunk(b'Z', b""));
    assert!(read(&unknown).unwrap_err().to_string().contains("unknown chunk"));
}
