//! The page's history in a real browser: paused, five steps back and five forward give the same
//! picture (the same event marked in the log, the same fds lit); the scrubber goes anywhere the
//! history holds, a click on a log line goes to its moment, and live comes back to the end.
//!
//! Runs where `cargo xtask test` runs the other browser tests (Chromium, ChromeDriver, the page
//! built and embedded); elsewhere it says so and skips.

mod common;
use common::browser::*;
use common::*;
use serde_json::{json, Value};

/// The log line the picture is at: its event's index.
const AT: &str = "return document.querySelector('[data-testid=event-log] .ev.at')?.dataset.index ?? ''";
/// The fds with a mark, and which (the animation's parity left out: it only restarts it).
const LIT: &str = "return [...document.querySelectorAll('[data-testid=fd-node]')].flatMap(n => { const k = [...n.classList].find(c => /^(ready|copy|send|join)-[01]$/.test(c)); return k ? [[Number(n.dataset.fd), k.slice(0, -2)]] : []; })";
/// Where the scrubber is, and how many TCP clients the picture has (expressions).
const SCRUB: &str = "Number(document.querySelector('[data-testid=scrub]').value)";
const TCP_NODES: &str = "document.querySelectorAll('[data-testid=fd-node][data-role=tcp]').length";

fn scrub_to(i: u64) -> String {
    format!("const s = document.querySelector('[data-testid=scrub]'); s.value = '{i}'; s.dispatchEvent(new Event('input', {{bubbles: true}})); return s.value")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_back_and_forward_scrub_and_jump_through_the_history() {
    if !browser_available() {
        return;
    }
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let b = Browser::start().await;
    b.client.goto(&format!("http://{}/", server.web.unwrap())).await.unwrap();
    b.until("the listener's fd node", "return document.querySelector('[data-testid=fd-node][data-role=listener]') !== null").await;
    let start = b.js(&format!("return {SCRUB}")).await.as_u64().unwrap();

    // Two clients join after the page did, and talk.
    let mut ann = server.joined();
    let mut bob = server.joined();
    ann.send("/nick ann\n");
    bob.send("/nick bob\n");
    for i in 0..3 {
        ann.send(&format!("hello {i} from ann\n"));
        bob.send(&format!("hello {i} from bob\n"));
    }
    b.until("six messages", "return document.querySelector('[data-testid=counter-messages] b').innerText === '6'").await;
    b.until("two tcp nodes", &format!("return {TCP_NODES} === 2")).await;
    // Once the page is calm again (six messages at once may have been drawn as a still
    // picture), one more: its marks are drawn.
    tokio::time::sleep(std::time::Duration::from_millis(1800)).await;
    ann.send("one more\n");
    b.until("seven messages", "return document.querySelector('[data-testid=counter-messages] b').innerText === '7'").await;
    let status = b.text_of("history").await;
    assert!(status.starts_with("history: ") && status.contains("events"), "{status}");

    b.click("pause").await;
    b.until("pause to take", "return document.querySelector('[data-testid=pause]').innerText.includes('resume')").await;
    let (at, lit, end) = (b.js(AT).await, b.js(LIT).await, b.js(&format!("return {SCRUB}")).await.as_u64().unwrap());
    assert_ne!(at, json!(""), "the event the picture is at is marked in the log");
    assert!(!lit.as_array().unwrap().is_empty(), "the last sends lit their clients: {lit}");

    // Five back: the picture moves back one event at a time.
    let mut seen: Vec<Value> = vec![at.clone()];
    for k in 1..=5 {
        b.click("step-back").await;
        b.until("one step back", &format!("return {SCRUB} === {}", end - k)).await;
        seen.push(b.js(AT).await);
    }
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "each step back marks another event: {seen:?}");
    // Five forward: the same picture as before.
    for k in 1..=5 {
        b.click("step").await;
        b.until("one step forward", &format!("return {SCRUB} === {}", end - 5 + k)).await;
    }
    assert_eq!(b.js(AT).await, at, "the same event is marked");
    assert_eq!(b.js(LIT).await, lit, "the same fds are lit");

    // Scrub to the start: the clients have not joined yet; back to the end: they have.
    b.js(&scrub_to(start)).await;
    b.until("the picture before the clients joined", &format!("return {SCRUB} === {start} && {TCP_NODES} === 0")).await;
    b.js(&scrub_to(end)).await;
    b.until("the clients back", &format!("return {SCRUB} === {end} && {TCP_NODES} === 2")).await;

    // A click on a log line goes to its moment, and marks it.
    let line = b
        .js("const l = [...document.querySelectorAll('[data-testid=event-log] .ev[data-index]')][6]; l.click(); return [Number(l.dataset.index), Number(l.dataset.jump)]")
        .await;
    let (index, jump) = (line[0].as_i64().unwrap(), line[1].as_u64().unwrap());
    b.until("the jump", &format!("return {SCRUB} === {jump}")).await;
    assert_eq!(b.js(AT).await, json!(index.to_string()));

    // Live: back to the end, and what came meanwhile plays.
    ann.send("after the jump\n");
    b.click("live").await;
    b.until("back to live", "return document.querySelector('[data-testid=queue]').innerText === 'live'").await;
    b.until("the new message", "return document.querySelector('[data-testid=counter-messages] b').innerText === '8'").await;
    let (scrub, max) =
        (b.js(&format!("return {SCRUB}")).await, b.js("return Number(document.querySelector('[data-testid=scrub]').max)").await);
    assert_eq!(scrub, max, "the scrubber is at the live end");
    drop((ann, bob));
    b.client.clone().close().await.unwrap();
}

/// Not a test: how fast the page's own wasm seeks a history of a million events of a busy room
/// of a thousand (`history_bench` in the page). Prints one `BENCH {json}` line. Run it with
/// `cargo test -p muxscope --test browser_history -- --ignored --nocapture history_seek_in_chromium`
/// after `trunk build --release`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn history_seek_in_chromium() {
    if !browser_available() {
        return;
    }
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let b = Browser::start().await;
    b.client.goto(&format!("http://{}/", server.web.unwrap())).await.unwrap();
    b.until("the page's wasm", "return typeof window.wasmBindings?.history_bench === 'function'").await;
    for clients in [10, 1000] {
        let out = b.js(&format!("return window.wasmBindings.history_bench({clients}, 1000000, 100)")).await;
        let v: Value = serde_json::from_str(out.as_str().expect("a JSON string")).unwrap();
        println!("BENCH {v}");
        assert!(v["seek_longest_replay_ms"].as_f64().unwrap() <= 50.0, "a seek took more than 50 ms in the browser: {v}");
    }
    b.client.clone().close().await.unwrap();
}
