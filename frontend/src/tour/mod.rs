//! Guided tours of the tutorial's lessons. A tour is a list of [`Step`]s; each says its text
//! (in the page's language, `crate::i18n::TourText`), what to highlight ([`Target`]), what to
//! do to the room first ([`Drive`]: bots through `/api/bots`, the model through `/api/model`),
//! and the pattern of events ([`Until`]) that makes it "arrived": the page then goes to the
//! event that matched and pauses there, so the class looks at the very moment the text
//! describes, not at whatever the loop did since.
//!
//! The engine ([`Run`]) is pure and tested natively: the view feeds it the events the history
//! holds and carries out the [`Effect`]s it returns. Patterns are matched against the history
//! (not the live stream), so a step whose events have already been played arrives at once, and
//! stepping back is a seek to where that step arrived.

mod matcher;
#[cfg(target_arch = "wasm32")]
pub(crate) mod panel;
#[cfg(test)]
mod tests;
mod tours;

use crate::i18n::{Lang, TourText};
pub use matcher::{Cond, End, Matcher};
use muxscope_shared::{Event, Model as IoModel};
pub use tours::TOURS;

/// A guided tour: its URL slug (`/#tour=NAME`), title and steps.
#[derive(Debug)]
pub struct Tour {
    pub name: &'static str,
    pub title: TourText,
    pub steps: &'static [Step],
}

/// One step of a tour.
#[derive(Debug)]
pub struct Step {
    pub text: TourText,
    pub target: Target,
    /// Done to the room as the step starts (the first time only: going back and forth through
    /// steps already seen drives nothing again).
    pub drive: &'static [Drive],
    pub until: Until,
}

/// The part of the page a step talks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A `data-testid`.
    TestId(&'static str),
    /// The fd nodes of a role (`data-role`: listener, tcp, web, bot, waker).
    Role(&'static str),
    /// Any CSS selector (a list may give a fallback: the first element that matches is lit).
    Css(&'static str),
}

impl Target {
    /// The CSS selector that finds it.
    pub fn selector(self) -> String {
        match self {
            Target::TestId(id) => format!("[data-testid=\"{id}\"]"),
            Target::Role(role) => format!("[data-testid=\"fd-node\"][data-role=\"{role}\"]"),
            Target::Css(css) => css.to_string(),
        }
    }
}

/// What a step does to the room.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Drive {
    /// `POST /api/bots {"add":N,"rate":R}`.
    AddBots { add: u32, rate: f64 },
    /// `DELETE /api/bots`.
    RemoveBots,
    /// `POST /api/model {"model":…}`.
    Model(IoModel),
}

impl Drive {
    /// The request: method, path and JSON body.
    pub fn request(self) -> (&'static str, &'static str, Option<String>) {
        match self {
            Drive::AddBots { add, rate } => ("POST", "/api/bots", Some(format!("{{\"add\":{add},\"rate\":{rate}}}"))),
            Drive::RemoveBots => ("DELETE", "/api/bots", None),
            Drive::Model(m) => ("POST", "/api/model", Some(crate::switch::request_body(m))),
        }
    }
}

/// When a step has arrived: once `pattern` has been seen in order (counted from the latest
/// step that drove the room), at the event that matched `pattern[at]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Until {
    pub pattern: &'static [Cond],
    pub at: usize,
}

/// What the view must do for the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Play live again (the step waits for new events).
    Live,
    /// Show the picture after history index `i - 1` (the matched event), paused.
    Seek(u64),
    /// A request to the gateway.
    Drive(Drive),
}

/// The tour named `name` (a URL slug).
pub fn find(name: &str) -> Option<&'static Tour> {
    TOURS.iter().find(|t| t.name == name)
}

/// The tour a location's hash asks for (`#tour=NAME`, maybe among other `&` parts).
pub fn from_hash(hash: &str) -> Option<&'static Tour> {
    hash.trim_start_matches('#').split('&').find_map(|kv| kv.strip_prefix("tour=")).and_then(find)
}

/// A tour under way.
#[derive(Debug)]
pub struct Run {
    pub tour: &'static Tour,
    pub step: usize,
    /// Where patterns are matched from: the history's end when the latest driving step began.
    origin: u64,
    /// Each step's arrival (the history index of its matched event), once reached.
    arrived: Vec<Option<u64>>,
    /// Steps whose drives went (a step skipped before it arrived and entered again drives
    /// nothing twice).
    driven: Vec<bool>,
    matcher: Matcher,
    /// Events up to this index were fed to the matcher.
    fed: u64,
    /// Whether it added bots, and the model serving when it first switched one (both undone
    /// at the end).
    added_bots: bool,
    switched_from: Option<IoModel>,
    serving: Option<IoModel>,
}

