//! The gateway's folding, end to end: a watcher that lags or asks for still pictures gets
//! counted gaps with exact totals and the snapshots it needs, and a page watching a crowd join
//! ends up with every client. The real binary, real WebSockets, real TCP.

mod common;
use common::ws::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use muxscope_shared::{EventBody, Role, ServerMsg};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;
#[tokio::test]
async fn a_lagging_subscriber_gets_a_counted_gap_and_a_fresh_snapshot() {
    // A short backlog, so that lag comes before the socket buffers between us have filled.
    let s = Server::start("epoll", &["--web-addr", "127.0.0.1:0", "--ws-backlog-frames", "4"]);
    // A watcher with a tiny receive window that stops reading.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&s.web.unwrap().into()).unwrap();
    sock.set_nonblocking(true).unwrap();
    let stream = TcpStream::from_std(sock.into()).unwrap();
    let (mut slow, _) =
        tokio_tungstenite::client_async(format!("ws://{}/ws/events", s.web.unwrap()), MaybeTlsStream::Plain(stream)).await.unwrap();
    let ServerMsg::Snapshot(first) = next_msg(&mut slow).await else { panic!() };
    // Meanwhile a healthy watcher keeps up.
    let mut healthy = ws(&s, "/ws/events").await;
    let _ = next_msg(&mut healthy).await;
    // Lots of events: 40 clients chatting as fast as they can for a while.
    let chat = s.chat;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let talkers: Vec<_> = (0..40)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(chat);
                let mut r = c.stream.try_clone().unwrap();
                std::thread::spawn(move || std::io::copy(&mut r, &mut std::io::sink()));
                let t0 = Instant::now();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(20) {
                    c.send(&format!("talker {i} says something\n"));
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        })
        .collect();
    // The healthy watcher sees the traffic live while the slow one is stuck.
    let t0 = Instant::now();
    let mut healthy_events = 0usize;
    while t0.elapsed() < Duration::from_secs(8) {
        if let ServerMsg::Events { events } = next_msg(&mut healthy).await {
            healthy_events += events.len();
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in talkers {
        t.join().unwrap();
    }
    assert!(healthy_events > 1000, "healthy watcher saw only {healthy_events} events");
    // Now the slow one reads: somewhere in its stream there is a gap, and a snapshot after it.
    let mut gap_total = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut snapshot_after_gap = None;
    while Instant::now() < deadline && snapshot_after_gap.is_none() {
        match next_msg(&mut slow).await {
            ServerMsg::Events { events } => {
                // A lag gap, not the gateway's ordinary folding of a busy tick.
                gap_total +=
                    events.iter().map(|e| if let EventBody::Gap { dropped, folded: false, .. } = e.body { dropped } else { 0 }).sum::<u64>()
            }
            ServerMsg::Snapshot(snap) if gap_total > 0 => snapshot_after_gap = Some(snap),
            ServerMsg::Snapshot(_) => {}
        }
    }
    let snap = snapshot_after_gap.expect("the lagging watcher never got a gap followed by a snapshot");
    assert!(gap_total > 0);
    assert!(snap.seq > first.seq);
    // The loop itself never waited: the server still answers instantly.
    let mut c = s.joined();
    c.send("still quick\n");
    c.line_until(&format!("[{}] still quick", c.name()));
}

/// A flood folds (far more events than a browser is sent), yet a watcher that only applies what
/// it gets ends with the loop's exact totals: folded gaps carry them. Snapshots, the expensive
/// part for a browser, come only after a gap that says the fd table changed.
#[tokio::test]
async fn a_flood_is_folded_with_exact_totals_and_snapshots_only_when_needed() {
    use std::io::{BufRead, Write};
    let s = web_server("epoll");
    let mut w = ws(&s, "/ws/events").await;
    let ServerMsg::Snapshot(mut state) = next_msg(&mut w).await else { panic!("first frame is not a snapshot") };
    const LINES: usize = 30_000;
    let stream = std::net::TcpStream::connect(s.chat).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    // Read everything back as it comes, so no output queue forms.
    let reader = {
        let stream = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(stream);
            let (mut got, mut line) = (0, String::new());
            while got < LINES {
                line.clear();
                if r.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                got += line.ends_with("] x\n") as usize;
            }
            got
        })
    };
    let writer = std::thread::spawn(move || {
        let mut stream = stream;
        for _ in 0..LINES / 1000 {
            stream.write_all(&b"x\n".repeat(1000)).unwrap();
        }
        stream
    });
    let (mut folded, mut gaps_with_totals, mut snapshots, mut resync_owed) = (0u64, 0, 0, false);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut reader = Some(reader);
    while state.counters.messages < LINES as u64 && Instant::now() < deadline {
        match next_msg(&mut w).await {
            ServerMsg::Events { events } => {
                for e in &events {
                    if let EventBody::Gap { dropped, folded: f, resync, counters } = &e.body {
                        folded += if *f { *dropped } else { 0 };
                        gaps_with_totals += counters.is_some() as usize;
                        resync_owed |= *resync;
                    }
                    state.apply(e);
                }
            }
            ServerMsg::Snapshot(snap) => {
                assert!(
                    resync_owed,
                    "a snapshot came without a gap asking for it (seq {} after {}, {snapshots} before)",
                    snap.seq, state.seq
                );
                resync_owed = false;
                snapshots += 1;
                state = snap;
            }
        }
        if reader.as_ref().is_some_and(|r| r.is_finished()) {
            assert_eq!(reader.take().unwrap().join().unwrap(), LINES, "the client got every line");
        }
    }
    let _stream = writer.join().unwrap();
    assert_eq!(state.counters.messages, LINES as u64, "the watcher's totals match the loop's");
    assert!(folded > 0 && gaps_with_totals > 0, "a flood of {LINES} lines was never folded");
    eprintln!("folded {folded} events in {gaps_with_totals} gaps; {snapshots} snapshots");
}

