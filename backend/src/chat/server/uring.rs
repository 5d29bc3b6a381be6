//! The io_uring model (异步IO): completion-based. The loop asks the kernel for whole operations
//! (accept, recv, send) by queueing them in a ring shared with the kernel, and sleeps in one
//! `io_uring_enter` that hands them all over and waits. A completion means the operation is
//! done: for a recv, the data is already in the loop's memory (a buffer the kernel picked from
//! the ones the loop provided), so the kernel did both phases of IO. Every recipient's send of a
//! turn goes to the kernel in that same one call, instead of a `send` syscall each.
//!
//! - accept: one multishot accept: a completion per connection;
//! - recv: one recv per connection and turn, into a provided buffer (16 KiB, given back as soon
//!   as its bytes have gone through the protocol). Not multishot: a multishot recv reads as fast
//!   as data comes, and a client blasting lines would fill everyone's output queues faster than
//!   one turn's sends drain them; one recv per turn is the read budget the other models have;
//! - send: at most one `sendmsg` in flight per connection, gathering what it owes;
//! - the eventfd doorbell: a read, armed again after each ring.
//!
//! Sockets are in blocking mode while the ring serves them: io_uring then waits for data or
//! buffer space itself, where a non-blocking socket would complete at once with EAGAIN.
//!
//! Events: `uring_enter` for each `io_uring_enter`; each completion is told as the `accept`,
//! `recv` or `send` it finishes; `ctl` is an edit of the loop's own table. Closing a connection
//! shuts it down first, so its pending operations complete (and are ignored) rather than hang.
//! Leaving the model cancels every operation and takes in every completion (data already
//! received goes through the protocol) before the ring is dropped.

use super::*;
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::collections::HashMap;

const RING_ENTRIES: u32 = 4096;
/// One recv takes at most a buffer: like the other models' read budget, it bounds what one
/// client's input can add to everyone's output in one turn.
const BUF_SIZE: usize = 16 << 10;
const BUF_COUNT: u16 = 1024;
const BUF_GROUP: u16 = 7;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Accept = 1,
    Recv = 2,
    Send = 3,
    Waker = 4,
    Provide = 5,
    Cancel = 6,
}

fn user_data(op: Op, fd: RawFd, id: u64) -> u64 {
    ((op as u64) << 56) | ((id & 0xff_ffff) << 32) | fd as u32 as u64
}

fn decode(ud: u64) -> (Option<Op>, RawFd, u64) {
    let op = match ud >> 56 {
        1 => Some(Op::Accept),
        2 => Some(Op::Recv),
        3 => Some(Op::Send),
        4 => Some(Op::Waker),
        5 => Some(Op::Provide),
        6 => Some(Op::Cancel),
        _ => None,
    };
    (op, (ud & 0xffff_ffff) as u32 as RawFd, (ud >> 32) & 0xff_ffff)
}

/// A send the kernel holds: its gather list and the bytes it points at stay alive until done.
struct InFlight {
    _held: Vec<Arc<[u8]>>,
    _iov: Vec<libc::iovec>,
    _msg: Box<libc::msghdr>,
}

pub(super) struct Uring {
    ring: IoUring,
    bufs: Box<[u8]>,
    waker_buf: Box<u64>,
    sends: HashMap<u64, InFlight>,
    /// Clients with a recv armed.
    armed: HashMap<RawFd, u64>,
    accept_armed: bool,
    waker_armed: bool,
    /// Operations the kernel still owes a last completion for.
    inflight: usize,
    /// Queued since the last enter.
    queued: u32,
}

// SAFETY: the raw pointers inside (iovecs, msghdr) point into memory the struct itself keeps;
// the ring is used by one thread at a time.
unsafe impl Send for Uring {}

/// Whether this kernel (and sandbox) lets us have a ring; the reason if not.
pub fn probe() -> Result<(), String> {
    match IoUring::new(8) {
        Ok(_) => Ok(()),
        Err(e) => Err(refusal(&e)),
    }
}

fn refusal(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            format!("io_uring is not allowed here ({e}): kernel.io_uring_disabled is set, or a sandbox (seccomp, a container) forbids it")
        }
        Some(libc::ENOSYS) => format!("this kernel has no io_uring ({e})"),
        _ => format!("cannot set up an io_uring ({e})"),
    }
}

impl Uring {
    pub(super) fn new() -> Result<Uring, String> {
        let ring = IoUring::builder().setup_cqsize(RING_ENTRIES * 4).build(RING_ENTRIES).map_err(|e| refusal(&e))?;
        let mut u = Uring {
            ring,
            bufs: vec![0u8; BUF_SIZE * BUF_COUNT as usize].into_boxed_slice(),
            waker_buf: Box::new(0),
            sends: HashMap::new(),
            armed: HashMap::new(),
            accept_armed: false,
            waker_armed: false,
            inflight: 0,
            queued: 0,
        };
        let provide = opcode::ProvideBuffers::new(u.bufs.as_mut_ptr(), BUF_SIZE as i32, BUF_COUNT, BUF_GROUP, 0)
            .build()
            .user_data(user_data(Op::Provide, -1, 0));
        u.push(&provide, None).map_err(|e| format!("cannot provide buffers: {e}"))?;
        Ok(u)
    }

