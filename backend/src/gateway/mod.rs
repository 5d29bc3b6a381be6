//! The web gateway: axum on tokio, in the same process as the chat core but never inside its
//! loop. It serves the page, streams the loop's events to any number of browsers
//! (`/ws/events`), and bridges each browser chat user to the core as a real TCP client
//! (`/ws/chat?nick=NAME`), so a browser user is an fd in the picture like any nc user.

pub mod assets;
pub mod guard;
pub mod hub;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower::ServiceExt as _;
use hub::{gap_frame, Hub};
use muxscope_shared::{valid_nick, ClientMsg};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;

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
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub chat_addr: SocketAddr,
    pub poller: &'static str,
}

/// `echo` adds `/ws/echo`, for WebSocket conformance tests (Autobahn) only.
pub fn router(state: AppState, allow: guard::Allow, echo: bool) -> Router {
    let mut r = Router::new();
    if echo {
        r = r.route("/ws/echo", get(echo_ws));
    }
    r.route("/ws/events", get(events_ws))
        .route("/ws/chat", get(chat_ws))
        .route("/api/stats", get(stats))
        .fallback(get(assets::serve))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(Arc::new(allow), guard::check))
}

/// A client must send a whole request head within this time (slowloris).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener`: HTTP/1 with upgrades, and a header-read timeout (axum::serve sets
/// no timer, so it has none). Accept errors such as EMFILE pause accepting briefly instead of
/// spinning.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("gateway accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone().map_request(|req: axum::http::Request<hyper::body::Incoming>| req.map(axum::body::Body::new)));
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
            if let Err(e) = builder.serve_connection(TokioIo::new(stream), service).with_upgrades().await {
                tracing::debug!("gateway connection: {e}");
            }
        });
    }
}

#[derive(serde::Serialize)]
struct Stats {
    poller: &'static str,
    chat_addr: String,
    subscribers: usize,
    folded_events: u64,
    loop_dropped_events: u64,
    page_embedded: bool,
}

async fn stats(State(st): State<AppState>) -> Json<Stats> {
    Json(Stats {
        poller: st.poller,
        chat_addr: st.chat_addr.to_string(),
        subscribers: st.hub.subscriber_count(),
        folded_events: st.hub.folded_events.load(Ordering::Relaxed),
        loop_dropped_events: st.hub.loop_dropped(),
        page_embedded: assets::page_is_embedded(),
    })
}

// ---- /ws/events ------------------------------------------------------------------------------

async fn events_ws(ws: WebSocketUpgrade, State(st): State<AppState>) -> Response {
    ws.max_message_size(EVENTS_MAX_MESSAGE)
        .max_frame_size(EVENTS_MAX_MESSAGE)
        .on_upgrade(move |socket| events_session(socket, st.hub))
}

async fn send_text(ws: &mut WebSocket, text: &str) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::Text(text.into()))).await, Ok(Ok(())))
}

/// While a page draws still pictures (one a second), it is sent a frame at most this often.
pub const STILL_EVERY: Duration = Duration::from_millis(1000);
/// ...and snapshots (after frames it skipped changed the fd table) from a byte budget: about one
/// of a thousand fds (80 KB, the most expensive message a browser parses) a second, with room
/// for a burst, so the crowd that just joined a small room is drawn at once.
const STILL_SNAPSHOT_BYTES_PER_SEC: f64 = 80_000.0;
const STILL_SNAPSHOT_BURST: f64 = 160_000.0;
/// How often a paced session looks for skipped frames or a snapshot it owes (so a crowd that
/// joined is drawn soon after it stops joining, not up to a second later).
const STILL_CHECK_EVERY: Duration = Duration::from_millis(250);

/// A token bucket: `rate` tokens a second, at most `burst` saved; it starts full. A browser's
/// chat lines (`CHAT_RATE`) and a still page's snapshot bytes both come out of one.
struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    fn full(rate: f64, burst: f64) -> TokenBucket {
        TokenBucket { rate, burst, tokens: burst, at: Instant::now() }
    }
    /// The tokens there are now (negative after spending more than there were).
    fn available(&mut self) -> f64 {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
        self.tokens
    }
    fn spend(&mut self, n: f64) {
        self.available();
        self.tokens -= n;
    }
    /// Takes `n` tokens if there are that many.
    fn take(&mut self, n: f64) -> bool {
        let ok = self.available() >= n;
        if ok {
            self.tokens -= n;
        }
        ok
    }
}

