//! The "one message's life" tour in a real browser, from its link `/#tour=message`: each step
//! arrives (the loop did what the step describes), lights what it talks about and says which
//! step it is; *next* runs it to its last step, *back* goes back once (to where that step
//! arrived, no bot added again); ending it removes the bots it added.
//!
//! Runs where `cargo xtask test` runs the other browser tests; elsewhere it says so and skips.

mod common;
use common::browser::*;
use common::cli::*;
use common::*;
use serde_json::Value;

const PANEL: &str = "document.querySelector('[data-testid=tour]')";
/// How many steps the tour has (`frontend/src/tour/tours.rs`).
const STEPS: u64 = 6;

fn bots(web: std::net::SocketAddr) -> u64 {
    let (status, body) = http(web, "GET", "/api/bots", "");
    assert_eq!(status, 200);
    serde_json::from_slice::<Value>(&body).unwrap()["bots"].as_u64().unwrap()
}

/// Waits until the panel shows `step` arrived, with its highlight on the page.
async fn arrived(b: &Browser, step: u64) {
    b.until(
        &format!("step {step} arrived"),
        &format!(
            "const p = {PANEL}; return p && p.dataset.tour === 'message' && p.dataset.step === '{step}' && p.dataset.arrived === 'true'"
        ),
    )
    .await;
    let lit = b
        .until(
            &format!("step {step}'s highlight"),
            &format!(
                "const p = {PANEL}; const t = p.dataset.target; \
                 return t && document.querySelector(t) !== null && document.querySelector('.tour-hl') !== null ? t : ''"
            ),
        )
        .await;
    assert!(!lit.as_str().unwrap_or("").is_empty());
    let text = b.js(&format!("return {PANEL}.querySelector('.tour-text').innerText")).await;
    assert!(text.as_str().unwrap_or("").len() > 20, "step {step} says something: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_tour_runs_from_its_link_to_its_last_step_and_back_once() {
    if !browser_available() {
        return;
    }
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let web = server.web.unwrap();
    let b = Browser::start().await;
    b.client.goto(&format!("http://{web}/#tour=message")).await.unwrap();
    b.until("the tour panel", &format!("return {PANEL}?.dataset.tour === 'message'")).await;
    arrived(&b, 0).await;
    assert_eq!(bots(web), 1, "the tour's bot joined");

    let mut backed = false;
    let mut step = 0;
    while step + 1 < STEPS {
        b.click("tour-next").await;
        step += 1;
        arrived(&b, step).await;
        if step == 3 && !backed {
            backed = true;
            b.click("tour-back").await;
            arrived(&b, 2).await;
            b.click("tour-next").await;
            arrived(&b, 3).await;
        }
    }
    assert_eq!(b.js(&format!("return {PANEL}.querySelector('[data-testid=tour-next]').disabled")).await, Value::Bool(true));
    assert_eq!(bots(web), 1, "going back and forth added no bot");

    b.click("tour-end").await;
    b.until("the panel gone", &format!("return {PANEL} === null")).await;
    b.until("the tour's bots gone", "return document.querySelectorAll('[data-testid=fd-node][data-role=bot]').length === 0").await;
    assert_eq!(bots(web), 0, "GET /api/bots after the tour");
    assert_eq!(b.js("return document.querySelectorAll('.tour-hl').length").await.as_u64(), Some(0), "nothing lit after");
}

/// Polls `script` until it is true, for at most `secs` (some tours wait on the loop for long).
async fn wait_true(b: &Browser, what: &str, script: &str, secs: u64) {
    let t0 = std::time::Instant::now();
    while b.js(script).await != Value::Bool(true) {
        let panel = b.js(&format!("return {PANEL}?.outerHTML ?? 'no panel'")).await;
        assert!(t0.elapsed().as_secs() < secs, "timed out waiting for {what}: {panel}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Runs tour `name` from its link to its last step (each arrived, its highlight on the page),
/// ends it, and checks its bots are gone and the model it switched from is back.
async fn run_tour(b: &Browser, web: std::net::SocketAddr, name: &str, steps: u64, secs: u64) {
    b.client.goto(&format!("http://{web}/#tour={name}")).await.unwrap();
    for step in 0..steps {
        if step > 0 {
            b.click("tour-next").await;
        }
        wait_true(
            b,
            &format!("{name} step {step}"),
            &format!(
                "const p = {PANEL}; return !!p && p.dataset.tour === '{name}' && p.dataset.step === '{step}' && p.dataset.arrived === 'true' \
                 && document.querySelector(p.dataset.target) !== null"
            ),
            secs,
        )
        .await;
    }
    b.click("tour-end").await;
    wait_true(
        b,
        &format!("{name}'s bots gone"),
        "return document.querySelectorAll('[data-testid=fd-node][data-role=bot]').length === 0",
        60,
    )
    .await;
    assert_eq!(bots(web), 0, "{name}: GET /api/bots after the tour");
    let (_, body) = http(web, "GET", "/api/stats", "");
    let stats: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(stats["model"], "epoll", "{name}: the model it switched from is back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_tours_arrive_at_every_step_and_clean_up() {
    if !browser_available() {
        return;
    }
    raise_fd_limit();
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let web = server.web.unwrap();
    let b = Browser::start().await;
    run_tour(&b, web, "join", 3, 20).await;
    run_tour(&b, web, "et", 3, 20).await;
    run_tour(&b, web, "threads", 3, 30).await;
    run_tour(&b, web, "select-wall", 4, 60).await;
    run_tour(&b, web, "scan-cost", 3, 90).await;
}

/// The slow reader: a client that never reads (the class's nc stopped with Ctrl-Z) is owed
/// output, armed for writing, and cut at the limit, while 250 bots talk at the bots' bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slow_reader_tour_follows_a_client_that_never_reads_to_its_cut() {
    if !browser_available() {
        return;
    }
    raise_fd_limit();
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let web = server.web.unwrap();
    let b = Browser::start().await;
    b.client.goto(&format!("http://{web}/#tour=slow-reader")).await.unwrap();
    b.until("the tour panel", &format!("return {PANEL}?.dataset.tour === 'slow-reader'")).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // Never read from: its kernel buffers fill, then the loop's queue for it.
    let _stopped = server.client();
    let steps = [0, 1, 2, 3];
    for step in steps {
        if step > 0 {
            b.click("tour-next").await;
        }
        wait_true(
            &b,
            &format!("slow-reader step {step}"),
            &format!("const p = {PANEL}; return !!p && p.dataset.step === '{step}' && p.dataset.arrived === 'true'"),
            150,
        )
        .await;
    }
    b.click("tour-end").await;
    wait_true(&b, "the bots gone", "return document.querySelectorAll('[data-testid=fd-node][data-role=bot]').length === 0", 60).await;
    assert_eq!(bots(web), 0);
}
