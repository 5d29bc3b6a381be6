//! The blocking model (阻塞IO): a thread per connection. Each connection's reader thread sleeps
//! in `recv` until its client talks, then takes the room's lock and runs the same protocol the
//! loop runs; the line's fan-out is sent from that thread, never blocking (MSG_DONTWAIT). A
//! client that cannot take its output at once gets a writer thread that sleeps in `send` until
//! the kernel takes it, so a stuck client freezes only its own writer; the output limits cut it
//! as in every model. An acceptor thread sleeps in `accept`. The chat-loop thread only keeps
//! house: timers, snapshots, switches.
//!
//! A socket is closed by the last thread using it: whoever else wants it closed shuts it down
//! (which wakes the threads blocked on it) and leaves the reason; the thread that leaves last
//! closes it. So no thread ever calls into an fd number that was closed and reused.
//!
//! Leaving the model (a switch or a stop): every thread is told to stop and sent
//! [`sys::sig_interrupt`] until it has ended, so its blocked call returns EINTR.

use super::*;
use muxscope_shared::{ThreadInfo, ThreadOp, ThreadRole};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;

/// The stack of a connection's thread: what a thread per connection costs is part of the lesson,
/// and 8 MiB of address space each would end the lesson early.
const THREAD_STACK: usize = 128 << 10;
/// Each reader thread's own buffer.
const READER_BUF: usize = 8 << 10;
/// How often housekeeping runs (timers) and a stop is signalled again to a thread still blocked.
const HOUSEKEEPING: Duration = Duration::from_millis(250);
const INTERRUPT_EVERY: Duration = Duration::from_millis(5);

thread_local! {
    /// The client fd this thread serves (reader or writer), -1 for none.
    static SERVING: Cell<RawFd> = const { Cell::new(-1) };
}

pub(super) type Shared = Arc<Mutex<ChatServer>>;

pub(super) fn lock(shared: &Mutex<ChatServer>) -> MutexGuard<'_, ChatServer> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// The blocking model's threads, kept with the room (under its lock).
#[derive(Default)]
pub(super) struct Threads {
    pub me: Weak<Mutex<ChatServer>>,
    pub stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
    /// Started and not yet ended (the acceptor, readers, writers), by tid once known.
    pub count: usize,
    pub info: BTreeMap<i32, ThreadInfo>,
    /// Clients that owe output and have no writer yet.
    pub need_writer: Vec<RawFd>,
}

impl ChatServer {
    fn serving_self(fd: RawFd) -> bool {
        SERVING.with(|s| s.get() == fd)
    }

    /// Blocking model: whether `fd` may be closed by this thread now. If other threads are
    /// blocked on it, they are woken instead, and the last to leave closes it with `reason`.
    pub(super) fn close_deferred(&mut self, fd: RawFd, reason: CloseReason, detail: &mut Option<String>) -> bool {
        if self.sel.kind() != Model::Blocking {
            return false;
        }
        let me = Self::serving_self(fd) as u8;
        let Some(c) = self.client(fd) else { return false };
        if c.threads <= me {
            return false;
        }
        if c.doomed.is_none() {
            c.doomed = Some(Box::new((reason, detail.take())));
            sys::shutdown(fd);
        }
        true
    }

    /// Starts a thread of the blocking model; false when `--max-threads` says no.
    pub(super) fn spawn_thread(&mut self, role: ThreadRole, fd: RawFd) -> bool {
        if self.threads.count >= self.cfg.max_threads {
            return false;
        }
        let Some(shared) = self.threads.me.upgrade() else { return false };
        let id = match self.client(fd) {
            Some(c) => {
                c.threads += 1;
                if role == ThreadRole::Writer {
                    c.writer = true;
                }
                c.id
            }
            None => 0,
        };
        let stop = self.threads.stop.clone();
        let name = match role {
            ThreadRole::Acceptor => "chat-accept".to_string(),
            ThreadRole::Reader => format!("chat-r{fd}"),
            ThreadRole::Writer => format!("chat-w{fd}"),
        };
        let body = move || {
            SERVING.with(|s| s.set(if role == ThreadRole::Acceptor { -1 } else { fd }));
            let tid = sys::gettid();
            lock(&shared).thread_started(tid, fd, role);
            match role {
                ThreadRole::Acceptor => acceptor(&shared, &stop),
                ThreadRole::Reader => reader(&shared, fd, id, &stop),
                ThreadRole::Writer => writer(&shared, fd, id, &stop),
            }
            lock(&shared).thread_ended(tid, fd, id, role);
        };
        match std::thread::Builder::new().name(name).stack_size(THREAD_STACK).spawn(body) {
            Ok(h) => {
                self.threads.count += 1;
                self.threads.handles.push(h);
                true
            }
            Err(e) => {
                tracing::warn!("cannot start a thread for fd {fd}: {e}");
                if let Some(c) = self.client(fd) {
                    c.threads -= 1;
                    c.writer &= role != ThreadRole::Writer;
                }
                false
            }
        }
    }

