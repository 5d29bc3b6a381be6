//! The view's arithmetic: what is visible, which lanes get rows, what a click hits, and which
//! stretch of history is shown.

use super::feed::window_range;
use super::lanes::{Lane, Mark, MarkKind, SliceKind, Window, MAX_WINDOW_EVENTS};
use super::viewport::{describe, ticks, Hit, Layout, Viewport, AXIS_H, GUTTER, LOOP_H, ROW_H};
use crate::i18n::Lang;
use muxscope_shared::Role;

/// A window from 1 ms to 2 ms with `n` lanes; lane k (fd 20 − k) has k + 1 marks at 1.5 ms.
fn window(n: usize) -> Window {
    let lanes = (0..n)
        .map(|k| Lane {
            fd: 20 - k as i32,
            generation: 0,
            role: Role::Tcp,
            name: "c".into(),
            opened: None,
            closed: None,
            marks: vec![Mark { ts: 1_500_000, index: 7 + k as u64, kind: MarkKind::Recv }; k + 1],
        })
        .collect();
    Window { start_ts: 1_000_000, end_ts: 2_000_000, lanes, times: vec![(1_000_000, 1), (1_500_000, 7)], ..Window::default() }
}

#[test]
fn the_default_view_fits_the_window_and_zooming_follows_the_cursor() {
    let w = window(1);
    let v = Viewport::default();
    let (t0, t1) = v.range(&w, 2_000_000);
    assert_eq!(t0, 1_000_000.0);
    assert!(t1 > 2_000_000.0 && t1 < 2_050_000.0, "{t1}");
    let mut v = Viewport::default();
    v.zoom(0.5, None, &w, 2_000_000);
    assert!(v.following());
    let (t0, t1) = v.range(&w, 1_800_000);
    assert!((t0 + 0.85 * (t1 - t0) - 1_800_000.0).abs() < 1.0, "the cursor stays at 85 %");
    // Zooming at a point keeps that point under the pointer, and stops following.
    let mut v = Viewport::default();
    let (a0, a1) = v.range(&w, 2_000_000);
    v.zoom(0.25, Some(0.5), &w, 2_000_000);
    let (b0, b1) = v.range(&w, 9_000_000);
    assert!(((a0 + a1) / 2.0 - (b0 + b1) / 2.0).abs() < 1.0);
    assert!(((b1 - b0) - (a1 - a0) / 4.0).abs() < 1.0);
    assert!(!v.following());
}

#[test]
fn panning_moves_time_with_the_pointer_and_zoom_is_bounded() {
    let w = window(1);
    let mut v = Viewport::default();
    let (a0, a1) = v.range(&w, 2_000_000);
    v.pan(100.0, 1000.0, &w, 2_000_000);
    let (b0, b1) = v.range(&w, 2_000_000);
    assert!((b0 - (a0 - (a1 - a0) / 10.0)).abs() < 1.0, "dragging right shows earlier times");
    assert!(((b1 - b0) - (a1 - a0)).abs() < 1.0);
    for _ in 0..100 {
        v.zoom(0.1, None, &w, 2_000_000);
    }
    let (c0, c1) = v.range(&w, 2_000_000);
    assert_eq!(c1 - c0, super::viewport::MIN_SPAN_NS);
    for _ in 0..100 {
        v.zoom(10.0, None, &w, 2_000_000);
    }
    let (d0, d1) = v.range(&w, 2_000_000);
    assert!(d1 - d0 <= 4_000_000.0 + 1.0);
}

#[test]
fn the_most_active_lanes_that_fit_get_rows_in_fd_order() {
    // Lanes come most active first (as `build_window` sorts them); here lane 0 is the busiest.
    let mut w = window(30);
    w.lanes.reverse();
    w.hidden = 5;
    let height = AXIS_H + LOOP_H + 10.0 * ROW_H + 3.0;
    let l = Layout::new(&w, &Viewport::default(), 2_000_000, 1176.0, height);
    assert_eq!(l.rows.len(), 10);
    let fds: Vec<i32> = l.rows.iter().map(|&id| w.lanes[id as usize].fd).collect();
    let mut sorted = fds.clone();
    sorted.sort();
    assert_eq!(fds, sorted);
    assert_eq!(l.hidden, 5 + 20);
    assert_eq!(l.row_y(l.rows[0]), Some(AXIS_H + LOOP_H));
    assert_eq!(l.row_y(29), None, "a lane with no row");
}

