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

#[cfg(test)]
mod tests {
    use super::ASSETS;
    use base64::Engine as _;
    use sha2::{Digest, Sha384};

    /// The custom sections of a wasm module, by name.
    fn custom_sections(wasm: &[u8]) -> Vec<String> {
        fn leb(d: &[u8], p: &mut usize) -> usize {
            let (mut v, mut shift) = (0usize, 0);
            loop {
                let b = d[*p];
                *p += 1;
                v |= usize::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    return v;
                }
            }
        }
        assert!(wasm.starts_with(b"\0asm\x01\0\0\0"), "not a wasm module");
        let (mut names, mut p) = (Vec::new(), 8);
        while p < wasm.len() {
            let id = wasm[p];
            p += 1;
            let size = leb(wasm, &mut p);
            if id == 0 {
                let mut q = p;
                let len = leb(wasm, &mut q);
                names.push(String::from_utf8_lossy(&wasm[q..q + len]).into_owned());
            }
            p += size;
        }
        assert_eq!(p, wasm.len(), "the sections end where the module does");
        names
    }

    /// `cargo xtask` strips the function names wasm-bindgen leaves in the page's wasm (a third
    /// of its size) and then rewrites index.html's integrity hashes; a browser refuses a file
    /// whose hash is stale. Skips when no page is embedded.
    #[test]
    fn the_embedded_page_is_stripped_and_its_integrity_hashes_match() {
        let Some((_, html, _)) = ASSETS.iter().find(|(p, _, _)| *p == "/index.html") else {
            eprintln!("no page embedded (run `cargo xtask web` first); skipped");
            return;
        };
        let mut wasm_files = 0;
        for (path, body, _) in ASSETS.iter().filter(|(p, _, _)| p.ends_with(".wasm")) {
            wasm_files += 1;
            let names = custom_sections(body);
            assert!(
                !names.iter().any(|n| n == "name" || n == "producers"),
                "{path} still has custom sections {names:?}: build the page with `cargo xtask web`, not trunk alone"
            );
        }
        assert!(wasm_files > 0, "the embedded page has no wasm");
        let html = std::str::from_utf8(html).unwrap();
        let mut checked = 0;
        for tag in html.split('<').filter(|t| t.contains("integrity=\"")) {
            let attr = |name: &str| tag.split(&format!(" {name}=\"")).nth(1).and_then(|v| v.split('"').next());
            let url = attr("href").or_else(|| attr("src")).unwrap_or_else(|| panic!("an integrity without a file: <{tag}"));
            let (_, body, _) = ASSETS.iter().find(|(p, _, _)| *p == url).unwrap_or_else(|| panic!("index.html names {url}, not embedded"));
            let want = format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(Sha384::digest(body)));
            assert_eq!(attr("integrity"), Some(want.as_str()), "the integrity of {url}");
            checked += 1;
        }
        assert!(html.split('<').any(|t| t.contains(".wasm\"") && t.contains("integrity=\"")), "the wasm's preload has an integrity");
        assert!(checked >= 2, "index.html has integrity hashes for its files ({checked})");
    }
}
