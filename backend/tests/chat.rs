//! The chat protocol, end to end, for every poller: real process, real sockets.

mod common;
use common::*;
use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn broadcast_reaches_everyone_including_the_sender() {
    for p in MODELS {
        let s = Server::start(p, &[]);
        let mut cs: Vec<Client> = (0..3).map(|_| s.joined()).collect();
        let name = cs[1].name();
        cs[1].send("hello world\n");
        for c in &mut cs {
            assert_eq!(c.line(), format!("[{name}] hello world"), "{p}");
        }
    }
}

#[test]
fn nick_renames_the_sender() {
    for p in MODELS {
        let s = Server::start(p, &[]);
        let mut a = s.joined();
        let mut b = s.joined();
        a.send("/nick alice\nhi bob\n");
        assert_eq!(b.line(), "[alice] hi bob", "{p}");
        assert_eq!(a.line(), "[alice] hi bob", "{p}");
        a.send("/nick has space\n");
        assert!(a.line().starts_with("* error: a nick is"), "{p}");
    }
}

#[test]
fn quit_closes_only_that_client() {
    for p in MODELS {
        let s = Server::start(p, &[]);
        let mut a = s.joined();
        let mut b = s.joined();
        a.send("bye all\nquit\nnever sent\n");
        assert_eq!(b.line(), format!("[{}] bye all", a.name()), "{p}");
        assert!(a.read_to_eof().lines().all(|l| !l.contains("never sent")), "{p}");
        b.send("still here\n");
        assert_eq!(b.line(), format!("[{}] still here", b.name()), "{p}");
        // Only b is left.
        assert_eq!(b.who_count(), 1, "{p}");
    }
}

#[test]
fn lines_split_across_reads_and_many_lines_in_one_read() {
    for p in MODELS {
        let s = Server::start(p, &[]);
        let mut a = s.joined();
        let name = a.name();
        a.send("hel");
        std::thread::sleep(Duration::from_millis(30));
        a.send("lo wor");
        std::thread::sleep(Duration::from_millis(30));
        a.send("ld\r");
        std::thread::sleep(Duration::from_millis(30));
        a.send("\n");
        assert_eq!(a.line(), format!("[{name}] hello world"), "{p}");
        a.send("one\ntwo\r\n\n   \nthree\n");
        assert_eq!(a.line(), format!("[{name}] one"), "{p}");
        assert_eq!(a.line(), format!("[{name}] two"), "{p}");
        assert_eq!(a.line(), format!("[{name}] three"), "{p}");
    }
}

#[test]
fn hostile_bytes_are_cleaned_before_fan_out() {
    for p in MODELS {
        let s = Server::start(p, &[]);
        let mut a = s.joined();
        let name = a.name();
        a.stream.write_all(b"a\x00b \x1b[2Jclear \xff\xfe end\n").unwrap();
        assert_eq!(a.line(), format!("[{name}] ab clear \u{fffd}\u{fffd} end"), "{p}");
    }
}

#[test]
fn a_client_reset_mid_broadcast_kills_nothing_and_spins_nothing() {
    for p in MODELS {
        let s = Server::start(p, &[]);
        let mut talker = s.joined();
        let mut watcher = s.joined();
        // Victims that never read, then vanish with a reset (SO_LINGER 0) while data flows.
        let victims: Vec<Client> = (0..20).map(|_| s.joined()).collect();
        let big = format!("{}\n", "x".repeat(3000));
        for _ in 0..200 {
            talker.send(&big);
        }
        for v in victims {
            socket2::SockRef::from(&v.stream).set_linger(Some(Duration::ZERO)).unwrap();
            drop(v);
        }
        for _ in 0..50 {
            talker.send(&big);
        }
        talker.send("after the storm\n");
        let want = format!("[{}] after the storm", talker.name());
        watcher.line_until(&want);
        talker.line_until(&want);
        let mut s = s;
        assert!(s.is_alive(), "{p}: server died");
        s.assert_idle(p);
        assert_eq!(watcher.who_count(), 2, "{p}");
    }
}

#[test]
fn a_thousand_clients_at_once() {
    raise_fd_limit();
    for p in MODELS {
        let s = Server::start(p, &[]);
        let mut cs: Vec<Client> = (0..1000).map(|_| s.client()).collect();
        for c in &mut cs {
            c.sync();
        }
        let name = cs[500].name();
        cs[500].send("to a thousand\n");
        let want = format!("[{name}] to a thousand");
        let t = Instant::now();
        for c in &mut cs {
            c.line_until(&want);
        }
        eprintln!("{p}: 1000 clients got the line in {:?}", t.elapsed());
        assert_eq!(cs[0].who_count(), 1000, "{p}");
    }
}

#[test]
fn select_refuses_fds_past_fd_setsize_and_keeps_serving() {
    raise_fd_limit();
    let s = Server::start("select", &[]);
    let mut ok = vec![];
    let mut refused = 0;
    for _ in 0..1100 {
        let mut c = s.client();
        c.send("/who\n");
        let l = c.line();
        if l.starts_with("* error: select() cannot watch fd") {
            assert!(l.contains("FD_SETSIZE=1024"), "{l}");
            assert!(c.closed_by_server(), "refused client not closed");
            refused += 1;
        } else {
            assert!(l.contains(" online: "), "{l}");
            ok.push(c);
        }
    }
    assert!(refused >= 70, "expected the clients past fd 1023 to be refused, got {refused}");
    assert!(ok.len() >= 1000, "{} served", ok.len());
    let name = ok[0].name();
    ok[0].send("still serving\n");
    let want = format!("[{name}] still serving");
    for c in &mut ok {
        c.line_until(&want);
    }
}

/// A private line mid-turn (`/who`'s answer) hands its asker's share of the turn over early;
/// the lines after it in the same turn must still reach everyone, a receiver whose socket is
/// full included (its share is then kept, not sent). Found by the cluster test, where the
/// relay's notice is such a private line.
#[test]
fn lines_after_a_private_answer_in_the_same_turn_reach_a_backed_up_receiver() {
    for poller in POLLERS {
        // Nobody is cut here: the slow reader reads only at the end.
        let s = Server::start(poller, &["--out-hard-limit", "100000000", "--out-soft-limit", "100000000"]);
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        sock.connect(&s.chat.into()).unwrap();
        let mut slow = Client::from_stream(sock.into());
        slow.sync();
        let mut talker = s.joined();
        let mut echo = Client::from_stream(talker.stream.try_clone().unwrap());
        let reader = std::thread::spawn(move || while echo.line() != "[t] last" {});
        talker.send("/nick t\n");
        // Fill the slow reader's socket and queue (6 MB), then one write, one turn: a line,
        // /who, and a line after it.
        let filler = "f".repeat(2000);
        for i in 0..3000 {
            talker.send(&format!("{i} {filler}\n"));
        }
        std::thread::sleep(Duration::from_millis(300));
        talker.send("before\n/who\nafter\nlast\n");
        reader.join().unwrap();
        for i in 0..3000 {
            assert_eq!(slow.line(), format!("[t] {i} {filler}"), "{poller}");
        }
        for want in ["[t] before", "[t] after", "[t] last"] {
            assert_eq!(slow.line(), want, "{poller}: the slow reader's share reaches the turn's end");
        }
    }
}
