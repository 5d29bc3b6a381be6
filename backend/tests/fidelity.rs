//! Fidelity: the event stream tells the truth about the chat's system calls, in every IO model.
//!
//! For every model in `MODELS`, a scripted chat session (clients join, name themselves, talk, and
//! leave by `quit`, by a half-close and by a reset; then back-pressure, a refusal and failing
//! calls, see below) runs while `strace` traces the chat's threads and a `/ws/events` watcher
//! records the stream. Both sides are reduced to steps (`fidelity_support/kinds.rs`) and compared
//! *exactly*: per kind, per outcome, bytes in all, and step by step (kind, outcome, fd, bytes)
//! in order; for the blocking model, whose threads interleave, fd by fd (thread by thread for
//! `thread`) as multisets. What each event stands for (x86-64 glibc):
//!
//! | event           | epoll, epoll-et   | poll, select        | nonblocking         | sigio             | blocking             |
//! |-----------------|-------------------|---------------------|---------------------|-------------------|----------------------|
//! | `wait`          | `epoll_wait` (\*)  | `poll`/`pselect6` (\*) | none (no call)    | `rt_sigtimedwait` | none (‡)             |
//! | `ctl` add       | `epoll_ctl`       | table edit          | table edit          | 3 `fcntl`s (†)    | table edit           |
//! | `ctl` mod       | `epoll_ctl`       | table edit          | table edit          | table edit        | table edit           |
//! | `ctl` del       | `epoll_ctl`       | table edit          | table edit          | `fcntl` F_SETFL   | table edit           |
//! | `accept`        | `accept4` → fd    | the same            | the same            | the same          | the acceptor's blocking `accept4` → fd |
//! | `accept_eagain` | `accept4` → EAGAIN (ends each batch) | the same | the same (most sweeps) | the same | never           |
//! | `recv`          | `recvfrom`        | the same            | the same (mostly EAGAIN) | the same     | `recvfrom`, reader threads |
//! | `send`          | `sendto`/`sendmsg` | the same           | the same            | the same          | the same (§)         |
//! | `close`         | `close`           | the same            | the same            | the same          | `close`, any thread  |
//! | `sleep`         | —                 | —                   | `clock_nanosleep`, the nap after a sweep that found nothing | — | — |
//! | `thread` spawn  | —                 | —                   | —                   | —                 | `clone3` (or `clone`) |
//! | `thread` exit   | —                 | —                   | —                   | —                 | the thread's `exit`  |
//!
//! io_uring: `uring_enter` ↔ `io_uring_enter` (each one, also the one that hands over a full
//! submission queue); `accept`, `recv` and `send` are completions, done by the kernel inside
//! those enters, so strace must see no `accept4`, `recvfrom` or `sendmsg` — except the one plain
//! `send` of a refused client's error line (its connection never joins the ring); `ctl` is a
//! table edit; `close` ↔ `close`. Its sockets are in blocking mode (the ring waits on them), so
//! the half-closing client's flush meets no EAGAIN, as in the blocking model. The window starts
//! after the first `io_uring_enter` that returned (the ring reads the waker; no `read` call).
//!
//! A recv is compared by outcome: bytes, 0 (EOF), EAGAIN, or an error such as the ECONNRESET of
//! the client that resets (its `close` is an event of its own); a send by bytes (all or part),
//! EAGAIN, or an error (EPIPE, ECONNRESET), the `* error:` line to a refused client included.
//! A failed `accept4` other than EAGAIN would be counted as an `accept` with no event.
//!
//! (\*) A call that a ptrace stop interrupts shows with result `?` (not counted) and the kernel's
//! `restart_syscall` that resumes it (counted): one call, one event.
//! (†) F_SETOWN_EX (the owner thread), F_SETSIG (the signal), F_SETFL with O_ASYNC; the first
//! is the step, and each of the three is counted against the `ctl add` events.
//! (‡) The chat-loop thread only keeps house: it sleeps in `rt_sigtimedwait`, which is no event.
//! (§) The non-blocking `sendto`/`sendmsg` (MSG_DONTWAIT) of whichever thread holds the room's
//! lock, and the writer threads' blocking `sendmsg`.
//!
//! A table edit is an event with no syscall (the table lives in user space; sigio's signals come
//! for reads and writes alike, so a mod tells the kernel nothing): the table shows it as `-/N`,
//! and strace must see no call of that kind. In every model each client the script joined must
//! be added once and deleted once, and each thread spawned must have exited.
//!
//! Not compared, because they are no event: the `read` that drains the waker eventfd (the
//! pollers and sigio; the non-blocking sweep never reads it, and the test checks that),
//! `setsockopt(TCP_NODELAY)` after an accept, `fcntl` other than sigio's (F_GETFD before each
//! close in debug builds; the blocking model's switch of sockets to blocking mode), `shutdown`
//! (how a blocking-model thread wakes another blocked on a socket it wants closed), futexes, the
//! blocking model's chat-loop thread, which only keeps house (it sleeps in `rt_sigtimedwait`),
//! and each thread's set-up and tear-down: mmap/munmap/mprotect/madvise, rt_sigprocmask,
//! sigaltstack, set_robust_list, rseq, prctl, sched_getaffinity; and the `open`, `read` and
//! `close` of a file a traced thread opened itself (glibc's malloc reads
//! /sys/devices/system/cpu/online when a new thread first allocates: a `close` that is no
//! connection's); under io_uring `getpeername` after each accept. strace traces only the calls in the
//! table, `read`, `fcntl`, `open`/`openat`, `shutdown` and `io_uring_enter`.
//! Events that are no syscall in any model: `broadcast` and `nick`, counted against the script
//! instead.
//!
//! The second part of the script (`fidelity_support/script.rs`): a talker's 3 KB lines fill the
//! sockets of three clients that stop reading (SO_RCVBUF 1024, MSS 536), so the sends go partial,
//! the rest is queued, write interest is armed (`ctl` MOD) and later lines are queued with no
//! call at all (and so no event). One of them resets with output owed (its recv fails with
//! ECONNRESET), one half-closes (on the EOF the flush meets EAGAIN) and then resets (under select
//! and nonblocking a send is tried and fails; epoll, poll and sigio see ERR|HUP and just close), and the
//! last reads it all (writes resume, then write interest is disarmed). While all four are in, a
//! fifth client hits `--max-clients` and is accepted, sent its error line, and closed. Under the
//! blocking model a client that owes output has a writer thread blocked in `sendmsg`, and only it
//! sends to that client: the half-closing client's flush is no call there (the script does not
//! wait for its EAGAIN), its writer's send fails when it resets, and the slow reader is written
//! by its writer's blocking sends; the client that resets with output owed has a reader blocked
//! in `recv` and a writer blocked in `sendmsg`, and the reset reaches whichever returns first
//! (the other then returns EOF or EPIPE). The counts are held to the same exactness.
//!
//! The window, per model:
//! - pollers and sigio: strace attaches to the `chat-loop` thread first, then the watcher: its
//!   subscription rings the waker, the loop wakes (unwatched: no event), `read`s the eventfd, and
//!   in its next turn queues the snapshot the watcher starts from, with seq S. So the events
//!   compared are those with seq > S, and the syscalls those after the first `read` of the waker
//!   fd. It ends when the loop is idle: its last wait is still blocked, so strace has no result
//!   for it and the watcher no event; a wait is only counted once it has returned.
//! - nonblocking: the sweep reads no waker and never blocks, so both sides are aligned at their
//!   first `accept` and their last step that is not an idle sweep's, keeping as many idle steps
//!   (`accept_eagain`, `sleep`) around them as the events have; the order check holds them step
//!   by step. It ends once nothing but idle sweeps came for a while.
//! - blocking: `strace -f -p <chat-loop>` attaches every thread of the process (strace does that
//!   for `-f -p`; the acceptor was started before any tracer could be) and follows the threads
//!   started later; kept are the calls of the chat-loop thread, the acceptor, and the threads they
//!   and theirs start (readers, writers), not the gateway's. Nothing the events tell happens
//!   before the first client, so the window is all of it; it ends when no event came for a while
//!   (the acceptor is blocked in `accept4`, with no result).
//!
//! Folding: the hub folds past 150 events per 40 ms tick, the loop past 512 per turn. The session
//! is small and paced (a few events per tick), and under the non-blocking model strace makes each
//! 1 ms nap 4 ms longer (`-e inject=clock_nanosleep:delay_exit=4000`: timing only, every call and
//! result the same), so nothing folds, and the test checks that: the seqs it saw run on from the
//! snapshot's with no hole but what a `gap` says it stands for, and with no gap every kind must
//! match exactly. Should a gap come anyway, the totals must still reconcile: the syscalls plus
//! the script's broadcasts and nicks equal the events received plus the gaps' `dropped` (with
//! table edits in the model, up to the gaps more, as their folded ones have no syscall).
//!
//! `MUXSCOPE_FIDELITY_KEEP=DIR` keeps each model's strace output and events in DIR.
//!
//! Skips (with a message) when strace is missing or may not attach, unless
//! `MUXSCOPE_REQUIRE_STRACE=1` (set by `cargo xtask test`), in which case it fails.