/// The snapshot bytes a still page may be sent.
struct SnapshotBudget(TokenBucket);

impl SnapshotBudget {
    fn new() -> SnapshotBudget {
        SnapshotBudget(TokenBucket::full(STILL_SNAPSHOT_BYTES_PER_SEC, STILL_SNAPSHOT_BURST))
    }
    /// Whether a snapshot of `bytes` may go now (one bigger than the burst, once it is full).
    fn allows(&mut self, bytes: usize) -> bool {
        self.0.available() >= (bytes as f64).min(STILL_SNAPSHOT_BURST)
    }
    fn spend(&mut self, bytes: usize) {
        self.0.spend(bytes as f64);
    }
}

/// A snapshot a page needs: events it was not sent changed the fd table. Seqs say what it has
/// seen, not that its table is right, so an owed snapshot is sent even when it is no newer than
/// the last frame.
#[derive(Default)]
struct Owed {
    snapshot: bool,
    /// Nobody else will send it: the session must ask the hub for one.
    ask: bool,
}

impl Owed {
    /// The hub folded or the loop lost table changes: the hub sends every page a snapshot for
    /// that (at most every `RESYNC_EVERY`), so the page waits for it instead of asking for one
    /// more, which would double the 80 KB snapshots a page parses while a crowd joins.
    fn coming(&mut self, yes: bool) {
        self.snapshot |= yes;
    }
    /// Only this session left the changes out (a still picture's tail, frames skipped between
    /// pictures, a snapshot over the page's budget): it asks the hub for the present.
    fn ask(&mut self, yes: bool) {
        self.snapshot |= yes;
        self.ask |= yes;
    }
}

/// Frames a paced subscriber skipped, to be told as one folded gap.
#[derive(Default)]
struct Skipped {
    events: u64,
    table: bool,
    counters: Option<muxscope_shared::Counters>,
}

