//! The timeline component: a toggle, zoom buttons, a status line and the canvas. Drawing happens
//! outside Yew's diff, at the next animation frame (pans and zooms), and while the room is busy
//! at most every [`BUSY_REDRAW_MS`] for new events: a busy room changes the props on every tick,
//! and the stage needs those frames more than the timeline does.

use super::canvas::paint;
use super::lanes::Window;
use super::viewport::{describe, Layout, Viewport, GUTTER, HEIGHT};
use crate::i18n::{Lang, Ui};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};
use yew::prelude::*;

/// While busy, new props redraw the canvas at most this often.
pub const BUSY_REDRAW_MS: f64 = 250.0;

/// A pointer that moves less than this (px) between down and up clicked.
const CLICK_PX: f64 = 4.0;

#[derive(Properties, Clone)]
pub struct TimelineProps {
    /// The lanes to draw ([`super::Feed::update`] builds them only when needed).
    pub window: Rc<Window>,
    /// The time of the event the picture shows: the cursor line.
    pub cursor_ts: u64,
    /// A click asks to show the clicked event (its absolute history index) as just played.
    pub on_seek: Callback<u64>,
    /// Closed, only the toggle is drawn (and the app builds no window).
    pub open: bool,
    pub on_toggle: Callback<bool>,
    /// Events are being folded: redraw less often.
    #[prop_or_default]
    pub busy: bool,
}

impl PartialEq for TimelineProps {
    /// The window by identity: comparing its marks on every render would cost what drawing does.
    fn eq(&self, o: &Self) -> bool {
        Rc::ptr_eq(&self.window, &o.window)
            && self.cursor_ts == o.cursor_ts
            && self.on_seek == o.on_seek
            && self.open == o.open
            && self.on_toggle == o.on_toggle
            && self.busy == o.busy
    }
}

/// What the canvas needs between frames.
#[derive(Default)]
struct Painter {
    canvas: NodeRef,
    window: Rc<Window>,
    cursor_ts: u64,
    busy: bool,
    /// The page's language, for the words painted on the canvas.
    lang: Lang,
    view: Viewport,
    /// As last drawn: what a click or hover hits.
    layout: Option<Layout>,
    last_ms: f64,
    frame_pending: bool,
    timer_pending: bool,
    /// Pointer down at x, last x seen, moved past a click.
    drag: Option<(f64, f64, bool)>,
}

type Shared = Rc<RefCell<Painter>>;

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// Asks for a draw at the next frame; `urgent` (the user is zooming or panning) skips the busy
/// pace. Any number of requests before that frame make one draw.
fn request(p: &Shared, urgent: bool) {
    let Some(win) = web_sys::window() else { return };
    let mut pt = p.borrow_mut();
    if pt.frame_pending {
        return;
    }
    let wait = if urgent || !pt.busy { 0.0 } else { BUSY_REDRAW_MS - (now_ms() - pt.last_ms) };
    if wait > 0.0 {
        if !pt.timer_pending {
            pt.timer_pending = true;
            let p = p.clone();
            // `once_into_js` frees the closure after its one call.
            let f = Closure::once_into_js(move || {
                p.borrow_mut().timer_pending = false;
                request(&p, true);
            });
            let _ = win.set_timeout_with_callback_and_timeout_and_arguments_0(f.unchecked_ref(), wait.ceil() as i32);
        }
        return;
    }
    pt.frame_pending = true;
    let p = p.clone();
    let f = Closure::once_into_js(move || {
        p.borrow_mut().frame_pending = false;
        draw(&p);
    });
    let _ = win.request_animation_frame(f.unchecked_ref());
}

