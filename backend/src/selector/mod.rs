//! A `Selector` in the shape of Python's `selectors` module: register / modify / unregister /
//! select, with keys that carry fd, interest and data (here the fd's [`Role`]).
//!
//! One fd → key table is shared by every backend; backends only differ in how they wait
//! (`epoll`, `epoll-et`, `poll`, `select`), exactly as `EpollSelector`, `PollSelector` and
//! `SelectSelector` differ in CPython. Every change to the interest list and every wait is
//! reported to the [`Telemetry`] as a `ctl` or `wait` event.

mod epoll;
mod poll;
mod select;
mod sigio;
mod sweep;

use crate::telemetry::Telemetry;
use muxscope_shared::{CtlOp, EventBody, Interest, Model, ReadyFd, ReadyFlags, Role, MAX_READY_IN_EVENT};
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// The selector models, in the order tests walk them.
pub const MODELS: [Model; 6] = [Model::Epoll, Model::EpollEt, Model::Poll, Model::Select, Model::Nonblocking, Model::Sigio];

/// What identifies a registration inside the kernel: fd in the low half, a generation in the high
/// half. A ready entry whose generation no longer matches belongs to an fd that was closed (and
/// maybe reused) earlier in the same batch, and is skipped.
pub type Token = u64;

fn token(fd: RawFd, gen: u32) -> Token {
    ((gen as u64) << 32) | fd as u32 as u64
}

fn token_fd(t: Token) -> RawFd {
    (t & 0xffff_ffff) as u32 as RawFd
}

/// A registration, as `selectors.SelectorKey`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub fd: RawFd,
    pub interest: Interest,
    pub data: Role,
    generation: u32,
}

