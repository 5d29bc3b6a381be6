//! How the view changes the page's state: one [`Model`], changed in place by each [`Action`]
//! (no copy of the model, its history or its queue per action), and a render asked for when
//! the action changed something.

use crate::state::{Action, Model};
use std::cell::RefCell;
use std::rc::Rc;
use yew::prelude::*;

#[derive(Clone)]
pub struct Dispatch {
    model: Rc<RefCell<Model>>,
    redraw: Rc<dyn Fn()>,
}

/// One model, one dispatcher: components that hold it need no redraw when the page redraws.
impl PartialEq for Dispatch {
    fn eq(&self, other: &Dispatch) -> bool {
        Rc::ptr_eq(&self.model, &other.model)
    }
}

impl Dispatch {
    pub fn new(model: Rc<RefCell<Model>>, redraw: impl Fn() + 'static) -> Dispatch {
        Dispatch { model, redraw: Rc::new(redraw) }
    }

    pub fn dispatch(&self, action: Action) {
        // A tick that would change nothing costs nothing (the view ticks 20 times a second).
        if let Action::Tick(now) = action {
            if !self.model.borrow().needs_tick(now) {
                return;
            }
        }
        // The borrow ends before the redraw is asked for: Yew may render at once.
        let changed = self.model.borrow_mut().update(action);
        if changed {
            (self.redraw)();
        }
    }

    /// Reads the model (for callbacks that ask it something, e.g. whether it takes frames).
    pub fn with<T>(&self, f: impl FnOnce(&Model) -> T) -> T {
        f(&self.model.borrow())
    }

    pub fn callback<E>(&self, f: impl Fn(E) -> Option<Action> + 'static) -> Callback<E> {
        let d = self.clone();
        Callback::from(move |e: E| {
            if let Some(a) = f(e) {
                d.dispatch(a);
            }
        })
    }
}
