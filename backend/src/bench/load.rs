//! Loads for watching and soaking: a busy room, and waves of clients joining and leaving.

use super::*;

#[derive(Debug, Serialize)]
pub struct ChatLoadResult {
    pub clients: usize,
    pub target_rate: f64,
    pub seconds: f64,
    pub sent: u64,
    pub received_lines: u64,
}

/// `clients` chat clients that together send `rate` lines a second for `seconds`, while one
/// thread reads everything they are sent (so none is cut as a slow consumer). A realistic busy
/// room, for watching the page under load.
pub fn chat_load(target: SocketAddr, clients: usize, rate: f64, seconds: f64) -> io::Result<ChatLoadResult> {
    let mut rx = Receivers::connect(target, clients, Proto::Line)?;
    let writers: Vec<TcpStream> = rx.socks.iter().map(|s| s.try_clone()).collect::<io::Result<_>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let sender = {
        let (stop, sent) = (stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Paced by the clock: line i is due at i / rate seconds.
                let due = Duration::from_secs_f64(i as f64 / rate);
                let now = t0.elapsed();
                if due > now {
                    std::thread::sleep((due - now).min(Duration::from_millis(5)));
                    continue;
                }
                let w = &writers[i as usize % writers.len()];
                let line = format!("message {i} from a busy room\n");
                match crate::sys::send(w.as_raw_fd(), line.as_bytes()) {
                    Ok(_) => {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) if crate::sys::is_would_block(&e) => {}
                    Err(_) => break,
                }
                i += 1;
            }
        })
    };
    let t0 = Instant::now();
    let mut buf = vec![0u8; 256 << 10];
    let mut lines = 0u64;
    while t0.elapsed() < Duration::from_secs_f64(seconds) {
        let info = rx.sel.select(Some(Duration::from_millis(50)))?;
        for i in 0..info.ready {
            let Some((key, _)) = rx.sel.ready_at(i) else { continue };
            match read_lfs(key.fd, &mut buf) {
                Ok(n) => lines += n,
                Err(_) => {
                    let _ = rx.sel.unregister(key.fd);
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sender.join();
    for s in &rx.socks {
        set_reset_on_close(s);
    }
    Ok(ChatLoadResult {
        clients,
        target_rate: rate,
        seconds: t0.elapsed().as_secs_f64(),
        sent: sent.load(Ordering::Relaxed),
        received_lines: lines,
    })
}

#[derive(Debug, Serialize)]
pub struct ChurnResult {
    pub seconds: f64,
    pub waves: u64,
    pub connections: u64,
    pub lines_sent: u64,
    pub lines_received: u64,
}

/// Soak load: waves of `clients` connections that join, chat, and leave — some with `quit`,
/// some with a reset, some by closing — for `seconds`.
pub fn churn(target: SocketAddr, clients: usize, seconds: f64) -> io::Result<ChurnResult> {
    let t0 = Instant::now();
    let (mut waves, mut conns, mut sent, mut got) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = vec![0u8; 64 << 10];
    while t0.elapsed() < Duration::from_secs_f64(seconds) {
        let mut socks = Vec::with_capacity(clients);
        for _ in 0..clients {
            let s = TcpStream::connect(target)?;
            s.set_read_timeout(Some(Duration::from_millis(200)))?;
            socks.push(s);
        }
        conns += clients as u64;
        // A few talk; everyone reads what arrives.
        for (i, s) in socks.iter().enumerate().step_by(50) {
            let mut w = s;
            w.write_all(format!("/nick churn{i}\nwave {waves} client {i}\n").as_bytes())?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
        for s in &socks {
            s.set_nonblocking(true)?;
            if let Ok(n) = (&*s).read(&mut buf) {
                got += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
            }
        }
        for (i, s) in socks.iter().enumerate() {
            match i % 3 {
                0 => {
                    let _ = (&*s).write_all(b"quit\n");
                }
                1 => set_reset_on_close(s),
                _ => {}
            }
        }
        drop(socks);
        waves += 1;
    }
    Ok(ChurnResult { seconds: t0.elapsed().as_secs_f64(), waves, connections: conns, lines_sent: sent, lines_received: got })
}
