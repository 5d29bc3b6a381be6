//! `cargo xtask bench --only models`: section (h) of BENCHMARKS.md, every IO model measured on
//! the same connections (`muxscope bench models`), and its plot `docs/models.svg`.
//!
//! What a run writes between the section's two markers is replaced by the next run; the
//! reading of the numbers, written by hand below the end marker, is kept.

use super::{chrono_like_now, first_line, muxscope_bin, num_cpus, with_fd_limit, Report};
use crate::{cmd, output, root, step, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

const HEADING: &str = "## (h) The IO models, measured";
const BEGIN: &str = "<!-- models:begin (written by `cargo xtask bench --only models`; the text after models:end is kept) -->";
const END: &str = "<!-- models:end -->";
/// The whole run is bounded inside `muxscope bench models`; this is the backstop.
const RUN_LIMIT: Duration = Duration::from_secs(60 * 60);

/// Runs the benchmark, adds its table to the report, and (unless `quick`) writes section (h)
/// of BENCHMARKS.md and `docs/models.svg`.
pub fn section(quick: bool, r: &mut Report) -> Result {
    let (sizes, rounds, seconds) = if quick { ("10,1000", "5", "1") } else { ("10,100,1000,10000", "20", "3") };
    step(&format!("(h) the IO models: one server per N in {sizes}, every model switched live over the same clients"));
    let bin = muxscope_bin();
    let args = ["bench", "models", "--target-bin", &bin, "--sizes", sizes, "--rounds", rounds, "--seconds", seconds];
    let command = format!("muxscope bench models --sizes {sizes} --rounds {rounds} --seconds {seconds}");
    let started = chrono_like_now();
    let mut c = with_fd_limit(&bin, &args);
    c.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = c.spawn().map_err(|e| format!("muxscope bench models: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(std::io::Result::ok).collect::<Vec<String>>());
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if t0.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("muxscope bench models ran past {} min; killed", RUN_LIMIT.as_secs() / 60));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let lines = reader.join().map_err(|_| "reading the bench's output failed")?;
    if !status.success() {
        return Err(format!("muxscope bench models failed ({status})"));
    }
    let json: Vec<&str> = lines.iter().filter(|l| l.starts_with('{')).map(String::as_str).collect();
    // The raw rows, for looking at more than the table shows (not committed).
    let raw = root().join("bench-results/models.jsonl");
    let _ = std::fs::create_dir_all(root().join("bench-results"));
    let _ = std::fs::write(&raw, json.join("\n") + "\n");
    let rows: Vec<Value> = json.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let table: Vec<&str> = lines.iter().filter(|l| l.starts_with('|')).map(String::as_str).collect();
    if rows.is_empty() || table.is_empty() {
        return Err(format!("muxscope bench models printed no rows:\n{}", lines.join("\n")));
    }
    let minutes = t0.elapsed().as_secs_f64() / 60.0;

    let mut body = vec![
        format!(
            "`cargo xtask bench --only models` ran `{command}` against `target/release/muxscope`, {started} ({minutes:.0} min), commit {}.",
            commit()
        ),
        format!("Machine: {} cores ({}), loopback only.", num_cpus(), first_line("/proc/cpuinfo", "model name")),
        String::new(),
        "How: for each N, the kernel floor (`muxscope bench floor`: one process writes the line to N loopback sockets and reads it \
         back; 9,000 pairs at most, both ends in one process), then ONE server (`--web-addr 127.0.0.1:0`, `--max-threads` at its \
         default 2,000), N idle clients, one fan-out sender and 4 blast senders connected once, one unmeasured warm-up blast, and \
         each model in turn switched live with `POST /api/model`, so the same connections are handed over (receivers the server \
         cut are replaced before the next model). On each model: the fan-out (one 64 B line to all N, \
         time until the last has it, p50 / p95 of the rounds), the blast (4 senders as fast as the server reads them; deliveries/s \
         at the N receivers over the window after a 1 s warm-up; the senders are then reset and replaced, so what they had \
         queued is dropped), the server's CPU over the blast window (user + system, whole process; and its chat threads: `chat-*`, \
         and io_uring's `iou-*` workers), the chat threads' context switches/s over that window (from /proc/PID/task/TID/status, \
         threads alive at its end), RSS and the process's threads (idle after the switch / at the end of the blast). A refusal \
         (409) is a row with the server's reason."
            .to_string(),
        String::new(),
        format!(
            "**Noise.** Two vCPUs, shared: the server, the load generator (one thread reads all N receivers) and whatever else \
             runs on the machine compete for them, so the blast measures the pair, not the server alone. Ratios within one run \
             matter; absolute numbers do not; and a ratio within ±30 % of 1 is not a difference here. epoll is measured first \
             and again last, on the same connections: {}. RSS only grows within a server (the allocator keeps what it freed), so \
             a model's RSS includes what the models before it left; the blocking model runs late for that reason.",
            drift(&rows)
        ),
        String::new(),
    ];
    body.extend(table.iter().map(|s| s.to_string()));
    body.push(String::new());
    body.push("Ratios to epoll at the same N (fan-out p50 ÷ epoll's; deliveries/s ÷ epoll's; server CPU ÷ epoll's):".into());
    body.push(String::new());
    body.extend(ratio_table(&rows));
    body.push(String::new());
    body.push(
        "![Fan-out p50, blast deliveries/s and the chat threads' context switches/s against connections, per model](docs/models.svg)"
            .into(),
    );

    r.line(format!("## (h) The IO models, measured ({command})"));
    for l in &body {
        r.line(l.clone());
    }
    r.line(String::new());

    let svg = super::svg::plot(&rows, &format!("{started}, {command}"));
    if quick {
        let file = root().join("bench-results/models.svg");
        let _ = std::fs::create_dir_all(root().join("bench-results"));
        std::fs::write(&file, svg).map_err(|e| format!("writing {}: {e}", file.display()))?;
        step(&format!("--quick: BENCHMARKS.md left alone; the plot is in {}", file.display()));
        return Ok(());
    }
    let file = root().join("docs/models.svg");
    std::fs::write(&file, svg).map_err(|e| format!("writing {}: {e}", file.display()))?;
    write_section(&body.join("\n"))?;
    step("section (h) of BENCHMARKS.md and docs/models.svg written");
    Ok(())
}

fn commit() -> String {
    let head = output(cmd("git").args(["rev-parse", "--short", "HEAD"])).unwrap_or_default().trim().to_string();
    // What this section writes does not count.
    let dirty =
        output(cmd("git").args(["status", "--porcelain", "--untracked-files=no", "--", ".", ":!BENCHMARKS.md", ":!docs/models.svg"]))
            .is_some_and(|s| !s.trim().is_empty());
    if dirty {
        format!("{head} (with uncommitted changes in the working tree)")
    } else {
        head
    }
}

/// `10,000`.
pub(super) fn thousands(n: u64) -> String {
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

/// epoll's second pass against its first, per N: this run's drift.
fn drift(rows: &[Value]) -> String {
    let epoll = |n: &Value, pass: u64| {
        rows.iter()
            .find(|r| r["kind"] == "model" && r["model"] == "epoll" && r["pass"] == pass && r["clients"] == *n && r["status"] == "ok")
    };
    let cells: Vec<String> = rows
        .iter()
        .filter(|r| r["kind"] == "floor")
        .filter_map(|fl| {
            let (a, b) = (epoll(&fl["clients"], 1)?, epoll(&fl["clients"], 2)?);
            let ratio = |k: &str| Some(f(b, k)? / f(a, k)?);
            Some(format!(
                "{:.2}× / {:.2}× at {}",
                ratio("deliveries_per_sec")?,
                ratio("fanout_p50_ms")?,
                thousands(fl["clients"].as_u64().unwrap_or(0))
            ))
        })
        .collect();
    if cells.is_empty() {
        "no second epoll pass in this run".into()
    } else {
        format!("its second pass ÷ its first (deliveries/s / fan-out p50) came to {}, which is this run's drift", cells.join(", "))
    }
}

fn f(v: &Value, k: &str) -> Option<f64> {
    v[k].as_f64()
}

/// Models down, sizes across: how each model compares with epoll at each N.
fn ratio_table(rows: &[Value]) -> Vec<String> {
    let mut sizes: Vec<u64> = rows.iter().filter_map(|r| r["clients"].as_u64()).collect();
    sizes.dedup();
    let models: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "model" && r["pass"] == 1).collect();
    let mut names: Vec<&str> = models.iter().filter_map(|r| r["model"].as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(*n));
    let mut out = vec![
        format!("| model | {} |", sizes.iter().map(|n| format!("N = {}", thousands(*n))).collect::<Vec<_>>().join(" | ")),
        format!("|---|{}", "---|".repeat(sizes.len())),
    ];
    for name in names {
        let mut cells = vec![];
        for &n in &sizes {
            let at = |m: &str| models.iter().find(|r| r["model"] == m && r["clients"].as_u64() == Some(n));
            let cell = match (at(name), at("epoll")) {
                (Some(m), _) if m["status"] == "refused" => "refused".to_string(),
                (Some(m), _) if m["status"] != "ok" => "failed".to_string(),
                (Some(m), Some(e)) => {
                    let ratio = |k: &str| match (f(m, k), f(e, k)) {
                        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
                        _ => "—".into(),
                    };
                    format!("{} / {} / {}", ratio("fanout_p50_ms"), ratio("deliveries_per_sec"), ratio("cpu_cores"))
                }
                _ => "—".to_string(),
            };
            cells.push(cell);
        }
        out.push(format!("| {name} | {} |", cells.join(" | ")));
    }
    out
}

/// Puts `body` between the markers of section (h), creating the section (before the fuzzing
/// section, after the lettered ones) the first time.
fn write_section(body: &str) -> Result {
    let path = root().join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let block = format!("{BEGIN}\n{body}\n{END}");
    let new = match (text.find(BEGIN), text.find(END)) {
        (Some(a), Some(b)) if a < b => format!("{}{block}{}", &text[..a], &text[b + END.len()..]),
        _ => {
            let section = format!("{HEADING}\n\n{block}\n\n(The reading of these numbers goes here.)\n\n");
            match text.find("## Fuzzing") {
                Some(at) => format!("{}{section}{}", &text[..at], &text[at..]),
                None => format!("{}\n{section}", text.trim_end()),
            }
        }
    };
    std::fs::write(&path, new).map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ratios_to_epoll_per_size() {
        let row = |n: u64, m: &str, status: &str, p50: f64, d: f64| json!({"kind": "model", "clients": n, "model": m, "pass": 1, "status": status, "fanout_p50_ms": p50, "deliveries_per_sec": d, "cpu_cores": 1.0});
        let rows = vec![
            json!({"kind": "floor", "clients": 10, "p50_ms": 0.1}),
            row(10, "epoll", "ok", 1.0, 4e6),
            row(10, "blocking", "ok", 2.0, 1e6),
            json!({"kind": "floor", "clients": 10000, "p50_ms": 0.1}),
            row(10000, "epoll", "ok", 1.0, 4e6),
            row(10000, "blocking", "refused", 0.0, 0.0),
        ];
        let t = ratio_table(&rows);
        assert_eq!(t[0], "| model | N = 10 | N = 10,000 |");
        assert_eq!(t[3], "| blocking | 2.00× / 0.25× / 1.00× | refused |");
        assert_eq!(drift(&rows), "no second epoll pass in this run");
        let mut again = row(10, "epoll", "ok", 1.5, 2e6);
        again["pass"] = json!(2);
        let mut rows = rows;
        rows.push(again);
        assert_eq!(
            drift(&rows),
            "its second pass ÷ its first (deliveries/s / fan-out p50) came to 0.50× / 1.50× at 10, which is this run's drift"
        );
    }
}
