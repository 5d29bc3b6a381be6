//! (a) Fan-out: one 64 B message to N idle clients, and the kernel floor for it.

use super::*;

#[derive(Debug, Serialize)]
pub struct FanoutResult {
    pub clients: usize,
    #[serde(flatten)]
    pub stats: Stats,
}

/// (a) One 64 B message to N idle clients: time until the last one has it, over `rounds` rounds.
/// With several `targets` (nodes of one cluster) the clients are spread over them round-robin,
/// the sender is on the first, and a round ends when the last client on any node has the line
/// (a remote one arrives as `[name@NODE] text`: still one line, and lines are what is counted).
pub fn fanout(targets: &[SocketAddr], proto: Proto, clients: usize, rounds: usize) -> io::Result<FanoutResult> {
    let mut rx = Receivers::connect_spread(targets, clients, proto)?;
    let mut sender = proto.sender(targets[0])?;
    let stop = Arc::new(AtomicBool::new(false));
    let drain = drain_in_background(&sender, stop.clone())?;
    let idx = rx.index();
    let mut seen = barrier(&mut rx, &mut sender, proto, &idx)?;
    let mut samples = Vec::with_capacity(rounds);
    for r in 0..rounds {
        // Let the previous round's echoes settle.
        std::thread::sleep(Duration::from_millis(20));
        let msg = proto.message(r as u64 + 1);
        let t0 = Instant::now();
        sender.write_all(msg.as_bytes())?;
        seen += proto.lf_per_message();
        rx.wait_all(seen, &idx)?;
        samples.push(t0.elapsed());
    }
    hang_up(rx, sender, &stop, drain);
    Ok(FanoutResult { clients, stats: stats(samples) })
}

/// The kernel floor for (a): one process writes the message to N loopback sockets and reads it
/// back, with no server logic at all.
pub fn floor(clients: usize, rounds: usize) -> io::Result<FanoutResult> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut pairs = Vec::with_capacity(clients);
    for _ in 0..clients {
        let c = TcpStream::connect(addr)?;
        let (s, _) = listener.accept()?;
        c.set_nodelay(true)?;
        s.set_nodelay(true)?;
        pairs.push((s, c));
    }
    let msg = format!("[127.0.0.1:40000] {}\n", payload(0));
    let mut buf = vec![0u8; 4096];
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        std::thread::sleep(Duration::from_millis(20));
        let t0 = Instant::now();
        for (s, _) in &pairs {
            crate::sys::send(s.as_raw_fd(), msg.as_bytes())?;
        }
        for (_, c) in &mut pairs {
            let mut got = 0;
            while got < msg.len() {
                got += c.read(&mut buf[..msg.len() - got])?;
            }
        }
        samples.push(t0.elapsed());
    }
    for (s, c) in &pairs {
        set_reset_on_close(s);
        set_reset_on_close(c);
    }
    Ok(FanoutResult { clients, stats: stats(samples) })
}
