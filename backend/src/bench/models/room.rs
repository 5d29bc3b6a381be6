//! The room every model is measured on: N idle receivers, one fan-out sender and the blast's
//! senders, all connected once, so a switch hands the same connections over. A receiver the
//! server cuts (EOF or reset) is left out from then on and counted.
//!
//! The blast's senders are the only connections replaced: a sender stopped mid-stream leaves
//! megabytes in its socket that the server would go on broadcasting to every receiver, so each
//! blast ends by resetting them (the server drops what it had not read) and connecting fresh
//! ones, which take the same fd numbers back.

use super::super::{blast_writes, drain_in_background, payload, read_lfs, set_reset_on_close, Proto, Receivers};
use crate::procstat::{self, Sample, Usage};
use muxscope_shared::{Interest, Role};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A connection whose broadcasts back are read (and thrown away) by a thread of its own.
struct Drained {
    sock: TcpStream,
    stop: Arc<AtomicBool>,
    drain: Option<JoinHandle<()>>,
}

impl Drained {
    fn connect(target: SocketAddr) -> io::Result<Drained> {
        let sock = TcpStream::connect_timeout(&target, Duration::from_secs(10))?;
        sock.set_nodelay(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let drain = Some(drain_in_background(&sock, stop.clone())?);
        Ok(Drained { sock, stop, drain })
    }
}

impl Drop for Drained {
    /// Closes with a reset once the drain thread (which holds a dup of the socket) has let go.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(d) = self.drain.take() {
            let _ = d.join();
        }
        set_reset_on_close(&self.sock);
    }
}

pub(super) struct Room {
    target: SocketAddr,
    rx: Receivers,
    idx: Vec<usize>,
    dead: Vec<bool>,
    sender: Drained,
    blasters: Vec<Drained>,
    /// LFs every live receiver has seen since the last [`Room::sync`].
    seen: u64,
    buf: Vec<u8>,
    /// What happened to the room since [`Room::take_notes`] was last called.
    notes: Vec<String>,
}

/// A fan-out run: its samples, and why it stopped early if it did.
pub(super) struct Fanout {
    pub samples: Vec<Duration>,
    pub stopped: Option<String>,
}

pub(super) struct Blast {
    pub seconds: f64,
    pub deliveries: u64,
    pub sent_messages: u64,
    pub usage: Usage,
    pub end: Sample,
}

impl Room {
    pub fn connect(target: SocketAddr, clients: usize, senders: usize) -> io::Result<Room> {
        let rx = Receivers::connect(target, clients, Proto::Line)?;
        let idx = rx.index();
        let sender = Drained::connect(target)?;
        let blasters = (0..senders).map(|_| Drained::connect(target)).collect::<io::Result<Vec<_>>>()?;
        Ok(Room { target, idx, dead: vec![false; clients], rx, sender, blasters, seen: 0, buf: vec![0; 256 << 10], notes: vec![] })
    }

    /// Receivers left out so far: cut by the server, or reset here after they fell out of step.
    pub fn cut(&self) -> usize {
        self.dead.iter().filter(|&&d| d).count()
    }

    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// One line from the fan-out sender. If the server has cut the sender (it reads every
    /// broadcast too, and may fall behind in a blast), a fresh one takes its place, once.
    fn say(&mut self, line: &[u8]) -> io::Result<()> {
        if (&self.sender.sock).write_all(line).is_ok() {
            return Ok(());
        }
        self.sender = Drained::connect(self.target)?;
        self.notes.push("the server had cut the fan-out sender: a fresh one took its place".into());
        (&self.sender.sock).write_all(line)
    }

    /// Reads whatever is ready within `wait`; per receiver, the LFs are added to its count.
    /// Returns how many receivers reached `want` in this call.
    fn read_once(&mut self, wait: Duration, want: u64) -> io::Result<(usize, u64)> {
        let info = self.rx.sel.select(Some(wait))?;
        let (mut reached, mut lfs) = (0, 0);
        for i in 0..info.ready {
            let Some((key, _)) = self.rx.sel.ready_at(i) else { continue };
            let r = self.idx[key.fd as usize];
            if self.dead[r] {
                continue;
            }
            match read_lfs(key.fd, &mut self.buf) {
                Ok(n) => {
                    let before = self.rx.lfs[r];
                    self.rx.lfs[r] += n;
                    lfs += n;
                    if before < want && self.rx.lfs[r] >= want {
                        reached += 1;
                    }
                }
                Err(_) => {
                    // Cut by the server: it no longer counts as behind.
                    if self.rx.lfs[r] < want {
                        reached += 1;
                    }
                    self.dead[r] = true;
                    let _ = self.rx.sel.unregister(key.fd);
                }
            }
        }
        Ok((reached, lfs))
    }

