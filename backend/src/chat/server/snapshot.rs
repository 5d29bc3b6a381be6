//! The loop's present state, as a watcher's first picture.

use super::*;

impl ChatServer {
    pub fn snapshot(&self) -> Snapshot {
        let fds = self
            .sel
            .keys()
            .map(|k| {
                let (name, pending_out, role) = match (&self.slots.get(k.fd as usize), k.data) {
                    (Some(Slot::Client(c)), _) => (c.name(), c.out.bytes() as u64, c.role),
                    (_, Role::Listener) => (self.local_addr.to_string(), 0, Role::Listener),
                    (_, Role::Relay) => (self.relay.as_ref().map(|l| l.relay.url.clone()).unwrap_or_default(), 0, Role::Relay),
                    (_, role) => ("eventfd".to_string(), 0, role),
                };
                FdInfo { fd: k.fd, role, interest: k.interest, name, pending_out }
            })
            .collect();
        let threads = self.threads.info.values().cloned().collect();
        let mut counters = self.counters.clone();
        counters.dropped_events = self.sel.tel.dropped_total();
        Snapshot {
            version: PROTOCOL_VERSION,
            poller: self.sel.kind().name().to_string(),
            model: Some(self.sel.kind()),
            chat_addr: self.local_addr.to_string(),
            fds,
            handover: false,
            threads,
            relay: self.relay_status(),
            counters,
            seq: self.sel.tel.seq(),
            ts_ns: self.sel.tel.now_ns(),
        }
    }
}
