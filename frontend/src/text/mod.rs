//! The page's words with values in them. The reducer keeps what happened as typed values (log
//! entries, notes, the phase, a switch, the history's size); this module says them in the
//! page's [`Lang`], each message one function that matches on it (the fixed words are keys in
//! `crate::i18n`). Syscall names stay as they are in both languages. Compiled natively, so
//! every line is tested in both languages without a browser.

mod describe;
mod frame;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_lang;

use crate::history::HistoryStats;
use crate::i18n::Lang;
use crate::state::{Banner, FoldWhy, LogEntry, LogLine, Note, Played, Source, StreamDown};
pub use describe::{clock, describe, ms};
pub use frame::*;
use muxscope_shared::{EventBody, Model as IoModel};

/// A log line's class (its colour) and text.
pub fn log_line(line: &LogLine, lang: Lang) -> (&'static str, String) {
    match line {
        LogLine::Entry(e) => entry(e, lang),
        LogLine::Note(n) => note(&n.note, lang),
    }
}

fn entry(e: &LogEntry, lang: Lang) -> (&'static str, String) {
    let zh = lang == Lang::Zh;
    match e {
        LogEntry::Event(p) => match &p.event.body {
            EventBody::Gap { dropped, folded, resync, .. } => gap(*dropped, *folded, *resync, p.event.seq == 0, lang),
            body => {
                // An fd the picture did not know is named by its number.
                let number = match body {
                    EventBody::Ctl { fd, .. } | EventBody::Close { fd, .. } => Some(format!("fd {fd}")),
                    _ => None,
                };
                (body.kind(), describe(body, p.model, p.name.as_deref().or(number.as_deref()), lang))
            }
        },
        LogEntry::Snapshot { fds, model, .. } => {
            let model = model.map_or(if zh { "未知" } else { "unknown" }, |m| m.name());
            let text = if zh {
                format!("快照：已注册 {fds} 个 fd，{model} 模型")
            } else {
                format!("snapshot: {fds} fds registered, {model} model")
            };
            ("sys", text)
        }
        LogEntry::Switch { from, to, fds, seen_in_snapshot, .. } => {
            let said = describe(&EventBody::Model { model: *to, from: Some(*from) }, *to, None, lang);
            let text = match (lang, *seen_in_snapshot) {
                (Lang::En, seen) => format!("{said}, {fds} fds handed over{}", if seen { " (seen in a snapshot)" } else { "" }),
                (Lang::Zh, seen) => format!("{said}，移交了 {fds} 个 fd{}", if seen { "（在快照中看到）" } else { "" }),
            };
            ("model", text)
        }
    }
}

fn gap(dropped: u64, folded: bool, resync: bool, by_gateway: bool, lang: Lang) -> (&'static str, String) {
    let then = match (lang, resync) {
        (Lang::En, true) => "a snapshot follows",
        (Lang::En, false) => "the totals stay exact",
        (Lang::Zh, true) => "随后会有一个快照",
        (Lang::Zh, false) => "总数依然准确",
    };
    if !folded {
        let text = match lang {
            Lang::En => {
                format!("⚠ {dropped} events dropped (a full event queue, or one turn made more than it can hand over); counted, {then}")
            }
            Lang::Zh => format!("⚠ 丢弃了 {dropped} 个事件（事件队列已满，或一轮循环产生的事件多于它能交出的）；已计数，{then}"),
        };
        return ("gap", text);
    }
    // The gateway's gaps have no seq; the loop's are events of its own.
    let text = match (lang, by_gateway) {
        (Lang::En, true) => format!("×{dropped} events folded by the gateway (faster than a browser can draw); {then}"),
        (Lang::En, false) => {
            format!("×{dropped} events folded by the loop (a flooded turn describes its first few hundred and counts the rest); {then}")
        }
        (Lang::Zh, true) => format!("×{dropped} 个事件被网关折叠（比浏览器能画的更快）；{then}"),
        (Lang::Zh, false) => format!("×{dropped} 个事件被循环折叠（事件过多的一轮只描述前几百个，其余只计数）；{then}"),
    };
    ("fold", text)
}

