//! The non-blocking model's "wait": there is none. Every registered fd is handed back as ready
//! for what it is registered for, and the loop simply tries it: a non-blocking `recv` that
//! mostly returns EAGAIN. No syscall happens here, so no `wait` event is told; the cost shows
//! as the EAGAINs themselves, and as the `sleep` the loop takes when a whole sweep found
//! nothing (see `chat::server`).

use super::{Backend, Token};
use muxscope_shared::{Interest, ReadyFlags};
use std::io;
use std::os::fd::RawFd;

#[derive(Default)]
pub(crate) struct Sweep {
    entries: Vec<(RawFd, Interest, Token)>,
    /// fd → index in `entries`, or u32::MAX.
    index: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Sweep {
    fn slot(&self, fd: RawFd) -> Option<usize> {
        match self.index.get(fd as usize) {
            Some(&i) if i != NONE => Some(i as usize),
            _ => None,
        }
    }
}

/// What a sweep assumes of an fd: whatever it waits for might be possible now.
pub(crate) fn assumed_ready(interest: Interest) -> ReadyFlags {
    let mut f = 0;
    if interest.is_readable() {
        f |= ReadyFlags::IN;
    }
    if interest.is_writable() {
        f |= ReadyFlags::OUT;
    }
    ReadyFlags(f)
}

impl Backend for Sweep {
    fn add(&mut self, fd: RawFd, interest: Interest, token: Token) -> io::Result<()> {
        if self.slot(fd).is_some() {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        if self.index.len() <= fd as usize {
            self.index.resize(fd as usize + 1, NONE);
        }
        self.index[fd as usize] = self.entries.len() as u32;
        self.entries.push((fd, interest, token));
        Ok(())
    }

    fn modify(&mut self, fd: RawFd, interest: Interest, token: Token) -> io::Result<()> {
        let i = self.slot(fd).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        self.entries[i] = (fd, interest, token);
        Ok(())
    }

    fn delete(&mut self, fd: RawFd) -> io::Result<()> {
        let i = self.slot(fd).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        self.entries.swap_remove(i);
        if let Some(&(moved, _, _)) = self.entries.get(i) {
            self.index[moved as usize] = i as u32;
        }
        self.index[fd as usize] = NONE;
        Ok(())
    }

    fn wait(&mut self, _timeout_ms: i32, out: &mut Vec<(Token, ReadyFlags)>) -> io::Result<usize> {
        out.extend(self.entries.iter().map(|&(_, interest, token)| (token, assumed_ready(interest))));
        Ok(self.entries.len())
    }

    fn in_kernel(&self) -> bool {
        false
    }
}
