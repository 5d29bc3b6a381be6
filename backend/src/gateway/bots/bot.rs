//! One bot: connect, say who it is (`/role bot`, `/nick bot-N`), then a short line every
//! 1/rate seconds (jittered, so a room of bots does not speak in chorus), and read and discard
//! everything the server sends. It must read: a client that does not is a slow consumer, and
//! the loop cuts it at its output limit.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::time::Instant;

/// Bytes read at once and thrown away: small, as there may be thousands of bots, each holding
/// its own.
const READ_CHUNK: usize = 2048;

pub(super) struct Bot {
    pub id: u64,
    pub target: SocketAddr,
    /// Lines a second; 0 is an idle bot (connected, silent).
    pub rate: watch::Receiver<f64>,
    /// Lines every bot has said.
    pub said: Arc<AtomicU64>,
}

impl Bot {
    /// Runs until its connection ends or its task is aborted. `ready` hears once whether it
    /// connected and introduced itself; `connecting` limits how many connect at once.
    pub async fn run(mut self, connecting: Arc<Semaphore>, timeout: Duration, ready: oneshot::Sender<Result<(), String>>) {
        let hello = format!("/role bot\n/nick bot-{}\n", self.id);
        let joined = async {
            let _permit = connecting.acquire().await.map_err(|e| e.to_string())?;
            let mut s = TcpStream::connect(self.target).await.map_err(|e| e.to_string())?;
            let _ = s.set_nodelay(true);
            s.write_all(hello.as_bytes()).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(s)
        };
        let stream = match tokio::time::timeout(timeout, joined).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return drop(ready.send(Err(e))),
            Err(_) => return drop(ready.send(Err(format!("not connected within {timeout:?}")))),
        };
        if ready.send(Ok(())).is_err() {
            return;
        }
        let (mut rd, mut wr) = stream.into_split();
        let mut rng = Jitter::new(self.id);
        let mut buf = vec![0u8; READ_CHUNK];
        let mut rate = *self.rate.borrow_and_update();
        // The first line comes anywhere in the first interval: bots added together spread out.
        let mut next = Instant::now() + rng.spread(rate, 0.0, 1.0);
        let mut n = 0u64;
        loop {
            tokio::select! {
                r = rd.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                _ = tokio::time::sleep_until(next), if rate > 0.0 => {
                    n += 1;
                    let line = format!("bot-{} says hi #{n}\n", self.id);
                    if wr.write_all(line.as_bytes()).await.is_err() {
                        return;
                    }
                    self.said.fetch_add(1, Ordering::Relaxed);
                    next += rng.spread(rate, 0.5, 1.5);
                    // Fell behind (a busy runtime): carry on from now rather than burst.
                    next = next.max(Instant::now());
                }
                changed = self.rate.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    rate = *self.rate.borrow_and_update();
                    next = Instant::now() + rng.spread(rate, 0.0, 1.0);
                }
            }
        }
    }
}

/// xorshift64: a bot's own jitter, seeded by its number; no randomness of quality is needed.
struct Jitter(u64);

impl Jitter {
    fn new(seed: u64) -> Jitter {
        Jitter(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One interval of `rate` lines a second, scaled by a uniform factor in [lo, hi); for a
    /// silent bot, a long wait (it only wakes when the rate changes).
    fn spread(&mut self, rate: f64, lo: f64, hi: f64) -> Duration {
        if rate <= 0.0 {
            return Duration::from_secs(3600);
        }
        Duration::from_secs_f64((lo + (hi - lo) * self.unit()) / rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_averages_the_interval_and_stays_in_its_band() {
        let mut j = Jitter::new(7);
        let gaps: Vec<f64> = (0..10_000).map(|_| j.spread(4.0, 0.5, 1.5).as_secs_f64()).collect();
        assert!(gaps.iter().all(|g| (0.125..0.375).contains(g)), "each gap within ±50 % of 1/rate");
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean - 0.25).abs() < 0.01, "about `rate` lines a second on average: mean gap {mean}");
        assert_eq!(j.spread(0.0, 0.5, 1.5), Duration::from_secs(3600), "a silent bot waits for a new rate");
    }
}
