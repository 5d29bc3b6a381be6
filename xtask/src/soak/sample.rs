//! One row of the soak's table: the server's RSS and open fds from /proc, the chat clients the
//! load holds, and `/api/stats`' watchers and web connections.

use super::page::Page;
use super::{clock, show, IO_TIMEOUT};
use serde_json::Value;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub(super) struct Sample {
    pub(super) at: Duration,
    pub(super) rss_mib: f64,
    pub(super) fds: usize,
    /// Chat clients connected, as the load counts them.
    clients: u64,
    pub(super) watchers: Option<u64>,
    max_watchers: Option<u64>,
    pub(super) web_connections: Option<u64>,
    page: &'static str,
}

impl Sample {
    pub(super) const HEADER: &'static str = "elapsed  RSS MiB  open fds  chat clients  watchers/max  web conns  page";

    pub(super) fn take(at: Duration, pid: u32, web: SocketAddr, page: Option<&mut Page>, clients: u64) -> Sample {
        let stats = api_stats(web).ok();
        let field = |k: &str| stats.as_ref().and_then(|s| s[k].as_u64());
        Sample {
            at,
            rss_mib: proc_kib(pid, "VmRSS:").unwrap_or(0) as f64 / 1024.0,
            fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0),
            clients,
            watchers: field("watchers"),
            max_watchers: field("max_watchers"),
            web_connections: field("web_connections"),
            page: match page.map(|p| p.alive()) {
                None => "-",
                Some(true) => "open",
                Some(false) => "EXITED",
            },
        }
    }

    pub(super) fn row(&self) -> String {
        format!(
            "{:>7}  {:>7.1}  {:>8}  {:>12}  {:>12}  {:>9}  {}",
            clock(self.at),
            self.rss_mib,
            self.fds,
            self.clients,
            format!("{}/{}", show(self.watchers), show(self.max_watchers)),
            show(self.web_connections),
            self.page
        )
    }
}

pub(super) fn proc_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok())
}

/// `GET /api/stats` of a muxscope's web port (the soak's samples, the bench's relay counters).
pub(crate) fn api_stats(web: SocketAddr) -> io::Result<Value> {
    let mut s = TcpStream::connect_timeout(&web, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    write!(s, "GET /api/stats HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\n\r\n")?;
    let mut body = String::new();
    s.take(1 << 20).read_to_string(&mut body)?;
    let json = body.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(json).map_err(|e| io::Error::other(format!("{e}: {body:.200}")))
}
