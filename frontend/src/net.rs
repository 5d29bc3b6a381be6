//! A small owner for a browser WebSocket and its callbacks, and the event socket the page opens
//! before its wasm has even loaded.

use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent, WebSocket};
use yew::Callback;

// Runs when the page's JavaScript module is evaluated, before the wasm is fetched and compiled:
// `/ws/events` is opened then, so the gateway's snapshot is on its way (or here) by the time
// the wasm starts. What it brings is held until the wasm adopts the socket
// ([`open_events_early`]).
#[wasm_bindgen(inline_js = r#"
let early = null;
try {
  const loc = window.location;
  if (loc.protocol === "http:" || loc.protocol === "https:") {
    const ws = new WebSocket((loc.protocol === "https:" ? "wss://" : "ws://") + loc.host + "/ws/events");
    const held = [];
    const mark = n => { if (performance.getEntriesByName(n).length === 0) performance.mark(n); };
    ws.onopen = () => { mark("mx:socket-open"); held.push([0, ""]); };
    ws.onmessage = e => { mark("mx:socket-message"); held.push([1, e.data]); };
    ws.onclose = e => held.push([2, e.reason]);
    early = { ws, held };
    mark("mx:socket-created");
  }
} catch (e) {}
export function take_page_socket() { const e = early; early = null; return e; }
const utf8 = new TextEncoder();
export function utf8_bytes(s) { return utf8.encode(s); }
export function svg_group(cls) {
  const g = document.createElementNS("http://www.w3.org/2000/svg", "g");
  g.setAttribute("class", cls);
  return g;
}
"#)]
extern "C" {
    /// `{ws, held}`: the early socket and what it brought so far ([kind, text]: 0 open, 1 a
    /// message, 2 closed with a reason); null the second time.
    fn take_page_socket() -> JsValue;
    /// A string's UTF-8 bytes, encoded natively.
    fn utf8_bytes(s: &JsValue) -> js_sys::Uint8Array;
    /// A new SVG `<g class=cls>`, not in the document yet.
    pub fn svg_group(cls: &str) -> web_sys::Element;
}

/// A message's text as a Rust string. wasm-bindgen's own conversion copies an ASCII string one
/// character at a time in JavaScript; a snapshot of ten thousand fds is a megabyte of it.
fn text_of(v: &JsValue) -> Option<String> {
    if !v.is_string() {
        return None;
    }
    String::from_utf8(utf8_bytes(v).to_vec()).ok()
}

pub struct Socket {
    ws: WebSocket,
    handlers: Rc<RefCell<Handlers>>,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

/// What a socket does with its events: held until [`Socket::bind`] gives it callbacks.
#[derive(Default)]
struct Handlers {
    bound: Option<(Callback<()>, Callback<String>, Callback<String>)>,
    held: Vec<Held>,
    /// Called once, when a message or the close is held (see [`when_events_ready`]).
    ready: Option<Ready>,
}

type Ready = Rc<RefCell<Option<Box<dyn FnOnce()>>>>;

/// Runs a [`Ready`] hook, if it has not run yet.
fn fire(ready: &Ready) {
    let f = ready.borrow_mut().take();
    if let Some(f) = f {
        f();
    }
}

enum Held {
    Open,
    Text(String),
    Close(String),
}

impl Handlers {
    /// Hands `e` to its callback (outside the borrow: a callback may do anything), or holds it.
    fn deliver(this: &RefCell<Handlers>, e: Held) {
        let bound = this.borrow().bound.clone();
        match bound {
            Some((on_open, on_text, on_close)) => match e {
                Held::Open => on_open.emit(()),
                Held::Text(t) => on_text.emit(t),
                Held::Close(r) => on_close.emit(r),
            },
            None => {
                let settles = !matches!(e, Held::Open);
                let ready = {
                    let mut h = this.borrow_mut();
                    h.held.push(e);
                    if settles {
                        h.ready.take()
                    } else {
                        None
                    }
                };
                if let Some(ready) = ready {
                    fire(&ready);
                }
            }
        }
    }
}

/// `ws://` or `wss://` URL for `path` on the page's own host.
pub fn url(path: &str) -> String {
    let loc = web_sys::window().expect("window").location();
    let scheme = if loc.protocol().ok().as_deref() == Some("https:") { "wss" } else { "ws" };
    format!("{scheme}://{}{path}", loc.host().unwrap_or_default())
}

impl Socket {
    pub fn open(url: &str, on_open: Callback<()>, on_text: Callback<String>, on_close: Callback<String>) -> Option<Socket> {
        let sock = Socket::connect(url)?;
        sock.bind(on_open, on_text, on_close);
        Some(sock)
    }

    /// Starts connecting now; what happens before [`Socket::bind`] is held for it, in order.
    pub fn connect(url: &str) -> Option<Socket> {
        WebSocket::new(url).ok().map(|ws| Socket::wrap(ws, false))
    }

