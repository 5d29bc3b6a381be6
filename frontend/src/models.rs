//! The five IO models of the tutorial muxscope grows out of, as the page's "IO models" panel
//! shows them: for each, what the process does in the two phases of a read (① the kernel waits
//! for the data, ② `recv` copies it to user space). The row of the model serving now is the
//! loop on screen, named after its wait call, and lights the phase it is in now. And what the
//! page says of each of the eight models it can serve with. Pure data, tested natively.

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
pub fn io_models(serving: Option<IoModel>) -> Vec<FamilyRow> {
    // The multiplexing row names the poller serving now, or all four.
    let mux = match serving {
        Some(m) if m.is_poller() => m.wait_call().to_string(),
        _ => "pselect6, poll or epoll_wait".to_string(),
    };
    let row = |key, family, name, wait: &str, copy: &str, sync| FamilyRow {
        key,
        family,
        name,
        wait: wait.to_string(),
        copy: copy.to_string(),
        sync,
        this_loop: serving.is_some_and(|m| m.family() == family),
    };
    vec![
        row(
            "blocking",
            Family::Blocking,
            "blocking IO",
            "blocks in recv until data arrives",
            "still blocked in recv while it copies",
            true,
        ),
        row(
            "nonblocking",
            Family::Nonblocking,
            "non-blocking IO",
            "recv returns EAGAIN at once; the process tries again later (it polls)",
            "blocks in recv while it copies",
            true,
        ),
        row(
            "multiplexing",
            Family::Multiplexing,
            "IO multiplexing",
            &format!("blocks in {mux}, on every registered fd at once; it returns the ready list"),
            "recv on each ready fd copies (it never waits: the fd is ready), until EAGAIN",
            true,
        ),
        row(
            "signal",
            Family::SignalDriven,
            "signal-driven IO",
            "does not wait: the kernel sends SIGIO when data is ready",
            "the handler's recv blocks while it copies",
            true,
        ),
        row(
            "async",
            Family::Asynchronous,
            "asynchronous IO",
            "does not wait: the kernel does both phases (aio, io_uring)",
            "does not wait: the kernel copies, then says it is done",
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
pub fn model_note(model: Option<IoModel>) -> &'static str {
    let Some(model) = model else {
        return "Waiting for the server to say which model serves.";
    };
    match model {
        IoModel::Blocking => "A thread per connection, each blocked in recvfrom on its own socket: simple code, but every connection costs a thread (its stack, and a context switch to wake it).",
        IoModel::Nonblocking => "One thread tries every socket with a non-blocking recv, and most calls return EAGAIN: each one is a syscall that found nothing. After a sweep that found nothing it naps 1 ms (with --spin it never does, and burns a core).",
        IoModel::Select => "select copies three fd bitmaps in and out on every call and the kernel scans all of them; it cannot hold an fd ≥ FD_SETSIZE (1024).",
        IoModel::Poll => "poll has no fd limit, but it hands the kernel the whole fd array on every call and the kernel scans it all.",
        IoModel::Epoll => "epoll keeps the interest list in the kernel and returns only ready fds: no scan, no limit. Level-triggered: an fd with unread data is reported again.",
        IoModel::EpollEt => "epoll keeps the interest list in the kernel and returns only ready fds. Edge-triggered: it reports an fd once per new arrival, so the loop must read it to EAGAIN.",
        IoModel::Sigio => "Each socket is armed with O_ASYNC and a realtime signal (F_SETSIG) that names its fd; the loop takes one signal per rt_sigtimedwait, no handler runs. Signals tell of changes, so reads drain to EAGAIN; when the signal queue overflows a plain SIGIO names nothing, and the loop rescans every fd.",
        IoModel::IoUring => "The loop queues accept, recv and send on a ring and one io_uring_enter hands them to the kernel, which waits for the data and copies it: the loop only reaps completions.",
    }
}

/// Whether the kernel looks at every registered fd on each wait (the linear scan).
pub fn kernel_scans(model: IoModel) -> bool {
    matches!(model, IoModel::Select | IoModel::Poll)
}

/// What the wait bar says of how the ready fds were found.
pub fn scan_note(model: Option<IoModel>, scanned: u32, rescan: u32, overflow: bool) -> String {
    let found = match model {
        Some(m) if kernel_scans(m) => format!("the kernel scanned {scanned} fds to find them"),
        Some(IoModel::Sigio) => "one signal per wait, naming its fd".to_string(),
        _ => "no scan: the kernel kept the ready list".to_string(),
    };
    match (overflow, rescan) {
        (true, n) => format!("signal queue overflowed: rescanned all {n} fds"),
        (false, 0) => found,
        (false, n) => format!("{found}; +{n} rescanned (armed since the last wait)"),
    }
}

/// What the stage calls the table of fds the model watches.
pub fn table_name(model: Option<IoModel>) -> &'static str {
    match model {
        None | Some(IoModel::Epoll | IoModel::EpollEt) => "interest list",
        Some(IoModel::Poll) => "pollfd array",
        Some(IoModel::Select) => "fd_set",
        Some(IoModel::Sigio) => "sockets armed with O_ASYNC",
        Some(IoModel::Nonblocking) => "sweep list (user space)",
        Some(IoModel::Blocking) => "sockets, a thread each",
        Some(IoModel::IoUring) => "sockets on the ring",
    }
}

/// What the stage says of the loop's threads.
pub fn user_space_label(model: Option<IoModel>) -> &'static str {
    match model {
        Some(IoModel::Blocking) => "user space · muxscope chat: a thread per connection",
        _ => "user space · muxscope chat loop (one thread)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_models_and_the_loop_is_the_row_of_its_family() {
        for model in IoModel::ALL {
            let m = io_models(Some(model));
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
        assert!(io_models(None).iter().all(|r| !r.this_loop), "no model known, no row lit");
    }

    #[test]
    fn the_lit_phase_follows_the_page_and_the_notes_follow_the_model() {
        assert_eq!(lit_phase(Some(1)), Some(1));
        assert_eq!(lit_phase(Some(2)), Some(2));
        assert_eq!(lit_phase(Some(3)), None);
        assert_eq!(lit_phase(None), None);
        assert!(model_note(Some(IoModel::Select)).contains("1024"));
        assert!(model_note(Some(IoModel::Poll)).contains("scans"));
        assert!(model_note(Some(IoModel::EpollEt)).contains("EAGAIN"));
        assert!(model_note(Some(IoModel::Epoll)).contains("Level-triggered"));
        for m in IoModel::ALL {
            assert_ne!(model_note(Some(m)), model_note(None), "{m}");
        }
    }

    #[test]
    fn only_select_and_poll_scan_and_sigio_says_its_rescans() {
        let scanners: Vec<_> = IoModel::ALL.into_iter().filter(|m| kernel_scans(*m)).collect();
        assert_eq!(scanners, [IoModel::Select, IoModel::Poll]);
        assert!(scan_note(Some(IoModel::Poll), 12, 0, false).contains("scanned 12 fds"));
        assert!(!scan_note(Some(IoModel::Epoll), 12, 0, false).contains("12"));
        assert!(scan_note(Some(IoModel::Sigio), 1, 3, false).contains("+3 rescanned"));
        assert!(scan_note(Some(IoModel::Sigio), 0, 40, true).contains("all 40 fds"));
    }
}
