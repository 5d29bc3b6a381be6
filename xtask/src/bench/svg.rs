//! `docs/models.svg`, written by hand: three panels against connections (log x), one line per
//! IO model: fan-out p50 (with the kernel floor), blast deliveries/s, and the chat threads'
//! context switches/s. A model the server refused, or one with nothing to plot, is a cross on
//! the panel's bottom edge at that N; a point where the server cut receivers or stalled is hollow.

use serde_json::Value;
use std::fmt::Write;

const W: f64 = 1260.0;
const H: f64 = 530.0;
const PANEL_W: f64 = 330.0;
const PANEL_H: f64 = 290.0;
const TOP: f64 = 100.0;
const LEFT: f64 = 78.0;
const GAP: f64 = 92.0;

/// The models in the order the legend lists them, and their colours.
const MODELS: [(&str, &str); 8] = [
    ("blocking", "#d62728"),
    ("nonblocking", "#ff7f0e"),
    ("select", "#8c564b"),
    ("poll", "#e377c2"),
    ("epoll", "#1f77b4"),
    ("epoll-et", "#17becf"),
    ("sigio", "#9a9a1a"),
    ("io_uring", "#2ca02c"),
];

struct Panel {
    title: &'static str,
    key: &'static str,
    unit: fn(f64) -> String,
}

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn ms(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v} ms")
    }
}

pub(super) fn per_sec(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{:.0} M/s", v / 1e6),
        v if v >= 1e3 => format!("{:.0} k/s", v / 1e3),
        v => format!("{v:.0}/s"),
    }
}

