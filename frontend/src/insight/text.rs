//! The warnings' and plots' words with values in them, in the page's language (the fixed ones
//! are [`Sight`] keys).

use super::plots::Plot;
use super::warnings::{Kind, Warning, BLOCKED_NS, CLIMB_NS, FD_SETSIZE};
use crate::i18n::{Lang, Sight};
use muxscope_shared::Model as IoModel;

/// A badge's short title.
pub fn title(kind: Kind) -> Sight {
    match kind {
        Kind::Blocked => Sight::Blocked,
        Kind::SlowConsumer => Sight::SlowConsumer,
        Kind::EtStarved => Sight::EtStarved,
        Kind::FdsClimbing => Sight::FdsClimbing,
        Kind::SelectNearLimit => Sight::SelectNearLimit,
    }
}

/// What the badge shows after its title: the fd, and the count when it happened more than once.
pub fn badge(w: &Warning, lang: Lang) -> String {
    let fd = w.fd.map(|fd| format!(" fd {fd}")).unwrap_or_default();
    let count = if w.count > 1 { format!(" ×{}", w.count) } else { String::new() };
    format!("{}{fd}{count}", title(w.kind).t(lang))
}

/// The explanation (the badge's tooltip and its expanded text).
pub fn explain(w: &Warning, lang: Lang) -> String {
    let fd = |zh: bool| match (w.fd, &w.name, zh) {
        (Some(fd), Some(n), _) => format!("fd {fd} ({n})"),
        (Some(fd), None, _) => format!("fd {fd}"),
        (None, _, false) => "no fd".to_string(),
        (None, _, true) => "没有哪个 fd".to_string(),
    };
    let limit_ms = BLOCKED_NS / 1_000_000;
    let climb_s = CLIMB_NS / 1_000_000_000;
    match (w.kind, lang) {
        (Kind::Blocked, Lang::En) => format!(
            "A turn of the loop took {} ms between one wait and the next (over {limit_ms} ms): every other client waited that long. Busiest: {}.",
            w.value,
            fd(false)
        ),
        (Kind::Blocked, Lang::Zh) => format!(
            "事件循环的一轮（两次等待之间）用了 {} 毫秒（超过 {limit_ms} 毫秒）：其他所有客户端都等了这么久。最忙的是 {}。",
            w.value,
            fd(true)
        ),
        (Kind::SlowConsumer, Lang::En) => format!(
            "{} read too slowly: its output queue passed the {} limit, so the loop closed it rather than hold more for it.",
            fd(false),
            if w.value == 0 { "hard" } else { "soft" }
        ),
        (Kind::SlowConsumer, Lang::Zh) => format!(
            "{} 读得太慢：它的输出队列超过了{}上限，事件循环断开了它，而不是继续替它囤积数据。",
            fd(true),
            if w.value == 0 { "硬" } else { "软" }
        ),
        (Kind::EtStarved, Lang::En) => format!(
            "Edge-triggered: {} was read without reaching EAGAIN, then a whole turn passed without reading it. ET will not report it again until more data comes: what it holds waits.",
            fd(false)
        ),
        (Kind::EtStarved, Lang::Zh) => format!(
            "边缘触发：{} 没有读到 EAGAIN 就停了，之后整整一轮都没再读它。ET 在新数据到来之前不会再报告它，缓冲区里的数据只能干等。",
            fd(true)
        ),
        (Kind::FdsClimbing, Lang::En) => {
            format!("{} more fds registered over {climb_s} s or more, with no close: a leak, or a flood of connections.", w.value)
        }
        (Kind::FdsClimbing, Lang::Zh) => format!("{climb_s} 秒以上注册的 fd 多了 {} 个，期间没有任何关闭：可能是泄漏，或连接洪水。", w.value),
        (Kind::SelectNearLimit, Lang::En) => format!(
            "select can only watch fds below FD_SETSIZE ({FD_SETSIZE}); the highest registered is {}. Past it, new clients are refused.",
            fd(false)
        ),
        (Kind::SelectNearLimit, Lang::Zh) => format!(
            "select 只能监视小于 FD_SETSIZE（{FD_SETSIZE}）的 fd；目前注册的最大是 {}。超过它，新客户端会被拒绝。",
            fd(true)
        ),
    }
}

/// A plot's title.
pub fn plot_title(plot: Plot) -> Sight {
    match plot {
        Plot::Blocked => Sight::PlotBlocked,
        Plot::EventsPerWakeup => Sight::PlotEvents,
        Plot::BytesPerSend => Sight::PlotBytes,
        Plot::RoundTrip => Sight::PlotRoundTrip,
    }
}

/// A bucket's lower edge, short, for the axis.
pub fn edge(plot: Plot, b: usize) -> String {
    let v = plot.lower_edge(b);
    match plot {
        Plot::Blocked | Plot::RoundTrip if v >= 1_000_000_000 => format!("{}s", v / 1_000_000_000),
        Plot::Blocked | Plot::RoundTrip if v >= 1_000_000 => format!("{}ms", v / 1_000_000),
        Plot::Blocked | Plot::RoundTrip => format!("{}µs", v / 1_000),
        Plot::EventsPerWakeup => v.to_string(),
        Plot::BytesPerSend if v >= 1 << 20 => format!("{}M", v >> 20),
        Plot::BytesPerSend if v >= 1 << 10 => format!("{}K", v >> 10),
        Plot::BytesPerSend => format!("{v}B"),
    }
}

/// The legend of one colour: the model and whether it serves now.
pub fn legend(model: IoModel, now: bool, lang: Lang) -> String {
    match (now, lang) {
        (true, Lang::En) => format!("{} (now)", model.name()),
        (true, Lang::Zh) => format!("{}（当前）", model.name()),
        (false, Lang::En) => format!("{} (before)", model.name()),
        (false, Lang::Zh) => format!("{}（之前）", model.name()),
    }
}
