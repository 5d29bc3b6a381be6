//! Same-origin HTTP for the page: one request, its status and text handed to a callback once.
//! The promise chain lives in JavaScript, so whatever happens (an answer, a network error, an
//! unreadable body) the callback is called exactly once and its closure is freed with it.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(inline_js = r#"
export function fetch_text(method, url, body, done) {
  const init = { method, cache: "no-store", credentials: "same-origin" };
  if (body !== undefined && body !== null) {
    init.body = body;
    init.headers = { "Content-Type": "application/json" };
  }
  fetch(url, init)
    .then(r => r.text().then(t => [r.status, t]))
    .catch(e => [0, String(e)])
    .then(([status, text]) => done(status, text));
}
export function page_hidden() { return document.hidden === true; }
"#)]
extern "C" {
    fn fetch_text(method: &str, url: &str, body: Option<String>, done: &JsValue);
    /// The page is in a background tab (or minimised): nothing it fetches would be seen.
    pub fn page_hidden() -> bool;
}

/// `method path` with `body` as JSON (if any); `done(status, text)` once, status 0 when no
/// answer came (the text then says why).
pub fn request(method: &str, path: &str, body: Option<String>, done: impl FnOnce(u16, String) + 'static) {
    let done = Closure::once_into_js(move |status: u16, text: String| done(status, text));
    fetch_text(method, path, body, &done);
}

pub fn get(path: &str, done: impl FnOnce(u16, String) + 'static) {
    request("GET", path, None, done);
}

pub fn post_json(path: &str, body: String, done: impl FnOnce(u16, String) + 'static) {
    request("POST", path, Some(body), done);
}
