//! The words of one event: a log line, with the syscall each model really made, in the page's
//! language (the syscalls, flags and tables keep their names in both).

use crate::i18n::Lang;
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
fn ctl_call(model: IoModel, op: CtlOp, fd: i32, interest: Option<Interest>, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
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
            let armed = if zh { "：已布置，关注" } else { ": armed, wants" };
            format!("fcntl({fd}, F_SETOWN_EX), fcntl({fd}, F_SETSIG), fcntl({fd}, F_SETFL, O_ASYNC){armed} {}", flags(i))
        }
        // Signals come for reads and writes alike: only the loop's table changes.
        (IoModel::Sigio, CtlOp::Mod, Some(i)) => {
            format!("wants[fd {fd}] = {} {}", flags(i), if zh { "（不是系统调用）" } else { "(no syscall)" })
        }
        (IoModel::Sigio, _, _) => format!("fcntl({fd}, F_SETFL, O_NONBLOCK){}", if zh { "：关闭 O_ASYNC" } else { ": O_ASYNC off" }),
        (IoModel::Nonblocking, CtlOp::Add, Some(i)) => format!("sweep[] += {{fd {fd}, {}}}", flags(i)),
        (IoModel::Nonblocking, CtlOp::Mod, Some(i)) => format!("sweep[fd {fd}] = {}", flags(i)),
        (IoModel::Nonblocking, _, _) => format!("sweep[] -= fd {fd}"),
        (IoModel::Blocking, CtlOp::Add, Some(i)) => format!("{} += {{fd {fd}, {}}}", threads_fds(zh), flags(i)),
        (IoModel::Blocking, CtlOp::Mod, Some(i)) => format!("{}[fd {fd}] = {}", threads_fds(zh), flags(i)),
        (IoModel::Blocking, _, _) => format!("{} -= fd {fd}", threads_fds(zh)),
        (IoModel::IoUring, CtlOp::Add, Some(i)) => format!("ring += {{fd {fd}, {}}}", flags(i)),
        (IoModel::IoUring, CtlOp::Mod, Some(i)) => format!("ring[fd {fd}] = {}", flags(i)),
        (IoModel::IoUring, _, _) => format!("ring -= fd {fd}"),
    }
}

/// The blocking model's table: the fds its threads hold.
fn threads_fds(zh: bool) -> &'static str {
    if zh {
        "线程的 fds"
    } else {
        "threads' fds"
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

fn thread_role(r: ThreadRole, lang: Lang) -> (&'static str, &'static str) {
    let zh = lang == Lang::Zh;
    match r {
        ThreadRole::Acceptor => (if zh { "接受线程" } else { "acceptor" }, "accept4"),
        ThreadRole::Reader => (if zh { "读线程" } else { "reader" }, "recvfrom"),
        ThreadRole::Writer => (if zh { "写线程" } else { "writer" }, "send"),
    }
}

fn close_reason(r: CloseReason, lang: Lang) -> &'static str {
    match (r, lang) {
        (CloseReason::Eof, Lang::En) => "peer closed",
        (CloseReason::Eof, Lang::Zh) => "对端已关闭",
        (CloseReason::Quit, Lang::En) => "said quit",
        (CloseReason::Quit, Lang::Zh) => "说了 quit",
        (CloseReason::Error, Lang::En) => "socket error",
        (CloseReason::Error, Lang::Zh) => "socket 出错",
        (CloseReason::LineTooLong, Lang::En) => "line too long",
        (CloseReason::LineTooLong, Lang::Zh) => "一行太长",
        (CloseReason::LineTimeout, Lang::En) => "line never finished",
        (CloseReason::LineTimeout, Lang::Zh) => "一行一直没有结束",
        (CloseReason::OutputHardLimit, Lang::En) => "slow consumer: hard output limit",
        (CloseReason::OutputHardLimit, Lang::Zh) => "慢消费者：达到输出硬上限",
        (CloseReason::OutputSoftLimit, Lang::En) => "slow consumer: soft output limit",
        (CloseReason::OutputSoftLimit, Lang::Zh) => "慢消费者：达到输出软上限",
        (CloseReason::SelectorLimit, Lang::En) => "select() cannot watch it (FD_SETSIZE)",
        (CloseReason::SelectorLimit, Lang::Zh) => "select() 无法监视它（FD_SETSIZE）",
        (CloseReason::MaxClients, Lang::En) => "server full (--max-clients)",
        (CloseReason::MaxClients, Lang::Zh) => "服务器已满（--max-clients）",
        (CloseReason::PerIpLimit, Lang::En) => "too many from its address (--max-clients-per-ip)",
        (CloseReason::PerIpLimit, Lang::Zh) => "来自同一地址的连接太多（--max-clients-per-ip）",
        (CloseReason::FdExhausted, Lang::En) => "out of file descriptors",
        (CloseReason::FdExhausted, Lang::Zh) => "文件描述符用尽",
        (CloseReason::Shutdown, Lang::En) => "server stopping",
        (CloseReason::Shutdown, Lang::Zh) => "服务器正在停止",
    }
}

