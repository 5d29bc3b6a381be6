//! (b) blast: 1,000 clients and 4 senders against muxscope (alone, with its event stream
//! drained, and with the gateway and a headless Chromium watching the page), the seed, Redis and
//! NATS; then many alone/watched pairs for what watching costs.

use super::{bench, bootstrap_median, f, median, muxscope, start_seed, Proc, Report};
use crate::{step, Result};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `seed` is the shared seed server: it is restarted before each of its runs (its loop dies on
/// the first send to a reset socket). Returns the median deliveries/s of muxscope alone, the
/// seed, Redis and NATS, for the plot.
pub(super) fn section(quick: bool, r: &mut Report, seed: &mut Option<Proc>) -> Result<Vec<(String, f64)>> {
    step("(b) blast: 1,000 clients, 4 senders");
    // Five alternating runs: the browser's share is a few per cent, run-to-run noise here is more.
    let runs = if quick { 1 } else { 5 };
    let secs = if quick { "3" } else { "5" };
    let drain = muxscope(5002, &["--drain-events"])?;
    let web = muxscope(5004, &["--web-addr", "127.0.0.1:5005"])?;
    let browser = chromium_watching("http://127.0.0.1:5005/")?;
    let mut blast_targets: Vec<(String, String, &str)> = vec![
        ("muxscope".into(), "127.0.0.1:5001".into(), "line"),
        ("muxscope, event stream drained (--drain-events)".into(), "127.0.0.1:5002".into(), "line"),
        ("muxscope + gateway, headless Chromium watching the page".into(), "127.0.0.1:5004".into(), "line"),
        ("Redis pub/sub".into(), "127.0.0.1:5003".into(), "redis"),
        ("NATS".into(), "127.0.0.1:5007".into(), "nats"),
    ];
    if seed.is_some() {
        blast_targets.insert(3, ("seed (Python selectors)".into(), "127.0.0.1:3999".into(), "line"));
    }
    let mut results: Vec<Vec<f64>> = vec![vec![]; blast_targets.len()];
    let mut cut: Vec<u64> = vec![0; blast_targets.len()];
    // What the browser itself costs: CPU time of its whole process tree while it watches.
    let (mut chromium_cpu_s, mut chromium_wall_s) = (0.0, 0.0);
    let clk_tck = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    for _ in 0..runs {
        // Alternate targets within each run, so drift on a shared machine hits all alike.
        for (i, (name, addr, proto)) in blast_targets.iter().enumerate() {
            if name.starts_with("seed") {
                drop(seed.take());
                std::thread::sleep(Duration::from_millis(300));
                *seed = start_seed()?;
            }
            let watched = name.contains("Chromium");
            let start = watched.then(|| (tree_cpu_seconds(browser.pid(), clk_tck), Instant::now()));
            let v = bench(&["blast", "--target", addr, "--proto", proto, "--clients", "1000", "--senders", "4", "--seconds", secs])?;
            if let Some((cpu0, t0)) = start {
                chromium_cpu_s += tree_cpu_seconds(browser.pid(), clk_tck) - cpu0;
                chromium_wall_s += t0.elapsed().as_secs_f64();
            }
            results[i].push(f(&v, "deliveries_per_sec"));
            cut[i] += v["receivers_cut"].as_u64().unwrap_or(0);
        }
    }
    let med_of = |proto: &str| blast_targets.iter().position(|t| t.2 == proto).map_or(f64::NAN, |i| median(results[i].clone()));
    let (redis_med, nats_med) = (med_of("redis"), med_of("nats"));
    let base = median(results[0].clone());
    r.line(format!("## (b) blast: 1,000 clients, 4 senders pushing 64 B lines; deliveries/s, median of {runs} × {secs} s"));
    r.line("| target | deliveries/s (median) | runs | ÷ Redis | ÷ NATS | ÷ muxscope alone | receivers cut |".into());
    r.line("|---|---|---|---|---|---|---|".into());
    let mut medians = vec![];
    for (i, (name, _, _)) in blast_targets.iter().enumerate() {
        let m = median(results[i].clone());
        if !name.starts_with("muxscope") || name == "muxscope" {
            medians.push((name.clone(), m));
        }
        let all: Vec<String> = results[i].iter().map(|x| format!("{:.2} M", x / 1e6)).collect();
        r.line(format!(
            "| {name} | {:.2} M | {} | {:.2}× | {:.2}× | {:.2} | {} |",
            m / 1e6,
            all.join(", "),
            m / redis_med,
            m / nats_med,
            m / base,
            cut[i]
        ));
    }
    if chromium_wall_s > 0.0 {
        r.line(format!(
        "\nHeadless Chromium used {:.3} core on average during its runs (CPU time of its process tree ÷ wall time, connect and leave of the 1,000 clients included).",
        chromium_cpu_s / chromium_wall_s
    ));
    }
    r.line(String::new());
    // The browser's cost is a few per cent and one run here varies by ±15 %: pairs, many of
    // them. Each pair is muxscope alone then muxscope watched, and after the watched run the
    // page is given time to calm down, so what it does when a flood ends never lands in the
    // next run's window.
    let pairs = if quick { 2 } else { 16 };
    step(&format!("(b) watched vs alone: {pairs} pairs"));
    let blast = |addr: &str| {
        bench(&["blast", "--target", addr, "--clients", "1000", "--senders", "4", "--seconds", secs]).map(|v| f(&v, "deliveries_per_sec"))
    };
    let (mut alones, mut watcheds) = (vec![], vec![]);
    for _ in 0..pairs {
        alones.push(blast("127.0.0.1:5001")?);
        std::thread::sleep(Duration::from_secs(1));
        watcheds.push(blast("127.0.0.1:5004")?);
        std::thread::sleep(Duration::from_secs(4));
    }
    let ratios: Vec<f64> = watcheds.iter().zip(&alones).map(|(w, a)| w / a).collect();
    let cells: Vec<String> = watcheds.iter().zip(&alones).map(|(w, a)| format!("{:.1}/{:.1}", w / 1e6, a / 1e6)).collect();
    let (lo, hi) = bootstrap_median(&ratios, 2000);
    r.line(format!("### Watched ÷ alone, {pairs} pairs of {secs} s (muxscope alone, then with the gateway and headless Chromium watching; 4 s for the page to settle after each pair)"));
    r.line(format!(
    "Median of the pair ratios **{:.3}** (bootstrap 90 % interval {lo:.3}–{hi:.3}); ratio of the medians {:.3}. Pairs, watched/alone M/s: {}.",
    median(ratios.clone()),
    median(watcheds) / median(alones),
    cells.join(", ")
));
    r.line(String::new());
    drop(browser);
    drop(drain);
    drop(web);
    Ok(medians)
}

fn chromium_watching(url: &str) -> Result<Proc> {
    let dir = std::env::temp_dir().join(format!("muxscope-bench-chrome-{}", std::process::id()));
    let mut c = Command::new("/usr/bin/chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-port=0",
        &format!("--user-data-dir={}", dir.display()),
        url,
    ]);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| format!("starting chromium: {e}"))?;
    // Wait until it is up (it prints the DevTools address), then give the page time to load.
    if let Some(err) = child.stderr.take() {
        let mut lines = BufReader::new(err).lines();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(20) {
            match lines.next() {
                Some(Ok(l)) if l.contains("DevTools listening") => break,
                Some(_) => {}
                None => break,
            }
        }
        std::thread::spawn(move || for _ in lines {});
    }
    std::thread::sleep(Duration::from_secs(2));
    Ok(Proc { name: "chromium".into(), child, _stdin: None })
}

/// CPU seconds (user + system) used so far by `root` and every process below it; `tick` is
/// the kernel's clock ticks per second (`getconf CLK_TCK`).
fn tree_cpu_seconds(root: u32, tick: f64) -> f64 {
    // (pid, ppid, utime + stime) of every process; fields after the `(comm)` that may hold spaces.
    let procs: Vec<(u32, u32, u64)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            Some((pid, f.get(1)?.parse().ok()?, f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?))
        })
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(procs.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    procs.iter().filter(|p| tree.contains(&p.0)).map(|p| p.2).sum::<u64>() as f64 / tick
}
