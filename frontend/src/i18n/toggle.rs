//! The header's language toggle (`data-testid="lang"`): it shows the other language, in that
//! language, and switching remembers the choice.

use super::{remember, Ui};
use crate::dispatch::Dispatch;
use crate::state::{Action, Model};
use yew::prelude::*;

pub(crate) fn lang_toggle(m: &Model, d: &Dispatch) -> Html {
    let d = d.clone();
    let onclick = Callback::from(move |_: MouseEvent| {
        let to = d.with(|m| m.lang.other());
        remember(to);
        d.dispatch(Action::Lang(to));
    });
    html! {
        <button class="lang" data-testid="lang" data-lang={m.lang.code()} title={Ui::LangTitle.t(m.lang)} {onclick}>
            { m.lang.toggle_label() }
        </button>
    }
}