    /// Queues one operation; a full queue is handed to the kernel first (an enter of its own).
    fn push(&mut self, e: &squeue::Entry, tel: Option<&mut Telemetry>) -> io::Result<()> {
        if self.ring.submission().is_full() {
            self.enter(0, None, tel)?;
        }
        // SAFETY: every pointer an entry carries stays valid until its completion (see InFlight,
        // `bufs`, `waker_buf`).
        unsafe { self.ring.submission().push(e) }.map_err(|_| io::Error::other("submission queue full"))?;
        self.queued += 1;
        Ok(())
    }

    /// One `io_uring_enter`: hand over what is queued, and wait for `want` completions (or the
    /// timeout). Told as one `uring_enter` event.
    fn enter(&mut self, want: usize, timeout: Option<Duration>, tel: Option<&mut Telemetry>) -> io::Result<()> {
        let submitted = std::mem::take(&mut self.queued);
        let start = Instant::now();
        let res = match (want, timeout) {
            (0, _) | (_, None) => self.ring.submitter().submit_and_wait(want),
            (_, Some(t)) => {
                let ts = types::Timespec::new().sec(t.as_secs()).nsec(t.subsec_nanos());
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(want, &args)
            }
        };
        let blocked_ns = start.elapsed().as_nanos() as u64;
        if let Some(tel) = tel {
            tel.emit(|| EventBody::UringEnter { submitted, wait_nr: want as u32, blocked_ns });
        }
        match res {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl ChatServer {
    /// Serves with io_uring until a stop or a switch away. The ring was made by the switch (or
    /// at start) and is dropped here, after every operation has completed.
    pub(super) fn run_uring(&mut self) -> io::Result<()> {
        let Some(mut u) = self.uring.take() else { return Err(io::Error::other("io_uring model without a ring")) };
        let result = self.uring_turns(&mut u);
        // Cancel everything and take in every completion: data already received is not lost.
        self.sel.tel.begin_turn(|| self.counters.clone());
        let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::any()).build().user_data(user_data(Op::Cancel, -1, 0));
        if u.push(&cancel, Some(&mut self.sel.tel)).is_ok() {
            u.inflight += 1;
        }
        let mut rounds = 0;
        while u.inflight > 0 && rounds < 1000 {
            if u.enter(1, Some(Duration::from_millis(100)), Some(&mut self.sel.tel)).is_err() {
                break;
            }
            self.reap(&mut u);
            rounds += 1;
        }
        self.flush_turn();
        self.end_turn();
        if let Some((model, reply)) = self.uring_leaving.take() {
            self.sel.tel.begin_turn(|| self.counters.clone());
            let answer = self.switch_to(model);
            self.answer_switch(reply, answer);
            self.end_turn();
        }
        result
    }

    fn uring_turns(&mut self, u: &mut Uring) -> io::Result<()> {
        while !self.control.stopping() {
            self.sel.tel.begin_turn(|| self.counters.clone());
            if let Some(req) = self.take_leaving_request() {
                self.uring_leaving = Some((req.model, req.reply));
                self.end_turn();
                return Ok(());
            }
            self.serve_snapshots();
            self.arm(u)?;
            self.serving();
            let timeout = self.next_timeout();
            self.sel.tel.before_wait(timeout);
            u.enter(1, timeout, Some(&mut self.sel.tel))?;
            self.reap(u);
            self.flush_turn();
            if Instant::now() >= self.next_sweep {
                self.sweep();
            }
            self.end_turn();
        }
        Ok(())
    }

    /// Queues what is missing: the accept, the doorbell's read, a recv per connection, a send per
    /// connection that owes output and has none in flight.
    fn arm(&mut self, u: &mut Uring) -> io::Result<()> {
        if !u.accept_armed && self.accept_paused_until.is_none() {
            let e = opcode::AcceptMulti::new(types::Fd(self.listen_fd))
                // Blocking sockets: io_uring waits (with its own poll) for a socket in blocking
                // mode, and hands a non-blocking one's EAGAIN straight back.
                .flags(libc::SOCK_CLOEXEC)
                .build()
                .user_data(user_data(Op::Accept, self.listen_fd, 0));
            u.push(&e, Some(&mut self.sel.tel))?;
            u.accept_armed = true;
            u.inflight += 1;
        }
        if !u.waker_armed {
            let waker = self.control.waker_fd();
            let e = opcode::Read::new(types::Fd(waker), (&mut *u.waker_buf as *mut u64).cast(), 8).build().user_data(user_data(
                Op::Waker,
                waker,
                0,
            ));
            u.push(&e, Some(&mut self.sel.tel))?;
            u.waker_armed = true;
            u.inflight += 1;
        }
        for i in 0..self.live.len() {
            let fd = self.live[i];
            let Some(Slot::Client(c)) = self.slots.get_mut(fd as usize) else { continue };
            let id = c.id;
            if !c.closing && u.armed.get(&fd) != Some(&id) {
                let e = opcode::Recv::new(types::Fd(fd), std::ptr::null_mut(), BUF_SIZE as u32)
                    .buf_group(BUF_GROUP)
                    .build()
                    .flags(squeue::Flags::BUFFER_SELECT)
                    .user_data(user_data(Op::Recv, fd, id));
                u.push(&e, Some(&mut self.sel.tel))?;
                u.armed.insert(fd, id);
                u.inflight += 1;
            }
            let Some(Slot::Client(c)) = self.slots.get_mut(fd as usize) else { continue };
            if !c.writer && !c.out.is_empty() {
                c.writer = true;
                let mut held = Vec::new();
                let mut iov = Vec::new();
                c.out.hold_front(&mut held, &mut iov);
                // SAFETY: msghdr is plain data; zeroed is a valid empty header.
                let mut msg: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
                msg.msg_iov = iov.as_mut_ptr();
                msg.msg_iovlen = iov.len() as _;
                let ud = user_data(Op::Send, fd, id);
                let e = opcode::SendMsg::new(types::Fd(fd), &*msg).flags(libc::MSG_NOSIGNAL as u32).build().user_data(ud);
                u.sends.insert(ud, InFlight { _held: held, _iov: iov, _msg: msg });
                u.push(&e, Some(&mut self.sel.tel))?;
                u.inflight += 1;
            }
        }
        Ok(())
    }

    /// Takes in every completion waiting in the ring.
    fn reap(&mut self, u: &mut Uring) {
        let done: Vec<cqueue::Entry> = u.ring.completion().collect();
        for cqe in done {
            let (op, fd, id) = decode(cqe.user_data());
            let (res, flags) = (cqe.result(), cqe.flags());
            let more = cqueue::more(flags);
            match op {
                Some(Op::Accept) => {
                    if !more {
                        u.accept_armed = false;
                        u.inflight -= 1;
                    }
                    self.uring_accepted(res);
                }
                Some(Op::Recv) => {
                    if !more {
                        u.inflight -= 1;
                        if u.armed.get(&fd).is_some_and(|&a| a & 0xff_ffff == id) {
                            u.armed.remove(&fd);
                        }
                    }
                    let current = matches!(self.client(fd), Some(c) if c.id & 0xff_ffff == id);
                    let bid = cqueue::buffer_select(flags);
                    if current && res != -libc::ENOBUFS && res != -libc::ECANCELED {
                        let res = if res < 0 { Err(io::Error::from_raw_os_error(-res)) } else { Ok(res as usize) };
                        let data = match bid {
                            Some(b) => &u.bufs[b as usize * BUF_SIZE..(b as usize + 1) * BUF_SIZE],
                            None => &[][..],
                        };
                        // The completion is the whole recv: the bytes are already here.
                        self.took_recv(fd, res, data);
                    }
                    if let Some(b) = bid {
                        // SAFETY: the buffer is part of `bufs`, which lives as long as the ring.
                        let ptr = unsafe { u.bufs.as_mut_ptr().add(b as usize * BUF_SIZE) };
                        let e = opcode::ProvideBuffers::new(ptr, BUF_SIZE as i32, 1, BUF_GROUP, b)
                            .build()
                            .flags(squeue::Flags::SKIP_SUCCESS)
                            .user_data(user_data(Op::Provide, -1, 0));
                        let _ = u.push(&e, Some(&mut self.sel.tel));
                    }
                }
                Some(Op::Send) => {
                    u.inflight -= 1;
                    u.sends.remove(&cqe.user_data());
                    let full_id = match self.client(fd) {
                        Some(c) if c.id & 0xff_ffff == id => {
                            c.writer = false;
                            Some(c.id)
                        }
                        _ => None,
                    };
                    if let Some(full) = full_id {
                        let res = if res < 0 { Err(io::Error::from_raw_os_error(-res)) } else { Ok(res as usize) };
                        self.writer_sent(fd, full, res);
                    }
                }
                Some(Op::Waker) => {
                    u.waker_armed = false;
                    u.inflight -= 1;
                }
                Some(Op::Cancel) => u.inflight -= 1,
                Some(Op::Provide) | None => {}
            }
        }
    }

    fn uring_accepted(&mut self, res: i32) {
        if res >= 0 {
            // SAFETY: the kernel made this fd for us; nobody else owns it.
            let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(res) };
            let peer = socket2::SockRef::from(&fd).peer_addr().ok().and_then(|a| a.as_socket());
            let peer = peer.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
            self.add_client(fd, peer);
        } else if matches!(-res, libc::EMFILE | libc::ENFILE) {
            // An accept in the ring fails at once while fds are short, whether or not anyone
            // waits: unless someone was just refused (more may wait), pause instead of spinning.
            if !self.out_of_fds() && self.accept_paused_until.is_none() {
                self.pause_accepting();
            }
        } else if -res != libc::ECANCELED {
            tracing::warn!("accept failed: {}", io::Error::from_raw_os_error(-res));
        }
    }
}
