//! What the Redis and NATS fixtures share: whether the server's program is here, and waiting
//! until a started one listens.

use super::TIMEOUT;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `program` (a Debian package of the same name) can run here; when it cannot, a test
/// skips unless `require` (the env var `cargo xtask test` sets) says it must run, and then fails.
pub fn available(program: &str, require: &str) -> bool {
    let ok = Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok {
        assert!(std::env::var(require).as_deref() != Ok("1"), "{program} is not installed, and {require}=1 says this test must run");
        eprintln!("SKIPPED: {program} is not installed (apt-get install {program})");
    }
    ok
}

/// Waits until `addr` accepts a connection; `what` names the server in the failure.
pub fn wait_listening(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {}", addr.port());
        std::thread::sleep(Duration::from_millis(20));
    }
}
