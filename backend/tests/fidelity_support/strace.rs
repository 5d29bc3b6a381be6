//! strace on the loop's thread (or, for the blocking model, on the threads serving the chat),
//! and the parser of what it writes.

use crate::common::TIMEOUT;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What strace records: every call some model's events stand for, the waker's `read`, the
/// `fcntl`s (sigio arms and disarms sockets with them), `open`/`openat` (to tell a file's `read`
/// and `close` from a socket's), and `shutdown` (no event, but it explains what a blocking-model
/// thread's call returns next). A regex, so names this architecture lacks are no error.
const TRACE: &str = "trace=/^(epoll_wait|epoll_pwait|epoll_pwait2|poll|ppoll|select|pselect6|rt_sigtimedwait|clock_nanosleep|\
                     restart_syscall|epoll_ctl|fcntl|accept|accept4|recvfrom|recvmsg|read|sendto|sendmsg|writev|close|clone|clone3|exit|\
                     open|openat|shutdown|io_uring_enter)$";

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

/// How to trace.
pub struct Options<'a> {
    /// The thread to attach to.
    pub tid: u32,
    /// `-f`: attach every thread of the process (strace does that for `-f -p TID`) and every
    /// thread started later, each line then starting with its thread id. Only these threads
    /// must have been attached before tracing counts as started.
    pub follow: Option<&'a [u32]>,
    /// `-e inject=...`, e.g. a delay after a call (slows the traced thread, changes no result).
    pub inject: Option<&'a str>,
}

/// strace on one thread; stopped (SIGINT, so it detaches cleanly) by [`Tracer::finish`] or drop.
pub struct Tracer {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Tracer {
    /// None: strace could not attach (no permission to ptrace).
    pub fn attach(strace: &PathBuf, pid: u32, o: &Options, tag: &str) -> Option<Tracer> {
        let dir = std::env::temp_dir();
        let stem = format!("muxscope-fidelity-{}-{tag}", std::process::id());
        let (out, err) = (dir.join(format!("{stem}.strace")), dir.join(format!("{stem}.stderr")));
        let mut cmd = Command::new(strace);
        // -qq: no attach/detach/exit lines; -s 0: no buffer contents, so a " = " in chat text can
        // never be taken for a result; signal=none: no signal lines.
        cmd.args(["-qq", "-s", "0", "-e", "signal=none", "-e", TRACE]);
        if o.follow.is_some() {
            cmd.arg("-f");
        }
        if let Some(inject) = o.inject {
            cmd.args(["-e", &format!("inject={inject}")]);
        }
        let child = cmd
            .arg("-o")
            .arg(&out)
            .args(["-p", &o.tid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).expect("strace stderr file"))
            .spawn()
            .expect("spawn strace");
        let mut t = Tracer { child, out, err };
        let deadline = Instant::now() + TIMEOUT;
        let must = o.follow.unwrap_or(std::slice::from_ref(&o.tid));
        while !must.iter().all(|&tid| tracer_of(pid, tid) == Some(t.child.id())) {
            if Instant::now() > deadline || t.child.try_wait().ok().flatten().is_some() {
                let why = std::fs::read_to_string(&t.err).unwrap_or_default();
                eprintln!("strace did not attach to thread(s) {must:?}: {}", why.trim());
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
    /// The thread that made it, when strace says (`-f`).
    pub tid: Option<u32>,
    pub name: String,
    /// The first argument, when it is a number (an fd for every call compared).
    pub fd: Option<i32>,
    /// None: no result (still blocked when strace detached, `?` for a call the kernel
    /// restarts, which then shows as `restart_syscall` or as the same call again, or `exit`).
    pub ret: Option<i64>,
    pub line: String,
}

impl Call {
    /// The error name after a `-1` result (`EAGAIN`, `EPIPE`, ...).
    pub fn errno(&self) -> Option<&str> {
        self.line.rfind(" = ").and_then(|i| self.line[i + 3..].split_whitespace().nth(1)).filter(|_| self.ret == Some(-1))
    }

    /// The `n`th argument (0-based) as strace wrote it, for calls whose arguments before it
    /// hold no comma (fcntl, epoll_ctl).
    pub fn arg(&self, n: usize) -> Option<&str> {
        let args = &self.line[self.line.find('(')? + 1..];
        args.split([',', ')']).nth(n).map(str::trim)
    }
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
        if let Some(c) = parse_call(pid, &full) {
            calls.push(c);
        }
    }
    // Still unfinished at the end: blocked when strace detached. No result, so no event either.
    calls.extend(pending.into_iter().filter_map(|(pid, h)| parse_call(&pid, &h)));
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

fn parse_call(pid: &str, line: &str) -> Option<Call> {
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
    Some(Call { tid: pid.parse().ok(), name: name.to_string(), fd, ret, line: line.to_string() })
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
accept4(4, 0x7f, [128], SOCK_CLOEXEC|SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)
fcntl(6, F_SETFL, O_RDONLY|O_NONBLOCK|FASYNC) = 0
poll([...], 2, -1)                      = ? ERESTART_RESTARTBLOCK (Interrupted by signal)
+++ exited with 0 +++
4244  exit(0)                           = ?
4245  accept4(3,  <unfinished ...>
epoll_wait(3,  <detached ...>
";
    let calls = parse_strace(text);
    let got: Vec<_> = calls.iter().map(|c| (c.tid, c.name.as_str(), c.fd, c.ret, c.errno())).collect();
    assert_eq!(
        got,
        [
            (None, "restart_syscall", None, Some(1), None),
            (None, "read", Some(5), Some(8), None),
            (Some(4243), "close", Some(9), Some(0), None),
            (Some(4242), "epoll_wait", Some(3), Some(2), None),
            (None, "accept4", Some(4), Some(-1), Some("EAGAIN")),
            (None, "fcntl", Some(6), Some(0), None),
            (None, "poll", None, None, None),
            (Some(4244), "exit", Some(0), None, None),
            (None, "epoll_wait", Some(3), None, None),
            (Some(4245), "accept4", Some(3), None, None),
        ]
    );
    assert_eq!(calls[5].arg(1), Some("F_SETFL"));
    assert_eq!(calls[5].arg(2), Some("O_RDONLY|O_NONBLOCK|FASYNC"));
}
