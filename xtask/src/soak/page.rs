//! The page open in headless Chromium for the whole soak, and its cleanup: the process group,
//! then the crash handlers Chromium double-forks out of it, found by a mark in their environment.

use super::CHROMIUM;
use crate::hardening::die_with_parent;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MARK: &str = "MUXSCOPE_SOAK_CHROMIUM";

fn mark() -> String {
    std::process::id().to_string()
}

/// Processes that carry this soak's mark in their environment (Chromium's crash handlers).
fn marked() -> Vec<libc::pid_t> {
    let want = format!("{MARK}={}", mark()).into_bytes();
    let Ok(dir) = std::fs::read_dir("/proc") else { return vec![] };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == want)))
        .collect()
}

/// Headless Chromium on the page, in its own process group, killed as a group when dropped.
pub(super) struct Page {
    child: Child,
    profile: PathBuf,
}

impl Page {
    pub(super) fn open(web: SocketAddr, logs: &Path) -> std::result::Result<Page, String> {
        if !Path::new(CHROMIUM).exists() {
            return Err(format!("{CHROMIUM} is missing (`cargo xtask setup --browser` installs it); the soak runs without a page"));
        }
        let profile = std::env::temp_dir().join(format!("muxscope-soak-chromium-{}", std::process::id()));
        let log = std::fs::File::create(logs.join("chromium.log")).map_err(|e| format!("chromium log: {e}"))?;
        let mut c = Command::new(CHROMIUM);
        c.args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--remote-debugging-port=0")
            .arg(format!("http://{web}/"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            // Chromium double-forks its crash handlers out of its process group; they inherit
            // this mark, by which the end of the run finds them.
            .env(MARK, mark());
        die_with_parent(&mut c);
        c.process_group(0);
        let child = c.spawn().map_err(|e| format!("starting {CHROMIUM}: {e}"))?;
        let mut page = Page { child, profile };
        // It must still be there a moment later.
        let t0 = Instant::now();
        loop {
            if !page.alive() {
                return Err(format!("{CHROMIUM} exited at once; see {}", logs.join("chromium.log").display()));
            }
            if t0.elapsed() > Duration::from_secs(2) {
                return Ok(page);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(super) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let group = self.child.id() as libc::pid_t;
        // SAFETY: signals to the process group this soak started (its leader is our child).
        unsafe { libc::kill(-group, libc::SIGTERM) };
        let t0 = Instant::now();
        while self.alive() && t0.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (renderers, zygote), and the leader.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
        let t0 = Instant::now();
        // SAFETY: signal 0 only asks whether any process of the group is left.
        while unsafe { libc::kill(-group, 0) } == 0 {
            if t0.elapsed() > Duration::from_secs(3) {
                eprintln!("xtask: processes of Chromium's group {group} are still there after SIGKILL");
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The crash handlers leave by themselves once the browser is gone; any that do not, go.
        let t0 = Instant::now();
        while !marked().is_empty() && t0.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(100));
        }
        for pid in marked() {
            // SAFETY: a process this soak started (through Chromium), by its id.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
