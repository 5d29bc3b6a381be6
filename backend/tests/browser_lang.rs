//! The page in Chinese and English in a real browser: `?lang=zh` draws it in Chinese (the
//! tutorial's terms in the IO-models panel, the controls, the event log), the header's toggle
//! (`data-testid="lang"`) switches it to English, and a reload keeps the choice; a page opened
//! later without `?lang=` comes up in the language last chosen. Saves `target/muxscope-zh.png`
//! (the README's Chinese picture, `docs/screenshot-zh.png`).
//!
//! Runs where `cargo xtask test` runs the other browser tests; elsewhere it says so and skips.

mod common;
use common::browser::*;
use common::*;
use fantoccini::Locator;
use std::time::Duration;

const PAUSE: &str = "return document.querySelector('[data-testid=pause]').innerText";
const MODELS: &str = "return document.querySelector('[data-testid=io-models]').innerText";
const LANG: &str = "return document.querySelector('[data-testid=lang]').dataset.lang";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_in_chinese_then_english_and_the_choice_is_remembered() {
    if !browser_available() {
        return;
    }
    let server = Server::start("epoll", &["--web-addr", "127.0.0.1:0"]);
    let web = server.web.unwrap();
    let b = Browser::start().await;
    b.client.goto(&format!("http://{web}/?lang=zh")).await.unwrap();
    b.until("the listener's node", "return document.querySelector('[data-testid=fd-node][data-role=listener]') !== null").await;

    // Chinese: the controls, the toggle (offering English), the document's language.
    assert_eq!(b.js(LANG).await.as_str(), Some("zh"));
    assert!(b.js(PAUSE).await.as_str().unwrap().contains("暂停"), "{}", b.js(PAUSE).await);
    assert_eq!(b.text_of("lang").await, "English");
    assert_eq!(b.js("return document.documentElement.lang").await.as_str(), Some("zh-CN"));
    // The IO-models panel in the tutorial's words, the loop's row on its own wait call.
    b.client.find(Locator::Css("[data-testid=io-models] summary")).await.unwrap().click().await.unwrap();
    let models = b.js(MODELS).await.as_str().unwrap().to_string();
    for term in ["IO模型", "阻塞IO", "非阻塞IO", "IO多路复用", "信号驱动IO", "异步IO", "数据准备阶段", "内核空间复制回用户空间"]
    {
        assert!(models.contains(term), "{term} in the IO-models panel: {models}");
    }
    let row = b.js("return document.querySelector('[data-testid=io-models] tr.this')?.innerText ?? ''").await;
    assert!(row.as_str().unwrap().contains("IO多路复用") && row.as_str().unwrap().contains("epoll_wait"), "{row}");

    // Clients talk (the page too): the event log says it in Chinese, the syscalls keep their names.
    b.type_into("chat-nick", "老师").await;
    b.type_into("chat-input", "同学们好").await;
    b.click("chat-send").await;
    b.until("the page's own line", "return document.querySelector('[data-testid=chat-log]').innerText.includes('[老师] 同学们好')").await;
    let mut guests = Vec::new();
    for (i, line) in ["大家好", "你好，我在用 nc", "epoll 真快"].iter().enumerate() {
        let mut c = server.joined();
        c.send(&format!("/nick 同学{i}\n{line}\n"));
        guests.push(c);
    }
    b.until("a Chinese wakeup line", "return document.querySelector('[data-testid=event-log]').innerText.includes('个就绪')").await;
    b.until("recv in the log", "return document.querySelector('[data-testid=event-log]').innerText.includes('recv(fd ')").await;
    b.until("the chat", "return document.querySelector('[data-testid=chat-log]').innerText.includes('epoll 真快')").await;
    let counters = b.js("return document.querySelector('[data-testid=counter-clients]').innerText").await;
    assert!(counters.as_str().unwrap().contains("客户端"), "{counters}");
    // The picture from the top: the header, the stage, the chat and the counters.
    b.js("document.querySelectorAll('.stage-wrap, main, .app').forEach(e => e.scrollTop = 0); window.scrollTo(0, 0); return true").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let png = b.client.screenshot().await.unwrap();
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/muxscope-zh.png");
    std::fs::write(&out, png).unwrap();
    eprintln!("screenshot: {}", out.display());

    // The toggle: English, in place, and the address's ?lang= follows.
    b.click("lang").await;
    b.until("English controls", &format!("{PAUSE}.includes('pause')")).await;
    b.until("the English panel", &format!("{MODELS}.includes('IO multiplexing')")).await;
    assert!(!b.js(MODELS).await.as_str().unwrap().contains("阻塞IO"));
    assert_eq!(b.js(LANG).await.as_str(), Some("en"));
    assert_eq!(b.text_of("lang").await, "中文");
    assert!(b.js("return location.search").await.as_str().unwrap().contains("lang=en"));
    b.until("an English log", "return document.querySelector('[data-testid=event-log]').innerText.includes(' ready after ')").await;

    // A reload keeps it.
    b.client.refresh().await.unwrap();
    b.until("the page again", "return document.querySelector('[data-testid=fd-node][data-role=listener]') !== null").await;
    assert_eq!(b.js(LANG).await.as_str(), Some("en"));
    assert!(b.js(PAUSE).await.as_str().unwrap().contains("pause"));

    // Chosen with the toggle, remembered without ?lang= (over the browser's en-US).
    b.click("lang").await;
    b.until("Chinese again", &format!("{PAUSE}.includes('暂停')")).await;
    b.client.goto(&format!("http://{web}/")).await.unwrap();
    b.until("the page again", "return document.querySelector('[data-testid=fd-node][data-role=listener]') !== null").await;
    assert_eq!(b.js(LANG).await.as_str(), Some("zh"));
    assert!(b.js(PAUSE).await.as_str().unwrap().contains("暂停"));
    b.client.clone().close().await.unwrap();
}
