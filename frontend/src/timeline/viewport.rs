//! Where things are on the timeline's canvas: which time range is visible (zoom, pan, follow the
//! cursor), which lanes get a row, the time axis, and what lies under the pointer. Pure (CSS
//! pixels and nanoseconds), so it is tested natively; the canvas only paints it.

use super::lanes::{Lane, LaneId, MarkKind, SliceKind, Window};
use crate::i18n::Lang;

/// The label column on the left.
pub const GUTTER: f64 = 176.0;
/// The time axis at the top.
pub const AXIS_H: f64 = 18.0;
/// The loop's own lane, under the axis.
pub const LOOP_H: f64 = 22.0;
/// One fd lane.
pub const ROW_H: f64 = 15.0;
/// The canvas's height: ten fd lanes. Fixed, so lanes coming and going never move the page, and
/// small, so the stage above keeps most of the room.
pub const HEIGHT: f64 = 192.0;
/// Narrowest visible span: a few syscalls.
pub const MIN_SPAN_NS: f64 = 2_000.0;
/// While following, the cursor sits this far across the plot (the recent past on its left).
pub const FOLLOW_AT: f64 = 0.85;
/// A click or hover this close to a mark (px) is on it.
pub const HIT_PX: f64 = 5.0;

/// The visible time range. Both `None`: the whole window, following the cursor.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Viewport {
    /// Set by zooming.
    pub span_ns: Option<f64>,
    /// Set by panning or zooming at a point: the view stays put while the cursor moves.
    pub left_ts: Option<f64>,
}

impl Viewport {
    /// The visible `[t0, t1]` in ns.
    pub fn range(&self, w: &Window, cursor_ts: u64) -> (f64, f64) {
        let (start, end) = (w.start_ts as f64, w.end_ts.max(cursor_ts) as f64);
        let span = self.span_ns.unwrap_or(((end - start) / 0.97).max(MIN_SPAN_NS));
        let t0 = match (self.left_ts, self.span_ns) {
            (Some(t0), _) => t0,
            (None, None) => start,
            (None, Some(_)) => cursor_ts as f64 - FOLLOW_AT * span,
        };
        (t0, t0 + span)
    }

    pub fn following(&self) -> bool {
        self.left_ts.is_none()
    }

    /// Zooms by `factor` (< 1 zooms in) about the point `at` (0..1 across the plot); about the
    /// cursor, still following it, when `at` is `None` and the view follows.
    pub fn zoom(&mut self, factor: f64, at: Option<f64>, w: &Window, cursor_ts: u64) {
        let (t0, t1) = self.range(w, cursor_ts);
        let widest = ((w.end_ts.max(cursor_ts) - w.start_ts) as f64 * 4.0).max(MIN_SPAN_NS * 10.0);
        let span = ((t1 - t0) * factor).clamp(MIN_SPAN_NS, widest);
        match (at, self.left_ts) {
            (None, None) => {}
            (at, _) => {
                let at = at.unwrap_or(0.5);
                let t_at = t0 + at * (t1 - t0);
                self.left_ts = Some(t_at - at * span);
            }
        }
        self.span_ns = Some(span);
    }

    /// Drags the view by `dx` CSS pixels of a plot `plot_w` wide (it stops following).
    pub fn pan(&mut self, dx: f64, plot_w: f64, w: &Window, cursor_ts: u64) {
        let (t0, t1) = self.range(w, cursor_ts);
        self.span_ns = Some(t1 - t0);
        self.left_ts = Some(t0 - dx / plot_w.max(1.0) * (t1 - t0));
    }
}

/// The lanes that get a row in a canvas `height` high, and where everything is.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub width: f64,
    /// The window's most active lanes that fit, shown in fd order (so they hold still).
    pub rows: Vec<LaneId>,
    /// Lane id → its row.
    row_of: Vec<Option<u16>>,
    /// Lanes with no row: left out by the window's cap or by the height.
    pub hidden: usize,
    pub t0: f64,
    pub t1: f64,
}