    fn thread_started(&mut self, tid: i32, fd: RawFd, role: ThreadRole) {
        self.sel.tel.begin_turn(|| self.counters.clone());
        self.threads.info.insert(tid, ThreadInfo { tid, fd, role });
        self.sel.tel.emit_table(|| EventBody::Thread { op: ThreadOp::Spawn, tid, fd, role });
        self.end_turn();
    }

    fn thread_ended(&mut self, tid: i32, fd: RawFd, id: u64, role: ThreadRole) {
        self.sel.tel.begin_turn(|| self.counters.clone());
        self.threads.count -= 1;
        self.threads.info.remove(&tid);
        self.sel.tel.emit_table(|| EventBody::Thread { op: ThreadOp::Exit, tid, fd, role });
        if let Some(c) = self.client(fd).filter(|c| c.id == id) {
            c.threads -= 1;
            if role == ThreadRole::Writer {
                c.writer = false;
            }
            let (left, doomed) = (c.threads, c.doomed.take());
            match doomed {
                Some(d) if left == 0 => {
                    let (reason, detail) = *d;
                    self.close_client(fd, reason, detail)
                }
                Some(d) => self.client(fd).expect("still here").doomed = Some(d),
                // A writer left while more was queued for it: another takes over.
                None if role == ThreadRole::Writer
                    && !self.threads.stop.load(Ordering::Relaxed)
                    && !self.client(fd).expect("still here").out.is_empty() =>
                {
                    self.threads.need_writer.push(fd);
                    self.spawn_writers();
                }
                None => {}
            }
        }
        self.end_turn();
    }

    /// Gives every client that owes output and has no writer one (while threads are allowed).
    pub(super) fn spawn_writers(&mut self) {
        for fd in std::mem::take(&mut self.threads.need_writer) {
            let wants = matches!(self.client(fd), Some(c) if !c.writer && !c.out.is_empty() && c.doomed.is_none());
            if wants && !self.threads.stop.load(Ordering::Relaxed) {
                self.spawn_thread(ThreadRole::Writer, fd);
            }
        }
    }

    /// One locked step of a thread: a telemetry turn around `f`, then the flush.
    fn step<R>(&mut self, f: impl FnOnce(&mut ChatServer) -> R) -> R {
        self.sel.tel.begin_turn(|| self.counters.clone());
        let r = f(self);
        self.flush_turn();
        self.spawn_writers();
        self.end_turn();
        r
    }

    /// Into the blocking model: sockets to blocking mode, an acceptor, a reader per connection,
    /// a writer for each that owes output.
    fn enter_blocking(&mut self) {
        self.threads.stop.store(false, Ordering::SeqCst);
        let _ = sys::set_nonblocking(self.listen_fd, false);
        for fd in self.live.clone() {
            let _ = sys::set_nonblocking(fd, false);
        }
        self.spawn_thread(ThreadRole::Acceptor, self.listen_fd);
        for fd in self.live.clone() {
            if matches!(self.client(fd), Some(c) if !c.closing) {
                self.spawn_thread(ThreadRole::Reader, fd);
            }
            if matches!(self.client(fd), Some(c) if !c.out.is_empty()) {
                self.threads.need_writer.push(fd);
            }
        }
        self.spawn_writers();
    }

    /// Room for a client's reader thread, as `--max-threads` allows.
    pub(super) fn thread_room(&self) -> bool {
        self.threads.count < self.cfg.max_threads
    }
}

/// The chat-loop thread while the blocking model serves: housekeeping until a switch away or a
/// stop, then every thread is stopped and the sockets handed back in non-blocking mode.
pub(super) fn serve(shared: &Shared) -> io::Result<()> {
    sys::install_interrupt_handler()?;
    {
        let mut s = lock(shared);
        s.threads.me = Arc::downgrade(shared);
        s.control.set_signal_tid(sys::gettid());
        s.step(|s| {
            s.enter_blocking();
            // A recording (or a watcher) waiting for its first snapshot gets it now, not at the
            // first housekeeping.
            s.serve_snapshots();
        });
        s.serving();
    }
    let leaving = loop {
        sys::wait_signal(HOUSEKEEPING);
        let mut s = lock(shared);
        if s.control.stopping() {
            break None;
        }
        if let Some(req) = s.take_leaving_request() {
            break Some(req);
        }
        s.step(|s| {
            s.serve_snapshots();
            if s.timers_running {
                s.sweep();
            }
            s.threads.handles.retain(|h| !h.is_finished());
        });
    };
    stop_threads(shared);
    let mut s = lock(shared);
    let _ = sys::set_nonblocking(s.listen_fd, true);
    for fd in s.live.clone() {
        let _ = sys::set_nonblocking(fd, true);
    }
    s.control.set_signal_tid(0);
    if let Some(req) = leaving {
        let answer = s.step(|s| s.switch_to(req.model));
        s.answer_switch(req.reply, answer);
    }
    Ok(())
}

