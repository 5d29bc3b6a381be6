//! Big rooms: when nodes are too small to carry a label, each fd is one plain `<circle>`, written
//! as markup and parsed by the browser, instead of one wasm-to-DOM call per element and per
//! attribute, and without a virtual DOM node per fd. The whole crowd is one `<g>` of groups of
//! [`GROUP`] circles. The first picture of a crowd is one parse: ten thousand fds cost one call,
//! not ten thousand (nor one per group). After that, a group whose fds stay the same is updated
//! attribute by attribute, so a node's running flash is never restarted by a neighbour's change;
//! a group whose fds changed is written again.
//!
//! Pure string work, compiled and tested natively; what puts it in the document is the wasm-only
//! `app` module.

use crate::state::Flash;
use muxscope_shared::{FdInfo, Interest, Role};
use std::collections::HashMap;

/// The stage's SVG width and the kernel box the interest list is drawn in (viewBox units).
const W: f64 = 1000.0;
const KERNEL_TOP: f64 = 64.0;
const KERNEL_BOTTOM: f64 = 396.0;

/// Grid slots for `n` nodes: `n` itself for a small room, else the next step of a ×1.25 ladder
/// (20, 25, 32, 40, 50, 63, 79, … 929, 1162, …). A few fds more or less leave everyone where they
/// were: in a room of a thousand, three senders joining would otherwise move a thousand nodes.
pub fn slots(n: usize) -> usize {
    if n <= 16 {
        return n;
    }
    let mut cap = 16usize;
    while cap < n {
        cap = (cap * 5).div_ceil(4);
    }
    cap
}

/// The grid for `n` nodes: columns, cell width and height, node radius.
fn grid(n: usize) -> (usize, f64, f64, f64) {
    let (w, h) = (W - 80.0, KERNEL_BOTTOM - KERNEL_TOP - 10.0);
    let cap = slots(n).max(1);
    let cols = ((cap as f64 * w / h).sqrt().ceil() as usize).clamp(1, cap);
    let rows = cap.div_ceil(cols);
    let (cw, ch) = (w / cols as f64, h / rows as f64);
    let r = (cw.min(ch) * 0.36).clamp(2.5, 36.0);
    (cols, cw, ch, r)
}

/// Grid positions for `n` nodes inside the kernel box: (x, y, radius).
pub fn layout(n: usize) -> Vec<(f64, f64, f64)> {
    if n == 0 {
        return vec![];
    }
    let (cols, cw, ch, r) = grid(n);
    (0..n)
        .map(|i| {
            let (c, row) = (i % cols, i / cols);
            (40.0 + cw * (c as f64 + 0.5), KERNEL_TOP + 5.0 + ch * (row as f64 + 0.5), r)
        })
        .collect()
}

/// Nodes smaller than this are drawn as a crowd (no room for an fd number).
pub const READABLE_R: f64 = 7.0;

/// Rooms bigger than this are drawn as a crowd whatever their size: a crowd that joins a few
/// hundred at a time is not drawn with labels on the way up.
pub const MAX_LABELLED: usize = 256;

/// Whether a room of `n` fds is drawn as a crowd (plain circles, no labels).
pub fn is_crowd(n: usize) -> bool {
    n > MAX_LABELLED || (n > 0 && grid(n).3 < READABLE_R)
}

/// The class that names a role (also `data-role`).
pub fn role_class(r: Role) -> &'static str {
    match r {
        Role::Listener => "listener",
        Role::Tcp => "tcp",
        Role::Web => "web",
        Role::Waker => "waker",
        Role::Bot => "bot",
        Role::Relay => "relay",
    }
}

/// The n-th flash of a node uses animation `kind-(n % 2)`: a new name restarts it in place. This
/// keeps the kind and whether n is odd, which is all a class needs.
fn parity(flash: Option<(Flash, u64)>) -> Option<(Flash, bool)> {
    flash.map(|(k, n)| (k, n % 2 == 1))
}