/// The plot for the rows `muxscope bench models` printed.
pub fn plot(rows: &[Value], subtitle: &str) -> String {
    let models: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "model" && r["pass"] == 1).collect();
    let floors: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "floor").collect();
    let mut sizes: Vec<f64> = rows.iter().filter_map(|r| r["clients"].as_f64()).filter(|n| *n > 0.0).collect();
    sizes.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    sizes.dedup();
    let (x0, x1) = match (sizes.first(), sizes.last()) {
        (Some(a), Some(b)) => (a.log10() - 0.2, b.log10() + 0.2),
        _ => (0.8, 4.2),
    };
    let panels = [
        Panel { title: "fan-out p50: one 64 B line to all N", key: "fanout_p50_ms", unit: ms },
        Panel { title: "blast: deliveries/s, 4 senders", key: "deliveries_per_sec", unit: per_sec },
        Panel { title: "chat threads' context switches/s (blast)", key: "chat_ctx_per_sec", unit: per_sec },
    ];
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="28" font-size="17" font-weight="bold">Where does a thread per connection stop paying? Every IO model on the same N connections</text>
<text x="{LEFT}" y="50" fill="#555">{}</text>
<text x="{LEFT}" y="66" fill="#555">One server per N; the same N idle clients handed from model to model live (POST /api/model). Log scales. Left: lower is better; middle: higher is better.</text>
"##,
        esc(subtitle)
    );
    for (i, p) in panels.iter().enumerate() {
        let left = LEFT + i as f64 * (PANEL_W + GAP);
        let value = |r: &Value| r[p.key].as_f64().filter(|v| v.is_finite() && *v > 0.0 && r["status"] == "ok");
        let mut all: Vec<f64> = models.iter().filter_map(|r| value(r)).collect();
        if i == 0 {
            all.extend(floors.iter().filter_map(|r| r["p50_ms"].as_f64()).filter(|v| *v > 0.0));
        }
        let lo = all.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = all.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let (y0, y1) = if lo.is_finite() { (lo.log10().floor(), hi.log10().ceil().max(lo.log10().floor() + 1.0)) } else { (0.0, 1.0) };
        let px = |n: f64| left + (n.log10() - x0) / (x1 - x0) * PANEL_W;
        let py = |v: f64| TOP + PANEL_H - (v.log10() - y0) / (y1 - y0) * PANEL_H;
        let _ = writeln!(s, r##"<text x="{left}" y="{}" font-size="13" font-weight="bold">{}</text>"##, TOP - 10.0, esc(p.title));
        let _ = writeln!(s, r##"<rect x="{left}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#999"/>"##);
        // Decades on y, the measured sizes on x.
        let mut d = y0;
        while d <= y1 + 1e-9 {
            y_grid(&mut s, left, PANEL_W, py(10f64.powf(d)), &(p.unit)(10f64.powf(d)));
            d += 1.0;
        }
        for &n in &sizes {
            x_grid(&mut s, px(n), TOP, PANEL_H, &super::models::thousands(n as u64));
        }
        x_caption(&mut s, left + PANEL_W / 2.0, TOP + PANEL_H, "connections (N idle clients)");
        if i == 0 {
            let pts: Vec<(f64, f64)> =
                floors.iter().filter_map(|r| Some((r["clients"].as_f64()?, r["p50_ms"].as_f64().filter(|v| *v > 0.0)?))).collect();
            polyline(&mut s, &pts.iter().map(|&(n, v)| (px(n), py(v), false)).collect::<Vec<_>>(), "#000", 1.5, Some("5,4"));
        }
        // Crosses at the same N stack upwards.
        let mut crosses: Vec<u64> = vec![];
        for (name, colour) in MODELS {
            let mine: Vec<&&Value> = models.iter().filter(|r| r["model"] == name).collect();
            let mut run: Vec<(f64, f64, bool)> = vec![];
            for r in &mine {
                let Some(n) = r["clients"].as_f64() else { continue };
                match value(r) {
                    Some(v) => run.push((px(n), py(v), troubled(r))),
                    None => {
                        polyline(&mut s, &run, colour, if name == "blocking" { 3.0 } else { 1.8 }, None);
                        run.clear();
                        let below = crosses.iter().filter(|&&c| c == n as u64).count();
                        crosses.push(n as u64);
                        cross(&mut s, px(n), TOP + PANEL_H - 7.0 - 13.0 * below as f64, colour);
                    }
                }
            }
            polyline(&mut s, &run, colour, if name == "blocking" { 3.0 } else { 1.8 }, None);
        }
    }
    // The legend.
    let y = TOP + PANEL_H + 62.0;
    let mut x = LEFT;
    for (name, colour) in MODELS {
        let width = if name == "blocking" { 3.0 } else { 2.0 };
        let _ = writeln!(
            s,
            r##"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{colour}" stroke-width="{width}"/><circle cx="{}" cy="{y}" r="3" fill="{colour}"/><text x="{}" y="{}">{name}</text>"##,
            x + 24.0,
            x + 12.0,
            x + 30.0,
            y + 4.0
        );
        x += 40.0 + name.len() as f64 * 7.5;
    }
    let _ = writeln!(
        s,
        r##"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="#000" stroke-dasharray="5,4" stroke-width="1.5"/><text x="{}" y="{}">kernel floor</text>"##,
        x + 24.0,
        x + 30.0,
        y + 4.0
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="{}" fill="#555">× at a panel's bottom: refused by the server (409: blocking past --max-threads, select past FD_SETSIZE), or nothing to plot there</text>
<text x="{LEFT}" y="{}" fill="#555">(no context switches). Hollow dot: the server cut receivers or stalled in that blast. BENCHMARKS.md (h) has every row, epoll's second pass and the notes.</text>"##,
        y + 28.0,
        y + 44.0
    );
    s.push_str("</svg>\n");
    s
}

/// A horizontal grid line across a panel at `y`, labelled at the panel's left edge.
pub(super) fn y_grid(s: &mut String, left: f64, width: f64, y: f64, label: &str) {
    let _ = writeln!(
        s,
        r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444">{}</text>"##,
        left + width,
        left - 5.0,
        y + 4.0,
        esc(label)
    );
}

/// A vertical grid line down a panel (from `top`, `height` tall) at `x`, labelled under it.
pub(super) fn x_grid(s: &mut String, x: f64, top: f64, height: f64, label: &str) {
    let _ = writeln!(
        s,
        r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="#e4e4e4"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#444">{}</text>"##,
        top + height,
        top + height + 16.0,
        esc(label)
    );
}

/// The x axis's caption, centred at `cx` under the labels of a panel whose bottom is `bottom`.
pub(super) fn x_caption(s: &mut String, cx: f64, bottom: f64, text: &str) {
    let _ = writeln!(s, r##"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" fill="#444">{}</text>"##, bottom + 34.0, esc(text));
}

/// The server cut receivers or stalled during this row's blast: its point is drawn hollow.
fn troubled(r: &Value) -> bool {
    r["receivers_cut"].as_u64().unwrap_or(0) > 0 || r["note"].as_str().is_some_and(|n| n.contains("stall"))
}

/// A line through `pts` (x, y, hollow), with a dot on each unless dashed.
pub(super) fn polyline(s: &mut String, pts: &[(f64, f64, bool)], colour: &str, width: f64, dash: Option<&str>) {
    if pts.is_empty() {
        return;
    }
    let path: Vec<String> = pts.iter().map(|(x, y, _)| format!("{x:.1},{y:.1}")).collect();
    let dash = dash.map(|d| format!(r#" stroke-dasharray="{d}""#)).unwrap_or_default();
    let _ = writeln!(s, r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="{width}"{dash}/>"#, path.join(" "));
    if dash.is_empty() {
        for (x, y, hollow) in pts {
            if *hollow {
                let _ = writeln!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="4.5" fill="white" stroke="{colour}" stroke-width="2"/>"#);
            } else {
                let _ = writeln!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{colour}"/>"#);
            }
        }
    }
}

fn cross(s: &mut String, x: f64, y: f64, colour: &str) {
    let r = 5.0;
    let _ = writeln!(
        s,
        r#"<path d="M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}" stroke="{colour}" stroke-width="2.2"/>"#,
        x - r,
        y - r,
        x + r,
        y + r,
        x - r,
        y + r,
        x + r,
        y - r
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_line_per_model_and_crosses_for_refusals() {
        let mut rows = vec![];
        for (i, n) in [10u64, 100, 1000, 10000].into_iter().enumerate() {
            rows.push(json!({"kind": "floor", "clients": n, "p50_ms": 0.01 * n as f64}));
            for (name, _) in MODELS {
                let refused = n == 10000 && (name == "blocking" || name == "select");
                rows.push(json!({
                    "kind": "model", "clients": n, "model": name, "pass": 1,
                    "status": if refused { "refused" } else { "ok" },
                    "fanout_p50_ms": if refused { None } else { Some(0.012 * n as f64) },
                    "deliveries_per_sec": if refused { None } else { Some(5e7 / (i + 1) as f64) },
                    "chat_ctx_per_sec": if refused { None } else { Some(if name == "blocking" { 9000.0 } else { 50.0 }) },
                }));
            }
        }
        let svg = plot(&rows, "test & run");
        std::fs::write(std::env::temp_dir().join("muxscope-models-test.svg"), &svg).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("test &amp; run"));
        // Three panels: every model's line in each, the floor once, two refusals in each.
        assert_eq!(svg.matches("<polyline").count(), 3 * MODELS.len() + 1);
        assert_eq!(svg.matches("<path d=").count(), 3 * 2);
    }
}
