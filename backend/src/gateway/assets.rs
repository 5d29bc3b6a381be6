//! The page, embedded at build time (see build.rs).

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

const PLACEHOLDER: &str = r#"<!doctype html><html lang="en"><meta charset="utf-8"><title>muxscope</title>
<body style="font:18px system-ui;margin:3em;max-width:40em">
<h1>muxscope</h1><p>The chat core is running, but this binary was built before the page was.</p>
<p>Build and serve the real page with <code>cargo xtask run</code>.</p>
<p>Meanwhile, chat with <code>nc 127.0.0.1 3999</code>.</p></body></html>"#;

pub fn page_is_embedded() -> bool {
    ASSETS.iter().any(|(p, _, _)| *p == "/index.html")
}

pub async fn serve(uri: Uri) -> Response {
    let path = match uri.path() {
        "/" => "/index.html",
        p => p,
    };
    if let Some((_, body, mime)) = ASSETS.iter().find(|(p, _, _)| *p == path) {
        // Trunk puts a content hash in every file name but index.html.
        let cache = if path == "/index.html" { "no-cache" } else { "public, max-age=31536000, immutable" };
        return ([(header::CONTENT_TYPE, *mime), (header::CACHE_CONTROL, cache)], *body).into_response();
    }
    if path == "/index.html" {
        return ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PLACEHOLDER).into_response();
    }
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}
