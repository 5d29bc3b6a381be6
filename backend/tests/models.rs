//! The IO models, switched live: the real binary, real sockets, `POST /api/model`.

mod common;
use common::*;
use muxscope_shared::{Model, ModelsReport};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// One HTTP/1.1 request with `Connection: close`: (status, body).
fn http(web: SocketAddr, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(web).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    // Chunked or not, the JSON object is in there.
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => body[a..=b].to_string(),
        _ => body,
    };
    (status, body)
}

fn switch(web: SocketAddr, model: &str) -> (u16, String) {
    http(web, "POST", "/api/model", &["Content-Type: application/json"], &format!("{{\"model\":\"{model}\"}}"))
}

fn stats_model(web: SocketAddr) -> String {
    let (_, body) = http(web, "GET", "/api/stats", &[], "");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["model"].as_str().unwrap().to_string()
}

/// Counts every byte and LF that reaches each of `socks`, with poll(2), until `want` LFs each or
/// the deadline. Returns the LFs per socket and which saw EOF.
fn read_all(socks: &mut [TcpStream], want: usize, deadline: Instant) -> (Vec<usize>, Vec<bool>) {
    for s in socks.iter() {
        s.set_nonblocking(true).unwrap();
    }
    let mut lines = vec![0usize; socks.len()];
    let mut eof = vec![false; socks.len()];
    let mut buf = vec![0u8; 64 << 10];
    while Instant::now() < deadline && lines.iter().zip(&eof).any(|(&n, &e)| n < want && !e) {
        let mut fds: Vec<libc::pollfd> =
            socks.iter().map(|s| libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
        // SAFETY: a valid array of pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 200) };
        if n <= 0 {
            continue;
        }
        for (i, p) in fds.iter().enumerate() {
            if p.revents == 0 {
                continue;
            }
            loop {
                match socks[i].read(&mut buf) {
                    Ok(0) => {
                        eof[i] = true;
                        break;
                    }
                    Ok(k) => lines[i] += memchr_count(&buf[..k]),
                    Err(_) => break,
                }
            }
        }
    }
    (lines, eof)
}

fn memchr_count(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

#[test]
fn a_live_switch_through_every_model_keeps_every_client_and_every_line() {
    raise_fd_limit();
    const CLIENTS: usize = 1000;
    const SENDERS: usize = 4;
    const LINES: usize = 150;
    let s = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let web = s.web.unwrap();
    let mut socks: Vec<TcpStream> = (0..CLIENTS).map(|_| TcpStream::connect(s.chat).unwrap()).collect();
    // Everyone is in (a /who answered after the last connect).
    let mut last = Client::connect(s.chat);
    assert_eq!(last.who_count(), CLIENTS + 1);
    // Senders talk the whole time, paced, while the model changes under them.
    let senders: Vec<TcpStream> = socks[..SENDERS].iter().map(|s| s.try_clone().unwrap()).collect();
    let talk = std::thread::spawn(move || {
        let mut senders = senders;
        for i in 0..LINES {
            for (k, s) in senders.iter_mut().enumerate() {
                s.write_all(format!("sender {k} line {i}\n").as_bytes()).unwrap();
            }
            std::thread::sleep(Duration::from_millis(8));
        }
    });
    let order = ["epoll-et", "poll", "select", "nonblocking", "sigio", "blocking", "io_uring", "epoll"];
    let mut answers = vec![];
    for m in order {
        let (code, body) = switch(web, m);
        answers.push(format!("{m}: {code} {body}"));
        assert_eq!(code, 200, "switch to {m}: {body}");
        assert_eq!(stats_model(web), m);
        std::thread::sleep(Duration::from_millis(100));
    }
    talk.join().unwrap();
    let want = SENDERS * LINES;
    let (lines, eof) = read_all(&mut socks, want, Instant::now() + Duration::from_secs(60));
    let short: Vec<(usize, usize)> = lines.iter().enumerate().filter(|(_, &n)| n != want).map(|(i, &n)| (i, n)).take(10).collect();
    assert!(short.is_empty(), "clients that did not get exactly {want} lines (index, lines): {short:?}\n{answers:#?}");
    assert!(!eof.iter().any(|&e| e), "{} clients were disconnected", eof.iter().filter(|&&e| e).count());
    assert_eq!(last.who_count(), CLIENTS + 1, "everyone is still there");
    // Every model served and was measured.
    let (_, body) = http(web, "GET", "/api/models", &[], "");
    let report: ModelsReport = serde_json::from_str(&body).unwrap();
    assert_eq!(report.current, Model::Epoll);
    let served: Vec<Model> = report.rows.iter().map(|r| r.model).collect();
    assert_eq!(served.len(), 8, "{served:?}");
    assert!(report.rows.iter().all(|r| r.seconds > 0.0), "{body}");
    assert!(report.rows.iter().find(|r| r.model == Model::Blocking).unwrap().threads as usize > CLIENTS, "{body}");
}

#[test]
fn refused_switches_say_why_and_change_nothing() {
    raise_fd_limit();
    // Blocking past --max-threads.
    let s = Server::start("epoll", &["--web-addr", "127.0.0.1:0", "--max-threads", "5"]);
    let web = s.web.unwrap();
    let mut clients: Vec<Client> = (0..6).map(|_| s.joined()).collect();
    let (code, body) = switch(web, "blocking");
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("--max-threads 5") && body.contains("still on epoll"), "{body}");
    assert_eq!(stats_model(web), "epoll");
    clients[0].send("still here\n");
    let name = clients[0].name();
    clients[5].line_until(&format!("[{name}] still here"));
    // Bad bodies and foreign pages.
    for (body, code) in [("{\"model\":\"kqueue\"}", 400), ("{}", 400), ("not json", 400), ("{\"model\":\"poll\",\"x\":1}", 400)] {
        let (got, text) = http(web, "POST", "/api/model", &[], body);
        assert_eq!(got, code, "{body}: {text}");
        assert!(text.contains("\"error\""), "{text}");
    }
    let (got, text) = http(web, "POST", "/api/model", &["Origin: http://evil.example"], "{\"model\":\"poll\"}");
    assert_eq!(got, 403, "{text}");
    assert_eq!(stats_model(web), "epoll");
    // The page's own origin may.
    let origin = format!("Origin: http://{web}");
    let (got, text) = http(web, "POST", "/api/model", &[&origin], "{\"model\":\"poll\"}");
    assert_eq!((got, stats_model(web).as_str()), (200, "poll"), "{text}");
}

#[test]
fn select_refuses_to_take_over_fds_past_fd_setsize() {
    raise_fd_limit();
    let s = Server::start("poll", &["--web-addr", "127.0.0.1:0"]);
    let web = s.web.unwrap();
    let clients: Vec<TcpStream> = (0..1030).map(|_| TcpStream::connect(s.chat).unwrap()).collect();
    let mut probe = Client::connect(s.chat);
    assert_eq!(probe.who_count(), 1031);
    let (code, body) = switch(web, "select");
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("FD_SETSIZE=1024") && body.contains("still on poll"), "{body}");
    assert_eq!(stats_model(web), "poll");
    assert_eq!(probe.who_count(), 1031, "nobody was dropped");
    drop(clients);
}

