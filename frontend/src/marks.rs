//! The marks the stage draws on fd nodes, from the scene's flashes. The scene records each fd's
//! last mark with the index of the event that made it; drawing it is the view's business:
//! - each node's marks are counted, and the stage alternates a mark's animation name on the
//!   count, so a new mark restarts its animation in place;
//! - live and busy, the picture is a still one: a mark whose event changed keeps its count, so a
//!   still mark that keeps its kind is not redrawn (a flood repaints only the nodes whose mark
//!   changed kind);
//! - marks (and a fan-out) made before the player's `calm_from` are not drawn: when a flood
//!   ends, its still marks are up to a second and a half old, and calm they would all start
//!   animating at once, as if it were happening now.

use crate::state::{Flash, Played, Scene};
use std::collections::HashMap;
use std::rc::Rc;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Marks {
    /// Per fd: the mark, the index of the event that made it, and the node's count.
    seen: HashMap<i32, (Flash, u64, u64)>,
    /// Per fd: the mark and its count, as the stage draws it.
    drawn: HashMap<i32, (Flash, u64)>,
}

impl Marks {
    /// Brings the marks to `scene`'s. True when a drawn mark changed.
    pub fn update(&mut self, scene: &Scene, calm_from: u64, still: bool) -> bool {
        let flashes = &scene.flashes;
        let before = self.drawn.len();
        let mut changed = false;
        self.seen.retain(|fd, _| flashes.get(fd).is_some_and(|(_, i)| *i >= calm_from));
        self.drawn.retain(|fd, _| flashes.get(fd).is_some_and(|(_, i)| *i >= calm_from));
        changed |= self.drawn.len() != before;
        for (fd, &(kind, index)) in flashes.iter().filter(|(_, (_, i))| *i >= calm_from) {
            let n = match self.seen.get(fd) {
                Some(&(k, i, _)) if i == index && k == kind => continue,
                Some(&(_, _, n)) if still => n,
                Some(&(_, _, n)) => n + 1,
                None => 0,
            };
            self.seen.insert(*fd, (kind, index, n));
            changed |= self.drawn.insert(*fd, (kind, n)) != Some((kind, n));
        }
        changed
    }

    /// A node's mark and count, if it has one drawn.
    pub fn get(&self, fd: i32) -> Option<(Flash, u64)> {
        self.drawn.get(&fd).copied()
    }

    /// Every drawn mark.
    pub fn drawn(&self) -> &HashMap<i32, (Flash, u64)> {
        &self.drawn
    }
}

/// The fan-out to draw, unless it is older than `calm_from`.
pub fn fanout(scene: &Scene, calm_from: u64) -> Option<&Rc<Played>> {
    scene.fanout.as_ref().filter(|p| p.index >= calm_from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(marks: &[(i32, Flash, u64)]) -> Scene {
        let mut s = Scene::default();
        s.flashes = marks.iter().map(|&(fd, k, i)| (fd, (k, i))).collect();
        s
    }

    #[test]
    fn a_new_mark_counts_up_and_a_still_one_stays() {
        let mut m = Marks::default();
        assert!(m.update(&scene(&[(5, Flash::Ready, 1), (6, Flash::Ready, 1)]), 0, false));
        assert_eq!(m.get(5), Some((Flash::Ready, 0)));
        assert!(!m.update(&scene(&[(5, Flash::Ready, 1), (6, Flash::Ready, 1)]), 0, false), "nothing new");
        m.update(&scene(&[(5, Flash::Copy, 2), (6, Flash::Ready, 1)]), 0, false);
        assert_eq!(m.get(5), Some((Flash::Copy, 1)), "a new mark restarts its animation");
        assert_eq!(m.get(6), Some((Flash::Ready, 0)));
        // Still: the same kind from a newer event is not redrawn; another kind is.
        assert!(!m.update(&scene(&[(5, Flash::Copy, 9), (6, Flash::Ready, 1)]), 0, true));
        assert_eq!(m.get(5), Some((Flash::Copy, 1)));
        assert!(m.update(&scene(&[(5, Flash::Send, 10), (6, Flash::Ready, 1)]), 0, true));
        assert_eq!(m.get(5), Some((Flash::Send, 1)));
    }

    #[test]
    fn marks_from_before_the_calm_are_not_drawn() {
        let mut m = Marks::default();
        m.update(&scene(&[(5, Flash::Ready, 3), (6, Flash::Send, 8)]), 0, true);
        assert!(m.update(&scene(&[(5, Flash::Ready, 3), (6, Flash::Send, 8)]), 8, false));
        assert_eq!((m.get(5), m.get(6)), (None, Some((Flash::Send, 0))));
        assert!(m.update(&scene(&[(6, Flash::Send, 8)]), 8, false) || m.get(5).is_none());
        m.update(&scene(&[]), 8, false);
        assert!(m.drawn().is_empty(), "a mark the scene dropped goes");
    }
}