/// What lies under the pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    Mark {
        lane: LaneId,
        index: u64,
        ts: u64,
        kind: MarkKind,
    },
    LoopMark {
        index: u64,
        ts: u64,
        kind: MarkKind,
    },
    Slice {
        index: u64,
        start: u64,
        end: u64,
        kind: SliceKind,
    },
    /// Between marks: the last event at or before that time.
    Time {
        index: u64,
        ts: u64,
    },
}

impl Hit {
    /// The event a click seeks to.
    pub fn index(&self) -> u64 {
        match *self {
            Hit::Mark { index, .. } | Hit::LoopMark { index, .. } | Hit::Slice { index, .. } | Hit::Time { index, .. } => index,
        }
    }
}

impl Layout {
    pub fn new(w: &Window, view: &Viewport, cursor_ts: u64, width: f64, height: f64) -> Layout {
        let fit = ((height - AXIS_H - LOOP_H) / ROW_H).floor().max(0.0) as usize;
        let mut rows: Vec<LaneId> = (0..w.lanes.len().min(fit) as LaneId).collect();
        rows.sort_by_key(|&id| (w.lanes[id as usize].fd, w.lanes[id as usize].generation));
        let mut row_of = vec![None; w.lanes.len()];
        for (r, &id) in rows.iter().enumerate() {
            row_of[id as usize] = Some(r as u16);
        }
        let hidden = w.hidden + (w.lanes.len() - rows.len());
        let (t0, t1) = view.range(w, cursor_ts);
        Layout { width, rows, row_of, hidden, t0, t1 }
    }

    pub fn plot_w(&self) -> f64 {
        (self.width - GUTTER).max(1.0)
    }

    /// The x of a time (CSS px; outside the plot when the time is not visible).
    pub fn x(&self, ts: f64) -> f64 {
        GUTTER + (ts - self.t0) / (self.t1 - self.t0) * self.plot_w()
    }

    pub fn ts_at(&self, x: f64) -> f64 {
        self.t0 + (x - GUTTER) / self.plot_w() * (self.t1 - self.t0)
    }

    /// The top of a lane's row, if it has one.
    pub fn row_y(&self, lane: LaneId) -> Option<f64> {
        self.row_of.get(lane as usize).copied().flatten().map(|r| AXIS_H + LOOP_H + r as f64 * ROW_H)
    }

    /// What is at (x, y); `None` in the label column.
    pub fn hit(&self, w: &Window, x: f64, y: f64) -> Option<Hit> {
        if x < GUTTER {
            return None;
        }
        let ts = self.ts_at(x);
        let ns_per_px = (self.t1 - self.t0) / self.plot_w();
        let near = |t: u64| ((t as f64 - ts).abs() / ns_per_px) <= HIT_PX;
        let time = || w.index_at(ts.max(0.0) as u64).map(|index| Hit::Time { index, ts: ts.max(0.0) as u64 });
        if (AXIS_H..AXIS_H + LOOP_H).contains(&y) {
            let l = &w.loop_lane;
            if let Some(m) = nearest(&l.marks, ts, |m| m.ts).filter(|m| near(m.ts)) {
                return Some(Hit::LoopMark { index: m.index, ts: m.ts, kind: m.kind });
            }
            let i = l.slices.partition_point(|s| (s.end as f64) < ts - HIT_PX * ns_per_px);
            if let Some(s) = l.slices.get(i).filter(|s| s.start as f64 - HIT_PX * ns_per_px <= ts) {
                return Some(Hit::Slice { index: s.index, start: s.start, end: s.end, kind: s.kind });
            }
            return time();
        }
        let row = ((y - AXIS_H - LOOP_H) / ROW_H).floor();
        if let Some(&lane) = (row >= 0.0).then(|| self.rows.get(row as usize)).flatten() {
            if let Some(m) = nearest(&w.lanes[lane as usize].marks, ts, |m| m.ts).filter(|m| near(m.ts)) {
                return Some(Hit::Mark { lane, index: m.index, ts: m.ts, kind: m.kind });
            }
        }
        time()
    }
}

