//! The warnings' badges and the plots' canvas, beside the counters. Both only draw what the
//! scene's [`super::Insight`] holds at the cursor, so they step back and freeze with the
//! picture. The canvas is painted at most every [`DRAW_EVERY_MS`] while live (a flood redraws
//! the page often; histograms need not follow every frame), and at once when paused, stepped,
//! or switched to the other window or language.

use super::plots::{Plot, Summary, BUCKETS};
use super::text::{badge, edge, explain, legend, plot_title};
use crate::i18n::{Lang, Sight};
use crate::state::Model;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d as Ctx, HtmlCanvasElement};
use yew::prelude::*;

const DRAW_EVERY_MS: f64 = 300.0;
/// The canvas in CSS pixels (drawn at twice that, for sharp text).
const W: f64 = 320.0;
const H: f64 = 196.0;
const BG: &str = "#131a2a";
const DIM: &str = "#8d99b5";
const TEXT: &str = "#e8ecf5";
/// The current model's bars, and the previous one's behind them.
const NOW: &str = "#4aa3ff";
const BEFORE: &str = "rgba(255, 184, 107, 0.75)";

/// One badge per kind that fired in the last half minute (of the loop's time).
pub fn warnings(m: &Model) -> Html {
    let scene = m.scene();
    let lang = m.lang;
    let badges = scene.insight.warnings.recent(scene.ts_ns).map(|w| {
        let why = explain(w, lang);
        let fd = w.fd.map(|f| f.to_string());
        html! {
            <details class="warning" data-testid="warning" data-kind={w.kind.code()} data-fd={fd} data-at={w.at.to_string()}>
                <summary title={why.clone()}>{ "⚠ " }{ badge(w, lang) }</summary>
                <p>{ why }</p>
            </details>
        }
    });
    html! { <div class="warnings" aria-label={Sight::Warnings.t(lang)}>{ for badges }</div> }
}

/// The plots of the window chosen, as of the picture.
pub fn plots(m: &Model) -> Html {
    let scene = m.scene();
    let p = &scene.insight.plots;
    let sums = Rc::new([p.summary(scene.ts_ns, 10, m.io_model()), p.summary(scene.ts_ns, 60, m.io_model())]);
    html! { <Plots sums={sums} lang={m.lang} live={m.is_live()} /> }
}

#[derive(Properties, PartialEq)]
struct Props {
    /// The last 10 s and the last 60 s.
    sums: Rc<[Summary; 2]>,
    lang: Lang,
    live: bool,
}

/// What the canvas last drew, and a draw put off to stay within [`DRAW_EVERY_MS`].
struct Painter {
    last_ms: f64,
    key: (bool, Lang),
    pending: Option<gloo_timers::callback::Timeout>,
}

#[function_component(Plots)]
fn plots_canvas(p: &Props) -> Html {
    let wide = use_state(|| false);
    let canvas = use_node_ref();
    let painter = use_mut_ref(|| Painter { last_ms: f64::NEG_INFINITY, key: (false, Lang::En), pending: None });
    {
        let (canvas, live) = (canvas.clone(), p.live);
        use_effect_with((p.sums.clone(), p.lang, *wide), move |(sums, lang, wide)| {
            let (sums, lang, wide) = (sums.clone(), *lang, *wide);
            let now = crate::net::now_ms();
            let mut pt = painter.borrow_mut();
            let wait = if !live || pt.key != (wide, lang) { 0.0 } else { (pt.last_ms + DRAW_EVERY_MS - now).max(0.0) };
            let draw = {
                let painter = painter.clone();
                move || {
                    // The timer that runs this stays in `pending` (dropping it from inside its own
                    // callback would free the closure while it runs); the next one replaces it.
                    let mut pt = painter.borrow_mut();
                    (pt.last_ms, pt.key) = (crate::net::now_ms(), (wide, lang));
                    if let Some(c) = canvas.cast::<HtmlCanvasElement>() {
                        paint(&c, &sums[usize::from(wide)], lang);
                    }
                }
            };
            // The newest picture replaces a draw still put off.
            pt.pending = None;
            if wait == 0.0 {
                drop(pt);
                draw();
            } else {
                pt.pending = Some(gloo_timers::callback::Timeout::new(wait.ceil() as u32, draw));
            }
        });
    }
    let toggle = {
        let wide = wide.clone();
        Callback::from(move |_| wide.set(!*wide))
    };
    let label = if *wide { Sight::Window60 } else { Sight::Window10 };
    html! {
        <div class="plots">
            <button class="plots-window" data-testid="plots-window" title={Sight::WindowTitle.t(p.lang)} onclick={toggle}>{ label.t(p.lang) }</button>
            <canvas ref={canvas} data-testid="plots" width={(W * 2.0).to_string()} height={(H * 2.0).to_string()}
                    title={Sight::PlotsTitle.t(p.lang)} />
        </div>
    }
}

