//! The web port's accept loop: HTTP/1 with upgrades, a header-read timeout, and a budget of
//! connections so the web port can never take the fds the chat port needs.

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt as _;

/// A client must send a whole request head within this time (slowloris).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The web port's share of the open-file limit: a fifth, so the chat port keeps at least 80 %.
pub const WEB_SHARE_PERCENT: u64 = 20;

/// The default `--max-web-connections` for an open-file limit of `nofile`.
pub fn web_share(nofile: u64) -> usize {
    (nofile * WEB_SHARE_PERCENT / 100).max(16) as usize
}

/// Web connections open now, of at most `max`. A connection holds its slot for its whole life,
/// WebSockets included (the slot travels inside the socket hyper hands the upgrade).
#[derive(Clone, Debug)]
pub struct WebBudget {
    slots: Arc<Semaphore>,
    pub max: usize,
}

impl WebBudget {
    pub fn new(max: usize) -> WebBudget {
        WebBudget { slots: Arc::new(Semaphore::new(max)), max }
    }

    pub fn open(&self) -> usize {
        self.max - self.slots.available_permits()
    }
}

/// A TCP stream that gives its budget slot back when it is dropped.
struct Counted {
    inner: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Serves `app` on `listener` (axum::serve sets no header timer, so it has none). With every
/// slot of `budget` taken, accepting waits for one to free: new connections wait in the
/// kernel's backlog, holding no fd of ours. Accept errors such as EMFILE pause accepting
/// briefly instead of spinning.
pub async fn serve(listener: tokio::net::TcpListener, app: axum::Router, budget: WebBudget) -> io::Result<()> {
    loop {
        let slot = budget.slots.clone().acquire_owned().await.map_err(io::Error::other)?;
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("gateway accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let io = Counted { inner: stream, _slot: slot };
        let service = TowerToHyperService::new(
            app.clone().map_request(|req: axum::http::Request<hyper::body::Incoming>| req.map(axum::body::Body::new)),
        );
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
            if let Err(e) = builder.serve_connection(TokioIo::new(io), service).with_upgrades().await {
                tracing::debug!("gateway connection: {e}");
            }
        });
    }
}
