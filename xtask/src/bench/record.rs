//! Section (i) of the bench: what recording (`--record FILE`) costs the loop. Pairs of blast
//! runs (1,000 clients, 4 senders), each on a fresh server: alone, then recording every event
//! to a file on this machine's disk. The recording is read back afterwards: how many events it
//! holds, how many the recorder lost (its gaps), and bytes per event.

use super::{bench, bootstrap_median, f, median, muxscope, Report};
use crate::{step, Result};
use muxscope_shared::record;
use muxscope_shared::EventBody;
use std::time::Duration;

pub fn section(quick: bool, r: &mut Report) -> Result {
    let pairs = if quick { 2 } else { 8 };
    let secs = if quick { "2" } else { "3" };
    step(&format!("(i) recording: {pairs} pairs of blast, alone then with --record"));
    let file = std::env::temp_dir().join("muxscope-bench.muxrec");
    let path = file.display().to_string();
    let blast = |port: u16| {
        bench(&["blast", "--target", &format!("127.0.0.1:{port}"), "--clients", "1000", "--senders", "4", "--seconds", secs])
            .map(|v| f(&v, "deliveries_per_sec"))
    };
    let (mut alone, mut recorded) = (vec![], vec![]);
    let (mut events, mut lost, mut bytes, mut wall) = (0u64, 0u64, 0u64, 0.0f64);
    for _ in 0..pairs {
        {
            let _p = muxscope(5031, &[])?;
            alone.push(blast(5031)?);
        }
        std::thread::sleep(Duration::from_millis(500));
        let p = muxscope(5032, &["--record", &path])?;
        let t0 = std::time::Instant::now();
        recorded.push(blast(5032)?);
        // SIGTERM: the loop stops and the recorder writes everything it was handed.
        unsafe { libc::kill(p.pid() as i32, libc::SIGTERM) };
        let mut p = p;
        let _ = p.child.wait();
        wall += t0.elapsed().as_secs_f64();
        let rec = record::read_file(&file, 16 << 30).map_err(|e| format!("reading the bench's recording: {e}"))?;
        for e in rec.events() {
            match e.body {
                EventBody::Gap { dropped, .. } if e.seq == 0 => lost += dropped,
                _ => events += 1,
            }
        }
        bytes += std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let _ = std::fs::remove_file(&file);
        std::thread::sleep(Duration::from_millis(500));
    }
    let ratios: Vec<f64> = recorded.iter().zip(&alone).map(|(w, a)| w / a).collect();
    let (lo, hi) = bootstrap_median(&ratios, 2000);
    r.line(String::new());
    r.line(format!("## (i) recording every event to disk (`--record FILE`): blast, 1,000 clients, 4 senders, {pairs} pairs of {secs} s"));
    r.line("| | deliveries/s, median | recording ÷ alone (median of pair ratios, bootstrap 90 %) | events recorded/s | lost to a full queue | bytes per event on disk |".into());
    r.line("|---|---|---|---|---|---|".into());
    r.line(format!("| alone | {:.1} M | | | | |", median(alone.clone()) / 1e6));
    r.line(format!(
        "| recording | {:.1} M | **{:.3}** ({lo:.3}–{hi:.3}) | {:.2} M | {:.2} % | {:.1} |",
        median(recorded.clone()) / 1e6,
        median(ratios),
        events as f64 / wall / 1e6,
        100.0 * lost as f64 / (events + lost).max(1) as f64,
        bytes as f64 / events.max(1) as f64
    ));
    Ok(())
}
