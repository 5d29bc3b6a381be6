//! `muxscope replay FILE`: the page over a recording instead of a live loop.
//!
//! - `/ws/events` plays the recording to each watcher from its start, at the recorded pace
//!   (a quiet stretch longer than [`MAX_IDLE`] is cut to it), as the same snapshot and
//!   events messages a live watcher gets, then stays open and quiet.
//! - `GET /api/recording` gives the file itself: the page loads it whole into its history, so it
//!   can seek anywhere, step back and forward, and export.
//! - Nothing can be sent: `/ws/chat`, `POST /api/model` and `/api/bots` answer 409 and say it is
//!   a replay.
//!
//! Host and Origin are checked as in the live gateway (the same [`super::guard`] layer).

use super::guard::{self, Allow};
use super::wsframe::{self, Incoming, Upgraded};
use super::{assets, EVENTS_MAX_MESSAGE, SEND_TIMEOUT};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use muxscope_shared::record::{self, RecordHeader};
use muxscope_shared::{Event, ServerMsg};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A quiet stretch of the recording longer than this is played as this long.
pub const MAX_IDLE: Duration = Duration::from_secs(1);
/// Events due within this window go out in one message.
const BATCH_WINDOW: Duration = Duration::from_millis(40);
const BATCH_MAX: usize = 512;

pub struct Replay {
    /// The file's name, as given.
    pub name: String,
    /// The file as it is: served whole at `/api/recording`, and decoded a chunk at a time by
    /// each watcher as it plays (the decoded events of a big recording would not fit).
    pub raw: Bytes,
    pub header: RecordHeader,
    /// Events in it (gaps included), and whether it was cut inside a chunk.
    pub events: usize,
    pub truncated: bool,
}

#[derive(Clone)]
struct St {
    replay: Arc<Replay>,
    watchers: Arc<AtomicUsize>,
    max_watchers: usize,
}

pub fn router(replay: Arc<Replay>, allow: Allow, max_watchers: usize) -> Router {
    let st = St { replay, watchers: Arc::new(AtomicUsize::new(0)), max_watchers };
    Router::new()
        .route("/ws/events", get(events_ws))
        .route("/ws/chat", get(refuse))
        .route("/api/model", post(refuse))
        .route("/api/bots", get(refuse).post(refuse).delete(refuse))
        .route("/api/recording", get(recording))
        .route("/api/stats", get(stats))
        .fallback(get(assets::serve))
        .with_state(st)
        .layer(axum::middleware::from_fn_with_state(Arc::new(allow), guard::check))
}

async fn refuse(State(st): State<St>) -> Response {
    let why = format!("this is a replay of {}: nothing can be sent", st.replay.name);
    (StatusCode::CONFLICT, Json(serde_json::json!({ "error": why }))).into_response()
}

async fn recording(State(st): State<St>) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, "no-store")], st.replay.raw.clone()).into_response()
}

async fn stats(State(st): State<St>) -> Json<serde_json::Value> {
    let r = &st.replay;
    Json(serde_json::json!({
        "replay": {
            "file": r.name,
            "events": r.events,
            "bytes": r.raw.len(),
            "truncated": r.truncated,
            "started_unix_ms": r.header.started_unix_ms,
            "writer": r.header.writer,
        },
        "model": r.header.model,
        "chat_addr": r.header.chat_addr,
        "watchers": st.watchers.load(Ordering::Relaxed),
        "max_watchers": st.max_watchers,
        "page_embedded": assets::page_is_embedded(),
    }))
}

async fn events_ws(State(st): State<St>, req: Request) -> Response {
    match wsframe::accept(req) {
        Err(refused) => *refused,
        Ok((switching, on_upgrade)) => {
            tokio::spawn(async move {
                if let Ok(upgraded) = on_upgrade.await {
                    session(hyper_util::rt::TokioIo::new(upgraded), st).await;
                }
            });
            switching
        }
    }
}

async fn put<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, msg: &ServerMsg) -> bool {
    let Ok(json) = serde_json::to_vec(msg) else { return false };
    matches!(tokio::time::timeout(SEND_TIMEOUT, wsframe::send_text(w, Bytes::from(json))).await, Ok(Ok(())))
}

async fn session(io: Upgraded, st: St) {
    let (mut rd, mut wr) = tokio::io::split(io);
    if st.watchers.fetch_add(1, Ordering::SeqCst) >= st.max_watchers {
        st.watchers.fetch_sub(1, Ordering::SeqCst);
        let reason = format!("too many watchers ({}, --max-watchers); try again later", st.max_watchers);
        let _ = tokio::time::timeout(Duration::from_secs(1), wsframe::send_close(&mut wr, 1013, &reason)).await;
        return;
    }
    // What the page sends (pace requests) means nothing here; a close ends the session.
    let mut reading = std::pin::pin!(async {
        loop {
            match wsframe::read(&mut rd, EVENTS_MAX_MESSAGE).await {
                Ok(Incoming::Close | Incoming::Refused(..)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    let played = tokio::select! {
        ok = play(&mut wr, &st.replay) => ok,
        _ = &mut reading => false,
    };
    if played {
        // Played to the end: the picture stays as the recording left it until the page goes.
        reading.await;
    }
    st.watchers.fetch_sub(1, Ordering::SeqCst);
}

/// The recording, in order, at its pace. Returns when it is played or the page stopped taking.
async fn play<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, replay: &Replay) -> bool {
    let start = Instant::now();
    let mut due = Duration::ZERO;
    let mut last_ts: Option<u64> = None;
    let mut batch: Vec<Event> = Vec::new();
    let Ok(items) = record::Reader::new(&replay.raw[..]) else { return false };
    // Checked whole at start-up; an item that fails now ends the play like a cut file.
    for item in items.map_while(Result::ok) {
        match &item {
            ServerMsg::Snapshot(_) => {
                if !flush(w, &mut batch).await || !put(w, &item).await {
                    return false;
                }
            }
            ServerMsg::Events { events } => {
                for e in events {
                    if let Some(l) = last_ts {
                        due += Duration::from_nanos(e.ts_ns.saturating_sub(l)).min(MAX_IDLE);
                    }
                    last_ts = Some(e.ts_ns);
                    let at = start + due;
                    // Events due within the window go together, a little early; one due later
                    // waits for its time, after what is batched went out.
                    if at > Instant::now() + BATCH_WINDOW {
                        if !flush(w, &mut batch).await {
                            return false;
                        }
                        tokio::time::sleep_until(at).await;
                    } else if batch.len() >= BATCH_MAX && !flush(w, &mut batch).await {
                        return false;
                    }
                    batch.push(e.clone());
                }
            }
        }
    }
    flush(w, &mut batch).await
}

async fn flush<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, batch: &mut Vec<Event>) -> bool {
    if batch.is_empty() {
        return true;
    }
    let msg = ServerMsg::Events { events: std::mem::take(batch) };
    put(w, &msg).await
}
