//! Helpers for tests that drive the real `muxscope` binary over real sockets.
#![allow(dead_code)]

pub mod browser;
pub mod cli;
pub mod nats;
pub mod peer;
pub mod redis;
pub mod ws;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const POLLERS: [&str; 4] = ["epoll", "epoll-et", "poll", "select"];
/// Every IO model (`--model`), for the tests that must hold in all of them.
pub const MODELS: [&str; 8] = ["epoll", "epoll-et", "poll", "select", "nonblocking", "sigio", "blocking", "io_uring"];

/// A `muxscope` process; killed on drop.
pub struct Server {
    pub child: Child,
    /// The `--model` it was started with.
    pub model: String,
    pub chat: SocketAddr,
    pub web: Option<SocketAddr>,
}

impl Server {
    pub fn start(poller: &str, extra: &[&str]) -> Server {
        Self::start_with(poller, extra, |_| {})
    }

    pub fn start_with(poller: &str, extra: &[&str], tweak: impl FnOnce(&mut Command)) -> Server {
        // MUXSCOPE_BIN: benchmarks point the tests at the release build.
        let bin = std::env::var("MUXSCOPE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_muxscope").to_string());
        let mut cmd = Command::new(bin);
        cmd.args(["--chat-addr", "127.0.0.1:0", "--model", poller]);
        if !extra.contains(&"--web-addr") {
            cmd.arg("--no-web");
        }
        cmd.args(extra).stdout(Stdio::piped()).stderr(Stdio::null()).env("RUST_LOG", "warn");
        // For debugging a test: each server's log, at debug level, in this directory.
        if let Ok(dir) = std::env::var("MUXSCOPE_TEST_LOG_DIR") {
            let path = format!("{dir}/muxscope-{}-{}.log", std::process::id(), next_server());
            cmd.stderr(std::fs::File::create(path).expect("create the server log")).env("RUST_LOG", "muxscope=debug");
        }
        tweak(&mut cmd);
        let mut child = cmd.spawn().expect("spawn muxscope");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut chat, mut web) = (None, None);
        let mut line = String::new();
        while chat.is_none() || (extra.contains(&"--web-addr") && web.is_none()) {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                panic!("muxscope exited before saying where it listens");
            }
            if let Some(rest) = line.strip_prefix("muxscope: chat listening on ") {
                chat = Some(rest.split_whitespace().next().unwrap().parse().unwrap());
            }
            if let Some(rest) = line.strip_prefix("muxscope: web on http://") {
                web = Some(rest.trim().trim_end_matches('/').parse().unwrap());
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while out.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        Server { child, model: poller.to_string(), chat: chat.unwrap(), web }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User+system CPU time the server has used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        // SAFETY: sysconf is always safe to call.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_millis(ticks * 1000 / hz)
    }

    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    }

    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).unwrap().count()
    }

    pub fn is_alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Asserts the server burns (almost) no CPU while nothing happens: no busy loop. The
    /// non-blocking model's sweeps are its cost by design (a recv per client per sweep, a 1 ms
    /// nap between empty ones): it may use up to 60 % of a core, never all of it.
    pub fn assert_idle(&self, what: &str) {
        let before = self.cpu_time();
        std::thread::sleep(Duration::from_millis(500));
        let used = self.cpu_time() - before;
        let allowed = Duration::from_millis(if self.model == "nonblocking" { 300 } else { 60 });
        assert!(used <= allowed, "{what}: server used {used:?} of CPU in 500 ms of idle (spinning?)");
    }

    pub fn client(&self) -> Client {
        Client::connect(self.chat)
    }

    /// A client the server has certainly registered (it answered `/who`).
    pub fn joined(&self) -> Client {
        let mut c = self.client();
        c.sync();
        c
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Client {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub local: SocketAddr,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect(addr).expect("connect"))
    }

    pub fn from_stream(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let local = stream.local_addr().unwrap();
        Client { stream, reader, local }
    }

    pub fn name(&self) -> String {
        self.local.to_string()
    }

    pub fn send(&mut self, data: &str) {
        self.stream.write_all(data.as_bytes()).unwrap();
    }

    /// The next line, without its LF. Panics on timeout or EOF.
    pub fn line(&mut self) -> String {
        let mut s = String::new();
        let n = self.reader.read_line(&mut s).unwrap_or_else(|e| panic!("reading a line: {e}"));
        assert!(n > 0, "unexpected EOF");
        assert!(s.ends_with('\n'), "line without LF: {s:?}");
        s.pop();
        s
    }

    /// Reads until a line equal to `want`; returns the lines skipped.
    pub fn line_until(&mut self, want: &str) -> Vec<String> {
        let mut skipped = vec![];
        loop {
            let l = self.line();
            if l == want {
                return skipped;
            }
            skipped.push(l);
        }
    }

    /// Reads until a line starting with `prefix`, and returns it.
    pub fn line_until_prefix(&mut self, prefix: &str) -> String {
        loop {
            let l = self.line();
            if l.starts_with(prefix) {
                return l;
            }
        }
    }

    /// The buffered reader (lines already read ahead stay in it).
    pub fn reader_mut(&mut self) -> &mut BufReader<TcpStream> {
        &mut self.reader
    }

    /// Round trip through the server: returns once it has answered `/who`.
    pub fn sync(&mut self) {
        self.send("/who\n");
        loop {
            let l = self.line();
            if l.starts_with("* ") && l.contains(" online: ") {
                return;
            }
        }
    }

    /// How many the server says are online (`/who`), skipping chat lines in between.
    pub fn who_count(&mut self) -> usize {
        self.send("/who\n");
        loop {
            let l = self.line();
            if let Some(rest) = l.strip_prefix("* ") {
                if let Some((n, _)) = rest.split_once(" online: ") {
                    return n.parse().unwrap();
                }
            }
        }
    }

    /// True when the server closed the connection (EOF or reset) within the timeout.
    pub fn closed_by_server(&mut self) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match self.reader.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => return false,
                Err(_) => return true,
            }
        }
        false
    }

    /// Reads whatever arrives, until EOF; returns it.
    pub fn read_to_eof(&mut self) -> String {
        let mut s = String::new();
        let _ = self.reader.read_to_string(&mut s);
        s
    }
}

pub fn raise_fd_limit() {
    let _ = muxscope::sys::raise_nofile_limit();
}

fn next_server() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
