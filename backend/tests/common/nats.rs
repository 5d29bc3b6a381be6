//! A real `nats-server` on a free loopback port, for the load generators' tests; killed on drop.

use super::browser::free_port;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

pub struct Nats {
    pub port: u16,
    child: Child,
}

/// Whether nats-server can run here (see [`super::peer::available`]).
pub fn nats_available(require: &str) -> bool {
    super::peer::available("nats-server", require)
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
        super::peer::wait_listening(n.addr(), "nats-server");
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
