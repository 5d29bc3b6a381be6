//! The seed's `ChatServer`, done properly: one thread, non-blocking sockets, a [`Selector`], and
//! every step reported as an event.

pub mod framer;
mod outq;
pub mod per_ip;
pub mod protocol;
pub mod relay;
mod server;

use crate::sys;
use crate::telemetry::Telemetry;
use muxscope_shared::{App, Model};
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use server::{probe_uring, ChatServer};

/// Everything the core can be told at start-up.
#[derive(Clone, Debug)]
pub struct Config {
    pub chat_addr: SocketAddr,
    /// The IO model the server starts on (it can be switched live, see [`Control::switch`]).
    pub model: Model,
    /// What a line does: go to everyone (chat) or back to its sender (echo).
    pub app: App,
    /// Blocking model: most threads at once (the acceptor, a reader per connection, a writer per
    /// client that owes output); a client past it gets an error line and EOF.
    pub max_threads: usize,
    /// Non-blocking model: no nap after a sweep that found nothing (the CPU cost shows).
    pub spin: bool,
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
    /// `--cluster redis://HOST:PORT`: share the room with every node on that Redis.
    pub cluster: Option<String>,
    /// `--node NAME` (default: hostname:chat-port).
    pub node: Option<String>,
    /// How often the node tells the others it is up (tests stretch it to keep the loop quiet).
    pub heartbeat: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            chat_addr: "127.0.0.1:3999".parse().expect("valid literal"),
            model: Model::Epoll,
            app: App::Chat,
            spin: false,
            max_threads: 2000,
            max_clients: 100_000,
            max_clients_per_ip: None,
            max_line: 4096,
            line_timeout: Duration::from_secs(30),
            out_hard_limit: 8 << 20,
            out_soft_limit: 2 << 20,
            out_soft_time: Duration::from_secs(10),
            read_budget: 256 << 10,
            accept_budget: 1024,
            cluster: None,
            node: None,
            heartbeat: relay::HEARTBEAT,
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
    /// The model serving now, as `Model::ALL` index (for `/api/stats`, without asking the loop).
    model: AtomicU8,
    /// A switch asked for and not yet taken by the loop, with where to send the answer; and a
    /// flag the loop checks each turn without taking the lock.
    switch: Mutex<Option<SwitchRequest>>,
    switch_pending: AtomicBool,
    /// The loop thread's id while it waits for signals (sigio): ringing must signal it too.
    signal_tid: AtomicI32,
    /// The newest snapshot generation asked for (see [`Control::request_snapshot`]).
    snapshot: AtomicU64,
    /// The loop's totals as of its last turn: events (its seq), messages, deliveries, wakeups,
    /// EAGAINs (read by `GET /api/models`, never waited on).
    totals: [AtomicU64; 5],
    /// (cluster) The relay's status as of its last change or heartbeat, for `GET /api/stats`.
    relay: Mutex<Option<muxscope_shared::RelayStatus>>,
    waker: OwnedFd,
}

impl Control {
    pub(crate) fn new(model: Model) -> io::Result<Control> {
        Ok(Control {
            inner: Arc::new(ControlInner {
                stop: AtomicBool::new(false),
                model: AtomicU8::new(model_index(model)),
                switch: Mutex::new(None),
                switch_pending: AtomicBool::new(false),
                signal_tid: AtomicI32::new(0),
                snapshot: AtomicU64::new(0),
                totals: Default::default(),
                relay: Mutex::new(None),
                waker: sys::eventfd()?,
            }),
        })
    }

    /// The cluster relay's status (`None` without `--cluster`).
    pub fn relay(&self) -> Option<muxscope_shared::RelayStatus> {
        self.inner.relay.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_relay(&self, status: muxscope_shared::RelayStatus) {
        *self.inner.relay.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
    }

    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.ring();
    }

    fn ring(&self) {
        let _ = sys::eventfd_ring(&self.inner.waker);
        let tid = self.inner.signal_tid.load(Ordering::SeqCst);
        if tid != 0 {
            let _ = sys::tgkill(tid, sys::sig_wake());
        }
    }