#[derive(Debug)]
pub enum RegisterError {
    /// Python raises KeyError: the fd is already registered.
    AlreadyRegistered(RawFd),
    /// The backend cannot watch this fd at all (select and FD_SETSIZE).
    Unsupported(String),
    Os(io::Error),
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::AlreadyRegistered(fd) => write!(f, "fd {fd} is already registered"),
            RegisterError::Unsupported(why) => f.write_str(why),
            RegisterError::Os(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RegisterError {}

impl From<RegisterError> for io::Error {
    fn from(e: RegisterError) -> io::Error {
        match e {
            RegisterError::Os(e) => e,
            other => io::Error::other(other.to_string()),
        }
    }
}

/// What a wait returned, besides the ready list.
#[derive(Clone, Copy, Debug, Default)]
pub struct WaitInfo {
    /// A wait was made and told as a `wait` event (not so for the non-blocking sweep).
    pub told: bool,
    pub ready: usize,
    pub scanned: usize,
    pub blocked: Duration,
}

/// The one thing backends differ in. Like Redis' `ae_*.c` files: add, modify, delete, wait.
pub(crate) trait Backend {
    fn add(&mut self, fd: RawFd, interest: Interest, token: Token) -> io::Result<()>;
    fn modify(&mut self, fd: RawFd, interest: Interest, token: Token) -> io::Result<()>;
    fn delete(&mut self, fd: RawFd) -> io::Result<()>;
    /// Fills `out` with (token, flags) and returns how many fds the kernel scanned.
    /// `timeout_ms` is -1 for "forever".
    fn wait(&mut self, timeout_ms: i32, out: &mut Vec<(Token, ReadyFlags)>) -> io::Result<usize>;
    /// The largest fd this backend accepts, if it has a limit.
    fn fd_limit(&self) -> Option<RawFd> {
        None
    }
    /// False when waiting is no syscall (the non-blocking sweep): no `wait` event is told.
    fn in_kernel(&self) -> bool {
        true
    }
    /// Which fd is the loop's eventfd (sigio reports it when woken by a signal instead).
    fn set_waker(&mut self, _fd: RawFd) {}
    /// Of the last wait's ready list, how many entries the backend added itself (sigio's
    /// rescans), and whether a signal-queue overflow caused it.
    fn took(&self) -> (u32, bool) {
        (0, false)
    }
}

pub struct Selector {
    kind: Model,
    backend: Box<dyn Backend + Send>,
    keys: Vec<Option<Key>>,
    registered: usize,
    next_generation: u32,
    ready: Vec<(Token, ReadyFlags)>,
    pub tel: Telemetry,
}

impl Selector {
    /// A selector for `kind`. For `sigio`, call it on the thread that will wait, with
    /// [`crate::sys::block_loop_signals`] in force there: the signals are directed to it.
    pub fn new(kind: Model, tel: Telemetry) -> io::Result<Selector> {
        let backend: Box<dyn Backend + Send> = match kind {
            Model::Epoll => Box::new(epoll::Epoll::new(false)?),
            Model::EpollEt => Box::new(epoll::Epoll::new(true)?),
            Model::Poll => Box::new(poll::Poll::new()),
            Model::Select => Box::new(select::Select::new()),
            Model::Nonblocking | Model::Blocking | Model::IoUring => Box::new(sweep::Sweep::default()),
            Model::Sigio => Box::new(sigio::Sigio::new(None)),
        };
        Ok(Selector { kind, backend, keys: Vec::new(), registered: 0, next_generation: 1, ready: Vec::with_capacity(1024), tel })
    }

    pub fn kind(&self) -> Model {
        self.kind
    }

    pub fn len(&self) -> usize {
        self.registered
    }

    pub fn is_empty(&self) -> bool {
        self.registered == 0
    }

    pub fn get(&self, fd: RawFd) -> Option<&Key> {
        self.keys.get(fd as usize).and_then(|k| k.as_ref())
    }

    /// Every key, in fd order.
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter().flatten()
    }

    /// Watch `fd` for `interest`. Registering the same fd twice is an error, as in Python; an
    /// empty interest cannot be expressed ([`Interest`] has no empty value).
    pub fn register(&mut self, fd: RawFd, interest: Interest, data: Role) -> Result<Key, RegisterError> {
        if fd < 0 {
            return Err(RegisterError::Os(io::Error::from_raw_os_error(libc::EBADF)));
        }
        if self.get(fd).is_some() {
            return Err(RegisterError::AlreadyRegistered(fd));
        }
        if let Some(limit) = self.backend.fd_limit() {
            if fd > limit {
                let why = format!(
                    "select() cannot watch fd {fd}: fd_set holds only FD_SETSIZE={} fds (0..={limit}); use --poller poll or epoll",
                    limit + 1
                );
                self.tel.emit_table(|| EventBody::Ctl {
                    op: CtlOp::Add,
                    fd,
                    interest: Some(interest),
                    role: data,
                    error: Some(why.clone()),
                });
                return Err(RegisterError::Unsupported(why));
            }
        }
        if data == Role::Waker {
            self.backend.set_waker(fd);
        }
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1).max(1);
        if let Err(e) = self.backend.add(fd, interest, token(fd, generation)) {
            self.tel.emit_table(|| EventBody::Ctl { op: CtlOp::Add, fd, interest: Some(interest), role: data, error: Some(e.to_string()) });
            return Err(RegisterError::Os(e));
        }
        let idx = fd as usize;
        if self.keys.len() <= idx {
            self.keys.resize(idx + 1, None);
        }
        let key = Key { fd, interest, data, generation };
        self.keys[idx] = Some(key);
        self.registered += 1;
        self.tel.emit_table(|| EventBody::Ctl { op: CtlOp::Add, fd, interest: Some(interest), role: data, error: None });
        Ok(key)
    }

