//! Who may talk to the gateway. Binding to loopback is not enough: any web page the user opens
//! can make their browser connect to 127.0.0.1 (and DNS rebinding can make a foreign name point
//! there). So every request must name an allowed `Host`, and every WebSocket upgrade that carries
//! an `Origin` must come from an allowed origin (RFC 6455 §10.2), and so must every request that
//! changes state (`POST /api/model`). Requests without `Origin` come
//! from non-browser tools (curl, websocat, tests) and are allowed: a browser always sends it.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Allow {
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl Allow {
    /// The page's own addresses: `ip:port`, plus `localhost:port` and the other loopback
    /// spelling when bound to loopback; plus whatever the user adds.
    pub fn new(web_addr: SocketAddr, extra_hosts: &[String], extra_origins: &[String]) -> Allow {
        let port = web_addr.port();
        let mut hosts = vec![web_addr.to_string()];
        if web_addr.ip().is_loopback() || web_addr.ip().is_unspecified() {
            hosts.extend([format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")]);
        }
        hosts.extend(extra_hosts.iter().map(|h| h.to_ascii_lowercase()));
        hosts.sort();
        hosts.dedup();
        let mut origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}")).collect();
        origins.extend(extra_origins.iter().map(|o| o.trim_end_matches('/').to_ascii_lowercase()));
        Allow { hosts, origins }
    }

    pub fn host_ok(&self, host: Option<&str>) -> bool {
        matches!(host, Some(h) if self.hosts.iter().any(|a| a.eq_ignore_ascii_case(h)))
    }

    pub fn origin_ok(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(o) => self.origins.iter().any(|a| a.eq_ignore_ascii_case(o.trim_end_matches('/'))),
        }
    }
}

pub async fn check(State(allow): State<Arc<Allow>>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok());
    if !allow.host_ok(host) {
        return forbidden(format!("Host {host:?} is not allowed (see --allow-host)"));
    }
    // WebSocket upgrades and anything that changes state (POST /api/model): a browser names the
    // page it comes from, and only the page's own origins may.
    let is_upgrade = req.headers().get(header::UPGRADE).is_some();
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let origin = req.headers().get(header::ORIGIN).map(|v| v.to_str().unwrap_or("(not text)"));
    if (is_upgrade || changes_state) && !allow.origin_ok(origin) {
        return forbidden(format!("Origin {origin:?} is not allowed (see --allow-origin)"));
    }
    next.run(req).await
}

fn forbidden(why: String) -> Response {
    tracing::warn!("403: {why}");
    (StatusCode::FORBIDDEN, Body::from(format!("403 Forbidden: {why}\n"))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_defaults() {
        let a = Allow::new("127.0.0.1:8080".parse().unwrap(), &[], &[]);
        assert!(a.host_ok(Some("127.0.0.1:8080")));
        assert!(a.host_ok(Some("LOCALHOST:8080")));
        assert!(!a.host_ok(Some("evil.example:8080")));
        assert!(!a.host_ok(Some("127.0.0.1:9999")));
        assert!(!a.host_ok(None));
        assert!(a.origin_ok(Some("http://localhost:8080")));
        assert!(!a.origin_ok(Some("http://evil.example")));
        assert!(!a.origin_ok(Some("null")));
        assert!(a.origin_ok(None));
        let b = Allow::new("127.0.0.1:8080".parse().unwrap(), &["demo.lan:8080".into()], &["https://demo.lan".into()]);
        assert!(b.host_ok(Some("demo.lan:8080")));
        assert!(b.origin_ok(Some("https://demo.lan/")));
    }
}