/// One log line per event, with the syscall each model really made (`model` serves now).
pub fn describe(e: &EventBody, model: IoModel, name: Option<&str>, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    // Under io_uring the kernel did both phases: these are completions reaped, not calls made.
    let done = match (model == IoModel::IoUring, zh) {
        (false, _) => "",
        (true, false) => "completion: ",
        (true, true) => "完成：",
    };
    match e {
        EventBody::Ctl { op, fd, interest, error, .. } => {
            let call = ctl_call(model, *op, *fd, *interest, lang);
            let who = name.map(|n| format!("  [{n}]")).unwrap_or_default();
            match (error, zh) {
                (Some(err), false) => format!("{call} refused: {err}"),
                (Some(err), true) => format!("{call} 被拒绝：{err}"),
                (None, _) => format!("{call}{who}"),
            }
        }
        EventBody::Wait { timeout_ms, registered, ready_total, blocked_ns, scanned, rescan, overflow, .. } => {
            let t = if *timeout_ms < 0 { "∞".to_string() } else { format!("{timeout_ms} ms") };
            let (call, ms) = (model.wait_call(), *blocked_ns as f64 / 1e6);
            let scans = models::kernel_scans(model);
            if zh {
                let scan = if scans { format!("，扫描了 {scanned} 个 fd") } else { String::new() };
                let rescan = match (*overflow, *rescan) {
                    (true, n) => format!("，信号队列溢出（普通 SIGIO）：重新扫描了全部 {n} 个 fd"),
                    (false, 0) => String::new(),
                    (false, n) => format!("，+{n} 个重新扫描（上次等待后才布置，还没有信号）"),
                };
                format!("{call}({registered} fds, timeout {t}) → {ms:.2} ms 后 {ready_total} 个就绪{scan}{rescan}")
            } else {
                let scan = if scans { format!(", scanned {scanned} fds") } else { String::new() };
                let rescan = match (*overflow, *rescan) {
                    (true, n) => format!(", signal queue overflowed (plain SIGIO): rescanned all {n} fds"),
                    (false, 0) => String::new(),
                    (false, n) => format!(", +{n} rescanned (armed since the last wait, no signal yet)"),
                };
                format!("{call}({registered} fds, timeout {t}) → {ready_total} ready after {ms:.2} ms{scan}{rescan}")
            }
        }
        EventBody::Accept { fd, peer, listener } => {
            let from = if zh { "来自" } else { "from" };
            format!("{done}accept4(fd {listener}) → fd {fd} {from} {peer}")
        }
        EventBody::AcceptEagain { listener } => {
            let empty = if zh { "：连接队列已空" } else { ": the backlog is empty" };
            format!("accept4(fd {listener}) → EAGAIN{empty}")
        }
        EventBody::Recv { fd, bytes, eof, would_block, lines } => {
            if *eof {
                format!("{done}recv(fd {fd}) → 0 (EOF)")
            } else if *would_block {
                format!("{done}recv(fd {fd}) → EAGAIN")
            } else if zh {
                format!("{done}recv(fd {fd}) → {bytes} B，{lines} 行")
            } else {
                format!("{done}recv(fd {fd}) → {bytes} B, {lines} line(s)")
            }
        }
        EventBody::Send { fd, bytes, would_block, queued } => {
            let (wb, q) = match zh {
                false => (
                    if *would_block { " (kernel buffer full: EAGAIN)" } else { "" },
                    if *queued > 0 { format!(", {queued} B still queued") } else { String::new() },
                ),
                true => (
                    if *would_block { "（内核缓冲区已满：EAGAIN）" } else { "" },
                    if *queued > 0 { format!("，还有 {queued} B 在排队") } else { String::new() },
                ),
            };
            format!("{done}send(fd {fd}) → {bytes} B{wb}{q}")
        }
        EventBody::Sleep { ns } => {
            let why = if zh { "：这一轮轮询什么也没找到" } else { ": the sweep found nothing to do" };
            format!("clock_nanosleep({}){why}", ms(*ns))
        }
        EventBody::UringEnter { submitted, wait_nr, blocked_ns } => {
            let (call, ms) = (format!("io_uring_enter(to_submit {submitted}, min_complete {wait_nr})"), *blocked_ns as f64 / 1e6);
            if zh {
                format!("{call} → {ms:.2} ms 后返回")
            } else {
                format!("{call} → after {ms:.2} ms")
            }
        }
        EventBody::Thread { op: ThreadOp::Spawn, tid, fd, role } => {
            let (role, call) = thread_role(*role, lang);
            if zh {
                format!("clone3() → tid {tid}：fd {fd} 的{role}，阻塞在 {call}")
            } else {
                format!("clone3() → tid {tid}: the {role} of fd {fd}, blocks in {call}")
            }
        }
        EventBody::Thread { op: ThreadOp::Exit, tid, fd, role } => {
            let role = thread_role(*role, lang).0;
            if zh {
                format!("exit(tid {tid})：fd {fd} 的{role}结束了")
            } else {
                format!("exit(tid {tid}): the {role} of fd {fd} is done")
            }
        }
        EventBody::Handover { from, to } => {
            if zh {
                format!("交接：{from} → {to} 开始：拆掉 {from} 的表，建好 {to} 的表；没有连接断开")
            } else {
                format!("handover: {from} → {to} begins: the {from} table is torn down, the {to} table built; no connection leaves")
            }
        }
        EventBody::Model { model: to, from } => {
            let from = from.map_or("?", |m| m.name());
            if zh {
                format!("模型：{from} → {to}")
            } else {
                format!("model: {from} → {to}")
            }
        }
        EventBody::Broadcast { from, name, recipients, bytes, text } => {
            if zh {
                format!("广播：来自 fd {from} [{name}]，发给 {recipients} 个客户端，{bytes} B：{text}")
            } else {
                format!("broadcast from fd {from} [{name}] to {recipients} clients, {bytes} B: {text}")
            }
        }
        EventBody::Nick { fd, name, role } => {
            let web = *role == Role::Web;
            if zh {
                format!("fd {fd} 现在叫 {name}{}", if web { "（浏览器）" } else { "" })
            } else {
                format!("fd {fd} is now {name}{}", if web { " (browser)" } else { "" })
            }
        }
        EventBody::Close { fd, reason, detail } => {
            let d = detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default();
            let who = name.map(|n| format!(" [{n}]")).unwrap_or_default();
            format!("close(fd {fd}){who} — {}{d}", close_reason(*reason, lang))
        }
        EventBody::Relay { relay } => relay_line(relay, lang),
        EventBody::Gap { dropped, folded, .. } => match (folded, zh) {
            (false, false) => format!("gap: {dropped} events dropped"),
            (true, false) => format!("gap: {dropped} events folded (counted, not described)"),
            (false, true) => format!("缺口：丢弃了 {dropped} 个事件"),
            (true, true) => format!("缺口：折叠了 {dropped} 个事件（已计数，未描述）"),
        },
    }
}