    /// Change what `fd` waits for. A no-op (and no syscall) when nothing changes.
    pub fn modify(&mut self, fd: RawFd, interest: Interest) -> io::Result<()> {
        let key = self
            .keys
            .get_mut(fd as usize)
            .and_then(|k| k.as_mut())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("fd {fd} is not registered")))?;
        if key.interest == interest {
            return Ok(());
        }
        let (generation, role) = (key.generation, key.data);
        let res = self.backend.modify(fd, interest, token(fd, generation));
        if res.is_ok() {
            key.interest = interest;
        }
        let error = res.as_ref().err().map(|e| e.to_string());
        self.tel.emit_table(|| EventBody::Ctl { op: CtlOp::Mod, fd, interest: Some(interest), role, error });
        res
    }

    /// Stop watching `fd`. Call it before closing the fd.
    pub fn unregister(&mut self, fd: RawFd) -> io::Result<Key> {
        let key = self
            .keys
            .get_mut(fd as usize)
            .and_then(|k| k.take())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("fd {fd} is not registered")))?;
        self.registered -= 1;
        let res = self.backend.delete(fd);
        let error = res.as_ref().err().map(|e| e.to_string());
        self.tel.emit_table(|| EventBody::Ctl { op: CtlOp::Del, fd, interest: None, role: key.data, error });
        res.map(|_| key)
    }

    /// Wait for readiness. `None` blocks until something is ready; a timeout is rounded *up* to
    /// whole milliseconds (rounding down would turn 0.4 ms into a busy loop). EINTR is an empty
    /// ready list. Returns the ready list as (key, flags) in [`Selector::ready`].
    pub fn select(&mut self, timeout: Option<Duration>) -> io::Result<WaitInfo> {
        let timeout_ms = timeout_to_ms(timeout);
        let start = Instant::now();
        self.ready.clear();
        let scanned = match self.backend.wait(timeout_ms, &mut self.ready) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                self.ready.clear();
                0
            }
            Err(e) => return Err(e),
        };
        let blocked = start.elapsed();
        let told = self.backend.in_kernel();
        let info = WaitInfo { told, ready: self.ready.len(), scanned, blocked };
        if !told {
            return Ok(info);
        }
        let (rescan, overflow) = self.backend.took();
        let (ready, registered) = (&self.ready, self.registered);
        self.tel.emit(|| EventBody::Wait {
            timeout_ms: timeout_ms as i64,
            registered: registered as u32,
            ready: ready.iter().take(MAX_READY_IN_EVENT).map(|&(t, flags)| ReadyFd { fd: token_fd(t), flags }).collect(),
            ready_total: ready.len() as u32,
            blocked_ns: blocked.as_nanos() as u64,
            scanned: scanned as u32,
            rescan,
            overflow,
        });
        Ok(info)
    }

    /// How many entries the last `select` returned.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// Entry `i` of the last ready list, resolved against the key table *now*: `None` when the fd
    /// was unregistered (or closed and registered again) since the wait returned.
    pub fn ready_at(&self, i: usize) -> Option<(Key, ReadyFlags)> {
        let (t, flags) = *self.ready.get(i)?;
        let key = self.get(token_fd(t))?;
        (token(key.fd, key.generation) == t).then_some((*key, flags))
    }
}

