//! The Yew view. Components only draw a [`Model`]; every change to it is an [`Action`] through
//! [`Dispatch`] (the model is changed in place, never copied per action).

use crate::chat_pane::ChatPane;
use crate::controls::{controls, history_bar};
use crate::dispatch::Dispatch;
use crate::event_log::event_log;
use crate::files::{file_bar, load_replay};
use crate::i18n::{self, Lang, Ui};
use crate::marks::Marks;
use crate::models;
use crate::models_panel::{use_models_report, Compare, IoModels};
use crate::net::{self, Socket};
use crate::picker::ModelPicker;
use crate::stage::{stage, Crowd, ThreadLayer};
use crate::state::{Action, Model};
use crate::text;
use crate::timeline::{Feed, Timeline};
use crate::waitbar::wait_bar;
use gloo_timers::callback::{Interval, Timeout};
use muxscope_shared::{ClientMsg, ServerMsg};
use std::cell::RefCell;
use std::rc::Rc;
use yew::prelude::*;

#[function_component(App)]
pub fn app() -> Html {
    // What the page's socket brought before this first render (the snapshot, usually: the first
    // render waits a little for it, see `lib.rs`) is in the first picture.
    let state: Rc<RefCell<Model>> = use_mut_ref(|| {
        let mut m = Model::default();
        m.lang = i18n::initial();
        let (opened, texts) = net::take_early_frames();
        if opened {
            m.update(Action::Connected(true));
        }
        let frames: Vec<ServerMsg> = texts.iter().filter_map(|t| parse_frame(t)).collect();
        if !frames.is_empty() {
            net::mark_once("mx:snapshot-taken");
            m.update(Action::Receive(frames, net::now_ms()));
        }
        m
    });
    let redraw = use_force_update();
    let dispatch = Dispatch::new(state.clone(), move || redraw.force_update());
    let reconnect = use_state(|| 0u32);
    let backoff: Rc<RefCell<u32>> = use_mut_ref(|| RETRY_FIRST_MS);
    // Frames wait here until the model takes them (see `Model::takes_frames`): a browser
    // watching a flood then redraws a few times a second instead of once per frame.
    let inbox: Rc<RefCell<Vec<ServerMsg>>> = use_mut_ref(Vec::new);
    // The event socket. While the page draws still pictures the gateway is told, so it sends a
    // frame or two a second instead of every frame.
    let events: Rc<RefCell<Option<Socket>>> = use_mut_ref(|| None);
    {
        // A recording on show (a replay, a file): the live stream is let go, not kept open to
        // be ignored (it would hold a watcher's place and cost a parse per frame).
        let events = events.clone();
        use_effect_with(dispatch.with(|m| m.source.recording().is_some()), move |showing| {
            if *showing {
                events.borrow_mut().take();
            }
        });
    }
    {
        let events = events.clone();
        use_effect_with(dispatch.with(Model::draws_still), move |s| {
            if let Some(sock) = events.borrow().as_ref() {
                sock.send(&pace(*s));
            }
        });
    }
    {
        // /ws/events, reopened after it drops or is refused (with backoff).
        let dispatch = dispatch.clone();
        let backoff = backoff.clone();
        let reconnect = reconnect.clone();
        let inbox = inbox.clone();
        let events = events.clone();
        use_effect_with(*reconnect, move |_| {
            let timer: Rc<RefCell<Option<Timeout>>> = Rc::default();
            let backoff_ok = backoff.clone();
            let (d_open, d_close) = (dispatch.clone(), dispatch.clone());
            let events_open = events.clone();
            // Backoff: 1 s after a drop, doubling to 30 s while the server keeps refusing
            // (e.g. too many watchers: close 1013), back to 1 s once a snapshot arrives.
            let retry = {
                let timer = timer.clone();
                let reconnect = reconnect.clone();
                let backoff = backoff.clone();
                move || {
                    let r = reconnect.clone();
                    let ms = *backoff.borrow();
                    backoff.replace((ms * 2).min(RETRY_MAX_MS));
                    timer.replace(Some(Timeout::new(ms, move || r.set(*r + 1))));
                    ms
                }
            };
            let retry2 = retry.clone();
            let (d_text, d_pace, d_still) = (dispatch.clone(), dispatch.clone(), dispatch.clone());
            // The first one was opened as the page started (`net::open_events_early`).
            let first = if *reconnect == 0 { net::take_early_events() } else { None };
            *events.borrow_mut() = first.or_else(|| Socket::connect(&net::url("/ws/events")));
            if let Some(sock) = events.borrow().as_ref() {
                // What it held is handed over now, in order.
                sock.bind(
                    Callback::from(move |_| {
                        if d_still.with(Model::draws_still) {
                            if let Some(sock) = events_open.borrow().as_ref() {
                                sock.send(&pace(true));
                            }
                        }
                        net::mark_once("mx:ws-open");
                        d_open.dispatch(Action::Connected(true))
                    }),
                    Callback::from(move |text: String| {
                        let Some(msg) = parse_frame(&text) else {
                            return;
                        };
                        let snapshot = matches!(msg, ServerMsg::Snapshot(_));
                        if snapshot {
                            backoff_ok.replace(RETRY_FIRST_MS);
                        }
                        inbox.borrow_mut().push(msg);
                        // The present is handed in now, not at the next tick, whenever the tick
                        // would take it (`Model::takes_frames`): a crowd is drawn as soon as it
                        // is known.
                        let now = net::now_ms();
                        if snapshot && d_text.with(|m| m.takes_frames(now, true)) {
                            net::mark_once("mx:snapshot-taken");
                            let frames = std::mem::take(&mut *inbox.borrow_mut());
                            d_text.dispatch(Action::Receive(frames, now));
                        }
                    }),
                    Callback::from(move |reason: String| {
                        let ms = retry2();
                        d_close.dispatch(Action::StreamClosed { reason, retry_s: ms / 1000 });
                    }),
                );
                // Opened before the first render (which took that in): the pace it missed.
                if sock.is_open() && d_pace.with(Model::draws_still) {
                    sock.send(&pace(true));
                }
            }
            if events.borrow().is_none() {
                retry();
            }
            move || {
                events.borrow_mut().take();
                timer.borrow_mut().take();
            }
        });
    }
    {
        let dispatch = dispatch.clone();
        let inbox = inbox.clone();
        use_effect_with(dispatch.with(Model::tick_ms), move |ms| {
            let iv = Interval::new(*ms, move || {
                let now = net::now_ms();
                let snapshot = inbox.borrow().iter().any(|m| matches!(m, ServerMsg::Snapshot(_)));
                let takes = !inbox.borrow().is_empty() && dispatch.with(|m| m.takes_frames(now, snapshot));
                if takes {
                    if snapshot {
                        net::mark_once("mx:snapshot-taken");
                    }
                    let frames = std::mem::take(&mut *inbox.borrow_mut());
                    dispatch.dispatch(Action::Receive(frames, now));
                } else {
                    dispatch.dispatch(Action::Tick(now));
                }
            });
            move || drop(iv)
        });
    }
    use_models_report(dispatch.clone(), dispatch.with(Model::switches));
    {
        // Under `muxscope replay FILE`: the recording, whole, instead of the paced stream.
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| load_replay(dispatch));
    }
    {
        // For measurements: when the first picture of the loop is on screen (ms since navigation).
        let drawn = dispatch.with(|m| !m.scene().snap.fds.is_empty());
        use_effect_with(drawn, move |drawn| {
            if *drawn {
                net::mark_once("mx:drawn");
                if let Some(w) = web_sys::window() {
                    let key = wasm_bindgen::JsValue::from_str("muxscopeReadyMs");
                    if !js_sys::Reflect::has(&w, &key).unwrap_or(true) {
                        let _ = js_sys::Reflect::set(&w, &key, &net::now_ms().into());
                    }
                }
            }
        });
    }
    // The crowd is drawn as the page renders, into a `<g>` of its own that Yew only places
    // (`Html::VRef`): the first picture is in the document in the same task as the snapshot
    // that brought it, whatever Yew's scheduler defers.
    // The per-fd timeline: open by default; closed, no window is built.
    let timeline_open = use_state(|| true);
    let timeline_feed: Rc<RefCell<Feed>> = use_mut_ref(Feed::default);
    let model = state.borrow();
    let scene = model.scene();
    let timeline_window = if *timeline_open {
        timeline_feed.borrow_mut().update(model.timeline(), net::now_ms())
    } else {
        timeline_feed.borrow_mut().clear();
        Rc::default()
    };
    let marks: Rc<RefCell<Marks>> = use_mut_ref(Marks::default);
    marks.borrow_mut().update(scene, model.player.calm_from, model.draws_still());
    let marks = marks.borrow();
    let crowd: Rc<RefCell<Crowd>> = use_mut_ref(Crowd::new);
    crowd.borrow_mut().draw(scene, &marks);
    let crowd_node = Html::VRef(crowd.borrow().el.clone().into());
    let thread_layer: Rc<RefCell<ThreadLayer>> = use_mut_ref(ThreadLayer::new);
    thread_layer.borrow_mut().draw(scene);
    let threads_node = Html::VRef(thread_layer.borrow().el.clone().into());
    let d = dispatch;
    net::add_stat("renders", 1.0);
    if !scene.snap.fds.is_empty() {
        net::mark_once("mx:render");
    }
    let chat: Vec<(u64, &'static str, String)> =
        model.chat.iter().map(|l| (l.id, if l.status { "status" } else { "chat" }, l.text.clone())).collect();
    let lang = model.lang;
    // The components under it read the language from this context.
    html! {
        <ContextProvider<Lang> context={lang}>
        <div class={classes!("app", model.busy().then_some("busy"))}>
            <header>
                <h1>{ "muxscope" }</h1>
                <span class="tagline">{ Ui::Tagline.t(lang) }</span>
                { i18n::lang_toggle(&model, &d) }
                <ModelPicker serving={model.io_model()} report={model.report.clone()} />
                <span class={classes!("conn", model.connected.then_some("up"), model.source.recording().is_some().then_some("file"))} data-testid="stream-status">{
                    match (model.source.recording(), model.connected, &model.stream_closed) {
                        (Some(name), _, _) => format!("▣ {}", text::showing(&model.source, name, lang)),
                        (None, true, _) => Ui::Live.t(lang).to_string(),
                        (None, false, Some(why)) => format!("○ {}", text::stream_down(why, lang)),
                        (None, false, None) => Ui::Connecting.t(lang).to_string(),
                    }
                }</span>
                { controls(&model, &d) }
                <div class="history-row">
                    { history_bar(&model, &d) }
                    { file_bar(&model, &d) }
                </div>
            </header>
            <main>
                <section class="stage-wrap">
                    <crate::tour::panel::TourPanel dispatch={d.clone()} end={model.timeline().end_index()} />
                    { wait_bar(&model) }
                    <crate::cluster_strip::ClusterStrip relay={scene.snap.relay.clone()} />
                    { stage(&model, &marks, crowd_node, threads_node) }
                    { phase(&model) }
                    <Timeline window={timeline_window} cursor_ts={scene.ts_ns} open={*timeline_open} busy={model.busy()}
                              on_toggle={{ let open = timeline_open.clone(); Callback::from(move |o| open.set(o)) }}
                              on_seek={d.callback(|i: u64| Some(Action::Seek(i + 1)))} />
                    <div class="panels">
                        <IoModels model={model.io_model()} lit={models::lit_phase(scene.phase.as_ref().map(|p| p.step()))} />
                        <Compare report={model.report.clone()} error={model.report_error.clone()} />
                        <crate::bots_panel::BotsPanel />
                    </div>
                </section>
                <aside class="side">
                    <ChatPane dispatch={d.clone()} lines={chat} read_only={model.source.recording().map(|n| text::chat_read_only(&model.source, n, lang))} />
                    { crate::insight::view::warnings(&model) }
                    { counters(&model) }
                    { crate::insight::view::plots(&model) }
                </aside>
            </main>
            { event_log(&model, &d) }
        </div>
        </ContextProvider<Lang>>
    }
}