    /// Reads until every live receiver has `want` LFs, for at most `within`; how many had not.
    fn wait(&mut self, want: u64, within: Duration) -> io::Result<usize> {
        let deadline = Instant::now() + within;
        let mut behind = (0..self.dead.len()).filter(|&r| !self.dead[r] && self.rx.lfs[r] < want).count();
        while behind > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            behind -= self.read_once(left.min(Duration::from_millis(100)), want)?.0;
        }
        Ok(behind)
    }

    /// Reads until nothing has come for `quiet`, for at most `within`; false if never quiet.
    pub fn settle(&mut self, quiet: Duration, within: Duration) -> io::Result<bool> {
        let t0 = Instant::now();
        let mut last = Instant::now();
        while last.elapsed() < quiet {
            if t0.elapsed() > within {
                return Ok(false);
            }
            if self.read_once(Duration::from_millis(20), u64::MAX)?.1 > 0 {
                last = Instant::now();
            }
        }
        Ok(true)
    }

    /// Connects a fresh receiver in place of each one left out, so every model is measured
    /// with N receivers; returns how many.
    pub fn replace_cut(&mut self) -> io::Result<usize> {
        let mut replaced = 0;
        for r in 0..self.dead.len() {
            if !self.dead[r] {
                continue;
            }
            let s = TcpStream::connect_timeout(&self.target, Duration::from_secs(10))?;
            s.set_nodelay(true)?;
            s.set_nonblocking(true)?;
            let fd = s.as_raw_fd();
            // The old one goes first (with a reset), then the new one is registered in its place.
            set_reset_on_close(&self.rx.socks[r]);
            self.rx.socks[r] = s;
            if fd as usize >= self.idx.len() {
                self.idx.resize(fd as usize + 1, usize::MAX);
            }
            self.idx[fd as usize] = r;
            self.rx.sel.register(fd, Interest::Read, Role::Tcp).map_err(io::Error::from)?;
            self.dead[r] = false;
            self.rx.lfs[r] = 0;
            replaced += 1;
        }
        if replaced > 0 {
            self.notes.push(format!("the {replaced} left out were replaced by fresh connections before the next model"));
        }
        Ok(replaced)
    }

    /// Counts from zero again: one line from the fan-out sender must reach every live receiver.
    /// Returns how many it did not reach within `within`; those are reset (the server drops
    /// what it owed them) and left out from then on, so the room stays in step.
    pub fn sync(&mut self, within: Duration) -> io::Result<usize> {
        self.rx.lfs.iter_mut().for_each(|n| *n = 0);
        self.seen = 1;
        self.say(Proto::Line.message(0).as_bytes())?;
        let behind = self.wait(1, within)?;
        if behind > 0 {
            for r in 0..self.dead.len() {
                if !self.dead[r] && self.rx.lfs[r] < 1 {
                    self.dead[r] = true;
                    let s = &self.rx.socks[r];
                    let _ = self.rx.sel.unregister(s.as_raw_fd());
                    set_reset_on_close(s);
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
            }
            self.notes.push(format!(
                "{behind} receivers never had a line within {within:?} (output owed to them was not sent): reset and left out"
            ));
        }
        Ok(behind)
    }

    /// One 64 B line to everyone, `rounds` times: how long until the last live receiver had it.
    /// A round that takes longer than `round_limit`, or the rounds together past `budget`, end
    /// the run (the room is then out of step: [`Room::sync`] it).
    pub fn fanout(&mut self, rounds: usize, round_limit: Duration, budget: Duration) -> io::Result<Fanout> {
        let t0 = Instant::now();
        let mut samples = Vec::with_capacity(rounds);
        for r in 0..rounds {
            // Let the previous round's echoes settle.
            std::thread::sleep(Duration::from_millis(20));
            let msg = Proto::Line.message(r as u64 + 1);
            let start = Instant::now();
            self.say(msg.as_bytes())?;
            self.seen += 1;
            let behind = self.wait(self.seen, round_limit)?;
            if behind > 0 {
                let live = self.dead.iter().filter(|&&d| !d).count();
                let why = format!("round {} timed out: {behind} of {live} receivers did not have the line after {:?}", r + 1, round_limit);
                return Ok(Fanout { samples, stopped: Some(why) });
            }
            samples.push(start.elapsed());
            if t0.elapsed() > budget && r + 1 < rounds {
                return Ok(Fanout { samples, stopped: Some(format!("stopped after {} rounds: the {budget:?} budget was spent", r + 1)) });
            }
        }
        Ok(Fanout { samples, stopped: None })
    }

    /// The senders write 64 B lines as fast as the server takes them; deliveries at the live
    /// receivers are counted for `seconds` after `warmup`, and the server (`pid`) is sampled
    /// at both ends of that window. Then the senders are reset and replaced.
    pub fn blast(&mut self, warmup: Duration, seconds: f64, pid: u32) -> io::Result<Blast> {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let mut threads = vec![];
        for b in &self.blasters {
            let sock = b.sock.try_clone()?;
            let (stop, sent) = (stop.clone(), sent.clone());
            threads.push(std::thread::spawn(move || {
                // Many messages per write: the server sees a stream, as from a real fast client.
                let chunk: String = (0..256).map(|i| format!("{}\n", payload(i))).collect();
                blast_writes(&sock, chunk.as_bytes(), &stop, &sent);
            }));
        }
        let window = Duration::from_secs_f64(seconds);
        let start = Instant::now();
        let mut measured: Option<(Instant, Sample, u64)> = None;
        let mut total = 0u64;
        let result = loop {
            if measured.is_none() && start.elapsed() >= warmup {
                let s = procstat::sample(pid)?;
                measured = Some((Instant::now(), s, total));
            }
            if let Some((t, _, _)) = &measured {
                if t.elapsed() >= window {
                    break measured.take().expect("some");
                }
            }
            total += self.read_once(Duration::from_millis(50), u64::MAX)?.1;
        };
        let (t, first, at_start) = result;
        let seconds = t.elapsed().as_secs_f64();
        let deliveries = total - at_start;
        let end = procstat::sample(pid)?;
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            let _ = t.join();
        }
        let senders = self.blasters.len();
        self.blasters.clear();
        // The server closes the reset ones first, so the fresh ones get their fds back (select
        // can only watch fds below 1024).
        std::thread::sleep(Duration::from_millis(200));
        self.blasters = (0..senders).map(|_| Drained::connect(self.target)).collect::<io::Result<Vec<_>>>()?;
        Ok(Blast { seconds, deliveries, sent_messages: sent.load(Ordering::Relaxed), usage: procstat::usage(&first, &end), end })
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        for s in &self.rx.socks {
            set_reset_on_close(s);
        }
    }
}
