//! Random plausible histories: a small chat server simulated as it would be told on
//! `/ws/events` (connections coming and going on reused fd numbers, lines, coalesced and
//! refused sends, waits, nicks, model switches, gaps with and without lost table changes, and
//! the blocking model's out-of-order stamps). Every trace must pass [`check`], start one flow
//! per recipient the server really had, and have one track per connection when nothing was lost.

use super::check::{check, fd_info, snapshot, H, LISTENER};
use super::*;
use crate::{CtlOp, EventBody, Interest, Model, Role};
use proptest::prelude::*;
use std::collections::BTreeMap;

struct Sim {
    h: H,
    echo: bool,
    /// fd → name, the clients connected now.
    clients: BTreeMap<i32, String>,
    model: Model,
    /// Flows the exporter must start: one per recipient of each line.
    flows: u64,
    /// Tracks it must name when nothing was lost: the listener's and one per connection.
    tracks: u64,
    lossy: bool,
    peers: u32,
}

impl Sim {
    fn client(&self, pick: u8) -> Option<i32> {
        let n = self.clients.len();
        (n > 0).then(|| *self.clients.keys().nth(pick as usize % n).expect("in range"))
    }

    /// The lowest free number from 5 up: the kernel's rule, so numbers are reused.
    fn free_fd(&self) -> i32 {
        (5..).find(|fd| !self.clients.contains_key(fd)).expect("a free fd")
    }

    fn step(&mut self, op: u8, a: u8, b: u8) {
        match op % 10 {
            0 if self.clients.len() < 8 => {
                let fd = self.free_fd();
                self.peers += 1;
                let peer = format!("127.0.0.1:{}", self.peers);
                self.h.connect(fd, &peer);
                self.clients.insert(fd, peer);
                self.tracks += 1;
            }
            1 => {
                if let Some(from) = self.client(a) {
                    let n = if self.echo { 1 } else { self.clients.len() as u32 };
                    self.h.say(from, n);
                    self.flows += n as u64;
                }
            }
            2 => {
                if let Some(fd) = self.client(a) {
                    let bytes = (b % 3) as u64 * 10;
                    self.h.ev(EventBody::Send { fd, bytes, would_block: bytes == 0, queued: 0 });
                }
            }
            3 => {
                if let Some(fd) = self.client(a) {
                    self.h.close(fd);
                    self.clients.remove(&fd);
                }
            }
            4 => {
                let ready: Vec<i32> = self.clients.keys().copied().filter(|fd| (*fd as u8 ^ a) & 1 == 0).collect();
                self.h.wait(b as u64 * 100, &ready);
            }
            5 => {
                if let Some(fd) = self.client(a) {
                    let name = format!("n{b}");
                    self.h.ev(EventBody::Nick { fd, name: name.clone(), role: if b & 1 == 0 { Role::Tcp } else { Role::Web } });
                    self.clients.insert(fd, name);
                }
            }
            6 => self.switch(Model::ALL[a as usize % Model::ALL.len()]),
            7 => self.gap(a, b),
            8 => {
                // A blocking-model thread's event, stamped before the last one.
                if let Some(fd) = self.client(a) {
                    let ts = self.h.ts.saturating_sub(b as u64 * 30);
                    self.h.at(ts).ev(EventBody::Recv { fd, bytes: 1, eof: false, would_block: b & 1 == 0, lines: 0 });
                }
            }
            _ => {
                if a & 1 == 0 {
                    self.h.ev(EventBody::Sleep { ns: b as u64 * 1_000 });
                } else {
                    self.h.ev(EventBody::UringEnter { submitted: a as u32, wait_nr: 1, blocked_ns: b as u64 * 50 });
                }
            }
        }
    }

    fn switch(&mut self, to: Model) {
        self.h.ev(EventBody::Handover { from: self.model, to });
        let fds: Vec<(i32, Role)> =
            std::iter::once((LISTENER, Role::Listener)).chain(self.clients.keys().map(|&fd| (fd, Role::Tcp))).collect();
        for &(fd, role) in &fds {
            self.h.ev(EventBody::Ctl { op: CtlOp::Del, fd, interest: None, role, error: None });
        }
        for &(fd, role) in &fds {
            self.h.ev(EventBody::Ctl { op: CtlOp::Add, fd, interest: Some(Interest::Read), role, error: None });
        }
        self.h.ev(EventBody::Model { model: to, from: Some(self.model) });
        self.model = to;
    }

