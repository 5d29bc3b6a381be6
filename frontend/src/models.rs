//! The five IO models of the tutorial muxscope grows out of, as the page's "IO models" panel
//! shows them: for each, what the process does in the two phases of a read (① the kernel waits
//! for the data, ② `recv` copies it to user space). The row of the model serving now is the
//! loop on screen, named after its wait call, and lights the phase it is in now. And what the
//! page says of each of the eight models it can serve with. Pure data, tested natively.

use crate::i18n::{Lang, Panel};
use muxscope_shared::{Family, Model as IoModel};

/// One of the tutorial's IO models: its name, what the process does in each phase, and whether
/// it is synchronous (the process waits for phase two) as the tutorial defines it.
#[derive(Clone, Debug, PartialEq)]
pub struct FamilyRow {
    /// A stable key (`data-model` on the row).
    pub key: &'static str,
    pub family: Family,
    pub name: &'static str,
    pub wait: String,
    pub copy: String,
    pub sync: bool,
    /// The model the loop on screen uses.
    pub this_loop: bool,
}

/// The five models, in the tutorial's order, with the row of `serving` (the loop's model, when
/// known) marked as this loop's.
pub fn io_models(serving: Option<IoModel>, lang: Lang) -> Vec<FamilyRow> {
    let zh = lang == Lang::Zh;
    // The multiplexing row names the poller serving now, or all four.
    let mux = match serving {
        Some(m) if m.is_poller() => m.wait_call().to_string(),
        _ if zh => "pselect6、poll 或 epoll_wait".to_string(),
        _ => "pselect6, poll or epoll_wait".to_string(),
    };
    let row = |key, family, name: Panel, (wait, copy): (&str, &str), sync| FamilyRow {
        key,
        family,
        name: name.t(lang),
        wait: wait.to_string(),
        copy: copy.to_string(),
        sync,
        this_loop: serving.is_some_and(|m| m.family() == family),
    };
    let say = |en: (&'static str, &'static str), cn: (&'static str, &'static str)| if zh { cn } else { en };
    let mux_wait = if zh {
        format!("阻塞在 {mux} 中，同时等待每个注册的 fd；它返回就绪列表")
    } else {
        format!("blocks in {mux}, on every registered fd at once; it returns the ready list")
    };
    let mux_copy = if zh {
        "对每个就绪的 fd 调用 recv 复制数据（不会等待：fd 已就绪），直到 EAGAIN"
    } else {
        "recv on each ready fd copies (it never waits: the fd is ready), until EAGAIN"
    };
    vec![
        row(
            "blocking",
            Family::Blocking,
            Panel::BlockingIo,
            say(
                ("blocks in recv until data arrives", "still blocked in recv while it copies"),
                ("阻塞在 recv 中，直到数据到达", "复制数据时仍阻塞在 recv 中"),
            ),
            true,
        ),
        row(
            "nonblocking",
            Family::Nonblocking,
            Panel::NonblockingIo,
            say(
                ("recv returns EAGAIN at once; the process tries again later (it polls)", "blocks in recv while it copies"),
                ("recv 立即返回 EAGAIN；进程过一会儿再试（轮询）", "复制数据时阻塞在 recv 中"),
            ),
            true,
        ),
        row("multiplexing", Family::Multiplexing, Panel::MultiplexingIo, (&mux_wait, mux_copy), true),
        row(
            "signal",
            Family::SignalDriven,
            Panel::SignalIo,
            say(
                ("does not wait: the kernel sends SIGIO when data is ready", "the handler's recv blocks while it copies"),
                ("不等待：数据准备好时内核发出 SIGIO 信号", "信号处理函数中的 recv 复制数据时阻塞"),
            ),
            true,
        ),
        row(
            "async",
            Family::Asynchronous,
            Panel::AsyncIo,
            say(
                ("does not wait: the kernel does both phases (aio, io_uring)", "does not wait: the kernel copies, then says it is done"),
                ("不等待：内核完成两个阶段（aio、io_uring）", "不等待：内核复制数据，完成后通知进程"),
            ),
            false,
        ),
    ]
}

/// Which phase cell of the loop's row to light for the page's current phase step (① the kernel
/// has data, ② recv copied it; ③, the fan-out, is the chat's own work, after both).
pub fn lit_phase(step: Option<u8>) -> Option<u8> {
    step.filter(|s| matches!(s, 1 | 2))
}

/// What the model serving now costs, in one line: for the pollers, the cost the wait bar's
/// "scanned" count shows.
pub fn model_note(model: Option<IoModel>, lang: Lang) -> &'static str {
    match lang {
        Lang::En => model_note_en(model),
        Lang::Zh => model_note_zh(model),
    }
}

