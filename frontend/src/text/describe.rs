//! The words of one event: a log line, with the syscall each model really made.

use crate::models;
use muxscope_shared::{CloseReason, CtlOp, EventBody, Interest, Model as IoModel, Role, ThreadOp, ThreadRole};

fn interest_flags(model: IoModel, i: Interest) -> String {
    match (model, i) {
        (IoModel::Poll, Interest::Read) => "POLLIN".into(),
        (IoModel::Poll, Interest::Write) => "POLLOUT".into(),
        (IoModel::Poll, Interest::ReadWrite) => "POLLIN|POLLOUT".into(),
        (IoModel::Select, Interest::Read) => "readfds".into(),
        (IoModel::Select, Interest::Write) => "writefds".into(),
        (IoModel::Select, Interest::ReadWrite) => "readfds+writefds".into(),
        (IoModel::Epoll | IoModel::EpollEt, Interest::Read) => "EPOLLIN".into(),
        (IoModel::Epoll | IoModel::EpollEt, Interest::Write) => "EPOLLOUT".into(),
        (IoModel::Epoll | IoModel::EpollEt, Interest::ReadWrite) => "EPOLLIN|EPOLLOUT".into(),
        // The other models keep what a socket waits for in the loop's own table.
        (_, i) => i.to_string(),
    }
}

/// What registering, changing or dropping an fd is in `model`: a syscall (epoll_ctl, sigio's
/// fcntls) or an edit of a table the loop keeps itself.
fn ctl_call(model: IoModel, op: CtlOp, fd: i32, interest: Option<Interest>) -> String {
    let et = if model == IoModel::EpollEt { "|EPOLLET" } else { "" };
    let flags = |i: Interest| interest_flags(model, i);
    match (model, op, interest) {
        (IoModel::Poll, CtlOp::Add, Some(i)) => format!("pollfd[] += {{fd {fd}, {}}}", flags(i)),
        (IoModel::Poll, CtlOp::Mod, Some(i)) => format!("pollfd[fd {fd}].events = {}", flags(i)),
        (IoModel::Poll, _, _) => format!("pollfd[] -= fd {fd}"),
        (IoModel::Select, CtlOp::Add | CtlOp::Mod, Some(i)) => format!("FD_SET({fd}, {})", flags(i)),
        (IoModel::Select, _, _) => format!("FD_CLR({fd})"),
        (IoModel::Epoll | IoModel::EpollEt, CtlOp::Add, Some(i)) => format!("epoll_ctl(ADD, {fd}, {}{et})", flags(i)),
        (IoModel::Epoll | IoModel::EpollEt, CtlOp::Mod, Some(i)) => format!("epoll_ctl(MOD, {fd}, {}{et})", flags(i)),
        (IoModel::Epoll | IoModel::EpollEt, _, _) => format!("epoll_ctl(DEL, {fd})"),
        (IoModel::Sigio, CtlOp::Add, Some(i)) => {
            format!("fcntl({fd}, F_SETOWN_EX), fcntl({fd}, F_SETSIG), fcntl({fd}, F_SETFL, O_ASYNC): armed, wants {}", flags(i))
        }
        // Signals come for reads and writes alike: only the loop's table changes.
        (IoModel::Sigio, CtlOp::Mod, Some(i)) => format!("wants[fd {fd}] = {} (no syscall)", flags(i)),
        (IoModel::Sigio, _, _) => format!("fcntl({fd}, F_SETFL, O_NONBLOCK): O_ASYNC off"),
        (IoModel::Nonblocking, CtlOp::Add, Some(i)) => format!("sweep[] += {{fd {fd}, {}}}", flags(i)),
        (IoModel::Nonblocking, CtlOp::Mod, Some(i)) => format!("sweep[fd {fd}] = {}", flags(i)),
        (IoModel::Nonblocking, _, _) => format!("sweep[] -= fd {fd}"),
        (IoModel::Blocking, CtlOp::Add, Some(i)) => format!("threads' fds += {{fd {fd}, {}}}", flags(i)),
        (IoModel::Blocking, CtlOp::Mod, Some(i)) => format!("threads' fds[fd {fd}] = {}", flags(i)),
        (IoModel::Blocking, _, _) => format!("threads' fds -= fd {fd}"),
        (IoModel::IoUring, CtlOp::Add, Some(i)) => format!("ring += {{fd {fd}, {}}}", flags(i)),
        (IoModel::IoUring, CtlOp::Mod, Some(i)) => format!("ring[fd {fd}] = {}", flags(i)),
        (IoModel::IoUring, _, _) => format!("ring -= fd {fd}"),
    }
}

/// A length of time in nanoseconds, in milliseconds: `1 ms`, `0.25 ms`.
pub fn ms(ns: u64) -> String {
    if ns.is_multiple_of(1_000_000) {
        format!("{} ms", ns / 1_000_000)
    } else {
        format!("{:.2} ms", ns as f64 / 1e6)
    }
}

fn thread_role(r: ThreadRole) -> (&'static str, &'static str) {
    match r {
        ThreadRole::Acceptor => ("acceptor", "accept4"),
        ThreadRole::Reader => ("reader", "recvfrom"),
        ThreadRole::Writer => ("writer", "send"),
    }
}

