//! The page's files: export the history as a Chrome/Perfetto trace, save it as a recording,
//! open a recording from disk, and, under `muxscope replay FILE`, load the server's recording.
//! The bytes are the shared crate's formats (`record`, `trace`): what the page saves,
//! `muxscope replay` and `muxscope export` read, and the other way round.

use crate::dispatch::Dispatch;
use crate::fetch;
use crate::i18n::Ui;
use crate::state::{Action, Model, Source};
use crate::text;
use muxscope_shared::record::{self, RecordHeader, Writer};
use muxscope_shared::trace;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function download(bytes, name, mime) {
  const url = URL.createObjectURL(new Blob([bytes], { type: mime }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  // For tests and the curious: what the last download was.
  window.muxscopeLastDownload = { name, bytes: bytes.length, text: mime.startsWith("application/json") ? new TextDecoder().decode(bytes) : null };
}
export function read_chosen(input, max, done) {
  const f = input.files && input.files[0];
  if (!f) return;
  input.value = "";
  // Too big: said before a byte of it is read.
  if (f.size > max) { done(f.name, new Uint8Array(0), "", f.size); return; }
  f.arrayBuffer().then(b => done(f.name, new Uint8Array(b), "", f.size), e => done(f.name, new Uint8Array(0), String(e), f.size));
}
export function fetch_bytes(url, done) {
  fetch(url, { cache: "no-store", credentials: "same-origin" })
    .then(r => r.arrayBuffer().then(b => done(r.status, new Uint8Array(b))))
    .catch(() => done(0, new Uint8Array(0)));
}
export function now_unix_ms() { return Date.now(); }
"#)]
extern "C" {
    fn download(bytes: &[u8], name: &str, mime: &str);
    fn read_chosen(input: &HtmlInputElement, max: f64, done: &JsValue);
    fn fetch_bytes(url: &str, done: &JsValue);
    fn now_unix_ms() -> f64;
}

/// Most bytes a recording opened in the page may have: what the history keeps (packed events
/// read back into it cost about what they cost on disk; a bigger file is `muxscope replay`'s).
pub const MAX_OPEN_BYTES: usize = crate::history::DEFAULT_BOUND;
/// Most events an export holds, the newest (a trace is ~700 bytes an event: ~140 MB here).
pub const EXPORT_MAX_EVENTS: u64 = 200_000;

/// The bar: export, save, open (and close, while a file is on show).
pub(crate) fn file_bar(m: &Model, d: &Dispatch) -> Html {
    let lang = m.lang;
    let export = {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| {
            let r = d.with(export_trace);
            finish(&d, r.map(|(bytes, name)| download(&bytes, &name, "application/json")));
            let (all, lang) = d.with(|m| (m.timeline().end_index() - m.timeline().first_index(), m.lang));
            if all > EXPORT_MAX_EVENTS {
                d.dispatch(Action::ChatStatus(text::exported_newest(EXPORT_MAX_EVENTS, all, lang)));
            }
        })
    };
    let save = {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| {
            let r = d.with(save_recording);
            finish(&d, r.map(|(bytes, name)| download(&bytes, &name, "application/octet-stream")));
        })
    };
    let open = {
        let d = d.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let d = d.clone();
            let done = Closure::once_into_js(move |name: String, bytes: js_sys::Uint8Array, err: String, size: f64| {
                let lang = d.with(|m| m.lang);
                let r = if size > MAX_OPEN_BYTES as f64 {
                    Err(text::too_big(size as usize >> 20, MAX_OPEN_BYTES >> 20, lang))
                } else if err.is_empty() {
                    load(&d, Source::File { name: name.clone() }, &bytes.to_vec())
                } else {
                    Err(err)
                };
                let lang = d.with(|m| m.lang);
                finish(&d, r.map_err(|e| text::cannot_open(&name, &e, lang)));
            });
            read_chosen(&input, MAX_OPEN_BYTES as f64, &done);
        })
    };
    let empty = m.timeline().end_index() == m.timeline().first_index();
    let close = m.source.recording().is_some().then(|| {
        let reload = Callback::from(|_: MouseEvent| {
            if let Some(w) = web_sys::window() {
                let _ = w.location().set_hash("");
                let _ = w.location().reload();
            }
        });
        html! { <button data-testid="close-file" onclick={reload} title={Ui::CloseFileTitle.t(lang)}>{ Ui::CloseFile.t(lang) }</button> }
    });
    html! {
        <div class="files">
            <button data-testid="export" onclick={export} disabled={empty}
                    title={Ui::TraceTitle.t(lang)}>{ Ui::Trace.t(lang) }</button>
            <button data-testid="save" onclick={save} disabled={empty}
                    title={Ui::RecordingTitle.t(lang)}>{ Ui::Recording.t(lang) }</button>
            <label class="open" title={Ui::OpenTitle.t(lang)}>
                { Ui::Open.t(lang) }
                <input data-testid="open" type="file" accept=".muxrec,application/octet-stream" onchange={open} />
            </label>
            { for close }
        </div>
    }
}

