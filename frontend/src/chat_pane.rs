//! The chat pane: a browser user is a real TCP client of the loop, through `/ws/chat`.

use crate::dispatch::Dispatch;
use crate::i18n::{Lang, Ui};
use crate::net::{self, Socket};
use crate::state::Action;
use crate::text;
use muxscope_shared::valid_nick;
use std::cell::RefCell;
use std::rc::Rc;
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ChatProps {
    pub dispatch: Dispatch,
    pub lines: Vec<(u64, &'static str, String)>,
    /// A recording is on show: why nothing can be sent (the input is disabled).
    #[prop_or_default]
    pub read_only: Option<String>,
}

/// The chat pane: a browser user is a real TCP client of the loop, through `/ws/chat`.
#[function_component(ChatPane)]
pub fn chat_pane(p: &ChatProps) -> Html {
    let lang = use_context::<Lang>().unwrap_or_default();
    let nick = use_state(String::new);
    let text = use_state(String::new);
    let sock: Rc<RefCell<Option<(String, Socket)>>> = use_mut_ref(|| None);
    let outbox: Rc<RefCell<Vec<String>>> = use_mut_ref(Vec::new);
    let send = {
        let (nick, text, sock, outbox, d) = (nick.clone(), text.clone(), sock.clone(), outbox.clone(), p.dispatch.clone());
        Callback::from(move |_: ()| {
            let line = text.trim().to_string();
            let n = nick.trim().to_string();
            if line.is_empty() {
                return;
            }
            if !valid_nick(&n) {
                d.dispatch(Action::ChatStatus(Ui::NickFirst.t(lang).into()));
                return;
            }
            let mut slot = sock.borrow_mut();
            match slot.as_mut() {
                Some((current, s)) if s.is_open() => {
                    if *current != n {
                        s.send(&format!("/nick {n}"));
                        *current = n;
                    }
                    s.send(&line);
                }
                Some((current, _)) if *current == n && !outbox.borrow().is_empty() => outbox.borrow_mut().push(line),
                _ => {
                    outbox.borrow_mut().push(line);
                    let (d_line, d_close) = (d.clone(), d.clone());
                    let (sock2, outbox2) = (sock.clone(), outbox.clone());
                    let url = net::url(&format!("/ws/chat?nick={}", js_sys::encode_uri_component(&n)));
                    d.dispatch(Action::ChatStatus(text::joining(&n, lang)));
                    let s = Socket::open(
                        &url,
                        Callback::from(move |_| {
                            if let Some((_, s)) = sock2.borrow().as_ref() {
                                for m in outbox2.borrow_mut().drain(..) {
                                    s.send(&m);
                                }
                            }
                        }),
                        Callback::from(move |t: String| d_line.dispatch(Action::ChatLine(t))),
                        Callback::from(move |reason: String| {
                            let why = if reason.is_empty() { Ui::ConnectionClosed.t(lang).to_string() } else { reason };
                            d_close.dispatch(Action::ChatStatus(text::chat_closed(&why, lang)));
                        }),
                    );
                    *slot = s.map(|s| (n, s));
                }
            }
            text.set(String::new());
        })
    };
    let on_nick = {
        let nick = nick.clone();
        Callback::from(move |e: InputEvent| nick.set(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let on_text = {
        let text = text.clone();
        Callback::from(move |e: InputEvent| text.set(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let on_key = {
        let send = send.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" {
                send.emit(());
            }
        })
    };
    let on_click = Callback::from(move |_: MouseEvent| send.emit(()));
    let off = p.read_only.is_some();
    html! {
        <div class="chat">
            <div class="chat-head">
                <h2>{ Ui::Chat.t(lang) }</h2>
                <input data-testid="chat-nick" placeholder={Ui::YourNick.t(lang)} maxlength="32" value={(*nick).clone()} oninput={on_nick} />
            </div>
            <div class="chat-log" data-testid="chat-log">
                <div>
                    { for p.read_only.iter().map(|why| html! { <div class="line status" data-testid="chat-read-only">{ why }</div> }) }
                    { for p.lines.iter().map(|(id, class, t)| html! { <div key={*id} class={classes!("line", *class)}>{ t }</div> }) }
                </div>
            </div>
            <div class="chat-send">
                <input data-testid="chat-input" placeholder={Ui::SaySomething.t(lang)} maxlength="4000"
                       value={(*text).clone()} oninput={on_text} onkeydown={on_key} disabled={off} />
                <button data-testid="chat-send" onclick={on_click} disabled={off}>{ Ui::Send.t(lang) }</button>
            </div>
        </div>
    }
}
