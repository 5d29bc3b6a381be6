//! The scripted chat session the fidelity test traces.

use super::watcher::{Accepted, Watcher};
use crate::common::{Client, Server};
use muxscope_shared::{CloseReason, CtlOp, EventBody, Interest, Model};
use socket2::{Domain, SockRef, Socket, Type};
use std::io::Read;
use std::net::Shutdown;
use std::time::Duration;

/// Between steps of the script: keeps every 40 ms tick far under the hub's 150 events.
const PACE: Duration = Duration::from_millis(30);
/// `--max-clients`: the most the script has connected at once, so one more is refused.
pub const MAX_CLIENTS: usize = 4;
/// Lines talked once the slow clients' sockets are full (~36 KB then owed to each).
const EXTRA_LINES: usize = 12;

/// What the script must produce besides syscalls: broadcasts and nicks; and how many clients
/// joined (each is added to the table once and deleted once).
#[derive(Default)]
pub struct Script {
    pub broadcasts: u64,
    pub nicks: u64,
    pub joins: u64,
}

/// The scripted session. Every step waits for its effect (lines read back, or the loop's close
/// event), then pauses a little, so each tick of the hub holds a handful of events.
pub fn script(s: &Server, w: &Watcher, model: Model) -> Script {
    let mut out = Script { joins: 4, ..Script::default() };
    let pace = || std::thread::sleep(PACE);
    let mut a = s.joined();
    pace();
    let mut b = s.joined();
    pace();
    let mut c = s.joined();
    pace();
    let (fa, fb, fc) = (w.fd_of(&a), w.fd_of(&b), w.fd_of(&c));

    a.send("/nick ann\n");
    a.sync();
    out.nicks += 1;
    pace();

    a.send("hello everyone\n");
    for x in [&mut a, &mut b, &mut c] {
        x.line_until("[ann] hello everyone");
    }
    out.broadcasts += 1;
    pace();

    // Two lines in one segment: one recv (and the EAGAIN one under epoll-et), two broadcasts,
    // one send to each.
    b.send("one\ntwo\n");
    let bn = b.name();
    for x in [&mut a, &mut b, &mut c] {
        x.line_until(&format!("[{bn}] one"));
        x.line_until(&format!("[{bn}] two"));
    }
    out.broadcasts += 2;
    pace();

    c.send("/help\n");
    assert!(c.line().starts_with("* commands:"));
    pace();

    // Leaves by `quit`.
    a.send("quit\n");
    assert!(a.closed_by_server(), "quit did not close");
    w.wait_close(fa, CloseReason::Quit);
    pace();

    // Leaves by a half-close right after a last line: it still gets that line, then EOF.
    b.send("leaving\n");
    b.stream.shutdown(Shutdown::Write).unwrap();
    let rest = b.read_to_eof();
    assert!(rest.contains(&format!("[{bn}] leaving\n")), "half-closed client lost its last line: {rest:?}");
    c.line_until(&format!("[{bn}] leaving"));
    out.broadcasts += 1;
    w.wait_close(fb, CloseReason::Eof);
    pace();

    // Leaves by a reset: SO_LINGER 0, then close, sends an RST instead of a FIN.
    SockRef::from(&c.stream).set_linger(Some(Duration::ZERO)).unwrap();
    drop(c);
    w.wait_close(fc, CloseReason::Error);
    pace();

    // A late joiner (it may get a reused fd number) says something and half-closes with
    // nothing owed.
    let mut d = s.joined();
    let fd_d = w.fd_of(&d);
    d.send("last words\n");
    d.line_until(&format!("[{}] last words", d.name()));
    out.broadcasts += 1;
    pace();
    d.stream.shutdown(Shutdown::Write).unwrap();
    let mut rest = vec![];
    let _ = d.stream.read_to_end(&mut rest);
    w.wait_close(fd_d, CloseReason::Eof);
    pace();

    pressure(s, w, &mut out, model);
    out
}

