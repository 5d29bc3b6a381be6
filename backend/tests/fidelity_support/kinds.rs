//! What each model's syscalls and events stand for: both sides reduced to [`Step`]s, which the
//! comparison counts, orders and adds up (see the table in tests/fidelity.rs).

use super::strace::{parse_strace, Call};
use muxscope_shared::{CtlOp, EventBody, Model, ThreadOp};

/// The kinds compared, in table order.
pub const KINDS: [&str; 10] = ["wait", "ctl", "accept", "accept_eagain", "recv", "send", "close", "sleep", "thread", "uring_enter"];
/// The outcomes compared, in table order: (kind, [`Step::sub`]).
pub const OUTCOMES: [(&str, &str); 7] =
    [("recv", "bytes"), ("recv", "eof"), ("recv", "eagain"), ("recv", "error"), ("send", "bytes"), ("send", "eagain"), ("send", "error")];
/// The changes compared, in table order: ctl ops and thread ops.
pub const CHANGES: [(&str, &str); 5] = [("ctl", "add"), ("ctl", "mod"), ("ctl", "del"), ("thread", "spawn"), ("thread", "exit")];
/// The kinds of a non-blocking sweep that found nothing.
pub const IDLE: [&str; 2] = ["sleep", "accept_eagain"];

/// One call, or one event, as the comparison sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Step {
    pub kind: &'static str,
    /// What it did: `bytes`/`eof`/`eagain`/`error` (recv, send; `error` for accept too), the op
    /// (`add`/`mod`/`del` for ctl, `spawn`/`exit` for thread), "" for the other kinds.
    pub sub: &'static str,
    /// The fd it was on (for accept the new fd, for accept_eagain the listener), the thread id
    /// for thread, None for wait and sleep.
    pub fd: Option<i32>,
    /// Bytes moved (recv, send).
    pub bytes: u64,
}

fn step(kind: &'static str, sub: &'static str, fd: Option<i32>) -> Option<Step> {
    Some(Step { kind, sub, fd, bytes: 0 })
}

fn io(kind: &'static str, fd: Option<i32>, ret: i64, errno: Option<&str>) -> Option<Step> {
    let sub = match ret {
        1.. => "bytes",
        0 if kind == "recv" => "eof",
        _ if errno == Some("EAGAIN") => "eagain",
        _ => "error",
    };
    Some(Step { kind, sub, fd, bytes: ret.max(0) as u64 })
}

/// The calls a model's `wait` event stands for (the kernel's `restart_syscall` too, see there).
fn wait_calls(model: Model) -> &'static [&'static str] {
    match model {
        Model::Epoll | Model::EpollEt => &["epoll_wait", "epoll_pwait", "epoll_pwait2"],
        Model::Poll => &["poll", "ppoll"],
        Model::Select => &["select", "pselect6"],
        Model::Sigio => &["rt_sigtimedwait"],
        _ => &[],
    }
}

/// sigio's `F_SETFL` with O_ASYNC arms a socket (with F_SETOWN_EX and F_SETSIG); without, it
/// disarms it.
fn async_flag(c: &Call) -> bool {
    c.arg(2).is_some_and(|f| f.split('|').any(|f| f == "O_ASYNC" || f == "FASYNC"))
}

