//! `muxscope export FILE -o OUT.json` against the real binary: a scripted chat session is
//! recorded (`--record`), then exported as a process, and the trace is checked for what
//! Perfetto needs and the issue asks: it parses; every fd of the session has a named track, a
//! reused fd number a second one and a live model switch none; every broadcast has one flow
//! end per recipient; timestamps never go back on a track. `--max-flows N` draws N flows and
//! counts the rest; a recording cut short exports what it holds, and garbage exports nothing.

mod common;

use common::cli::*;
use common::*;
use muxscope_shared::record;
use muxscope_shared::{EventBody, ServerMsg};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::process::Command;

/// Three clients, a nick, lines to everyone, a live switch to poll, quits, and clients passing
/// through one after another (each gets the number the last one freed: the kernel hands out the
/// lowest free fd), coalesced output (two lines in one write).
fn session(server: &Server) {
    let web = server.web.unwrap();
    let mut a = server.joined();
    let mut b = server.joined();
    let mut c = server.joined();
    a.send("/nick alice\nhello\n");
    for x in [&mut a, &mut b, &mut c] {
        x.line_until("[alice] hello");
    }
    // Nothing happens for a moment, so the loop's wait blocks (the trace must show a long one;
    // without the pause a fast run can answer every step within a millisecond).
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(switch_model(web, "poll"), 200);
    b.send("one\ntwo\n");
    let bob = b.name();
    for x in [&mut a, &mut b, &mut c] {
        x.line_until(&format!("[{bob}] two"));
    }
    c.send("quit\n");
    assert!(c.closed_by_server());
    for _ in 0..2 {
        let mut e = server.joined();
        e.send("passing through\nquit\n");
        a.line_until(&format!("[{}] passing through", e.name()));
        assert!(e.closed_by_server());
    }
    let mut d = server.joined();
    d.send("on an old number\n");
    let dave = d.name();
    for x in [&mut a, &mut b, &mut d] {
        x.line_until(&format!("[{dave}] on an old number"));
    }
}

fn ts(e: &Value) -> f64 {
    e["ts"].as_f64().unwrap_or_else(|| panic!("no ts: {e}"))
}

#[test]
fn an_exported_recording_opens_as_a_trace_with_every_fd_and_every_flow() {
    export_a_session("epoll");
}

/// The blocking model's threads stamp their own events, so they reach the recording a little out
/// of order: the trace still never goes back in time on a track.
#[test]
fn an_exported_recording_of_the_blocking_model_keeps_time_in_order() {
    export_a_session("blocking");
}