/// Snapshot first, then every frame after it. A browser that falls behind gets a counted gap
/// and a fresh snapshot; the loop never waits for it. A browser that asks for still pictures
/// (`{"type":"pace","still":true}`) gets a frame every [`STILL_EVERY`], the frames between
/// folded into a gap with the totals after them.
async fn events_session(mut ws: WebSocket, hub: Arc<Hub>) {
    let mut sub = hub.subscribe();
    let Some(snap) = hub.snapshot().await else {
        let _ = ws.send(Message::Close(Some(CloseFrame { code: 1011, reason: "no snapshot from the chat core".into() }))).await;
        return;
    };
    if !send_text(&mut ws, &snap.json).await {
        return;
    }
    let mut last = snap.last_seq;
    let mut still = false;
    let mut skipped = Skipped::default();
    let mut last_sent = Instant::now();
    let mut budget = SnapshotBudget::new();
    budget.spend(snap.json.len());
    // The size of the last snapshot seen: what the one owed will about cost.
    let mut snapshot_len = snap.json.len();
    let mut owed = Owed::default();
    let mut flush = tokio::time::interval(STILL_CHECK_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            frame = sub.frames.recv() => match frame {
                // Seqs say what the page has seen, not that its fd table is right: a snapshot
                // that is owed is needed even when it is no newer than the last picture (a still
                // picture leaves events out, and so may the frames skipped between pictures).
                Ok(f) if !f.needed_after(last) && !(f.snapshot && owed.snapshot) => {}
                Ok(f) if still && f.snapshot && !budget.allows(f.json.len()) => {
                    snapshot_len = f.json.len();
                    owed.ask(true);
                }
                Ok(f) if still && !f.snapshot && last_sent.elapsed() < STILL_EVERY => {
                    skipped.events += f.events;
                    skipped.table |= f.table;
                    skipped.counters = Some(f.counters.clone());
                }
                Ok(f) => {
                    // A still page gets the frame's tail (see `Frame::still`); a snapshot whole.
                    let json = if still && !f.snapshot {
                        let s = f.still();
                        owed.ask(s.table);
                        &s.json
                    } else {
                        &f.json
                    };
                    if !send_skipped(&mut ws, &mut skipped, &mut owed).await || !send_text(&mut ws, json).await {
                        return;
                    }
                    if f.snapshot {
                        owed = Owed::default();
                        budget.spend(f.json.len());
                        snapshot_len = f.json.len();
                    }
                    // A gap told the page that table changes were left out: the hub sends the
                    // snapshot that fixes it (see `Owed::coming`).
                    owed.coming(f.resync);
                    last = last.max(f.last_seq);
                    last_sent = Instant::now();
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(frames = n, last, "events session lagged: gap and snapshot");
                    let Some(snap) = hub.snapshot().await else { return };
                    skipped = Skipped::default();
                    if !send_text(&mut ws, &gap_frame(last, snap.last_seq).json).await || !send_text(&mut ws, &snap.json).await {
                        return;
                    }
                    budget.spend(snap.json.len());
                    last = snap.last_seq;
                }
                Err(RecvError::Closed) => return,
            },
            _ = flush.tick() => {
                // A flood that stopped leaves nothing to carry the skipped frames: say them now.
                if last_sent.elapsed() >= STILL_EVERY && !send_skipped(&mut ws, &mut skipped, &mut owed).await {
                    return;
                }
                if owed.ask && budget.allows(snapshot_len) {
                    // The present, even when it is no newer than `last` (see above).
                    let Some(snap) = hub.snapshot().await else { return };
                    tracing::debug!(seq = snap.last_seq, last, bytes = snap.json.len(), "events session: owed snapshot sent");
                    if !send_text(&mut ws, &snap.json).await {
                        return;
                    }
                    budget.spend(snap.json.len());
                    last = last.max(snap.last_seq);
                    snapshot_len = snap.json.len();
                    owed = Owed::default();
                }
            },
            msg = ws.recv() => match msg {
                Some(Ok(Message::Close(_))) => return finish_close(ws).await,
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ClientMsg>(t.as_str()) {
                    Ok(ClientMsg::Pace { still: s }) => still = s,
                    Err(e) => {
                        let reason = format!("bad message: {e}");
                        let reason: String = reason.chars().take(120).collect();
                        let _ = ws.send(Message::Close(Some(CloseFrame { code: 1003, reason: reason.into() }))).await;
                        return finish_close(ws).await;
                    }
                },
                None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Sends the gap that stands for skipped frames, if any; a skipped change to the fd table owes
/// the subscriber a snapshot.
async fn send_skipped(ws: &mut WebSocket, skipped: &mut Skipped, owed: &mut Owed) -> bool {
    let s = std::mem::take(skipped);
    let Some(counters) = s.counters else { return true };
    owed.ask(s.table);
    send_text(ws, &hub::skipped_frame(s.events, s.table, counters)).await
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
        .on_upgrade(move |socket| chat_session(socket, nick, st.chat_addr))
}

/// One browser user = one real TCP client of the chat core. Lines go both ways unchanged; the
/// core does all the chat logic (and all the sanitizing).
async fn chat_session(mut ws: WebSocket, nick: String, chat_addr: SocketAddr) {
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
    let mut limit = TokenBucket::full(CHAT_RATE, CHAT_BURST);
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
                        if !limit.take(1.0) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_still_page_gets_a_crowd_at_once_then_a_big_snapshot_a_second() {
        let mut b = SnapshotBudget::new();
        b.spend(8_000);
        assert!(b.allows(80_000), "the crowd's snapshot right after a small one");
        b.spend(80_000);
        assert!(!b.allows(80_000), "not a second one at once");
        // A second later the budget has refilled by 80 KB.
        b.0.at -= Duration::from_secs(1);
        assert!(b.allows(80_000));
        // One bigger than the burst goes once the bucket is full, never starved.
        b.spend(80_000);
        b.0.at -= Duration::from_secs(10);
        assert!(b.allows(400_000));
        b.spend(400_000);
        assert!(!b.allows(1_000));
    }

    #[test]
    fn rate_limit_allows_a_burst_then_throttles() {
        let mut r = TokenBucket::full(CHAT_RATE, CHAT_BURST);
        let allowed = (0..100).filter(|_| r.take(1.0)).count();
        assert_eq!(allowed, CHAT_BURST as usize);
    }
}