fn paint(canvas: &HtmlCanvasElement, s: &Summary, lang: Lang) {
    let Some(ctx) = canvas.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<Ctx>().ok()) else {
        return;
    };
    let _ = ctx.set_transform(2.0, 0.0, 0.0, 2.0, 0.0, 0.0);
    ctx.set_fill_style_str(BG);
    ctx.fill_rect(0.0, 0.0, W, H);
    ctx.set_font("9px ui-monospace, SFMono-Regular, Menlo, monospace");
    // The legend: the model now, and the one before it when it was switched inside the window.
    let mut x = 4.0;
    for (model, now, color) in [(s.current, true, NOW), (s.previous, false, BEFORE)] {
        if let Some(model) = model {
            ctx.set_fill_style_str(color);
            ctx.fill_rect(x, 5.0, 8.0, 8.0);
            ctx.set_fill_style_str(TEXT);
            let text = legend(model, now, lang);
            let _ = ctx.fill_text(&text, x + 11.0, 12.0);
            // The font is monospace: about 5.5 px an ASCII character, a square for a CJK one.
            x += 16.0 + text.chars().map(|c| if c.is_ascii() { 5.5 } else { 9.0 }).sum::<f64>();
        }
    }
    let (pw, ph) = (W / 2.0, (H - 16.0) / 2.0);
    for (k, plot) in Plot::ALL.into_iter().enumerate() {
        let (x0, y0) = ((k % 2) as f64 * pw, 16.0 + (k / 2) as f64 * ph);
        panel(&ctx, plot, &s.now[k], &s.before[k], (x0, y0, pw, ph), lang);
    }
}

/// One histogram: its title, the previous model's bars, the current one's over them (each as a
/// share of its own total, so a busy model does not hide a quiet one), the axis's edges.
fn panel(ctx: &Ctx, plot: Plot, now: &[u32; BUCKETS], before: &[u32; BUCKETS], (x0, y0, w, h): (f64, f64, f64, f64), lang: Lang) {
    ctx.set_fill_style_str(DIM);
    let _ = ctx.fill_text(plot_title(plot).t(lang), x0 + 4.0, y0 + 10.0);
    let (bx, by, bw, bh) = (x0 + 4.0, y0 + 14.0, w - 8.0, h - 28.0);
    let share = |h: &[u32; BUCKETS]| {
        let t: u64 = h.iter().map(|&c| u64::from(c)).sum();
        h.map(|c| if t == 0 { 0.0 } else { c as f64 / t as f64 })
    };
    let (a, b) = (share(now), share(before));
    let top = a.iter().chain(&b).cloned().fold(0.0, f64::max);
    if top == 0.0 {
        let _ = ctx.fill_text(Sight::NoData.t(lang), bx + 4.0, by + bh / 2.0);
    }
    let col = bw / BUCKETS as f64;
    for (shares, color, inset) in [(&b, BEFORE, 0.0), (&a, NOW, col * 0.25)] {
        ctx.set_fill_style_str(color);
        for (i, v) in shares.iter().enumerate() {
            if *v > 0.0 {
                let hgt = (v / top * bh).max(1.0);
                ctx.fill_rect(bx + i as f64 * col + inset + 0.5, by + bh - hgt, col - 2.0 * inset - 1.0, hgt);
            }
        }
    }
    ctx.set_fill_style_str(DIM);
    ctx.fill_rect(bx, by + bh, bw, 0.5);
    // The first bucket's edge, the middle one's, and the last one's ending at the right edge.
    for (b, align, x) in [(0, "left", bx), (BUCKETS / 2, "left", bx + (BUCKETS / 2) as f64 * col), (BUCKETS - 1, "right", bx + bw)] {
        ctx.set_text_align(align);
        let _ = ctx.fill_text(&edge(plot, b), x, by + bh + 10.0);
    }
    ctx.set_text_align("left");
}