/// Appends a node's class list: `node`, its role, its flash, and `wants-write` while it waits to
/// write.
fn write_class(role: Role, flash: Option<(Flash, bool)>, writing: bool, out: &mut String) {
    out.push_str("node ");
    out.push_str(role_class(role));
    if let Some((k, odd)) = flash {
        out.push(' ');
        out.push_str(match k {
            Flash::Ready => "ready-",
            Flash::Copy => "copy-",
            Flash::Send => "send-",
            Flash::Join => "join-",
        });
        out.push(if odd { '1' } else { '0' });
    }
    if writing {
        out.push_str(" wants-write");
    }
}

/// The whole class list of a node.
pub fn node_class(f: &FdInfo, flash: Option<(Flash, u64)>) -> String {
    let mut c = String::with_capacity(32);
    write_class(f.role, parity(flash), f.interest != Interest::Read, &mut c);
    c
}

/// One fd as a big room draws it: what its `<circle>` shows, kept as numbers and flags (a
/// thousand of these are built for every picture; text is made only for what gets written).
#[derive(Clone, Debug, PartialEq)]
pub struct Dot {
    pub fd: i32,
    pub role: Role,
    pub name: String,
    pub flash: Option<(Flash, bool)>,
    pub writing: bool,
    /// Place and radius in tenths of a unit (the precision the markup has).
    pub x10: i32,
    pub y10: i32,
    pub r10: i32,
}

/// Appends a non-negative integer's digits.
fn digits(mut v: u32, out: &mut String) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).expect("ascii digits"));
}

/// Tenths as markup: `123.4`, `-0.5`.
fn tenths(v: i32, out: &mut String) {
    if v < 0 {
        out.push('-');
    }
    digits(v.unsigned_abs() / 10, out);
    out.push('.');
    digits(v.unsigned_abs() % 10, out);
}

impl Dot {
    pub fn new(f: &FdInfo, (x, y, r): (f64, f64, f64), flash: Option<(Flash, u64)>) -> Dot {
        Dot {
            fd: f.fd,
            role: f.role,
            name: f.name.clone(),
            flash: parity(flash),
            writing: f.interest != Interest::Read,
            x10: (x * 10.0).round() as i32,
            y10: (y * 10.0).round() as i32,
            r10: (r * 10.0).round() as i32,
        }
    }

    fn write_class(&self, out: &mut String) {
        write_class(self.role, self.flash, self.writing, out);
    }

    /// One attribute's value: 0 data-role, 1 data-name, 2 class, 3 cx, 4 cy, 5 r.
    fn value(&self, i: usize) -> String {
        let mut s = String::new();
        match i {
            0 => s.push_str(role_class(self.role)),
            1 => s.push_str(&self.name),
            2 => self.write_class(&mut s),
            3 => tenths(self.x10, &mut s),
            4 => tenths(self.y10, &mut s),
            _ => tenths(self.r10, &mut s),
        }
        s
    }

    fn same(&self, old: &Dot, i: usize) -> bool {
        match i {
            0 => self.role == old.role,
            1 => self.name == old.name,
            2 => (self.role, self.flash, self.writing) == (old.role, old.flash, old.writing),
            3 => self.x10 == old.x10,
            4 => self.y10 == old.y10,
            _ => self.r10 == old.r10,
        }
    }

    /// Appends this node's element: the same hooks as a small room's nodes (`data-testid=fd-node`,
    /// `data-fd`, `data-role`, `data-name`).
    pub fn markup(&self, out: &mut String) {
        out.push_str("<circle data-testid=\"fd-node\" data-fd=\"");
        if self.fd < 0 {
            out.push('-');
        }
        digits(self.fd.unsigned_abs(), out);
        out.push_str("\" data-role=\"");
        out.push_str(role_class(self.role));
        out.push_str("\" data-name=\"");
        escape_attr(&self.name, out);
        out.push_str("\" class=\"");
        self.write_class(out);
        out.push_str("\" cx=\"");
        tenths(self.x10, out);
        out.push_str("\" cy=\"");
        tenths(self.y10, out);
        out.push_str("\" r=\"");
        tenths(self.r10, out);
        // Self-closing: the markup is parsed as SVG (foreign content), where that ends it.
        out.push_str("\"/>");
    }

