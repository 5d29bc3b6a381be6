//! The five IO models of the tutorial muxscope grows out of, as the page's "IO models" panel
//! shows them: for each, what the process does in the two phases of a read (① the kernel waits
//! for the data, ② `recv` copies it to user space). The row for IO multiplexing is the loop on
//! screen, named after its poller, and lights the phase it is in now. Pure data, tested natively.

use crate::state::wait_call;

/// One IO model: its name, what the process does in each phase, and whether it is synchronous
/// (the process waits for phase two) as the tutorial defines it.
#[derive(Clone, Debug, PartialEq)]
pub struct IoModel {
    /// A stable key (`data-model` on the row).
    pub key: &'static str,
    pub name: &'static str,
    pub wait: String,
    pub copy: String,
    pub sync: bool,
    /// The model the loop on screen uses.
    pub this_loop: bool,
}

/// The five models, in the tutorial's order, for a loop on `poller`.
pub fn io_models(poller: &str) -> Vec<IoModel> {
    let call = wait_call(poller);
    let row = |key, name, wait: &str, copy: &str, sync, this_loop| IoModel {
        key,
        name,
        wait: wait.to_string(),
        copy: copy.to_string(),
        sync,
        this_loop,
    };
    vec![
        row("blocking", "blocking IO", "blocks in recv until data arrives", "still blocked in recv while it copies", true, false),
        row(
            "nonblocking",
            "non-blocking IO",
            "recv returns EAGAIN at once; the process tries again later (it polls)",
            "blocks in recv while it copies",
            true,
            false,
        ),
        row(
            "multiplexing",
            "IO multiplexing",
            &format!("blocks in {call}, on every registered fd at once; it returns the ready list"),
            "recv on each ready fd copies (it never waits: the fd is ready), until EAGAIN",
            true,
            true,
        ),
        row(
            "signal",
            "signal-driven IO",
            "does not wait: the kernel sends SIGIO when data is ready",
            "the handler's recv blocks while it copies",
            true,
            false,
        ),
        row(
            "async",
            "asynchronous IO",
            "does not wait: the kernel does both phases (aio, io_uring)",
            "does not wait: the kernel copies, then says it is done",
            false,
            false,
        ),
    ]
}

/// Which phase cell of the loop's row to light for the page's current phase step (① the kernel
/// has data, ② recv copied it; ③, the fan-out, is the chat's own work, after both).
pub fn lit_phase(step: Option<u8>) -> Option<u8> {
    step.filter(|s| matches!(s, 1 | 2))
}

/// What makes the pollers differ, in one line for the loop on `poller`: the cost the wait bar's
/// "scanned" count shows.
pub fn poller_note(poller: &str) -> &'static str {
    match poller {
        "select" => "select copies three fd bitmaps in and out on every call and the kernel scans all of them; it cannot hold an fd ≥ FD_SETSIZE (1024).",
        "poll" => "poll has no fd limit, but it hands the kernel the whole fd array on every call and the kernel scans it all.",
        "epoll-et" => "epoll keeps the interest list in the kernel and returns only ready fds. Edge-triggered: it reports an fd once per new arrival, so the loop must read it to EAGAIN.",
        _ => "epoll keeps the interest list in the kernel and returns only ready fds: no scan, no limit. Level-triggered: an fd with unread data is reported again.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_models_and_the_loop_is_multiplexing_on_its_own_poller() {
        for (poller, call) in [("epoll", "epoll_wait"), ("epoll-et", "epoll_wait"), ("poll", "poll"), ("select", "select")] {
            let m = io_models(poller);
            assert_eq!(m.iter().map(|r| r.key).collect::<Vec<_>>(), ["blocking", "nonblocking", "multiplexing", "signal", "async"]);
            let live: Vec<_> = m.iter().filter(|r| r.this_loop).collect();
            assert_eq!(live.len(), 1);
            assert_eq!(live[0].key, "multiplexing");
            assert!(live[0].wait.contains(&format!("blocks in {call},")), "{poller}: {}", live[0].wait);
            // The tutorial's summary: the first four are synchronous, only async IO is not.
            assert_eq!(m.iter().filter(|r| !r.sync).map(|r| r.key).collect::<Vec<_>>(), ["async"]);
        }
    }

    #[test]
    fn the_lit_phase_follows_the_page_and_the_notes_follow_the_poller() {
        assert_eq!(lit_phase(Some(1)), Some(1));
        assert_eq!(lit_phase(Some(2)), Some(2));
        assert_eq!(lit_phase(Some(3)), None);
        assert_eq!(lit_phase(None), None);
        assert!(poller_note("select").contains("1024"));
        assert!(poller_note("poll").contains("scans"));
        assert!(poller_note("epoll-et").contains("EAGAIN"));
        assert!(poller_note("epoll").contains("Level-triggered"));
    }
}
