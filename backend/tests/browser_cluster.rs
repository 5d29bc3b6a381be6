//! The cluster in a real browser: two nodes, A (with the page) and B, on one `redis-server` of
//! this test's own. A's page shows the cluster strip (`data-testid="cluster"`) listing both
//! nodes and draws the relay's fd; a line said on B (a raw TCP client) arrives on A's relay fd:
//! the event log has the relay fd's recv and a broadcast named `bob@B`, and the chat pane shows
//! `[bob@B] …`. With a third node C and five bots on A, it saves `target/muxscope-cluster.png`
//! (the README's `docs/cluster.png`). Redis killed, the strip says the relay is down (since
//! when, why); Redis back on the same port, the strip says up again and lists both nodes.
//!
//! Runs where `cargo xtask test` runs the other browser tests (it installs redis-server too);
//! elsewhere it says so and skips. MUXSCOPE_REQUIRE_BROWSER=1 (or MUXSCOPE_REQUIRE_REDIS=1)
//! makes a missing redis-server fail.

mod common;
use common::browser::*;
use common::cli::http;
use common::redis::{redis_available, Redis};
use common::*;
use std::time::Duration;

const STRIP: &str = "document.querySelector('[data-testid=cluster]')";
const LOG: &str = "document.querySelector('[data-testid=event-log]').innerText";
const CHAT: &str = "document.querySelector('[data-testid=chat-log]').innerText";

/// A node of the cluster on `redis`, named `name`; with `extra` (e.g. its web address).
fn node(redis: &Redis, name: &str, extra: &[&str]) -> Server {
    let url = redis.url();
    Server::start("epoll", &[&["--cluster", url.as_str(), "--node", name][..], extra].concat())
}

