//! The binary's other commands and its life as a process, for the recording, replay and export
//! tests: where it is, a scratch file, a plain HTTP request, a clean stop, `muxscope replay`.

use super::Server;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test (`MUXSCOPE_BIN`: benchmarks point the tests at the release build).
pub fn bin() -> String {
    std::env::var("MUXSCOPE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_muxscope").to_string())
}

/// A path in a scratch directory of this test process (`what` keeps the tests' files apart).
pub fn temp_file(what: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("muxscope-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// One HTTP/1.1 request with `Connection: close` (a JSON body, if any): (status, body bytes).
pub fn http(web: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(web).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP answer") + 4;
    let head = String::from_utf8_lossy(&out[..head_end]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out[head_end..].to_vec())
}

/// `POST /api/model`: the answer's status.
pub fn switch_model(web: SocketAddr, model: &str) -> u16 {
    http(web, "POST", "/api/model", &format!("{{\"model\":\"{model}\"}}")).0
}

/// Stops the server as Ctrl-C or a service manager would, and waits for it to finish writing
/// its recording; it must exit cleanly.
pub fn terminate(server: &mut Server) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(server.pid() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "muxscope exited with {status} after SIGTERM");
            return;
        }
        assert!(Instant::now() < deadline, "muxscope did not stop within 15 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `muxscope replay FILE` on a free port: the process and where it serves.
pub fn replay(file: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(bin())
        .args(["replay", file.to_str().unwrap(), "--web-addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let web = loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "replay exited before saying where it serves");
        if let Some(rest) = line.strip_prefix("muxscope: web on http://") {
            break rest.trim().trim_end_matches('/').parse().unwrap();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (child, web)
}
