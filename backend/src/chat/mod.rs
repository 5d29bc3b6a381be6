//! The seed's `ChatServer`, done properly: one thread, non-blocking sockets, a [`Selector`], and
//! every step reported as an event.

pub mod framer;
mod outq;
pub mod per_ip;
pub mod protocol;
mod server;

use crate::selector::PollerKind;
use crate::sys;
use crate::telemetry::Telemetry;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use server::ChatServer;

/// Everything the core can be told at start-up.
#[derive(Clone, Debug)]
pub struct Config {
    pub chat_addr: SocketAddr,
    pub poller: PollerKind,
    /// Client N+1 gets an error line and EOF (Redis `maxclients`).
    pub max_clients: usize,
    /// Clients one peer address may hold (`None`: no limit); see [`per_ip::limit_for`].
    pub max_clients_per_ip: Option<usize>,
    /// Longest accepted line in bytes, without its LF.
    pub max_line: usize,
    /// A started line must be finished within this time.
    pub line_timeout: Duration,
    /// Output owed to one client past which it is cut at once.
    pub out_hard_limit: usize,
    /// Output owed past which a client is cut if it stays there for `out_soft_time`.
    pub out_soft_limit: usize,
    pub out_soft_time: Duration,
    /// Bytes read from one fd in one loop turn before the loop moves on (fairness).
    pub read_budget: usize,
    /// Connections accepted in one loop turn before the loop moves on.
    pub accept_budget: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            chat_addr: "127.0.0.1:3999".parse().expect("valid literal"),
            poller: PollerKind::Epoll,
            max_clients: 100_000,
            max_clients_per_ip: None,
            max_line: 4096,
            line_timeout: Duration::from_secs(30),
            out_hard_limit: 8 << 20,
            out_soft_limit: 2 << 20,
            out_soft_time: Duration::from_secs(10),
            read_budget: 256 << 10,
            accept_budget: 1024,
        }
    }
}

/// Another thread's way to reach the loop: the loop sleeps in its wait, so every request rings
/// the eventfd registered there.
#[derive(Clone)]
pub struct Control {
    inner: Arc<ControlInner>,
}

struct ControlInner {
    stop: AtomicBool,
    /// The newest snapshot generation asked for (see [`Control::request_snapshot`]).
    snapshot: AtomicU64,
    waker: OwnedFd,
}

impl Control {
    pub(crate) fn new() -> io::Result<Control> {
        Ok(Control { inner: Arc::new(ControlInner { stop: AtomicBool::new(false), snapshot: AtomicU64::new(0), waker: sys::eventfd()? }) })
    }

    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let _ = sys::eventfd_ring(&self.inner.waker);
    }

    /// Asks the loop to queue a snapshot into the telemetry stream, tagged with `generation`
    /// (or a newer one asked meanwhile): the asker can tell it from a snapshot asked for before
    /// (one taken before a time nobody watched, which would be stale). Generations start at 1.
    pub fn request_snapshot(&self, generation: u64) {
        self.inner.snapshot.fetch_max(generation, Ordering::SeqCst);
        let _ = sys::eventfd_ring(&self.inner.waker);
    }

    fn stopping(&self) -> bool {
        self.inner.stop.load(Ordering::Relaxed)
    }

    /// The generation of a snapshot asked for and not yet sent (`served`: the last one sent).
    fn snapshot_wanted(&self, served: u64) -> Option<u64> {
        let want = self.inner.snapshot.load(Ordering::Relaxed);
        (want > served).then_some(want)
    }

    fn waker_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.inner.waker.as_raw_fd()
    }
}

/// A chat core running on its own thread.
pub struct Running {
    pub addr: SocketAddr,
    pub control: Control,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Running {
    /// Stops the loop and waits for it; returns the loop's own error, if it failed.
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> io::Result<()> {
        self.control.stop();
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| io::Error::other("chat loop panicked"))?,
            None => Ok(()),
        }
    }

    /// Waits for the loop to end by itself (it only does on a fatal error or a stop).
    pub fn join(mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| io::Error::other("chat loop panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Binds the listener here (so bind errors surface to the caller) and runs the loop on a thread
/// named `chat-loop`.
pub fn spawn(cfg: Config, tel: Telemetry) -> io::Result<Running> {
    let server = ChatServer::bind(cfg, tel)?;
    let addr = server.local_addr();
    let control = server.control();
    let thread = std::thread::Builder::new().name("chat-loop".into()).spawn(move || server.run())?;
    Ok(Running { addr, control, thread: Some(thread) })
}