    /// The attributes that differ from `old` (the same fd as drawn before), as (name, new value).
    pub fn changes<'a>(&'a self, old: &'a Dot) -> impl Iterator<Item = (&'static str, String)> + 'a {
        ATTRIBUTES.iter().enumerate().filter(move |(i, _)| !self.same(old, *i)).map(|(i, k)| (*k, self.value(i)))
    }
}

/// What a dot's circle carries besides `data-testid` and `data-fd`, in markup order.
const ATTRIBUTES: [&str; 6] = ["data-role", "data-name", "class", "cx", "cy", "r"];

/// Markup for a whole group.
pub fn group_markup(dots: &[Dot]) -> String {
    let mut s = String::with_capacity(dots.len() * 160);
    for d in dots {
        d.markup(&mut s);
    }
    s
}

/// How a drawn group becomes the wanted one.
#[derive(Debug, PartialEq)]
pub enum Redraw {
    /// Nothing changed.
    Keep,
    /// The same fds in the same places of the group: set these attributes on these children.
    Update(Vec<(usize, &'static str, String)>),
    /// Fds came or went: write the group again.
    Rebuild(String),
}

pub fn redraw(drawn: &[Dot], want: &[Dot]) -> Redraw {
    if drawn.len() != want.len() || drawn.iter().zip(want).any(|(a, b)| a.fd != b.fd) {
        return Redraw::Rebuild(group_markup(want));
    }
    let changes: Vec<_> = drawn
        .iter()
        .zip(want)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .flat_map(|(i, (a, b))| b.changes(a).map(move |(k, v)| (i, k, v)))
        .collect();
    if changes.is_empty() {
        Redraw::Keep
    } else {
        Redraw::Update(changes)
    }
}

/// Circles per group of a crowd.
pub const GROUP: usize = 32;

/// A crowd's dots, in groups of [`GROUP`], each in its place with its mark.
pub fn crowd_dots(fds: &[FdInfo], flashes: &HashMap<i32, (Flash, u64)>) -> Vec<Vec<Dot>> {
    let places = layout(fds.len());
    fds.chunks(GROUP)
        .zip(places.chunks(GROUP))
        .map(|(fds, places)| fds.iter().zip(places).map(|(f, p)| Dot::new(f, *p, flashes.get(&f.fd).copied())).collect())
        .collect()
}

/// Markup for the whole crowd: one `<g class="group">` per group.
pub fn crowd_markup(groups: &[Vec<Dot>]) -> String {
    let mut s = String::with_capacity(groups.iter().map(|g| g.len() * 160 + 24).sum());
    for g in groups {
        s.push_str("<g class=\"group\">");
        for d in g {
            d.markup(&mut s);
        }
        s.push_str("</g>");
    }
    s
}

/// How the drawn crowd becomes the wanted one.
#[derive(Debug, PartialEq)]
pub enum CrowdDraw {
    /// Write the whole crowd (the first picture, the crowd gone, or every group changed its fds
    /// anyway).
    Whole(String),
    /// Redraw these groups in place, remove the groups from `keep` on, append `append`.
    Groups { redraws: Vec<(usize, Redraw)>, keep: usize, append: String },
}

/// What to do to the drawn groups (`drawn`, as last written) to show `want`.
pub fn plan_crowd(drawn: &[Vec<Dot>], want: &[Vec<Dot>]) -> CrowdDraw {
    let keep = drawn.len().min(want.len());
    let redraws: Vec<(usize, Redraw)> =
        drawn.iter().zip(want).map(|(d, w)| redraw(d, w)).enumerate().filter(|(_, r)| *r != Redraw::Keep).collect();
    let rebuilt = redraws.iter().filter(|(_, r)| matches!(r, Redraw::Rebuild(_))).count();
    if drawn.is_empty() || want.is_empty() || (keep > 0 && rebuilt == keep) {
        return CrowdDraw::Whole(crowd_markup(want));
    }
    CrowdDraw::Groups { redraws, keep, append: crowd_markup(&want[keep..]) }
}

/// Escapes text for a double-quoted attribute value (names come from users).
pub fn escape_attr(s: &str, out: &mut String) {
    if !s.bytes().any(|b| matches!(b, b'&' | b'"' | b'\'' | b'<' | b'>')) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd(fd: i32, name: &str, interest: Interest) -> FdInfo {
        FdInfo { fd, role: Role::Tcp, interest, name: name.into(), pending_out: 0 }
    }

    #[test]
    fn a_dot_carries_the_hooks_and_escapes_what_users_typed() {
        let d = Dot::new(&fd(7, "a\"><script>x</script>&'", Interest::ReadWrite), (10.0, 20.26, 3.0), Some((Flash::Send, 3)));
        let mut s = String::new();
        d.markup(&mut s);
        assert_eq!(
            s,
            "<circle data-testid=\"fd-node\" data-fd=\"7\" data-role=\"tcp\" data-name=\"a&quot;&gt;&lt;script&gt;x&lt;/script&gt;&amp;&#39;\" \
             class=\"node tcp send-1 wants-write\" cx=\"10.0\" cy=\"20.3\" r=\"3.0\"/>"
        );
    }

    #[test]
    fn a_bot_is_drawn_as_a_bot() {
        let bot = FdInfo { role: Role::Bot, ..fd(9, "bot-1", Interest::Read) };
        let mut s = String::new();
        Dot::new(&bot, (1.0, 2.0, 3.0), None).markup(&mut s);
        assert!(s.contains("data-role=\"bot\"") && s.contains("class=\"node bot\""), "{s}");
    }

    #[test]
    fn tenths_are_written_like_the_formatter_would() {
        for v in [0, 5, 10, 1234, 99999, -5, -1234, i32::MAX] {
            let mut s = String::new();
            tenths(v, &mut s);
            assert_eq!(s, format!("{:.1}", v as f64 / 10.0), "{v}");
        }
    }

    #[test]
    fn an_unchanged_group_is_kept_a_changed_mark_is_one_attribute_and_a_join_rebuilds() {
        let place = |i: usize| (i as f64 * 10.0, 5.0, 3.0);
        let fds: Vec<FdInfo> = (0..4).map(|i| fd(10 + i, &format!("127.0.0.1:{}", 5000 + i), Interest::Read)).collect();
        let drawn: Vec<Dot> = fds.iter().enumerate().map(|(i, f)| Dot::new(f, place(i), None)).collect();
        assert_eq!(redraw(&drawn, &drawn.clone()), Redraw::Keep);

        // fd 12 flashes and fd 13 starts waiting to write: two class changes, nothing else.
        let mut want = drawn.clone();
        want[2] = Dot::new(&fds[2], place(2), Some((Flash::Ready, 0)));
        want[3] = Dot::new(&fd(13, "127.0.0.1:5003", Interest::ReadWrite), place(3), None);
        assert_eq!(
            redraw(&drawn, &want),
            Redraw::Update(vec![(2, "class", "node tcp ready-0".into()), (3, "class", "node tcp wants-write".into())])
        );

        // The room grew, so every node moved: positions change in place.
        let moved: Vec<Dot> = fds.iter().enumerate().map(|(i, f)| Dot::new(f, (i as f64 * 8.0, 5.0, 2.5), None)).collect();
        match redraw(&drawn, &moved) {
            Redraw::Update(u) => assert!(u.iter().all(|(_, k, _)| ["cx", "r"].contains(k)) && u.len() == 7, "{u:?}"),
            other => panic!("{other:?}"),
        }

        // A new fd in the group: written again, every node once.
        let mut joined = drawn.clone();
        joined.insert(1, Dot::new(&fd(11, "late", Interest::Read), place(1), Some((Flash::Join, 0))));
        match redraw(&drawn, &joined) {
            Redraw::Rebuild(s) => {
                assert_eq!(s.matches("<circle ").count(), 5);
                assert!(s.contains("data-fd=\"11\" data-role=\"tcp\" data-name=\"late\" class=\"node tcp join-0\""), "{s}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(redraw(&drawn, &drawn[..3]), Redraw::Rebuild(_)));
    }

    #[test]
    fn a_crowd_is_drawn_whole_once_then_group_by_group() {
        let room = |n: i32| (0..n).map(|i| fd(10 + i, &format!("127.0.0.1:{}", 40000 + i), Interest::Read)).collect::<Vec<_>>();
        let none = HashMap::new();
        let fds = room(10_000);
        assert!(is_crowd(fds.len()) && is_crowd(300) && !is_crowd(4) && !is_crowd(0));
        let first = crowd_dots(&fds, &none);
        assert_eq!(first.len(), 10_000usize.div_ceil(GROUP));
        let CrowdDraw::Whole(markup) = plan_crowd(&[], &first) else { panic!("the first picture is one write") };
        assert_eq!(markup.matches("<circle data-testid=\"fd-node\" data-fd=").count(), 10_000);
        assert_eq!(markup.matches("<g class=\"group\">").count(), first.len());
        assert!(
            markup.starts_with(
                "<g class=\"group\"><circle data-testid=\"fd-node\" data-fd=\"10\" data-role=\"tcp\" data-name=\"127.0.0.1:40000\""
            ),
            "{}",
            &markup[..200]
        );

        // One mark: one attribute of one node.
        let mut flashes = HashMap::new();
        flashes.insert(10 + 40, (Flash::Ready, 0));
        match plan_crowd(&first, &crowd_dots(&fds, &flashes)) {
            CrowdDraw::Groups { redraws, keep, append } => {
                assert_eq!(redraws, vec![(1, Redraw::Update(vec![(8, "class", "node tcp ready-0".into())]))]);
                assert_eq!((keep, append.as_str()), (first.len(), ""));
            }
            other => panic!("{other:?}"),
        }

        // The last fd leaves: its group is written again, nobody else moves.
        let fewer = crowd_dots(&fds[..9_999], &none);
        match plan_crowd(&first, &fewer) {
            CrowdDraw::Groups { redraws, keep, append } => {
                assert_eq!(redraws.len(), 1);
                assert!(
                    matches!(&redraws[0], (i, Redraw::Rebuild(m)) if *i == first.len() - 1 && m.matches("<circle ").count() == 10_000 % GROUP - 1)
                );
                assert_eq!((keep, append.as_str()), (first.len(), ""));
            }
            other => panic!("{other:?}"),
        }

        // The first fd leaves: every group's fds shift, so the crowd is written whole.
        assert!(matches!(plan_crowd(&first, &crowd_dots(&fds[1..], &none)), CrowdDraw::Whole(_)));

        // A group more, then the crowd leaves.
        match plan_crowd(&first, &crowd_dots(&room(10_020), &none)) {
            CrowdDraw::Groups { keep, append, .. } => {
                assert_eq!(keep, first.len());
                assert_eq!(append.matches("<g class=\"group\">").count(), 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(plan_crowd(&first, &[]), CrowdDraw::Whole(String::new()), "one write empties the stage");
    }

    #[test]
    fn a_few_more_fds_move_nobody() {
        assert_eq!((1..=16).map(slots).collect::<Vec<_>>(), (1..=16).collect::<Vec<_>>(), "a small room fills its grid");
        for n in 17..3000 {
            let s = slots(n);
            assert!(s >= n && s <= n * 5 / 4 + 1, "{n} fds in {s} slots");
        }
        // A crowd of 1,000, then its 3 senders: nobody already drawn moves.
        let (crowd, senders) = (layout(1003), layout(1006));
        assert_eq!(crowd[..], senders[..1003]);
        assert!(senders.iter().all(|&(x, y, r)| (40.0..=960.0).contains(&x) && (64.0..=396.0).contains(&y) && r > 0.0));
    }
}
