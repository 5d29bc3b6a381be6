//! Paints a [`Window`] on a 2D canvas: no DOM per mark, and only what is visible. Marks that
//! fall on the same pixel are drawn once and flows have a budget, so a busy room costs about
//! the canvas's width per lane, not its event count.

use super::lanes::{Lane, MarkKind, SliceKind, Window};
use super::viewport::{name_after_fd, ticks, Layout, AXIS_H, GUTTER, LOOP_H, ROW_H};
use crate::i18n::{Lang, Ui};
use muxscope_shared::Role;
use web_sys::CanvasRenderingContext2d as Ctx;

/// The page's colours (`static/style.css`, `:root`): a role and a kind look the same on the
/// stage, in the event log and here.
const BG: &str = "#0b0f18";
const PANEL: &str = "#131a2a";
const LINE: &str = "#2a3550";
const TEXT: &str = "#e8ecf5";
const DIM: &str = "#8d99b5";
const READY: &str = "#ffd54a";
const COPY: &str = "#ff7ad9";
const SEND: &str = "#3ddc97";
const CTL: &str = "#4aa3ff";
const FAN: &str = "#ffb86b";
const ERROR: &str = "#ff6b6b";
const THREAD: &str = "#b39dff";

/// Most flow lines drawn at once: past it a fan-out is a blur anyway.
const MAX_FLOW_LINES: usize = 4_000;

const FONT: &str = "11px ui-monospace, SFMono-Regular, Menlo, monospace";

pub fn role_color(r: Role) -> &'static str {
    match r {
        Role::Listener => "#f5b83d",
        Role::Tcp => "#4aa3ff",
        Role::Web => "#3ddc97",
        Role::Waker => DIM,
        // As the stage's `--bot` (static/style.css).
        Role::Bot => "#c792ea",
        // As the stage's `--relay` (static/style.css).
        Role::Relay => "#ff7a59",
    }
}

fn mark_color(k: MarkKind) -> &'static str {
    match k {
        MarkKind::Recv => COPY,
        MarkKind::RecvEmpty => DIM,
        MarkKind::Send => SEND,
        MarkKind::Ctl(_) => CTL,
        MarkKind::Accept => TEXT,
        MarkKind::Close | MarkKind::Gap => ERROR,
        MarkKind::Broadcast => FAN,
        MarkKind::Switch => THREAD,
    }
}

/// Paints the whole canvas (CSS pixels; `dpr` scales to device pixels), its words in `lang`.
pub fn paint(ctx: &Ctx, w: &Window, l: &Layout, height: f64, cursor_ts: u64, dpr: f64, lang: Lang) {
    let _ = ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0);
    ctx.set_fill_style_str(BG);
    ctx.fill_rect(0.0, 0.0, l.width, height);
    ctx.set_font(FONT);
    ctx.set_text_baseline("middle");
    // The plot is clipped: flows and slices that start off screen stop at the gutter.
    ctx.save();
    ctx.begin_path();
    ctx.rect(GUTTER, 0.0, l.plot_w(), height);
    ctx.clip();
    axis(ctx, l, height);
    loop_lane(ctx, w, l, lang);
    for (r, &id) in l.rows.iter().enumerate() {
        lane(ctx, &w.lanes[id as usize], l, AXIS_H + LOOP_H + r as f64 * ROW_H, r);
    }
    flows(ctx, w, l);
    cursor(ctx, w, l, cursor_ts, height);
    ctx.restore();
    labels(ctx, w, l, height, lang);
}

fn axis(ctx: &Ctx, l: &Layout, height: f64) {
    ctx.set_fill_style_str(DIM);
    ctx.set_stroke_style_str(LINE);
    ctx.set_line_width(1.0);
    ctx.begin_path();
    for (t, label) in ticks(l.t0, l.t1, (l.plot_w() / 110.0).max(2.0) as usize) {
        let x = l.x(t).round() + 0.5;
        ctx.move_to(x, AXIS_H - 4.0);
        ctx.line_to(x, height);
        let _ = ctx.fill_text(&label, x + 3.0, AXIS_H / 2.0);
    }
    ctx.stroke();
}