impl Run {
    /// Starts `tour` with the history ending at `end` and `serving` the model now.
    pub fn start(tour: &'static Tour, end: u64, serving: Option<IoModel>) -> (Run, Vec<Effect>) {
        let mut run = Run {
            tour,
            step: 0,
            origin: end,
            arrived: vec![None; tour.steps.len()],
            driven: vec![false; tour.steps.len()],
            matcher: Matcher::new(tour.steps[0].until.pattern),
            fed: end,
            added_bots: false,
            switched_from: None,
            serving,
        };
        let fx = run.enter(end);
        (run, fx)
    }

    pub fn current(&self) -> &'static Step {
        &self.tour.steps[self.step]
    }

    /// The step's text in `lang`.
    pub fn text(&self, lang: Lang) -> &'static str {
        self.current().text.t(lang)
    }

    pub fn is_arrived(&self) -> bool {
        self.arrived[self.step].is_some()
    }

    pub fn is_last(&self) -> bool {
        self.step + 1 == self.tour.steps.len()
    }

    /// Events from this index on are the ones [`Run::feed`] wants next.
    pub fn fed(&self) -> u64 {
        self.fed
    }

    /// Events the history holds after [`Run::fed`], up to `end` (the history's end): when the
    /// step's pattern is complete, the step has arrived and the picture goes to its event.
    /// `shows` is what the history's end shows (see [`Matcher::see_state`]).
    pub fn feed(&mut self, events: &[(u64, Event)], end: u64, shows: &End) -> Option<Effect> {
        self.fed = self.fed.max(end);
        if self.is_arrived() {
            return None;
        }
        let want = self.current().until.at;
        // A switch the events do not tell is placed at the first of them (the views feed a
        // tick's worth at a time), so what follows it can still match.
        let first = events.first().map_or(end.saturating_sub(1), |(i, _)| *i);
        let mut hits = self.matcher.see_state(first, shows).map(<[u64]>::to_vec);
        for (i, e) in events {
            if hits.is_some() {
                break;
            }
            hits = self.matcher.see(*i, &e.body).map(<[u64]>::to_vec);
        }
        let hits = hits?;
        let at = hits[want.min(hits.len() - 1)];
        self.arrived[self.step] = Some(at);
        Some(Effect::Seek(at + 1))
    }

    /// Into step `self.step`: shown where it arrived, or (the first time) its drives and a
    /// fresh pattern, matched from the origin, with the page live.
    fn enter(&mut self, end: u64) -> Vec<Effect> {
        if let Some(at) = self.arrived[self.step] {
            return vec![Effect::Seek(at + 1)];
        }
        let step = self.current();
        let mut fx = vec![Effect::Live];
        if !step.drive.is_empty() && !self.driven[self.step] {
            self.driven[self.step] = true;
            self.origin = end;
            for d in step.drive {
                match d {
                    Drive::AddBots { .. } => self.added_bots = true,
                    Drive::Model(_) if self.switched_from.is_none() => self.switched_from = self.serving.or(Some(IoModel::Epoll)),
                    _ => {}
                }
                fx.push(Effect::Drive(*d));
            }
        }
        self.matcher = Matcher::new(step.until.pattern);
        self.fed = self.origin;
        if step.until.pattern.is_empty() {
            self.arrived[self.step] = Some(end.saturating_sub(1));
            return vec![];
        }
        fx
    }

    /// The next step (nothing at the last).
    pub fn next(&mut self, end: u64) -> Vec<Effect> {
        if self.is_last() {
            return vec![];
        }
        self.step += 1;
        self.enter(end)
    }

    /// The step before, shown where it arrived (nothing at the first).
    pub fn back(&mut self, end: u64) -> Vec<Effect> {
        if self.step == 0 {
            return vec![];
        }
        self.step -= 1;
        self.enter(end)
    }

    /// What ending the tour undoes: the bots it added go, the model it switched from is back.
    pub fn end(&self) -> Vec<Effect> {
        let mut fx = vec![Effect::Live];
        if self.added_bots {
            fx.push(Effect::Drive(Drive::RemoveBots));
        }
        if let Some(m) = self.switched_from {
            fx.push(Effect::Drive(Drive::Model(m)));
        }
        fx
    }
}
