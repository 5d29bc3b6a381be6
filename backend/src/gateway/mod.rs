//! The web gateway: axum on tokio, in the same process as the chat core but never inside its
//! loop. It serves the page, streams the loop's events to any number of browsers
//! (`/ws/events`), and bridges each browser chat user to the core as a real TCP client
//! (`/ws/chat?nick=NAME`), so a browser user is an fd in the picture like any nc user.

pub mod assets;
pub mod bots;
mod bucket;
mod events;
pub mod frame;
pub mod guard;
pub mod hub;
pub mod ledger;
mod model_api;
pub mod replay;
pub mod serve;
pub mod stream;
mod wsframe;

pub use serve::{serve, web_share, WebBudget, HEADER_READ_TIMEOUT};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bucket::TokenBucket;
use hub::Hub;
use muxscope_shared::valid_nick;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Largest WebSocket message (and frame) a browser may send on `/ws/chat`: a chat line and change.
pub const CHAT_MAX_MESSAGE: usize = 8 << 10;
/// On `/ws/events` the browser only ever sends control frames.
pub const EVENTS_MAX_MESSAGE: usize = 1 << 10;
/// Lines one browser may send per second on average, and in a burst.
pub const CHAT_RATE: f64 = 10.0;
pub const CHAT_BURST: f64 = 20.0;
/// Longest line read back from the chat core (its own limit plus the `[name] ` prefix).
const CHAT_LINE_LIMIT: u64 = 16 << 10;
/// A browser that does not take a frame within this time is disconnected.
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The default `--max-watchers`.
pub const DEFAULT_MAX_WATCHERS: usize = 256;

#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub chat_addr: SocketAddr,
    /// The loop's control: the model serving now, and live switches.
    pub control: crate::chat::Control,
    /// What each model cost while it served (`GET /api/models`).
    pub ledger: Arc<ledger::Ledger>,
    pub max_watchers: usize,
    pub web: WebBudget,
    /// The bots the page adds and removes (`/api/bots`): tasks on this runtime, clients of the
    /// chat port.
    pub bots: Arc<bots::Bots>,
}

/// `echo` adds `/ws/echo`, for WebSocket conformance tests (Autobahn) only.
pub fn router(state: AppState, allow: guard::Allow, echo: bool) -> Router {
    let mut r = Router::new();
    if echo {
        r = r.route("/ws/echo", get(echo_ws));
    }
    r.route("/ws/events", get(events::events_ws))
        .route("/ws/chat", get(chat_ws))
        .route("/api/stats", get(stats))
        .route("/api/model", axum::routing::post(model_api::switch))
        .route("/api/models", get(model_api::report))
        .route("/api/bots", get(bots::list).post(bots::add).delete(bots::remove_all))
        .fallback(get(assets::serve))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(Arc::new(allow), guard::check))
}

#[derive(serde::Serialize)]
struct Stats {
    poller: &'static str,
    model: muxscope_shared::Model,
    chat_addr: String,
    subscribers: usize,
    watchers: usize,
    max_watchers: usize,
    web_connections: usize,
    max_web_connections: usize,
    folded_events: u64,
    loop_dropped_events: u64,
    page_embedded: bool,
    /// (`--cluster`) The relay's link, the nodes up, and what was not relayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    relay: Option<muxscope_shared::RelayStatus>,
}

async fn stats(State(st): State<AppState>) -> Json<Stats> {
    let model = st.control.model();
    Json(Stats {
        poller: model.name(),
        model,
        chat_addr: st.chat_addr.to_string(),
        subscribers: st.hub.subscriber_count(),
        watchers: st.hub.subscriber_count(),
        max_watchers: st.max_watchers,
        web_connections: st.web.open(),
        max_web_connections: st.web.max,
        folded_events: st.hub.folded_events.load(Ordering::Relaxed),
        loop_dropped_events: st.hub.loop_dropped(),
        page_embedded: assets::page_is_embedded(),
        relay: st.control.relay(),
    })
}

async fn send_text(ws: &mut WebSocket, text: &str) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::Text(text.into()))).await, Ok(Ok(())))
}

// ---- /ws/echo (conformance tests only) --------------------------------------------------------

/// Echoes every message back, with exactly the limits `/ws/chat` has.
async fn echo_ws(ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(CHAT_MAX_MESSAGE).max_frame_size(CHAT_MAX_MESSAGE).on_upgrade(|mut socket| async move {
        while let Some(Ok(msg)) = socket.recv().await {
            let reply = match msg {
                Message::Text(t) => Message::Text(t),
                Message::Binary(b) => Message::Binary(b),
                // The next recv sends tungstenite's close reply and ends the stream: a clean close.
                _ => continue,
            };
            if socket.send(reply).await.is_err() {
                return;
            }
        }
    })
}