fn model_note_en(model: Option<IoModel>) -> &'static str {
    let Some(model) = model else {
        return "Waiting for the server to say which model serves.";
    };
    match model {
        IoModel::Blocking => {
            "A thread per connection, each blocked in recvfrom on its own socket: simple code, but every connection costs a thread (its stack, and a context switch to wake it)."
        }
        IoModel::Nonblocking => {
            "One thread tries every socket with a non-blocking recv, and most calls return EAGAIN: each one is a syscall that found nothing. After a sweep that found nothing it naps 1 ms (with --spin it never does, and burns a core)."
        }
        IoModel::Select => {
            "select copies three fd bitmaps in and out on every call and the kernel scans all of them; it cannot hold an fd ≥ FD_SETSIZE (1024)."
        }
        IoModel::Poll => "poll has no fd limit, but it hands the kernel the whole fd array on every call and the kernel scans it all.",
        IoModel::Epoll => {
            "epoll keeps the interest list in the kernel and returns only ready fds: no scan, no limit. Level-triggered: an fd with unread data is reported again."
        }
        IoModel::EpollEt => {
            "epoll keeps the interest list in the kernel and returns only ready fds. Edge-triggered: it reports an fd once per new arrival, so the loop must read it to EAGAIN."
        }
        IoModel::Sigio => {
            "Each socket is armed with O_ASYNC and a realtime signal (F_SETSIG) that names its fd; the loop takes one signal per rt_sigtimedwait, no handler runs. Signals tell of changes, so reads drain to EAGAIN; when the signal queue overflows a plain SIGIO names nothing, and the loop rescans every fd."
        }
        IoModel::IoUring => {
            "The loop queues accept, recv and send on a ring and one io_uring_enter hands them to the kernel, which waits for the data and copies it: the loop only reaps completions."
        }
    }
}

/// The tutorial's words where it has them: 电平触发 (level-triggered), 数据准备, 就绪.
fn model_note_zh(model: Option<IoModel>) -> &'static str {
    let Some(model) = model else {
        return "等待服务器告知由哪个模型服务。";
    };
    match model {
        IoModel::Blocking => {
            "每个连接一个线程，各自阻塞在自己 socket 的 recvfrom 上：代码简单，但每个连接都要花一个线程（它的栈，以及唤醒它的一次上下文切换）。"
        }
        IoModel::Nonblocking => {
            "一个线程用非阻塞的 recv 逐个尝试每个 socket，大多数调用返回 EAGAIN：每一次都是一个一无所获的系统调用。一轮轮询什么也没找到后，它睡 1 ms（加 --spin 则从不休眠，占满一个核）。"
        }
        IoModel::Select => "select 每次调用都把三个 fd 位图复制进内核再复制出来，内核要扫描全部；它装不下 ≥ FD_SETSIZE（1024）的 fd。",
        IoModel::Poll => "poll 没有 fd 数量上限，但每次调用都把整个 fd 数组交给内核，内核要全部扫描一遍。",
        IoModel::Epoll => {
            "epoll 把关注列表保存在内核里，只返回就绪的 fd：不扫描，没有上限。电平触发（水平触发）：还有未读数据的 fd 会被再次报告。"
        }
        IoModel::EpollEt => {
            "epoll 把关注列表保存在内核里，只返回就绪的 fd。边缘触发：每次有新数据到达只报告一次，所以循环必须一直读到 EAGAIN。"
        }
        IoModel::Sigio => {
            "每个 socket 都设置了 O_ASYNC 和一个指明其 fd 的实时信号（F_SETSIG）；循环每次 rt_sigtimedwait 取一个信号，不运行信号处理函数。信号只报告变化，所以要一直读到 EAGAIN；信号队列溢出时，普通的 SIGIO 不指明 fd，循环就重新扫描每个 fd。"
        }
        IoModel::IoUring => {
            "循环把 accept、recv 和 send 排进环里，一次 io_uring_enter 把它们交给内核，由内核等待数据并复制：循环只收取完成事件。"
        }
    }
}

/// Whether the kernel looks at every registered fd on each wait (the linear scan).
pub fn kernel_scans(model: IoModel) -> bool {
    matches!(model, IoModel::Select | IoModel::Poll)
}

/// What the wait bar says of how the ready fds were found.
pub fn scan_note(model: Option<IoModel>, scanned: u32, rescan: u32, overflow: bool, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let found = match (model, zh) {
        (Some(m), false) if kernel_scans(m) => format!("the kernel scanned {scanned} fds to find them"),
        (Some(m), true) if kernel_scans(m) => format!("内核扫描了 {scanned} 个 fd 才找到它们"),
        (Some(IoModel::Sigio), false) => "one signal per wait, naming its fd".to_string(),
        (Some(IoModel::Sigio), true) => "每次等待一个信号，指明它的 fd".to_string(),
        (_, false) => "no scan: the kernel kept the ready list".to_string(),
        (_, true) => "不扫描：内核维护着就绪列表".to_string(),
    };
    match (overflow, rescan, zh) {
        (true, n, false) => format!("signal queue overflowed: rescanned all {n} fds"),
        (true, n, true) => format!("信号队列溢出：重新扫描了全部 {n} 个 fd"),
        (false, 0, _) => found,
        (false, n, false) => format!("{found}; +{n} rescanned (armed since the last wait)"),
        (false, n, true) => format!("{found}；+{n} 个重新扫描（上次等待之后才布置）"),
    }
}