/// The item of a time-sorted slice nearest to `ts`.
pub fn nearest<T>(items: &[T], ts: f64, at: impl Fn(&T) -> u64) -> Option<&T> {
    let i = items.partition_point(|m| (at(m) as f64) < ts);
    let after = items.get(i);
    let before = i.checked_sub(1).and_then(|j| items.get(j));
    match (before, after) {
        (Some(b), Some(a)) => Some(if ts - at(b) as f64 <= at(a) as f64 - ts { b } else { a }),
        (b, a) => b.or(a),
    }
}

/// Time-axis ticks for `[t0, t1]`: a round step (1, 2 or 5 × 10^k ns) giving at most
/// `max_ticks`, each with its label in seconds since the server started, to the step's precision.
pub fn ticks(t0: f64, t1: f64, max_ticks: usize) -> Vec<(f64, String)> {
    let span = (t1 - t0).max(1.0);
    let raw = span / max_ticks.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let decimals = (9.0 - step.log10().floor()).max(0.0) as usize;
    let mut t = (t0 / step).ceil() * step;
    let mut out = Vec::new();
    while t <= t1 && out.len() <= max_ticks {
        out.push((t, format!("{:.*} s", decimals, t / 1e9)));
        t += step;
    }
    out
}

/// A lane's name as said after its fd number: nothing when it has none of its own (empty, or the
/// table's "fd N").
pub fn name_after_fd(l: &Lane) -> String {
    if l.name.is_empty() || l.name == format!("fd {}", l.fd) {
        String::new()
    } else {
        format!(" {}", l.name)
    }
}

/// The line under the canvas for what the pointer is on, in `lang` (syscalls keep their names).
pub fn describe(hit: &Hit, w: &Window, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let secs = |ts: u64| format!("{:.6} s", ts as f64 / 1e9);
    let event = |index: u64| if zh { format!("第 {index} 个事件") } else { format!("event {index}") };
    let lp = if zh { "循环" } else { "loop" };
    match *hit {
        Hit::Mark { lane, index, ts, kind } => {
            let l = &w.lanes[lane as usize];
            let what = match (kind, zh) {
                (MarkKind::Recv, _) => "recv".to_string(),
                (MarkKind::RecvEmpty, _) => "recv → EAGAIN".to_string(),
                (MarkKind::Send, _) => "send".to_string(),
                (MarkKind::Ctl(op), _) => format!("ctl {}", format!("{op:?}").to_ascii_lowercase()),
                (MarkKind::Accept, _) => "accept".to_string(),
                (MarkKind::Close, _) => "close".to_string(),
                (MarkKind::Broadcast, false) => "broadcast".to_string(),
                (MarkKind::Broadcast, true) => "广播".to_string(),
                (MarkKind::Gap, false) => "gap".to_string(),
                (MarkKind::Gap, true) => "缺口".to_string(),
                (MarkKind::Switch, false) => "model switch".to_string(),
                (MarkKind::Switch, true) => "切换模型".to_string(),
            };
            format!("fd {}{} · {what} · {} · {}", l.fd, name_after_fd(l), event(index), secs(ts))
        }
        Hit::LoopMark { index, ts, kind } => {
            let what = match (kind == MarkKind::Gap, zh) {
                (true, false) => "events not seen (gap)",
                (false, false) => "model switch",
                (true, true) => "没看到的事件（缺口）",
                (false, true) => "切换模型",
            };
            format!("{lp} · {what} · {} · {}", event(index), secs(ts))
        }
        Hit::Slice { index, start, end, kind } => {
            let what = match (kind, zh) {
                (SliceKind::Wait { ready }, false) => format!("waited, then {ready} ready"),
                (SliceKind::Wait { ready }, true) => format!("等待后 {ready} 个就绪"),
                (SliceKind::Uring, false) => "io_uring_enter blocked".to_string(),
                (SliceKind::Uring, true) => "io_uring_enter 阻塞".to_string(),
                (SliceKind::Sleep, false) => "napped after an empty sweep".to_string(),
                (SliceKind::Sleep, true) => "一轮轮询落空后小睡".to_string(),
            };
            format!("{lp} · {what} · {:.3} ms · {} · {}", (end - start) as f64 / 1e6, event(index), secs(end))
        }
        Hit::Time { index, ts } => format!("{} · {}", secs(ts), event(index)),
    }
}
