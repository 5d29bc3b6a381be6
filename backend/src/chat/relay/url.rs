//! `--cluster redis://HOST:PORT`.

use std::net::SocketAddr;

/// Where to reach Redis: `redis://HOST:PORT` (the port defaults to 6379).
pub fn parse_url(url: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let rest = url.strip_prefix("redis://").ok_or_else(|| format!("--cluster {url:?}: expected redis://HOST:PORT"))?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return Err(format!("--cluster {url:?}: expected redis://HOST:PORT (no user, password or database)"));
    }
    let with_port =
        if rest.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) { rest.to_string() } else { format!("{rest}:6379") };
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("--cluster {url:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("--cluster {url:?}: no address"))
}
