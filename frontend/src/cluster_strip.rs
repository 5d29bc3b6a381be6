//! The cluster strip (`data-testid="cluster"`), above the stage while this node is one of a
//! cluster (`muxscope --cluster redis://HOST:PORT --node NAME`; the picture then has a relay
//! status): the relay's link to Redis (up, connecting, or down since when and why, in red), one
//! chip per node that is up (`data-testid="cluster-node"`, `data-node=NAME`, this one marked)
//! with its clients, and the counts: published, received, not relayed, missed (and
//! unconfirmed, when some are).
//!
//! What it shows is decided by [`strip`] (compiled and tested natively); the component only
//! draws that. Its words are [`ClusterText`] keys, in both languages.

use crate::i18n::{ClusterText, Lang};
use crate::text::clock;
use muxscope_shared::{RelayState, RelayStatus};

/// One node that is up, as its chip shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeChip {
    pub name: String,
    pub clients: u32,
    /// This node (the page's own).
    pub me: bool,
}

/// One of the strip's counts: its label, its value, its tooltip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Count {
    /// `data-count`: `published`, `received`, `not-relayed`, `missed` or `unconfirmed` (shown
    /// only when some are).
    pub id: &'static str,
    pub label: &'static str,
    pub value: u64,
    pub title: &'static str,
    /// Worth a look (lines were lost): drawn as a warning.
    pub bad: bool,
}

/// Everything the strip shows, in the page's language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strip {
    /// `data-state`: `up`, `connecting` or `down`.
    pub state: &'static str,
    /// The link in words: up, connecting, or down since when and why.
    pub link: String,
    /// `redis://HOST:PORT` and this node's name (the strip's tooltip).
    pub redis: String,
    pub node: String,
    /// The nodes that are up, sorted by name, this one marked.
    pub nodes: Vec<NodeChip>,
    pub counts: Vec<Count>,
}

/// The state's name, as `data-state` and the CSS spell it.
pub fn state_name(s: RelayState) -> &'static str {
    match s {
        RelayState::Up => "up",
        RelayState::Connecting => "connecting",
        RelayState::Down => "down",
    }
}

/// The link in words: `relay down since HH:MM:SS UTC: <error>` when down.
pub fn link_text(r: &RelayStatus, lang: Lang) -> String {
    match r.state {
        RelayState::Up => ClusterText::Up.t(lang).to_string(),
        RelayState::Connecting => ClusterText::Connecting.t(lang).to_string(),
        RelayState::Down => {
            let why = r.error.as_deref().filter(|e| !e.trim().is_empty()).unwrap_or(ClusterText::NoConnection.t(lang));
            match lang {
                Lang::En => format!("relay down since {}: {why}", clock(r.since_ms)),
                Lang::Zh => format!("中继自 {} 起断开：{why}", clock(r.since_ms)),
            }
        }
    }
}

/// A node's clients, as its chip says them.
pub fn clients_text(n: u32, lang: Lang) -> String {
    match (lang, n) {
        (Lang::En, 1) => "1 client".to_string(),
        (Lang::En, n) => format!("{n} clients"),
        (Lang::Zh, n) => format!("{n} 个客户端"),
    }
}

