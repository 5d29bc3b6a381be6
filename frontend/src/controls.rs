//! The teacher's controls: pause, step back and forward, slow motion, back to live, how far
//! behind live the picture is, and the history: a scrubber over everything the page keeps and
//! a line that says how much that is.

use crate::dispatch::Dispatch;
use crate::i18n::Ui;
use crate::state::{Action, Model};
use crate::text;
use web_sys::HtmlInputElement;
use yew::prelude::*;

pub(crate) fn controls(m: &Model, d: &Dispatch) -> Html {
    let (paused, lang) = (m.player.paused, m.lang);
    let pause = d.callback(move |_: MouseEvent| Some(if paused { Action::Resume } else { Action::Pause }));
    let back = d.callback(|_: MouseEvent| Some(Action::StepBack));
    let step = d.callback(|_: MouseEvent| Some(Action::Step));
    let live = d.callback(|_: MouseEvent| Some(Action::Live));
    let speed = d.callback(|e: InputEvent| {
        let input: HtmlInputElement = e.target_unchecked_into();
        input.value().parse::<f64>().ok().map(Action::Speed)
    });
    let queued = m.player.queue.len();
    let status = if queued == 0 && m.is_live() && m.timeline().at_end() {
        Ui::QueueLive.t(lang).to_string()
    } else {
        text::behind(queued, m.behind_s(), lang)
    };
    let at_first = m.cursor() <= m.timeline().first_index();
    html! {
        <div class="controls">
            <button data-testid="pause" class={classes!(paused.then_some("on"))} onclick={pause}>
                { if paused { Ui::Resume.t(lang) } else { Ui::Pause.t(lang) } }
            </button>
            <button data-testid="step-back" onclick={back} disabled={at_first} title={Ui::BackTitle.t(lang)}>{ Ui::Back.t(lang) }</button>
            <button data-testid="step" onclick={step} title={Ui::StepTitle.t(lang)}>{ Ui::Step.t(lang) }</button>
            <label class="speed">
                <span>{ Ui::Speed.t(lang) }</span>
                <input data-testid="speed" type="range" min="0.1" max="1" step="0.1" value={range_value(m.player.speed)} oninput={speed} />
                <b>{ if m.player.speed >= 0.999 { Ui::SpeedLive.t(lang).to_string() } else { format!("{:.1}×", m.player.speed) } }</b>
            </label>
            <button data-testid="live" onclick={live} title={Ui::ToLiveTitle.t(lang)}>{ Ui::ToLive.t(lang) }</button>
            <span data-testid="queue" class={classes!("queue", (queued > 0 || !m.timeline().at_end()).then_some("behind"))}>{ status }</span>
        </div>
    }
}

/// The scrubber (any point the history holds; moving it pauses there) and the history's size.
pub(crate) fn history_bar(m: &Model, d: &Dispatch) -> Html {
    let t = m.timeline();
    let (first, end, cursor) = (t.first_index(), t.end_index(), m.cursor());
    let scrub = d.callback(|e: InputEvent| {
        let input: HtmlInputElement = e.target_unchecked_into();
        input.value().parse::<u64>().ok().map(Action::Seek)
    });
    let stats = m.history_stats();
    let evicted = stats.evicted > 0;
    html! {
        <div class="history-bar">
            <input data-testid="scrub" type="range" min={first.to_string()} max={end.to_string()} step="1"
                   value={cursor.to_string()} oninput={scrub} aria-label={Ui::ScrubLabel.t(m.lang)} />
            <span class="at">{ format!("{} / {}", cursor - first, end - first) }</span>
            <span data-testid="history" class={classes!("history", evicted.then_some("evicted"))}>{ text::history(&stats, m.lang) }</span>
        </div>
    }
}

/// A speed as a range input's DOM holds it ("1", "0.5"): Yew writes the value again on every
/// render whenever the two strings differ, and writing a range input's value lays it out again.
fn range_value(speed: f64) -> String {
    let tenths = (speed * 10.0).round() as i64;
    if tenths % 10 == 0 {
        (tenths / 10).to_string()
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}
