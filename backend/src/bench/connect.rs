//! (c) Serial connects and (d) the server's RSS per idle client.

use super::*;

#[derive(Debug, Serialize)]
pub struct ConnectResult {
    pub clients: usize,
    /// From the first connect until the server has served every client once.
    pub seconds: f64,
    pub connects_per_sec: f64,
    /// Server RSS growth per idle client, when the server's pid was given.
    pub rss_per_client_bytes: Option<f64>,
    pub rss_before_bytes: Option<u64>,
    pub rss_after_bytes: Option<u64>,
}

pub fn rss_of(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| io::Error::other("no VmRSS"))?;
    Ok(kb * 1024)
}

/// (c) `clients` connections made one after another, then proof that the server serves them all
/// (line: one broadcast reaches every one; redis, nats: every subscription was confirmed).
/// (d) With `pid`, the server's RSS growth per idle client, measured after the barrier.
pub fn connect(target: SocketAddr, proto: Proto, clients: usize, pid: Option<u32>) -> io::Result<ConnectResult> {
    let rss_before = pid.map(rss_of).transpose()?;
    let t0 = Instant::now();
    let mut rx = Receivers::connect(target, clients, proto)?;
    let idx = rx.index();
    let mut sender = proto.sender(target)?;
    let stop = Arc::new(AtomicBool::new(false));
    let drain = drain_in_background(&sender, stop.clone())?;
    barrier(&mut rx, &mut sender, proto, &idx)?;
    let seconds = t0.elapsed().as_secs_f64();
    // Let the allocator settle, then read RSS with every client connected and idle.
    std::thread::sleep(Duration::from_millis(300));
    let rss_after = pid.map(rss_of).transpose()?;
    hang_up(rx, sender, &stop, drain);
    let per_client = match (rss_before, rss_after) {
        (Some(b), Some(a)) => Some((a as f64 - b as f64) / clients as f64),
        _ => None,
    };
    Ok(ConnectResult {
        clients,
        seconds,
        connects_per_sec: clients as f64 / seconds,
        rss_per_client_bytes: per_client,
        rss_before_bytes: rss_before,
        rss_after_bytes: rss_after,
    })
}
