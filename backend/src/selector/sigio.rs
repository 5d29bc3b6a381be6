//! Signal-driven IO (信号驱动IO): each socket is armed with O_ASYNC, an owner thread
//! (F_SETOWN_EX, the loop's thread) and a realtime signal (F_SETSIG). Whenever the kernel has
//! news for a socket (data arrived, buffer space freed, a hang-up) it queues that signal with
//! the fd and the news in `siginfo`. The loop takes them synchronously with `sigtimedwait`, so
//! no chat code ever runs in a signal handler: one signal per wait, naming one fd.
//!
//! Signals tell of *changes*, like edge-triggered epoll: the loop drains a socket to EAGAIN.
//! An fd just armed has had no change yet, so it is handed back once as ready (a `rescan`).
//! When the per-user queue of realtime signals is full, the kernel falls back to one plain
//! SIGIO that names nothing: then every fd is handed back (a rescan, told as `overflow`).

use super::sweep::assumed_ready;
use super::{Backend, Token};
use crate::sys::{self, syscall};
use muxscope_shared::{Interest, ReadyFlags};
use std::io;
use std::os::fd::RawFd;

pub(crate) struct Sigio {
    tid: libc::pid_t,
    /// The loop's eventfd: a `sig_wake` reports it readable.
    waker: Option<RawFd>,
    table: Vec<Option<(Interest, Token)>>,
    registered: Vec<RawFd>,
    /// Armed since the last wait: handed back once.
    fresh: Vec<RawFd>,
    set: libc::sigset_t,
    took: (u32, bool),
}

// Linux's values (asm-generic/fcntl.h); the libc crate does not name them.
const F_SETSIG: libc::c_int = 10;
const F_SETOWN_EX: libc::c_int = 15;
const F_OWNER_TID: libc::c_int = 0;

#[repr(C)]
struct FOwnerEx {
    kind: libc::c_int,
    pid: libc::pid_t,
}

/// The SIGPOLL part of `siginfo_t` on Linux (64-bit): the union starts after four ints.
#[repr(C)]
struct SigPoll {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    _pad: libc::c_int,
    band: libc::c_long,
    fd: libc::c_int,
}

impl Sigio {
    /// Must be made on the loop's thread, which has the signals blocked.
    pub fn new(waker: Option<RawFd>) -> Sigio {
        Sigio {
            tid: sys::gettid(),
            waker,
            table: Vec::new(),
            registered: Vec::new(),
            fresh: Vec::new(),
            set: sys::loop_signals(),
            took: (0, false),
        }
    }

    fn entry(&self, fd: RawFd) -> Option<(Interest, Token)> {
        self.table.get(fd as usize).copied().flatten()
    }
}

fn band_to_ready(band: libc::c_long) -> ReadyFlags {
    let band = band as libc::c_short;
    let mut f = 0;
    for (p, r) in [
        (libc::POLLIN | libc::POLLRDNORM, ReadyFlags::IN),
        (libc::POLLOUT | libc::POLLWRNORM, ReadyFlags::OUT),
        (libc::POLLERR, ReadyFlags::ERR),
        (libc::POLLHUP, ReadyFlags::HUP),
    ] {
        if band & p != 0 {
            f |= r;
        }
    }
    ReadyFlags(f)
}

impl Backend for Sigio {
    /// Three fcntls: the owner thread, the signal, then O_ASYNC on.
    fn add(&mut self, fd: RawFd, interest: Interest, token: Token) -> io::Result<()> {
        if self.entry(fd).is_some() {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        let owner = FOwnerEx { kind: F_OWNER_TID, pid: self.tid };
        syscall!(fcntl(fd, F_SETOWN_EX, &owner as *const FOwnerEx))?;
        syscall!(fcntl(fd, F_SETSIG, sys::sig_io()))?;
        syscall!(fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK | libc::O_ASYNC))?;
        if self.table.len() <= fd as usize {
            self.table.resize(fd as usize + 1, None);
        }
        self.table[fd as usize] = Some((interest, token));
        self.registered.push(fd);
        self.fresh.push(fd);
        Ok(())
    }

    /// Signals come for reads and writes alike: nothing to tell the kernel.
    fn modify(&mut self, fd: RawFd, interest: Interest, token: Token) -> io::Result<()> {
        let slot = self.table.get_mut(fd as usize).and_then(|s| s.as_mut()).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        *slot = (interest, token);
        Ok(())
    }

    /// One fcntl: O_ASYNC off (the socket stays non-blocking).
    fn delete(&mut self, fd: RawFd) -> io::Result<()> {
        if self.entry(fd).is_none() {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        self.table[fd as usize] = None;
        self.registered.retain(|&f| f != fd);
        self.fresh.retain(|&f| f != fd);
        syscall!(fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK))?;
        Ok(())
    }

    fn wait(&mut self, timeout_ms: i32, out: &mut Vec<(Token, ReadyFlags)>) -> io::Result<usize> {
        let timeout_ms = if self.fresh.is_empty() { timeout_ms } else { 0 };
        let ts = libc::timespec {
            tv_sec: (timeout_ms.max(0) / 1000) as libc::time_t,
            tv_nsec: ((timeout_ms.max(0) % 1000) as libc::c_long) * 1_000_000,
        };
        let tsp = if timeout_ms < 0 { std::ptr::null() } else { &ts as *const libc::timespec };
        // SAFETY: siginfo_t is plain data, filled by the kernel.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        self.took = (0, false);
        let signals = match syscall!(sigtimedwait(&self.set, &mut info, tsp)) {
            Ok(signo) => {
                // SAFETY: SigPoll matches the start of siginfo_t for SIGPOLL-style signals.
                let sp = unsafe { &*(&info as *const libc::siginfo_t as *const SigPoll) };
                if signo == sys::sig_io() {
                    if let Some((_, token)) = self.entry(sp.fd) {
                        out.push((token, band_to_ready(sp.band)));
                    }
                } else if signo == sys::sig_wake() {
                    if let Some((_, token)) = self.waker.and_then(|w| self.entry(w)) {
                        out.push((token, ReadyFlags(ReadyFlags::IN)));
                    }
                } else {
                    // Plain SIGIO: the realtime queue overflowed and news was lost. Rescan all.
                    let _ = (sp.signo, sp.errno, sp.code);
                    self.fresh.clear();
                    for &fd in &self.registered {
                        if let Some((interest, token)) = self.entry(fd) {
                            out.push((token, assumed_ready(interest)));
                        }
                    }
                    self.took = (self.registered.len() as u32, true);
                    return Ok(0);
                }
                1
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        let fresh = std::mem::take(&mut self.fresh);
        for &fd in &fresh {
            if let Some((interest, token)) = self.entry(fd) {
                out.push((token, assumed_ready(interest)));
            }
        }
        self.took = (fresh.len() as u32, false);
        Ok(signals)
    }

    fn took(&self) -> (u32, bool) {
        self.took
    }

    fn set_waker(&mut self, fd: RawFd) {
        self.waker = Some(fd);
    }
}