/// What the strip shows of `relay`; `None` (no strip) when this node is not in a cluster.
pub fn strip(relay: Option<&RelayStatus>, lang: Lang) -> Option<Strip> {
    let r = relay?;
    let mut nodes: Vec<NodeChip> =
        r.nodes.iter().map(|n| NodeChip { name: n.name.clone(), clients: n.clients, me: n.me || n.name == r.node }).collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes.dedup_by(|a, b| a.name == b.name);
    let not_relayed = r.lost_down.saturating_add(r.lost_slow);
    let count = |id, label: ClusterText, value: u64, title: ClusterText, bad: bool| Count {
        id,
        label: label.t(lang),
        value,
        title: title.t(lang),
        bad: bad && value > 0,
    };
    Some(Strip {
        state: state_name(r.state),
        link: link_text(r, lang),
        redis: r.redis.clone(),
        node: r.node.clone(),
        nodes,
        counts: vec![
            count("published", ClusterText::Published, r.published, ClusterText::PublishedTitle, false),
            count("received", ClusterText::Received, r.received, ClusterText::ReceivedTitle, false),
            count("not-relayed", ClusterText::NotRelayed, not_relayed, ClusterText::NotRelayedTitle, true),
            count("missed", ClusterText::Missed, r.missed, ClusterText::MissedTitle, true),
        ]
        .into_iter()
        // Unconfirmed only when there are any (rare: the link broke with PUBLISHes unanswered).
        .chain(
            (r.unconfirmed > 0).then(|| count("unconfirmed", ClusterText::Unconfirmed, r.unconfirmed, ClusterText::UnconfirmedTitle, true)),
        )
        .collect(),
    })
}

#[cfg(target_arch = "wasm32")]
pub use view::ClusterStrip;

#[cfg(target_arch = "wasm32")]
mod view {
    use super::*;
    use yew::prelude::*;

    #[derive(Properties, PartialEq)]
    pub struct ClusterStripProps {
        /// The picture's relay status (`Snapshot::relay`); `None`: no strip.
        pub relay: Option<Box<RelayStatus>>,
    }

