//! The Yew view. Components only draw a [`Model`]; every change goes through the reducer.

use crate::dots::{
    crowd_dots, is_crowd, layout, node_class, plan_crowd, role_class, CrowdDraw, Dot, Redraw,
};
use crate::models;
use crate::net::{self, Socket};
use crate::state::{Action, Fanout, Flash, Model};
use gloo_timers::callback::{Interval, Timeout};
use muxscope_shared::{valid_nick, ClientMsg, FdInfo, ServerMsg};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use web_sys::HtmlInputElement;
use yew::prelude::*;

impl Reducible for Model {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        if let Action::Tick(now) = action {
            if !self.needs_tick(now) {
                return self;
            }
        }
        let mut next = (*self).clone();
        if next.update(action) {
            Rc::new(next)
        } else {
            self
        }
    }
}

type Dispatch = UseReducerDispatcher<Model>;

#[function_component(App)]
pub fn app() -> Html {
    // What the page's socket brought before this first render (the snapshot, usually: the first
    // render waits a little for it, see `lib.rs`) is in the first picture.
    let model = use_reducer(|| {
        let mut m = Model::default();
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
    let reconnect = use_state(|| 0u32);
    let backoff: Rc<RefCell<u32>> = use_mut_ref(|| RETRY_FIRST_MS);
    // Frames wait here until the model takes them (see `Model::takes_frames`): a browser
    // watching a flood then redraws a few times a second instead of once per frame.
    let inbox: Rc<RefCell<Vec<ServerMsg>>> = use_mut_ref(Vec::new);
    // The model as last drawn, for the tick timer to ask.
    let drawn: Rc<RefCell<Option<UseReducerHandle<Model>>>> = use_mut_ref(|| None);
    *drawn.borrow_mut() = Some(model.clone());
    // The event socket. While the page draws still pictures the gateway is told, so it sends a
    // frame or two a second instead of every frame.
    let events: Rc<RefCell<Option<Socket>>> = use_mut_ref(|| None);
    {
        let events = events.clone();
        use_effect_with(model.draws_still(), move |s| {
            if let Some(sock) = events.borrow().as_ref() {
                sock.send(&pace(*s));
            }
        });
    }
    {
        // /ws/events, reopened after it drops or is refused (with backoff).
        let dispatch = model.dispatcher();
        let backoff = backoff.clone();
        let reconnect = reconnect.clone();
        let inbox = inbox.clone();
        let events = events.clone();
        let drawn = drawn.clone();
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
            let (d_text, drawn_text, drawn_pace) = (dispatch.clone(), drawn.clone(), drawn.clone());
            // The first one was opened as the page started (`net::open_events_early`).
            let first = if *reconnect == 0 {
                net::take_early_events()
            } else {
                None
            };
            *events.borrow_mut() = first.or_else(|| Socket::connect(&net::url("/ws/events")));
            if let Some(sock) = events.borrow().as_ref() {
                // What it held is handed over now, in order.
                sock.bind(
                    Callback::from(move |_| {
                        if drawn.borrow().as_ref().is_some_and(|m| m.draws_still()) {
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
                        if snapshot
                            && drawn_text
                                .borrow()
                                .as_ref()
                                .is_none_or(|m| m.takes_frames(now, true))
                        {
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
                if sock.is_open()
                    && drawn_pace
                        .borrow()
                        .as_ref()
                        .is_some_and(|m| m.draws_still())
                {
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
        let dispatch = model.dispatcher();
        let (inbox, drawn) = (inbox.clone(), drawn.clone());
        use_effect_with(model.tick_ms(), move |ms| {
            let iv = Interval::new(*ms, move || {
                let now = net::now_ms();
                let snapshot = inbox
                    .borrow()
                    .iter()
                    .any(|m| matches!(m, ServerMsg::Snapshot(_)));
                let takes = !inbox.borrow().is_empty()
                    && drawn
                        .borrow()
                        .as_ref()
                        .is_none_or(|m| m.takes_frames(now, snapshot));
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
    {
        // For measurements: when the first picture of the loop is on screen (ms since navigation).
        let drawn = !model.snap.fds.is_empty();
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
    let crowd: Rc<RefCell<Crowd>> = use_mut_ref(Crowd::new);
    crowd.borrow_mut().draw(&model);
    let crowd_node = Html::VRef(crowd.borrow().el.clone().into());
    let d = model.dispatcher();
    net::add_stat("renders", 1.0);
    if !model.snap.fds.is_empty() {
        net::mark_once("mx:render");
    }
    html! {
        <div class={classes!("app", model.busy().then_some("busy"))}>
            <header>
                <h1>{ "muxscope" }</h1>
                <span class="tagline">{ "see IO multiplexing work, live" }</span>
                <span class="poller">{ if model.snap.poller.is_empty() { "…".to_string() } else { model.snap.poller.clone() } }</span>
                <span class={classes!("conn", model.connected.then_some("up"))} data-testid="stream-status">{
                    match (model.connected, &model.stream_closed) {
                        (true, _) => "● live".to_string(),
                        (false, Some(why)) => format!("○ {why}"),
                        (false, None) => "○ connecting".to_string(),
                    }
                }</span>
                { controls(&model, &d) }
            </header>
            <main>
                <section class="stage-wrap">
                    { wait_bar(&model) }
                    { stage(&model, crowd_node) }
                    { phase(&model) }
                    <IoModels poller={model.snap.poller.clone()} lit={models::lit_phase(model.phase.as_ref().map(|p| p.step))} />
                </section>
                <aside class="side">
                    <ChatPane dispatch={d.clone()} lines={model.chat.iter().map(|l| (l.id, l.class, l.text.clone())).collect::<Vec<_>>()} />
                    { counters(&model) }
                </aside>
            </main>
            { event_log(&model) }
        </div>
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

fn controls(m: &Model, d: &Dispatch) -> Html {
    let pause = {
        let d = d.clone();
        let paused = m.paused;
        Callback::from(move |_| {
            d.dispatch(if paused {
                Action::Resume
            } else {
                Action::Pause
            })
        })
    };
    let step = {
        let d = d.clone();
        Callback::from(move |_| d.dispatch(Action::Step))
    };
    let live = {
        let d = d.clone();
        Callback::from(move |_| d.dispatch(Action::Live))
    };
    let speed = {
        let d = d.clone();
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Ok(v) = input.value().parse::<f64>() {
                d.dispatch(Action::Speed(v));
            }
        })
    };
    let status = if m.queue.is_empty() && m.is_live() {
        "live".to_string()
    } else {
        format!(
            "{} queued · {:.1} s behind live",
            m.queue.len(),
            m.behind_s()
        )
    };
    html! {
        <div class="controls">
            <button data-testid="pause" class={classes!(m.paused.then_some("on"))} onclick={pause}>
                { if m.paused { "▶ resume" } else { "❚❚ pause" } }
            </button>
            <button data-testid="step" onclick={step} title="play one event (pauses)">{ "▶| step" }</button>
            <label class="speed">
                <span>{ "speed" }</span>
                <input data-testid="speed" type="range" min="0.1" max="1" step="0.1" value={range_value(m.speed)} oninput={speed} />
                <b>{ if m.speed >= 0.999 { "1× live".to_string() } else { format!("{:.1}×", m.speed) } }</b>
            </label>
            <button data-testid="live" onclick={live} title="jump back to live">{ "» live" }</button>
            <span data-testid="queue" class={classes!("queue", (!m.queue.is_empty()).then_some("behind"))}>{ status }</span>
        </div>
    }
}

fn wait_bar(m: &Model) -> Html {
    let Some(w) = &m.wait else {
        return html! { <div class="waitbar">{ "waiting for the first wakeup…" }</div> };
    };
    let timeout = if w.timeout_ms < 0 {
        "∞".to_string()
    } else {
        format!("{} ms", w.timeout_ms)
    };
    let scan = match m.snap.poller.as_str() {
        "poll" | "select" => format!("the kernel scanned {} fds to find them", w.scanned),
        _ => "no scan: the kernel kept the ready list".to_string(),
    };
    // Busy: the bar and its chips are updated in place (a still picture needs no pop-in, and
    // new elements cost far more than new text).
    let busy = m.busy();
    let ready: Vec<Html> = w
        .ready
        .iter()
        .take(12)
        .map(|r| {
            let text = format!("fd {} {}", r.fd, r.flags);
            if busy {
                html! { <span class="chip">{ text }</span> }
            } else {
                html! { <span class="chip" key={r.fd}>{ text }</span> }
            }
        })
        .collect();
    let more = (w.ready_total as usize > w.ready.len().min(12)).then(|| html! { <span class="chip more">{ format!("+{}", w.ready_total as usize - w.ready.len().min(12)) }</span> });
    html! {
        <div class="waitbar" key={if busy { 0 } else { w.id }}>
            <code>{ format!("{}({} fds, timeout {timeout})", w.call, w.registered) }</code>
            <span class="blocked">{ format!(" slept {:.1} ms → ", w.blocked_ms) }</span>
            <b>{ format!("{} ready", w.ready_total) }</b>
            { for ready }
            { for more }
            <span class="scan">{ scan }</span>
        </div>
    }
}

const CORE: (f64, f64) = (500.0, 530.0);
/// The event stream is tried again this long after it drops, doubling up to the max.
const RETRY_FIRST_MS: u32 = 1000;
const RETRY_MAX_MS: u32 = 30_000;

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

fn short(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        let s: String = name.chars().take(max.saturating_sub(1)).collect();
        format!("{s}…")
    }
}

/// One fd of a room small enough to label (bigger rooms are [`DotGroup`]s): a circle (with the
/// hooks `data-testid=fd-node`, `data-fd`, `data-role`, `data-name`) whose outline turns into a
/// dashed write-interest ring while output waits, with a tooltip, its fd number, and its name
/// when there is room. Changes are classes and attributes, never new elements: inserting
/// elements makes the browser lay out the whole SVG again.
fn fd_node(
    f: &FdInfo,
    (x, y, r): (f64, f64, f64),
    flash: Option<(Flash, u64)>,
    out: &mut Vec<Html>,
) {
    let queued = if f.pending_out > 0 {
        format!(" · {} B queued", f.pending_out)
    } else {
        String::new()
    };
    let title = format!(
        "fd {} · {} · {} · interest {}{queued}",
        f.fd,
        role_class(f.role),
        f.name,
        f.interest
    );
    let (cx, cy) = (format!("{x:.1}"), format!("{y:.1}"));
    out.push(html! {
        <circle key={format!("c{}", f.fd)} data-testid="fd-node" data-fd={f.fd.to_string()} data-role={role_class(f.role)} data-name={f.name.clone()}
                class={node_class(f, flash)}
                cx={cx.clone()} cy={cy.clone()} r={format!("{r:.1}")}>
            <title>{ title }</title>
        </circle>
    });
    let size = format!("{:.0}", (r * 0.75).clamp(7.0, 22.0));
    out.push(html! { <text key={format!("n{}", f.fd)} class="fdnum" x={cx.clone()} y={cy.clone()} dy="0.35em" font-size={size}>{ f.fd }</text> });
    if r >= 16.0 {
        let label = short(&f.name, (r / 3.2) as usize + 4);
        out.push(html! { <text key={format!("l{}", f.fd)} class="fdname" x={cx} y={format!("{:.1}", y + r + 14.0)}>{ label }</text> });
    }
}

/// Nodes per [`NodeGroup`].
const GROUP: usize = 32;

/// An fd with its place and mark.
type Placed = (FdInfo, (f64, f64, f64), Option<(Flash, u64)>);

#[derive(Properties, PartialEq, Clone)]
pub struct GroupProps {
    /// The group's fds, each with its place and mark.
    pub nodes: Vec<Placed>,
}

/// A run of [`GROUP`] nodes of a room small enough to label. A redraw compares each group once
/// and redraws only groups with a changed node.
#[function_component(NodeGroup)]
fn node_group(p: &GroupProps) -> Html {
    // One element around the group: a new group is built before it joins the document, and a
    // group that goes is one removal, not one per node.
    let mut out = Vec::with_capacity(p.nodes.len());
    for (f, place, flash) in &p.nodes {
        fd_node(f, *place, *flash, &mut out);
    }
    html! { <g class="group">{ for out }</g> }
}

/// A labelled room's nodes (a crowd is drawn by [`Crowd`] instead).
fn node_groups(m: &Model, places: &[(f64, f64, f64)]) -> Html {
    if is_crowd(m.snap.fds.len()) {
        return Html::default();
    }
    m.snap
        .fds
        .chunks(GROUP)
        .zip(places.chunks(GROUP))
        .enumerate()
        .map(|(i, (fds, places))| {
            let nodes = fds
                .iter()
                .zip(places)
                .map(|(f, p)| (f.clone(), *p, m.flashes.get(&f.fd).copied()))
                .collect::<Vec<_>>();
            html! { <NodeGroup key={format!("n{i}")} nodes={nodes} /> }
        })
        .collect()
}

/// A room too big for labels, drawn into a `<g>` of its own (see [`crate::dots`]) that Yew only
/// places. Its circles are markup: the first picture of a crowd is one parse, and after that
/// only the groups with a changed node are touched (in a busy room of a thousand, a still
/// picture where four senders changed mark sets four attributes). None of it is a virtual DOM
/// node, so a render of the page costs nothing per fd unless the fds or their marks changed.
struct Crowd {
    el: web_sys::Element,
    fds: Vec<FdInfo>,
    flashes: HashMap<i32, (Flash, u64)>,
    groups: Vec<Vec<Dot>>,
}

impl Crowd {
    fn new() -> Crowd {
        Crowd {
            el: net::svg_group("crowd"),
            fds: Vec::new(),
            flashes: HashMap::new(),
            groups: Vec::new(),
        }
    }

    /// Brings the crowd's `<g>` to the model's crowd (empty when the room is labelled).
    fn draw(&mut self, m: &Model) {
        let fds: &[FdInfo] = if is_crowd(m.snap.fds.len()) {
            &m.snap.fds
        } else {
            &[]
        };
        if self.fds == fds && (fds.is_empty() || self.flashes == m.flashes) {
            return;
        }
        let el = &self.el;
        let want = crowd_dots(fds, &m.flashes);
        match plan_crowd(&self.groups, &want) {
            // Numbers, fixed names and the escaped fd name only (`Dot::markup`); never chat text.
            CrowdDraw::Whole(markup) => {
                net::mark_once("mx:crowd-markup");
                el.set_inner_html(&markup);
                net::mark_once("mx:crowd-drawn");
            }
            CrowdDraw::Groups {
                redraws,
                keep,
                append,
            } => {
                let groups = el.children();
                for (i, r) in redraws {
                    let Some(g) = groups.item(i as u32) else {
                        continue;
                    };
                    match r {
                        Redraw::Keep => {}
                        Redraw::Rebuild(markup) => g.set_inner_html(&markup),
                        Redraw::Update(changes) => {
                            let nodes = g.children();
                            for (j, k, v) in changes {
                                if let Some(c) = nodes.item(j as u32) {
                                    let _ = c.set_attribute(k, &v);
                                }
                            }
                        }
                    }
                }
                while groups.length() as usize > keep {
                    match groups.item(groups.length() - 1) {
                        Some(g) => g.remove(),
                        None => break,
                    }
                }
                if !append.is_empty() {
                    let _ = el.insert_adjacent_html("beforeend", &append);
                }
            }
        }
        self.groups = want;
        self.fds = fds.to_vec();
        self.flashes = m.flashes.clone();
    }
}

/// Most fan-out lines drawn; a larger room gets an even sample of its recipients.
const MAX_LINES: usize = 48;

fn fanout_lines(f: &Fanout, pos: &dyn Fn(i32) -> Option<(f64, f64)>) -> Html {
    let stride = f.to.len().div_ceil(MAX_LINES).max(1);
    let lines: Vec<Html> = f
        .to
        .iter()
        .step_by(stride)
        .filter_map(|fd| pos(*fd))
        .map(|(x, y)| html! { <line class="fan" x1={CORE.0.to_string()} y1={CORE.1.to_string()} x2={format!("{x:.1}")} y2={format!("{y:.1}")} /> })
        .collect();
    let from = pos(f.from).map(|(x, y)| html! { <line class="fan-in" x1={format!("{x:.1}")} y1={format!("{y:.1}")} x2={CORE.0.to_string()} y2={CORE.1.to_string()} /> });
    html! {
        <g key={format!("fan-{}", f.id)} data-testid="fanout" data-recipients={f.to.len().to_string()} class="fanout">
            { for from }
            { for lines }
        </g>
    }
}

fn stage(m: &Model, crowd: Html) -> Html {
    let places = layout(m.snap.fds.len());
    let pos = |fd: i32| {
        m.snap
            .fds
            .binary_search_by_key(&fd, |f| f.fd)
            .ok()
            .map(|i| (places[i].0, places[i].1))
    };
    let copies: Vec<Html> = m
        .flashes
        .iter()
        .filter(|(_, (k, _))| *k == Flash::Copy)
        .take(64)
        .filter_map(|(fd, (_, id))| {
            let (x, y) = pos(*fd)?;
            Some(html! { <line key={format!("cp-{fd}-{id}")} class="copy-line" x1={format!("{x:.1}")} y1={format!("{y:.1}")} x2={CORE.0.to_string()} y2={CORE.1.to_string()} /> })
        })
        .collect();
    let title = format!(
        "kernel · {} · interest list: {} fds",
        if m.snap.poller.is_empty() {
            "…"
        } else {
            &m.snap.poller
        },
        m.snap.fds.len()
    );
    let pending: u64 = m.snap.fds.iter().map(|f| f.pending_out).sum();
    // Two layers: the boxes and nodes, and above them the lines that animate across the whole
    // stage (their own compositing layer), so drawing a fan-out does not repaint every node.
    html! {
        <div class="stage">
            <svg class="layer" viewBox="0 0 1000 600" role="img" aria-label="the event loop">
                <rect class="kernel" x="8" y="8" width="984" height="396" rx="18" />
                <text class="boxlabel" x="28" y="40">{ title }</text>
                <rect class="user" x="8" y="452" width="984" height="140" rx="18" />
                <text class="boxlabel" x="28" y="484">{ "user space · muxscope chat loop (one thread)" }</text>
                <text class="owed" x="28" y="578">{ format!("{pending} B owed in output queues") }</text>
                <g class="core" transform={format!("translate({},{})", CORE.0, CORE.1)}>
                    <circle r="30" />
                    <text dy="0.35em">{ "loop" }</text>
                </g>
                { crowd }
                { node_groups(m, &places) }
            </svg>
            <svg class="layer overlay" viewBox="0 0 1000 600" aria-hidden="true">
                { for copies }
                { for m.fanout.as_ref().map(|f| fanout_lines(f, &pos)) }
            </svg>
        </div>
    }
}

fn phase(m: &Model) -> Html {
    match &m.phase {
        Some(p) => {
            html! { <div key={if m.busy() { 0 } else { p.id }} class={classes!("phase", format!("step-{}", p.step))}>{ &p.text }</div> }
        }
        None => {
            html! { <div class="phase">{ "① wait for readiness → ② recv copies the data → ③ fan-out to every client" }</div> }
        }
    }
}

#[derive(Properties, PartialEq)]
struct IoModelsProps {
    poller: String,
    /// The phase the loop's row lights now (see [`models::lit_phase`]).
    lit: Option<u8>,
}

/// The tutorial's five IO models beside the live loop: which phases block in each, with the
/// loop's own row lit as it goes. Closed until opened; redrawn only when the lit phase changes.
#[function_component(IoModels)]
fn io_models_panel(p: &IoModelsProps) -> Html {
    let rows = models::io_models(&p.poller);
    html! {
        <details class="models" data-testid="io-models">
            <summary>{ "IO models: where does each one wait, and where does this loop?" }</summary>
            <table>
                <thead>
                    <tr><th>{ "model" }</th><th>{ "① the kernel waits for the data" }</th><th>{ "② recv copies it to user space" }</th><th></th></tr>
                </thead>
                <tbody>
                    { for rows.iter().map(|r| {
                        let cell = |n: u8, text: &str| {
                            let lit = r.this_loop && p.lit == Some(n);
                            html! { <td class={classes!(format!("p{n}"), lit.then_some("lit"))}>{ text.to_string() }</td> }
                        };
                        html! {
                            <tr data-model={r.key} class={classes!(r.this_loop.then_some("this"))}>
                                <th>{ r.name }{ if r.this_loop { html! { <span class="here">{ "this loop" }</span> } } else { html! {} } }</th>
                                { cell(1, &r.wait) }
                                { cell(2, &r.copy) }
                                <td class="kind">{ if r.sync { "sync" } else { "async" } }</td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            <p class="note">{ models::poller_note(&p.poller) }</p>
            <p class="note">{ "Multiplexing is not faster than a thread per connection when connections are few. It lets one thread serve many of them, without a thread's memory and context switches for each." }</p>
        </details>
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
    let c = &m.snap.counters;
    let stat = |id: &'static str, label: &'static str, value: String| {
        html! { <div class="stat" data-testid={id}><b>{ value }</b><span>{ label }</span></div> }
    };
    html! {
        <div class="stats">
            { stat("counter-clients", "clients", m.clients().to_string()) }
            { stat("counter-wakeups", "wakeups/s", format!("{:.0}", m.rates.wakeups)) }
            { stat("counter-epw", "events/wakeup", format!("{:.1}", m.rates.events_per_wakeup)) }
            { stat("counter-msgs-rate", "messages/s", format!("{:.0}", m.rates.messages)) }
            { stat("counter-bytes", "bytes/s", human_bytes(m.rates.bytes)) }
            { stat("counter-messages", "messages", c.messages.to_string()) }
            { stat("counter-folded", "events folded", m.folded_total.to_string()) }
            { stat("counter-dropped", "events dropped", (m.gaps_total.max(c.dropped_events)).to_string()) }
        </div>
    }
}

/// Lines the log shows while busy (about what its 180 px show); they are rewritten in place,
/// not re-created.
const BUSY_LOG_LINES: usize = 14;

fn event_log(m: &Model) -> Html {
    let lines = m.log.iter().rev();
    let lines: Html = if m.busy() {
        lines
            .take(BUSY_LOG_LINES)
            .map(|l| html! { <div class={classes!("ev", l.class)}>{ &l.text }</div> })
            .collect()
    } else {
        lines
            .map(|l| html! { <div key={l.id} class={classes!("ev", l.class)}>{ &l.text }</div> })
            .collect()
    };
    html! {
        <section class="log" data-testid="event-log">{ lines }</section>
    }
}

#[derive(Properties, PartialEq)]
pub struct ChatProps {
    pub dispatch: Dispatch,
    pub lines: Vec<(u64, &'static str, String)>,
}

/// The chat pane: a browser user is a real TCP client of the loop, through `/ws/chat`.
#[function_component(ChatPane)]
pub fn chat_pane(p: &ChatProps) -> Html {
    let nick = use_state(String::new);
    let text = use_state(String::new);
    let sock: Rc<RefCell<Option<(String, Socket)>>> = use_mut_ref(|| None);
    let outbox: Rc<RefCell<Vec<String>>> = use_mut_ref(Vec::new);
    let send = {
        let (nick, text, sock, outbox, d) = (
            nick.clone(),
            text.clone(),
            sock.clone(),
            outbox.clone(),
            p.dispatch.clone(),
        );
        Callback::from(move |_: ()| {
            let line = text.trim().to_string();
            let n = nick.trim().to_string();
            if line.is_empty() {
                return;
            }
            if !valid_nick(&n) {
                d.dispatch(Action::ChatStatus(
                    "choose a nick first: 1 to 32 characters, no spaces or brackets".into(),
                ));
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
                Some((current, _)) if *current == n && !outbox.borrow().is_empty() => {
                    outbox.borrow_mut().push(line)
                }
                _ => {
                    outbox.borrow_mut().push(line);
                    let (d_line, d_close) = (d.clone(), d.clone());
                    let (sock2, outbox2) = (sock.clone(), outbox.clone());
                    let url = net::url(&format!(
                        "/ws/chat?nick={}",
                        js_sys::encode_uri_component(&n)
                    ));
                    d.dispatch(Action::ChatStatus(format!("joining as {n}…")));
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
                            let why = if reason.is_empty() {
                                "connection closed".to_string()
                            } else {
                                reason
                            };
                            d_close.dispatch(Action::ChatStatus(format!("chat: {why}")));
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
        Callback::from(move |e: InputEvent| {
            nick.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_text = {
        let text = text.clone();
        Callback::from(move |e: InputEvent| {
            text.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
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
    html! {
        <div class="chat">
            <div class="chat-head">
                <h2>{ "chat" }</h2>
                <input data-testid="chat-nick" placeholder="your nick" maxlength="32" value={(*nick).clone()} oninput={on_nick} />
            </div>
            <div class="chat-log" data-testid="chat-log">
                <div>
                    { for p.lines.iter().map(|(id, class, t)| html! { <div key={*id} class={classes!("line", *class)}>{ t }</div> }) }
                </div>
            </div>
            <div class="chat-send">
                <input data-testid="chat-input" placeholder="say something (nc 127.0.0.1 3999 works too)" maxlength="4000"
                       value={(*text).clone()} oninput={on_text} onkeydown={on_key} />
                <button data-testid="chat-send" onclick={on_click}>{ "send" }</button>
            </div>
        </div>
    }
}