/// `HH:MM:SS UTC` of a wall-clock time in ms since the epoch.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000 % 86_400;
    format!("{:02}:{:02}:{:02} UTC", s / 3600, s / 60 % 60, s % 60)
}

/// The cluster relay's state in one line: the link, the nodes up, what was not relayed.
fn relay_line(r: &muxscope_shared::RelayStatus, lang: Lang) -> String {
    use muxscope_shared::RelayState;
    let zh = lang == Lang::Zh;
    let nodes: Vec<String> = r.nodes.iter().map(|n| format!("{} ({})", n.name, n.clients)).collect();
    let lost = r.lost_down + r.lost_slow;
    match (r.state, zh) {
        (RelayState::Connecting, false) => format!("relay connecting to {} (node {})", r.redis, r.node),
        (RelayState::Connecting, true) => format!("中继正在连接 {}（节点 {}）", r.redis, r.node),
        (RelayState::Up, false) => format!("relay up: subscribed on {}; {} nodes: {}", r.redis, nodes.len(), nodes.join(", ")),
        (RelayState::Up, true) => format!("中继已连接：已在 {} 订阅；{} 个节点：{}", r.redis, nodes.len(), nodes.join("、")),
        (RelayState::Down, false) => {
            format!("relay down since {}: {}; {lost} lines not relayed", clock(r.since_ms), r.error.as_deref().unwrap_or("no connection"))
        }
        (RelayState::Down, true) => {
            format!("中继自 {} 起断开：{}；{lost} 行未转发", clock(r.since_ms), r.error.as_deref().unwrap_or("未连接"))
        }
    }
}