/// What the stage calls the table of fds the model watches.
pub fn table_name(model: Option<IoModel>, lang: Lang) -> &'static str {
    let zh = lang == Lang::Zh;
    match model {
        None | Some(IoModel::Epoll | IoModel::EpollEt) => {
            if zh {
                "关注列表"
            } else {
                "interest list"
            }
        }
        Some(IoModel::Poll) => {
            if zh {
                "pollfd 数组"
            } else {
                "pollfd array"
            }
        }
        Some(IoModel::Select) => "fd_set",
        Some(IoModel::Sigio) => {
            if zh {
                "设置了 O_ASYNC 的 socket"
            } else {
                "sockets armed with O_ASYNC"
            }
        }
        Some(IoModel::Nonblocking) => {
            if zh {
                "轮询列表（用户空间）"
            } else {
                "sweep list (user space)"
            }
        }
        Some(IoModel::Blocking) => {
            if zh {
                "socket，每个一个线程"
            } else {
                "sockets, a thread each"
            }
        }
        Some(IoModel::IoUring) => {
            if zh {
                "环上的 socket"
            } else {
                "sockets on the ring"
            }
        }
    }
}

/// What the stage says of the loop's threads.
pub fn user_space_label(model: Option<IoModel>, lang: Lang) -> &'static str {
    match (model, lang) {
        (Some(IoModel::Blocking), Lang::En) => "user space · muxscope chat: a thread per connection",
        (_, Lang::En) => "user space · muxscope chat loop (one thread)",
        (Some(IoModel::Blocking), Lang::Zh) => "用户空间 · muxscope 群聊：每个连接一个线程",
        (_, Lang::Zh) => "用户空间 · muxscope 群聊事件循环（一个线程）",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_models_and_the_loop_is_the_row_of_its_family() {
        for model in IoModel::ALL {
            let m = io_models(Some(model), Lang::En);
            assert_eq!(m.iter().map(|r| r.key).collect::<Vec<_>>(), ["blocking", "nonblocking", "multiplexing", "signal", "async"]);
            let live: Vec<_> = m.iter().filter(|r| r.this_loop).collect();
            assert_eq!(live.len(), 1, "{model}");
            assert_eq!(live[0].family, model.family());
            if model.is_poller() {
                assert!(live[0].wait.contains(&format!("blocks in {},", model.wait_call())), "{model}: {}", live[0].wait);
            }
            // The tutorial's summary: the first four are synchronous, only async IO is not.
            assert_eq!(m.iter().filter(|r| !r.sync).map(|r| r.key).collect::<Vec<_>>(), ["async"]);
        }
        assert!(io_models(None, Lang::En).iter().all(|r| !r.this_loop), "no model known, no row lit");
    }

    #[test]
    fn the_lit_phase_follows_the_page_and_the_notes_follow_the_model() {
        assert_eq!(lit_phase(Some(1)), Some(1));
        assert_eq!(lit_phase(Some(2)), Some(2));
        assert_eq!(lit_phase(Some(3)), None);
        assert_eq!(lit_phase(None), None);
        assert!(model_note(Some(IoModel::Select), Lang::En).contains("1024"));
        assert!(model_note(Some(IoModel::Poll), Lang::En).contains("scans"));
        assert!(model_note(Some(IoModel::EpollEt), Lang::En).contains("EAGAIN"));
        assert!(model_note(Some(IoModel::Epoll), Lang::En).contains("Level-triggered"));
        for m in IoModel::ALL {
            assert_ne!(model_note(Some(m), Lang::En), model_note(None, Lang::En), "{m}");
        }
    }

    #[test]
    fn only_select_and_poll_scan_and_sigio_says_its_rescans() {
        let scanners: Vec<_> = IoModel::ALL.into_iter().filter(|m| kernel_scans(*m)).collect();
        assert_eq!(scanners, [IoModel::Select, IoModel::Poll]);
        assert!(scan_note(Some(IoModel::Poll), 12, 0, false, Lang::En).contains("scanned 12 fds"));
        assert!(!scan_note(Some(IoModel::Epoll), 12, 0, false, Lang::En).contains("12"));
        assert!(scan_note(Some(IoModel::Sigio), 1, 3, false, Lang::En).contains("+3 rescanned"));
        assert!(scan_note(Some(IoModel::Sigio), 0, 40, true, Lang::En).contains("all 40 fds"));
    }
}
