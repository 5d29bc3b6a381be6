//! The compare panel's table: one row per model that has served in this session, as
//! `GET /api/models` measured it on the live traffic. Pure, tested natively.

use crate::i18n::Lang;
use muxscope_shared::{ModelStats, ModelsReport};

/// The table's columns, the model's name first (their words are in `crate::i18n`).
pub use crate::i18n::COLUMNS;

/// One model's row: its name, whether it serves now, and the other nine cells as shown.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareRow {
    pub model: &'static str,
    pub serving: bool,
    pub cells: [String; 9],
    /// What the RTT is a median of.
    pub rtt_samples: u64,
}

/// A number with as many decimals as its size deserves: `12345`, `42.5`, `0.37`.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        "–".to_string()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn row(s: &ModelStats) -> CompareRow {
    let none = || "–".to_string();
    CompareRow {
        model: s.model.name(),
        serving: s.serving,
        cells: [
            format!("{:.0}", s.seconds),
            s.syscalls_per_delivery.map_or_else(none, num),
            num(s.wakeups_per_s),
            num(s.eagain_per_s),
            format!("{:.1}", s.cpu_percent),
            s.threads.to_string(),
            format!("{:.1}", s.rss_bytes as f64 / (1024.0 * 1024.0)),
            num(s.ctx_switches_per_s),
            s.rtt_p50_us.map_or_else(none, |us| num(us as f64 / 1000.0)),
        ],
        rtt_samples: s.rtt_samples,
    }
}

/// The report's rows, in the order the models first served.
pub fn rows(r: &ModelsReport) -> Vec<CompareRow> {
    r.rows.iter().map(row).collect()
}

/// What `GET /api/models` answered `status` and `body` means: the report, or why there is none.
pub fn report(status: u16, body: &str, lang: Lang) -> Result<ModelsReport, String> {
    match status {
        200 => serde_json::from_str(body).map_err(|e| match lang {
            Lang::En => format!("GET /api/models: not a report: {e}"),
            Lang::Zh => format!("GET /api/models：回答不是报告：{e}"),
        }),
        0 => Err(match lang {
            Lang::En => format!("GET /api/models: no answer ({body})"),
            Lang::Zh => format!("GET /api/models：没有回答（{body}）"),
        }),
        _ => {
            let said = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or_else(|| body.trim().chars().take(200).collect());
            Err(format!("GET /api/models: HTTP {status} {said}").trim_end().to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muxscope_shared::Model;

    fn stats(model: Model, serving: bool) -> ModelStats {
        ModelStats {
            model,
            serving,
            seconds: 12.4,
            messages: 100,
            deliveries: 400,
            syscalls: 900,
            syscalls_per_delivery: Some(2.25),
            wakeups_per_s: 1234.4,
            eagain_per_s: 0.0,
            cpu_percent: 3.12,
            cpu_user_s: 0.2,
            cpu_sys_s: 0.19,
            ctx_switches_per_s: 55.56,
            threads: 1,
            rss_bytes: 12 * 1024 * 1024 + 512 * 1024,
            rtt_p50_us: Some(1500),
            rtt_samples: 9,
        }
    }

    #[test]
    fn a_row_per_model_that_served_with_its_units_and_the_serving_one_marked() {
        let mut idle = stats(Model::Nonblocking, false);
        idle.syscalls_per_delivery = None;
        idle.rtt_p50_us = None;
        idle.eagain_per_s = 21_000.7;
        let r = ModelsReport { current: Model::Epoll, available: vec![], rows: vec![idle, stats(Model::Epoll, true)] };
        let rows = rows(&r);
        assert_eq!(rows.iter().map(|r| (r.model, r.serving)).collect::<Vec<_>>(), [("nonblocking", false), ("epoll", true)]);
        assert_eq!(rows[1].cells, ["12", "2.25", "1234", "0.00", "3.1", "1", "12.5", "55.6", "1.50"].map(String::from));
        assert_eq!(rows[0].cells[1], "–", "nothing delivered: no ratio");
        assert_eq!(rows[0].cells[3], "21001");
        assert_eq!(rows[0].cells[8], "–", "no browser line timed yet");
        assert_eq!(COLUMNS.len(), rows[0].cells.len() + 1);
    }

    #[test]
    fn a_report_or_why_there_is_none() {
        let r = ModelsReport { current: Model::Poll, available: vec![], rows: vec![stats(Model::Poll, true)] };
        assert_eq!(report(200, &serde_json::to_string(&r).unwrap(), Lang::En), Ok(r));
        assert_eq!(report(404, "", Lang::En).unwrap_err(), "GET /api/models: HTTP 404");
        assert_eq!(report(500, r#"{"error":"loop gone"}"#, Lang::En).unwrap_err(), "GET /api/models: HTTP 500 loop gone");
        assert!(report(200, "{}", Lang::En).unwrap_err().contains("not a report"));
        assert!(report(200, "{}", Lang::Zh).unwrap_err().contains("不是报告"));
        assert!(report(0, "x", Lang::Zh).unwrap_err().contains("没有回答"));
    }
}
