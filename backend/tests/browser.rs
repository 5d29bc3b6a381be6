//! The real-browser end-to-end test: headless Chromium through ChromeDriver (WebDriver), the
//! real binary with the Trunk-built page embedded, real WebSockets and real TCP clients.
//!
//! `cargo xtask test` installs Chromium and ChromeDriver, builds the page and sets
//! MUXSCOPE_REQUIRE_BROWSER=1, so there it runs or fails. A plain `cargo test` on a machine
//! without them says so and skips.

mod common;
use common::browser::*;
use common::*;
use fantoccini::Locator;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NODES: &str =
    "return [...document.querySelectorAll('[data-testid=fd-node]')].map(e => [Number(e.dataset.fd), e.dataset.role, e.dataset.name])";

fn node_for_port(nodes: &Value, port: u16) -> Option<i64> {
    nodes.as_array()?.iter().find_map(|n| {
        let name = n[2].as_str()?;
        name.ends_with(&format!(":{port}")).then(|| n[0].as_i64()).flatten()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_and_watch_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let web = server.web.unwrap();
    let stats = reqwest_like_get(web, "/api/stats");
    assert!(stats.contains("\"page_embedded\":true"), "the binary has no page embedded (run `cargo xtask test`): {stats}");
    let b = Browser::start().await;
    b.client.goto(&format!("http://{web}/")).await.unwrap();

    // The page connects and draws the interest list: at least the listener.
    b.until("the listener's fd node", "return document.querySelector('[data-testid=fd-node][data-role=listener]') !== null").await;

    // Chat from the browser: the message comes back through the loop.
    b.type_into("chat-nick", "alice").await;
    b.type_into("chat-input", "hello from chromium").await;
    b.click("chat-send").await;
    b.until(
        "own message in chat-log",
        "return document.querySelector('[data-testid=chat-log]').innerText.includes('[alice] hello from chromium')",
    )
    .await;
    // The browser user is itself an fd node, drawn as a web client.
    b.until("a web fd node", "return document.querySelector('[data-testid=fd-node][data-role=web]') !== null").await;

    // An nc-style TCP client joins: its node appears.
    let mut tcp = server.joined();
    let port = tcp.local.port();
    let nodes = b.until("the TCP client's node", &format!("{NODES}.filter(n => n[2].endsWith(':{port}'))")).await;
    let fd = node_for_port(&nodes, port).expect("node for the tcp client");

    // Its message shows in the chat, and the broadcast animates (fan-out element, counter).
    let before = b.js("return document.querySelector('[data-testid=counter-messages] b').innerText").await;
    let before = before.as_str().unwrap().to_string();
    tcp.send("/nick bob\nhi from a terminal\n");
    b.until(
        "the tcp message in chat-log",
        "return document.querySelector('[data-testid=chat-log]').innerText.includes('[bob] hi from a terminal')",
    )
    .await;
    let recipients = b.until("a fan-out to both clients", "return Number(document.querySelector('[data-testid=fanout]')?.dataset.recipients ?? 0) >= 2 ? document.querySelector('[data-testid=fanout]').dataset.recipients : 0").await;
    assert!(recipients.as_str().unwrap().parse::<u32>().unwrap() >= 2);
    let after = b
        .until(
            "the messages counter to move",
            &format!("const t = document.querySelector('[data-testid=counter-messages] b').innerText; return t === '{before}' ? '' : t"),
        )
        .await;
    assert_ne!(after.as_str().unwrap(), before);
    // The event log names the syscalls.
    b.until("epoll_wait in the event log", "return document.querySelector('[data-testid=event-log]').innerText.includes('epoll_wait(')")
        .await;
    // Chat text is text, never markup.
    tcp.send("<img src=x onerror=alert(1)><b>bold</b>\n");
    b.until("the markup line, as text", "return document.querySelector('[data-testid=chat-log]').innerText.includes('<b>bold</b>')").await;
    assert_eq!(b.js("return document.querySelectorAll('[data-testid=chat-log] img, [data-testid=chat-log] b').length").await, json!(0));

    // Teacher controls: pause holds events back, step plays one, live catches up.
    b.click("pause").await;
    b.until("pause to take", "return document.querySelector('[data-testid=pause]').innerText.includes('resume')").await;
    tcp.send("while paused\n");
    b.until("events queued while paused", "return parseInt(document.querySelector('[data-testid=queue]').innerText) > 0").await;
    let queued = |t: &str| t.split_whitespace().next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
    let q1 = queued(&b.text_of("queue").await);
    assert!(q1 > 0);
    b.click("step").await;
    let q2 = queued(&b.text_of("queue").await);
    assert_eq!(q2, q1 - 1, "step plays exactly one event");
    // The IO-models panel: the loop's row is IO multiplexing on its own wait call, and stepping
    // through the paused message lights its phase ① (the wakeup's ready list), then ② (recv).
    b.client.find(Locator::Css("[data-testid=io-models] summary")).await.unwrap().click().await.unwrap();
    let row = b.js("return document.querySelector('[data-testid=io-models] tr.this')?.innerText ?? ''").await;
    assert!(row.as_str().unwrap().contains("IO multiplexing") && row.as_str().unwrap().contains("epoll_wait"), "the loop's row: {row}");
    let lit = "return document.querySelector('[data-testid=io-models] tr.this td.lit')?.className ?? ''";
    // The step above played the first event already: start from what it lit.
    let mut lit_seen: Vec<String> = vec![b.js(lit).await.as_str().unwrap_or("").to_string()];
    for _ in 0..q2 {
        b.click("step").await;
        let c = b.js(lit).await.as_str().unwrap_or("").to_string();
        if lit_seen.last() != Some(&c) {
            lit_seen.push(c);
        }
    }
    let p1 = lit_seen.iter().position(|c| c.contains("p1"));
    let p2 = lit_seen.iter().rposition(|c| c.contains("p2"));
    assert!(matches!((p1, p2), (Some(a), Some(b)) if a < b), "phase ① then ② lit while stepping: {lit_seen:?}");
    // Slow motion: speed slider to 0.1×.
    b.js("const s = document.querySelector('[data-testid=speed]'); s.value = '0.1'; s.dispatchEvent(new Event('input', {bubbles: true})); return true").await;
    b.until("speed label", "return document.querySelector('.speed b').innerText.includes('0.1')").await;
    b.click("live").await;
    b.until("back to live", "return document.querySelector('[data-testid=queue]').innerText === 'live'").await;

    // quit: the TCP client's node disappears.
    tcp.send("quit\n");
    b.until("the node to leave", &format!("return document.querySelector('[data-testid=fd-node][data-fd=\"{fd}\"]') === null")).await;

    // A picture for the README.
    for i in 0..4 {
        tcp = server.joined();
        tcp.send(&format!("/nick guest{i}\nhello, I am guest {i}\n"));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let png = b.client.screenshot().await.unwrap();
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/muxscope-screenshot.png");
    std::fs::write(&out, png).unwrap();
    eprintln!("screenshot: {}", out.display());
    b.client.clone().close().await.unwrap();
}

/// A room too big for labels is drawn another way (plain circles written as markup, then updated
/// attribute by attribute: frontend `dots`). The same hooks must hold there: a thousand nc-style
/// clients become a thousand `fd-node`s with their names, a nick changes one in place, the
/// counters stay exact through the folding, and when the crowd leaves its nodes go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_a_thousand_is_drawn_and_leaves() {
    if !browser_available() {
        return;
    }
    raise_fd_limit();
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let b = Browser::start().await;
    b.client.goto(&format!("http://{}/", server.web.unwrap())).await.unwrap();
    b.until("the listener's fd node", "return document.querySelector('[data-testid=fd-node][data-role=listener]') !== null").await;

    let crowd: Vec<std::net::TcpStream> = (0..1000).map(|_| std::net::TcpStream::connect(server.chat).unwrap()).collect();
    let port = |i: usize| crowd[i].local_addr().unwrap().port();
    b.until("a thousand nodes", "return document.querySelectorAll('[data-testid=fd-node][data-role=tcp]').length === 1000").await;
    let nodes = b.js(NODES).await;
    for i in [0, 499, 999] {
        assert!(node_for_port(&nodes, port(i)).is_some(), "no node named after client {i} (port {})", port(i));
    }
    // Drawn as plain circles: no per-node labels at this size.
    assert_eq!(b.js("return document.querySelectorAll('.fdnum, .fdname').length").await, json!(0));

    // One of them takes a nick and speaks: its node is renamed in place, and the message is
    // counted (the join flood was folded; the totals the gaps carry stay exact).
    let mut speaker = common::Client::from_stream(crowd[7].try_clone().unwrap());
    speaker.send("/nick crowd7\nhello, crowd\n");
    let fd = b.until("the renamed node", "return document.querySelector('[data-testid=fd-node][data-name=crowd7]')?.dataset.fd").await;
    assert_eq!(node_for_port(&nodes, port(7)).map(|f| f.to_string()), fd.as_str().map(String::from), "the nick went to another node");
    b.until("the message counted", "return document.querySelector('[data-testid=counter-messages] b').innerText === '1'").await;
    b.until("a thousand clients counted", "return document.querySelector('[data-testid=counter-clients] b').innerText === '1000'").await;

    drop(speaker);
    drop(crowd);
    b.until("the crowd to leave", "return document.querySelectorAll('[data-testid=fd-node][data-role=tcp]').length === 0").await;
    b.client.clone().close().await.unwrap();
}

/// The stream issue's reproduction, scaled down: a page watches a crowd and a talker, then
/// closes; the crowd leaves and a bigger one joins while nobody watches; a page opens again.
/// Its picture must be the new crowd (it showed the old one, for good, before the fix).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_opened_after_nobody_watched_shows_the_present() {
    if !browser_available() {
        return;
    }
    raise_fd_limit();
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let url = format!("http://{}/", server.web.unwrap());
    // The talker: a line every 10 ms, all along.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let talker = {
        let (stop, addr) = (stop.clone(), server.chat);
        std::thread::spawn(move || {
            let mut c = common::Client::connect(addr);
            c.send("/nick talker\n");
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                c.send(&format!("line {i}\n"));
                i += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let tcp_nodes = "return document.querySelectorAll('[data-testid=fd-node][data-role=tcp]').length";
    let b = Browser::start().await;
    b.client.goto(&url).await.unwrap();
    let first: Vec<std::net::TcpStream> = (0..300).map(|_| std::net::TcpStream::connect(server.chat).unwrap()).collect();
    b.until("the first crowd and the talker", &format!("{tcp_nodes} === 301")).await;
    b.client.goto("about:blank").await.unwrap();
    // Nobody watches now: the first crowd leaves, a bigger one joins.
    drop(first);
    let second: Vec<std::net::TcpStream> = (0..900).map(|_| std::net::TcpStream::connect(server.chat).unwrap()).collect();
    let stats = || reqwest_like_get(server.web.unwrap(), "/api/stats");
    let t0 = Instant::now();
    while !stats().contains("\"subscribers\":0") && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.client.goto(&url).await.unwrap();
    b.until("the second crowd, not the first", &format!("{tcp_nodes} === 901")).await;
    let nodes = b.js(NODES).await;
    for s in [&second[0], &second[899]] {
        let port = s.local_addr().unwrap().port();
        assert!(node_for_port(&nodes, port).is_some(), "no node for a client of the second crowd (port {port})");
    }
    // And it stays so while the talker talks on.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(b.js(tcp_nodes).await, json!(901));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    talker.join().unwrap();
    b.client.clone().close().await.unwrap();
}

/// A page over `--max-watchers` is turned away with close 1013: it says why, tries again with
/// backoff, and gets in once a slot frees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_turned_away_says_why_and_gets_in_when_a_slot_frees() {
    use futures_util::StreamExt;
    if !browser_available() {
        return;
    }
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0", "--max-watchers", "1"]);
    let web = server.web.unwrap();
    let (mut hog, _) = tokio_tungstenite::connect_async(format!("ws://{web}/ws/events")).await.unwrap();
    let _snapshot = hog.next().await.unwrap().unwrap();
    let b = Browser::start().await;
    b.client.goto(&format!("http://{web}/")).await.unwrap();
    let said = b
        .until("the refusal on the page", "const t = document.querySelector('[data-testid=stream-status]')?.innerText || ''; return t.includes('--max-watchers') ? t : ''")
        .await;
    assert!(said.as_str().unwrap().contains("trying again in"), "{said}");
    drop(hog);
    b.until("the page let in", "return document.querySelector('[data-testid=fd-node][data-role=listener]') !== null").await;
    assert_eq!(b.text_of("stream-status").await, "● live");
    b.client.clone().close().await.unwrap();
}

/// Not a test: the page's performance under a busy room, for `cargo xtask bench` (which runs
/// it with `--ignored` against the release binary). Prints one `BENCH {json}` line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run by cargo xtask bench"]
async fn page_under_load() {
    if !browser_available() {
        return;
    }
    let clients: usize = std::env::var("LOAD_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let rate: f64 = std::env::var("LOAD_RATE").ok().and_then(|v| v.parse().ok()).unwrap_or(1000.0);
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let b = Browser::start().await;
    b.client.goto(&format!("http://{}/", server.web.unwrap())).await.unwrap();
    let ready_ms = b.until("the first picture", "return window.muxscopeReadyMs || 0").await.as_f64().unwrap();
    let bin = std::env::var("MUXSCOPE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_muxscope").to_string());
    let load_secs = 14.0;
    // LOAD_BOTS=1: the room is the gateway's own bots (`POST /api/bots`), in the server's
    // process, instead of a load generator's clients.
    let bots = std::env::var("LOAD_BOTS").is_ok_and(|v| v == "1");
    let load = (!bots).then(|| {
        Command::new(&bin)
            .args(["bench", "chat-load", "--target", &server.chat.to_string(), "--clients", &clients.to_string()])
            .args(["--rate", &rate.to_string(), "--seconds", &load_secs.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    });
    if bots {
        let body = json!({ "add": clients, "rate": rate / clients as f64 }).to_string();
        let answer = reqwest_like_post(server.web.unwrap(), "/api/bots", &body);
        assert!(answer.starts_with("HTTP/1.1 200"), "bots refused: {answer}");
    }
    // Let the clients join and the room get busy, then record every animation frame for 8 s.
    tokio::time::sleep(Duration::from_secs(4)).await;
    if let Ok(sel) = std::env::var("LOAD_HIDE") {
        // For profiling: take a part of the page out of rendering.
        b.js(&format!("document.querySelectorAll('{sel}').forEach(e => e.style.display = 'none'); return true")).await;
    }
    b.js("window.__frames = []; (function f(t) { window.__frames.push(t); if (window.__frames.length < 100000) requestAnimationFrame(f); })(performance.now()); return true").await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let frames = b.js("const f = window.__frames; return f.slice(1).map((t, i) => t - f[i])").await;
    let nodes = b.js("return document.querySelectorAll('[data-testid=fd-node]').length").await;
    let folded = b.js("return document.querySelector('[data-testid=counter-folded] b').innerText").await;
    let page_stats = b.js("return window.muxscopeStats || null").await;
    let load_json = match load {
        Some(load) => String::from_utf8_lossy(&load.wait_with_output().unwrap().stdout).trim().to_string(),
        None => reqwest_like_get(server.web.unwrap(), "/api/bots").split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    };
    let mut deltas: Vec<f64> = frames.as_array().unwrap().iter().filter_map(|v| v.as_f64()).collect();
    assert!(deltas.len() > 50, "only {} frames in 8 s", deltas.len());
    deltas.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| deltas[((deltas.len() - 1) as f64 * p).round() as usize];
    println!(
        "BENCH {}",
        json!({
            "interactive_ms": ready_ms, "frames": deltas.len(), "frame_p50_ms": q(0.5), "frame_p95_ms": q(0.95),
            "frame_max_ms": q(1.0), "fd_nodes": nodes, "folded": folded, "page": page_stats, "load": serde_json::from_str::<Value>(&load_json).unwrap_or(Value::Null)
        })
    );
    b.client.clone().close().await.unwrap();
}

/// A tiny HTTP POST of a JSON body over a raw socket; the whole answer.
fn reqwest_like_post(addr: std::net::SocketAddr, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let origin = format!("http://{addr}");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// A tiny HTTP GET over a raw socket (no client library needed for one request).
fn reqwest_like_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The model picker switches the live server: a thread per connection appears under the
/// blocking model (a reader on each client's node, the acceptor on the listener), goes away
/// under epoll, and a refused switch says why while the picker goes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_picker_switches_models_and_the_picture_follows() {
    if !browser_available() {
        return;
    }
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0", "--max-threads", "40"]);
    let web = server.web.unwrap();
    let clients: Vec<std::net::TcpStream> = (0..20).map(|_| std::net::TcpStream::connect(server.chat).unwrap()).collect();
    let b = Browser::start().await;
    b.client.goto(&format!("http://{web}/")).await.unwrap();
    let tcp_nodes = "return document.querySelectorAll('[data-testid=fd-node][data-role=tcp]').length";
    b.until("the crowd", &format!("{tcp_nodes} === 20")).await;
    let pick = |m: &str| {
        format!(
            "const s = document.querySelector('[data-testid=model]'); s.value = '{m}'; s.dispatchEvent(new Event('change', {{bubbles: true}})); return s.value"
        )
    };
    let threads = "return document.querySelectorAll('[data-testid=thread]').length";
    b.js(&pick("blocking")).await;
    b.until("a reader per client and the acceptor", &format!("{threads} === 21")).await;
    assert!(reqwest_like_get(web, "/api/stats").contains("\"model\":\"blocking\""));
    let readers =
        b.js("return [...document.querySelectorAll('[data-testid=thread][data-role=reader]')].map(t => Number(t.dataset.fd))").await;
    let nodes = b.js("return [...document.querySelectorAll('[data-testid=fd-node][data-role=tcp]')].map(n => Number(n.dataset.fd))").await;
    let (mut r, mut n): (Vec<i64>, Vec<i64>) = (
        readers.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect(),
        nodes.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect(),
    );
    r.sort();
    n.sort();
    assert_eq!(r, n, "each client's node has its reader thread");
    // For the README: the blocking model's threads, the picker and the compare panel.
    let png = b.client.screenshot().await.unwrap();
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/muxscope-models.png");
    std::fs::write(&out, png).unwrap();
    eprintln!("screenshot: {}", out.display());
    b.js(&pick("epoll")).await;
    b.until(
        "threads gone under epoll",
        &format!("{threads} === 0 && {}", "document.querySelector('[data-testid=model]').value === 'epoll'"),
    )
    .await;
    assert_eq!(b.js(tcp_nodes).await, json!(20), "every client stayed through both switches");
    // 20 more clients: 40 readers and an acceptor are past --max-threads 40.
    let more: Vec<std::net::TcpStream> = (0..20).map(|_| std::net::TcpStream::connect(server.chat).unwrap()).collect();
    b.until("the bigger crowd", &format!("{tcp_nodes} === 40")).await;
    b.js(&pick("blocking")).await;
    let status = b
        .until(
            "the refusal, said",
            "const t = document.querySelector('[data-testid=model-status]').textContent; return t.includes('--max-threads') ? t : false",
        )
        .await;
    assert!(status.as_str().unwrap().contains("still on epoll"), "{status}");
    b.until("the picker back on epoll", "return document.querySelector('[data-testid=model]').value === 'epoll'").await;
    assert!(reqwest_like_get(web, "/api/stats").contains("\"model\":\"epoll\""));
    drop((clients, more));
    b.client.clone().close().await.unwrap();
}
