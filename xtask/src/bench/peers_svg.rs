//! `docs/peers.svg`, written by hand from one run of (a) and (b): muxscope against the seed,
//! Redis pub/sub and NATS. Left, fan-out p50 divided by N (the time per recipient) against N,
//! with the kernel floor dashed; right, blast deliveries/s as bars on a log scale. Lower is better
//! on the left, longer on the right.

use super::svg::{esc, per_sec, polyline, x_caption, x_grid, y_grid};
use std::fmt::Write;

const W: f64 = 1000.0;
const H: f64 = 470.0;
const TOP: f64 = 96.0;
const LEFT: f64 = 78.0;
const PANEL_H: f64 = 290.0;
const FAN_W: f64 = 380.0;
const BAR_LEFT: f64 = 640.0;
const BAR_W: f64 = 320.0;

/// The servers in legend order, by the name (a) and (b) print, and their colours.
const SERVERS: [(&str, &str); 4] =
    [("muxscope", "#1f77b4"), ("seed (Python selectors)", "#8c564b"), ("Redis pub/sub", "#d62728"), ("NATS", "#2ca02c")];

/// One run's numbers: fan-out `(server, N, p50 ms)` with the floor as server `"floor"`, and the
/// blast's median deliveries/s per server.
pub struct Peers {
    pub fanout: Vec<(String, f64, f64)>,
    pub blast: Vec<(String, f64)>,
}

fn colour(name: &str) -> &'static str {
    SERVERS.iter().find(|s| s.0 == name).map_or("#777", |s| s.1)
}

/// Decades of `values` as (low, high) exponents, at least one decade apart.
fn decades(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.filter(|v| v.is_finite() && *v > 0.0).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let (a, b) = (lo.log10().floor(), hi.log10().ceil());
    (a, b.max(a + 1.0))
}

pub fn plot(p: &Peers, subtitle: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="28" font-size="17" font-weight="bold">muxscope against the seed, Redis pub/sub and NATS, in one run</text>
<text x="{LEFT}" y="50" fill="#555">{}</text>
<text x="{LEFT}" y="66" fill="#555">Loopback, 2 cores, the same load generator for every server (muxscope bench). Left: lower is better; right: longer is better (log scale).</text>
"##,
        esc(subtitle)
    );
    fanout_panel(&mut s, &p.fanout);
    blast_panel(&mut s, &p.blast);
    s.push_str("</svg>\n");
    s
}

