//! The bar above the stage: where the loop waits. For the pollers and sigio, the last wait and
//! its ready list; the non-blocking model waits nowhere, so its bar counts the EAGAINs of its
//! sweeps and says how it naps; the blocking model's threads each wait in their own recvfrom.

use crate::compare::num;
use crate::i18n::Ui;
use crate::models;
use crate::state::{Model, Nap};
use crate::text::{self, ms};
use crate::threads;
use muxscope_shared::{EventBody, Model as IoModel};
use yew::prelude::*;

pub(crate) fn wait_bar(m: &Model) -> Html {
    match m.io_model() {
        Some(IoModel::Nonblocking) => sweep_bar(m),
        Some(IoModel::Blocking) => threads_bar(m),
        _ => last_wait(m),
    }
}

fn last_wait(m: &Model) -> Html {
    let wait = m.scene().wait.as_ref();
    let Some((p, EventBody::Wait { timeout_ms, registered, ready, ready_total, blocked_ns, scanned, rescan, overflow })) =
        wait.map(|p| (p, &p.event.body))
    else {
        return html! { <div class="waitbar">{ Ui::FirstWakeup.t(m.lang) }</div> };
    };
    let timeout = if *timeout_ms < 0 { "∞".to_string() } else { format!("{timeout_ms} ms") };
    let scan = models::scan_note(m.io_model(), *scanned, *rescan, *overflow, m.lang);
    // Busy: the bar and its chips are updated in place (a still picture needs no pop-in, and
    // new elements cost far more than new text).
    let busy = m.busy();
    let chips: Vec<Html> = ready
        .iter()
        .take(12)
        .map(|r| {
            let text = format!("fd {} {}", r.fd, r.flags);
            if busy {
                html! { <span class="chip">{ text }</span> }
            } else {
                html! { <span class="chip" key={r.fd}>{ text }</span> }
            }
        })
        .collect();
    let shown = ready.len().min(12);
    let more =
        (*ready_total as usize > shown).then(|| html! { <span class="chip more">{ format!("+{}", *ready_total as usize - shown) }</span> });
    html! {
        <div class="waitbar" key={if busy { 0 } else { p.index }}>
            <code>{ format!("{}({registered} fds, timeout {timeout})", p.model.wait_call()) }</code>
            <span class="blocked">{ text::slept(*blocked_ns, m.lang) }</span>
            <b>{ text::ready(*ready_total, m.lang) }</b>
            { for chips }
            { for more }
            <span class="scan">{ scan }</span>
        </div>
    }
}

/// The non-blocking model: no wait, a sweep of recvs, most of them EAGAIN.
fn sweep_bar(m: &Model) -> Html {
    let nap = match m.nap() {
        Nap::Sleeps(ns) => text::sleeps(&ms(ns), m.lang),
        Nap::Spins => Ui::Spins.t(m.lang).to_string(),
        Nap::Unknown => Ui::NoSweepYet.t(m.lang).to_string(),
    };
    // The page sees the events the gateway sends it; the server counts every one.
    let counted = m
        .report
        .as_ref()
        .and_then(|r| r.rows.iter().find(|s| s.serving && s.model == IoModel::Nonblocking))
        .map(|s| html! { <span class="blocked">{ text::server_counts(&num(s.eagain_per_s), m.lang) }</span> });
    // A flood reaches the page as a sample and a count: the rate seen, scaled by the share sent.
    let (seen, all) = (m.tally.rates.eagains, m.tally.rates.eagains_all);
    let sampled = (all > seen * 1.05).then(|| html! { <span class="blocked">{ text::sampled(&num(seen), m.lang) }</span> });
    html! {
        <div class="waitbar sweep" data-testid="nonblocking">
            <code>{ Ui::NoWait.t(m.lang) }</code>
            <b data-testid="eagain-rate" title={Ui::EagainTitle.t(m.lang)}>
                { format!("{} EAGAIN/s", num(all)) }
            </b>
            { for sampled }
            { for counted }
            <span class="scan" data-testid="nap">{ nap }</span>
        </div>
    }
}

/// The blocking model: no loop waits; each connection's thread blocks in its own recvfrom.
fn threads_bar(m: &Model) -> Html {
    let (acceptors, readers, writers) = threads::count(&m.scene().snap.threads);
    html! {
        <div class="waitbar threads">
            <code>{ "recvfrom(fd, …)" }</code>
            <span class="blocked">{ Ui::EveryReader.t(m.lang) }</span>
            <span class="scan">{ text::thread_roles(acceptors, readers, writers, m.lang) }</span>
        </div>
    }
}