fn note(n: &Note, lang: Lang) -> (&'static str, String) {
    let zh = lang == Lang::Zh;
    match n {
        Note::Connected => ("sys", if zh { "已连接到事件流" } else { "connected to the event stream" }.into()),
        Note::Lost => ("sys", if zh { "事件流中断；正在重连…" } else { "event stream lost; reconnecting…" }.into()),
        Note::Closed { reason, retry_s } => ("sys", stream_down(&StreamDown { reason: reason.clone(), retry_s: *retry_s }, lang)),
        Note::Folded { n, why } => {
            let why = match (why, zh) {
                (FoldWhy::TooFast, false) => "faster than it can be drawn",
                (FoldWhy::QueueFull, false) => "queue full",
                (FoldWhy::TooFast, true) => "来得比画得快",
                (FoldWhy::QueueFull, true) => "队列已满",
            };
            ("fold", if zh { format!("×{n} 个事件被折叠（{why}）") } else { format!("×{n} events folded ({why})") })
        }
        Note::Evicted { events } => {
            let text = if zh {
                format!("历史已满：最早的 {events} 个事件被舍弃（页面只保留内存上限内放得下的）")
            } else {
                format!("history full: its oldest {events} events were let go (the page keeps what fits in its memory bound)")
            };
            ("gap", text)
        }
        Note::Opened { events } => (
            "sys",
            if zh {
                format!("已打开录制文件：{events} 项，暂停在开头")
            } else {
                format!("recording opened: {events} items, paused at its start")
            },
        ),
    }
}

/// Why the event stream is down, and when the page tries again.
pub fn stream_down(d: &StreamDown, lang: Lang) -> String {
    match (lang, d.reason.is_empty()) {
        (Lang::En, true) => format!("event stream lost; trying again in {} s", d.retry_s),
        (Lang::En, false) => format!("event stream closed by the server: {} (trying again in {} s)", d.reason, d.retry_s),
        (Lang::Zh, true) => format!("事件流中断；{} 秒后重试", d.retry_s),
        (Lang::Zh, false) => format!("服务器关闭了事件流：{}（{} 秒后重试）", d.reason, d.retry_s),
    }
}

/// The phase line for the event that set the phase ([`crate::state::Scene::phase`]), with the
/// tutorial's names for the two phases in Chinese.
pub fn phase(p: &Played, lang: Lang) -> String {
    let model = p.model;
    let zh = lang == Lang::Zh;
    match &p.event.body {
        EventBody::Wait { ready, ready_total, .. } => {
            let fds: Vec<String> = ready.iter().take(6).map(|r| format!("fd {} {}", r.fd, r.flags)).collect();
            let more = if *ready_total as usize > fds.len() { " …" } else { "" };
            let (call, fds) = (model.wait_call(), fds.join(", "));
            if zh {
                format!("① 数据准备阶段：内核有数据了，{call} 返回了 {ready_total} 个就绪 fd（{fds}{more}）")
            } else {
                format!("① the kernel has data: {call} returned {ready_total} ready ({fds}{more})")
            }
        }
        EventBody::Recv { fd, bytes, eof, would_block, .. } => {
            let name = p.name.clone().unwrap_or_else(|| format!("fd {fd}"));
            match lang {
                Lang::En if *bytes > 0 && model == IoModel::IoUring => {
                    format!("② the kernel copied {bytes} bytes into the loop's buffer: recv(fd {fd}) completed ({name})")
                }
                Lang::En if *bytes > 0 => format!("② recv(fd {fd}) copied {bytes} bytes from the kernel to user space ({name})"),
                Lang::En if *eof => format!("② recv(fd {fd}) returned 0: the peer closed"),
                Lang::En if *would_block && model == IoModel::Nonblocking => {
                    format!("② recv(fd {fd}) → EAGAIN: nothing there yet; the next sweep tries again")
                }
                Lang::En => format!("② recv(fd {fd}) → EAGAIN: drained, nothing more in the kernel"),
                Lang::Zh if *bytes > 0 && model == IoModel::IoUring => {
                    format!("② 内核把 {bytes} 字节复制进了循环的缓冲区：recv(fd {fd}) 已完成（{name}）")
                }
                Lang::Zh if *bytes > 0 => format!("② 内核空间复制回用户空间：recv(fd {fd}) 复制了 {bytes} 字节（{name}）"),
                Lang::Zh if *eof => format!("② recv(fd {fd}) 返回 0：对端已关闭"),
                Lang::Zh if *would_block && model == IoModel::Nonblocking => {
                    format!("② recv(fd {fd}) → EAGAIN：还没有数据；下一轮轮询再试")
                }
                Lang::Zh => format!("② recv(fd {fd}) → EAGAIN：已读空，内核里没有更多数据"),
            }
        }
        EventBody::UringEnter { submitted, wait_nr, blocked_ns } => {
            let ms = *blocked_ns as f64 / 1e6;
            if zh {
                format!("① io_uring_enter 把 {submitted} 个操作交给内核，等了 {ms:.1} ms 直到 {wait_nr} 个完成")
            } else {
                format!("① io_uring_enter handed the kernel {submitted} operations and waited {ms:.1} ms for {wait_nr} to complete")
            }
        }
        EventBody::Broadcast { name, text, .. } => {
            if zh {
                format!("③ 扇出：\"[{name}] {text}\" 只编码一次，要发给每个客户端")
            } else {
                format!("③ fan-out: \"[{name}] {text}\" encoded once, owed to every client")
            }
        }
        other => describe(other, model, p.name.as_deref(), lang),
    }
}

