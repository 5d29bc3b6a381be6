//! Big rooms: when nodes are too small to carry a label, each fd is one plain `<circle>`, and a
//! group of them is written as markup and parsed by the browser in one call, instead of one
//! wasm-to-DOM call per element and per attribute. A crowd of a thousand joining costs a few
//! dozen parses, not ten thousand calls. After that, a group whose fds stay the same is updated
//! attribute by attribute, so a node's running flash is never restarted by a neighbour's change.
//!
//! Pure string work, compiled and tested natively; the component that puts it in the document is
//! `DotGroup` in the wasm-only `app` module.

use crate::state::Flash;
use muxscope_shared::{FdInfo, Interest, Role};

/// The class that names a role (also `data-role`).
pub fn role_class(r: Role) -> &'static str {
    match r {
        Role::Listener => "listener",
        Role::Tcp => "tcp",
        Role::Web => "web",
        Role::Waker => "waker",
    }
}

/// The n-th flash of a node uses animation `kind-(n % 2)`: a new name restarts it in place.
pub fn flash_class(flash: Option<(Flash, u64)>) -> Option<String> {
    flash.map(|(k, n)| {
        let kind = match k {
            Flash::Ready => "ready",
            Flash::Copy => "copy",
            Flash::Send => "send",
            Flash::Join => "join",
        };
        format!("{kind}-{}", n % 2)
    })
}

/// The whole class list of a node.
pub fn node_class(f: &FdInfo, flash: Option<(Flash, u64)>) -> String {
    let mut c = format!("node {}", role_class(f.role));
    if let Some(fl) = flash_class(flash) {
        c.push(' ');
        c.push_str(&fl);
    }
    if f.interest != Interest::Read {
        c.push_str(" wants-write");
    }
    c
}

/// One fd as a big room draws it: exactly the attributes its `<circle>` carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Dot {
    pub fd: i32,
    pub role: &'static str,
    pub name: String,
    pub class: String,
    pub cx: String,
    pub cy: String,
    pub r: String,
}

impl Dot {
    pub fn new(f: &FdInfo, (x, y, r): (f64, f64, f64), flash: Option<(Flash, u64)>) -> Dot {
        Dot {
            fd: f.fd,
            role: role_class(f.role),
            name: f.name.clone(),
            class: node_class(f, flash),
            cx: format!("{x:.1}"),
            cy: format!("{y:.1}"),
            r: format!("{r:.1}"),
        }
    }

    /// The attributes, in markup order, as (name, value).
    fn attributes(&self) -> [(&'static str, &str); 6] {
        [("data-role", self.role), ("data-name", &self.name), ("class", &self.class), ("cx", &self.cx), ("cy", &self.cy), ("r", &self.r)]
    }

    /// Appends this node's element: the same hooks as a small room's nodes (`data-testid=fd-node`,
    /// `data-fd`, `data-role`, `data-name`).
    pub fn markup(&self, out: &mut String) {
        out.push_str("<circle data-testid=\"fd-node\" data-fd=\"");
        out.push_str(&self.fd.to_string());
        out.push('"');
        for (k, v) in self.attributes() {
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            escape_attr(v, out);
            out.push('"');
        }
        out.push_str("></circle>");
    }

    /// The attributes that differ from `old` (the same fd as drawn before), as (name, new value).
    pub fn changes<'a>(&'a self, old: &Dot) -> impl Iterator<Item = (&'static str, &'a str)> + 'a {
        let before = old.attributes().map(|(_, v)| v.to_string());
        self.attributes().into_iter().zip(before).filter(|((_, now), was)| now != was).map(|(kv, _)| kv)
    }
}

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
pub enum Redraw<'a> {
    /// Nothing changed.
    Keep,
    /// The same fds in the same places of the group: set these attributes on these children.
    Update(Vec<(usize, &'static str, &'a str)>),
    /// Fds came or went: write the group again.
    Rebuild(String),
}

pub fn redraw<'a>(drawn: &[Dot], want: &'a [Dot]) -> Redraw<'a> {
    if drawn.len() != want.len() || drawn.iter().zip(want).any(|(a, b)| a.fd != b.fd) {
        return Redraw::Rebuild(group_markup(want));
    }
    let changes: Vec<_> = drawn.iter().zip(want).enumerate().filter(|(_, (a, b))| a != b).flat_map(|(i, (a, b))| b.changes(a).map(move |(k, v)| (i, k, v))).collect();
    if changes.is_empty() {
        Redraw::Keep
    } else {
        Redraw::Update(changes)
    }
}

/// Escapes text for a double-quoted attribute value (names come from users).
pub fn escape_attr(s: &str, out: &mut String) {
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
             class=\"node tcp send-1 wants-write\" cx=\"10.0\" cy=\"20.3\" r=\"3.0\"></circle>"
        );
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
        assert_eq!(redraw(&drawn, &want), Redraw::Update(vec![(2, "class", "node tcp ready-0"), (3, "class", "node tcp wants-write")]));

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
}
