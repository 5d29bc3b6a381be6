//! WebSocket helpers for the gateway's tests: a muxscope with its gateway, a WebSocket to one of
//! its paths, frames read with a timeout, and an event stream read event by event.

use super::*;
use futures_util::StreamExt;
use muxscope_shared::{EventBody, ServerMsg};
use std::time::Instant;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub fn web_server(poller: &str) -> Server {
    Server::start(poller, &["--web-addr", "127.0.0.1:0"])
}

pub async fn ws(s: &Server, path: &str) -> Ws {
    let url = format!("ws://{}{path}", s.web.unwrap());
    tokio_tungstenite::connect_async(url).await.expect("ws connect").0
}

pub async fn next_msg(ws: &mut Ws) -> ServerMsg {
    loop {
        let m = tokio::time::timeout(TIMEOUT, ws.next()).await.expect("timed out waiting for a frame").expect("stream ended").unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap_or_else(|e| panic!("bad frame {e}: {}", t.as_str()));
        }
    }
}

pub async fn next_text(ws: &mut Ws) -> String {
    loop {
        let m = tokio::time::timeout(TIMEOUT, ws.next()).await.expect("timed out").expect("stream ended").unwrap();
        if let Message::Text(t) = m {
            return t.as_str().to_string();
        }
    }
}

/// An event stream read event by event (frames are split, nothing is skipped).
pub struct Events {
    pub ws: Ws,
    queued: std::collections::VecDeque<EventBody>,
}

impl Events {
    pub async fn open(s: &Server) -> (Events, muxscope_shared::Snapshot) {
        let mut w = ws(s, "/ws/events").await;
        let ServerMsg::Snapshot(snap) = next_msg(&mut w).await else { panic!("first frame is not a snapshot") };
        (Events { ws: w, queued: Default::default() }, snap)
    }

    pub async fn next(&mut self) -> EventBody {
        loop {
            if let Some(e) = self.queued.pop_front() {
                return e;
            }
            if let ServerMsg::Events { events } = next_msg(&mut self.ws).await {
                self.queued.extend(events.into_iter().map(|e| e.body));
            }
        }
    }

    /// Reads until `pred` holds; returns every event seen, the matching one last.
    pub async fn until(&mut self, mut pred: impl FnMut(&EventBody) -> bool) -> Vec<EventBody> {
        let mut seen = vec![];
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            let e = self.next().await;
            let hit = pred(&e);
            seen.push(e);
            if hit {
                return seen;
            }
        }
        panic!("event never came; saw {seen:?}");
    }
}
