//! poll(2): the whole pollfd array crosses into the kernel on every wait and is scanned there,
//! then scanned again here to find the entries with revents.

use super::{Backend, Token};
use crate::sys::syscall;
use muxscope_shared::{Interest, ReadyFlags};
use std::io;
use std::os::fd::RawFd;

pub(crate) struct Poll {
    fds: Vec<libc::pollfd>,
    tokens: Vec<Token>,
    /// fd → index in `fds`, or u32::MAX.
    index: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Poll {
    pub fn new() -> Poll {
        Poll { fds: Vec::new(), tokens: Vec::new(), index: Vec::new() }
    }

    fn slot(&self, fd: RawFd) -> Option<usize> {
        match self.index.get(fd as usize) {
            Some(&i) if i != NONE => Some(i as usize),
            _ => None,
        }
    }
}

fn interest_to_poll(interest: Interest) -> libc::c_short {
    let mut ev = 0;
    if interest.is_readable() {
        ev |= libc::POLLIN | libc::POLLRDHUP;
    }
    if interest.is_writable() {
        ev |= libc::POLLOUT;
    }
    ev
}

fn poll_to_ready(revents: libc::c_short) -> ReadyFlags {
    let mut f = 0;
    for (p, r) in [
        (libc::POLLIN, ReadyFlags::IN),
        (libc::POLLOUT, ReadyFlags::OUT),
        (libc::POLLERR | libc::POLLNVAL, ReadyFlags::ERR),
        (libc::POLLHUP, ReadyFlags::HUP),
        (libc::POLLRDHUP, ReadyFlags::RDHUP),
    ] {
        if revents & p != 0 {
            f |= r;
        }
    }
    ReadyFlags(f)
}

impl Backend for Poll {
    fn add(&mut self, fd: RawFd, interest: Interest, token: Token) -> io::Result<()> {
        if self.slot(fd).is_some() {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        if self.index.len() <= fd as usize {
            self.index.resize(fd as usize + 1, NONE);
        }
        self.index[fd as usize] = self.fds.len() as u32;
        self.fds.push(libc::pollfd { fd, events: interest_to_poll(interest), revents: 0 });
        self.tokens.push(token);
        Ok(())
    }

    fn modify(&mut self, fd: RawFd, interest: Interest, token: Token) -> io::Result<()> {
        let i = self.slot(fd).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        self.fds[i].events = interest_to_poll(interest);
        self.tokens[i] = token;
        Ok(())
    }

    fn delete(&mut self, fd: RawFd) -> io::Result<()> {
        let i = self.slot(fd).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        self.fds.swap_remove(i);
        self.tokens.swap_remove(i);
        if let Some(moved) = self.fds.get(i) {
            self.index[moved.fd as usize] = i as u32;
        }
        self.index[fd as usize] = NONE;
        Ok(())
    }

    fn wait(&mut self, timeout_ms: i32, out: &mut Vec<(Token, ReadyFlags)>) -> io::Result<usize> {
        let n = syscall!(poll(self.fds.as_mut_ptr(), self.fds.len() as libc::nfds_t, timeout_ms))?;
        if n > 0 {
            let mut left = n as usize;
            for (pfd, &t) in self.fds.iter().zip(&self.tokens) {
                if pfd.revents != 0 {
                    out.push((t, poll_to_ready(pfd.revents)));
                    left -= 1;
                    if left == 0 {
                        break;
                    }
                }
            }
        }
        Ok(self.fds.len())
    }
}