/// Sizes the canvas to its box in device pixels and paints it.
fn draw(p: &Shared) {
    let mut pt = p.borrow_mut();
    let Some(canvas) = pt.canvas.cast::<HtmlCanvasElement>() else {
        pt.layout = None;
        return;
    };
    // The box inside the border: the bitmap maps onto it pixel for pixel.
    let (css_w, css_h) = (canvas.client_width() as f64, canvas.client_height() as f64);
    if css_w <= 0.0 || css_h <= 0.0 {
        return;
    }
    let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0);
    let (dw, dh) = ((css_w * dpr).round() as u32, (css_h * dpr).round() as u32);
    if canvas.width() != dw || canvas.height() != dh {
        canvas.set_width(dw);
        canvas.set_height(dh);
    }
    let Some(ctx) = canvas.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok()) else {
        return;
    };
    let t0 = now_ms();
    let layout = Layout::new(&pt.window, &pt.view, pt.cursor_ts, css_w, css_h);
    paint(&ctx, &pt.window, &layout, css_h, pt.cursor_ts, dpr, pt.lang);
    // For benchmarks (`window.muxscopeStats`): what drawing the timeline costs.
    crate::net::add_stat("timeline_draws", 1.0);
    crate::net::add_stat("timeline_draw_ms", now_ms() - t0);
    // For tests and measurements: how many lanes have a row, how many do not.
    let _ = canvas.set_attribute("data-lanes", &layout.rows.len().to_string());
    let _ = canvas.set_attribute("data-hidden", &layout.hidden.to_string());
    pt.layout = Some(layout);
    pt.last_ms = now_ms();
}

/// Changes the view, redraws at once, and re-renders the buttons if following changed.
fn change_view(p: &Shared, rerender: &Callback<()>, f: impl FnOnce(&mut Viewport, &Window, u64)) {
    let mut pt = p.borrow_mut();
    let before = pt.view.following();
    let (w, c) = (pt.window.clone(), pt.cursor_ts);
    f(&mut pt.view, &w, c);
    let after = pt.view.following();
    drop(pt);
    request(p, true);
    if before != after {
        rerender.emit(());
    }
}

