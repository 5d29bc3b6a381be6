//! The nodes this relay hears on the presence channel, and each one's line sequence.

use super::wire::Msg;
use muxscope_shared::ClusterNode;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// A node unheard this long is gone from the strip (three heartbeats).
pub const TTL: Duration = Duration::from_secs(3);

#[derive(Debug)]
struct Peer {
    inst: u64,
    clients: u32,
    names: Vec<String>,
    last_seen: Instant,
}

#[derive(Debug)]
pub struct Presence {
    ttl: Duration,
    /// By node name; a node restarted under the same name replaces its old run.
    peers: BTreeMap<String, Peer>,
    /// The next line sequence number expected from each run (`inst`) a line came from.
    next_seq: HashMap<u64, u64>,
}

impl Presence {
    pub fn new(ttl: Duration) -> Presence {
        Presence { ttl, peers: BTreeMap::new(), next_seq: HashMap::new() }
    }

    /// Takes a presence message from another node. True when the strip changes.
    pub fn heard(&mut self, msg: Msg, now: Instant) -> bool {
        match msg {
            Msg::Hello { node, inst, clients, names } => {
                let changed = self.peers.get(&node).is_none_or(|p| p.clients != clients || p.inst != inst);
                self.peers.insert(node, Peer { inst, clients, names, last_seen: now });
                changed
            }
            Msg::Bye { node, inst } => {
                self.next_seq.remove(&inst);
                // Another run's goodbye (an older one of the same name) leaves this one be.
                let this_run = self.peers.get(&node).is_some_and(|p| p.inst == inst);
                if this_run {
                    self.peers.remove(&node);
                }
                this_run
            }
            Msg::Line { .. } => false,
        }
    }

    /// Drops nodes unheard for three heartbeats. True when any went.
    pub fn expire(&mut self, now: Instant) -> bool {
        let (ttl, next_seq) = (self.ttl, &mut self.next_seq);
        let before = self.peers.len();
        self.peers.retain(|_, p| {
            let alive = now.saturating_duration_since(p.last_seen) < ttl;
            if !alive {
                next_seq.remove(&p.inst);
            }
            alive
        });
        self.peers.len() != before
    }

    /// A line numbered `seq` came from run `inst`: how many of its lines before it never came
    /// (0 for the first line heard from a run: what it said before this node listened is not
    /// this node's loss).
    pub fn line(&mut self, inst: u64, seq: u64) -> u64 {
        let missed = match self.next_seq.get(&inst) {
            Some(&want) if seq > want => seq - want,
            _ => 0,
        };
        let next = self.next_seq.entry(inst).or_insert(seq + 1);
        *next = (*next).max(seq + 1);
        missed
    }

    /// The strip: every node heard, and this one.
    pub fn nodes(&self, me: ClusterNode) -> Vec<ClusterNode> {
        let mut all: Vec<ClusterNode> = self
            .peers
            .iter()
            .filter(|(name, _)| **name != me.name)
            .map(|(name, p)| ClusterNode { name: name.clone(), clients: p.clients, me: false })
            .collect();
        all.push(me);
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Other nodes' names for `/who`, each marked `NAME@NODE`, and how many clients they have
    /// in all (more than the names when a heartbeat carried only the first few).
    pub fn remote_names(&self, me: &str) -> (Vec<String>, u64) {
        let mut names = Vec::new();
        let mut total = 0u64;
        for (node, p) in self.peers.iter().filter(|(n, _)| n.as_str() != me) {
            total += p.clients as u64;
            names.extend(p.names.iter().map(|n| format!("{n}@{node}")));
        }
        (names, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(node: &str, inst: u64, clients: u32) -> Msg {
        Msg::Hello { node: node.into(), inst, clients, names: vec![format!("u{inst}")] }
    }

    #[test]
    fn nodes_come_change_and_go() {
        let t0 = Instant::now();
        let mut p = Presence::new(TTL);
        let me = |c| ClusterNode { name: "B".into(), clients: c, me: true };
        assert!(p.heard(hello("A", 1, 3), t0));
        assert!(!p.heard(hello("A", 1, 3), t0), "the same count is no change");
        assert!(p.heard(hello("C", 2, 1), t0));
        assert_eq!(
            p.nodes(me(5)).iter().map(|n| (n.name.as_str(), n.clients, n.me)).collect::<Vec<_>>(),
            [("A", 3, false), ("B", 5, true), ("C", 1, false)]
        );
        assert_eq!(p.remote_names("B"), (vec!["u1@A".to_string(), "u2@C".to_string()], 4));
        assert!(!p.expire(t0 + TTL / 2));
        p.heard(hello("A", 1, 4), t0 + TTL / 2);
        assert!(p.expire(t0 + TTL), "C went quiet");
        assert_eq!(p.nodes(me(0)).len(), 2);
        assert!(!p.heard(Msg::Bye { node: "A".into(), inst: 9 }, t0), "another run's goodbye");
        assert!(p.heard(Msg::Bye { node: "A".into(), inst: 1 }, t0));
        assert_eq!(p.nodes(me(0)).len(), 1);
    }

    #[test]
    fn missing_lines_are_counted_once_a_run_was_heard() {
        let mut p = Presence::new(TTL);
        assert_eq!(p.line(7, 40), 0, "joined late: nothing missed");
        assert_eq!(p.line(7, 41), 0);
        assert_eq!(p.line(7, 45), 3);
        assert_eq!(p.line(7, 44), 0, "a late one is not counted twice");
        assert_eq!(p.line(7, 46), 0);
        assert_eq!(p.line(8, 1), 0, "another run");
    }
}
