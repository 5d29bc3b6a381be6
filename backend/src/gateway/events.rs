//! `/ws/events`: one page watching the loop. The session moves bytes; what the page is sent and
//! when is its [`Watcher`]'s to decide (see [`super::stream`]).

use super::frame::Frame;
use super::hub::Hub;
use super::stream::{Body, Plan, Watcher};
use super::{finish_close, send_shared, send_text, AppState, EVENTS_MAX_MESSAGE};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use muxscope_shared::ClientMsg;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;

/// How often a session lets its watcher look at the clock: skipped frames a stopped flood
/// leaves untold, a snapshot owed (so a crowd that joined is drawn soon after it stops
/// joining, not up to a second later).
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// Bytes a watcher's WebSocket buffers on its own. The page sends only a `pace` message now and
/// then (tungstenite's default read buffer is 128 KiB); out, a message is written as it is sent
/// and a watcher that cannot take it holds at most one (a snapshot) until its send times out.
const READ_BUFFER: usize = 4 << 10;
const MAX_WRITE_BUFFER: usize = 256 << 10;

pub async fn events_ws(ws: WebSocketUpgrade, State(st): State<AppState>) -> Response {
    ws.max_message_size(EVENTS_MAX_MESSAGE)
        .max_frame_size(EVENTS_MAX_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| events_session(socket, st.hub, st.max_watchers))
}

/// The present first, then what the watcher decides of every frame. A page that reads too
/// slowly gets a counted gap and a fresh snapshot; the loop never waits for it. A page that
/// asks for still pictures (`{"type":"pace","still":true}`) gets about a frame a second, the
/// frames between folded into a gap with the totals after them.
async fn events_session(mut ws: WebSocket, hub: Arc<Hub>, max_watchers: usize) {
    let Some(mut sub) = hub.subscribe(max_watchers) else {
        let reason = format!("too many watchers ({max_watchers}, --max-watchers); try again later");
        let _ = ws.send(Message::Close(Some(CloseFrame { code: 1013, reason: reason.into() }))).await;
        return finish_close(ws).await;
    };
    let Some(first) = hub.snapshot().await else {
        let _ = ws.send(Message::Close(Some(CloseFrame { code: 1011, reason: "no snapshot from the chat core".into() }))).await;
        return;
    };
    if !send_shared(&mut ws, &first.json).await {
        return;
    }
    let mut watcher = Watcher::new(&first, Instant::now());
    let mut check = tokio::time::interval(CHECK_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let ok = tokio::select! {
            frame = sub.frames.recv() => match frame {
                Ok(f) => {
                    let plan = watcher.offer(&f, Instant::now());
                    carry_out(&mut ws, plan, &f).await
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(frames = n, seen = watcher.seen(), "events session lagged: gap and snapshot");
                    watcher.lagged();
                    tend(&mut ws, &mut watcher, &hub).await
                }
                Err(RecvError::Closed) => false,
            },
            _ = check.tick() => tend(&mut ws, &mut watcher, &hub).await,
            msg = ws.recv() => match msg {
                Some(Ok(Message::Close(_))) => return finish_close(ws).await,
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ClientMsg>(t.as_str()) {
                    Ok(ClientMsg::Pace { still }) => {
                        watcher.pace(still);
                        true
                    }
                    Err(e) => {
                        let reason: String = format!("bad message: {e}").chars().take(120).collect();
                        let _ = ws.send(Message::Close(Some(CloseFrame { code: 1003, reason: reason.into() }))).await;
                        return finish_close(ws).await;
                    }
                },
                None | Some(Err(_)) => false,
                Some(Ok(_)) => true,
            },
        };
        if !ok {
            return;
        }
    }
}

/// Sends what the watcher decided: its gaps, then the frame whole or cut for a still page.
async fn carry_out(ws: &mut WebSocket, plan: Plan, f: &Frame) -> bool {
    if !send_gaps(ws, &plan.gaps).await {
        return false;
    }
    match plan.body {
        Some(Body::Whole) => send_shared(ws, &f.json).await,
        Some(Body::Still) => send_shared(ws, &f.still().json).await,
        None => true,
    }
}

async fn send_gaps(ws: &mut WebSocket, gaps: &[String]) -> bool {
    for gap in gaps {
        if !send_text(ws, gap).await {
            return false;
        }
    }
    true
}

/// The watcher's look at the clock: gaps it owes, and the present when it asks for it.
async fn tend(ws: &mut WebSocket, watcher: &mut Watcher, hub: &Hub) -> bool {
    let (gaps, ask) = watcher.tick(Instant::now());
    if !send_gaps(ws, &gaps).await {
        return false;
    }
    if !ask {
        return true;
    }
    match hub.snapshot().await {
        Some(f) => {
            tracing::debug!(seq = f.last_seq, seen = watcher.seen(), bytes = f.json.len(), "events session: owed snapshot");
            let plan = watcher.answer(&f, Instant::now());
            carry_out(ws, plan, &f).await
        }
        None => {
            watcher.unanswered();
            true
        }
    }
}
