//! `/ws/events`: one page watching the loop. The session moves bytes; what the page is sent and
//! when is its [`Watcher`]'s to decide (see [`super::stream`]). The socket is [`wsframe`]'s, so
//! a watcher holds no copy of what it is sent.

use super::frame::Frame;
use super::hub::Hub;
use super::stream::{Body, Plan, Watcher};
use super::wsframe::{self, Incoming, Upgraded};
use super::{AppState, EVENTS_MAX_MESSAGE, SEND_TIMEOUT};
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use muxscope_shared::ClientMsg;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncWrite, WriteHalf};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

/// How often a session lets its watcher look at the clock: skipped frames a stopped flood
/// leaves untold, a snapshot owed (so a crowd that joined is drawn soon after it stops
/// joining, not up to a second later).
const CHECK_EVERY: Duration = Duration::from_millis(250);

pub async fn events_ws(State(st): State<AppState>, req: Request) -> Response {
    match wsframe::accept(req) {
        Err(refused) => *refused,
        Ok((switching, on_upgrade)) => {
            tokio::spawn(async move {
                if let Ok(upgraded) = on_upgrade.await {
                    events_session(hyper_util::rt::TokioIo::new(upgraded), st.hub, st.max_watchers).await;
                }
            });
            switching
        }
    }
}

type Writer = WriteHalf<Upgraded>;

/// One message, within [`SEND_TIMEOUT`]: a page that takes nothing for that long is cut.
async fn put(w: &mut Writer, bytes: Bytes) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, wsframe::send_text(w, bytes)).await, Ok(Ok(())))
}

/// Ends the stream with a close frame (and gives the page a moment to read it).
async fn close<W: AsyncWrite + Unpin>(w: &mut W, code: u16, reason: &str) {
    let _ = tokio::time::timeout(Duration::from_secs(1), wsframe::send_close(w, code, reason)).await;
}

/// Reads what the page sends, on its own task (a frame read is not cancel-safe, so it cannot
/// sit in the session's `select!`), and hands it over; it stops after a close or a refusal.
fn reader(mut rd: tokio::io::ReadHalf<Upgraded>) -> (mpsc::Receiver<Incoming>, tokio::task::AbortHandle) {
    let (tx, rx) = mpsc::channel(4);
    let task = tokio::spawn(async move {
        while let Ok(m) = wsframe::read(&mut rd, EVENTS_MAX_MESSAGE).await {
            let last = matches!(m, Incoming::Close | Incoming::Refused(..));
            if tx.send(m).await.is_err() || last {
                break;
            }
        }
    });
    (rx, task.abort_handle())
}

/// The present first, then what the watcher decides of every frame. A page that reads too
/// slowly gets a counted gap and a fresh snapshot; the loop never waits for it. A page that
/// asks for still pictures (`{"type":"pace","still":true}`) gets about a frame a second, the
/// frames between folded into a gap with the totals after them.
async fn events_session(io: Upgraded, hub: Arc<Hub>, max_watchers: usize) {
    let (rd, mut wr) = tokio::io::split(io);
    let Some(mut sub) = hub.subscribe(max_watchers) else {
        let reason = format!("too many watchers ({max_watchers}, --max-watchers); try again later");
        return close(&mut wr, 1013, &reason).await;
    };
    let (mut incoming, reading) = reader(rd);
    let _stop_reading = AbortOnDrop(reading);
    let Some(first) = hub.snapshot().await else {
        return close(&mut wr, 1011, "no snapshot from the chat core").await;
    };
    if !put(&mut wr, first.json.clone()).await {
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
                    carry_out(&mut wr, plan, &f).await
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(frames = n, seen = watcher.seen(), "events session lagged: gap and snapshot");
                    watcher.lagged();
                    tend(&mut wr, &mut watcher, &hub).await
                }
                Err(RecvError::Closed) => false,
            },
            _ = check.tick() => tend(&mut wr, &mut watcher, &hub).await,
            msg = incoming.recv() => match msg {
                Some(Incoming::Text(t)) => match serde_json::from_slice::<ClientMsg>(&t) {
                    Ok(ClientMsg::Pace { still }) => {
                        watcher.pace(still);
                        true
                    }
                    Err(e) => {
                        let reason: String = format!("bad message: {e}").chars().take(120).collect();
                        return close(&mut wr, 1003, &reason).await;
                    }
                },
                Some(Incoming::Ping(p)) => matches!(tokio::time::timeout(SEND_TIMEOUT, wsframe::send_pong(&mut wr, &p)).await, Ok(Ok(()))),
                Some(Incoming::Pong) => true,
                Some(Incoming::Close) => return close(&mut wr, 1000, "").await,
                Some(Incoming::Refused(code, reason)) => return close(&mut wr, code, reason).await,
                None => false,
            },
        };
        if !ok {
            return;
        }
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends what the watcher decided: its gaps, then the frame whole or cut for a still page.
async fn carry_out(w: &mut Writer, plan: Plan, f: &Frame) -> bool {
    if !send_gaps(w, plan.gaps).await {
        return false;
    }
    match plan.body {
        Some(Body::Whole) => put(w, f.json.clone()).await,
        Some(Body::Still) => put(w, f.still().json.clone()).await,
        None => true,
    }
}

async fn send_gaps(w: &mut Writer, gaps: Vec<String>) -> bool {
    for gap in gaps {
        if !put(w, gap.into()).await {
            return false;
        }
    }
    true
}

/// The watcher's look at the clock: gaps it owes, and the present when it asks for it.
async fn tend(w: &mut Writer, watcher: &mut Watcher, hub: &Hub) -> bool {
    let (gaps, ask) = watcher.tick(Instant::now());
    if !send_gaps(w, gaps).await {
        return false;
    }
    if !ask {
        return true;
    }
    match hub.snapshot().await {
        Some(f) => {
            tracing::debug!(seq = f.last_seq, seen = watcher.seen(), bytes = f.json.len(), "events session: owed snapshot");
            let plan = watcher.answer(&f, Instant::now());
            carry_out(w, plan, &f).await
        }
        None => {
            watcher.unanswered();
            true
        }
    }
}