/// Tells every thread to stop and interrupts its blocked call until it has ended: every thread
/// still running is signalled each round, so a thousand threads take a few rounds, not a
/// thousand.
fn stop_threads(shared: &Shared) {
    use std::os::unix::thread::JoinHandleExt;
    loop {
        let mut handles = {
            let mut s = lock(shared);
            s.threads.stop.store(true, Ordering::SeqCst);
            std::mem::take(&mut s.threads.handles)
        };
        // Threads started by others meanwhile (a reader the acceptor had just started) come
        // back in `handles` on the next round.
        if handles.is_empty() {
            return;
        }
        while !handles.is_empty() {
            for h in &handles {
                // SAFETY: the thread has not been joined, so its pthread_t is valid.
                unsafe { libc::pthread_kill(h.as_pthread_t(), sys::sig_interrupt()) };
            }
            std::thread::sleep(INTERRUPT_EVERY);
            let (done, running): (Vec<_>, Vec<_>) = handles.into_iter().partition(|h| h.is_finished());
            for h in done {
                let _ = h.join();
            }
            handles = running;
        }
    }
}

fn acceptor(shared: &Shared, stop: &AtomicBool) {
    let listen_fd = lock(shared).listen_fd;
    while !stop.load(Ordering::SeqCst) {
        let mut res = sys::accept_blocking(listen_fd);
        if matches!(&res, Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))) {
            match out_of_fds(shared, listen_fd) {
                Some(admitted) => res = admitted,
                None => continue,
            }
        }
        let mut s = lock(shared);
        if stop.load(Ordering::SeqCst) {
            // Accepted just as the model is left: the next model takes it like any other.
            if let Ok((fd, peer)) = res {
                let _ = sys::set_nonblocking(fd.as_raw_fd(), true);
                s.step(|s| s.add_client(fd, peer));
            }
            return;
        }
        s.step(|s| match res {
            Ok((fd, peer)) => {
                let raw = fd.as_raw_fd();
                if !s.thread_room() {
                    let why = format!("server is at --max-threads ({} threads), try again later", s.cfg.max_threads);
                    s.reject(fd, peer, CloseReason::MaxClients, &why);
                    return;
                }
                s.add_client(fd, peer);
                if s.client(raw).is_some() && !s.spawn_thread(ThreadRole::Reader, raw) {
                    s.close_client(raw, CloseReason::Error, Some("could not start its thread".into()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => tracing::warn!("accept failed: {e}"),
        });
    }
}

/// The spare-fd trick with a blocking listener: the wait for the next connection happens
/// without the room's lock, and without the spare there is a pause, never a busy loop. The
/// connection that comes is refused only if fds are still short once it is in (the spare cannot
/// be had back); otherwise it is handed back to be served like any other.
fn out_of_fds(shared: &Shared, listen_fd: RawFd) -> Option<io::Result<(OwnedFd, SocketAddr)>> {
    let spare = lock(shared).spare_fd.take();
    if spare.is_none() {
        std::thread::sleep(ACCEPT_PAUSE);
        lock(shared).spare_fd = sys::open_devnull().ok();
        return None;
    }
    drop(spare);
    let res = sys::accept_blocking(listen_fd);
    let mut s = lock(shared);
    s.spare_fd = sys::open_devnull().ok();
    match res {
        Ok((fd, peer)) if s.spare_fd.is_none() => {
            s.step(|s| s.reject(fd, peer, CloseReason::FdExhausted, super::accept::OUT_OF_FDS));
            // Its fd is free again: the spare for the next one.
            s.spare_fd = sys::open_devnull().ok();
            None
        }
        other => Some(other),
    }
}

fn reader(shared: &Shared, fd: RawFd, id: u64, stop: &AtomicBool) {
    let mut buf = vec![0u8; READER_BUF];
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let res = sys::recv(fd, &mut buf);
        let mut s = lock(shared);
        let go_on = s.step(|s| match s.client(fd) {
            Some(c) if c.id == id && c.doomed.is_none() => s.took_recv(fd, res, &buf),
            // Being closed by another thread (which woke this call): told, not acted on.
            Some(c) if c.id == id => {
                s.tell_recv(fd, &res, &buf);
                false
            }
            _ => false,
        });
        if !go_on || matches!(s.client(fd), Some(c) if c.closing) {
            return;
        }
    }
}

fn writer(shared: &Shared, fd: RawFd, id: u64, stop: &AtomicBool) {
    let mut iov = Vec::new();
    let mut held = Vec::new();
    loop {
        {
            let mut s = lock(shared);
            let Some(c) = s.client(fd).filter(|c| c.id == id && c.doomed.is_none()) else { return };
            if c.out.is_empty() || stop.load(Ordering::SeqCst) {
                return;
            }
            // The front of the queue, kept alive here while the lock is let go: only this
            // thread takes from the front; others only add at the back.
            c.out.hold_front(&mut held, &mut iov);
        }
        let res = sys::sendv_blocking(fd, &iov);
        held.clear();
        let mut s = lock(shared);
        let go_on = s.step(|s| s.writer_sent(fd, id, res));
        if !go_on {
            return;
        }
    }
}
