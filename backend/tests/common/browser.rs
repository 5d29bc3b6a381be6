//! Headless Chromium through ChromeDriver (WebDriver) for the browser tests and the page's
//! benchmarks. `cargo xtask test` installs both and sets MUXSCOPE_REQUIRE_BROWSER=1, so there a
//! missing browser fails instead of skipping.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Headless Chromium through ChromeDriver; both end on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// ChromeDriver's port and the WebDriver session, for DevTools commands.
    pub port: u16,
    pub session: String,
    /// Where the page's downloads land.
    pub downloads: std::path::PathBuf,
    _profile: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A test that panicked never closed its session: end the browser it left behind.
        let _ = Command::new("pkill").arg("-f").arg(format!("user-data-dir={}", self._profile.0.display())).status();
    }
}

/// None (with a note) when this machine has no browser and nobody required one.
pub fn browser_available() -> bool {
    let have = std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists();
    if !have {
        if std::env::var_os("MUXSCOPE_REQUIRE_BROWSER").is_some() {
            panic!("MUXSCOPE_REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing");
        }
        eprintln!("SKIPPED: no Chromium/ChromeDriver here; `cargo xtask test` installs them and runs this test");
    }
    have
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    pub async fn start() -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = std::env::temp_dir().join(format!("muxscope-chrome-{}-{port}", std::process::id()));
        let downloads = profile.join("downloads");
        let _ = std::fs::create_dir_all(&downloads);
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "prefs": { "download.default_directory": downloads.display().to_string(), "download.prompt_for_download": false },
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=1600,1000",
                         format!("--user-data-dir={}", profile.display())]
            }
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let t0 = Instant::now();
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) if t0.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("cannot start a WebDriver session: {e}"),
            }
        };
        let session = client.session_id().await.unwrap().expect("a WebDriver session id");
        Browser { client, driver, port, session, downloads, _profile: TempDir(profile) }
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("js {script}: {e}"))
    }

    /// Polls `script` until it returns something truthy; returns that.
    pub async fn until(&self, what: &str, script: &str) -> Value {
        let t0 = Instant::now();
        loop {
            let v = self.js(script).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(_) => true,
            };
            if truthy {
                return v;
            }
            if t0.elapsed() > Duration::from_secs(15) {
                let log = self.js("return document.querySelector('[data-testid=event-log]')?.innerText?.slice(0, 2000)").await;
                let diag = self.js("return JSON.stringify({nodes: document.querySelectorAll('[data-testid=fd-node]').length, app: document.querySelector('.app')?.className, clients: document.querySelector('[data-testid=counter-clients]')?.innerText, stats: window.muxscopeStats, t: performance.now()})").await;
                panic!("timed out waiting for {what}; diag: {diag}; event log: {log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn type_into(&self, testid: &str, text: &str) {
        let el = self.client.find(Locator::Css(&format!("[data-testid={testid}]"))).await.unwrap();
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, testid: &str) {
        self.client.find(Locator::Css(&format!("[data-testid={testid}]"))).await.unwrap().click().await.unwrap();
    }

    pub async fn text_of(&self, testid: &str) -> String {
        self.js(&format!("return document.querySelector('[data-testid={testid}]').innerText")).await.as_str().unwrap_or("").to_string()
    }
}
