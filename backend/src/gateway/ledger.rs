//! `GET /api/models`: what each model cost while it served, on the live traffic. Each stint of
//! a model (from the switch that started it to the one that ended it) is measured between two
//! samples: the loop's totals (its events, messages, deliveries, wakeups, EAGAINs), and the CPU
//! time and context switches of the chat's threads (`chat-*`, read from /proc: the gateway's
//! own threads are not counted). Line round trips come from the browser users' bridges: the
//! time from writing a user's line to the chat port until it comes back in the broadcast.

use crate::chat::{Control, Totals};
use crate::procstat;
use muxscope_shared::{Model, ModelAvailability, ModelStats, ModelsReport};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Round trips kept per model (the median is over these).
const RTT_KEEP: usize = 256;

/// The counters a stint is measured between.
#[derive(Clone, Copy, Default)]
pub struct Sample {
    totals: Totals,
    /// CPU of the chat's threads, in clock ticks; their context switches.
    utime: u64,
    stime: u64,
    switches: u64,
    threads: u32,
}

#[derive(Default)]
struct Row {
    seconds: f64,
    totals: Totals,
    utime: u64,
    stime: u64,
    switches: u64,
    threads: u32,
    rss: u64,
    rtt_us: Vec<u64>,
    rtt_samples: u64,
}

struct State {
    current: Model,
    since: Instant,
    start: Sample,
    /// In the order the models first served.
    rows: Vec<(Model, Row)>,
}

pub struct Ledger {
    control: Control,
    available: Vec<ModelAvailability>,
    state: Mutex<State>,
}

impl Ledger {
    pub fn new(control: Control) -> Ledger {
        let uring = crate::chat::probe_uring().err();
        let available = Model::ALL
            .into_iter()
            .map(|model| ModelAvailability { model, unavailable: if model == Model::IoUring { uring.clone() } else { None } })
            .collect();
        let current = control.model();
        let start = sample(&control);
        Ledger {
            control,
            available,
            state: Mutex::new(State { current, since: Instant::now(), start, rows: vec![(current, Row::default())] }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Taken just before a switch is asked for: the end of the stint it may close (so the new
    /// model's threads are not counted in the old one's row).
    pub fn before_switch(&self) -> Sample {
        sample(&self.control)
    }

    /// The loop now serves `model` (a switch answered 200): the stint before it ended at `ended`.
    pub fn switched(&self, model: Model, ended: Sample) {
        let now = sample(&self.control);
        let mut st = self.lock();
        if st.current == model {
            return;
        }
        close_stint(&mut st, ended);
        st.current = model;
        st.since = Instant::now();
        st.start = now;
        if !st.rows.iter().any(|(m, _)| *m == model) {
            st.rows.push((model, Row::default()));
        }
    }

    /// One browser user's line came back `rtt` after it was written.
    pub fn round_trip(&self, rtt: Duration) {
        let mut st = self.lock();
        let current = st.current;
        if let Some((_, row)) = st.rows.iter_mut().find(|(m, _)| *m == current) {
            if row.rtt_us.len() == RTT_KEEP {
                row.rtt_us.remove(0);
            }
            row.rtt_us.push(rtt.as_micros() as u64);
            row.rtt_samples += 1;
        }
    }

    pub fn report(&self) -> ModelsReport {
        let now = sample(&self.control);
        let st = self.lock();
        let hz = ticks_per_second() as f64;
        let live = Instant::now().duration_since(st.since).as_secs_f64();
        let rows = st
            .rows
            .iter()
            .map(|(model, row)| {
                let serving = *model == st.current;
                let mut r = Row { rtt_us: row.rtt_us.clone(), ..*row };
                if serving {
                    add(&mut r, &st.start, &now, live);
                }
                let secs = r.seconds.max(1e-9);
                let t = r.totals;
                let syscalls = t.events.saturating_sub(t.messages);
                let mut rtt = r.rtt_us.clone();
                rtt.sort_unstable();
                ModelStats {
                    model: *model,
                    serving,
                    seconds: r.seconds,
                    messages: t.messages,
                    deliveries: t.deliveries,
                    syscalls,
                    syscalls_per_delivery: (t.deliveries > 0).then(|| syscalls as f64 / t.deliveries as f64),
                    wakeups_per_s: t.wakeups as f64 / secs,
                    eagain_per_s: t.eagain as f64 / secs,
                    cpu_percent: 100.0 * (r.utime + r.stime) as f64 / hz / secs,
                    cpu_user_s: r.utime as f64 / hz,
                    cpu_sys_s: r.stime as f64 / hz,
                    ctx_switches_per_s: r.switches as f64 / secs,
                    threads: r.threads,
                    rss_bytes: if serving { rss_bytes() } else { r.rss },
                    rtt_p50_us: rtt.get(rtt.len() / 2).copied(),
                    rtt_samples: r.rtt_samples,
                }
            })
            .collect();
        ModelsReport { current: st.current, available: self.available.clone(), rows }
    }
}

fn close_stint(st: &mut State, now: Sample) {
    let secs = st.since.elapsed().as_secs_f64();
    let (current, start) = (st.current, st.start);
    if let Some((_, row)) = st.rows.iter_mut().find(|(m, _)| *m == current) {
        add(row, &start, &now, secs);
        row.rss = rss_bytes();
    }
}

fn add(row: &mut Row, a: &Sample, b: &Sample, secs: f64) {
    row.seconds += secs;
    let d = |x: u64, y: u64| y.saturating_sub(x);
    row.totals.events += d(a.totals.events, b.totals.events);
    row.totals.messages += d(a.totals.messages, b.totals.messages);
    row.totals.deliveries += d(a.totals.deliveries, b.totals.deliveries);
    row.totals.wakeups += d(a.totals.wakeups, b.totals.wakeups);
    row.totals.eagain += d(a.totals.eagain, b.totals.eagain);
    // Threads come and go: a thread that ended took its CPU with it, so this undercounts the
    // blocking model's short-lived writers; the long-lived readers are counted.
    row.utime += d(a.utime, b.utime);
    row.stime += d(a.stime, b.stime);
    row.switches += d(a.switches, b.switches);
    row.threads = row.threads.max(b.threads).max(a.threads);
}

fn sample(control: &Control) -> Sample {
    let mut s = Sample { totals: control.totals(), ..Sample::default() };
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return s };
    for task in dir.flatten() {
        let path = task.path();
        // A thread may end while it is read: skip it.
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else { continue };
        let Some((comm, fields)) = procstat::stat_fields(&stat) else { continue };
        if !comm.starts_with("chat-") {
            continue;
        }
        let (utime, stime) = procstat::user_system(&fields).unwrap_or((0, 0));
        s.utime += utime;
        s.stime += stime;
        s.threads += 1;
        if let Ok(status) = std::fs::read_to_string(path.join("status")) {
            for key in ["voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"] {
                s.switches += procstat::status_value(&status, key).unwrap_or(0);
            }
        }
    }
    s
}

fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|t| t.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .unwrap_or(0);
    pages * page_size()
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(4096) as u64
}

fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as u64
}