fn fanout_panel(s: &mut String, rows: &[(String, f64, f64)]) {
    // Time per recipient: a decade of N on one panel hides the differences a log scale of the
    // totals would, and the floor's 9,000 is comparable with the others' 10,000.
    let per = |r: &(String, f64, f64)| r.2 * 1000.0 / r.1;
    let mut sizes: Vec<f64> = rows.iter().filter(|r| r.0 != "floor").map(|r| r.1).collect();
    sizes.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    sizes.dedup();
    let (x0, x1) = match (sizes.first(), sizes.last()) {
        (Some(a), Some(b)) => (a.log10() - 0.15, b.log10() + 0.15),
        _ => (2.8, 4.2),
    };
    let top = rows.iter().map(per).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let y1 = ((top / 5.0).ceil() * 5.0).max(5.0);
    let px = |n: f64| LEFT + (n.log10() - x0) / (x1 - x0) * FAN_W;
    let py = |v: f64| TOP + PANEL_H - v / y1 * PANEL_H;
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="{}" font-size="13" font-weight="bold">(a) fan-out p50 ÷ N: time per recipient, one 64 B message</text>"##,
        TOP - 10.0
    );
    let _ = writeln!(s, r##"<rect x="{LEFT}" y="{TOP}" width="{FAN_W}" height="{PANEL_H}" fill="none" stroke="#999"/>"##);
    let mut v = 0.0;
    while v <= y1 + 1e-9 {
        y_grid(s, LEFT, FAN_W, py(v), &format!("{v:.0} µs"));
        v += 5.0;
    }
    for &n in &sizes {
        x_grid(s, px(n), TOP, PANEL_H, &super::models::thousands(n as u64));
    }
    x_caption(s, LEFT + FAN_W / 2.0, TOP + PANEL_H, "N idle clients (the floor stops at 9,000)");
    let line = |s: &mut String, name: &str, colour: &str, width: f64, dash: Option<&str>| {
        let pts: Vec<(f64, f64, bool)> = rows.iter().filter(|r| r.0 == name && r.2 > 0.0).map(|r| (px(r.1), py(per(r)), false)).collect();
        polyline(s, &pts, colour, width, dash);
    };
    line(s, "floor", "#000", 1.5, Some("5,4"));
    for (name, c) in SERVERS {
        line(s, name, c, if name == "muxscope" { 3.0 } else { 1.8 }, None);
    }
    // The legend, under the panel.
    let mut y = TOP + PANEL_H + 58.0;
    for (i, (name, c)) in SERVERS.iter().chain([("kernel floor", "#000")].iter()).enumerate() {
        let x = LEFT + (i % 3) as f64 * 130.0;
        if i == 3 {
            y += 18.0;
        }
        let dash = if *name == "kernel floor" { r#" stroke-dasharray="5,4""# } else { "" };
        let label = name.split(" (").next().unwrap_or(name);
        let _ = writeln!(
            s,
            r##"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{c}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"##,
            x + 24.0,
            x + 30.0,
            y + 4.0,
            esc(label)
        );
    }
}

fn blast_panel(s: &mut String, bars: &[(String, f64)]) {
    let (x0, x1) = decades(bars.iter().map(|b| b.1));
    let px = |v: f64| BAR_LEFT + (v.log10() - x0) / (x1 - x0) * BAR_W;
    let _ = writeln!(
        s,
        r##"<text x="{BAR_LEFT}" y="{}" font-size="13" font-weight="bold">(b) blast: deliveries/s, 1,000 clients, 4 senders</text>"##,
        TOP - 10.0
    );
    let _ = writeln!(s, r##"<rect x="{BAR_LEFT}" y="{TOP}" width="{BAR_W}" height="{PANEL_H}" fill="none" stroke="#999"/>"##);
    let mut d = x0;
    while d <= x1 + 1e-9 {
        x_grid(s, px(10f64.powf(d)), TOP, PANEL_H, &per_sec(10f64.powf(d)));
        d += 1.0;
    }
    let step = PANEL_H / (bars.len().max(1) as f64);
    for (i, (name, v)) in bars.iter().enumerate() {
        let y = TOP + i as f64 * step + step * 0.2;
        let h = step * 0.6;
        let w = (px(*v) - BAR_LEFT).max(1.0);
        let _ = writeln!(
            s,
            r##"<rect x="{BAR_LEFT}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" fill="#222">{} · {:.2} M/s</text>"##,
            colour(name),
            BAR_LEFT + 6.0,
            y - 4.0,
            esc(name),
            v / 1e6
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_per_server_and_the_floor_and_a_bar_each() {
        let mut fanout = vec![];
        for n in [1000.0f64, 5000.0, 10000.0] {
            fanout.push(("floor".to_string(), n.min(9000.0), n.min(9000.0) / 100.0));
            for (i, (name, _)) in SERVERS.iter().enumerate() {
                fanout.push((name.to_string(), n, n / (90.0 - 10.0 * i as f64)));
            }
        }
        let blast = SERVERS.iter().enumerate().map(|(i, (n, _))| (n.to_string(), 5e7 / (i + 1) as f64)).collect();
        let svg = plot(&Peers { fanout, blast }, "run <1>");
        std::fs::write(std::env::temp_dir().join("muxscope-peers-test.svg"), &svg).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("run &lt;1&gt;"));
        assert_eq!(svg.matches("<polyline").count(), SERVERS.len() + 1);
        assert_eq!(svg.matches(r#"<rect x="640""#).count(), 1 + SERVERS.len(), "the panel's frame and a bar per server");
        assert!(svg.contains("NATS · 12.50 M/s"));
    }
}
