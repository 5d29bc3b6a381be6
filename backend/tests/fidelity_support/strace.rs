//! strace on the loop's thread, and the parser of what it writes.

use crate::common::TIMEOUT;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What strace records: every wait call any poller may use, and the IO calls the loop makes.
/// A regex, so names this architecture lacks are no error.
const TRACE: &str = "trace=/^(epoll_wait|epoll_pwait|epoll_pwait2|poll|ppoll|select|pselect6|restart_syscall|epoll_ctl|accept|accept4|recvfrom|recvmsg|read|sendto|sendmsg|writev|close)$";
const WAITS: [&str; 8] = ["epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6", "restart_syscall"];

pub fn strace_binary() -> Option<PathBuf> {
    let ok = |p: &str| Command::new(p).arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    ["/usr/bin/strace", "strace"].into_iter().find(|p| ok(p)).map(PathBuf::from)
}

/// The thread named `name` in process `pid`.
pub fn thread_id(pid: u32, name: &str) -> Option<u32> {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        for t in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
            if std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name) {
                return t.file_name().to_str()?.parse().ok();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn tracer_of(pid: u32, tid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("TracerPid:")).and_then(|v| v.trim().parse().ok())
}

/// strace on one thread; stopped (SIGINT, so it detaches cleanly) by [`Tracer::finish`] or drop.
pub struct Tracer {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Tracer {
    /// None: strace could not attach (no permission to ptrace).
    pub fn attach(strace: &PathBuf, pid: u32, tid: u32, tag: &str) -> Option<Tracer> {
        let dir = std::env::temp_dir();
        let stem = format!("muxscope-fidelity-{}-{tag}", std::process::id());
        let (out, err) = (dir.join(format!("{stem}.strace")), dir.join(format!("{stem}.stderr")));
        // -qq: no attach/detach/exit lines; -s 0: no buffer contents, so a " = " in chat text can
        // never be taken for a result; signal=none: no signal lines.
        let child = Command::new(strace)
            .args(["-qq", "-s", "0", "-e", "signal=none", "-e", TRACE, "-o"])
            .arg(&out)
            .args(["-p", &tid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).expect("strace stderr file"))
            .spawn()
            .expect("spawn strace");
        let mut t = Tracer { child, out, err };
        let deadline = Instant::now() + TIMEOUT;
        while tracer_of(pid, tid) != Some(t.child.id()) {
            if Instant::now() > deadline || t.child.try_wait().ok().flatten().is_some() {
                let why = std::fs::read_to_string(&t.err).unwrap_or_default();
                eprintln!("strace did not attach to thread {tid}: {}", why.trim());
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // TracerPid is set by PTRACE_SEIZE; syscall stops begin a moment later. Nothing the
        // test compares happens before the watcher subscribes, which is after this.
        std::thread::sleep(Duration::from_millis(300));
        Some(t)
    }

    /// Detaches and returns what strace wrote.
    pub fn finish(mut self) -> String {
        self.stop();
        let text = std::fs::read_to_string(&self.out).expect("strace output");
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(&self.err);
        text
    }

    fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
            let _ = self.child.wait();
        }
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One parsed strace line.
#[derive(Clone, Debug)]
pub struct Call {
    pub name: String,
    /// The first argument, when it is a number (an fd for every call compared).
    pub fd: Option<i32>,
    /// None: no result (still blocked when strace detached, or `?` for a call the kernel
    /// restarts, which then shows as `restart_syscall`).
    pub ret: Option<i64>,
    pub line: String,
}

/// Parses `strace -o` output: `NAME(ARGS) = RET ...`, optionally after a pid (`-f`), with
/// `<unfinished ...>` / `<... NAME resumed>` pairs joined per pid. Lines that are no call
/// (exits, signals, detach notes) are skipped.
pub fn parse_strace(text: &str) -> Vec<Call> {
    let mut calls = vec![];
    let mut pending: BTreeMap<String, String> = BTreeMap::new();
    for raw in text.lines() {
        let (pid, line) = split_pid(raw);
        let full = if let Some(rest) = line.strip_prefix("<... ") {
            // `<... NAME resumed>REST`
            let Some((_, tail)) = rest.split_once(" resumed>") else {
                continue;
            };
            match pending.remove(pid) {
                Some(head) => format!("{head}{tail}"),
                None => continue,
            }
        } else if let Some(head) = line.strip_suffix("<unfinished ...>") {
            pending.insert(pid.to_string(), head.to_string());
            continue;
        } else {
            line.to_string()
        };
        if let Some(c) = parse_call(&full) {
            calls.push(c);
        }
    }
    // Still unfinished at the end: blocked when strace detached. No result, so no event either.
    calls.extend(pending.into_values().filter_map(|h| parse_call(&h)));
    calls
}

/// `12345 rest` or `[pid 12345] rest` → ("12345", "rest"); anything else has pid "".
fn split_pid(line: &str) -> (&str, &str) {
    if let Some(rest) = line.strip_prefix("[pid ") {
        if let Some((pid, rest)) = rest.split_once("] ") {
            return (pid.trim(), rest);
        }
    }
    match line.split_once(' ') {
        Some((pid, rest)) if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) => (pid, rest.trim_start()),
        _ => ("", line),
    }
}

fn parse_call(line: &str) -> Option<Call> {
    let open = line.find('(')?;
    let name = &line[..open];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let args = &line[open + 1..];
    let first = args.split([',', ')']).next().unwrap_or("").trim();
    let fd = first.parse().ok();
    // With `-s 0` no argument holds text, so the last " = " starts the result (strace pads the
    // space before it).
    let ret = line.rfind(" = ").and_then(|i| line[i + 3..].split_whitespace().next()).and_then(|r| r.parse().ok());
    Some(Call { name: name.to_string(), fd, ret, line: line.to_string() })
}

/// The compared kind of a completed syscall (None: not compared).
pub fn syscall_kind(c: &Call) -> Option<&'static str> {
    let ret = c.ret?;
    match c.name.as_str() {
        n if WAITS.contains(&n) => Some("wait"),
        "epoll_ctl" => Some("ctl"),
        "accept" | "accept4" if ret >= 0 => Some("accept"),
        "recvfrom" | "recvmsg" => Some("recv"),
        "sendto" | "sendmsg" | "writev" => Some("send"),
        "close" => Some("close"),
        _ => None,
    }
}

/// (kind, fd) of a syscall, as its event would say it. A wait names no client fd.
pub fn syscall_step(c: &Call) -> Option<(&'static str, Option<i32>)> {
    let kind = syscall_kind(c)?;
    let fd = match kind {
        "wait" => None,
        // epoll_ctl(epfd, op, fd, ...): the third argument.
        "ctl" => c.line.split(['(', ',']).nth(3).and_then(|a| a.trim().parse().ok()),
        "accept" => c.ret.map(|r| r as i32),
        _ => c.fd,
    };
    Some((kind, fd))
}

/// What a recv or send call did: (kind, outcome, bytes). The outcome is `bytes` (it moved some),
/// `eof` (a recv returned 0), `eagain`, or `error` (any other errno, EINTR included).
pub fn syscall_outcome(c: &Call) -> Option<(&'static str, &'static str, u64)> {
    let kind = syscall_kind(c).filter(|k| matches!(*k, "recv" | "send"))?;
    let ret = c.ret?;
    let errno = c.line.rfind(" = ").and_then(|i| c.line[i + 3..].split_whitespace().nth(1));
    let outcome = match ret {
        1.. => "bytes",
        0 => "eof",
        _ if errno == Some("EAGAIN") => "eagain",
        _ => "error",
    };
    Some((kind, outcome, ret.max(0) as u64))
}

/// The parser on what strace writes with and without `-f`, split calls included.
#[test]
fn strace_output_parses() {
    let text = "\
restart_syscall(<... resuming interrupted read ...>) = 1
read(5, \"\"..., 8)                       = 8
4242  epoll_wait(3,  <unfinished ...>
[pid  4243] close(9)                    = 0
4242  <... epoll_wait resumed>[...], 4096, -1) = 2
accept4(4, {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr(\"127.0.0.1\")}, [128 => 16], SOCK_CLOEXEC|SOCK_NONBLOCK) = 16
accept4(4, 0x7f, [128], SOCK_CLOEXEC|SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)
epoll_ctl(3, EPOLL_CTL_DEL, 17, 0x7f)  = 0
recvfrom(18, 0x56, 65536, 0, NULL, NULL) = -1 ECONNRESET (Connection reset by peer)
pselect6(5, [3 4], [], NULL, NULL, NULL) = 1 (in [3])
poll([...], 2, -1)                      = ? ERESTART_RESTARTBLOCK (Interrupted by signal)
+++ exited with 0 +++
epoll_wait(3,  <detached ...>
";
    let calls = parse_strace(text);
    let steps: Vec<_> = calls.iter().map(|c| (c.name.as_str(), syscall_step(c))).collect();
    assert_eq!(
        steps,
        [
            ("restart_syscall", Some(("wait", None))),
            ("read", None),
            ("close", Some(("close", Some(9)))),
            ("epoll_wait", Some(("wait", None))),
            ("accept4", Some(("accept", Some(16)))),
            ("accept4", None),
            ("epoll_ctl", Some(("ctl", Some(17)))),
            ("recvfrom", Some(("recv", Some(18)))),
            ("pselect6", Some(("wait", None))),
            ("poll", None),
            ("epoll_wait", None),
        ]
    );
    assert_eq!((calls[1].fd, calls[1].ret), (Some(5), Some(8)));
    let more = "\
sendto(7, \"\"..., 3020, MSG_NOSIGNAL, NULL, 0) = 1676
sendmsg(7, {msg_name=NULL, msg_namelen=0, msg_iov=[...], msg_iovlen=2}, MSG_NOSIGNAL) = -1 EAGAIN (Resource temporarily unavailable)
sendmsg(8, {msg_name=NULL, msg_namelen=0, msg_iov=[...], msg_iovlen=1}, MSG_NOSIGNAL) = -1 EPIPE (Broken pipe)
recvfrom(9, 0x56, 65536, 0, NULL, NULL) = 0
recvfrom(9, 0x56, 65536, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable)
";
    let outcomes: Vec<_> = parse_strace(&format!("{text}{more}")).iter().filter_map(syscall_outcome).collect();
    assert_eq!(
        outcomes,
        [
            ("recv", "error", 0),
            ("send", "bytes", 1676),
            ("send", "eagain", 0),
            ("send", "error", 0),
            ("recv", "eof", 0),
            ("recv", "eagain", 0),
        ]
    );
}
