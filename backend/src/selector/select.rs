//! select(2): two bitsets of FD_SETSIZE bits, rebuilt for every call because the kernel overwrites
//! them, and scanned bit by bit up to the highest registered fd — the seed's "linear scan" and
//! its 1024-fd ceiling.

use super::{Backend, Token};
use crate::sys::syscall;
use muxscope_shared::{Interest, ReadyFlags};
use std::io;
use std::os::fd::RawFd;

pub(crate) const FD_SETSIZE: usize = libc::FD_SETSIZE;

pub(crate) struct Select {
    interest: Vec<Option<(Interest, Token)>>,
    max_fd: RawFd,
    count: usize,
}

impl Select {
    pub fn new() -> Select {
        Select { interest: vec![None; FD_SETSIZE], max_fd: -1, count: 0 }
    }
}

fn empty_set() -> libc::fd_set {
    // SAFETY: fd_set is plain bits; FD_ZERO initialises it.
    unsafe {
        let mut s: libc::fd_set = std::mem::zeroed();
        libc::FD_ZERO(&mut s);
        s
    }
}

impl Backend for Select {
    fn add(&mut self, fd: RawFd, interest: Interest, token: Token) -> io::Result<()> {
        if fd as usize >= FD_SETSIZE {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        if self.interest[fd as usize].is_some() {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        self.interest[fd as usize] = Some((interest, token));
        self.max_fd = self.max_fd.max(fd);
        self.count += 1;
        Ok(())
    }

    fn modify(&mut self, fd: RawFd, interest: Interest, token: Token) -> io::Result<()> {
        match self.interest.get_mut(fd as usize) {
            Some(slot @ Some(_)) => {
                *slot = Some((interest, token));
                Ok(())
            }
            _ => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    fn delete(&mut self, fd: RawFd) -> io::Result<()> {
        match self.interest.get_mut(fd as usize) {
            Some(slot @ Some(_)) => {
                *slot = None;
                self.count -= 1;
                while self.max_fd >= 0 && self.interest[self.max_fd as usize].is_none() {
                    self.max_fd -= 1;
                }
                Ok(())
            }
            _ => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    fn wait(&mut self, timeout_ms: i32, out: &mut Vec<(Token, ReadyFlags)>) -> io::Result<usize> {
        let mut rset = empty_set();
        let mut wset = empty_set();
        let nfds = self.max_fd + 1;
        for fd in 0..nfds {
            if let Some((interest, _)) = self.interest[fd as usize] {
                // SAFETY: fd < FD_SETSIZE, checked at registration.
                unsafe {
                    if interest.is_readable() {
                        libc::FD_SET(fd, &mut rset);
                    }
                    if interest.is_writable() {
                        libc::FD_SET(fd, &mut wset);
                    }
                }
            }
        }
        let mut tv = libc::timeval {
            tv_sec: (timeout_ms.max(0) / 1000) as libc::time_t,
            tv_usec: ((timeout_ms.max(0) % 1000) * 1000) as libc::suseconds_t,
        };
        let tvp = if timeout_ms < 0 { std::ptr::null_mut() } else { &mut tv as *mut libc::timeval };
        let n = syscall!(select(nfds, &mut rset, &mut wset, std::ptr::null_mut(), tvp))?;
        if n > 0 {
            for fd in 0..nfds {
                // SAFETY: fd < FD_SETSIZE.
                let (r, w) = unsafe { (libc::FD_ISSET(fd, &rset), libc::FD_ISSET(fd, &wset)) };
                if r || w {
                    if let Some((_, token)) = self.interest[fd as usize] {
                        let mut f = 0;
                        if r {
                            f |= ReadyFlags::IN;
                        }
                        if w {
                            f |= ReadyFlags::OUT;
                        }
                        out.push((token, ReadyFlags(f)));
                    }
                }
            }
        }
        // The kernel walks every bit below nfds, registered or not.
        Ok(nfds as usize)
    }

    fn fd_limit(&self) -> Option<RawFd> {
        Some(FD_SETSIZE as RawFd - 1)
    }
}