/// A client that will stop reading: SO_RCVBUF 1024 (2304 once the kernel doubles it) and, in its
/// SYN, an MSS of 536. The small MSS matters as much as the small buffer: on loopback the MSS is
/// ~64 KB and the kernel sizes the server's send buffer from it (~3.9 MB, `tcp_sndbuf_expand`),
/// so filling it would take hundreds of lines; with MSS 536 it is ~69 KB, full after ~28 KB.
fn slow_client(s: &Server) -> Client {
    let sock = Socket::new(Domain::for_address(s.chat), Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(1024).unwrap();
    sock.set_tcp_mss(536).unwrap();
    sock.connect(&s.chat.into()).unwrap();
    let mut c = Client::from_stream(sock.into());
    c.sync();
    c
}

/// Reads as a slow client does, 2 KB every 10 ms, up to `end`.
fn trickle(c: &mut Client, end: &str) {
    let (mut got, mut buf) = (Vec::new(), [0u8; 2048]);
    while !got.ends_with(end.as_bytes()) {
        let n = c.stream.read(&mut buf).expect("the slow client's read");
        assert!(n > 0, "EOF before {end:?}");
        got.extend_from_slice(&buf[..n]);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A `ctl` MOD of `a` to `interest`.
fn is_mod(e: &EventBody, a: Accepted, interest: Interest) -> bool {
    matches!(e, EventBody::Ctl { op: CtlOp::Mod, fd, interest: Some(i), .. }
        if *fd == a.fd && *i == interest)
}

/// Back-pressure, a refusal, and calls that fail. A talker talks 3 KB lines to three clients
/// that do not read: `slow` (reads it all at the end), `f` (resets) and `g` (half-closes, then
/// resets). Their sockets fill: a partial send, the rest queued, write interest armed; later
/// lines are only queued (no call, so no event).
///
/// The blocking model differs in one step: a client that owes output has a writer thread,
/// blocked in `sendmsg` until the kernel takes the front of its queue, and it alone sends to
/// that client. So when `g` half-closes, nobody tries a flush (no `send` EAGAIN to wait for); its
/// writer's blocked send fails once `g` resets, and `slow` is written by its writer's blocking
/// sends as it reads. Every other step is the same.
fn pressure(s: &Server, w: &Watcher, out: &mut Script, model: Model) {
    let pace = || std::thread::sleep(PACE);
    let mut t = s.joined();
    let ft = w.fd_of(&t);
    t.send("/nick talker\n");
    t.sync();
    out.nicks += 1;
    pace();
    let mut slow = slow_client(s);
    pace();
    let f = slow_client(s);
    pace();
    let g = slow_client(s);
    pace();
    let (fs, ff, fg) = (w.fd_of(&slow), w.fd_of(&f), w.fd_of(&g));
    out.joins += 4;

    // MAX_CLIENTS are in: one more is accepted, sent why, and closed (accept, send, close).
    let mut r = s.client();
    let why = r.line();
    assert!(why.starts_with("* error: server is full"), "{why}");
    assert!(r.closed_by_server(), "the refused client was not closed");
    w.wait_close(w.fd_of(&r), CloseReason::MaxClients);
    pace();

    // Lines until all three have write interest armed, and EXTRA_LINES more for their queues.
    let fill = "x".repeat(3000);
    let (mut last, mut armed) = (String::new(), None);
    for i in 0.. {
        assert!(i < 80, "the slow clients' sockets never filled");
        last = format!("{i:02} {fill}");
        t.send(&format!("{last}\n"));
        t.line_until(&format!("[talker] {last}"));
        out.broadcasts += 1;
        pace();
        if armed.is_none() {
            let at = |a: Accepted| w.find(a.at, |e| is_mod(e, a, Interest::ReadWrite));
            if let (Some(ctl_at), Some(_), Some(_)) = (at(fs), at(ff), at(fg)) {
                armed = Some((i, ctl_at));
            }
        }
        if armed.is_some_and(|(a, _)| i >= a + EXTRA_LINES) {
            break;
        }
    }

    // f resets (RST) with output owed: the next recv (ECONNRESET) or send (EPIPE) fails.
    SockRef::from(&f.stream).set_linger(Some(Duration::ZERO)).unwrap();
    drop(f);
    w.wait_close(ff, CloseReason::Error);
    pace();

    // g half-closes with output owed: on the EOF the loop tries to flush (EAGAIN) and keeps only
    // write interest. Then it resets: epoll and poll say ERR|HUP and the loop closes it; select
    // can only say "writable", so a send is tried, and fails.
    g.stream.shutdown(Shutdown::Write).unwrap();
    w.wait_for("g closing", fg.at, |e| is_mod(e, fg, Interest::Write));
    if !matches!(model, Model::Blocking | Model::IoUring) {
        w.wait_for("g's flush meeting EAGAIN", fg.at, |e| matches!(e, EventBody::Send { fd, would_block: true, .. } if *fd == fg.fd));
    }
    pace();
    SockRef::from(&g.stream).set_linger(Some(Duration::ZERO)).unwrap();
    drop(g);
    w.wait_for("close of g", fg.at, |e| matches!(e, EventBody::Close { fd, .. } if *fd == fg.fd));
    pace();

    // slow reads it all, a little at a time: on each EPOLLOUT a write takes what fits (partial)
    // and the next meets EAGAIN, until the queue is empty and write interest goes.
    trickle(&mut slow, &format!("[talker] {last}\n"));
    let from = armed.map_or(fs.at, |(_, i)| i);
    w.wait_for("slow disarmed", from, |e| is_mod(e, fs, Interest::Read));
    pace();
    for (c, a) in [(&mut slow, fs), (&mut t, ft)] {
        c.send("quit\n");
        assert!(c.closed_by_server(), "quit did not close");
        w.wait_close(a, CloseReason::Quit);
        pace();
    }
}