/// The loop's lane: runs of slices closer than a pixel are one rectangle.
fn loop_lane(ctx: &Ctx, w: &Window, l: &Layout, lang: Lang) {
    let (y, h) = (AXIS_H + 3.0, LOOP_H - 6.0);
    let slices = &w.loop_lane.slices;
    let first = slices.partition_point(|s| (s.end as f64) < l.t0);
    let mut run: Option<(f64, f64, SliceKind)> = None;
    let flush = |run: Option<(f64, f64, SliceKind)>| {
        if let Some((x0, x1, kind)) = run {
            let (color, label) = match kind {
                SliceKind::Wait { ready } => (READY, crate::text::wait_slice(ready, lang)),
                SliceKind::Uring => (THREAD, "io_uring_enter".to_string()),
                SliceKind::Sleep => (DIM, Ui::Nap.t(lang).to_string()),
            };
            ctx.set_fill_style_str(color);
            ctx.set_global_alpha(0.45);
            ctx.fill_rect(x0, y, (x1 - x0).max(1.0), h);
            ctx.set_global_alpha(1.0);
            if x1 - x0 > 70.0 {
                ctx.set_fill_style_str(TEXT);
                let _ = ctx.fill_text(&label, x0.max(GUTTER) + 4.0, y + h / 2.0);
            }
        }
    };
    for s in slices[first..].iter().take_while(|s| (s.start as f64) <= l.t1) {
        let (x0, x1) = (l.x(s.start as f64), l.x(s.end as f64));
        let same = |k: SliceKind| std::mem::discriminant(&k) == std::mem::discriminant(&s.kind);
        run = match run {
            Some((a, b, k)) if same(k) && x0 - b < 1.0 && x1 - x0 < 1.0 => Some((a, x1.max(b), k)),
            other => {
                flush(other);
                Some((x0, x1, s.kind))
            }
        };
    }
    flush(run);
    let marks = &w.loop_lane.marks;
    let first = marks.partition_point(|m| (m.ts as f64) < l.t0);
    for m in marks[first..].iter().take_while(|m| (m.ts as f64) <= l.t1) {
        ctx.set_fill_style_str(mark_color(m.kind));
        ctx.fill_rect(l.x(m.ts as f64).round() - 1.0, AXIS_H, 2.0, LOOP_H);
    }
}

/// One fd lane: its life as a thin line in its role's colour, its marks as ticks.
fn lane(ctx: &Ctx, lane: &Lane, l: &Layout, y: f64, row: usize) {
    if row % 2 == 1 {
        ctx.set_fill_style_str(PANEL);
        ctx.fill_rect(GUTTER, y, l.plot_w(), ROW_H);
    }
    let mid = y + ROW_H / 2.0;
    let from = lane.opened.map_or(l.t0, |t| t as f64).max(l.t0);
    let to = lane.closed.map_or(l.t1, |t| t as f64).min(l.t1);
    if from < to {
        ctx.set_fill_style_str(role_color(lane.role));
        ctx.set_global_alpha(0.35);
        ctx.fill_rect(l.x(from), mid - 0.5, l.x(to) - l.x(from), 1.0);
        ctx.set_global_alpha(1.0);
    }
    let first = lane.marks.partition_point(|m| (m.ts as f64) < l.t0);
    let mut last: Option<(i64, MarkKind)> = None;
    for m in lane.marks[first..].iter().take_while(|m| (m.ts as f64) <= l.t1) {
        let px = l.x(m.ts as f64).round() as i64;
        if last == Some((px, m.kind)) {
            continue;
        }
        last = Some((px, m.kind));
        let (h, w) = match m.kind {
            MarkKind::RecvEmpty => (ROW_H * 0.35, 1.0),
            MarkKind::Accept | MarkKind::Close | MarkKind::Broadcast => (ROW_H - 2.0, 3.0),
            _ => (ROW_H - 5.0, 2.0),
        };
        ctx.set_fill_style_str(mark_color(m.kind));
        ctx.fill_rect(px as f64 - w / 2.0, mid - h / 2.0, w, h);
    }
}

