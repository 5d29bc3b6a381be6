//! What the tests share: histories built by hand ([`H`]) and the invariants every written trace
//! must hold ([`check`]).

use super::*;
use crate::{CloseReason, CtlOp, Event, EventBody, FdInfo, Interest, Model, ReadyFd, ReadyFlags, Role};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

pub(super) const LISTENER: i32 = 3;

/// A history being built: a first snapshot (the listener, epoll, 127.0.0.1:3999), then events
/// 1 µs apart unless placed with [`H::at`].
pub(super) struct H {
    pub seq: u64,
    pub ts: u64,
    pub items: Vec<ServerMsg>,
}

pub(super) fn fd_info(fd: i32, role: Role, name: &str) -> FdInfo {
    FdInfo { fd, role, interest: Interest::Read, name: name.into(), pending_out: 0 }
}

pub(super) fn snapshot(seq: u64, ts_ns: u64, model: Model, fds: Vec<FdInfo>) -> Snapshot {
    Snapshot { model: Some(model), poller: model.name().into(), chat_addr: "127.0.0.1:3999".into(), fds, seq, ts_ns, ..Snapshot::empty() }
}

impl H {
    pub fn new() -> H {
        let first = snapshot(0, 1_000, Model::Epoll, vec![fd_info(LISTENER, Role::Listener, "127.0.0.1:3999")]);
        H { seq: 0, ts: 1_000, items: vec![ServerMsg::Snapshot(first)] }
    }

    pub fn at(&mut self, ts: u64) -> &mut Self {
        self.ts = ts;
        self
    }

    pub fn push(&mut self, seq: u64, body: EventBody) -> &mut Self {
        let e = Event { seq, ts_ns: self.ts, body };
        match self.items.last_mut() {
            Some(ServerMsg::Events { events }) => events.push(e),
            _ => self.items.push(ServerMsg::Events { events: vec![e] }),
        }
        self
    }

    pub fn ev(&mut self, body: EventBody) -> &mut Self {
        self.seq += 1;
        self.ts += 1_000;
        self.push(self.seq, body)
    }

    /// A client connecting: accept, then its registration.
    pub fn connect(&mut self, fd: i32, peer: &str) -> &mut Self {
        self.ev(EventBody::Accept { fd, peer: peer.into(), listener: LISTENER });
        self.ev(EventBody::Ctl { op: CtlOp::Add, fd, interest: Some(Interest::Read), role: Role::Tcp, error: None })
    }

    pub fn close(&mut self, fd: i32) -> &mut Self {
        self.ev(EventBody::Ctl { op: CtlOp::Del, fd, interest: None, role: Role::Tcp, error: None });
        self.ev(EventBody::Close { fd, reason: CloseReason::Eof, detail: None })
    }

    pub fn say(&mut self, from: i32, recipients: u32) -> &mut Self {
        self.ev(EventBody::Recv { fd: from, bytes: 3, eof: false, would_block: false, lines: 1 });
        self.ev(EventBody::Broadcast { from, name: "n".into(), recipients, bytes: 9, text: "hi".into() })
    }

    pub fn send(&mut self, fd: i32, bytes: u64) -> &mut Self {
        self.ev(EventBody::Send { fd, bytes, would_block: false, queued: 0 })
    }

    pub fn wait(&mut self, blocked_ns: u64, ready: &[i32]) -> &mut Self {
        let ready: Vec<ReadyFd> = ready.iter().map(|&fd| ReadyFd { fd, flags: ReadyFlags(ReadyFlags::IN) }).collect();
        let n = ready.len() as u32;
        self.ev(EventBody::Wait {
            timeout_ms: -1,
            registered: 4,
            ready,
            ready_total: n,
            blocked_ns,
            scanned: n,
            rescan: 0,
            overflow: false,
        })
    }

    pub fn trace(&self) -> Trace {
        check(&chrome_trace_string(&self.items))
    }
}

/// A written trace, parsed.
pub(super) struct Trace {
    pub events: Vec<Value>,
    pub metadata: Value,
    /// tid → thread_name.
    pub names: BTreeMap<u64, String>,
}

pub(super) fn ts_ns(v: &Value) -> Option<u64> {
    v["ts"].as_f64().map(|us| (us * 1000.0).round() as u64)
}

impl Trace {
    /// The tid of the track whose name is `name`.
    pub fn tid(&self, name: &str) -> u64 {
        let found: Vec<u64> = self.names.iter().filter(|(_, n)| *n == name).map(|(t, _)| *t).collect();
        assert_eq!(found.len(), 1, "one track named {name:?} in {:?}", self.names);
        found[0]
    }

