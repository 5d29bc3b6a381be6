//! The event log's words: one line per event, with the syscall each backend really made.

use muxscope_shared::{CloseReason, CtlOp, EventBody, Interest, Role};

pub fn wait_call(poller: &str) -> &'static str {
    match poller {
        "poll" => "poll",
        "select" => "select",
        _ => "epoll_wait",
    }
}

fn interest_flags(poller: &str, i: Interest) -> &'static str {
    match (poller, i) {
        ("poll", Interest::Read) => "POLLIN",
        ("poll", Interest::Write) => "POLLOUT",
        ("poll", Interest::ReadWrite) => "POLLIN|POLLOUT",
        ("select", Interest::Read) => "readfds",
        ("select", Interest::Write) => "writefds",
        ("select", Interest::ReadWrite) => "readfds+writefds",
        (_, Interest::Read) => "EPOLLIN",
        (_, Interest::Write) => "EPOLLOUT",
        (_, Interest::ReadWrite) => "EPOLLIN|EPOLLOUT",
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

/// One log line per event, with the syscall each backend really made.
pub fn describe(e: &EventBody, poller: &str, name: Option<&str>) -> String {
    let et = if poller == "epoll-et" { "|EPOLLET" } else { "" };
    match e {
        EventBody::Ctl { op, fd, interest, error, .. } => {
            let call = match (poller, op, interest) {
                ("poll", CtlOp::Add, Some(i)) => format!("pollfd[] += {{fd {fd}, {}}}", interest_flags(poller, *i)),
                ("poll", CtlOp::Mod, Some(i)) => format!("pollfd[fd {fd}].events = {}", interest_flags(poller, *i)),
                ("poll", _, _) => format!("pollfd[] -= fd {fd}"),
                ("select", CtlOp::Add, Some(i)) | ("select", CtlOp::Mod, Some(i)) => {
                    format!("FD_SET({fd}, {})", interest_flags(poller, *i))
                }
                ("select", _, _) => format!("FD_CLR({fd})"),
                (_, CtlOp::Add, Some(i)) => format!("epoll_ctl(ADD, {fd}, {}{et})", interest_flags(poller, *i)),
                (_, CtlOp::Mod, Some(i)) => format!("epoll_ctl(MOD, {fd}, {}{et})", interest_flags(poller, *i)),
                (_, _, _) => format!("epoll_ctl(DEL, {fd})"),
            };
            let who = name.map(|n| format!("  [{n}]")).unwrap_or_default();
            match error {
                Some(err) => format!("{call} refused: {err}"),
                None => format!("{call}{who}"),
            }
        }
        EventBody::Wait { timeout_ms, registered, ready_total, blocked_ns, scanned, .. } => {
            let t = if *timeout_ms < 0 { "∞".to_string() } else { format!("{timeout_ms} ms") };
            let scan = match poller {
                "poll" | "select" => format!(", scanned {scanned} fds"),
                _ => String::new(),
            };
            format!(
                "{}({registered} fds, timeout {t}) → {ready_total} ready after {:.2} ms{scan}",
                wait_call(poller),
                *blocked_ns as f64 / 1e6
            )
        }
        EventBody::Accept { fd, peer, listener } => format!("accept4(fd {listener}) → fd {fd} from {peer}"),
        EventBody::Recv { fd, bytes, eof, would_block, lines } => {
            if *eof {
                format!("recv(fd {fd}) → 0 (EOF)")
            } else if *would_block {
                format!("recv(fd {fd}) → EAGAIN")
            } else {
                format!("recv(fd {fd}) → {bytes} B, {lines} line(s)")
            }
        }
        EventBody::Send { fd, bytes, would_block, queued } => {
            let wb = if *would_block { " (kernel buffer full: EAGAIN)" } else { "" };
            let q = if *queued > 0 { format!(", {queued} B still queued") } else { String::new() };
            format!("send(fd {fd}) → {bytes} B{wb}{q}")
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
