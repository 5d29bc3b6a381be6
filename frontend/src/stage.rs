//! The stage: the kernel box, every fd as a node (labelled groups in a small room, a crowd of
//! plain circles drawn outside the virtual DOM in a big one), the blocking model's threads as
//! beads on their nodes (also outside the virtual DOM), the copy and fan-out lines, and the
//! banner of a model switch.

use crate::dots::{crowd_dots, is_crowd, layout, node_class, plan_crowd, role_class, CrowdDraw, Dot, Redraw};
use crate::i18n::{Lang, Ui};
use crate::marks::{self, Marks};
use crate::models;
use crate::net;
use crate::state::{Flash, Model, Played, Scene};
use crate::text;
use crate::threads::{self, plan_threads, thread_groups, ThreadDraw};
use muxscope_shared::{FdInfo, ThreadInfo};
use std::collections::HashMap;
use yew::prelude::*;

/// Where the kernel box sits on the stage: fan-out and copy lines start there.
const CORE: (f64, f64) = (500.0, 530.0);
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
fn fd_node(f: &FdInfo, (x, y, r): (f64, f64, f64), flash: Option<(Flash, u64)>, lang: Lang, out: &mut Vec<Html>) {
    let title = text::fd_title(f.fd, role_class(f.role), &f.name, &f.interest.to_string(), f.pending_out, lang);
    let (cx, cy) = (format!("{x:.1}"), format!("{y:.1}"));
    out.push(html! {
        <circle key={format!("c{}", f.fd)} data-testid="fd-node" data-fd={f.fd.to_string()} data-role={role_class(f.role)} data-name={f.name.clone()}
                class={node_class(f, flash)}
                cx={cx.clone()} cy={cy.clone()} r={format!("{r:.1}")}>
            <title>{ title }</title>
        </circle>
    });
    let size = format!("{:.0}", (r * 0.75).clamp(7.0, 22.0));
    out.push(
        html! { <text key={format!("n{}", f.fd)} class="fdnum" x={cx.clone()} y={cy.clone()} dy="0.35em" font-size={size}>{ f.fd }</text> },
    );
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
    let lang = use_context::<Lang>().unwrap_or_default();
    let mut out = Vec::with_capacity(p.nodes.len());
    for (f, place, flash) in &p.nodes {
        fd_node(f, *place, *flash, lang, &mut out);
    }
    html! { <g class="group">{ for out }</g> }
}

/// A labelled room's nodes (a crowd is drawn by [`Crowd`] instead).
fn node_groups(s: &Scene, marks: &Marks, places: &[(f64, f64, f64)]) -> Html {
    if is_crowd(s.snap.fds.len()) {
        return Html::default();
    }
    s.snap
        .fds
        .chunks(GROUP)
        .zip(places.chunks(GROUP))
        .enumerate()
        .map(|(i, (fds, places))| {
            let nodes = fds.iter().zip(places).map(|(f, p)| (f.clone(), *p, marks.get(f.fd))).collect::<Vec<_>>();
            html! { <NodeGroup key={format!("n{i}")} nodes={nodes} /> }
        })
        .collect()
}

/// A room too big for labels, drawn into a `<g>` of its own (see [`crate::dots`]) that Yew only
/// places. Its circles are markup: the first picture of a crowd is one parse, and after that
/// only the groups with a changed node are touched (in a busy room of a thousand, a still
/// picture where four senders changed mark sets four attributes). None of it is a virtual DOM
/// node, so a render of the page costs nothing per fd unless the fds or their marks changed.
pub(crate) struct Crowd {
    pub el: web_sys::Element,
    fds: Vec<FdInfo>,
    flashes: HashMap<i32, (Flash, u64)>,
    groups: Vec<Vec<Dot>>,
}

impl Crowd {
    pub fn new() -> Crowd {
        Crowd { el: net::svg_group("crowd"), fds: Vec::new(), flashes: HashMap::new(), groups: Vec::new() }
    }

