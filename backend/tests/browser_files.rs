//! The page's files in a real browser: the per-fd timeline draws the room; *export* downloads
//! a Chrome trace of the history and *save* a recording; *open* shows a recording from disk;
//! and `muxscope replay FILE` serves the page over a recording, which it shows whole, plays at
//! its pace and lets nobody chat in.
//!
//! Runs where `cargo xtask test` runs the other browser tests; elsewhere it says so and skips.

mod common;
use common::browser::*;
use common::cli::*;
use common::*;
use fantoccini::Locator;
use muxscope_shared::{record, EventBody};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const STATUS: &str = "return (document.querySelector('[data-testid=stream-status]')?.innerText ?? '')";
/// The index of the event the picture is at (the marked line of the log).
const AT: &str = "return document.querySelector('[data-testid=event-log] .ev.at')?.dataset.index ?? ''";
/// Where the timeline's canvas has a bright mark (CSS pixels, right half first): recv, send,
/// accept marks and wait bars are coloured, the lanes' background is not.
const MARKS: &str = "const c = document.querySelector('canvas[data-testid=timeline]'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const k = c.width / c.clientWidth; const pts = []; for (let y = Math.floor(22 * k); y < c.height; y += 2) { for (let x = c.width - 4; x > c.width * 0.2 && pts.length < 400; x -= 2) { const i = (y * c.width + x) * 4; if (d[i] + d[i + 1] + d[i + 2] > 420) { pts.push([x / k, y / k]); x -= 8; } } } return pts.filter((_, i) => i % 3 === 0)";
const CLICK: &str = "function click(x, y) { const c = document.querySelector('canvas[data-testid=timeline]'); const r = c.getBoundingClientRect(); for (const t of ['pointerdown', 'pointerup']) { c.dispatchEvent(new PointerEvent(t, { clientX: r.left + x, clientY: r.top + y, bubbles: true, cancelable: true, pointerId: 1, button: 0, isPrimary: true })); } return true; }";
const WHEEL: &str = "function wheel(dy) { const c = document.querySelector('canvas[data-testid=timeline]'); const r = c.getBoundingClientRect(); c.dispatchEvent(new WheelEvent('wheel', { clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, deltaY: dy, bubbles: true, cancelable: true })); return true; }";
/// A checksum of what the timeline's canvas shows (the axis and the marks move when it zooms).
const SPAN_EXPR: &str = "(() => { const c = document.querySelector('canvas[data-testid=timeline]'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let h = 0; for (let i = 0; i < d.length; i += 4) { h = (h * 31 + d[i] + 3 * d[i + 1]) % 1000000007; } return h; })()";
const SPAN: &str = "return (() => { const c = document.querySelector('canvas[data-testid=timeline]'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let h = 0; for (let i = 0; i < d.length; i += 4) { h = (h * 31 + d[i] + 3 * d[i + 1]) % 1000000007; } return h; })()";

