//! The tour panel (`data-testid="tour"`, with `data-tour`, `data-step` and `data-target`): the
//! step's text, *back* and *next*, and the end; a menu starts a tour, as does a link
//! `/#tour=NAME`. It carries out the engine's [`Effect`]s: requests to the gateway, and the
//! player's `Live` and `Seek` through the page's reducer (a tour's pause is the page's pause,
//! so the controls and the history work as ever while it shows).

use super::{find, from_hash, Effect, End, Run, TOURS};
use crate::dispatch::Dispatch;
use crate::fetch;
use crate::i18n::{Lang, TourText};
use crate::state::Action;
use gloo_timers::callback::{Interval, Timeout};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsCast;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function tour_light(sel) {
  for (const el of Array.from(document.querySelectorAll('.tour-hl'))) el.classList.remove('tour-hl');
  if (!sel) return 0;
  let found = [];
  try { found = Array.from(document.querySelectorAll(sel)).slice(0, 64); } catch (e) { return 0; }
  for (const el of found) el.classList.add('tour-hl');
  return found.length;
}
"#)]
extern "C" {
    /// Lights the first elements `sel` finds (and unlights the rest); how many it lit.
    fn tour_light(sel: &str) -> u32;
}

/// How long after the page is calm a step's drives go (its pace reaching the gateway).
const DRIVE_AFTER_MS: u32 = 400;
/// How often, and how many times, the page is looked at for calm before a drive goes anyway.
const CALM_LOOK_MS: u32 = 250;
const CALM_TRIES: u32 = 40;

/// How often the highlight is laid again: the stage redraws its nodes' classes as they flash.
const RELIGHT_MS: u32 = 400;

#[derive(Properties, PartialEq)]
pub struct TourProps {
    pub dispatch: Dispatch,
    /// The history's end index: the panel feeds the engine what was played since.
    pub end: u64,
}

/// Carries out the engine's effects.
fn carry(d: &Dispatch, fx: Vec<Effect>) {
    for e in fx {
        match e {
            Effect::Live => d.dispatch(Action::Live),
            Effect::Seek(i) => d.dispatch(Action::Seek(i)),
            Effect::Drive(drive) => drive_when_calm(d.clone(), drive, CALM_TRIES),
        }
    }
}

/// Sends `drive` once the page draws every event again (or after [`CALM_TRIES`] looks): while
/// it draws still pictures (paused, or calming down after a flood it folded) the gateway folds
/// the stream for it, and what the drive makes happen (a refusal, a switch) would reach the
/// page folded into a gap. The page tells the gateway as it changes, so the drive waits a
/// little more after that.
fn drive_when_calm(d: Dispatch, drive: super::Drive, tries: u32) {
    let calm = !d.with(|m| m.draws_still());
    let later = move || {
        if calm || tries == 0 {
            let _ = Timeout::new(DRIVE_AFTER_MS, move || {
                let (method, path, body) = drive.request();
                fetch::request(method, path, body, |_, _| {});
            })
            .forget();
        } else {
            drive_when_calm(d, drive, tries - 1);
        }
    };
    let _ = Timeout::new(CALM_LOOK_MS, later).forget();
}

fn end_index(d: &Dispatch) -> u64 {
    d.with(|m| m.timeline().end_index())
}

/// Feeds the run what the history holds since it last looked, and carries out an arrival.
fn feed(d: &Dispatch, run: &RefCell<Option<Run>>) -> bool {
    let end = end_index(d);
    let fx = {
        let mut r = run.borrow_mut();
        let Some(run) = r.as_mut() else { return false };
        if run.fed() >= end && run.is_arrived() {
            return false;
        }
        let (events, shows) = d.with(|m| (m.timeline().events_between(run.fed(), end), End::of(m.timeline().history().head())));
        run.feed(&events, end, &shows)
    };
    let arrived = fx.is_some();
    carry(d, fx.into_iter().collect());
    arrived
}