fn export_a_session(model: &str) {
    let rec_path = temp_file("export", &format!("{model}.rec"));
    let out_path = temp_file("export", &format!("{model}.json"));
    let rec_arg = rec_path.to_str().unwrap();
    let mut server = Server::start(model, &["--web-addr", "127.0.0.1:0", "--record", rec_arg]);
    session(&server);
    terminate(&mut server);

    let out = Command::new(bin()).args(["export", rec_arg, "-o", out_path.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "export failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("wrote"), "{}", String::from_utf8_lossy(&out.stdout));

    let trace: Value = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).expect("the trace is JSON");
    assert_eq!(trace["displayTimeUnit"], "ns");
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    let names: BTreeMap<u64, String> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| (e["tid"].as_u64().unwrap(), e["args"]["name"].as_str().unwrap().to_string()))
        .collect();
    let process = events.iter().find(|e| e["name"] == "process_name").expect("the process is named");
    assert!(process["args"]["name"].as_str().unwrap().starts_with(&format!("muxscope ({model} on 127.0.0.1:")), "{process}");

    // Every fd of the session has a named track: one per connection on it (a live switch
    // starts none), and the number the quit freed got a second one.
    let rec = record::read_file(&rec_path, 1 << 30).unwrap();
    let mut connections: BTreeMap<i32, usize> = BTreeMap::new();
    if let Some(ServerMsg::Snapshot(s)) = rec.items.first() {
        for f in &s.fds {
            connections.insert(f.fd, 1);
        }
    }
    let mut switched = false;
    for e in rec.events() {
        match &e.body {
            EventBody::Accept { fd, .. } => *connections.entry(*fd).or_default() += 1,
            EventBody::Ctl { fd, .. } | EventBody::Recv { fd, .. } | EventBody::Send { fd, .. } | EventBody::Close { fd, .. } => {
                connections.entry(*fd).or_insert(1);
            }
            EventBody::Model { .. } => switched = true,
            _ => {}
        }
    }
    assert!(switched, "the session switched models");
    for (fd, n) in &connections {
        let tracks: Vec<&String> = names
            .values()
            .filter(|name| name.strip_prefix(&format!("fd {fd}")).is_some_and(|r| r.starts_with(" ·") || r.starts_with(" (")))
            .collect();
        assert_eq!(tracks.len(), *n, "fd {fd}: {n} connections, tracks {tracks:?}");
    }
    assert!(names.values().any(|n| n.ends_with(" #2")), "a freed fd number was reused: {names:?}");
    assert!(names.values().any(|n| n.contains(" · alice (tcp)")), "{names:?}");

    // Timestamps never go back on a track, and every track used is named.
    let mut last: HashMap<u64, f64> = HashMap::new();
    for e in events.iter().filter(|e| e["ph"] != "M") {
        let tid = e["tid"].as_u64().unwrap();
        assert!(names.contains_key(&tid), "tid {tid} has no thread_name");
        let prev = last.insert(tid, ts(e)).unwrap_or(f64::MIN);
        assert!(ts(e) >= prev, "time went back on {}: {prev} then {e}", names[&tid]);
    }

    // Waits are slices with their duration on the loop's track (named by the model's call);
    // the IO calls are instants with their fields on the fds' tracks.
    let loop_tid = *names.iter().find(|(_, n)| *n == "event loop").expect("the loop's track").0;
    if model == "epoll" {
        let waits: Vec<&Value> = events
            .iter()
            .filter(|e| e["ph"] == "X" && e["tid"] == loop_tid && (e["name"] == "epoll_wait" || e["name"] == "poll"))
            .collect();
        assert!(waits.iter().any(|w| w["name"] == "epoll_wait") && waits.iter().any(|w| w["name"] == "poll"), "both models' waits");
        assert!(waits.iter().all(|w| w["dur"].as_f64().is_some_and(|d| d >= 0.0) && w["args"]["registered"].is_u64()));
        assert!(waits.iter().any(|w| w["dur"].as_f64().unwrap() > 1000.0), "a wait that blocked for more than a millisecond");
    }
    for kind in ["accept", "recv", "ctl add", "ctl del"] {
        let marks: Vec<&Value> = events.iter().filter(|e| e["name"] == kind).collect();
        assert!(!marks.is_empty() && marks.iter().all(|e| e["ph"] == "i" && e["tid"] != loop_tid), "{kind} marks on the fds' tracks");
    }
    assert!(events.iter().any(|e| e["name"] == "recv" && e["args"]["bytes"].as_u64() > Some(0)), "recv marks carry their fields");
    assert!(events.iter().any(|e| e["name"] == "close" && e["args"]["reason"] == "quit"), "the quit's close");
    for f in events.iter().filter(|e| e["ph"] == "f") {
        let track = &names[&f["tid"].as_u64().unwrap()];
        assert!(
            track.starts_with("fd ") && (track.contains("(tcp)") || track.contains("(web)")),
            "a flow ends on a client's track: {track}"
        );
    }

    // Every broadcast starts one flow per recipient, right after its slice, and each one ends
    // once, on a slice of a recipient's track.
    let mut ends: HashMap<u64, usize> = HashMap::new();
    for e in events.iter().filter(|e| e["ph"] == "f") {
        *ends.entry(e["id"].as_u64().unwrap()).or_default() += 1;
    }
    let broadcasts: Vec<usize> = (0..events.len()).filter(|&i| events[i]["ph"] == "X" && events[i]["name"] == "broadcast").collect();
    assert_eq!(broadcasts.len(), rec.events().filter(|e| matches!(e.body, EventBody::Broadcast { .. })).count());
    assert!(broadcasts.len() >= 6);
    for i in broadcasts {
        let b = &events[i];
        let recipients = b["args"]["recipients"].as_u64().unwrap() as usize;
        assert!(recipients >= 3, "everyone got every line: {b}");
        let flows = &events[i + 1..i + 1 + recipients];
        for f in flows {
            assert!(f["ph"] == "s" && f["tid"] == b["tid"] && ts(f) == ts(b), "flow start {f} after {b}");
            assert_eq!(ends.get(&f["id"].as_u64().unwrap()), Some(&1), "flow {f} ends once");
        }
        assert_ne!(events.get(i + 1 + recipients).map(|e| &e["ph"]), Some(&Value::from("s")), "more flows than recipients: {b}");
    }
    let starts = events.iter().filter(|e| e["ph"] == "s").count();
    assert_eq!(starts, ends.len());
    // The coalesced write ended both of bob's lines' flows on alice's track at once.
    assert!(events.iter().any(|e| e["name"] == "send" && e["args"]["flows_ended"].as_u64() >= Some(2)), "a send ended two flows");
    assert_eq!(trace["metadata"]["flows_omitted"], 0);
    if model == "epoll" {
        a_budget_and_a_cut_recording(&rec_path, starts as u64);
    }
    let _ = std::fs::remove_file(&rec_path);
    let _ = std::fs::remove_file(&out_path);
}