fn close_reason(r: CloseReason) -> &'static str {
    match r {
        CloseReason::Eof => "peer closed",
        CloseReason::Quit => "said quit",
        CloseReason::Error => "socket error",
        CloseReason::LineTooLong => "line too long",
        CloseReason::LineTimeout => "line never finished",
        CloseReason::OutputHardLimit => "slow consumer: hard output limit",
        CloseReason::OutputSoftLimit => "slow consumer: soft output limit",
        CloseReason::SelectorLimit => "select() cannot watch it (FD_SETSIZE)",
        CloseReason::MaxClients => "server full (--max-clients)",
        CloseReason::PerIpLimit => "too many from its address (--max-clients-per-ip)",
        CloseReason::FdExhausted => "out of file descriptors",
        CloseReason::Shutdown => "server stopping",
    }
}

/// One log line per event, with the syscall each model really made (`model` serves now).
pub fn describe(e: &EventBody, model: IoModel, name: Option<&str>) -> String {
    // Under io_uring the kernel did both phases: these are completions reaped, not calls made.
    let done = if model == IoModel::IoUring { "completion: " } else { "" };
    match e {
        EventBody::Ctl { op, fd, interest, error, .. } => {
            let call = ctl_call(model, *op, *fd, *interest);
            let who = name.map(|n| format!("  [{n}]")).unwrap_or_default();
            match error {
                Some(err) => format!("{call} refused: {err}"),
                None => format!("{call}{who}"),
            }
        }
        EventBody::Wait { timeout_ms, registered, ready_total, blocked_ns, scanned, rescan, overflow, .. } => {
            let t = if *timeout_ms < 0 { "∞".to_string() } else { format!("{timeout_ms} ms") };
            let scan = if models::kernel_scans(model) { format!(", scanned {scanned} fds") } else { String::new() };
            let rescan = match (*overflow, *rescan) {
                (true, n) => format!(", signal queue overflowed (plain SIGIO): rescanned all {n} fds"),
                (false, 0) => String::new(),
                (false, n) => format!(", +{n} rescanned (armed since the last wait, no signal yet)"),
            };
            format!(
                "{}({registered} fds, timeout {t}) → {ready_total} ready after {:.2} ms{scan}{rescan}",
                model.wait_call(),
                *blocked_ns as f64 / 1e6
            )
        }
        EventBody::Accept { fd, peer, listener } => format!("{done}accept4(fd {listener}) → fd {fd} from {peer}"),
        EventBody::AcceptEagain { listener } => format!("accept4(fd {listener}) → EAGAIN: the backlog is empty"),
        EventBody::Recv { fd, bytes, eof, would_block, lines } => {
            if *eof {
                format!("{done}recv(fd {fd}) → 0 (EOF)")
            } else if *would_block {
                format!("{done}recv(fd {fd}) → EAGAIN")
            } else {
                format!("{done}recv(fd {fd}) → {bytes} B, {lines} line(s)")
            }
        }
        EventBody::Send { fd, bytes, would_block, queued } => {
            let wb = if *would_block { " (kernel buffer full: EAGAIN)" } else { "" };
            let q = if *queued > 0 { format!(", {queued} B still queued") } else { String::new() };
            format!("{done}send(fd {fd}) → {bytes} B{wb}{q}")
        }
        EventBody::Sleep { ns } => format!("clock_nanosleep({}): the sweep found nothing to do", ms(*ns)),
        EventBody::UringEnter { submitted, wait_nr, blocked_ns } => {
            format!("io_uring_enter(to_submit {submitted}, min_complete {wait_nr}) → after {:.2} ms", *blocked_ns as f64 / 1e6)
        }
        EventBody::Thread { op: ThreadOp::Spawn, tid, fd, role } => {
            let (role, call) = thread_role(*role);
            format!("clone3() → tid {tid}: the {role} of fd {fd}, blocks in {call}")
        }
        EventBody::Thread { op: ThreadOp::Exit, tid, fd, role } => {
            format!("exit(tid {tid}): the {} of fd {fd} is done", thread_role(*role).0)
        }
        EventBody::Handover { from, to } => {
            format!("handover: {from} → {to} begins: the {from} table is torn down, the {to} table built; no connection leaves")
        }
        EventBody::Model { model: to, from } => {
            let from = from.map_or("?", |m| m.name());
            format!("model: {from} → {to}")
        }
        EventBody::Broadcast { from, name, recipients, bytes, text } => {
            format!("broadcast from fd {from} [{name}] to {recipients} clients, {bytes} B: {text}")
        }
        EventBody::Nick { fd, name, role } => {
            let via = if *role == Role::Web { " (browser)" } else { "" };
            format!("fd {fd} is now {name}{via}")
        }
        EventBody::Close { fd, reason, detail } => {
            let d = detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default();
            let who = name.map(|n| format!(" [{n}]")).unwrap_or_default();
            format!("close(fd {fd}){who} — {}{d}", close_reason(*reason))
        }
        EventBody::Gap { dropped, folded: false, .. } => format!("gap: {dropped} events dropped"),
        EventBody::Gap { dropped, folded: true, .. } => format!("gap: {dropped} events folded (counted, not described)"),
    }
}
