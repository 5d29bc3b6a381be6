//! A real `redis-server` on a free loopback port, for the cluster tests; killed on drop.

use super::browser::free_port;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

/// Whether redis-server can run here (see [`super::peer::available`]).
pub fn redis_available(require: &str) -> bool {
    super::peer::available("redis-server", require)
}

impl Redis {
    pub fn start() -> Redis {
        let mut r = Redis { port: free_port(), child: None };
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Starts it (again, on the same port) and waits until it answers.
    pub fn restart(&mut self) {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        super::peer::wait_listening(self.addr(), "redis-server");
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGSTOP / SIGCONT: a Redis that stops reading (a slow or hung server), then goes on.
    pub fn pause(&self, on: bool) {
        let pid = self.child.as_ref().expect("running").id() as i32;
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(pid, if on { libc::SIGSTOP } else { libc::SIGCONT }) };
    }

    /// SIGKILL: every connection resets at once, as when Redis crashes.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
