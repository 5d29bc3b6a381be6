//! A client's output queue: shared, immutable chunks and how far into the first one we got.

use std::collections::VecDeque;
use std::sync::Arc;

/// Bytes owed to one client. A broadcast's bytes are shared by every queue that holds them.
#[derive(Default)]
pub struct OutQueue {
    chunks: VecDeque<Chunk>,
    bytes: usize,
}

struct Chunk {
    buf: Arc<[u8]>,
    start: usize,
}

/// Most buffers one sendmsg gathers (well under IOV_MAX).
const MAX_IOV: usize = 64;

impl OutQueue {
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn push(&mut self, buf: Arc<[u8]>, start: usize) {
        if start < buf.len() {
            self.bytes += buf.len() - start;
            self.chunks.push_back(Chunk { buf, start });
        }
    }

    /// Fills `iov` with the front of the queue.
    pub fn iovecs(&self, iov: &mut Vec<libc::iovec>) {
        iov.clear();
        for c in self.chunks.iter().take(MAX_IOV) {
            let b = &c.buf[c.start..];
            iov.push(libc::iovec { iov_base: b.as_ptr() as *mut libc::c_void, iov_len: b.len() });
        }
    }

    /// Like [`iovecs`](Self::iovecs), also keeping the chunks alive in `held`, so the iovecs stay
    /// valid while another thread adds to the queue (the blocking model's writer).
    pub fn hold_front(&self, held: &mut Vec<Arc<[u8]>>, iov: &mut Vec<libc::iovec>) {
        held.clear();
        held.extend(self.chunks.iter().take(MAX_IOV).map(|c| c.buf.clone()));
        self.iovecs(iov);
    }

    /// Forgets the first `n` bytes (they were written).
    pub fn consume(&mut self, mut n: usize) {
        self.bytes -= n;
        while n > 0 {
            let front = self.chunks.front_mut().expect("consumed more than queued");
            let left = front.buf.len() - front.start;
            if n >= left {
                n -= left;
                self.chunks.pop_front();
            } else {
                front.start += n;
                n = 0;
            }
        }
        if self.chunks.is_empty() {
            // Give the ring's memory back: idle clients should cost nothing.
            self.chunks = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_across_chunks() {
        let mut q = OutQueue::default();
        q.push(Arc::from(&b"hello "[..]), 0);
        q.push(Arc::from(&b"xxworld"[..]), 2);
        assert_eq!(q.bytes(), 11);
        let mut iov = vec![];
        q.iovecs(&mut iov);
        assert_eq!(iov.len(), 2);
        q.consume(8);
        assert_eq!(q.bytes(), 3);
        q.iovecs(&mut iov);
        // SAFETY: the iovec points into a chunk the queue still holds.
        let rest = unsafe { std::slice::from_raw_parts(iov[0].iov_base as *const u8, iov[0].iov_len) };
        assert_eq!(rest, b"rld");
        q.consume(3);
        assert!(q.is_empty());
    }
}