/// JS: true when the strip lists exactly `names` (in this order) and says `state`.
fn strip_is(state: &str, names: &[&str]) -> String {
    format!(
        "const s = {STRIP}; return s !== null && s.dataset.state === '{state}' && \
         [...s.querySelectorAll('[data-testid=cluster-node]')].map(n => n.dataset.node).join(',') === '{}'",
        names.join(",")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_strip_shows_the_nodes_remote_lines_on_the_relay_fd_and_a_relay_down_then_up() {
    // Where a browser is required, so is Redis (as where the cluster tests are).
    let require =
        if std::env::var_os("MUXSCOPE_REQUIRE_BROWSER").is_some() { "MUXSCOPE_REQUIRE_BROWSER" } else { "MUXSCOPE_REQUIRE_REDIS" };
    if !browser_available() || !redis_available(require) {
        return;
    }
    let mut redis = Redis::start();
    let a = node(&redis, "A", &["--web-addr", "127.0.0.1:0"]);
    let b_node = node(&redis, "B", &[]);
    let web = a.web.unwrap();
    let b = Browser::start().await;
    b.client.goto(&format!("http://{web}/")).await.unwrap();
    b.until("the listener's node", "return document.querySelector('[data-testid=fd-node][data-role=listener]') !== null").await;

    // The strip: both nodes up, A marked as this one; the relay's fd drawn on the stage.
    b.until("the strip listing A and B, up", &strip_is("up", &["A", "B"])).await;
    let me = b.js(&format!("return [...{STRIP}.querySelectorAll('[data-me=true]')].map(n => n.dataset.node).join(',')")).await;
    assert_eq!(me.as_str(), Some("A"), "this node is marked");
    let relay_fd =
        b.until("the relay's fd node", "return document.querySelector('[data-testid=fd-node][data-role=relay]')?.dataset.fd").await;
    let relay_fd: i32 = relay_fd.as_str().unwrap().parse().unwrap();

    // The page's own chat user, so the chat pane shows the room; its line is published.
    b.type_into("chat-nick", "ann").await;
    b.type_into("chat-input", "hello from A").await;
    b.click("chat-send").await;
    b.until("the page's own line", &format!("return {CHAT}.includes('[ann] hello from A')")).await;

    // A line said on B arrives on A's relay fd and is fanned out as bob@B.
    let mut bob = b_node.joined();
    bob.send("/nick bob\nhi from B\n");
    bob.line_until("[bob] hi from B");
    b.until("bob's line in the chat", &format!("return {CHAT}.includes('[bob@B] hi from B')")).await;
    b.until("a recv on the relay's fd", &format!("return {LOG}.includes('recv(fd {relay_fd}) →')")).await;
    b.until("the broadcast from the relay's fd", &format!("return {LOG}.includes('broadcast from fd {relay_fd} [bob@B]')")).await;
    let count = |id: &str| format!("return Number({STRIP}.querySelector('[data-count={id}] b').innerText)");
    // Exactly: ann's one line out, bob's one line in (the counts follow within a heartbeat).
    b.until("published counted", &format!("{} === 1", count("published"))).await;
    b.until("received counted", &format!("{} === 1", count("received"))).await;
    // Nothing else changes now (same nodes, same clients): the counts still follow.
    bob.send("again from B\n");
    b.until("bob's second line in the chat", &format!("return {CHAT}.includes('[bob@B] again from B')")).await;
    b.until("the second line counted", &format!("{} === 2", count("received"))).await;

    // Three nodes and a busy room, for the README's picture.
    let c_node = node(&redis, "C", &[]);
    let (status, body) = http(web, "POST", "/api/bots", r#"{"add":5,"rate":1}"#);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let mut carl = c_node.joined();
    carl.send("/nick carl\nhello from C\n");
    b.until("the strip listing A, B and C", &strip_is("up", &["A", "B", "C"])).await;
    b.until("five bot nodes", "return document.querySelectorAll('[data-testid=fd-node][data-role=bot]').length === 5").await;
    b.until("carl's line", &format!("return {CHAT}.includes('[carl@C] hello from C')")).await;
    let clients_of_a = format!("return parseInt({STRIP}.querySelector('[data-node=A] .cluster-clients').innerText)");
    b.until("A's chip counting the page's user and the bots", &format!("{clients_of_a} >= 6")).await;
    // Remote lines last, so the picture's chat has them among the bots' chatter.
    bob.send("hi all, from B\n");
    carl.send("and hello from C\n");
    let both = format!("return {CHAT}.includes('[bob@B] hi all, from B') && {CHAT}.includes('[carl@C] and hello from C')");
    b.until("bob's and carl's lines", &both).await;
    b.js("document.querySelectorAll('.stage-wrap, main, .app').forEach(e => e.scrollTop = 0); window.scrollTo(0, 0); return true").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = b.client.screenshot().await.unwrap();
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/muxscope-cluster.png");
    std::fs::write(&out, png).unwrap();
    eprintln!("screenshot: {}", out.display());
    drop(carl);
    drop(c_node);
    let (status, _) = http(web, "DELETE", "/api/bots", "");
    assert_eq!(status, 200);

    // Redis gone: the strip says so, prominently, with since when and why.
    redis.kill();
    b.until("the strip saying the relay is down", &format!("return {STRIP}?.dataset.state === 'down'")).await;
    let link = b.text_of("cluster-link").await;
    assert!(link.starts_with("relay down since ") && link.contains(" UTC: "), "{link}");
    assert_eq!(b.js("return document.querySelector('[data-testid=cluster-link]').getAttribute('role')").await.as_str(), Some("alert"));
    let png = b.client.screenshot().await.unwrap();
    std::fs::write(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/muxscope-cluster-down.png"), png).unwrap();
    // Said there while down: not relayed, and counted on the strip.
    bob.send("while Redis is down\n");
    let mut solo = a.joined();
    solo.send("/nick solo\nnobody on B hears this\n");
    b.until("lines not relayed", &format!("{} >= 1", count("not-relayed"))).await;

    // Redis back on the same port (backoff at most 2 s): up again, both nodes listed.
    redis.restart();
    b.until("the strip up again with A and B", &strip_is("up", &["A", "B"])).await;
    bob.send("back again\n");
    b.until("a remote line after the restart", &format!("return {CHAT}.includes('[bob@B] back again')")).await;

    // In Chinese too.
    b.click("lang").await;
    b.until("the strip in Chinese", &format!("return {STRIP}.innerText.includes('中继已连接') && {STRIP}.innerText.includes('已发布')"))
        .await;
    b.client.clone().close().await.unwrap();
    drop(b_node);
}