#[function_component(Timeline)]
pub fn timeline(p: &TimelineProps) -> Html {
    let lang = use_context::<Lang>().unwrap_or_default();
    let painter: Shared = use_mut_ref(Painter::default);
    let hover = use_state(|| None::<String>);
    let update = use_force_update();
    let rerender = Callback::from(move |_| update.force_update());
    {
        let mut pt = painter.borrow_mut();
        pt.window = p.window.clone();
        pt.cursor_ts = p.cursor_ts;
        pt.busy = p.busy;
        pt.lang = lang;
    }
    {
        let painter = painter.clone();
        // A new language repaints the canvas's words too.
        let key = (Rc::as_ptr(&p.window) as usize, p.cursor_ts, p.open, lang);
        use_effect_with(key, move |(_, _, open, _)| {
            if *open {
                request(&painter, false);
            }
        });
    }
    {
        // A new width (the window resized) is drawn at once.
        let painter = painter.clone();
        use_effect_with(p.open, move |open| {
            let win = web_sys::window().filter(|_| *open);
            let listener = win.as_ref().map(|w| {
                let f = Closure::<dyn FnMut()>::new(move || request(&painter, true));
                let _ = w.add_event_listener_with_callback("resize", f.as_ref().unchecked_ref());
                f
            });
            move || {
                if let (Some(w), Some(f)) = (win, listener) {
                    let _ = w.remove_event_listener_with_callback("resize", f.as_ref().unchecked_ref());
                }
            }
        });
    }
    let toggle = {
        let (on, open) = (p.on_toggle.clone(), p.open);
        Callback::from(move |_| on.emit(!open))
    };
    if !p.open {
        return html! {
            <section class="timeline closed">
                <div class="timeline-bar">
                    <button data-testid="timeline-toggle" onclick={toggle} title={Ui::TimelineOpenTitle.t(lang)}>{ Ui::TimelineClosed.t(lang) }</button>
                </div>
            </section>
        };
    }
    let button = |label: &'static str, title: &'static str, f: fn(&mut Viewport, &Window, u64)| {
        let (painter, rerender) = (painter.clone(), rerender.clone());
        let onclick = Callback::from(move |_| change_view(&painter, &rerender, f));
        html! { <button {onclick} {title}>{ label }</button> }
    };
    let onwheel = {
        let (painter, rerender) = (painter.clone(), rerender.clone());
        Callback::from(move |e: WheelEvent| {
            e.prevent_default();
            let plot_w = painter.borrow().layout.as_ref().map_or(1.0, |l| l.plot_w());
            let x = e.offset_x() as f64;
            let at = (x >= GUTTER).then(|| ((x - GUTTER) / plot_w).clamp(0.0, 1.0));
            let lines = if e.delta_mode() == 1 { 16.0 } else { 1.0 };
            let factor = (e.delta_y() * lines * 0.002).exp();
            change_view(&painter, &rerender, |v, w, c| v.zoom(factor, at, w, c));
        })
    };
    let onpointerdown = {
        let painter = painter.clone();
        Callback::from(move |e: PointerEvent| {
            let x = e.offset_x() as f64;
            painter.borrow_mut().drag = Some((x, x, false));
            if let Some(c) = painter.borrow().canvas.cast::<HtmlCanvasElement>() {
                let _ = c.set_pointer_capture(e.pointer_id());
            }
        })
    };
    let onpointermove = {
        let (painter, rerender, hover) = (painter.clone(), rerender.clone(), hover.clone());
        Callback::from(move |e: PointerEvent| {
            let (x, y) = (e.offset_x() as f64, e.offset_y() as f64);
            let drag = painter.borrow().drag;
            if let Some((x0, last, moved)) = drag {
                let moved = moved || (x - x0).abs() >= CLICK_PX;
                painter.borrow_mut().drag = Some((x0, x, moved));
                if moved {
                    let plot_w = painter.borrow().layout.as_ref().map_or(1.0, |l| l.plot_w());
                    change_view(&painter, &rerender, |v, w, c| v.pan(x - last, plot_w, w, c));
                }
                return;
            }
            let text = {
                let pt = painter.borrow();
                pt.layout.as_ref().and_then(|l| l.hit(&pt.window, x, y)).map(|h| describe(&h, &pt.window, pt.lang))
            };
            // (No borrow is held here: setting state or seeking may render this component at once.)
            if *hover != text {
                hover.set(text);
            }
        })
    };
    let onpointerup = {
        let (painter, on_seek) = (painter.clone(), p.on_seek.clone());
        Callback::from(move |e: PointerEvent| {
            let drag = painter.borrow_mut().drag.take();
            if let Some((_, _, false)) = drag {
                let hit = {
                    let pt = painter.borrow();
                    pt.layout.as_ref().and_then(|l| l.hit(&pt.window, e.offset_x() as f64, e.offset_y() as f64))
                };
                if let Some(h) = hit {
                    on_seek.emit(h.index());
                }
            }
        })
    };
    let onpointerleave = {
        let hover = hover.clone();
        Callback::from(move |_: PointerEvent| hover.set(None))
    };
    let following = painter.borrow().view.following();
    let w = &p.window;
    let status =
        hover.as_ref().cloned().unwrap_or_else(|| crate::text::timeline_status(w.times.len(), w.cut, w.lanes.len() + w.hidden, lang));
    let canvas_ref = painter.borrow().canvas.clone();
    html! {
        <section class="timeline">
            <div class="timeline-bar">
                <button data-testid="timeline-toggle" onclick={toggle} title={Ui::TimelineTitle.t(lang)}>{ Ui::Timeline.t(lang) }</button>
                { button("−", Ui::ZoomOut.t(lang), |v, w, c| v.zoom(2.0, None, w, c)) }
                { button("+", Ui::ZoomIn.t(lang), |v, w, c| v.zoom(0.5, None, w, c)) }
                { button(Ui::Fit.t(lang), Ui::FitTitle.t(lang), |v, _, _| *v = Viewport::default()) }
                if !following {
                    { button(Ui::Follow.t(lang), Ui::FollowTitle.t(lang), |v, _, _| v.left_ts = None) }
                }
                <span class="status">{ status }</span>
            </div>
            <canvas ref={canvas_ref} data-testid="timeline" {onwheel} {onpointerdown} {onpointermove} {onpointerup} {onpointerleave}
                    style={format!("display:block;width:100%;height:{HEIGHT}px;touch-action:none")}></canvas>
        </section>
    }
}
