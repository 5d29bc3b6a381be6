//! Warnings and plots in a real browser. A client that never reads (a tiny receive window)
//! while another floods lines owes more than `--out-soft-limit` for longer than
//! `--out-soft-seconds`, and the loop cuts it: the page shows a `slow-consumer` badge
//! (`[data-testid=warning][data-kind=slow-consumer]`) naming its fd, in the page's language.
//! The plots' canvas (`[data-testid=plots]`) has bars drawn on it, and its window toggles.
//! Saves `target/muxscope-warnings.png`.
//!
//! The soft limit, not the hard one, makes the cut: it comes a few seconds after the flood,
//! when the page is back to drawing every event, so the `close` reaches it as an event and not
//! folded into a fresh snapshot.
//!
//! Runs where `cargo xtask test` runs the other browser tests; elsewhere it says so and skips.

mod common;
use common::browser::*;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const BADGE: &str = "return document.querySelector('[data-testid=warning][data-kind=slow-consumer]')?.outerHTML ?? ''";

/// Pixels of the current model's colour (#4aa3ff) under the legend: the histograms' bars.
const BARS: &str = "const c = document.querySelector('[data-testid=plots]'); \
    const d = c.getContext('2d').getImageData(0, 40, c.width, c.height - 40).data; let n = 0; \
    for (let i = 0; i < d.length; i += 4) { if (d[i] < 110 && d[i + 1] > 140 && d[i + 2] > 230) n++; } return n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_cut_is_a_badge_and_the_plots_are_drawn() {
    if !browser_available() {
        return;
    }
    let server = Server::start(
        "epoll",
        &["--web-addr", "127.0.0.1:0", "--out-hard-limit", "67108864", "--out-soft-limit", "4096", "--out-soft-seconds", "5"],
    );
    let web = server.web.unwrap();
    let b = Browser::start().await;
    b.client.goto(&format!("http://{web}/?lang=en")).await.unwrap();
    b.until("the listener's node", "return document.querySelector('[data-testid=fd-node][data-role=listener]') !== null").await;
    assert_eq!(b.js(BADGE).await.as_str(), Some(""), "no warning before anything went wrong");

    // The slow one: a tiny receive window, and it never reads.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&server.chat.into()).unwrap();
    let mut slow: TcpStream = sock.into();
    slow.write_all(b"/nick slowpoke\n").unwrap();
    // The publisher reads everything it is sent (its own lines come back to it).
    let mut publisher = server.joined();
    let mut reader = publisher.stream.try_clone().unwrap();
    let drain = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
    });
    b.until("two clients", "return document.querySelectorAll('[data-testid=fd-node][data-role=tcp]').length >= 2").await;
    // 10 MB of lines, in a second or two: more than the slow one's socket buffers hold (the
    // kernel's send buffer grows to 4 MB), and over before the soft limit's 5 s run out.
    let line = format!("{}\n", "f".repeat(199));
    let chunk = line.repeat(100);
    for _ in 0..500 {
        publisher.send(&chunk);
    }
    let badge = b.until("the slow consumer's badge", BADGE).await;
    let badge = badge.as_str().unwrap();
    assert!(badge.contains("slow consumer cut"), "{badge}");
    assert!(badge.contains("data-fd=\""), "{badge}");
    let why = b.js("return document.querySelector('[data-testid=warning][data-kind=slow-consumer] p').textContent").await;
    assert!(why.as_str().unwrap().contains("slowpoke"), "the explanation names it: {why}");

    // The plots: bars on the canvas, and the window toggles (redrawn at once).
    b.until("bars on the plots' canvas", &format!("{BARS} > 0")).await;
    // For a look: the side column with its badges, counters and plots.
    b.js("document.querySelector('[data-testid=warning] summary').click(); return true").await;
    let png = b.client.screenshot().await.unwrap();
    std::fs::write(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/muxscope-warnings.png"), png).unwrap();
    assert_eq!(b.text_of("plots-window").await, "10 s");
    b.click("plots-window").await;
    b.until("the 60 s window", "return document.querySelector('[data-testid=plots-window]').innerText.includes('60')").await;
    b.until("bars in the 60 s window", &format!("{BARS} > 0")).await;

    // In Chinese too.
    b.click("lang").await;
    b.until(
        "the badge in Chinese",
        "return document.querySelector('[data-testid=warning][data-kind=slow-consumer]')?.innerText.includes('慢消费者')",
    )
    .await;

    // The slow one was really cut.
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let cut = loop {
        match slow.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) => break e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    };
    assert!(cut, "the slow consumer was not disconnected");
    publisher.stream.shutdown(std::net::Shutdown::Both).unwrap();
    let _ = drain.join();
    b.client.clone().close().await.unwrap();
}
