//! The panels under the stage: the tutorial's five IO models beside the live loop, and the
//! compare table of what each model cost while it served, with the fetch that keeps it fresh.

use crate::compare::{self, COLUMNS};
use crate::corrections::CORRECTIONS;
use crate::dispatch::Dispatch;
use crate::fetch;
use crate::i18n::{Fix, Lang, Panel};
use crate::models;
use crate::state::Action;
use crate::text;
use gloo_timers::callback::Interval;
use muxscope_shared::{Model as IoModel, ModelsReport};
use std::cell::RefCell;
use std::rc::Rc;
use yew::prelude::*;

/// How often the compare panel asks the server for its numbers.
const REPORT_EVERY_MS: u32 = 2000;

/// `GET /api/models` every [`REPORT_EVERY_MS`] while the page is seen, and at once after each
/// switch (`switches` changed: the effect starts again). Answers that come back out of order
/// are not shown: a newer one is already on screen.
#[hook]
pub fn use_models_report(dispatch: Dispatch, switches: u64) {
    let (asked, shown): (Rc<RefCell<u64>>, Rc<RefCell<u64>>) = (use_mut_ref(|| 0), use_mut_ref(|| 0));
    use_effect_with(switches, move |_| {
        let ask = move || {
            let n = *asked.borrow() + 1;
            asked.replace(n);
            let (dispatch, shown) = (dispatch.clone(), shown.clone());
            fetch::get("/api/models", move |status, text| {
                if n > *shown.borrow() {
                    shown.replace(n);
                    let lang = dispatch.with(|m| m.lang);
                    dispatch.dispatch(Action::Report(compare::report(status, &text, lang).map(Rc::new)));
                }
            });
        };
        ask();
        let iv = Interval::new(REPORT_EVERY_MS, move || {
            if !fetch::page_hidden() {
                ask();
            }
        });
        move || drop(iv)
    });
}

#[derive(Properties, PartialEq)]
pub struct IoModelsProps {
    pub model: Option<IoModel>,
    /// The phase the loop's row lights now (see [`models::lit_phase`]).
    pub lit: Option<u8>,
}

/// The tutorial's five IO models beside the live loop: which phases block in each, with the
/// loop's own row lit as it goes. Closed until opened; redrawn only when the lit phase changes.
#[function_component(IoModels)]
pub fn io_models_panel(p: &IoModelsProps) -> Html {
    let lang = use_context::<Lang>().unwrap_or_default();
    let rows = models::io_models(p.model, lang);
    html! {
        <details class="models" data-testid="io-models">
            <summary>{ Panel::ModelsSummary.t(lang) }</summary>
            <table>
                <thead>
                    <tr><th>{ Panel::Model.t(lang) }</th><th>{ Panel::Phase1.t(lang) }</th><th>{ Panel::Phase2.t(lang) }</th><th></th></tr>
                </thead>
                <tbody>
                    { for rows.iter().map(|r| {
                        let cell = |n: u8, text: &str| {
                            let lit = r.this_loop && p.lit == Some(n);
                            html! { <td class={classes!(format!("p{n}"), lit.then_some("lit"))}>{ text.to_string() }</td> }
                        };
                        html! {
                            <tr data-model={r.key} class={classes!(r.this_loop.then_some("this"))}>
                                <th>{ r.name }{ if r.this_loop { html! { <span class="here">{ Panel::ThisLoop.t(lang) }</span> } } else { html! {} } }</th>
                                { cell(1, &r.wait) }
                                { cell(2, &r.copy) }
                                <td class="kind">{ if r.sync { Panel::Sync.t(lang) } else { Panel::Async.t(lang) } }</td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            <p class="note">{ models::model_note(p.model, lang) }</p>
            <p class="note">{ Panel::NotFaster.t(lang) }</p>
            { corrections(lang) }
        </details>
    }
}

/// What the tutorial gets wrong, each with the fact and where to check it.
fn corrections(lang: Lang) -> Html {
    html! {
        <div class="fixes" data-testid="corrections">
            <h4>{ Fix::Title.t(lang) }</h4>
            { for CORRECTIONS.iter().map(|c| html! {
                <div class="fix" data-fix={c.key}>
                    <p><b>{ Fix::Claim.t(lang) }</b>{ " " }{ c.claim.t(lang) }</p>
                    <p><b>{ Fix::Fact.t(lang) }</b>{ " " }{ c.fact.t(lang) }</p>
                    <p class="source">{ Fix::Source.t(lang) }{ ": " }{ c.sources.join("; ") }</p>
                </div>
            }) }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct CompareProps {
    pub report: Option<Rc<ModelsReport>>,
    /// Why the last fetch of the report failed.
    pub error: Option<String>,
}

/// One row per model that served in this session, measured on the live traffic
/// (`GET /api/models`), the serving one marked: switch models and watch the costs move.
#[function_component(Compare)]
pub fn compare_panel(p: &CompareProps) -> Html {
    let lang = use_context::<Lang>().unwrap_or_default();
    let rows = p.report.as_deref().map(compare::rows).unwrap_or_default();
    let empty = match (&p.report, &p.error) {
        (None, None) => Some(Panel::Asking.t(lang)),
        (Some(_), _) if rows.is_empty() => Some(Panel::NotYet.t(lang)),
        _ => None,
    };
    html! {
        <details class="models compare" data-testid="compare" open=true>
            <summary>{ Panel::CompareSummary.t(lang) }</summary>
            if let Some(e) = &p.error {
                <p class="note error" data-testid="compare-error">{ e }</p>
            }
            if let Some(text) = empty {
                <p class="note">{ text }</p>
            }
            <table>
                <thead>
                    <tr>{ for COLUMNS.iter().map(|c| html! { <th>{ c.t(lang) }</th> }) }</tr>
                </thead>
                <tbody>
                    { for rows.into_iter().map(|r| {
                        let title = text::rtt_title(r.rtt_samples, lang);
                        html! {
                            <tr key={r.model} data-model={r.model} data-serving={r.serving.to_string()} class={classes!(r.serving.then_some("serving"))}>
                                <th>{ r.model }{ if r.serving { html! { <span class="here">{ Panel::Serving.t(lang) }</span> } } else { html! {} } }</th>
                                { for r.cells.iter().enumerate().map(|(i, c)| {
                                    let title = (i == 8).then(|| title.clone());
                                    html! { <td {title}>{ c }</td> }
                                }) }
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
        </details>
    }
}
