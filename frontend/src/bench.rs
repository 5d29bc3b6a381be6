//! A measure for headless Chromium: `window.wasmBindings.history_bench(clients, events, seeks)`
//! builds a synthetic busy room's history in the page's own wasm and times seeks through it
//! (JSON). The browser benchmark in `backend/tests/browser_history.rs` runs it: a seek must
//! take at most 50 ms in the browser, not only natively.

use crate::history::synthetic::seek_bench;
use crate::net;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn history_bench(clients: i32, events: u32, seeks: u32) -> String {
    let b = seek_bench(clients, events.into(), seeks.into(), &net::now_ms);
    serde_json::json!({
        "clients": clients, "events": b.events, "bytes_per_event": b.bytes_per_event, "keyframes": b.keyframes,
        "build_ms": b.build_ms, "seek_mean_ms": b.seek_mean_ms, "seek_max_ms": b.seek_max_ms, "seek_longest_replay_ms": b.seek_longest_ms,
    })
    .to_string()
}