/// `export FILE -o OUT [--max-flows N]`: its stdout and, if it succeeded, the trace.
fn export(file: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> (bool, String, Option<Value>) {
    let o = Command::new(bin()).arg("export").arg(file).arg("-o").arg(out).args(extra).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let trace = o.status.success().then(|| serde_json::from_slice(&std::fs::read(out).unwrap()).expect("the trace is JSON"));
    (o.status.success(), text, trace)
}

/// The session's recording (which draws `all` flows) exported with a budget of 5, with none,
/// cut short, and as garbage.
fn a_budget_and_a_cut_recording(rec: &std::path::Path, all: u64) {
    let out = temp_file("export", "budget.json");
    let (ok, said, trace) = export(rec, &out, &["--max-flows", "5"]);
    assert!(ok, "{said}");
    let trace = trace.unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    let count = |ph: &str| events.iter().filter(|e| e["ph"] == ph).count() as u64;
    assert_eq!((count("s"), count("f")), (5, 5), "the budget is spent exactly, every flow drawn ends");
    let meta = &trace["metadata"];
    assert_eq!(meta["flows_omitted"].as_u64(), Some(all - 5));
    assert_eq!(meta["summary"]["flows_omitted"].as_u64(), Some(all - 5));
    assert_eq!(meta["flow_budget"]["max_flows"], 5);
    assert!(said.contains(&format!("5 flows ({} flows omitted", all - 5)), "{said}");
    let mut omitted = 0;
    for b in events.iter().filter(|e| e["name"] == "broadcast" && e["ph"] == "X") {
        let (drawn, left) = (b["args"]["flows"].as_u64().unwrap(), b["args"]["flows_omitted"].as_u64().unwrap_or(0));
        assert_eq!(drawn + left, b["args"]["recipients"].as_u64().unwrap(), "{b}");
        omitted += left;
    }
    assert_eq!(omitted, all - 5);

    let (ok, said, trace) = export(rec, &out, &["--max-flows", "0"]);
    assert!(ok && !said.contains("omitted"), "{said}");
    assert_eq!(trace.unwrap()["metadata"]["summary"]["flows"].as_u64(), Some(all));

    // Cut inside its last chunk: the trace holds what came before, and says so.
    let bytes = std::fs::read(rec).unwrap();
    let cut = temp_file("export", "cut.rec");
    std::fs::write(&cut, &bytes[..bytes.len() - 2]).unwrap();
    let (ok, said, trace) = export(&cut, &out, &[]);
    assert!(ok && said.contains("cut short"), "{said}");
    assert_eq!(trace.unwrap()["metadata"]["recording"]["truncated"], true);

    // Not a recording, or corrupt past its header: an error, and no trace (nor a `.part`) left.
    let _ = std::fs::remove_file(&out);
    let part = temp_file("export", "budget.json.part");
    std::fs::write(&cut, b"{\"not\":\"a recording\"}").unwrap();
    let (ok, said, _) = export(&cut, &out, &[]);
    assert!(!ok && said.contains("not a muxscope recording"), "{said}");
    let mut corrupt = bytes.clone();
    corrupt.extend([b'Z', 0, 0, 0, 0]);
    std::fs::write(&cut, &corrupt).unwrap();
    let (ok, said, _) = export(&cut, &out, &[]);
    assert!(!ok && said.contains("unknown chunk"), "{said}");
    assert!(!out.exists() && !part.exists());
    let _ = std::fs::remove_file(&cut);
}