/// After the peer's Close: polling once more makes tungstenite send its reply, so the close
/// handshake completes cleanly (RFC 6455 §7.1.1) instead of the socket just dropping.
async fn finish_close(mut ws: WebSocket) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async { while let Some(Ok(_)) = ws.recv().await {} }).await;
}

// ---- /ws/chat --------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct ChatQuery {
    nick: Option<String>,
}

async fn chat_ws(ws: WebSocketUpgrade, Query(q): Query<ChatQuery>, State(st): State<AppState>) -> Response {
    let nick = q.nick.unwrap_or_default();
    if !valid_nick(&nick) {
        return (StatusCode::BAD_REQUEST, "nick must be 1 to 32 characters, without spaces or brackets\n").into_response();
    }
    ws.max_message_size(CHAT_MAX_MESSAGE)
        .max_frame_size(CHAT_MAX_MESSAGE)
        .on_upgrade(move |socket| chat_session(socket, nick, st.chat_addr, st.ledger))
}

/// One browser user = one real TCP client of the chat core. Lines go both ways unchanged; the
/// core does all the chat logic (and all the sanitizing).
async fn chat_session(mut ws: WebSocket, nick: String, chat_addr: SocketAddr, ledger: Arc<ledger::Ledger>) {
    let tcp = match TcpStream::connect(chat_addr).await {
        Ok(t) => t,
        Err(e) => {
            let _ = send_text(&mut ws, &format!("* error: cannot reach the chat core: {e}")).await;
            return;
        }
    };
    let _ = tcp.set_nodelay(true);
    let (r, mut w) = tcp.into_split();
    let mut lines = BufReader::new(r);
    if w.write_all(format!("/role web\n/nick {nick}\n").as_bytes()).await.is_err() {
        return;
    }
    let mut limit = TokenBucket::full(CHAT_RATE, CHAT_BURST, Instant::now());
    // Lines written and not yet back, with when: each one's round trip is measured.
    let mut in_flight: std::collections::VecDeque<(String, Instant)> = std::collections::VecDeque::new();
    let mut buf = Vec::with_capacity(256);
    loop {
        if buf.len() as u64 > CHAT_LINE_LIMIT {
            // Cannot happen with the core's own line limit; never buffer without bound anyway.
            let _ = send_text(&mut ws, "* error: line from the chat core too long").await;
            return;
        }
        tokio::select! {
            msg = ws.recv() => match msg {
                Some(Ok(Message::Text(text))) => {
                    for line in text.as_str().split('\n') {
                        let line = line.trim_end_matches('\r');
                        if line.trim().is_empty() {
                            continue;
                        }
                        if !limit.take(1.0, Instant::now()) {
                            let note = format!("* slow down: at most {CHAT_RATE} lines a second; not sent: {line}");
                            if !send_text(&mut ws, &note).await {
                                return;
                            }
                            continue;
                        }
                        let mut out = line.as_bytes().to_vec();
                        out.push(b'\n');
                        if w.write_all(&out).await.is_err() {
                            return;
                        }
                        if in_flight.len() == 32 {
                            in_flight.pop_front();
                        }
                        in_flight.push_back((format!("[{nick}] {line}"), Instant::now()));
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let _ = send_text(&mut ws, "* error: send chat lines as text frames").await;
                }
                Some(Ok(Message::Close(_))) => return finish_close(ws).await,
                None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            n = read_line_bounded(&mut lines, &mut buf) => {
                match n {
                    Ok(0) | Err(_) => {
                        let _ = ws.send(Message::Close(Some(CloseFrame { code: 1000, reason: "chat connection closed".into() }))).await;
                        return;
                    }
                    Ok(_) => {
                        while matches!(buf.last(), Some(b'\n' | b'\r')) {
                            buf.pop();
                        }
                        let text = String::from_utf8_lossy(&buf).into_owned();
                        buf.clear();
                        if let Some(i) = in_flight.iter().position(|(l, _)| *l == text) {
                            ledger.round_trip(in_flight[i].1.elapsed());
                            in_flight.drain(..=i);
                        }
                        if !send_text(&mut ws, &text).await {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// One line (up to LF) into `buf`, reading at most [`CHAT_LINE_LIMIT`] bytes. Cancel-safe:
/// bytes read before a cancellation stay in `buf`.
async fn read_line_bounded<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    r.take(CHAT_LINE_LIMIT).read_until(b'\n', buf).await
}