    /// The events on `tid` (not its name), in file order.
    pub fn on(&self, tid: u64) -> Vec<&Value> {
        self.events.iter().filter(|e| e["tid"] == tid && e["ph"] != "M").collect()
    }

    pub fn with_ph<'a>(&'a self, ph: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["ph"] == ph)
    }

    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["name"] == name && e["ph"] != "M")
    }
}

/// Parses a trace and checks what every trace must hold: the object form; one name per track
/// used and a process name; timestamps that never go back on a track; slices that nest or
/// follow each other; every flow started once and ended once, each flow event right after a
/// slice of its track at its own timestamp (what Perfetto binds it to).
pub(super) fn check(text: &str) -> Trace {
    let v: Value = serde_json::from_str(text).expect("the trace is JSON");
    assert_eq!(v["displayTimeUnit"], "ns");
    assert!(v["metadata"].is_object());
    let events = v["traceEvents"].as_array().expect("traceEvents").clone();
    let mut names = BTreeMap::new();
    let mut process = 0;
    for e in events.iter().filter(|e| e["ph"] == "M") {
        assert_eq!(e["pid"], PID);
        match e["name"].as_str() {
            Some("thread_name") => {
                let tid = e["tid"].as_u64().expect("a tid");
                assert!(names.insert(tid, e["args"]["name"].as_str().unwrap().to_string()).is_none(), "tid {tid} named twice");
            }
            Some("process_name") => process += 1,
            other => panic!("unexpected metadata {other:?}"),
        }
    }
    assert_eq!(process, 1);
    let mut last: HashMap<u64, u64> = HashMap::new();
    // Per tid: the open slices' ends, and the last event that was not a flow.
    let mut stacks: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut before: HashMap<u64, &Value> = HashMap::new();
    let (mut started, mut ended) = (HashMap::new(), HashMap::new());
    for e in events.iter().filter(|e| e["ph"] != "M") {
        let tid = e["tid"].as_u64().expect("a tid");
        assert_eq!(e["pid"], PID);
        assert!(names.contains_key(&tid), "tid {tid} has no name: {e}");
        let ts = ts_ns(e).expect("a ts");
        let prev = last.insert(tid, ts).unwrap_or(0);
        assert!(ts >= prev, "time went back on tid {tid}: {prev} then {e}");
        match e["ph"].as_str().unwrap() {
            "s" | "f" => {
                let id = e["id"].as_u64().expect("a flow id");
                let host = before.get(&tid).unwrap_or_else(|| panic!("flow {e} before any slice"));
                assert!(host["ph"] == "X" && ts_ns(host) == Some(ts), "flow {e} does not follow its slice: {host}");
                let seen = if e["ph"] == "s" { &mut started } else { &mut ended };
                assert!(seen.insert(id, tid).is_none(), "flow {id} twice: {e}");
                if e["ph"] == "f" {
                    assert_eq!(e["bp"], "e");
                    assert!(started.contains_key(&id), "flow {id} ends before it starts");
                }
            }
            ph => {
                assert!(ph == "X" || (ph == "i" && e["s"] == "t"), "{e}");
                let stack = stacks.entry(tid).or_default();
                while stack.last().is_some_and(|&end| end <= ts) {
                    stack.pop();
                }
                if ph == "X" {
                    let end = ts + (e["dur"].as_f64().expect("a dur") * 1000.0).round() as u64;
                    assert!(stack.last().is_none_or(|&outer| end <= outer), "slice {e} overlaps the one it starts in");
                    stack.push(end);
                }
                before.insert(tid, e);
            }
        }
    }
    assert_eq!(started.len(), ended.len(), "every flow ends");
    Trace { metadata: v["metadata"].clone(), events, names }
}

impl Trace {
    pub fn process_name(&self) -> &str {
        self.events.iter().find(|e| e["name"] == "process_name").unwrap()["args"]["name"].as_str().unwrap()
    }

    /// Flow id → (start tid, end tid).
    pub fn flows(&self) -> BTreeMap<u64, (u64, u64)> {
        let ends: HashMap<u64, u64> = self.with_ph("f").map(|e| (e["id"].as_u64().unwrap(), e["tid"].as_u64().unwrap())).collect();
        self.with_ph("s").map(|e| (e["id"].as_u64().unwrap(), (e["tid"].as_u64().unwrap(), ends[&e["id"].as_u64().unwrap()]))).collect()
    }
}