/// Each broadcast to each recipient's send (a close that came first: red), once per pixel pair.
/// Lines to lanes with no row are left out.
fn flows(ctx: &Ctx, w: &Window, l: &Layout) {
    let mut drawn = std::collections::HashSet::new();
    let (mut sent, mut lost) = (Vec::new(), Vec::new());
    let first = w.flow_ends.partition_point(|e| (e.ts as f64) < l.t0);
    'ends: for e in &w.flow_ends[first..] {
        let Some(y1) = l.row_y(e.lane) else { continue };
        let x1 = l.x(e.ts as f64);
        for b in &w.broadcasts[e.from as usize..e.to as usize] {
            if b.ts as f64 > l.t1 {
                break;
            }
            if b.echo && b.lane != Some(e.lane) {
                continue;
            }
            // A sender with no row: the flow comes down from the top of the lanes.
            let y0 = b.lane.and_then(|s| l.row_y(s)).map_or(AXIS_H + LOOP_H, |y| y + ROW_H / 2.0);
            let x0 = l.x(b.ts as f64);
            if drawn.insert((x0 as i32, y0 as i32, x1 as i32, y1 as i32)) {
                (if e.closed { &mut lost } else { &mut sent }).push((x0, y0, x1, y1 + ROW_H / 2.0));
                if drawn.len() >= MAX_FLOW_LINES {
                    break 'ends;
                }
            }
        }
    }
    ctx.set_line_width(1.0);
    ctx.set_global_alpha(0.55);
    for (lines, color) in [(sent, FAN), (lost, ERROR)] {
        ctx.set_stroke_style_str(color);
        ctx.begin_path();
        for (x0, y0, x1, y1) in lines {
            ctx.move_to(x0, y0);
            ctx.line_to(x1, y1);
        }
        ctx.stroke();
    }
    ctx.set_global_alpha(1.0);
}

/// The cursor line; between the window's last event and it (live, the newest events wait for
/// the next build), a faint band.
fn cursor(ctx: &Ctx, w: &Window, l: &Layout, cursor_ts: u64, height: f64) {
    let x = l.x(cursor_ts as f64);
    if cursor_ts > w.end_ts {
        let x0 = l.x(w.end_ts as f64);
        ctx.set_fill_style_str(LINE);
        ctx.set_global_alpha(0.35);
        ctx.fill_rect(x0, AXIS_H, x - x0, height - AXIS_H);
        ctx.set_global_alpha(1.0);
    }
    ctx.set_fill_style_str(TEXT);
    ctx.fill_rect(x.round() - 1.0, 0.0, 2.0, height);
}

/// The gutter: a label per lane (fd, name, role, in the role's colour; dim once closed; ↻ for a
/// reused fd number), and over them what is hidden.
fn labels(ctx: &Ctx, w: &Window, l: &Layout, height: f64, lang: Lang) {
    ctx.set_fill_style_str(BG);
    ctx.fill_rect(0.0, 0.0, GUTTER, height);
    ctx.set_fill_style_str(READY);
    let _ = ctx.fill_text(Ui::LoopLane.t(lang), 6.0, AXIS_H + LOOP_H / 2.0);
    for (r, &id) in l.rows.iter().enumerate() {
        let lane = &w.lanes[id as usize];
        let again = if lane.generation > 0 { "↻" } else { "" };
        // As the stage's `data-role` says it.
        let role = crate::dots::role_class(lane.role);
        let text = short(&format!("{}{again}{} · {role}", lane.fd, name_after_fd(lane)), 26);
        ctx.set_fill_style_str(if lane.closed.is_some() { DIM } else { role_color(lane.role) });
        let _ = ctx.fill_text(&text, 6.0, AXIS_H + LOOP_H + r as f64 * ROW_H + ROW_H / 2.0);
    }
    let note = crate::text::canvas_note(l.hidden, w.cut, lang);
    if !note.is_empty() {
        ctx.set_fill_style_str(DIM);
        let _ = ctx.fill_text(&note.join(" · "), 6.0, AXIS_H / 2.0);
    }
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