    /// Events dropped: only counted, or (odd `b`) a client's close and a new connection lost
    /// with them, then the gap that says so and a snapshot of what is true now.
    fn gap(&mut self, a: u8, b: u8) {
        let dropped = 1 + a as u64 % 5;
        self.h.seq += dropped;
        if b & 1 == 0 {
            self.h.push(0, EventBody::Gap { dropped, folded: true, resync: false, counters: None });
            return;
        }
        self.lossy = true;
        if let Some(fd) = self.client(a) {
            self.clients.remove(&fd);
        }
        let fd = self.free_fd();
        self.clients.insert(fd, format!("lost:{b}"));
        self.h.push(0, EventBody::Gap { dropped, folded: false, resync: true, counters: None });
        self.h.ts += 1_000;
        let mut fds = vec![fd_info(LISTENER, Role::Listener, "127.0.0.1:3999")];
        fds.extend(self.clients.iter().map(|(&fd, name)| fd_info(fd, Role::Tcp, name)));
        self.h.items.push(ServerMsg::Snapshot(snapshot(self.h.seq, self.h.ts, self.model, fds)));
    }
}

fn simulate(echo: bool, ops: Vec<(u8, u8, u8)>) -> Sim {
    let mut sim = Sim { h: H::new(), echo, clients: BTreeMap::new(), model: Model::Epoll, flows: 0, tracks: 1, lossy: false, peers: 0 };
    for (op, a, b) in ops {
        sim.step(op, a, b);
    }
    sim
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_keep_every_invariant(
        echo in any::<bool>(),
        ops in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 0..150),
    ) {
        let sim = simulate(echo, ops);
        let text = chrome_trace_string(&sim.h.items);
        let t = check(&text);
        let summary = &t.metadata["summary"];
        prop_assert_eq!(summary["flows"].as_u64(), Some(sim.flows));
        prop_assert_eq!(summary["flow_ends"].as_u64(), Some(sim.flows));
        if !sim.lossy {
            // The loop's track, plus the listener's and one per connection.
            prop_assert_eq!(t.names.len() as u64, 1 + sim.tracks);
        }
        // Each broadcast's slice is followed by its flows, one per recipient it names.
        for (i, e) in t.events.iter().enumerate().filter(|(_, e)| e["name"] == "broadcast" && e["ph"] == "X") {
            let n = e["args"]["flows"].as_u64().unwrap() as usize;
            prop_assert!(t.events[i + 1..i + 1 + n].iter().all(|f| f["ph"] == "s" && f["tid"] == e["tid"]));
            if !echo {
                prop_assert_eq!(e["args"]["recipients"].as_u64(), Some(n as u64));
            }
        }
    }

    /// Any flow budget: the trace keeps every invariant (each flow drawn starts once and ends
    /// once), draws no more than it allows, and counts every flow it leaves out.
    #[test]
    fn any_flow_budget_keeps_every_invariant_and_counts_what_it_leaves_out(
        echo in any::<bool>(),
        ops in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 0..150),
        max_flows in 0..40u64,
        per_broadcast in 0..5u32,
        flows_per_event in 0..3u32,
        flow_burst in 0..12u64,
    ) {
        let sim = simulate(echo, ops);
        let opts = TraceOptions { max_flows, max_flows_per_broadcast: per_broadcast, flows_per_event, flow_burst };
        let mut out = Vec::new();
        let s = write_chrome_trace_with(&sim.h.items, &mut out, opts).unwrap();
        let t = check(std::str::from_utf8(&out).unwrap());
        prop_assert_eq!(s.flows + s.flows_omitted, sim.flows);
        prop_assert_eq!(s.flow_ends, s.flows);
        prop_assert_eq!(t.metadata["flows_omitted"].as_u64(), Some(s.flows_omitted));
        prop_assert!(max_flows == 0 || s.flows <= max_flows);
        let mut omitted = 0;
        for e in t.events.iter().filter(|e| e["name"] == "broadcast" && e["ph"] == "X") {
            let n = e["args"]["flows"].as_u64().unwrap();
            prop_assert!(per_broadcast == 0 || n <= per_broadcast as u64, "{}", e);
            omitted += e["args"]["flows_omitted"].as_u64().unwrap_or(0);
        }
        prop_assert_eq!(omitted, s.flows_omitted);
    }
}
