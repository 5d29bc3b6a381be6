//! The bots panel (`data-testid="bots"`): a room of chatting clients for a class, from the page.
//! It asks the gateway (`/api/bots`), which runs each bot as a real TCP client of the loop, so
//! bots come into the picture as fd nodes of their own colour like anyone who joins with nc.
//! The panel keeps its own little state (the count, the rate typed, the last error): none of it
//! is the loop's, so none of it goes through the page's reducer or its history.
//!
//! Its few words are here, each written in both languages at the place it is used ([`say`]), so
//! none can be missing. The server's refusals are English (for curl); a refusal over a bound
//! also names the bound, and the page says that in its own language.

use crate::fetch;
use crate::i18n::Lang;
use gloo_timers::callback::Interval;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// How often the count is asked again (bots the server cut leave it).
const COUNT_EVERY_MS: u32 = 2000;
/// The buttons: how many bots each adds.
const ADDS: [(usize, &str); 4] = [(1, "+1"), (10, "+10"), (100, "+100"), (1000, "+1,000")];

/// `en` or `zh`, as the page speaks.
fn say(lang: Lang, en: &'static str, zh: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// The count from an answer of `/api/bots`, or the reason it gives: over a bound, that bound
/// in the page's language; else the server's own `error`, else its status and text.
fn answer(status: u16, text: &str, lang: Lang) -> Result<u64, String> {
    let json: Option<serde_json::Value> = serde_json::from_str(text).ok();
    match (status, json) {
        (200, Some(v)) if v["bots"].is_u64() => Ok(v["bots"].as_u64().unwrap_or(0)),
        (0, _) => Err(format!("{}{text}", say(lang, "no answer from the server: ", "服务器没有应答："))),
        (_, Some(v)) if lang == Lang::Zh && v["bound"].is_string() => {
            let limit = &v["limit"];
            Err(match v["bound"].as_str() {
                Some("bots") => format!("最多 {limit} 个机器人：这次没有添加任何机器人"),
                Some("rate_each") => format!("每个机器人每秒最多说 {limit} 行：什么都没有改变"),
                _ => format!("所有机器人加起来每秒最多说 {limit} 行：什么都没有改变（降低速率，或少加一些）"),
            })
        }
        (_, Some(v)) if v["error"].is_string() => Err(v["error"].as_str().unwrap_or_default().to_string()),
        (s, _) => Err(format!("{}{s}: {}", say(lang, "the server answered ", "服务器回答 "), text.trim())),
    }
}

#[function_component(BotsPanel)]
pub fn bots_panel() -> Html {
    let lang = use_context::<Lang>().unwrap_or_default();
    let count = use_state(|| None::<u64>);
    let error = use_state(|| None::<String>);
    // Read from the field when a request goes: a value kept in state would be the last render's,
    // and a click right after typing can come before that render.
    let rate_field = use_node_ref();

    // An answer to a request the user made: its count, or its refusal (kept until the next one).
    let show = {
        let (count, error) = (count.clone(), error.clone());
        Callback::from(move |(status, text, lang): (u16, String, Lang)| match answer(status, &text, lang) {
            Ok(n) => {
                count.set(Some(n));
                error.set(None);
            }
            Err(e) => error.set(Some(e)),
        })
    };
    {
        // The count now and every COUNT_EVERY_MS while the page is seen. Its answers leave a
        // shown refusal alone; a refusal of its own (a replay) is shown as any other.
        let (count, error) = (count.clone(), error.clone());
        use_effect_with(lang, move |&lang| {
            let ask = move || {
                let (count, error) = (count.clone(), error.clone());
                fetch::get("/api/bots", move |s, t| match answer(s, &t, lang) {
                    Ok(n) => count.set(Some(n)),
                    Err(e) => error.set(Some(e)),
                });
            };
            ask();
            let iv = Interval::new(COUNT_EVERY_MS, move || {
                if !fetch::page_hidden() {
                    ask();
                }
            });
            move || drop(iv)
        });
    }
    // `add` more bots at the typed rate (0 only sets the rate of those running). The buttons
    // stay enabled while a request is out: typing a rate then clicking +N sends the rate as the
    // field loses focus, and a button disabled by that would swallow the click. The gateway
    // takes requests one at a time, so two in flight cannot both pass a bound.
    let send = {
        let (rate_field, error, show) = (rate_field.clone(), error.clone(), show.clone());
        Callback::from(move |add: usize| {
            let typed = rate_field.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default();
            if add == 0 && typed.trim().is_empty() {
                return;
            }
            let Ok(r) = typed.trim().parse::<f64>() else {
                let what =
                    say(lang, "the rate is lines a second for each bot, a number; not ", "速率是每个机器人每秒说的行数，应为数字，而不是 ");
                error.set(Some(format!("{what}{typed:?}")));
                return;
            };
            let show = show.clone();
            fetch::post_json("/api/bots", format!("{{\"add\":{add},\"rate\":{r}}}"), move |s, t| show.emit((s, t, lang)));
        })
    };
    let remove = {
        let show = show.clone();
        Callback::from(move |_: MouseEvent| {
            let show = show.clone();
            fetch::request("DELETE", "/api/bots", None, move |s, t| show.emit((s, t, lang)));
        })
    };
    // A new rate is sent when typed out (Enter, or leaving the field): the bots running take it.
    let set_rate = {
        let send = send.clone();
        Callback::from(move |_: Event| send.emit(0))
    };
    let count_text = (*count).map_or("…".to_string(), |n| n.to_string());
    html! {
        <details class="models bots" data-testid="bots" open=true>
            <summary>{ say(lang, "bots: real clients that chat, for a busy room", "机器人：会聊天的真实客户端，让房间热闹起来") }</summary>
            <div class="bots-row">
                <span>{ say(lang, "add", "添加") }</span>
                { for ADDS.iter().map(|&(n, label)| {
                    let send = send.clone();
                    html! {
                        <button data-testid={format!("bots-add-{n}")} onclick={Callback::from(move |_: MouseEvent| send.emit(n))}>{ label }</button>
                    }
                }) }
                <label>{ say(lang, "lines/s each ", "每个每秒行数 ") }
                    <input type="number" min="0" max="20" step="0.5" data-testid="bots-rate" value="1" ref={rate_field}
                           onchange={set_rate} />
                </label>
                <button data-testid="bots-remove" onclick={remove}>{ say(lang, "remove all", "全部移除") }</button>
                <span class="bots-count"><b data-testid="bots-count">{ count_text }</b>{ say(lang, " bots", " 个机器人") }</span>
            </div>
            if let Some(e) = &*error {
                <p class="note error" data-testid="bots-error" role="alert">{ e }</p>
            }
        </details>
    }
}