#[test]
fn a_click_hits_the_mark_under_it_or_the_event_before() {
    let w = window(2);
    let l = Layout::new(&w, &Viewport::default(), 2_000_000, GUTTER + 1000.0, 200.0);
    let x = l.x(1_500_000.0);
    let y = l.row_y(l.rows[0]).unwrap() + ROW_H / 2.0;
    let lane = l.rows[0];
    match l.hit(&w, x + 3.0, y) {
        Some(Hit::Mark { lane: hit, kind: MarkKind::Recv, index, .. }) => {
            assert_eq!(hit, lane);
            assert_eq!(index, w.lanes[lane as usize].marks[0].index);
        }
        other => panic!("{other:?}"),
    }
    // Far from any mark: the last event before that time.
    assert_eq!(l.hit(&w, l.x(1_400_000.0), y), Some(Hit::Time { index: 1, ts: 1_400_000 }));
    assert_eq!(l.hit(&w, 10.0, y), None, "the label column");
}

#[test]
fn ticks_are_round_and_labelled_to_their_precision() {
    let t = ticks(1_000_000_000.0, 1_001_000_000.0, 5);
    assert_eq!(t.first().map(|(_, s)| s.as_str()), Some("1.0000 s"));
    assert_eq!(t.get(1).map(|(_, s)| s.as_str()), Some("1.0002 s"));
    assert!(t.len() <= 6);
    assert_eq!(ticks(0.0, 10e9, 5).get(1).map(|(_, s)| s.as_str()), Some("2 s"));
}

#[test]
fn the_window_is_the_latest_events_live_and_stays_put_while_stepping() {
    let n = MAX_WINDOW_EVENTS as u64;
    assert_eq!(window_range(0, 100, 100, None), (0, 100));
    assert_eq!(window_range(0, 5 * n, 5 * n, None), (4 * n, 5 * n));
    let paused = window_range(0, 5 * n, 2 * n, None);
    assert_eq!(paused, (2 * n - n / 2, 2 * n + n / 2));
    // Stepping back and forth inside it keeps it; leaving its middle moves it.
    assert_eq!(window_range(0, 5 * n, 2 * n - 100, Some(paused)), paused);
    let moved = window_range(0, 5 * n, paused.0 + 10, Some(paused));
    assert_ne!(moved, paused);
    assert!(moved.0 <= paused.0 + 10 && paused.0 + 10 < moved.1);
    // Near the history's start the window starts there.
    assert_eq!(window_range(n, 5 * n, n + 5, None), (n, 2 * n));
}

#[test]
fn the_status_line_names_what_the_pointer_is_on() {
    let mut w = window(2);
    let hit = Hit::Mark { lane: 1, index: 8, ts: 1_500_000, kind: MarkKind::Recv };
    assert_eq!(describe(&hit, &w, Lang::En), "fd 19 c · recv · event 8 · 0.001500 s");
    assert_eq!(describe(&hit, &w, Lang::Zh), "fd 19 c · recv · 第 8 个事件 · 0.001500 s");
    // A connection the table never named is said by its number alone.
    w.lanes[1].name = String::new();
    assert_eq!(describe(&hit, &w, Lang::En), "fd 19 · recv · event 8 · 0.001500 s");
    w.lanes[1].name = "fd 19".into();
    assert_eq!(describe(&hit, &w, Lang::En), "fd 19 · recv · event 8 · 0.001500 s");
    // Every kind of hit, in both languages.
    let hits = [
        Hit::Mark { lane: 1, index: 8, ts: 1, kind: MarkKind::Broadcast },
        Hit::Mark { lane: 1, index: 8, ts: 1, kind: MarkKind::Gap },
        Hit::Mark { lane: 1, index: 8, ts: 1, kind: MarkKind::Switch },
        Hit::LoopMark { index: 3, ts: 1, kind: MarkKind::Gap },
        Hit::LoopMark { index: 3, ts: 1, kind: MarkKind::Switch },
        Hit::Slice { index: 3, start: 0, end: 5, kind: SliceKind::Wait { ready: 2 } },
        Hit::Slice { index: 3, start: 0, end: 5, kind: SliceKind::Uring },
        Hit::Slice { index: 3, start: 0, end: 5, kind: SliceKind::Sleep },
        Hit::Time { index: 3, ts: 1 },
    ];
    for hit in hits {
        let zh = describe(&hit, &w, Lang::Zh);
        assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{zh}");
        assert_ne!(zh, describe(&hit, &w, Lang::En));
    }
}