/// The phase line before the first phase.
pub fn phases(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "① wait for readiness → ② recv copies the data → ③ fan-out to every client",
        Lang::Zh => "① 数据准备阶段：等待就绪 → ② 内核空间复制回用户空间：recv 复制数据 → ③ 扇出给每个客户端",
    }
}

/// The fan-out's line, as the chat shows it.
pub fn fanout_line(p: &Played) -> String {
    match &p.event.body {
        EventBody::Broadcast { name, text, .. } => format!("[{name}] {text}"),
        _ => String::new(),
    }
}

/// What the header says while a recording is on show.
pub fn showing(source: &Source, name: &str, lang: Lang) -> String {
    match (source, lang) {
        (Source::Replay { .. }, Lang::En) => format!("replay of {name}"),
        (_, Lang::En) => format!("recording {name}"),
        (Source::Replay { .. }, Lang::Zh) => format!("{name} 的回放"),
        (_, Lang::Zh) => format!("录制文件 {name}"),
    }
}

/// The chat pane's line while a recording is on show (its input is off).
pub fn chat_read_only(source: &Source, name: &str, lang: Lang) -> String {
    match (source, lang) {
        (Source::Replay { .. }, Lang::En) => {
            format!("* this is a replay of {name}: the chat below is what was said then, and nothing can be sent")
        }
        (_, Lang::En) => format!("* showing the recording {name}: nothing can be sent (✕ live returns to the loop)"),
        (Source::Replay { .. }, Lang::Zh) => format!("* 这是 {name} 的回放：下面的群聊是当时说的话，不能发送消息"),
        (_, Lang::Zh) => format!("* 正在显示录制文件 {name}：不能发送消息（点 ✕ 实时 回到事件循环）"),
    }
}

pub fn banner(b: &Banner, lang: Lang) -> String {
    match lang {
        Lang::En => format!("{} → {}: {} fds handed over, every connection kept", b.from, b.to, b.fds),
        Lang::Zh => format!("{} → {}：移交了 {} 个 fd，所有连接都保留", b.from, b.to, b.fds),
    }
}

/// The history's status line: "history: 41 min, 2.1 M events, 38 MiB".
pub fn history(s: &HistoryStats, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let secs = s.span_ns / 1_000_000_000;
    let span = match (secs, zh) {
        (0..60, false) => format!("{secs} s"),
        (60..7200, false) => format!("{} min", secs / 60),
        (_, false) => format!("{:.1} h", secs as f64 / 3600.0),
        (0..60, true) => format!("{secs} 秒"),
        (60..7200, true) => format!("{} 分钟", secs / 60),
        (_, true) => format!("{:.1} 小时", secs as f64 / 3600.0),
    };
    let items = match s.items {
        0..10_000 => s.items.to_string(),
        10_000..1_000_000 => format!("{} k", s.items / 1000),
        n => format!("{:.1} M", n as f64 / 1e6),
    };
    let mib = s.bytes as f64 / (1024.0 * 1024.0);
    let bytes = if mib < 10.0 { format!("{mib:.1} MiB") } else { format!("{mib:.0} MiB") };
    if zh {
        let evicted = if s.evicted > 0 { format!("（最早的 {} 个已舍弃）", s.evicted) } else { String::new() };
        format!("历史：{span}，{items} 个事件，{bytes}{evicted}")
    } else {
        let evicted = if s.evicted > 0 { format!(" (oldest {} let go)", s.evicted) } else { String::new() };
        format!("history: {span}, {items} events, {bytes}{evicted}")
    }
}
