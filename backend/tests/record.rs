//! `--record FILE` and `muxscope replay FILE` against the real binary: a scripted session is
//! recorded while a live `/ws/events` watcher looks on; the file holds the same events; a
//! watcher of the replay receives the same events, in the same order, as the live watcher did.

mod common;
#[allow(dead_code)]
#[path = "fidelity_support/watcher.rs"]
mod watcher;

use common::cli::*;
use common::*;
use muxscope_shared::record::{self, Recording};
use muxscope_shared::{Event, EventBody, ServerMsg};
use std::process::Command;
use std::time::{Duration, Instant};
use watcher::Watcher;

fn events_after(events: &[Event], seq: u64) -> Vec<Event> {
    events.iter().filter(|e| e.seq > seq).cloned().collect()
}

/// The scripted session: joins, names, lines to everyone, a quit and an fd number reused, and a
/// live switch from epoll to poll and back.
fn session(server: &Server) {
    let web = server.web.unwrap();
    let mut a = server.joined();
    let mut b = server.joined();
    a.send("/nick alice\n");
    a.send("hello from alice\n");
    b.line_until("[alice] hello from alice");
    let (status, body) = http(web, "POST", "/api/model", "{\"model\":\"poll\"}");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    b.send("/nick bob\n");
    b.send("bob after the switch\n");
    a.line_until("[bob] bob after the switch");
    b.send("quit\n");
    assert!(b.closed_by_server());
    let mut c = server.joined();
    c.send("carol on bob's old fd\n");
    a.line_until(&format!("[{}] carol on bob's old fd", c.name()));
    let (status, _) = http(web, "POST", "/api/model", "{\"model\":\"epoll\"}");
    assert_eq!(status, 200);
    a.send("last line\n");
    c.line_until("[alice] last line");
}

#[test]
fn a_recording_and_its_replay_hold_what_a_live_watcher_saw() {
    let file = temp_file("record", "session.muxrec");
    let mut server = Server::start("epoll", &["--web-addr", "127.0.0.1:0", "--record", file.to_str().unwrap()]);
    let live = Watcher::open(server.web.unwrap());
    session(&server);
    live.quiesce(|_| false);
    let (live_snap, live_events, resyncs) = live.close();
    assert!(resyncs.is_empty(), "a calm session needs no resync");
    terminate(&mut server);

    let rec: Recording = record::read_file(&file, 1 << 30).expect("the recording reads");
    assert!(!rec.truncated, "a clean stop leaves a whole file");
    let ServerMsg::Snapshot(first) = &rec.items[0] else { panic!("a recording starts with a snapshot") };
    let recorded: Vec<Event> = rec.events().cloned().collect();
    assert!(recorded.iter().all(|e| !matches!(e.body, EventBody::Gap { .. })), "nothing lost in a calm session");
    // The same events, from where both began.
    let from = first.seq.max(live_snap.seq);
    let live_part = events_after(&live_events, from);
    assert!(live_part.len() > 40, "the session made events: {}", live_part.len());
    // The recording goes on after the live watcher left (the clients' closes, the stop).
    let until = live_part.last().unwrap().seq;
    let same_span: Vec<Event> = events_after(&recorded, from).into_iter().filter(|e| e.seq <= until).collect();
    assert!(
        same_span == live_part,
        "the recording holds exactly what the live watcher was sent ({} against {} events)",
        same_span.len(),
        live_part.len()
    );
    // Folding the recording gives the loop's table as the live watcher last saw it.
    let mut folded = first.clone();
    let mut live_folded = live_snap.clone();
    for e in recorded.iter().filter(|e| e.seq <= until) {
        folded.apply(e);
    }
    for e in &live_events {
        live_folded.apply(e);
    }
    assert_eq!(folded.fds, live_folded.fds);
    assert!(rec.events().any(|e| matches!(e.body, EventBody::Model { .. })), "the switches are in it");

    // The replay: the same snapshot and the same events, in order, at the recorded pace.
    let (mut child, web) = replay(&file);
    let (status, bytes) = http(web, "GET", "/api/recording", "");
    assert_eq!(status, 200);
    assert_eq!(bytes, std::fs::read(&file).unwrap(), "the page gets the file itself");
    let (status, body) = http(web, "POST", "/api/model", "{\"model\":\"poll\"}");
    assert_eq!(status, 409, "a replay sends nothing");
    assert!(String::from_utf8_lossy(&body).contains("replay"));
    let (status, body) = http(web, "GET", "/api/stats", "");
    assert_eq!(status, 200);
    let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(stats["replay"]["events"], recorded.len());
    let watcher = Watcher::open(web);
    assert_eq!(&watcher.snapshot, first);
    let deadline = Instant::now() + Duration::from_secs(60);
    while watcher.find(recorded.len() - 1, |_| true).is_none() {
        assert!(Instant::now() < deadline, "the replay did not play the whole recording within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, replayed, _) = watcher.close();
    assert!(replayed == recorded, "a watcher of the replay receives the recording, in order");
    assert!(replayed.iter().filter(|e| e.seq > from && e.seq <= until).eq(live_part.iter()), "… which is what the live watcher received");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&file);
}

#[test]
fn recording_without_the_web_gateway_and_bad_files() {
    let file = temp_file("record", "core-only.muxrec");
    let mut server = Server::start("poll", &["--record", file.to_str().unwrap()]);
    let mut a = server.joined();
    let mut b = server.joined();
    for i in 0..50 {
        a.send(&format!("line {i}\n"));
    }
    b.line_until(&format!("[{}] line 49", a.name()));
    drop(b);
    a.sync();
    terminate(&mut server);
    let rec = record::read_file(&file, 1 << 30).unwrap();
    let broadcasts = rec.events().filter(|e| matches!(e.body, EventBody::Broadcast { .. })).count();
    assert_eq!(broadcasts, 50, "every line is recorded, unfolded, with nobody watching");
    let seqs: Vec<u64> = rec.events().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order");

    // Bad input is a clear error, not a crash.
    let junk = temp_file("record", "junk.muxrec");
    std::fs::write(&junk, b"{\"not\":\"a recording\"}").unwrap();
    let out = Command::new(bin()).args(["replay", junk.to_str().unwrap(), "--web-addr", "127.0.0.1:0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a muxscope recording"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(bin()).args(["--record", std::env::temp_dir().to_str().unwrap(), "--no-web"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a directory"));
    // A file cut mid-chunk (a killed recorder) replays what came before it.
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&junk, &bytes[..bytes.len() - 3]).unwrap();
    let cut = record::read_file(&junk, 1 << 30).unwrap();
    assert!(cut.truncated);
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&junk);
}
