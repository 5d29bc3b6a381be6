//! Thin wrappers over the libc calls the core makes. Every one of them is a syscall the page shows.

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Turns the C convention (-1 and errno) into `io::Result`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: each caller passes arguments that satisfy the named libc function's contract.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
pub(crate) use syscall;

/// `accept4` with the new fd non-blocking and close-on-exec in one call.
pub fn accept(listener: RawFd) -> io::Result<(OwnedFd, SocketAddr)> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let fd = syscall!(accept4(listener, storage.as_mut_ptr().cast(), &mut len, libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC))?;
    // SAFETY: accept4 returned a new fd that nobody else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: the kernel wrote a valid sockaddr of `len` bytes.
    let addr = unsafe { sockaddr_to_std(storage.as_ptr(), len) }.unwrap_or(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)));
    Ok((owned, addr))
}

/// # Safety
/// `storage` must point at a sockaddr the kernel filled in, `len` bytes long.
unsafe fn sockaddr_to_std(storage: *const libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    match (*storage).ss_family as libc::c_int {
        libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
            let a = &*(storage as *const libc::sockaddr_in);
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
            let a = &*(storage as *const libc::sockaddr_in6);
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(ip, u16::from_be(a.sin6_port), a.sin6_flowinfo, a.sin6_scope_id)))
        }
        _ => None,
    }
}

/// recv(2) into `buf`. `Ok(0)` is EOF.
pub fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    let n = syscall!(recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0))?;
    Ok(n as usize)
}

/// send(2) without SIGPIPE (a peer that vanished gives EPIPE, not a dead process) and without
/// blocking, even on a socket in blocking mode (the blocking model's sockets).
pub fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    let n = syscall!(send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT))?;
    Ok(n as usize)
}

/// Gathers several buffers into one sendmsg(2) (writev with MSG_NOSIGNAL), never blocking.
pub fn sendv(fd: RawFd, bufs: &[libc::iovec]) -> io::Result<usize> {
    sendmsg(fd, bufs, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
}

/// [`sendv`] that blocks until the kernel takes some (the blocking model's writer threads).
pub fn sendv_blocking(fd: RawFd, bufs: &[libc::iovec]) -> io::Result<usize> {
    sendmsg(fd, bufs, libc::MSG_NOSIGNAL)
}

fn sendmsg(fd: RawFd, bufs: &[libc::iovec], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len() as _;
    let n = syscall!(sendmsg(fd, &msg, flags))?;
    Ok(n as usize)
}

/// `accept4` leaving the new socket in blocking mode (the blocking model).
pub fn accept_blocking(listener: RawFd) -> io::Result<(OwnedFd, SocketAddr)> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let fd = syscall!(accept4(listener, storage.as_mut_ptr().cast(), &mut len, libc::SOCK_CLOEXEC))?;
    // SAFETY: accept4 returned a new fd that nobody else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: the kernel wrote a valid sockaddr of `len` bytes.
    let addr = unsafe { sockaddr_to_std(storage.as_ptr(), len) }.unwrap_or(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)));
    Ok((owned, addr))
}

/// Blocking or non-blocking mode for `fd` (F_SETFL; O_ASYNC is dropped too).
pub fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    syscall!(fcntl(fd, libc::F_SETFL, if on { libc::O_NONBLOCK } else { 0 }))?;
    Ok(())
}

/// shutdown(2) both ways: wakes any thread blocked in recv or send on the socket.
pub fn shutdown(fd: RawFd) {
    let _ = syscall!(shutdown(fd, libc::SHUT_RDWR));
}

/// A non-blocking eventfd: the loop's doorbell for other threads.
pub fn eventfd() -> io::Result<OwnedFd> {
    let fd = syscall!(eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC))?;
    // SAFETY: a fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn eventfd_ring(fd: &OwnedFd) -> io::Result<()> {
    let one: u64 = 1;
    match syscall!(write(fd.as_raw_fd(), (&one as *const u64).cast(), 8)) {
        Ok(_) => Ok(()),
        // The counter is saturated: the loop is already due to wake up.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn eventfd_drain(fd: RawFd) {
    let mut val: u64 = 0;
    let _ = syscall!(read(fd, (&mut val as *mut u64).cast(), 8));
}

/// Opens /dev/null, the spare fd kept for the EMFILE trick.
pub fn open_devnull() -> io::Result<OwnedFd> {
    let fd = syscall!(open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC))?;
    // SAFETY: a fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Monotonic clock in nanoseconds (CLOCK_MONOTONIC), the timestamps of every event.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn is_would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// The soft limit on open fds (RLIMIT_NOFILE), raised to the hard limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    syscall!(getrlimit(libc::RLIMIT_NOFILE, &mut lim))?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        syscall!(setrlimit(libc::RLIMIT_NOFILE, &lim))?;
    }
    Ok(lim.rlim_cur)
}

// ---- signal-driven IO (the sigio model) -------------------------------------------------------

/// The realtime signal each armed socket raises (F_SETSIG): queued one per event, with the fd.
pub fn sig_io() -> libc::c_int {
    libc::SIGRTMIN() + 3
}

/// The signal other threads send the loop thread to wake it while it waits for signals (an
/// eventfd cannot raise one: it has no O_ASYNC).
pub fn sig_wake() -> libc::c_int {
    libc::SIGRTMIN() + 4
}

/// The signals the loop takes synchronously (sigtimedwait), never through a handler.
pub fn loop_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset fill a sigset_t we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig_io());
        libc::sigaddset(&mut set, sig_wake());
        // A realtime-signal queue overflow falls back to plain SIGIO.
        libc::sigaddset(&mut set, libc::SIGIO);
        set
    }
}

/// Blocks [`loop_signals`] in the calling thread, so they wait to be taken by `sigtimedwait`
/// instead of killing the process (their default action).
pub fn block_loop_signals() -> io::Result<()> {
    let set = loop_signals();
    // SAFETY: a valid set; the old mask is not wanted.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

pub fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// Sends `sig` to one thread of this process.
pub fn tgkill(tid: libc::pid_t, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: plain integers.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, sig) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The signal that interrupts a blocked thread of the blocking model (its handler does nothing,
/// and is installed without SA_RESTART, so the blocked call returns EINTR).
pub fn sig_interrupt() -> libc::c_int {
    libc::SIGRTMIN() + 5
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Installs the do-nothing handler for [`sig_interrupt`] (idempotent).
pub fn install_interrupt_handler() -> io::Result<()> {
    // SAFETY: a handler that touches nothing; sigaction reads a zeroed, then filled, struct.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = 0;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(sig_interrupt(), &sa, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Waits up to `timeout` for one of [`loop_signals`] (the blocking model's housekeeping thread
/// sleeps here; a ring wakes it with [`sig_wake`]).
pub fn wait_signal(timeout: std::time::Duration) {
    let set = loop_signals();
    let ts = libc::timespec { tv_sec: timeout.as_secs() as libc::time_t, tv_nsec: timeout.subsec_nanos() as libc::c_long };
    // SAFETY: valid set and timespec; the siginfo is not wanted.
    unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) };
}

/// Sleeps `d` (the non-blocking model's nap between empty sweeps).
pub fn nanosleep(d: std::time::Duration) {
    let ts = libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long };
    // SAFETY: a valid timespec; an early wake-up (EINTR) only shortens the nap.
    unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &ts, std::ptr::null_mut()) };
}

/// This machine's host name (`gethostname`), for a cluster node's default name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer and its length are valid; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
