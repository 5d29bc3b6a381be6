//! The frame's lines with values in them: the controls' queue, the wait bar, the stage's
//! labels, the timeline's status, the chat's and the file buttons' messages.

use crate::i18n::Lang;

/// How far behind live the picture is.
pub fn behind(queued: usize, behind_s: f64, lang: Lang) -> String {
    match lang {
        Lang::En => format!("{queued} queued · {behind_s:.1} s behind live"),
        Lang::Zh => format!("{queued} 个排队 · 落后实时 {behind_s:.1} 秒"),
    }
}

/// The wait bar's "slept 1.2 ms → 3 ready".
pub fn slept(blocked_ns: u64, lang: Lang) -> String {
    let ms = blocked_ns as f64 / 1e6;
    match lang {
        Lang::En => format!(" slept {ms:.1} ms → "),
        Lang::Zh => format!(" 睡了 {ms:.1} ms → "),
    }
}

pub fn ready(n: u32, lang: Lang) -> String {
    match lang {
        Lang::En => format!("{n} ready"),
        Lang::Zh => format!("{n} 个就绪"),
    }
}

/// The non-blocking model's nap after an empty sweep (`ms` already written, e.g. `1 ms`).
pub fn sleeps(ms: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("sleeps {ms} after a sweep that found nothing"),
        Lang::Zh => format!("一轮轮询什么也没找到后睡 {ms}"),
    }
}

/// What the server counted (all EAGAINs), beside what the page saw.
pub fn server_counts(rate: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("(the server counts {rate}/s)"),
        Lang::Zh => format!("（服务器统计 {rate}/秒）"),
    }
}

pub fn sampled(rate: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("({rate} /s in the events sent here)"),
        Lang::Zh => format!("（发到本页的事件中 {rate}/秒）"),
    }
}

/// The blocking model's threads, by role.
pub fn thread_roles(acceptors: usize, readers: usize, writers: usize, lang: Lang) -> String {
    match lang {
        Lang::En => format!("{acceptors} acceptor · {readers} readers · {writers} writers"),
        Lang::Zh => format!("{acceptors} 个接受线程 · {readers} 个读线程 · {writers} 个写线程"),
    }
}

/// The stage's thread count: "threads: 5 (1 acceptor, 2 readers, 2 writers)".
pub fn thread_count(total: usize, (a, r, w): (usize, usize, usize), lang: Lang) -> String {
    match lang {
        Lang::En => format!("threads: {total} ({a} acceptor, {r} readers, {w} writers)"),
        Lang::Zh => format!("线程：{total}（{a} 个接受线程，{r} 个读线程，{w} 个写线程）"),
    }
}

/// The kernel box's label: its model, the table it watches and how many fds that holds.
pub fn kernel_label(model: &str, table: &str, fds: usize, lang: Lang) -> String {
    match lang {
        Lang::En => format!("kernel · {model} · {table}: {fds} fds"),
        Lang::Zh => format!("内核空间 · {model} · {table}：{fds} 个 fd"),
    }
}

pub fn owed(bytes: u64, lang: Lang) -> String {
    match lang {
        Lang::En => format!("{bytes} B owed in output queues"),
        Lang::Zh => format!("输出队列中还欠 {bytes} B"),
    }
}

/// The timeline bar's status while nothing is hovered.
pub fn timeline_status(events: usize, cut: usize, lanes: usize, lang: Lang) -> String {
    match lang {
        Lang::En => {
            let cut = if cut > 0 { format!(" (+{cut} left out)") } else { String::new() };
            format!("{events} events{cut} · {lanes} lanes · wheel: zoom · drag: pan · click a mark: go there")
        }
        Lang::Zh => {
            let cut = if cut > 0 { format!("（另有 {cut} 个未画）") } else { String::new() };
            format!("{events} 个事件{cut} · {lanes} 条泳道 · 滚轮：缩放 · 拖动：平移 · 点击标记：跳过去")
        }
    }
}

/// The compare table's RTT tooltip.
pub fn rtt_title(samples: u64, lang: Lang) -> String {
    match lang {
        Lang::En => format!("RTT: median of {samples} browser lines"),
        Lang::Zh => format!("RTT：{samples} 行浏览器消息的中位数"),
    }
}

/// The chat pane while it joins as `nick`.
pub fn joining(nick: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("joining as {nick}…"),
        Lang::Zh => format!("正在以 {nick} 的身份加入…"),
    }
}

/// The chat socket closed (`why` is the server's reason, or the fixed "connection closed").
pub fn chat_closed(why: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("chat: {why}"),
        Lang::Zh => format!("群聊：{why}"),
    }
}

/// A recording the page will not open: its size and the bound.
pub fn too_big(mib: usize, max_mib: usize, lang: Lang) -> String {
    match lang {
        Lang::En => format!("it is {mib} MiB; the page opens recordings up to {max_mib} MiB"),
        Lang::Zh => format!("它有 {mib} MiB；本页面最多打开 {max_mib} MiB 的录制文件"),
    }
}

/// An export of a long history holds its newest part (a trace is ~700 bytes an event).
pub fn exported_newest(shown: u64, all: u64, lang: Lang) -> String {
    match lang {
        Lang::En => format!(
            "the trace holds the newest {shown} of the {all} events kept (save a recording and run `muxscope export FILE` for all of it)"
        ),
        Lang::Zh => {
            format!("追踪文件只含最新的 {shown} 个事件（共保留 {all} 个；要导出全部，请保存录制文件并运行 `muxscope export FILE`）")
        }
    }
}

pub fn cannot_open(name: &str, why: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("cannot open {name}: {why}"),
        Lang::Zh => format!("无法打开 {name}：{why}"),
    }
}

pub fn cannot_load_replay(name: &str, why: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("cannot load the replay of {name}: {why}"),
        Lang::Zh => format!("无法加载 {name} 的回放：{why}"),
    }
}

pub fn export_failed(why: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("export failed: {why}"),
        Lang::Zh => format!("导出失败：{why}"),
    }
}

pub fn save_failed(why: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("save failed: {why}"),
        Lang::Zh => format!("保存失败：{why}"),
    }
}

/// An fd node's tooltip: its number, role, name, interest and the bytes it is owed.
pub fn fd_title(fd: i32, role: &str, name: &str, interest: &str, queued: u64, lang: Lang) -> String {
    match lang {
        Lang::En => {
            let queued = if queued > 0 { format!(" · {queued} B queued") } else { String::new() };
            format!("fd {fd} · {role} · {name} · interest {interest}{queued}")
        }
        Lang::Zh => {
            let queued = if queued > 0 { format!(" · {queued} B 在排队") } else { String::new() };
            format!("fd {fd} · {role} · {name} · 关注 {interest}{queued}")
        }
    }
}

/// A wait's slice on the timeline's loop lane.
pub fn wait_slice(ready: u32, lang: Lang) -> String {
    match lang {
        Lang::En => format!("wait → {ready}"),
        Lang::Zh => format!("等待 → {ready}"),
    }
}

/// The timeline canvas's corner note: lanes with no row, events left out of the window.
pub fn canvas_note(hidden: usize, cut: usize, lang: Lang) -> Vec<String> {
    let mut note = Vec::new();
    match lang {
        Lang::En => {
            if hidden > 0 {
                note.push(format!("+{hidden} lanes hidden"));
            }
            if cut > 0 {
                note.push(format!("{cut} events left out"));
            }
        }
        Lang::Zh => {
            if hidden > 0 {
                note.push(format!("另有 {hidden} 条泳道未显示"));
            }
            if cut > 0 {
                note.push(format!("{cut} 个事件未画出"));
            }
        }
    }
    note
}