/// A page drawing still pictures asks for fewer frames; it gets about one a second, the frames
/// in between folded into gaps that carry the totals, so nothing is lost from its counts.
#[tokio::test]
async fn a_still_page_gets_about_a_frame_a_second_and_exact_totals() {
    let s = web_server("epoll");
    let mut w = ws(&s, "/ws/events").await;
    let ServerMsg::Snapshot(mut state) = next_msg(&mut w).await else { panic!("first frame is not a snapshot") };
    w.send(Message::Text(r#"{"type":"pace","still":true}"#.into())).await.unwrap();
    let mut c = s.joined();
    const LINES: u64 = 1500;
    let start = state.counters.messages;
    let talker = std::thread::spawn(move || {
        for i in 0..LINES {
            c.send(&format!("line {i}\n"));
            std::thread::sleep(Duration::from_millis(2));
        }
        c
    });
    let t0 = Instant::now();
    let (mut frames, mut folded) = (0u32, 0u64);
    while state.counters.messages < start + LINES && t0.elapsed() < Duration::from_secs(20) {
        match next_msg(&mut w).await {
            ServerMsg::Events { events } => {
                frames += 1;
                // Only the tail of a frame (and its last wakeup), then the gap for the rest
                // (`hub::STILL_EVENTS`).
                assert!(events.len() <= 22, "a still page was sent {} events in one message", events.len());
                for e in &events {
                    if let EventBody::Gap { dropped, folded: true, .. } = e.body {
                        folded += dropped;
                    }
                    state.apply(e);
                }
            }
            ServerMsg::Snapshot(snap) => state = snap,
        }
    }
    let _c = talker.join().unwrap();
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(state.counters.messages, start + LINES, "the paced page's totals are exact");
    assert!(folded > 0, "nothing was folded");
    // Without pacing this is ~25 frames a second; a skipped stretch is told by one gap message.
    let allowed = (secs * 2.0).ceil() as u32 + 3;
    assert!(frames <= allowed, "{frames} event messages in {secs:.1} s (allowed {allowed})");
    eprintln!("{frames} event messages in {secs:.1} s; {folded} events folded");
}

/// Watches a crowd of 600 join, then 5 latecomers a few frames later, as a page does (snapshots
/// replace the picture, events move it), and returns how many of them the picture ends up with.
/// `still`: the page asks for still pictures first; `wait`: how long after the first snapshot
/// the crowd starts joining.
async fn crowd_seen_by_a_page(still: bool, wait: Duration) -> usize {
    const CROWD: usize = 605;
    let s = web_server("epoll");
    let mut w = ws(&s, "/ws/events").await;
    let ServerMsg::Snapshot(mut state) = next_msg(&mut w).await else { panic!("first frame is not a snapshot") };
    if still {
        w.send(Message::Text(r#"{"type":"pace","still":true}"#.into())).await.unwrap();
    }
    tokio::time::sleep(wait).await;
    let chat = s.chat;
    let crowd = std::thread::spawn(move || {
        let mut crowd: Vec<Client> = (0..600).map(|_| Client::connect(chat)).collect();
        std::thread::sleep(Duration::from_millis(150));
        crowd.extend((600..CROWD).map(|_| Client::connect(chat)));
        crowd
    });
    let clients = |st: &muxscope_shared::Snapshot| st.fds.iter().filter(|f| f.role == Role::Tcp).count();
    let t0 = Instant::now();
    while clients(&state) != CROWD && t0.elapsed() < Duration::from_secs(8) {
        if let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(Duration::from_millis(300), w.next()).await {
            match serde_json::from_str::<ServerMsg>(t.as_str()).unwrap() {
                ServerMsg::Snapshot(snap) => state = snap,
                ServerMsg::Events { events } => events.iter().for_each(|e| state.apply(e)),
            }
        }
    }
    let _crowd = crowd.join().unwrap();
    clients(&state)
}

/// A still page is sent only the tail of a frame: when what it left out joined the fd table, the
/// page must still end up with every fd, even when the snapshot that fixes it is no newer than
/// the last picture it was sent.
#[tokio::test]
async fn a_still_page_ends_up_with_every_client_of_a_crowd() {
    assert_eq!(crowd_seen_by_a_page(true, Duration::from_millis(1100)).await, 605, "the still page's picture is missing part of the crowd");
}

/// The same for a page that takes every frame: the hub folds a crowd that joins faster than a
/// frame holds, and the snapshot it sends to fix the fd table can come after the latecomers'
/// frame, with the same seq. It is needed all the same.
#[tokio::test]
async fn a_live_page_ends_up_with_every_client_of_a_crowd() {
    assert_eq!(crowd_seen_by_a_page(false, Duration::ZERO).await, 605, "the page's picture is missing part of the crowd");
}