#[function_component(TourPanel)]
pub fn tour_panel(p: &TourProps) -> Html {
    let lang = use_context::<Lang>().unwrap_or_default();
    let run: Rc<RefCell<Option<Run>>> = use_mut_ref(|| None);
    let redraw = use_force_update();
    let start = {
        let (d, run, redraw) = (p.dispatch.clone(), run.clone(), redraw.clone());
        Callback::from(move |name: String| {
            let Some(tour) = find(&name) else { return };
            // A tour started over another ends that one first (its bots go).
            if let Some(old) = run.borrow_mut().take() {
                carry(&d, old.end());
            }
            let (r, fx) = Run::start(tour, end_index(&d), d.with(|m| m.io_model()));
            run.replace(Some(r));
            carry(&d, fx);
            feed(&d, &run);
            redraw.force_update();
        })
    };
    {
        // A link `/#tour=NAME` starts its tour: as the page opens, and when a link in the page
        // changes the hash (no reload then).
        let start = start.clone();
        use_effect_with((), move |_| {
            let from_location = move || {
                let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
                if let Some(t) = from_hash(&hash) {
                    start.emit(t.name.to_string());
                }
            };
            from_location();
            let on_hash = Closure::<dyn Fn()>::new(from_location);
            let window = web_sys::window();
            if let Some(w) = &window {
                let _ = w.add_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
            }
            move || {
                if let Some(w) = &window {
                    let _ = w.remove_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
                }
            }
        });
    }
    {
        let (d, run, redraw) = (p.dispatch.clone(), run.clone(), redraw.clone());
        use_effect_with(p.end, move |_| {
            if feed(&d, &run) {
                redraw.force_update();
            }
        });
    }
    let target = run.borrow().as_ref().map(|r| r.current().target.selector());
    {
        // The highlight, laid now and again while the step shows (and lifted after).
        use_effect_with(target.clone(), move |t| {
            let sel = t.clone().unwrap_or_default();
            tour_light(&sel);
            let iv = (!sel.is_empty()).then(|| {
                let sel = sel.clone();
                Interval::new(RELIGHT_MS, move || {
                    tour_light(&sel);
                })
            });
            move || {
                drop(iv);
                tour_light("");
            }
        });
    }
    let borrowed = run.borrow();
    let Some(r) = borrowed.as_ref() else {
        let onchange = start.reform(|e: Event| e.target_unchecked_into::<HtmlSelectElement>().value());
        return html! {
            <label class="tour-menu">{ TourText::Menu.t(lang) }
                <select data-testid="tour-menu" {onchange}>
                    <option value="" selected=true>{ TourText::Choose.t(lang) }</option>
                    { for TOURS.iter().map(|t| html! { <option value={t.name}>{ t.title.t(lang) }</option> }) }
                </select>
            </label>
        };
    };
    let mover = |forward: bool| {
        let (d, run, redraw) = (p.dispatch.clone(), run.clone(), redraw.clone());
        Callback::from(move |_: MouseEvent| {
            let end = end_index(&d);
            let fx = match run.borrow_mut().as_mut() {
                Some(r) if forward => r.next(end),
                Some(r) => r.back(end),
                None => return,
            };
            carry(&d, fx);
            feed(&d, &run);
            redraw.force_update();
        })
    };
    let finish = {
        let (d, run, redraw) = (p.dispatch.clone(), run.clone(), redraw.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(old) = run.borrow_mut().take() {
                carry(&d, old.end());
            }
            if let Some(w) = web_sys::window() {
                let _ = w.location().set_hash("");
            }
            redraw.force_update();
        })
    };
    let n = r.tour.steps.len();
    let state = if r.is_arrived() { TourText::Arrived } else { TourText::Waiting };
    html! {
        <div class={classes!("tour", r.is_arrived().then_some("arrived"))} data-testid="tour" data-tour={r.tour.name}
             data-step={r.step.to_string()} data-target={target.unwrap_or_default()} data-arrived={r.is_arrived().to_string()} role="region">
            <div class="tour-head">
                <b>{ r.tour.title.t(lang) }</b>
                <span class="tour-count">{ format!("{} {}/{n}", TourText::Step.t(lang), r.step + 1) }</span>
                <span class="tour-state">{ state.t(lang) }</span>
            </div>
            <p class="tour-text">{ r.text(lang) }</p>
            <div class="tour-buttons">
                <button data-testid="tour-back" disabled={r.step == 0} onclick={mover(false)}>{ TourText::Back.t(lang) }</button>
                <button data-testid="tour-next" disabled={r.is_last()} onclick={mover(true)}>{ TourText::Next.t(lang) }</button>
                <button data-testid="tour-end" onclick={finish}>{ TourText::End.t(lang) }</button>
            </div>
        </div>
    }
}
