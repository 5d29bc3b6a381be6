//! A small owner for a browser WebSocket and its callbacks.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};
use yew::Callback;

pub struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

/// `ws://` or `wss://` URL for `path` on the page's own host.
pub fn url(path: &str) -> String {
    let loc = web_sys::window().expect("window").location();
    let scheme = if loc.protocol().ok().as_deref() == Some("https:") { "wss" } else { "ws" };
    format!("{scheme}://{}{path}", loc.host().unwrap_or_default())
}

impl Socket {
    pub fn open(url: &str, on_open: Callback<()>, on_text: Callback<String>, on_close: Callback<String>) -> Option<Socket> {
        let ws = WebSocket::new(url).ok()?;
        let on_open = Closure::<dyn FnMut()>::new(move || on_open.emit(()));
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(text) = e.data().as_string() {
                on_text.emit(text);
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| on_close.emit(e.reason()));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Some(Socket { ws, _on_open: on_open, _on_message: on_message, _on_close: on_close })
    }

    pub fn is_open(&self) -> bool {
        self.ws.ready_state() == WebSocket::OPEN
    }

    pub fn send(&self, text: &str) -> bool {
        self.ws.send_with_str(text).is_ok()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// Adds to `window.muxscopeStats[key]`: cheap counters a benchmark can read.
pub fn add_stat(key: &str, v: f64) {
    let Some(w) = web_sys::window() else { return };
    let stats_key = wasm_bindgen::JsValue::from_str("muxscopeStats");
    let mut stats = js_sys::Reflect::get(&w, &stats_key).unwrap_or(wasm_bindgen::JsValue::UNDEFINED);
    if stats.is_undefined() {
        stats = js_sys::Object::new().into();
        let _ = js_sys::Reflect::set(&w, &stats_key, &stats);
    }
    let k = wasm_bindgen::JsValue::from_str(key);
    let old = js_sys::Reflect::get(&stats, &k).ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
    let _ = js_sys::Reflect::set(&stats, &k, &(old + v).into());
}
