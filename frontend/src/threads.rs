//! The blocking model's threads on the stage: a bead on an fd's node for each thread that
//! serves it (its reader; a writer, drawn apart, while output waits; the acceptor on the
//! listener). Two thousand connections are two thousand threads, so like the crowd (see
//! [`crate::dots`]) the beads are markup written outside the virtual DOM, in one group per
//! group of nodes, and a group is written again only when its beads changed.
//!
//! Pure string work, compiled and tested natively.

use crate::dots::{layout, GROUP};
use muxscope_shared::{FdInfo, ThreadInfo, ThreadRole};

/// The name of a thread's role (its `data-role` and class).
pub fn role_name(r: ThreadRole) -> &'static str {
    match r {
        ThreadRole::Acceptor => "acceptor",
        ThreadRole::Reader => "reader",
        ThreadRole::Writer => "writer",
    }
}

fn rank(r: ThreadRole) -> u8 {
    match r {
        ThreadRole::Acceptor => 0,
        ThreadRole::Reader => 1,
        ThreadRole::Writer => 2,
    }
}

/// How many threads of each role: acceptors, readers, writers.
pub fn count(threads: &[ThreadInfo]) -> (usize, usize, usize) {
    threads.iter().fold((0, 0, 0), |(a, r, w), t| match t.role {
        ThreadRole::Acceptor => (a + 1, r, w),
        ThreadRole::Reader => (a, r + 1, w),
        ThreadRole::Writer => (a, r, w + 1),
    })
}

/// Appends one thread's bead on the node at (x, y) of radius r: readers and the acceptor at the
/// node's upper right, writers at its upper left.
fn bead(t: &ThreadInfo, (x, y, r): (f64, f64, f64), out: &mut String) {
    let side = if t.role == ThreadRole::Writer { -1.0 } else { 1.0 };
    let (bx, by, br) = (x + side * r * 0.8, y - r * 0.8, (r * 0.38).max(1.5));
    let role = role_name(t.role);
    out.push_str(&format!(
        "<circle data-testid=\"thread\" data-tid=\"{}\" data-role=\"{role}\" data-fd=\"{}\" class=\"thread {role}\" cx=\"{bx:.1}\" cy=\"{by:.1}\" r=\"{br:.1}\"/>",
        t.tid, t.fd
    ));
}

/// The beads' markup, one string per group of [`GROUP`] nodes (in the nodes' order, so a thread
/// that comes or goes changes one group). No threads, no groups.
pub fn thread_groups(fds: &[FdInfo], threads: &[ThreadInfo]) -> Vec<String> {
    if threads.is_empty() {
        return Vec::new();
    }
    let places = layout(fds.len());
    let mut placed: Vec<(usize, &ThreadInfo)> =
        threads.iter().filter_map(|t| fds.binary_search_by_key(&t.fd, |f| f.fd).ok().map(|i| (i, t))).collect();
    placed.sort_by_key(|(i, t)| (*i, rank(t.role), t.tid));
    let mut groups = vec![String::new(); fds.len().div_ceil(GROUP)];
    for (i, t) in placed {
        bead(t, places[i], &mut groups[i / GROUP]);
    }
    groups
}

/// How the drawn groups become the wanted ones.
#[derive(Debug, PartialEq)]
pub enum ThreadDraw {
    Keep,
    /// Write the whole layer.
    Whole(String),
    /// Write these groups again, remove the groups from `keep` on, append `append`.
    Groups {
        rewrite: Vec<(usize, String)>,
        keep: usize,
        append: String,
    },
}

fn wrap(groups: &[String]) -> String {
    let mut s = String::with_capacity(groups.iter().map(|g| g.len() + 32).sum());
    for g in groups {
        s.push_str("<g class=\"group\">");
        s.push_str(g);
        s.push_str("</g>");
    }
    s
}

pub fn plan_threads(drawn: &[String], want: &[String]) -> ThreadDraw {
    if drawn == want {
        return ThreadDraw::Keep;
    }
    let keep = drawn.len().min(want.len());
    let rewrite: Vec<(usize, String)> =
        drawn.iter().zip(want).enumerate().filter(|(_, (d, w))| d != w).map(|(i, (_, w))| (i, w.clone())).collect();
    if drawn.is_empty() || want.is_empty() || (keep > 0 && rewrite.len() == keep) {
        return ThreadDraw::Whole(wrap(want));
    }
    ThreadDraw::Groups { rewrite, keep, append: wrap(&want[keep..]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muxscope_shared::{Interest, Role};

    fn room(n: i32) -> Vec<FdInfo> {
        let fd = |fd, role| FdInfo { fd, role, interest: Interest::Read, name: format!("c{fd}"), pending_out: 0 };
        std::iter::once(fd(3, Role::Listener)).chain((10..10 + n).map(|i| fd(i, Role::Tcp))).collect()
    }

    fn threads(n: i32) -> Vec<ThreadInfo> {
        std::iter::once(ThreadInfo { tid: 100, fd: 3, role: ThreadRole::Acceptor })
            .chain((0..n).map(|i| ThreadInfo { tid: 1000 + i, fd: 10 + i, role: ThreadRole::Reader }))
            .collect()
    }

    #[test]
    fn a_bead_per_thread_on_its_node_with_the_hooks() {
        let fds = room(3);
        let mut ts = threads(3);
        ts.push(ThreadInfo { tid: 2000, fd: 11, role: ThreadRole::Writer });
        ts.push(ThreadInfo { tid: 2001, fd: 99, role: ThreadRole::Reader }); // no such fd: not drawn
        let g = thread_groups(&fds, &ts);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].matches("data-testid=\"thread\"").count(), 5);
        assert!(g[0].starts_with("<circle data-testid=\"thread\" data-tid=\"100\" data-role=\"acceptor\" data-fd=\"3\""), "{}", g[0]);
        assert!(g[0].contains("data-tid=\"2000\" data-role=\"writer\" data-fd=\"11\" class=\"thread writer\""));
        assert_eq!(count(&ts), (1, 4, 1));
        assert!(thread_groups(&fds, &[]).is_empty(), "no threads, no layer");
    }

    #[test]
    fn two_thousand_threads_are_one_write_then_a_thread_that_goes_is_one_group() {
        let fds = room(2000);
        let first = thread_groups(&fds, &threads(2000));
        assert_eq!(first.len(), 2001usize.div_ceil(GROUP));
        let ThreadDraw::Whole(markup) = plan_threads(&[], &first) else { panic!("the first picture is one write") };
        assert_eq!(markup.matches("data-testid=\"thread\"").count(), 2001);
        assert_eq!(plan_threads(&first, &first.clone()), ThreadDraw::Keep);
        // The reader of the 100th client exits: its node's group alone is written again.
        let mut ts = threads(2000);
        ts.retain(|t| t.tid != 1099);
        match plan_threads(&first, &thread_groups(&fds, &ts)) {
            ThreadDraw::Groups { rewrite, keep, append } => {
                assert_eq!(rewrite.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [100 / GROUP]);
                assert_eq!((keep, append.as_str()), (first.len(), ""));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(plan_threads(&first, &[]), ThreadDraw::Whole(String::new()), "the model changed: one write empties the layer");
    }
}