/// The step a completed syscall is under `model`, if its events count it.
pub fn syscall_step(model: Model, c: &Call) -> Option<Step> {
    if c.name == "exit" {
        // A thread's end: no result ever comes.
        return step("thread", "exit", c.tid.map(|t| t as i32));
    }
    let ret = c.ret?;
    match c.name.as_str() {
        n if wait_calls(model).contains(&n) => step("wait", "", None),
        // A call that a ptrace stop interrupted shows with result `?` (not counted), and the
        // kernel's `restart_syscall` that resumes it: one call, one event.
        "restart_syscall" => match model {
            Model::Nonblocking => step("sleep", "", None),
            Model::Blocking => None,
            Model::IoUring => step("uring_enter", "", None),
            _ => step("wait", "", None),
        },
        "clock_nanosleep" if model == Model::Nonblocking => step("sleep", "", None),
        "io_uring_enter" if model == Model::IoUring => step("uring_enter", "", None),
        "epoll_ctl" => {
            let op = match c.arg(1) {
                Some("EPOLL_CTL_ADD") => "add",
                Some("EPOLL_CTL_MOD") => "mod",
                _ => "del",
            };
            step("ctl", op, c.arg(2).and_then(|a| a.parse().ok()))
        }
        "fcntl" if model == Model::Sigio => match c.arg(1) {
            // The first of the three that arm a socket stands for the `ctl add`; the other two
            // are counted by [`sigio_arming`].
            Some("F_SETOWN_EX") => step("ctl", "add", c.fd),
            Some("F_SETFL") if !async_flag(c) => step("ctl", "del", c.fd),
            _ => None,
        },
        "accept" | "accept4" if ret >= 0 => step("accept", "", Some(ret as i32)),
        "accept" | "accept4" if c.errno() == Some("EAGAIN") => step("accept_eagain", "", c.fd),
        // Any other failure is a call too: its events would have to say so.
        "accept" | "accept4" => step("accept", "error", c.fd),
        "recvfrom" | "recvmsg" => io("recv", c.fd, ret, c.errno()),
        "sendto" | "sendmsg" | "writev" => io("send", c.fd, ret, c.errno()),
        "close" => step("close", "", c.fd),
        "clone" | "clone3" if ret > 0 => step("thread", "spawn", Some(ret as i32)),
        _ => None,
    }
}

/// The step an event is, whatever the model (None: a kind that stands for no call anywhere,
/// `broadcast`, `nick`, `gap`, or one the script never causes).
pub fn event_step(e: &EventBody) -> Option<Step> {
    match *e {
        EventBody::Wait { .. } => step("wait", "", None),
        EventBody::Ctl { op, fd, .. } => {
            let op = match op {
                CtlOp::Add => "add",
                CtlOp::Mod => "mod",
                CtlOp::Del => "del",
            };
            step("ctl", op, Some(fd))
        }
        EventBody::Accept { fd, .. } => step("accept", "", Some(fd)),
        EventBody::AcceptEagain { listener } => step("accept_eagain", "", Some(listener)),
        EventBody::Recv { fd, bytes, eof, would_block, .. } => {
            let sub = match () {
                _ if bytes > 0 => "bytes",
                _ if eof => "eof",
                _ if would_block => "eagain",
                _ => "error",
            };
            Some(Step { kind: "recv", sub, fd: Some(fd), bytes: bytes as u64 })
        }
        EventBody::Send { fd, bytes, would_block, .. } => {
            let sub = match () {
                _ if bytes > 0 => "bytes",
                _ if would_block => "eagain",
                _ => "error",
            };
            Some(Step { kind: "send", sub, fd: Some(fd), bytes })
        }
        EventBody::Close { fd, .. } => step("close", "", Some(fd)),
        EventBody::Sleep { .. } => step("sleep", "", None),
        EventBody::UringEnter { .. } => step("uring_enter", "", None),
        EventBody::Thread { op, tid, .. } => step("thread", if op == ThreadOp::Spawn { "spawn" } else { "exit" }, Some(tid)),
        _ => None,
    }
}

/// Whether an event of this kind and outcome stands for a syscall under `model`. The ones that
/// do not: table edits, `ctl` under poll, select, nonblocking, blocking and io_uring (the table
/// lives in user space), and sigio's `ctl mod` (signals come for reads and writes alike); and
/// under io_uring the completions, `accept`, `recv` and `send`: the kernel did those operations
/// inside the `io_uring_enter` calls (which are `uring_enter` events).
pub fn backed(model: Model, kind: &str, sub: &str) -> bool {
    match (kind, model) {
        ("accept" | "recv" | "send", Model::IoUring) => false,
        ("ctl", Model::Epoll | Model::EpollEt) => true,
        ("ctl", Model::Sigio) => sub != "mod",
        ("ctl", _) => false,
        _ => true,
    }
}

/// sigio: the three fcntls that arm a socket, counted: F_SETOWN_EX, F_SETSIG, F_SETFL with
/// O_ASYNC. Each must equal the `ctl add` events.
pub fn sigio_arming(calls: &[Call]) -> [u64; 3] {
    let mut n = [0; 3];
    for c in calls.iter().filter(|c| c.name == "fcntl" && c.ret == Some(0)) {
        match c.arg(1) {
            Some("F_SETOWN_EX") => n[0] += 1,
            Some("F_SETSIG") => n[1] += 1,
            Some("F_SETFL") if async_flag(c) => n[2] += 1,
            _ => {}
        }
    }
    n
}