/// A failure goes to the chat pane's status lines, where the page says what it could not do.
fn finish(d: &Dispatch, r: Result<(), String>) {
    if let Err(e) = r {
        d.dispatch(Action::ChatStatus(e));
    }
}

/// The history as a trace: its newest [`EXPORT_MAX_EVENTS`], decoded a segment at a time and
/// written as they come (its flows bounded by the exporter's default budget).
fn export_trace(m: &Model) -> Result<(Vec<u8>, String), String> {
    let from = m.timeline().end_index().saturating_sub(EXPORT_MAX_EVENTS);
    let failed = |e: std::io::Error| text::export_failed(&e.to_string(), m.lang);
    let mut out = Vec::new();
    let mut t = trace::ChromeTrace::new(&mut out).map_err(failed)?;
    for item in m.recording_from(from) {
        t.push(&item).map_err(failed)?;
    }
    t.finish().map_err(failed)?;
    Ok((out, format!("muxscope-{}.trace.json", stamp())))
}

fn save_recording(m: &Model) -> Result<(Vec<u8>, String), String> {
    let snap = &m.scene().snap;
    let header = RecordHeader {
        format: 1,
        writer: "muxscope page".into(),
        started_unix_ms: 0,
        chat_addr: snap.chat_addr.clone(),
        model: snap.model,
    };
    let mut w = Writer::new(Vec::new(), &header).map_err(|e| e.to_string())?;
    for item in m.recording_from(0) {
        w.item(&item).map_err(|e| text::save_failed(&e.to_string(), m.lang))?;
    }
    Ok((w.into_inner(), format!("muxscope-{}.muxrec", stamp())))
}

/// Reads a recording and shows it: the whole of it becomes the history, paused at its start.
fn load(d: &Dispatch, source: Source, bytes: &[u8]) -> Result<(), String> {
    if bytes.len() > MAX_OPEN_BYTES {
        return Err(text::too_big(bytes.len() >> 20, MAX_OPEN_BYTES >> 20, d.with(|m| m.lang)));
    }
    let rec = record::read(bytes).map_err(|e| e.to_string())?;
    if rec.truncated {
        d.dispatch(Action::ChatStatus(Ui::TruncatedRecording.t(d.with(|m| m.lang)).into()));
    }
    d.dispatch(Action::Source(source));
    d.dispatch(Action::Open(rec.items));
    Ok(())
}

/// Under `muxscope replay FILE` the server says so in `/api/stats`, and hands the file over at
/// `/api/recording`: the page shows it whole (seek anywhere) instead of the paced stream.
pub(crate) fn load_replay(d: Dispatch) {
    fetch::get("/api/stats", move |status, text| {
        if status != 200 {
            return;
        }
        let Ok(stats) = serde_json::from_str::<serde_json::Value>(&text) else { return };
        let Some(name) = stats["replay"]["file"].as_str().map(str::to_string) else { return };
        // A recording bigger than the page keeps stays on the server: the page shows it as the
        // paced stream `/ws/events` plays (and keeps what its history holds).
        if stats["replay"]["bytes"].as_u64().is_some_and(|b| b > MAX_OPEN_BYTES as u64) {
            d.dispatch(Action::ChatStatus(text::too_big(
                stats["replay"]["bytes"].as_u64().unwrap_or(0) as usize >> 20,
                MAX_OPEN_BYTES >> 20,
                d.with(|m| m.lang),
            )));
            return;
        }
        let done = Closure::once_into_js(move |status: u16, bytes: js_sys::Uint8Array| {
            let r = if status == 200 {
                load(&d, Source::Replay { name: name.clone() }, &bytes.to_vec())
            } else {
                Err(format!("HTTP {status}"))
            };
            let lang = d.with(|m| m.lang);
            finish(&d, r.map_err(|e| text::cannot_load_replay(&name, &e, lang)));
        });
        fetch_bytes("/api/recording", &done);
    });
}

/// `20261130-2301`: local time, for file names.
fn stamp() -> String {
    let d = js_sys::Date::new(&JsValue::from_f64(now_unix_ms()));
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}
