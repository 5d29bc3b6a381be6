//! The bots panel in a real browser: +100 adds a hundred bots, which appear as a hundred more
//! fd nodes drawn as bots; a refused request shows the server's reason; *remove all* takes them
//! away again.
//!
//! Runs where `cargo xtask test` runs the other browser tests; elsewhere it says so and skips.

mod common;
use common::browser::*;
use common::*;

const BOT_NODES: &str = "return document.querySelectorAll('[data-testid=fd-node][data-role=bot]').length";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bots_panel_adds_a_hundred_bots_and_removes_them() {
    if !browser_available() {
        return;
    }
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let b = Browser::start().await;
    b.client.goto(&format!("http://{}/", server.web.unwrap())).await.unwrap();
    b.until("the listener's node", "return document.querySelector('[data-testid=fd-node][data-role=listener]') !== null").await;
    b.until("the bots panel's count", "return document.querySelector('[data-testid=bots-count]')?.innerText === '0'").await;
    assert_eq!(b.js(BOT_NODES).await.as_u64(), Some(0));

    b.type_into("bots-rate", "0.5").await;
    b.click("bots-add-100").await;
    b.until("100 bot nodes", &format!("{BOT_NODES} === 100")).await;
    b.until("the count says 100", "return document.querySelector('[data-testid=bots-count]').innerText === '100'").await;
    let mut me = server.joined();
    assert_eq!(me.who_count(), 101, "a hundred bots and me");

    // Over the cap: the server's reason on the page, and no more bots.
    b.type_into("bots-rate", "100").await;
    b.click("bots-add-1").await;
    b.until("the refusal", "return document.querySelector('[data-testid=bots-error]')?.innerText.includes('at most 20 lines a second')")
        .await;
    assert_eq!(me.who_count(), 101);

    b.click("bots-remove").await;
    b.until("no bot nodes", &format!("{BOT_NODES} === 0")).await;
    b.until("the count says 0", "return document.querySelector('[data-testid=bots-count]').innerText === '0'").await;
    assert_eq!(me.who_count(), 1);

    // In Chinese, the panel and a bound's refusal are too.
    b.client.goto(&format!("http://{}/?lang=zh", server.web.unwrap())).await.unwrap();
    b.until("the panel in Chinese", "return document.querySelector('[data-testid=bots] summary')?.innerText.includes('机器人')").await;
    b.type_into("bots-rate", "100").await;
    b.click("bots-add-10").await;
    b.until(
        "the refusal in Chinese",
        "return document.querySelector('[data-testid=bots-error]')?.innerText.includes('每个机器人每秒最多')",
    )
    .await;
    assert_eq!(me.who_count(), 1);
}
