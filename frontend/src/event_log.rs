//! The event log: the scene's typed entries and the page's notes, said by [`crate::text`],
//! newest first. The line of the event the picture is at is marked (`at`); a click on a line
//! goes to that moment of the history.

use crate::dispatch::Dispatch;
use crate::i18n::Ui;
use crate::state::{Action, LogLine, Model};
use crate::text;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// Lines the log shows while busy (about what its 180 px show); they are rewritten in place,
/// not re-created.
const BUSY_LOG_LINES: usize = 14;

pub(crate) fn event_log(m: &Model, d: &Dispatch) -> Html {
    let cursor = m.cursor();
    let lines = m.log_lines();
    let busy = m.busy();
    let take = if busy { BUSY_LOG_LINES } else { lines.len() };
    let lines: Html = lines
        .iter()
        .rev()
        .take(take)
        .map(|l| {
            let (class, text) = text::log_line(l, m.lang);
            let (key, index) = match l {
                LogLine::Entry(e) => (format!("e{}", e.index()), Some(e.index())),
                LogLine::Note(n) => (format!("n{}", n.id), None),
            };
            let at = index.is_some_and(|i| i + 1 == cursor);
            let index = index.map(|i| i.to_string());
            let jump = l.jump_to().to_string();
            if busy {
                html! { <div class={classes!("ev", class, at.then_some("at"))} data-index={index} data-jump={jump}>{ text }</div> }
            } else {
                html! { <div key={key} class={classes!("ev", class, at.then_some("at"))} data-index={index} data-jump={jump}>{ text }</div> }
            }
        })
        .collect();
    // One listener for every line: the line clicked says where it goes.
    let onclick = d.callback(|e: MouseEvent| {
        let el = e.target()?.dyn_into::<web_sys::Element>().ok()?;
        let line = el.closest("[data-jump]").ok()??;
        line.get_attribute("data-jump")?.parse::<u64>().ok().map(Action::Seek)
    });
    html! {
        <section class="log" data-testid="event-log" onclick={onclick} title={Ui::LogTitle.t(m.lang)}>{ lines }</section>
    }
}
