//! (b) Blast: deliveries per second while senders push 64 B lines as fast as the server takes them.

use super::*;

#[derive(Debug, Serialize)]
pub struct BlastResult {
    pub clients: usize,
    pub senders: usize,
    pub seconds: f64,
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    pub sent_messages: u64,
    /// Receivers the server cut during the run (slow-consumer limits).
    pub receivers_cut: usize,
}

/// (b) `clients` receivers, `senders` senders writing 64 B lines as fast as the server takes
/// them, for `seconds` after a one-second warm-up: deliveries per second at the receivers.
/// With several `targets` (nodes of one cluster) receivers and senders are both spread over them
/// round-robin (the first sender on the first), and every receiver's lines count, on every node.
pub fn blast(targets: &[SocketAddr], proto: Proto, clients: usize, senders: usize, seconds: f64) -> io::Result<BlastResult> {
    let mut rx = Receivers::connect_spread(targets, clients, proto)?;
    let idx = rx.index();
    let mut first = proto.sender(targets[0])?;
    let stop = Arc::new(AtomicBool::new(false));
    let drain0 = drain_in_background(&first, stop.clone())?;
    let base = barrier(&mut rx, &mut first, proto, &idx)?;
    let _ = base;
    let sent = Arc::new(AtomicU64::new(0));
    let mut threads = vec![];
    for s in 0..senders {
        let sock = if s == 0 { first.try_clone()? } else { proto.sender(spread(targets, s))? };
        let drain = if s == 0 { None } else { Some(drain_in_background(&sock, stop.clone())?) };
        let (stop, sent) = (stop.clone(), sent.clone());
        threads.push(std::thread::spawn(move || {
            // Many messages per write: the server sees a stream, as from a real fast client.
            let mut chunk = String::new();
            for i in 0..256 {
                chunk.push_str(&proto.message(i));
            }
            blast_writes(&sock, chunk.as_bytes(), &stop, &sent);
            set_reset_on_close(&sock);
            if let Some(d) = drain {
                let _ = d.join();
            }
        }));
    }
    let warmup = Duration::from_secs(1);
    let window = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut counted = 0u64;
    let mut measuring = false;
    let mut t_measure = start;
    let mut cut = vec![false; clients];
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let now = Instant::now();
        if !measuring && now >= start + warmup {
            measuring = true;
            t_measure = now;
        }
        if measuring && now >= t_measure + window {
            break;
        }
        let info = rx.sel.select(Some(Duration::from_millis(50)))?;
        for i in 0..info.ready {
            let Some((key, _)) = rx.sel.ready_at(i) else { continue };
            let r = idx[key.fd as usize];
            match read_lfs(key.fd, &mut buf) {
                Ok(n) => {
                    if measuring {
                        counted += n;
                    }
                }
                Err(_) => {
                    cut[r] = true;
                    let _ = rx.sel.unregister(key.fd);
                }
            }
        }
    }
    let elapsed = t_measure.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let _ = drain0.join();
    for s in &rx.socks {
        set_reset_on_close(s);
    }
    let deliveries = counted / proto.lf_per_message();
    Ok(BlastResult {
        clients,
        senders,
        seconds: elapsed,
        deliveries,
        deliveries_per_sec: deliveries as f64 / elapsed,
        sent_messages: sent.load(Ordering::Relaxed),
        receivers_cut: cut.iter().filter(|&&c| c).count(),
    })
}