/// The first file in `dir` whose name ends with `suffix`, once the browser finished writing it.
async fn downloaded(dir: &Path, suffix: &str) -> PathBuf {
    let t0 = Instant::now();
    loop {
        let files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
        // Chromium reserves the final name with an empty file and writes to a `.crdownload`
        // beside it, renamed over the placeholder when done.
        let writing = files.iter().any(|p| p.to_string_lossy().ends_with(".crdownload"));
        let found = files.into_iter().find(|p| p.to_string_lossy().ends_with(suffix) && std::fs::metadata(p).is_ok_and(|m| m.len() > 0));
        if let (Some(p), false) = (found, writing) {
            return p;
        }
        assert!(t0.elapsed() < Duration::from_secs(15), "no *{suffix} in {}", dir.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_export_save_open_and_replay_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("muxscope-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let recorded = dir.join("live.muxrec");
    let mut server = Server::start("epoll", &["--web-addr", "127.0.0.1:0", "--record", recorded.to_str().unwrap()]);
    let b = Browser::start().await;
    b.client.goto(&format!("http://{}/", server.web.unwrap())).await.unwrap();
    b.until("the listener's node", "return document.querySelector('[data-testid=fd-node][data-role=listener]') !== null").await;
    let mut ann = server.joined();
    let mut bob = server.joined();
    ann.send("/nick ann\n");
    bob.send("/nick bob\n");
    for i in 0..3 {
        ann.send(&format!("hello {i} from ann\n"));
        bob.line_until(&format!("[ann] hello {i} from ann"));
    }
    b.until("three messages", "return document.querySelector('[data-testid=counter-messages] b').innerText === '3'").await;

    // The timeline draws a lane for each connection that did something: ann and bob.
    b.until("timeline lanes", "const c = document.querySelector('[data-testid=timeline]'); return c && Number(c.dataset.lanes) >= 2").await;
    // For the README: paused a few events back, the timeline under the stage.
    b.click("pause").await;
    for _ in 0..4 {
        b.click("step-back").await;
    }
    b.client.set_window_size(1600, 1250).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let png = b.client.screenshot().await.unwrap();
    b.client.set_window_size(1600, 1000).await.unwrap();
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/muxscope-history.png");
    std::fs::write(&out, png).unwrap();
    eprintln!("screenshot: {}", out.display());
    // The timeline: a click on a mark (found by its colour on the canvas) moves the picture there.
    let before = b.js(AT).await;
    let points = b.js(MARKS).await;
    let mut moved = false;
    for p in points.as_array().unwrap().iter().take(40) {
        let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
        b.js(&format!("{CLICK} return click({x}, {y});")).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        if b.js(AT).await != before {
            moved = true;
            break;
        }
    }
    assert!(moved, "a click on one of {} marks of the timeline went nowhere", points.as_array().unwrap().len());
    // The wheel zooms: the canvas draws something else (the axis and the marks spread out).
    // (Let the seek's redraw finish first: only the wheel may change the picture from here.)
    tokio::time::sleep(Duration::from_millis(600)).await;
    let span = b.js(SPAN).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.js(SPAN).await, span, "paused, the timeline holds still");
    b.js(&format!("{WHEEL} return wheel(-600);")).await;
    b.until("the wheel to zoom in", &format!("const s = {SPAN_EXPR}; return s !== {span} ? s : ''")).await;
    b.click("live").await;

    // Export: a Chrome trace of the history, downloaded.
    b.click("export").await;
    let trace_file = downloaded(&b.downloads, ".trace.json").await;
    let trace: Value = serde_json::from_slice(&std::fs::read(&trace_file).unwrap()).expect("the trace parses");
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    let names: Vec<&str> =
        events.iter().filter(|e| e["ph"] == "M" && e["name"] == "thread_name").filter_map(|e| e["args"]["name"].as_str()).collect();
    assert!(names.iter().any(|n| n.contains("ann")) && names.iter().any(|n| n.contains("bob")), "a named track per client: {names:?}");
    let starts = events.iter().filter(|e| e["ph"] == "s").count();
    let ends = events.iter().filter(|e| e["ph"] == "f").count();
    assert!(starts >= 6 && starts == ends, "a flow from each broadcast to each of its two recipients: {starts} starts, {ends} ends");

    // Save: the history as a recording, which reads back with its lines.
    b.click("save").await;
    let saved = downloaded(&b.downloads, ".muxrec").await;
    let rec = record::read_file(&saved, 1 << 30).expect("the saved recording reads");
    let lines: Vec<String> =
        rec.events().filter_map(|e| if let EventBody::Broadcast { text, .. } = &e.body { Some(text.clone()) } else { None }).collect();
    assert_eq!(lines, ["hello 0 from ann", "hello 1 from ann", "hello 2 from ann"]);

    // Open it: the page shows the recording, paused at its start, and sends nothing.
    b.js("document.querySelector('[data-testid=open]').style.display = 'block'").await;
    b.client.find(Locator::Css("[data-testid=open]")).await.unwrap().send_keys(saved.to_str().unwrap()).await.unwrap();
    b.until("the recording on show", &format!("{STATUS}.includes('recording')")).await;
    assert_eq!(b.js("return document.querySelector('[data-testid=chat-input]').disabled").await, Value::Bool(true));
    b.until(
        "paused at its start",
        "return Number(document.querySelector('[data-testid=scrub]').value) === Number(document.querySelector('[data-testid=scrub]').min)",
    )
    .await;
    b.click("step").await;
    b.click("step").await;
    b.until("two steps in", "const s = document.querySelector('[data-testid=scrub]'); return Number(s.value) === Number(s.min) + 2").await;

    // The live server's own recording, replayed.
    drop(ann);
    drop(bob);
    unsafe { libc::kill(server.pid() as i32, libc::SIGTERM) };
    let t0 = Instant::now();
    while server.child.try_wait().unwrap().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(15), "muxscope did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut child, web) = replay(&recorded);
    b.client.goto(&format!("http://{web}/")).await.unwrap();
    b.until("the replay on show", &format!("{STATUS}.includes('replay of')")).await;
    b.until(
        "the chat says it is a replay",
        "return document.querySelector('[data-testid=chat-read-only]')?.innerText.includes('replay') ?? false",
    )
    .await;
    assert_eq!(b.js("return document.querySelector('[data-testid=chat-send]').disabled").await, Value::Bool(true));
    // The page shows the file it fetched; the paced stream it opened first is let go.
    let t0 = Instant::now();
    loop {
        let stats: Value = serde_json::from_slice(&http(web, "GET", "/api/stats", "").1).unwrap();
        if stats["watchers"] == 0 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "the replay page still holds its stream: {stats}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = b
        .until(
            "the whole recording in the history",
            "const s = document.querySelector('[data-testid=scrub]'); return Number(s.max) - Number(s.min) > 30 ? Number(s.max) : 0",
        )
        .await;
    // Played at its pace from its start, it reaches the end.
    b.click("pause").await;
    b.until("played to its end", &format!("return Number(document.querySelector('[data-testid=scrub]').value) === {total}")).await;
    b.until("the lines in the picture", "return document.querySelector('[data-testid=counter-messages] b').innerText === '3'").await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