    /// The strip; nothing at all when the picture has no relay status.
    #[function_component(ClusterStrip)]
    pub fn cluster_strip(p: &ClusterStripProps) -> Html {
        let lang = use_context::<Lang>().unwrap_or_default();
        let Some(s) = strip(p.relay.as_deref(), lang) else {
            return html! {};
        };
        let title = format!("{} {} · {}", ClusterText::Relay.t(lang), s.node, s.redis);
        let link_role = (s.state == "down").then_some("alert");
        html! {
            <div class={classes!("cluster", s.state)} data-testid="cluster" data-state={s.state} title={title}>
                <span class="cluster-link" data-testid="cluster-link" role={link_role}>{ s.link.clone() }</span>
                <span class="cluster-nodes">
                    <span class="cluster-label">{ ClusterText::Nodes.t(lang) }</span>
                    { for s.nodes.iter().map(|n| html! {
                        <span class={classes!("cluster-node", n.me.then_some("me"))} data-testid="cluster-node"
                              data-node={n.name.clone()} data-me={n.me.to_string()}
                              title={if n.me { ClusterText::Me.t(lang) } else { "" }}>
                            <b>{ n.name.clone() }</b>
                            <span class="cluster-clients">{ clients_text(n.clients, lang) }</span>
                        </span>
                    }) }
                </span>
                <span class="cluster-counts">
                    { for s.counts.iter().map(|c| html! {
                        <span class={classes!("cluster-count", c.bad.then_some("bad"))} data-count={c.id} title={c.title}>
                            <b>{ c.value.to_string() }</b>{ " " }{ c.label }
                        </span>
                    }) }
                </span>
            </div>
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the relay's event carries it (read from JSON: fields the strip does not show keep
    /// their defaults).
    fn status(state: RelayState) -> RelayStatus {
        let mut r: RelayStatus = serde_json::from_value(serde_json::json!({
            "node": "B", "redis": "redis://127.0.0.1:6379", "state": "up", "fd": 7,
            // 2023-11-14 22:13:20 UTC.
            "since_ms": 1_700_000_000_000u64,
            "nodes": [{"name": "C", "clients": 5}, {"name": "B", "clients": 2, "me": true}, {"name": "A", "clients": 0}],
            "published": 4, "received": 9, "lost_down": 2, "lost_slow": 1, "missed": 0
        }))
        .expect("a relay status");
        r.state = state;
        r
    }

    #[test]
    fn no_relay_status_no_strip() {
        assert_eq!(strip(None, Lang::En), None);
        assert_eq!(strip(None, Lang::Zh), None);
    }

    #[test]
    fn nodes_are_sorted_and_this_one_marked() {
        let s = strip(Some(&status(RelayState::Up)), Lang::En).unwrap();
        let names: Vec<(&str, u32, bool)> = s.nodes.iter().map(|n| (n.name.as_str(), n.clients, n.me)).collect();
        assert_eq!(names, [("A", 0, false), ("B", 2, true), ("C", 5, false)]);
        // Marked by name too (a status that did not set `me`).
        let mut r = status(RelayState::Up);
        r.nodes.iter_mut().for_each(|n| n.me = false);
        let me: Vec<String> = strip(Some(&r), Lang::En).unwrap().nodes.into_iter().filter(|n| n.me).map(|n| n.name).collect();
        assert_eq!(me, ["B"]);
        assert_eq!((s.state, s.link.as_str(), s.node.as_str()), ("up", "relay up", "B"));
        assert_eq!(strip(Some(&status(RelayState::Up)), Lang::Zh).unwrap().link, "中继已连接");
        assert_eq!((clients_text(1, Lang::En), clients_text(5, Lang::En)), ("1 client".into(), "5 clients".into()));
        assert_eq!(clients_text(1, Lang::Zh), "1 个客户端");
    }

    #[test]
    fn down_shows_since_and_the_error_in_both_languages() {
        let mut r = status(RelayState::Down);
        r.error = Some("connect: Connection refused (os error 111)".into());
        let en = strip(Some(&r), Lang::En).unwrap();
        assert_eq!(en.state, "down");
        assert_eq!(en.link, "relay down since 22:13:20 UTC: connect: Connection refused (os error 111)");
        let zh = strip(Some(&r), Lang::Zh).unwrap();
        assert_eq!(zh.link, "中继自 22:13:20 UTC 起断开：connect: Connection refused (os error 111)");
        // No error said: still why, in the page's language.
        r.error = None;
        assert_eq!(link_text(&r, Lang::En), "relay down since 22:13:20 UTC: no connection");
        assert_eq!(link_text(&r, Lang::Zh), "中继自 22:13:20 UTC 起断开：未连接");
        let connecting = strip(Some(&status(RelayState::Connecting)), Lang::En).unwrap();
        assert_eq!((connecting.state, connecting.link.as_str()), ("connecting", "relay connecting…"));
    }

    #[test]
    fn counts_add_both_losses_and_flag_only_losses() {
        let s = strip(Some(&status(RelayState::Up)), Lang::En).unwrap();
        let shown: Vec<(&str, &str, u64, bool)> = s.counts.iter().map(|c| (c.id, c.label, c.value, c.bad)).collect();
        assert_eq!(
            shown,
            [
                ("published", "published", 4, false),
                ("received", "received", 9, false),
                ("not-relayed", "not relayed", 3, true),
                ("missed", "missed", 0, false)
            ]
        );
        let zh: Vec<&str> = strip(Some(&status(RelayState::Up)), Lang::Zh).unwrap().counts.iter().map(|c| c.label).collect();
        assert_eq!(zh, ["已发布", "已接收", "未转发", "遗漏"]);
        let mut r = status(RelayState::Up);
        r.unconfirmed = 2;
        let last = strip(Some(&r), Lang::Zh).unwrap().counts.pop().unwrap();
        assert_eq!((last.id, last.label, last.value, last.bad), ("unconfirmed", "未确认", 2, true));
    }

    #[test]
    fn every_word_of_the_strip_has_both_languages() {
        let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        for k in ClusterText::ALL {
            let (en, zh) = (k.t(Lang::En), k.t(Lang::Zh));
            assert!(!en.trim().is_empty() && !cjk(en), "{k:?}: English {en:?}");
            assert!(cjk(zh), "{k:?}: the Chinese has no Chinese in it: {zh:?}");
        }
    }
}
