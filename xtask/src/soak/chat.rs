//! The churning room: about 10,000 chat clients, waves of them leaving (`quit`, a reset, or a
//! plain close) and as many joining, a few lines a second said to the whole room, and every
//! client reading everything it is sent.

use super::{bump, drain, CHAT_SWEEP, CLIENTS, IO_TIMEOUT, TALK_PER_SEC, WAVE, WAVE_EVERY};
use crate::Result;
use std::collections::VecDeque;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Default)]
pub(super) struct ChatCounts {
    /// Connected now.
    pub(super) held: AtomicU64,
    joined: AtomicU64,
    left: AtomicU64,
    cut_by_server: AtomicU64,
    lines_sent: AtomicU64,
    bytes_read: AtomicU64,
    connect_errors: AtomicU64,
}

fn connect_client(chat: SocketAddr, counts: &ChatCounts, last_err: &mut Option<String>) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&chat, IO_TIMEOUT).and_then(|s| s.set_nonblocking(true).map(|_| s));
    match s {
        Ok(s) => {
            bump(&counts.joined, 1);
            Some(s)
        }
        Err(e) => {
            bump(&counts.connect_errors, 1);
            *last_err = Some(e.to_string());
            None
        }
    }
}

/// Reads everything each client has been sent; drops (and counts) those the server closed.
fn sweep_chat(socks: &mut VecDeque<TcpStream>, buf: &mut [u8], counts: &ChatCounts) {
    socks.retain(|s| {
        let open = drain(s, buf, &counts.bytes_read);
        if !open {
            bump(&counts.cut_by_server, 1);
        }
        open
    });
}

/// The churning room: CLIENTS connected, waves leaving and joining, a few lines a second.
pub(super) fn chat_load(chat: SocketAddr, stop: &AtomicBool, counts: &ChatCounts) -> Result<String> {
    let mut socks: VecDeque<TcpStream> = VecDeque::with_capacity(CLIENTS + WAVE);
    let mut buf = vec![0u8; 64 << 10];
    let mut last_err = None;
    let ramp = Instant::now();
    while socks.len() < CLIENTS {
        if stop.load(Ordering::Relaxed) {
            return Ok(format!("stopped during the ramp at {} clients", socks.len()));
        }
        if ramp.elapsed() > Duration::from_secs(60) || counts.connect_errors.load(Ordering::Relaxed) > 100 {
            return Err(format!("only {} of {CLIENTS} clients connected in {:?}; last error: {last_err:?}", socks.len(), ramp.elapsed()));
        }
        for _ in 0..500.min(CLIENTS - socks.len()) {
            socks.extend(connect_client(chat, counts, &mut last_err));
        }
        sweep_chat(&mut socks, &mut buf, counts);
        counts.held.store(socks.len() as u64, Ordering::Relaxed);
    }
    let ramp_took = ramp.elapsed();
    let t0 = Instant::now();
    let (mut said, mut next_wave, mut next_sweep, mut waves) = (0u64, t0 + WAVE_EVERY, t0, 0u64);
    let mut nick = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_sweep {
            sweep_chat(&mut socks, &mut buf, counts);
            next_sweep = now + CHAT_SWEEP;
        }
        // Talk, paced by the clock, each line from the next client in turn.
        let due = (t0.elapsed().as_secs_f64() * TALK_PER_SEC) as u64;
        while said < due && !socks.is_empty() {
            let mut w = &socks[said as usize % socks.len()];
            if w.write(format!("soak line {said}: hello from the churning room\n").as_bytes()).is_ok() {
                bump(&counts.lines_sent, 1);
            }
            said += 1;
        }
        if now >= next_wave {
            // The oldest leave: a third say quit, a third reset, a third just close.
            for i in 0..WAVE.min(socks.len()) {
                let s = socks.pop_front().expect("counted");
                match i % 3 {
                    0 => {
                        let _ = (&s).write(b"quit\n");
                    }
                    1 => {
                        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                    }
                    _ => {}
                }
                bump(&counts.left, 1);
            }
            // As many join (and any the server cut are replaced); every tenth picks a nick.
            let errors_before = counts.connect_errors.load(Ordering::Relaxed);
            while socks.len() < CLIENTS && !stop.load(Ordering::Relaxed) {
                let Some(s) = connect_client(chat, counts, &mut last_err) else {
                    if counts.connect_errors.load(Ordering::Relaxed) > errors_before + 20 {
                        return Err(format!("new clients cannot connect: {last_err:?}"));
                    }
                    continue;
                };
                nick += 1;
                if nick % 10 == 1 {
                    let _ = (&s).write(format!("/nick soak{nick}\n").as_bytes());
                }
                socks.push_back(s);
            }
            waves += 1;
            next_wave += WAVE_EVERY;
        }
        counts.held.store(socks.len() as u64, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
    }
    let held = socks.len();
    counts.held.store(0, Ordering::Relaxed);
    // Leave without TIME_WAIT on this side.
    for s in &socks {
        let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
    }
    drop(socks);
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Ok(format!(
        "{CLIENTS} clients connected in {:.1} s, then {waves} waves; {} joins and {} leaves in all, {held} held at the end; \
         {} lines said ({:.1} MB read back by the clients); {} cut by the server, {} connect errors{}",
        ramp_took.as_secs_f64(),
        c(&counts.joined),
        c(&counts.left),
        c(&counts.lines_sent),
        c(&counts.bytes_read) as f64 / 1e6,
        c(&counts.cut_by_server),
        c(&counts.connect_errors),
        last_err.map(|e| format!(" (last: {e})")).unwrap_or_default()
    ))
}