/// One `/ws/events` frame, parsed (and counted for `window.muxscopeStats`).
fn parse_frame(text: &str) -> Option<ServerMsg> {
    let t0 = net::now_ms();
    net::mark_once("mx:first-frame");
    let parsed = serde_json::from_str::<ServerMsg>(text);
    net::add_stat("parse_ms", net::now_ms() - t0);
    net::add_stat("frames", 1.0);
    let msg = parsed.ok()?;
    if let ServerMsg::Snapshot(s) = &msg {
        net::mark_once("mx:snapshot-parsed");
        net::add_stat("snapshots", 1.0);
        net::add_stat("snapshot_fds_sum", s.fds.len() as f64);
    }
    Some(msg)
}

fn pace(still: bool) -> String {
    serde_json::to_string(&ClientMsg::Pace { still }).expect("pace serializes")
}

/// The event stream is tried again this long after it drops, doubling up to the max.
const RETRY_FIRST_MS: u32 = 1000;
const RETRY_MAX_MS: u32 = 30_000;

fn phase(m: &Model) -> Html {
    match &m.scene().phase {
        Some(p) => {
            let key = if m.busy() { 0 } else { p.index };
            html! { <div key={key} class={classes!("phase", format!("step-{}", p.step()))}>{ text::phase(p, m.lang) }</div> }
        }
        None => html! { <div class="phase">{ text::phases(m.lang) }</div> },
    }
}

fn human_bytes(b: f64) -> String {
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b:.0} B")
    }
}

fn counters(m: &Model) -> Html {
    let c = &m.scene().snap.counters;
    let r = &m.tally.rates;
    let stat = |id: &'static str, label: Ui, value: String| {
        html! { <div class="stat" data-testid={id}><b>{ value }</b><span>{ label.t(m.lang) }</span></div> }
    };
    html! {
        <div class="stats">
            { stat("counter-clients", Ui::Clients, m.clients().to_string()) }
            { stat("counter-wakeups", Ui::WakeupsPerS, format!("{:.0}", r.wakeups)) }
            { stat("counter-epw", Ui::EventsPerWakeup, format!("{:.1}", r.events_per_wakeup)) }
            { stat("counter-msgs-rate", Ui::MessagesPerS, format!("{:.0}", r.messages)) }
            { stat("counter-bytes", Ui::BytesPerS, human_bytes(r.bytes)) }
            { stat("counter-messages", Ui::Messages, c.messages.to_string()) }
            { stat("counter-folded", Ui::EventsFolded, m.folded_total().to_string()) }
            { stat("counter-dropped", Ui::EventsDropped, m.scene().totals.dropped.max(c.dropped_events).to_string()) }
        </div>
    }
}
