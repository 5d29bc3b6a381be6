//! epoll(7): the kernel keeps the interest list and hands back only the ready fds.

use super::{Backend, Token};
use crate::sys::syscall;
use muxscope_shared::{Interest, ReadyFlags};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Most entries one epoll_wait returns; more stay ready and come back on the next wait.
const MAX_EVENTS: usize = 4096;

pub(crate) struct Epoll {
    epfd: OwnedFd,
    edge: bool,
    events: Vec<libc::epoll_event>,
}

impl Epoll {
    pub fn new(edge: bool) -> io::Result<Epoll> {
        let fd = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
        Ok(Epoll {
            // SAFETY: a fresh fd owned by nobody else.
            epfd: unsafe { OwnedFd::from_raw_fd(fd) },
            edge,
            events: Vec::with_capacity(MAX_EVENTS),
        })
    }

    fn interest_to_epoll(&self, interest: Interest) -> u32 {
        let mut bits = 0;
        if interest.is_readable() {
            // RDHUP: learn about a half-close from the ready list itself.
            bits |= libc::EPOLLIN | libc::EPOLLRDHUP;
        }
        if interest.is_writable() {
            bits |= libc::EPOLLOUT;
        }
        if self.edge {
            bits |= libc::EPOLLET;
        }
        bits as u32
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, interest: Interest, token: Token) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: self.interest_to_epoll(interest), u64: token };
        syscall!(epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut ev))?;
        Ok(())
    }
}

fn epoll_to_ready(bits: u32) -> ReadyFlags {
    let bits = bits as libc::c_int;
    let mut f = 0;
    for (e, r) in [
        (libc::EPOLLIN, ReadyFlags::IN),
        (libc::EPOLLOUT, ReadyFlags::OUT),
        (libc::EPOLLERR, ReadyFlags::ERR),
        (libc::EPOLLHUP, ReadyFlags::HUP),
        (libc::EPOLLRDHUP, ReadyFlags::RDHUP),
    ] {
        if bits & e != 0 {
            f |= r;
        }
    }
    ReadyFlags(f)
}

impl Backend for Epoll {
    fn add(&mut self, fd: RawFd, interest: Interest, token: Token) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, interest, token)
    }

    fn modify(&mut self, fd: RawFd, interest: Interest, token: Token) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, interest, token)
    }

    fn delete(&mut self, fd: RawFd) -> io::Result<()> {
        // A non-null event pointer keeps pre-2.6.9 kernels happy; it is ignored.
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        syscall!(epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev))?;
        Ok(())
    }

    fn wait(&mut self, timeout_ms: i32, out: &mut Vec<(Token, ReadyFlags)>) -> io::Result<usize> {
        self.events.clear();
        let n = syscall!(epoll_wait(self.epfd.as_raw_fd(), self.events.as_mut_ptr(), MAX_EVENTS as libc::c_int, timeout_ms))?;
        // SAFETY: epoll_wait initialised the first n entries (n <= capacity).
        unsafe { self.events.set_len(n as usize) };
        out.extend(self.events.iter().map(|ev| {
            let (bits, data) = (ev.events, ev.u64);
            (data, epoll_to_ready(bits))
        }));
        // epoll does not scan the interest list: it hands back the ready list it kept.
        Ok(n as usize)
    }
}