mod common;
mod fidelity_support;
use common::*;
use fidelity_support::session::{session, session_with, Extra};
use fidelity_support::strace::strace_binary;
use fidelity_support::table::table;
use muxscope_shared::{EventBody, Role};

const REQUIRE: &str = "MUXSCOPE_REQUIRE_STRACE";

#[test]
fn every_event_is_a_syscall_and_every_syscall_an_event() {
    let Some(strace) = strace_binary() else {
        skip_or_fail("strace is not installed (apt-get install strace)");
        return;
    };
    let mut rows = vec![];
    let mut failures = vec![];
    for m in MODELS {
        match session(&strace, m) {
            Ok(Some(r)) => {
                failures.extend(r.failures.iter().map(|f| format!("{m}: {f}")));
                rows.push((m, r));
            }
            Ok(None) => {
                skip_or_fail("strace cannot attach to the chat's threads (ptrace not permitted?)");
                return;
            }
            Err(e) => failures.push(format!("{m}: {e}")),
        }
    }
    eprintln!("{}", table(&rows));
    assert!(failures.is_empty(), "events and syscalls differ:\n{}\n{}", failures.join("\n"), table(&rows));
}

/// The cluster relay's fd is one more fd: its `recv`s (remote lines, PUBLISH replies, its own
/// lines coming back) and `send`s (PUBLISH) are held to strace exactly like a client's, inside
/// the same scripted session (epoll; the relay runs in every multiplexing model alike). A
/// second node on the same Redis says three lines before the script: they arrive on the relay
/// fd and are fanned out (three more broadcasts than the script's own).
#[test]
fn the_relay_fd_is_traced_like_any_other() {
    let Some(strace) = strace_binary() else {
        skip_or_fail("strace is not installed (apt-get install strace)");
        return;
    };
    if !common::redis::redis_available("MUXSCOPE_REQUIRE_REDIS") {
        return;
    }
    let redis = common::redis::Redis::start();
    let url = redis.url();
    // Heartbeats every 10 minutes: the traced loop must go quiet for the window to end.
    let quiet = ["--cluster", url.as_str(), "--cluster-heartbeat-ms", "600000"];
    let b = Server::start("epoll", &[&quiet[..], &["--node", "B"]].concat());
    let say = |w: &fidelity_support::watcher::Watcher| -> u64 {
        for i in 0..3 {
            talker_send(&b, i);
        }
        let mut from = 0;
        for i in 0..3 {
            let text = format!("remote line {i}");
            let (e, at) =
                w.wait_for("a remote line on the relay fd", from, |e| matches!(e, EventBody::Broadcast { text: t, .. } if *t == text));
            let EventBody::Broadcast { from: fd, name, .. } = e else { unreachable!() };
            assert!(name.ends_with("@B"), "a remote line is named NAME@NODE: {name}");
            assert_eq!(Some(fd), w.snapshot.fds.iter().find(|f| f.role == Role::Relay).map(|f| f.fd), "it came on the relay fd");
            from = at + 1;
        }
        3
    };
    let args = [&quiet[..], &["--node", "A"]].concat();
    let report = session_with(&strace, "epoll", Extra { tag: "-relay", args: &args, before: Some(&say) });
    let r = match report {
        Ok(Some(r)) => r,
        Ok(None) => return skip_or_fail("strace cannot attach to the chat's threads (ptrace not permitted?)"),
        Err(e) => panic!("{e}"),
    };
    let failures = r.failures.clone();
    let rows = [("epoll + relay", r)];
    eprintln!("{}", table(&rows));
    assert!(failures.is_empty(), "events and syscalls differ:\n{}", failures.join("\n"));
}

/// A line from node B's own client (a fresh connection each, so the closure needs no `mut`).
fn talker_send(b: &Server, i: usize) {
    let mut c = b.joined();
    c.send(&format!("/nick bea{i}\nremote line {i}\n"));
    c.line_until(&format!("[bea{i}] remote line {i}"));
}

fn skip_or_fail(why: &str) {
    if std::env::var(REQUIRE).as_deref() == Ok("1") {
        panic!("{why}, and {REQUIRE}=1 says this test must run");
    }
    eprintln!("SKIPPED fidelity test: {why} (set {REQUIRE}=1 to make this a failure)");
}
