//! Hostile and broken clients, against the real binary: slow consumers, fd exhaustion,
//! half-closes, edge-triggered fairness, partial writes, and line limits.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A thread that reads everything `c` is sent and counts lines; stops at EOF.
fn drain(c: &Client) -> (Arc<AtomicU64>, std::thread::JoinHandle<()>) {
    let mut r = c.stream.try_clone().unwrap();
    r.set_read_timeout(None).unwrap();
    let lines = Arc::new(AtomicU64::new(0));
    let l = lines.clone();
    let t = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            l.fetch_add(buf[..n].iter().filter(|&&b| b == b'\n').count() as u64, Ordering::Relaxed);
        }
    });
    (lines, t)
}

/// Time for a line from `c` to come back to `c`.
fn round_trip(c: &mut Client, tag: &str) -> Duration {
    let t0 = Instant::now();
    c.send(&format!("{tag}\n"));
    c.line_until(&format!("[{}] {tag}", c.name()));
    t0.elapsed()
}

#[test]
fn a_slow_consumer_is_cut_and_nobody_else_notices() {
    for p in MODELS {
        let s = Server::start(p, &["--out-hard-limit", "4194304", "--out-soft-limit", "1048576", "--out-soft-seconds", "3"]);
        let mut probe = s.joined();
        let before = round_trip(&mut probe, "probe before");
        // The slow one: a tiny receive window, and it never reads.
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        sock.connect(&s.chat.into()).unwrap();
        let mut slow: TcpStream = sock.into();
        slow.write_all(b"/nick slowpoke\n").unwrap();
        let mut publisher = s.joined();
        let (_pub_lines, pub_drain) = drain(&publisher);
        let rss_before = s.rss_bytes();
        // 100k lines of 200 B: 20 MB owed to each client.
        let line = format!("{}\n", "p".repeat(199));
        let mut chunk = String::new();
        for _ in 0..100 {
            chunk.push_str(&line);
        }
        let (probe_lines, probe_drain) = drain(&probe);
        for _ in 0..1000 {
            publisher.send(&chunk);
        }
        // The probe got all of it, the slow one was cut.
        let t0 = Instant::now();
        while probe_lines.load(Ordering::Relaxed) < 100_001 && t0.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(probe_lines.load(Ordering::Relaxed) >= 100_000, "{p}: probe got {} lines", probe_lines.load(Ordering::Relaxed));
        let rss_growth = s.rss_bytes().saturating_sub(rss_before);
        assert!(rss_growth < 64 << 20, "{p}: server RSS grew {} MiB", rss_growth >> 20);
        // The slow client: what it can still read ends in EOF or a reset.
        slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0usize;
        let cut = loop {
            match slow.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(_) => break false,
            }
        };
        assert!(cut, "{p}: the slow consumer was not disconnected");
        assert!(got < 20 << 20, "{p}: the slow consumer was sent everything ({got} B) instead of being cut");
        drop(probe_drain);
        // Fan-out latency for the others is what it was (generously: well under the slow
        // client's timeouts, and the loop is idle again).
        let mut probe2 = s.joined();
        let after = round_trip(&mut probe2, "probe after");
        assert!(after < before + Duration::from_millis(500), "{p}: round trip {before:?} before, {after:?} after");
        s.assert_idle(p);
        publisher.stream.shutdown(Shutdown::Both).unwrap();
        let _ = pub_drain.join();
    }
}

#[test]
fn out_of_fds_there_is_no_busy_loop_and_service_resumes() {
    // Mostly waiting on read timeouts: the models run side by side.
    std::thread::scope(|scope| {
        for p in MODELS {
            scope.spawn(move || out_of_fds(p));
        }
    });
}