    /// Brings the crowd's `<g>` to the scene's crowd (empty when the room is labelled).
    pub fn draw(&mut self, s: &Scene, marks: &Marks) {
        let fds: &[FdInfo] = if is_crowd(s.snap.fds.len()) { &s.snap.fds } else { &[] };
        if self.fds == fds && (fds.is_empty() || self.flashes == *marks.drawn()) {
            return;
        }
        let el = &self.el;
        let want = crowd_dots(fds, marks.drawn());
        match plan_crowd(&self.groups, &want) {
            // Numbers, fixed names and the escaped fd name only (`Dot::markup`); never chat text.
            CrowdDraw::Whole(markup) => {
                net::mark_once("mx:crowd-markup");
                el.set_inner_html(&markup);
                net::mark_once("mx:crowd-drawn");
            }
            CrowdDraw::Groups { redraws, keep, append } => {
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
        self.flashes = marks.drawn().clone();
    }
}

/// The blocking model's threads, drawn into a `<g>` of their own that Yew only places (see
/// [`crate::threads`]): two thousand beads are one parse, and a thread that comes or goes
/// rewrites the one group of its node.
pub(crate) struct ThreadLayer {
    pub el: web_sys::Element,
    threads: Vec<ThreadInfo>,
    /// The fds the beads were placed on, in order (a place depends only on the index).
    fds: Vec<i32>,
    groups: Vec<String>,
}

impl ThreadLayer {
    pub fn new() -> ThreadLayer {
        ThreadLayer { el: net::svg_group("threads"), threads: Vec::new(), fds: Vec::new(), groups: Vec::new() }
    }

    pub fn draw(&mut self, s: &Scene) {
        let threads = &s.snap.threads;
        let same_fds = || self.fds.iter().copied().eq(s.snap.fds.iter().map(|f| f.fd));
        if self.threads == *threads && (threads.is_empty() || same_fds()) {
            return;
        }
        let want = thread_groups(&s.snap.fds, threads);
        match plan_threads(&self.groups, &want) {
            ThreadDraw::Keep => {}
            // Numbers and fixed names only: never text a user typed.
            ThreadDraw::Whole(markup) => self.el.set_inner_html(&markup),
            ThreadDraw::Groups { rewrite, keep, append } => {
                let groups = self.el.children();
                for (i, markup) in rewrite {
                    if let Some(g) = groups.item(i as u32) {
                        g.set_inner_html(&markup);
                    }
                }
                while groups.length() as usize > keep {
                    match groups.item(groups.length() - 1) {
                        Some(g) => g.remove(),
                        None => break,
                    }
                }
                if !append.is_empty() {
                    let _ = self.el.insert_adjacent_html("beforeend", &append);
                }
            }
        }
        self.groups = want;
        self.threads = threads.clone();
        self.fds = s.snap.fds.iter().map(|f| f.fd).collect();
    }
}

/// Most fan-out lines drawn; a larger room gets an even sample of its recipients.
const MAX_LINES: usize = 48;

/// A broadcast's lines: into the loop from its sender, out to every client (the scene's
/// clients now: the fold keeps no list of recipients).
fn fanout_lines(s: &Scene, f: &Played, pos: &dyn Fn(i32) -> Option<(f64, f64)>) -> Html {
    let muxscope_shared::EventBody::Broadcast { from, .. } = f.event.body else {
        return Html::default();
    };
    let to: Vec<i32> = s.recipients().collect();
    let stride = to.len().div_ceil(MAX_LINES).max(1);
    let lines: Vec<Html> = to
        .iter()
        .step_by(stride)
        .filter_map(|fd| pos(*fd))
        .map(|(x, y)| html! { <line class="fan" x1={CORE.0.to_string()} y1={CORE.1.to_string()} x2={format!("{x:.1}")} y2={format!("{y:.1}")} /> })
        .collect();
    let from = pos(from).map(|(x, y)| html! { <line class="fan-in" x1={format!("{x:.1}")} y1={format!("{y:.1}")} x2={CORE.0.to_string()} y2={CORE.1.to_string()} /> });
    html! {
        <g key={format!("fan-{}", f.index)} data-testid="fanout" data-recipients={to.len().to_string()} class="fanout">
            { for from }
            { for lines }
        </g>
    }
}

pub(crate) fn stage(m: &Model, marks: &Marks, crowd: Html, thread_beads: Html) -> Html {
    let s = m.scene();
    let places = layout(s.snap.fds.len());
    let pos = |fd: i32| s.snap.fds.binary_search_by_key(&fd, |f| f.fd).ok().map(|i| (places[i].0, places[i].1));
    let copies: Vec<Html> = marks
        .drawn()
        .iter()
        .filter(|(_, (k, _))| *k == Flash::Copy)
        .take(64)
        .filter_map(|(fd, (_, id))| {
            let (x, y) = pos(*fd)?;
            Some(html! { <line key={format!("cp-{fd}-{id}")} class="copy-line" x1={format!("{x:.1}")} y1={format!("{y:.1}")} x2={CORE.0.to_string()} y2={CORE.1.to_string()} /> })
        })
        .collect();
    let model = m.io_model();
    let lang = m.lang;
    let title = text::kernel_label(model.map_or("…", |m| m.name()), models::table_name(model, lang), s.snap.fds.len(), lang);
    let pending: u64 = s.snap.fds.iter().map(|f| f.pending_out).sum();
    let thread_count = (!s.snap.threads.is_empty() || model == Some(muxscope_shared::Model::Blocking)).then(|| {
        let (a, r, w) = threads::count(&s.snap.threads);
        let text = text::thread_count(s.snap.threads.len(), (a, r, w), lang);
        html! { <text class="thread-count" data-testid="thread-count" data-threads={s.snap.threads.len().to_string()} x="972" y="578">{ text }</text> }
    });
    let banner = m
        .banner()
        .map(|b| html! { <div key={b.index} class="banner" data-testid="model-banner" role="status">{ text::banner(b, lang) }</div> });
    // Two layers: the boxes and nodes, and above them the lines that animate across the whole
    // stage (their own compositing layer), so drawing a fan-out does not repaint every node.
    html! {
        <div class="stage">
            <svg class="layer" viewBox="0 0 1000 600" role="img" aria-label={Ui::StageLabel.t(lang)}>
                <rect class="kernel" x="8" y="8" width="984" height="396" rx="18" />
                <text class="boxlabel" x="28" y="40">{ title }</text>
                <rect class="user" x="8" y="452" width="984" height="140" rx="18" />
                <text class="boxlabel" x="28" y="484">{ models::user_space_label(model, lang) }</text>
                { for thread_count }
                <text class="owed" x="28" y="578">{ text::owed(pending, lang) }</text>
                <g class="core" transform={format!("translate({},{})", CORE.0, CORE.1)}>
                    <circle r="30" />
                    <text dy="0.35em">{ Ui::Loop.t(lang) }</text>
                </g>
                { crowd }
                { node_groups(s, marks, &places) }
                { thread_beads }
            </svg>
            <svg class="layer overlay" viewBox="0 0 1000 600" aria-hidden="true">
                { for copies }
                { for marks::fanout(s, m.player.calm_from).map(|f| fanout_lines(s, f, &pos)) }
            </svg>
            { for banner }
        </div>
    }
}
