//! The model picker in the header: a real `<select>` over every model, those this server
//! cannot run disabled with its reason. It shows the model the event stream says serves (so a
//! switch made elsewhere, e.g. with curl, shows too); choosing another asks the server
//! (`POST /api/model`) and says what it answered beside the picker.

use crate::fetch;
use crate::i18n::{Lang, Panel};
use crate::switch::{options, request_body, Pick};
use muxscope_shared::{Model as IoModel, ModelsReport};
use std::rc::Rc;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct PickerProps {
    /// The model serving, as the event stream last said.
    pub serving: Option<IoModel>,
    /// The last `GET /api/models` report: which models this server can run.
    pub report: Option<Rc<ModelsReport>>,
}

#[function_component(ModelPicker)]
pub fn model_picker(p: &PickerProps) -> Html {
    let lang = use_context::<Lang>().unwrap_or_default();
    let pick = use_state(Pick::default);
    let select = use_node_ref();
    let shown = pick.shown(p.serving);
    {
        // A select keeps what the user chose until told otherwise: it is told whenever the model
        // it should show changes (a refusal puts it back, a switch made elsewhere shows).
        let select = select.clone();
        use_effect_with(shown, move |shown| {
            if let Some(el) = select.cast::<HtmlSelectElement>() {
                el.set_value(shown.map_or("", |m| m.name()));
            }
        });
    }
    {
        // Another model serves now: what was said about the last request is old news.
        let pick = pick.clone();
        use_effect_with(p.serving, move |_| {
            if matches!(*pick, Pick::Failed(_) | Pick::Switched { .. }) {
                pick.set(Pick::Idle);
            }
        });
    }
    let onchange = {
        let (pick, serving) = (pick.clone(), p.serving);
        Callback::from(move |e: Event| {
            let el: HtmlSelectElement = e.target_unchecked_into();
            let Ok(to) = el.value().parse::<IoModel>() else { return };
            if Some(to) == serving {
                pick.set(Pick::Idle);
                return;
            }
            pick.set(Pick::Pending { to });
            let pick = pick.clone();
            fetch::post_json("/api/model", request_body(to), move |status, text| pick.set(Pick::answered(status, &text, serving, lang)));
        })
    };
    let available = p.report.as_ref().map(|r| r.available.as_slice()).unwrap_or_default();
    let pending = matches!(*pick, Pick::Pending { .. });
    let status = pick.status(lang);
    let failed = matches!(*pick, Pick::Failed(_));
    html! {
        <span class="picker">
            <label for="model-picker">{ Panel::Model.t(lang) }</label>
            <select id="model-picker" data-testid="model" ref={select} disabled={pending} {onchange}
                    title={Panel::PickerTitle.t(lang)}>
                if shown.is_none() {
                    <option value="" selected=true disabled=true>{ "…" }</option>
                }
                { for options(available).into_iter().map(|o| {
                    let off = o.unavailable.is_some();
                    let label = if off { format!("{} ({})", o.model, Panel::Unavailable.t(lang)) } else { o.model.to_string() };
                    html! {
                        <option value={o.model.name()} selected={shown == Some(o.model)} disabled={off} title={o.unavailable}>
                            { label }
                        </option>
                    }
                }) }
            </select>
            <span class={classes!("model-status", failed.then_some("failed"), pending.then_some("pending"))} data-testid="model-status" role="status">
                { status.unwrap_or_default() }
            </span>
        </span>
    }
}