#[test]
fn poller_stays_a_synonym_and_unknown_models_are_errors() {
    let bin = std::env::var("MUXSCOPE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_muxscope").to_string());
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&bin).args(args).args(["--chat-addr", "127.0.0.1:0", "--no-web"]).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (ok, err) = run(&["--poller", "sigio"]);
    assert!(!ok && err.contains("expected epoll, epoll-et, poll or select"), "{err}");
    let (ok, err) = run(&["--model", "kqueue"]);
    assert!(!ok && err.contains("unknown model \"kqueue\""), "{err}");
    let (ok, err) = run(&["--model", "poll", "--poller", "poll"]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
    // --poller still starts the loop it names.
    let mut child = std::process::Command::new(&bin)
        .args(["--poller", "poll", "--chat-addr", "127.0.0.1:0", "--no-web"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("(model poll)"), "{line}");
}

#[test]
fn echo_sends_each_line_back_to_its_sender_only_in_every_model() {
    for m in MODELS {
        let s = Server::start(m, &["--app", "echo"]);
        let mut a = s.joined();
        let mut b = s.joined();
        a.send("ping\n");
        let name = a.name();
        assert_eq!(a.line(), format!("[{name}] ping"), "{m}");
        b.send("pong\n");
        let bname = b.name();
        // b's first line is its own echo: a's line never reached it.
        assert_eq!(b.line(), format!("[{bname}] pong"), "{m}");
    }
}

/// A seccomp filter that makes `io_uring_setup` fail with EPERM, as a sandbox (or
/// `kernel.io_uring_disabled`) does, installed in the child before it runs muxscope.
fn forbid_io_uring(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; the filter and its program outlive the calls.
    unsafe {
        cmd.pre_exec(|| {
            const LD_NR: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS: the syscall number
            const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
            const RET: u16 = 0x06; // BPF_RET | BPF_K
            let filter = [
                libc::sock_filter { code: LD_NR, jt: 0, jf: 0, k: 0 },
                libc::sock_filter { code: JEQ, jt: 0, jf: 1, k: libc::SYS_io_uring_setup as u32 },
                libc::sock_filter { code: RET, jt: 0, jf: 0, k: 0x0005_0000 | libc::EPERM as u32 },
                libc::sock_filter { code: RET, jt: 0, jf: 0, k: 0x7fff_0000 },
            ];
            let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut libc::sock_filter };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(libc::PR_SET_SECCOMP, 2, &prog as *const libc::sock_fprog) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn where_io_uring_is_forbidden_it_says_why_and_nothing_else_changes() {
    let bin = std::env::var("MUXSCOPE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_muxscope").to_string());
    let mut cmd = std::process::Command::new(&bin);
    cmd.args(["--model", "io_uring", "--chat-addr", "127.0.0.1:0", "--no-web"]);
    forbid_io_uring(&mut cmd);
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("io_uring is not allowed here"), "{err}");
    // Started on another model, the page is told io_uring is unavailable, and why; a switch to
    // it is refused and the server carries on.
    let s = Server::start_with("epoll", &["--web-addr", "127.0.0.1:0"], forbid_io_uring);
    let web = s.web.unwrap();
    let (_, body) = http(web, "GET", "/api/models", &[], "");
    let report: ModelsReport = serde_json::from_str(&body).unwrap();
    let why = report.available.iter().find(|a| a.model == Model::IoUring).and_then(|a| a.unavailable.clone());
    assert!(why.as_deref().is_some_and(|w| w.contains("not allowed here")), "{body}");
    assert!(report.available.iter().filter(|a| a.model != Model::IoUring).all(|a| a.unavailable.is_none()), "{body}");
    let (code, body) = switch(web, "io_uring");
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("not allowed here") && body.contains("still on epoll"), "{body}");
    let mut a = s.joined();
    a.send("fine\n");
    let name = a.name();
    a.line_until(&format!("[{name}] fine"));
}

/// sigio with a realtime-signal queue of 2 (RLIMIT_SIGPENDING): a burst of talkers overflows it,
/// the kernel falls back to plain SIGIO, the loop rescans every fd (told: a wait with
/// `overflow`), and no line is lost. The waits are read from a recording (`--record` keeps every
/// event): a watcher's stream may fold them when the machine is busy.
#[test]
fn sigio_survives_a_signal_queue_overflow() {
    let rec = common::cli::temp_file("models", "sigio-overflow.rec");
    let mut s = Server::start_with("sigio", &["--record", rec.to_str().unwrap()], |cmd| {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit { rlim_cur: 2, rlim_max: 2 };
                if libc::setrlimit(libc::RLIMIT_SIGPENDING, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    const TALKERS: usize = 40;
    const LINES: usize = 20;
    let mut socks: Vec<TcpStream> = (0..TALKERS).map(|_| TcpStream::connect(s.chat).unwrap()).collect();
    let mut probe = Client::connect(s.chat);
    assert_eq!(probe.who_count(), TALKERS + 1);
    for round in 0..LINES {
        for (k, t) in socks.iter_mut().enumerate() {
            t.write_all(format!("talker {k} round {round}\n").as_bytes()).unwrap();
        }
    }
    let want = TALKERS * LINES;
    let (lines, eof) = read_all(&mut socks, want, Instant::now() + Duration::from_secs(30));
    assert!(lines.iter().all(|&n| n == want), "lines per client {lines:?}, want {want}");
    assert!(!eof.iter().any(|&e| e));
    common::cli::terminate(&mut s);
    let recording = muxscope_shared::record::read_file(&rec, 1 << 30).expect("the recording reads");
    let overflows = recording.events().filter(|e| matches!(e.body, muxscope_shared::EventBody::Wait { overflow: true, .. })).count();
    assert!(overflows > 0, "the signal queue never overflowed (RLIMIT_SIGPENDING 2, {TALKERS} talkers)");
}
