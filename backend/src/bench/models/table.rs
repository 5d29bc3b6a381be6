//! The rows of `bench models` as one Markdown table: per N, the kernel floor, then each model
//! with its ratios to the floor and to the first epoll row at that N.

use super::{ModelRow, Row};
use std::fmt::Write;

/// `12,345`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "—".into(),
    }
}

fn mib(b: u64) -> String {
    format!("{:.1}", b as f64 / 1048576.0)
}

fn or_dash<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "—".into())
}

const HEAD: &str = "| N | model | switch | fan-out p50 / p95 (ms) | p50 ÷ floor | p50 ÷ epoll | deliveries/s | ÷ epoll | server CPU, cores: all / chat threads | chat threads' context switches/s | RSS MiB: idle / blast | threads: idle / blast | note |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";

/// The table for `rows` as `bench models` printed them.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(HEAD);
    let mut floor: Option<f64> = None;
    let mut epoll: Option<&ModelRow> = None;
    for row in rows {
        match row {
            Row::Floor(f) => {
                floor = Some(f.stats.p50_ms);
                epoll = None;
                let pairs = if f.pairs < f.clients { format!(" ({} pairs)", thousands(f.pairs)) } else { String::new() };
                let _ = writeln!(
                    out,
                    "| {} | *kernel floor*{pairs} | | {} / {} | 1.00× | | | | | | | | one process writes the line to N sockets and reads it back |",
                    thousands(f.clients),
                    ms(f.stats.p50_ms),
                    ms(f.stats.p95_ms)
                );
            }
            Row::Model(m) => {
                if m.model == "epoll" && m.status == "ok" && epoll.is_none() {
                    epoll = Some(m);
                }
                let name = if m.pass > 1 { format!("{} (again)", m.model) } else { m.model.clone() };
                let mut note = m.note.clone().unwrap_or_default();
                if m.status != "ok" {
                    let what = if m.status == "refused" { "**refused** (409)" } else { "**failed**" };
                    let reason = m.reason.as_deref().unwrap_or("");
                    note = if note.is_empty() { format!("{what}: {reason}") } else { format!("{what}: {reason}; {note}") };
                }
                if m.receivers_cut > 0 {
                    let cut = format!("**{} of {} receivers cut or left out**", m.receivers_cut, thousands(m.clients));
                    note = if note.is_empty() { cut } else { format!("{cut}; {note}") };
                }
                let ep = |f: fn(&ModelRow) -> Option<f64>| epoll.and_then(f);
                let _ = writeln!(
                    out,
                    "| {} | {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    thousands(m.clients),
                    or_dash(m.switch_ms, |v| format!("{} ms", ms(v))),
                    match (m.fanout_p50_ms, m.fanout_p95_ms) {
                        (Some(a), Some(b)) => format!("{} / {}", ms(a), ms(b)),
                        _ => "—".into(),
                    },
                    ratio(m.fanout_p50_ms, floor),
                    ratio(m.fanout_p50_ms, ep(|e| e.fanout_p50_ms)),
                    or_dash(m.deliveries_per_sec, rate),
                    ratio(m.deliveries_per_sec, ep(|e| e.deliveries_per_sec)),
                    match (m.cpu_cores, m.chat_cpu_cores) {
                        (Some(a), Some(c)) => format!("{a:.2} / {c:.2}"),
                        _ => "—".into(),
                    },
                    or_dash(m.chat_ctx_per_sec, |v| thousands(v.round() as usize)),
                    match (m.rss_idle_bytes, m.rss_blast_bytes) {
                        (Some(a), Some(b)) => format!("{} / {}", mib(a), mib(b)),
                        _ => "—".into(),
                    },
                    match (m.threads_idle, m.threads_blast) {
                        (Some(a), Some(b)) => format!("{a} / {b}"),
                        _ => "—".into(),
                    },
                    note.replace('|', "\\|"),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{FloorRow, ModelRow, Row};
    use super::*;
    use crate::bench::Stats;

    #[test]
    fn ratios_and_refusals() {
        assert_eq!(thousands(10000), "10,000");
        assert_eq!(thousands(100), "100");
        let ok = |model: &str, p50: f64, d: f64| ModelRow {
            clients: 1000,
            model: model.into(),
            pass: 1,
            status: "ok".into(),
            fanout_p50_ms: Some(p50),
            fanout_p95_ms: Some(p50 * 2.0),
            deliveries_per_sec: Some(d),
            ..ModelRow::default()
        };
        let rows = vec![
            Row::Floor(FloorRow { clients: 10000, pairs: 9000, stats: Stats { p50_ms: 2.0, p95_ms: 3.0, min_ms: 1.0, rounds: 5 } }),
            Row::Model(Box::new(ok("epoll", 4.0, 2e6))),
            Row::Model(Box::new(ok("poll", 8.0, 1e6))),
            Row::Model(Box::new(ModelRow {
                model: "blocking".into(),
                status: "refused".into(),
                reason: Some("exceed --max-threads 2000".into()),
                ..ModelRow::default()
            })),
        ];
        let t = markdown(&rows);
        assert!(t.contains("*kernel floor* (9,000 pairs)"), "{t}");
        assert!(t.contains("| poll | — | 8.00 / 16.0 | 4.00× | 2.00× | 1.00 M | 0.50× |"), "{t}");
        assert!(t.contains("**refused** (409): exceed --max-threads 2000"), "{t}");
    }
}