fn timeout_to_ms(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            ms.min(i32::MAX as u128) as i32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn timeouts_round_up() {
        assert_eq!(timeout_to_ms(None), -1);
        assert_eq!(timeout_to_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_to_ms(Some(Duration::from_micros(1))), 1);
        assert_eq!(timeout_to_ms(Some(Duration::from_micros(1500))), 2);
        assert_eq!(timeout_to_ms(Some(Duration::from_millis(7))), 7);
    }

    fn each_kind(f: impl Fn(Selector)) {
        crate::sys::block_loop_signals().unwrap();
        for kind in MODELS {
            f(Selector::new(kind, Telemetry::disabled()).unwrap());
        }
    }

    #[test]
    fn register_twice_is_an_error() {
        each_kind(|mut sel| {
            let (a, _b) = UnixStream::pair().unwrap();
            sel.register(a.as_raw_fd(), Interest::Read, Role::Tcp).unwrap();
            assert!(matches!(sel.register(a.as_raw_fd(), Interest::Read, Role::Tcp), Err(RegisterError::AlreadyRegistered(_))));
            assert_eq!(sel.len(), 1);
            sel.unregister(a.as_raw_fd()).unwrap();
            assert!(sel.unregister(a.as_raw_fd()).is_err());
            assert!(sel.is_empty());
        });
    }

    #[test]
    fn readiness_and_timeouts() {
        each_kind(|mut sel| {
            let kind = sel.kind();
            let (a, mut b) = UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            sel.register(a.as_raw_fd(), Interest::Read, Role::Tcp).unwrap();
            if kind == Model::Nonblocking {
                // No wait at all: every fd is handed back, every time, and nothing is told.
                let info = sel.select(Some(Duration::from_millis(50))).unwrap();
                assert!(!info.told && info.ready == 1 && info.blocked < Duration::from_millis(40), "{info:?}");
                sel.modify(a.as_raw_fd(), Interest::ReadWrite).unwrap();
                sel.select(None).unwrap();
                assert!(sel.ready_at(0).unwrap().1.writable());
                return;
            }
            if kind == Model::Sigio {
                // Just armed: no signal has come yet, so it is handed back once.
                let info = sel.select(Some(Duration::from_secs(5))).unwrap();
                assert_eq!((info.ready, sel.backend.took()), (1, (1, false)));
            }
            let info = sel.select(Some(Duration::from_millis(5))).unwrap();
            assert_eq!(info.ready, 0, "{kind}");
            assert!(info.blocked >= Duration::from_millis(4), "{kind}: {:?}", info.blocked);
            b.write_all(b"x").unwrap();
            let info = sel.select(Some(Duration::from_secs(5))).unwrap();
            assert_eq!(info.ready, 1, "{kind}");
            let (key, flags) = sel.ready_at(0).unwrap();
            assert_eq!(key.fd, a.as_raw_fd());
            assert!(flags.readable(), "{kind}");
            // Level-triggered backends report it again; edge-triggered ones (and signals) do not.
            let info = sel.select(Some(Duration::from_millis(1))).unwrap();
            assert_eq!(info.ready, if kind.edge_triggered() { 0 } else { 1 }, "{kind}");
            if kind == Model::Sigio {
                // Write interest costs no syscall and raises no signal until the buffer frees.
                return;
            }
            sel.modify(a.as_raw_fd(), Interest::ReadWrite).unwrap();
            let info = sel.select(Some(Duration::from_secs(1))).unwrap();
            assert_eq!(info.ready, 1, "{kind}");
            assert!(sel.ready_at(0).unwrap().1.writable(), "{kind}");
        });
    }

    #[test]
    fn sigio_names_the_fd_and_rescans_on_overflow() {
        crate::sys::block_loop_signals().unwrap();
        let mut sel = Selector::new(Model::Sigio, Telemetry::disabled()).unwrap();
        let pairs: Vec<_> = (0..3).map(|_| UnixStream::pair().unwrap()).collect();
        for (a, _) in &pairs {
            a.set_nonblocking(true).unwrap();
            sel.register(a.as_raw_fd(), Interest::Read, Role::Tcp).unwrap();
        }
        assert_eq!(sel.select(Some(Duration::ZERO)).unwrap().ready, 3, "armed fds are handed back once");
        (&pairs[1].1).write_all(b"x").unwrap();
        sel.select(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(sel.ready_at(0).unwrap().0.fd, pairs[1].0.as_raw_fd(), "the signal names the fd");
        // What the kernel sends when the realtime queue is full: plain SIGIO, naming nothing.
        crate::sys::tgkill(crate::sys::gettid(), libc::SIGIO).unwrap();
        let info = sel.select(Some(Duration::from_secs(5))).unwrap();
        assert_eq!((info.ready, sel.backend.took()), (3, (3, true)), "every fd is rescanned");
        sel.unregister(pairs[0].0.as_raw_fd()).unwrap();
        // SAFETY: F_GETFL on an open fd.
        let fl = unsafe { libc::fcntl(pairs[0].0.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(fl & libc::O_ASYNC, 0, "unregistering disarms the signal");
    }

    #[test]
    fn hangup_counts_as_readable() {
        each_kind(|mut sel| {
            let (a, b) = UnixStream::pair().unwrap();
            sel.register(a.as_raw_fd(), Interest::Read, Role::Tcp).unwrap();
            drop(b);
            sel.select(Some(Duration::from_secs(1))).unwrap();
            assert!(sel.ready_at(0).unwrap().1.readable(), "{}", sel.kind());
        });
    }

    #[test]
    fn stale_entries_are_skipped_after_reregistration() {
        each_kind(|mut sel| {
            let (a, mut b) = UnixStream::pair().unwrap();
            sel.register(a.as_raw_fd(), Interest::Read, Role::Tcp).unwrap();
            b.write_all(b"x").unwrap();
            sel.select(Some(Duration::from_secs(1))).unwrap();
            // Mid-batch: the fd goes away and the same number comes back as a new registration.
            sel.unregister(a.as_raw_fd()).unwrap();
            assert!(sel.ready_at(0).is_none());
            sel.register(a.as_raw_fd(), Interest::Read, Role::Web).unwrap();
            assert!(sel.ready_at(0).is_none(), "{}: stale event reached the new registration", sel.kind());
        });
    }

    #[test]
    fn select_refuses_fds_past_fd_setsize() {
        let mut sel = Selector::new(Model::Select, Telemetry::disabled()).unwrap();
        let err = sel.register(1024, Interest::Read, Role::Tcp).unwrap_err();
        assert!(matches!(err, RegisterError::Unsupported(_)));
        assert!(err.to_string().contains("FD_SETSIZE=1024"), "{err}");
        assert!(sel.is_empty());
    }
}
