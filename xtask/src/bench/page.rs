//! (e) the page in headless Chromium: its wasm size, time to first picture and frame times with
//! a room under load, measured by the browser test's ignored `page_under_load`.

use super::{f, muxscope_bin, Report};
use crate::{cmd, root, step, Result};
use serde_json::Value;
use std::process::{Command, Stdio};

pub(super) fn section(quick: bool, r: &mut Report) -> Result {
    step("(e) the page: size, time to first picture, frame times under load");
    r.line(String::new());
    r.line("## (e) the page in headless Chromium".into());
    if let Some(wasm) = std::fs::read_dir(root().join("dist"))
        .ok()
        .and_then(|d| d.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "wasm")))
    {
        let raw = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
        let gz = Command::new("bash")
            .args(["-c", &format!("gzip -9 -c '{}' | wc -c", wasm.display())])
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u64>().ok())
            .unwrap_or(0);
        r.line(format!("wasm: {:.0} KiB, {:.0} KiB gzipped (gzip -9)\n", raw as f64 / 1024.0, gz as f64 / 1024.0));
    }
    r.line("| room | time to first picture | frame p50 | frame p95 | frame max | frames in 8 s |".into());
    r.line("|---|---|---|---|---|---|".into());
    // "bots": 1,000 of the gateway's own bots at 1,000 msg/s in all (the classroom's room).
    let rates: &[&str] = if quick { &["1000"] } else { &["0", "100", "1000", "bots"] };
    for rate in rates {
        let mut c = cmd("cargo");
        c.args(["test", "-p", "muxscope", "--test", "browser", "--", "--ignored", "--nocapture", "page_under_load"])
            .env("MUXSCOPE_BIN", muxscope_bin())
            .env(
                "LOAD_RATE",
                match *rate {
                    "0" => "0.001",
                    "bots" => "1000",
                    r => r,
                },
            )
            .env("LOAD_BOTS", if *rate == "bots" { "1" } else { "0" })
            .env("MUXSCOPE_REQUIRE_BROWSER", "1")
            .stderr(Stdio::null());
        let out = c.output().map_err(|e| format!("page benchmark: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(v) = text.lines().find_map(|l| l.strip_prefix("BENCH ")).and_then(|j| serde_json::from_str::<Value>(j).ok()) else {
            return Err(format!("page benchmark printed no result:\n{text}"));
        };
        let room = match *rate {
            "0" => "1,000 idle clients".to_string(),
            "bots" => "1,000 bots from the page's panel (the gateway's), 1,000 msg/s in all".to_string(),
            r => format!("1,000 clients, {r} msg/s in all"),
        };
        r.line(format!(
            "| {room} | {:.0} ms | {:.1} ms | {:.1} ms | {:.1} ms | {} |",
            f(&v, "interactive_ms"),
            f(&v, "frame_p50_ms"),
            f(&v, "frame_p95_ms"),
            f(&v, "frame_max_ms"),
            v["frames"]
        ));
    }
    Ok(())
}