fn out_of_fds(p: &str) {
    let s = Server::start_with(p, &[], |cmd| {
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit { rlim_cur: 64, rlim_max: 64 };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    let mut held = vec![];
    let mut refused = 0;
    for _ in 0..200 {
        let Ok(st) = TcpStream::connect(s.chat) else { continue };
        held.push(st);
    }
    // Every connection gets a verdict: served, or one error line and EOF.
    for st in &mut held {
        st.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let mut buf = [0u8; 256];
        if let Ok(n) = st.read(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]);
            if text.contains("out of file descriptors") {
                refused += 1;
            }
        }
    }
    assert!(refused > 100, "{p}: only {refused} of 200 were told the server is out of fds");
    s.assert_idle(&format!("{p} EMFILE"));
    // Free the fds; the server serves again.
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let mut c = s.joined();
    c.send("back in business\n");
    c.line_until(&format!("[{}] back in business", c.name()));
}

#[test]
fn max_clients_refuses_the_next_one() {
    for p in MODELS {
        let s = Server::start(p, &["--max-clients", "3"]);
        let _a = s.joined();
        let _b = s.joined();
        let _c = s.joined();
        let mut d = s.client();
        let l = d.line();
        assert!(l.starts_with("* error: server is full (3 clients"), "{p}: {l}");
        assert!(d.closed_by_server(), "{p}");
    }
}

#[test]
fn blocking_refuses_clients_past_max_threads() {
    // An acceptor and two readers.
    let s = Server::start("blocking", &["--max-threads", "3"]);
    let _a = s.joined();
    let _b = s.joined();
    let mut c = s.client();
    let l = c.line();
    assert!(l.starts_with("* error: server is at --max-threads (3 threads)"), "{l}");
    assert!(c.closed_by_server());
}

#[test]
fn half_close_delivers_the_line_then_cleans_up() {
    for p in MODELS {
        let s = Server::start(p, &[]);
        let mut other = s.joined();
        let mut c = s.joined();
        let name = c.name();
        c.send("last words\n");
        c.stream.shutdown(Shutdown::Write).unwrap();
        // Like `printf 'last words\n' | nc -N`: the sender still reads its own line, then EOF.
        let rest = c.read_to_eof();
        assert!(rest.contains(&format!("[{name}] last words\n")), "{p}: half-closed client got {rest:?}");
        other.line_until(&format!("[{name}] last words"));
        assert_eq!(other.who_count(), 1, "{p}");
        s.assert_idle(p);
    }
}

