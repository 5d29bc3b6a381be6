//! Where the page's language comes from in a browser: the address, the browser's storage and
//! `navigator.language`; and where a choice is remembered.

use super::{choose, with_query_lang, Lang};

/// The browser's storage key for the language chosen with the toggle (or a `?lang=` link).
const KEY: &str = "muxscope-lang";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The language the page starts in (see [`choose`]); a `?lang=` link is remembered too.
pub fn initial() -> Lang {
    let Some(w) = web_sys::window() else { return Lang::default() };
    let query = w.location().search().unwrap_or_default();
    let stored = storage().and_then(|s| s.get_item(KEY).ok().flatten());
    let lang = choose(&query, stored.as_deref(), w.navigator().language().as_deref());
    if super::query_lang(&query).is_some() {
        remember(lang);
    } else {
        mark_document(lang);
    }
    lang
}

/// Remembers `lang` for the next visit, puts it in the address when that has a `?lang=` (so a
/// reload keeps it), and tells the document (`<html lang>`: fonts and screen readers).
pub fn remember(lang: Lang) {
    if let Some(s) = storage() {
        let _ = s.set_item(KEY, lang.code());
    }
    if let Some(w) = web_sys::window() {
        let loc = w.location();
        let query = loc.search().unwrap_or_default();
        let rewritten = with_query_lang(&query, lang);
        if rewritten != query {
            let path = loc.pathname().unwrap_or_default();
            let hash = loc.hash().unwrap_or_default();
            if let Ok(h) = w.history() {
                let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&format!("{path}{rewritten}{hash}")));
            }
        }
    }
    mark_document(lang);
}

fn mark_document(lang: Lang) {
    if let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = el.set_attribute("lang", if lang == Lang::Zh { "zh-CN" } else { "en" });
    }
}