/// Every model's classification of what strace writes.
#[test]
fn syscalls_are_steps() {
    let text = "\
restart_syscall(<... resuming interrupted read ...>) = 1
read(5, \"\"..., 8)                       = 8
epoll_wait(3, [...], 4096, -1) = 2
accept4(4, {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr(\"127.0.0.1\")}, [128 => 16], SOCK_CLOEXEC|SOCK_NONBLOCK) = 16
accept4(4, 0x7f, [128], SOCK_CLOEXEC|SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)
epoll_ctl(3, EPOLL_CTL_DEL, 17, 0x7f)  = 0
recvfrom(18, 0x56, 65536, 0, NULL, NULL) = -1 ECONNRESET (Connection reset by peer)
pselect6(5, [3 4], [], NULL, NULL, NULL) = 1 (in [3])
poll([...], 2, -1)                      = ? ERESTART_RESTARTBLOCK (Interrupted by signal)
sendto(7, \"\"..., 3020, MSG_NOSIGNAL, NULL, 0) = 1676
sendmsg(7, {msg_name=NULL, msg_iov=[...], msg_iovlen=2}, MSG_NOSIGNAL) = -1 EAGAIN (Resource temporarily unavailable)
sendmsg(8, {msg_name=NULL, msg_iov=[...], msg_iovlen=1}, MSG_NOSIGNAL) = -1 EPIPE (Broken pipe)
recvfrom(9, 0x56, 65536, 0, NULL, NULL) = 0
rt_sigtimedwait([IO RT_5 RT_6], {si_signo=SIGRT_5, si_code=0x1, si_pid=65, si_uid=0, si_int=6, si_ptr=0x6}, NULL, 8) = 37 (SIGRT_5)
fcntl(6, F_SETOWN_EX, {type=F_OWNER_TID, pid=6520}) = 0
fcntl(6, F_SETSIG, SIGRT_5)             = 0
fcntl(6, F_SETFL, O_RDONLY|O_NONBLOCK|FASYNC) = 0
fcntl(6, F_SETFL, O_RDONLY|O_NONBLOCK)  = 0
fcntl(6, F_GETFD)                       = 0x1 (flags FD_CLOEXEC)
clock_nanosleep(CLOCK_MONOTONIC, 0, {tv_sec=0, tv_nsec=1000000}, NULL) = 0 (DELAYED)
4802  clone3({flags=CLONE_VM|CLONE_THREAD, child_tid=0x7f, exit_signal=0} => {parent_tid=[6123]}, 88) = 6123
6123  exit(0)                           = ?
";
    let calls = parse_strace(text);
    let short = |s: Option<Step>| s.map(|s| format!("{} {} {:?} {}", s.kind, s.sub, s.fd, s.bytes));
    let of = |m: Model| calls.iter().map(|c| short(syscall_step(m, c))).collect::<Vec<_>>();
    let s = |x: &str| Some(x.to_string());
    let epoll = of(Model::Epoll);
    assert_eq!(
        epoll,
        [
            s("wait  None 0"),
            None,
            s("wait  None 0"),
            s("accept  Some(16) 0"),
            s("accept_eagain  Some(4) 0"),
            s("ctl del Some(17) 0"),
            s("recv error Some(18) 0"),
            None,
            None,
            s("send bytes Some(7) 1676"),
            s("send eagain Some(7) 0"),
            s("send error Some(8) 0"),
            s("recv eof Some(9) 0"),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            s("thread spawn Some(6123) 0"),
            s("thread exit Some(6123) 0"),
        ]
    );
    assert_eq!(of(Model::Select)[7], s("wait  None 0"));
    let sigio = of(Model::Sigio);
    assert_eq!(sigio[13..19], [s("wait  None 0"), s("ctl add Some(6) 0"), None, None, s("ctl del Some(6) 0"), None]);
    assert_eq!(sigio_arming(&calls), [1, 1, 1]);
    let nonblocking = of(Model::Nonblocking);
    assert_eq!((&nonblocking[0], &nonblocking[2], &nonblocking[19]), (&s("sleep  None 0"), &None, &s("sleep  None 0")));
    let blocking = of(Model::Blocking);
    assert_eq!((&blocking[0], &blocking[13], &blocking[19]), (&None, &None, &None));
}