#[test]
fn edge_triggered_never_starves_a_quiet_client() {
    let s = Server::start("epoll-et", &["--out-hard-limit", "268435456", "--out-soft-limit", "268435456"]);
    let flooder = s.joined();
    let mut quiet = s.joined();
    let quiet_name = quiet.name();
    let (_flood_rx, flood_drain) = drain(&flooder);
    let stop = Arc::new(AtomicBool::new(false));
    let flood = {
        let mut w = flooder.stream.try_clone().unwrap();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let chunk = format!("{}\n", "f".repeat(1023)).repeat(64);
            let mut sent = 0usize;
            while sent < 100 << 20 && !stop.load(Ordering::Relaxed) {
                if w.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
                sent += chunk.len();
            }
            sent
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    // Quiet's reader: skips the flood, looks for its own line.
    let t0 = Instant::now();
    quiet.send("just one line\n");
    quiet.line_until(&format!("[{quiet_name}] just one line"));
    let took = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    let sent = flood.join().unwrap();
    assert!(took < Duration::from_secs(5), "the quiet client's line took {took:?} behind a flood");
    eprintln!("quiet line through in {took:?} while {} MB were flooding", sent >> 20);
    flooder.stream.shutdown(Shutdown::Both).unwrap();
    let _ = flood_drain.join();
}

#[test]
fn partial_writes_stay_byte_exact_and_in_order() {
    for p in MODELS {
        let s = Server::start(p, &[]);
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(2048).unwrap();
        sock.connect(&s.chat.into()).unwrap();
        let slow: TcpStream = sock.into();
        let mut slow = Client::from_stream(slow);
        slow.sync();
        let mut talker = s.joined();
        let (_t, talker_drain) = drain(&talker);
        let name = talker.name();
        let mut all = String::new();
        for i in 0..3000 {
            all.push_str(&format!("line {i:05} {}\n", "z".repeat(i % 97)));
        }
        talker.send(&all);
        // Read slowly, in small bites: the server meets a full socket again and again.
        let mut got = Vec::new();
        for i in 0..3000 {
            let l = slow.line();
            if i % 500 == 0 {
                std::thread::sleep(Duration::from_millis(50));
            }
            got.push(l);
        }
        for (i, l) in got.iter().enumerate() {
            // (The core trims trailing spaces: line 0 has no z's.)
            assert_eq!(l, format!("[{name}] line {i:05} {}", "z".repeat(i % 97)).trim_end(), "{p}: line {i}");
        }
        talker.stream.shutdown(Shutdown::Both).unwrap();
        let _ = talker_drain.join();
    }
}

#[test]
fn long_lines_and_unfinished_lines_are_refused() {
    for p in MODELS {
        long_and_unfinished(p);
    }
}

fn long_and_unfinished(p: &str) {
    let s = Server::start(p, &["--line-timeout", "1"]);
    let mut long = s.joined();
    long.send(&"x".repeat(5000));
    let l = long.line();
    assert_eq!(l, "* error: line longer than 4096 bytes; closing", "{p}");
    assert!(long.closed_by_server());
    let mut dribbler = s.joined();
    let t0 = Instant::now();
    dribbler.send("never finished");
    let l = dribbler.line();
    assert!(l.starts_with("* error: no end of line within 1 s"), "{p}: {l}");
    assert!(dribbler.closed_by_server());
    assert!(t0.elapsed() < Duration::from_secs(5), "{p}: took {:?}", t0.elapsed());
    let mut ok = s.joined();
    assert_eq!(ok.who_count(), 1, "{p}");
}

/// Receivers that read as fast as they can are never cut by the output limit, in any model,
/// while senders blast as fast as the server reads them. (Edge-triggered reads once put a
/// budget-limited client on the carry list again every turn, so it was read more times each turn
/// until everyone's output outgrew the limit: epoll-et and sigio cut every receiver.)
#[test]
fn fast_readers_are_never_cut_by_a_blast() {
    for p in MODELS {
        let s = Server::start(p, &["--out-hard-limit", "4194304", "--out-soft-limit", "4194304"]);
        let stop = Arc::new(AtomicBool::new(false));
        let receivers: Vec<Client> = (0..5).map(|_| s.joined()).collect();
        let readers: Vec<_> = receivers.iter().map(drain).collect();
        let senders: Vec<_> = (0..2)
            .map(|k| {
                let c = s.joined();
                let own = drain(&c);
                let stop = stop.clone();
                let chunk = format!("sender {k} {}\n", "b".repeat(50)).repeat(256);
                let w = std::thread::spawn(move || {
                    let mut st = &c.stream;
                    while !stop.load(Ordering::Relaxed) {
                        if st.write_all(chunk.as_bytes()).is_err() {
                            return false;
                        }
                    }
                    true
                });
                (w, own)
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
        for (w, _) in senders {
            assert!(w.join().unwrap(), "{p}: a sender was cut");
        }
        // What the server still owes drains; then every receiver is still connected: its reader
        // has not met EOF or a reset.
        let total = || readers.iter().map(|(l, _)| l.load(Ordering::Relaxed)).sum::<u64>();
        let t0 = Instant::now();
        let mut last = total();
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let now = total();
            if now == last || t0.elapsed() > Duration::from_secs(20) {
                break;
            }
            last = now;
        }
        for (lines, reader) in &readers {
            assert!(lines.load(Ordering::Relaxed) > 0, "{p}: a receiver got nothing");
            assert!(!reader.is_finished(), "{p}: a receiver was cut");
        }
        s.assert_idle(&format!("{p} after the blast"));
        drop(receivers);
    }
}
