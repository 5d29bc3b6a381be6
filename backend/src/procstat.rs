//! What a process costs, read from `/proc` (for `bench models` and `GET /api/models`): CPU (user + system) of the whole process
//! and of its chat threads, their context switches, RSS, and how many threads there are.
//!
//! The chat threads are the ones named `chat-…` (the loop, and the blocking model's acceptor,
//! readers and writers) and the kernel's io_uring workers (`iou-…`, which do the ring's IO in the
//! process). The rest (the web gateway, the event hub, `main`) are the other threads.

use std::collections::HashMap;
use std::io;
use std::time::Instant;

/// One thread's counters.
#[derive(Clone, Copy, Debug)]
struct Task {
    chat: bool,
    /// utime + stime, in clock ticks.
    ticks: u64,
    voluntary: u64,
    involuntary: u64,
}

/// The process at one moment.
pub(crate) struct Sample {
    at: Instant,
    /// utime + stime of the whole process (every thread, the ended ones included), in ticks.
    ticks: u64,
    tasks: HashMap<i32, Task>,
    pub rss_bytes: u64,
    pub threads: usize,
    pub chat_threads: usize,
}

/// What the process did between two samples.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Usage {
    /// CPU seconds per wall second of the whole process.
    pub cpu_cores: f64,
    /// Of the chat threads: the process's CPU less that of the other threads, so a chat thread
    /// that ended inside the interval (a blocking model's writer) still counts.
    pub chat_cpu_cores: f64,
    /// Context switches per second of the chat threads alive at the end of the interval.
    pub chat_voluntary_per_sec: f64,
    pub chat_involuntary_per_sec: f64,
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// The fields of a `stat` line after `(comm)` (field 3 first), and the comm.
pub(crate) fn stat_fields(stat: &str) -> Option<(&str, Vec<&str>)> {
    let open = stat.find('(')?;
    let (comm, rest) = stat[open + 1..].rsplit_once(')')?;
    Some((comm, rest.split_whitespace().collect()))
}

/// utime (field 14) and stime (field 15), in clock ticks.
pub(crate) fn user_system(fields: &[&str]) -> Option<(u64, u64)> {
    Some((fields.get(11)?.parse::<u64>().ok()?, fields.get(12)?.parse::<u64>().ok()?))
}

/// utime + stime.
fn ticks_of(fields: &[&str]) -> Option<u64> {
    user_system(fields).map(|(u, s)| u + s)
}

/// A `Key:   value` line of a `status` file, as a number.
pub(crate) fn status_value(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok())
}

pub(crate) fn is_chat_thread(comm: &str) -> bool {
    comm.starts_with("chat-") || comm.starts_with("iou-")
}

pub(crate) fn sample(pid: u32) -> io::Result<Sample> {
    let at = Instant::now();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = stat_fields(&stat).and_then(|(_, f)| ticks_of(&f)).ok_or_else(|| io::Error::other("unreadable /proc/PID/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_bytes = status_value(&status, "VmRSS:").unwrap_or(0) * 1024;
    let mut tasks = HashMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))?.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse::<i32>().ok()) else { continue };
        // A thread may end while it is read: skip it.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((comm, fields)) = stat_fields(&stat) else { continue };
        let Some(ticks) = ticks_of(&fields) else { continue };
        let chat = is_chat_thread(comm);
        let (mut voluntary, mut involuntary) = (0, 0);
        if chat {
            let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else { continue };
            voluntary = status_value(&status, "voluntary_ctxt_switches:").unwrap_or(0);
            involuntary = status_value(&status, "nonvoluntary_ctxt_switches:").unwrap_or(0);
        }
        tasks.insert(tid, Task { chat, ticks, voluntary, involuntary });
    }
    let chat_threads = tasks.values().filter(|t| t.chat).count();
    Ok(Sample { at, ticks, threads: tasks.len(), chat_threads, tasks, rss_bytes })
}

/// What happened between `a` and `b` (a thread born in between counts from zero).
pub(crate) fn usage(a: &Sample, b: &Sample) -> Usage {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
    let tick = clock_ticks();
    let (mut other_ticks, mut vol, mut invol) = (0u64, 0u64, 0u64);
    for (tid, t) in &b.tasks {
        let before = a.tasks.get(tid).filter(|p| p.chat == t.chat);
        let (ticks0, vol0, invol0) = before.map(|p| (p.ticks, p.voluntary, p.involuntary)).unwrap_or((0, 0, 0));
        if t.chat {
            vol += t.voluntary.saturating_sub(vol0);
            invol += t.involuntary.saturating_sub(invol0);
        } else {
            other_ticks += t.ticks.saturating_sub(ticks0);
        }
    }
    let all = b.ticks.saturating_sub(a.ticks);
    Usage {
        cpu_cores: all as f64 / tick / secs,
        chat_cpu_cores: all.saturating_sub(other_ticks) as f64 / tick / secs,
        chat_voluntary_per_sec: vol as f64 / secs,
        chat_involuntary_per_sec: invol as f64 / secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        let a = sample(pid).unwrap();
        let spin = Instant::now();
        while spin.elapsed().as_millis() < 50 {
            std::hint::black_box(0u64);
        }
        let b = sample(pid).unwrap();
        assert!(a.threads >= 1 && b.rss_bytes > 0);
        let u = usage(&a, &b);
        assert!(u.cpu_cores >= 0.0 && u.chat_cpu_cores <= u.cpu_cores + 1e-9, "{u:?}");
    }

    #[test]
    fn comm_with_spaces_and_parens() {
        let (comm, f) = stat_fields("12 (chat-r1 (x)) S 1 2 3 4 5 6 7 8 9 10 100 23 0").unwrap();
        assert_eq!(comm, "chat-r1 (x)");
        assert_eq!(ticks_of(&f), Some(123));
        assert!(is_chat_thread(comm) && is_chat_thread("iou-wrk-7") && !is_chat_thread("gateway"));
    }
}
