//! The model-based test of the owner: seeded random sequences through [`Sim`], and the cases
//! that broke before, by name.

use super::sim::{Sim, Work};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One random history: `steps` loop turns, each with what people would do and what they would
/// not think of doing, at random times.
fn random_case(seed: u64, steps: usize) -> Result<(), String> {
    let mut sim = Sim::new(seed);
    sim.open();
    let mut log = Vec::new();
    for _ in 0..steps {
        let r = sim.rng.below(100);
        let work = match r {
            0..=9 => Work::Join(1 + sim.rng.sometimes_below(0.3, 120, 8) as usize),
            10..=16 => Work::Leave(1 + sim.rng.sometimes_below(0.3, 120, 6) as usize),
            17..=44 => Work::Talk(1 + sim.rng.sometimes_below(0.2, 40, 3) as usize),
            45..=49 => Work::Nick,
            50..=54 => Work::SlowReader,
            _ => Work::Idle,
        };
        // What the watchers and the hub do meanwhile.
        let pages = sim.open_pages();
        match sim.rng.below(100) {
            0..=3 => {
                sim.open();
                log.push("open");
            }
            4..=6 if !pages.is_empty() => {
                let id = pages[sim.rng.below(pages.len() as u64) as usize];
                sim.close(id);
                log.push("close");
            }
            7..=10 if !pages.is_empty() => {
                let id = pages[sim.rng.below(pages.len() as u64) as usize];
                let d = ms(100 + sim.rng.below(3000));
                sim.stall_page(id, d);
                log.push("stall page");
            }
            11..=16 if !pages.is_empty() => {
                let id = pages[sim.rng.below(pages.len() as u64) as usize];
                let still = sim.rng.chance(0.5);
                sim.pace(id, still);
                log.push("pace");
            }
            17..=18 => {
                let d = ms(50 + sim.rng.below(1500));
                sim.stall_hub(d);
                log.push("stall hub");
            }
            _ => {}
        }
        let dt = ms(1 + sim.rng.sometimes_below(0.1, 400, 25));
        sim.step(work, dt);
    }
    sim.settle();
    sim.check().map_err(|e| format!("seed {seed}: {e} ({} clients; {} pages open)", sim.clients(), sim.open_pages().len()))
}

fn cases() -> u64 {
    std::env::var("MUXSCOPE_SIM_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
}

/// The seeds `part` of `PARTS` runs: the cases are split so the test harness runs them on
/// every core.
fn run_part(part: u64) {
    const PARTS: u64 = 4;
    let failures: Vec<String> =
        (0..cases()).filter(|s| s % PARTS == part).filter_map(|seed| random_case(seed, 120).err()).take(5).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_watcher_ends_up_with_the_loops_table_whatever_happened_0() {
    run_part(0);
}

#[test]
fn every_watcher_ends_up_with_the_loops_table_whatever_happened_1() {
    run_part(1);
}

#[test]
fn every_watcher_ends_up_with_the_loops_table_whatever_happened_2() {
    run_part(2);
}

#[test]
fn every_watcher_ends_up_with_the_loops_table_whatever_happened_3() {
    run_part(3);
}

/// The reproduction, scaled down: a crowd and a talker while a page watches; the page
/// closes; the crowd leaves and a bigger one joins while nobody watches; a page opens again.
/// Its first picture must be the new crowd, not the old one it saw last.
#[test]
fn reproduction_a_crowd_that_changed_while_nobody_watched() {
    let mut sim = Sim::new(7);
    let page = sim.open();
    sim.step(Work::Join(100), ms(10));
    for _ in 0..50 {
        sim.step(Work::Talk(1), ms(10));
    }
    sim.settle();
    sim.check().expect("watched the first crowd");
    sim.close(page);
    // Nobody watches: the first crowd leaves, a bigger one joins, the talker goes on.
    sim.step(Work::Leave(100), ms(10));
    sim.step(Work::Join(300), ms(10));
    for _ in 0..50 {
        sim.step(Work::Talk(1), ms(10));
    }
    assert_eq!(sim.clients(), 300);
    let page = sim.open();
    // The loop waits (nothing changes) while the page gets its first picture.
    while !sim.has_picture(page) {
        sim.step(Work::Idle, ms(10));
    }
    sim.check().expect("the new page's first picture is the present, not the crowd it saw last");
    for _ in 0..20 {
        sim.step(Work::Talk(1), ms(10));
    }
    sim.settle();
    sim.check().expect("and stays so");
}

/// A page that goes still just as a crowd joins, over its snapshot budget, and a page that
/// lags through the same crowd: both end up exact.
#[test]
fn still_and_lagging_pages_through_a_crowd() {
    let mut sim = Sim::new(11);
    let still = sim.open();
    let slow = sim.open();
    sim.step(Work::Idle, ms(10));
    sim.pace(still, true);
    sim.stall_page(slow, ms(2000));
    for _ in 0..10 {
        sim.step(Work::Join(120), ms(30));
        sim.step(Work::Talk(5), ms(30));
    }
    sim.settle();
    sim.check().unwrap();
}

/// The hub stalls while the room floods: the loop's queue fills and it drops events, table
/// changes among them. The mirror is stale until the loop's own snapshot mends it.
#[test]
fn events_the_loop_dropped_are_mended_by_its_snapshot() {
    let mut sim = Sim::new(13);
    sim.open();
    sim.step(Work::Idle, ms(50));
    sim.stall_hub(ms(1500));
    for i in 0..120 {
        let work = if i % 3 == 0 { Work::Join(4) } else { Work::Talk(2) };
        sim.step(work, ms(10));
    }
    sim.settle();
    sim.check().unwrap();
}
