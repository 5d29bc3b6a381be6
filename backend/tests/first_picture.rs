//! Not a test: how long the page takes to show a crowd that is already there (issue 16: 10,000
//! TCP clients on screen in at most 1 s after navigation).
//!
//! `first_picture` starts muxscope, connects `FIRST_PICTURE_CLIENTS` (default 10,000) TCP
//! clients, waits until the loop has accepted them all, then opens the page five times (a fresh
//! navigation each, the browser's cache emptied first: a first visit) and measures, in the page,
//! from navigation start (the Navigation Timing origin, `performance.now()` = 0):
//!
//! - `dom_ms`: the document holds one `[data-testid=fd-node][data-role=tcp]` per client. A
//!   script Chromium runs in every new document before the page's own (DevTools
//!   `Page.addScriptToEvaluateOnNewDocument`) counts them whenever nodes are added
//!   (MutationObserver);
//! - `painted_ms`: the first task after the animation frame that follows (that frame's style,
//!   layout and paint are done by then): the crowd is on screen.
//!
//! `phases_ms` splits `painted_ms` along the page's own `performance.mark`s (`mx:*`, see the
//! frontend's `net.rs`): `boot` (HTML, CSS, JS and wasm until the wasm starts),
//! `snapshot_wait` (then until the `/ws/events` snapshot is in hand), `parse` (its text and
//! JSON), `queue_wait` (until the reducer takes it), `render` (reducer, page render, the crowd's
//! markup), `dom_write` (the browser parsing that markup into the document) and
//! `style_layout_paint`. A page without some mark gets null there. `renderer_ms` is Chromium's
//! own count for the document at the time it was read (a little after `painted_ms`): script,
//! style recalculation, layout, all tasks.
//!
//! ```sh
//! cargo xtask web && cargo build --release -p muxscope
//! MUXSCOPE_BIN=target/release/muxscope cargo test --release -p muxscope --test first_picture -- --ignored --nocapture
//! ```
//!
//! (The test raises its own open-file limit to the hard limit; it needs N + a few hundred.)
//! Prints one `BENCH {json}` line: every run, and the medians of the times and of each phase.
//! `FIRST_PICTURE_SCREENSHOT=path.png` saves the last picture.

mod common;
use common::browser::*;
use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const RUNS: usize = 5;

/// DevTools through ChromeDriver, for the numbers WebDriver does not give.
trait DevTools {
    fn renderer_ms(&self) -> Value;
    fn cdp(&self, cmd: &str, params: Value) -> Value;
}

impl DevTools for Browser {
    /// Chromium's accounting for the current document so far: script, style, layout, all tasks.
    fn renderer_ms(&self) -> Value {
        let m = self.cdp("Performance.getMetrics", json!({}));
        let metrics = m["value"]["metrics"].as_array().or(m["metrics"].as_array()).cloned().unwrap_or_default();
        let get = |name: &str| {
            let v = metrics.iter().find(|e| e["name"] == name).and_then(|e| e["value"].as_f64());
            v.map(|s| (s * 10_000.0).round() / 10.0)
        };
        json!({
            "script": get("ScriptDuration"), "style": get("RecalcStyleDuration"),
            "layout": get("LayoutDuration"), "tasks": get("TaskDuration"),
        })
    }

    /// A DevTools command through ChromeDriver (`POST /session/{id}/goog/cdp/execute`).
    fn cdp(&self, cmd: &str, params: Value) -> Value {
        let body = json!({ "cmd": cmd, "params": params }).to_string();
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "POST /session/{}/goog/cdp/execute HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.session,
            self.port,
            body.len()
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        // ChromeDriver keeps the connection open: read the head, then Content-Length bytes.
        let mut r = std::io::BufReader::new(s);
        let (mut head, mut line, mut len) = (String::new(), String::new(), 0usize);
        loop {
            line.clear();
            std::io::BufRead::read_line(&mut r, &mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap();
                }
            }
            head.push_str(&line);
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(head.starts_with("HTTP/1.1 200"), "{cmd}: {head}\n{body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }
}

/// Run in every new document before the page's scripts: records when the crowd is all there.
fn watcher(n: usize) -> String {
    format!(
        r#"(() => {{
  const N = {n}, SEL = '[data-testid=fd-node][data-role=tcp]';
  const r = window.__fp = {{ n: N, dom: null, frame: null, painted: null, checks: 0, max: 0 }};
  const obs = new MutationObserver(records => {{
    if (r.dom !== null || !records.some(m => m.addedNodes.length)) return;
    r.checks++;
    const c = document.querySelectorAll(SEL).length;
    r.max = Math.max(r.max, c);
    if (c < N) return;
    r.dom = performance.now();
    obs.disconnect();
    requestAnimationFrame(() => {{
      r.frame = performance.now();
      setTimeout(() => {{ r.painted = performance.now(); }}, 0);
    }});
  }});
  obs.observe(document, {{ childList: true, subtree: true }});
}})();"#
    )
}