    /// `marks`: the page's first event socket, whose first open and message are marked.
    fn wrap(ws: WebSocket, marks: bool) -> Socket {
        let handlers: Rc<RefCell<Handlers>> = Rc::default();
        let h = handlers.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            if marks {
                mark_once("mx:socket-open");
            }
            Handlers::deliver(&h, Held::Open)
        });
        let h = handlers.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if marks {
                mark_once("mx:socket-message");
            }
            if let Some(text) = text_of(&e.data()) {
                Handlers::deliver(&h, Held::Text(text));
            }
        });
        let h = handlers.clone();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| Handlers::deliver(&h, Held::Close(e.reason())));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Socket { ws, handlers, _on_open: on_open, _on_message: on_message, _on_close: on_close }
    }

    /// Gives the socket its callbacks, and hands them what it held meanwhile.
    pub fn bind(&self, on_open: Callback<()>, on_text: Callback<String>, on_close: Callback<String>) {
        let held = {
            let mut h = self.handlers.borrow_mut();
            h.bound = Some((on_open, on_text, on_close));
            std::mem::take(&mut h.held)
        };
        for e in held {
            Handlers::deliver(&self.handlers, e);
        }
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

thread_local! {
    static EARLY_EVENTS: RefCell<Option<Socket>> = const { RefCell::new(None) };
}

/// Takes over the `/ws/events` socket the page's JavaScript opened (or opens one now), with what
/// it brought before the wasm started: the gateway made and sent the snapshot while the page was
/// loading, instead of after.
pub fn open_events_early() {
    let sock = adopt_early_events().or_else(|| Socket::connect(&url("/ws/events")));
    EARLY_EVENTS.with(|e| *e.borrow_mut() = sock);
}

fn adopt_early_events() -> Option<Socket> {
    let early = take_page_socket();
    if early.is_null() || early.is_undefined() {
        return None;
    }
    let get = |k: &str| js_sys::Reflect::get(&early, &JsValue::from_str(k)).ok();
    let ws: WebSocket = get("ws")?.dyn_into().ok()?;
    let held = js_sys::Array::from(&get("held")?);
    // Its handlers are ours from here on (in this same task: nothing can slip between).
    let sock = Socket::wrap(ws, true);
    let before = held.iter().filter_map(|e| {
        let e = js_sys::Array::from(&e);
        match e.get(0).as_f64() {
            Some(0.0) => Some(Held::Open),
            Some(1.0) => text_of(&e.get(1)).map(Held::Text),
            _ => Some(Held::Close(e.get(1).as_string().unwrap_or_default())),
        }
    });
    sock.handlers.borrow_mut().held.extend(before);
    Some(sock)
}

/// The socket [`open_events_early`] opened, once.
pub fn take_early_events() -> Option<Socket> {
    EARLY_EVENTS.with(|e| e.borrow_mut().take())
}

/// Runs `f` once the early socket has brought its first message (the snapshot) or closed, or
/// after `wait_ms`, whichever comes first; at once when it already has, or when there is none.
pub fn when_events_ready(wait_ms: u32, f: impl FnOnce() + 'static) {
    let ready: Ready = Rc::new(RefCell::new(Some(Box::new(f))));
    let settled = EARLY_EVENTS.with(|e| match e.borrow().as_ref() {
        Some(sock) => {
            let mut h = sock.handlers.borrow_mut();
            let settled = h.held.iter().any(|e| !matches!(e, Held::Open));
            if !settled {
                h.ready = Some(ready.clone());
            }
            settled
        }
        None => true,
    });
    if settled {
        fire(&ready);
    } else {
        gloo_timers::callback::Timeout::new(wait_ms, move || fire(&ready)).forget();
    }
}

/// What the early socket brought before the page first rendered, for the first render to draw:
/// whether it opened, and its messages. Anything after a close stays held for [`Socket::bind`].
pub fn take_early_frames() -> (bool, Vec<String>) {
    EARLY_EVENTS.with(|e| {
        let (mut opened, mut texts) = (false, Vec::new());
        if let Some(sock) = e.borrow().as_ref() {
            let mut h = sock.handlers.borrow_mut();
            let n = h.held.iter().take_while(|e| !matches!(e, Held::Close(_))).count();
            for e in h.held.drain(..n) {
                match e {
                    Held::Open => opened = true,
                    Held::Text(t) => texts.push(t),
                    Held::Close(_) => unreachable!("taken up to the close"),
                }
            }
        }
        (opened, texts)
    })
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

/// `performance.mark(name)`, the first time only: when each step of the first picture happened
/// (`backend/tests/first_picture.rs` reads them).
pub fn mark_once(name: &'static str) {
    thread_local! {
        static DONE: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    }
    if DONE.with(|d| d.borrow().contains(&name)) {
        return;
    }
    DONE.with(|d| d.borrow_mut().push(name));
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        // The page's script may have marked it first (the early socket's open and message).
        if p.get_entries_by_name(name).length() == 0 {
            let _ = p.mark(name);
        }
    }
}
