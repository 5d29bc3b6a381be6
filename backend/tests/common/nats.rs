//! A real `nats-server` on a free loopback port, for the load generators' tests; killed on drop.

use super::browser::free_port;
use super::TIMEOUT;
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nats {
    pub port: u16,
    child: Child,
}

/// Whether nats-server can run here; when it cannot, a test skips unless `require` (the env var
/// `cargo xtask test` sets) says it must run, and then fails.
pub fn nats_available(require: &str) -> bool {
    let ok = Command::new("nats-server").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok {
        assert!(std::env::var(require).as_deref() != Ok("1"), "nats-server is not installed, and {require}=1 says this test must run");
        eprintln!("SKIPPED: nats-server is not installed (apt-get install nats-server)");
    }
    ok
}

impl Nats {
    /// Starts it and waits until it answers.
    pub fn start() -> Nats {
        let port = free_port();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        let n = Nats { port, child };
        let deadline = Instant::now() + TIMEOUT;
        while TcpStream::connect(n.addr()).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