/// What one load took, read in the page once it has drawn the crowd (null until then).
const REPORT: &str = r#"
const r = window.__fp;
if (!r || r.painted === null) return null;
const nav = performance.getEntriesByType('navigation')[0] || {};
const marks = {};
for (const m of performance.getEntriesByType('mark')) {
  if (m.name.startsWith('mx:') && !(m.name in marks)) marks[m.name] = m.startTime;
}
const wasm = performance.getEntriesByType('resource').find(e => e.name.endsWith('.wasm'));
const round = v => v == null || Number.isNaN(v) ? null : Math.round(v * 10) / 10;
// The critical path, point by point (a point the page does not mark is null).
const at = {
  start: marks['mx:start'],
  received: Math.max(marks['mx:start'], marks['mx:socket-message'] ?? marks['mx:first-frame']),
  parsed: marks['mx:snapshot-parsed'],
  taken: marks['mx:snapshot-taken'],
  markup: marks['mx:crowd-markup'] ?? marks['mx:render'],
  dom: r.dom,
  painted: r.painted,
};
const span = (a, b) => at[a] == null || at[b] == null ? null : round(at[b] - at[a]);
const rounded = {};
for (const k in marks) rounded[k] = round(marks[k]);
return {
  dom_ms: round(r.dom), frame_ms: round(r.frame), painted_ms: round(r.painted),
  phases_ms: {
    boot: round(at.start), snapshot_wait: span('start', 'received'), parse: span('received', 'parsed'),
    queue_wait: span('parsed', 'taken'), render: span('taken', 'markup'), dom_write: span('markup', 'dom'),
    style_layout_paint: span('dom', 'painted'),
  },
  marks: rounded, html_ms: round(nav.responseEnd), wasm_fetched_ms: round(wasm && wasm.responseEnd),
  wasm_bytes: wasm ? wasm.encodedBodySize : null,
  fcp_ms: round((performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime),
  ready_ms: round(window.muxscopeReadyMs), stats: window.muxscopeStats || null,
};"#;

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Some(v[v.len() / 2])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: MUXSCOPE_BIN=target/release/muxscope cargo test --release -p muxscope --test first_picture -- --ignored --nocapture"]
async fn first_picture() {
    if !browser_available() {
        return;
    }
    let n: usize = std::env::var("FIRST_PICTURE_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    raise_fd_limit();
    // `MUXSCOPE_BIN=target/release/muxscope` is relative to the workspace; tests run in backend/.
    if let Ok(bin) = std::env::var("MUXSCOPE_BIN") {
        let from_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(&bin);
        if std::path::Path::new(&bin).is_relative() && !std::path::Path::new(&bin).exists() && from_root.exists() {
            std::env::set_var("MUXSCOPE_BIN", from_root);
        }
    }
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let web = server.web.unwrap();

    // The crowd, then a round trip through the loop from its newest member: the listen backlog is
    // first in, first out, so once the last is accepted every one is.
    let t0 = Instant::now();
    let crowd: Vec<std::net::TcpStream> = (0..n).map(|_| std::net::TcpStream::connect(server.chat).unwrap()).collect();
    let mut last = common::Client::from_stream(crowd[n - 1].try_clone().unwrap());
    let online = last.who_count();
    assert_eq!(online, n, "the loop has every client");
    eprintln!("{n} clients connected and accepted in {:?}", t0.elapsed());
    // Let the join flood reach the gateway before the first page asks for the picture.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let b = Browser::start().await;
    b.cdp("Page.addScriptToEvaluateOnNewDocument", json!({ "source": watcher(n) }));
    let mut runs = Vec::new();
    for i in 0..RUNS {
        b.client.goto("about:blank").await.unwrap();
        // A first visit: nothing of the page in the cache (nor its compiled wasm).
        b.cdp("Network.clearBrowserCache", json!({}));
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.cdp("Performance.enable", json!({}));
        let asked = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0;
        b.client.goto(&format!("http://{web}/")).await.unwrap();
        let t = Instant::now();
        let mut run = loop {
            let v = b.js(REPORT).await;
            if !v.is_null() {
                break v;
            }
            if t.elapsed() > Duration::from_secs(30) {
                let diag = b.js("return JSON.stringify({fp: window.__fp, nodes: document.querySelectorAll('[data-testid=fd-node]').length, t: performance.now(), stats: window.muxscopeStats})").await;
                panic!("run {i}: the page never showed {n} tcp nodes: {diag}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        run["renderer_ms"] = b.renderer_ms();
        // From the WebDriver command to the navigation's start (not in the times above).
        let origin = b.js("return performance.timeOrigin").await.as_f64().unwrap_or(asked);
        run["goto_to_navigation_ms"] = json!(((origin - asked) * 10.0).round() / 10.0);
        eprintln!("run {i}: {run}");
        runs.push(run);
    }

    // To look at the picture: FIRST_PICTURE_SCREENSHOT=path.png
    if let Ok(path) = std::env::var("FIRST_PICTURE_SCREENSHOT") {
        std::fs::write(&path, b.client.screenshot().await.unwrap()).unwrap();
        eprintln!("screenshot: {path}");
    }
    let col = |k: &str| median(runs.iter().filter_map(|r| r[k].as_f64()).collect());
    let phase = |k: &str| median(runs.iter().filter_map(|r| r["phases_ms"][k].as_f64()).collect());
    let phases: serde_json::Map<String, Value> =
        ["boot", "snapshot_wait", "parse", "queue_wait", "render", "dom_write", "style_layout_paint"]
            .iter()
            .map(|k| (k.to_string(), json!(phase(k))))
            .collect();
    let renderer = |k: &str| median(runs.iter().filter_map(|r| r["renderer_ms"][k].as_f64()).collect());
    println!(
        "BENCH {}",
        json!({
            "bench": "first_picture", "clients": n,
            "dom_ms": runs.iter().map(|r| r["dom_ms"].clone()).collect::<Vec<_>>(),
            "painted_ms": runs.iter().map(|r| r["painted_ms"].clone()).collect::<Vec<_>>(),
            "median_dom_ms": col("dom_ms"), "median_painted_ms": col("painted_ms"), "median_phases_ms": phases,
            "median_renderer_ms": { "script": renderer("script"), "style": renderer("style"), "layout": renderer("layout"), "tasks": renderer("tasks") },
            "runs": runs,
        })
    );
    b.client.clone().close().await.unwrap();
    drop(last);
    drop(crowd);
}