    /// The loop's totals as of its last turn.
    pub fn totals(&self) -> Totals {
        let t = |i: usize| self.inner.totals[i].load(Ordering::Relaxed);
        Totals { events: t(0), messages: t(1), deliveries: t(2), wakeups: t(3), eagain: t(4) }
    }

    fn publish(&self, events: u64, c: &muxscope_shared::Counters) {
        for (i, v) in [events, c.messages, c.deliveries, c.wakeups, c.eagain].into_iter().enumerate() {
            self.inner.totals[i].store(v, Ordering::Relaxed);
        }
    }

    /// The model serving every connection now.
    pub fn model(&self) -> Model {
        Model::ALL[self.inner.model.load(Ordering::Relaxed) as usize]
    }

    /// Asks the loop to hand every connection over to `model`, and waits (up to `timeout`) for
    /// its answer: `Ok` once the new model serves them all, `Err` with the reason when it
    /// refuses (the old model then carries on). One switch at a time: a second one asked
    /// while the first is pending is refused.
    pub fn switch(&self, model: Model, timeout: Duration) -> Result<Model, String> {
        let (tx, rx) = mpsc::channel();
        {
            let mut pending = self.inner.switch.lock().unwrap_or_else(|p| p.into_inner());
            if pending.is_some() {
                return Err("another model switch is under way; try again in a moment".into());
            }
            *pending = Some(SwitchRequest { model, reply: tx });
            self.inner.switch_pending.store(true, Ordering::SeqCst);
        }
        self.ring();
        match rx.recv_timeout(timeout) {
            Ok(answer) => answer,
            Err(_) => {
                // Withdraw it if the loop has not taken it yet.
                self.inner.switch.lock().unwrap_or_else(|p| p.into_inner()).take();
                Err(format!("the chat loop did not answer within {} s", timeout.as_secs_f32()))
            }
        }
    }

    fn take_switch(&self) -> Option<SwitchRequest> {
        if !self.inner.switch_pending.load(Ordering::Relaxed) {
            return None;
        }
        let mut pending = self.inner.switch.lock().unwrap_or_else(|p| p.into_inner());
        self.inner.switch_pending.store(false, Ordering::SeqCst);
        pending.take()
    }

    fn set_model(&self, model: Model) {
        self.inner.model.store(model_index(model), Ordering::Relaxed);
    }

    /// While the loop waits for signals, wake it with one too (0: it does not).
    fn set_signal_tid(&self, tid: libc::pid_t) {
        self.inner.signal_tid.store(tid, Ordering::SeqCst);
    }

    /// Asks the loop to queue a snapshot into the telemetry stream, tagged with `generation`
    /// (or a newer one asked meanwhile): the asker can tell it from a snapshot asked for before
    /// (one taken before a time nobody watched, which would be stale). Generations start at 1.
    pub fn request_snapshot(&self, generation: u64) {
        self.inner.snapshot.fetch_max(generation, Ordering::SeqCst);
        self.ring();
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

/// How long `POST /api/model` waits for the loop's answer.
pub const SWITCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What the loop has done so far (see [`Control::totals`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Every event the loop numbered, watched or not: its syscalls, completions and the rest.
    pub events: u64,
    pub messages: u64,
    pub deliveries: u64,
    pub wakeups: u64,
    pub eagain: u64,
}

struct SwitchRequest {
    model: Model,
    reply: mpsc::Sender<Result<Model, String>>,
}

fn model_index(m: Model) -> u8 {
    Model::ALL.iter().position(|&x| x == m).expect("every model is in ALL") as u8
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

/// Runs the loop on a thread named `chat-loop`. The server is built there (the signal-driven
/// model directs its signals to the thread that waits), and bind errors come back to the caller.
pub fn spawn(cfg: Config, tel: Telemetry) -> io::Result<Running> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new().name("chat-loop".into()).spawn(move || {
        let built = sys::block_loop_signals().and_then(|()| ChatServer::bind(cfg, tel));
        match built {
            Ok(server) => {
                let _ = tx.send(Ok((server.local_addr(), server.control())));
                server.run()
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                Ok(())
            }
        }
    })?;
    match rx.recv() {
        Ok(Ok((addr, control))) => Ok(Running { addr, control, thread: Some(thread) }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(io::Error::other("chat loop thread died while starting")),
    }
}
