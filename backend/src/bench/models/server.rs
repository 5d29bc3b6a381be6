//! The muxscope server under test: started with its web gateway on loopback ports the kernel
//! picks, switched with `POST /api/model`, asked with `GET /api/stats`. HTTP/1.1 by hand, one
//! request per connection: two small requests need no client library.

use muxscope_shared::Model;
use serde_json::Value;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the server may take to print where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// An HTTP answer; the server's own switch timeout is 10 s.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a switch that the server timed out (409 "did not answer") is watched for.
const LATE_SWITCH: Duration = Duration::from_secs(60);

pub(super) struct Server {
    child: Child,
    pub pid: u32,
    pub chat: SocketAddr,
    web: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `POST /api/model` came to.
pub(super) enum Switched {
    /// The model serves every connection; how long the switch took, and a note if it was late.
    Yes { ms: f64, note: Option<String> },
    /// 409 (or another answer): the reason, the server still on its old model.
    Refused { status: u16, reason: String },
}

fn parse_addr(line: &str, after: &str) -> Option<SocketAddr> {
    let rest = line.split(after).nth(1)?;
    let addr = rest.trim_start_matches("http://").split(['/', ' ']).next()?;
    addr.parse().ok()
}

impl Server {
    /// Starts `bin` on `model`, chat and web on loopback, `--max-threads` at its default.
    pub fn start(bin: &Path, model: Model) -> io::Result<Server> {
        let mut child = Command::new(bin)
            .args(["--chat-addr", "127.0.0.1:0", "--web-addr", "127.0.0.1:0", "--model", model.name()])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {}: {e}", bin.display())))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        // Reads the banner, then keeps the pipe drained for as long as the server lives.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let _ = tx.send(line);
            }
        });
        let pid = child.id();
        let mut server = Server { child, pid, chat: SocketAddr::from(([0, 0, 0, 0], 0)), web: SocketAddr::from(([0, 0, 0, 0], 0)) };
        let (mut chat, mut web) = (None, None);
        let t0 = Instant::now();
        while chat.is_none() || web.is_none() {
            let left = START_TIMEOUT.checked_sub(t0.elapsed()).ok_or_else(|| io::Error::other("the server printed no addresses"))?;
            let line = rx.recv_timeout(left).map_err(|_| io::Error::other(format!("{} exited or printed no addresses", bin.display())))?;
            chat = chat.or_else(|| parse_addr(&line, "chat listening on "));
            web = web.or_else(|| parse_addr(&line, "web on "));
        }
        (server.chat, server.web) = (chat.expect("read"), web.expect("read"));
        Ok(server)
    }

    /// One request; the status and the body.
    fn http(&self, method: &str, path: &str, body: &str) -> io::Result<(u16, String)> {
        let mut s = TcpStream::connect_timeout(&self.web, Duration::from_secs(5))?;
        s.set_read_timeout(Some(HTTP_TIMEOUT))?;
        s.set_write_timeout(Some(HTTP_TIMEOUT))?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.web,
            body.len()
        );
        s.write_all(req.as_bytes())?;
        let mut raw = Vec::new();
        s.take(1 << 20).read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, rest) = text.split_once("\r\n\r\n").ok_or_else(|| io::Error::other(format!("no HTTP answer: {text:?}")))?;
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| io::Error::other("no HTTP status"))?;
        let chunked = head.lines().any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
        Ok((status, if chunked { dechunk(rest) } else { rest.to_string() }))
    }

    /// The model `GET /api/stats` names.
    pub fn model(&self) -> io::Result<String> {
        let (status, body) = self.http("GET", "/api/stats", "")?;
        let v: Value = serde_json::from_str(&body).map_err(|e| io::Error::other(format!("GET /api/stats {status}: {e}: {body}")))?;
        v["model"].as_str().map(str::to_string).ok_or_else(|| io::Error::other(format!("GET /api/stats has no model: {body}")))
    }

    /// Hands every connection over to `model` live.
    pub fn switch(&self, model: Model) -> io::Result<Switched> {
        let t0 = Instant::now();
        let (status, body) = self.http("POST", "/api/model", &format!("{{\"model\":\"{}\"}}", model.name()))?;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if status == 200 && v["model"].as_str() == Some(model.name()) {
            return Ok(Switched::Yes { ms, note: None });
        }
        let reason = v["error"].as_str().map(str::to_string).unwrap_or(body);
        // The server gives up waiting for its loop after 10 s, but the loop may still switch
        // when it gets to it (a switch out of the blocking model stops a thread at a time).
        if reason.contains("did not answer") {
            while t0.elapsed() < LATE_SWITCH {
                if self.model()? == model.name() {
                    let ms = t0.elapsed().as_secs_f64() * 1000.0;
                    return Ok(Switched::Yes { ms, note: Some(format!("POST answered {status} ({reason}); the switch landed later")) });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(Switched::Refused { status, reason })
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_lines() {
        assert_eq!(parse_addr("muxscope: web on http://127.0.0.1:4321/", "web on "), Some("127.0.0.1:4321".parse().unwrap()));
        assert_eq!(
            parse_addr("muxscope: chat listening on 127.0.0.1:999 (model epoll)", "chat listening on "),
            Some("127.0.0.1:999".parse().unwrap())
        );
        assert_eq!(parse_addr("muxscope: join with  nc 127.0.0.1 999", "web on "), None);
    }

    #[test]
    fn chunks() {
        assert_eq!(dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world");
    }
}
