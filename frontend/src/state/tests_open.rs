//! A recording opened in a page that was live: its own story, untouched by the live stream.

use super::tests::{chat_turn, live, snap};
use super::*;
use muxscope_shared::ServerMsg;

fn recording() -> Vec<ServerMsg> {
    vec![ServerMsg::Snapshot(snap(100)), ServerMsg::Events { events: [chat_turn(101), chat_turn(105)].concat() }]
}

#[test]
fn an_opened_recording_starts_fresh_at_its_start_and_live_frames_leave_it_alone() {
    let mut m = live([chat_turn(11), chat_turn(15), chat_turn(19)].concat());
    m.update(Action::Connected(true));
    m.update(Action::Tick(1000.0));
    m.update(Action::Source(Source::File { name: "class.muxrec".into() }));
    m.update(Action::Open(recording()));
    assert!(m.player.paused && m.player.recorded && m.player.queue.is_empty());
    assert_eq!(m.player.calm_from, 0, "the live flood's calm point does not hide the recording's marks");
    assert_eq!(m.cursor(), m.timeline().first_index(), "paused at its start");
    let notes: Vec<&Note> = m.notes().map(|n| &n.note).collect();
    assert_eq!(notes, [&Note::Opened { events: m.timeline().end_index() }], "the live page's notes stay with it");
    assert_eq!(m.tally, Tally::default());

    // The live stream goes on arriving; none of it reaches the recording.
    let shown =
        |m: &Model| (m.timeline().first_index(), m.cursor(), m.timeline().end_index(), m.scene().snap.clone(), m.player.queue.len());
    let before = shown(&m);
    assert!(!m.update(Action::Server(ServerMsg::Events { events: chat_turn(23) })));
    m.update(Action::Receive(vec![ServerMsg::Snapshot(snap(40))], 2000.0));
    assert!(!m.update(Action::StreamClosed { reason: String::new(), retry_s: 1 }));
    assert!(!m.update(Action::Connected(false)));
    assert_eq!(shown(&m), before);
    assert_eq!(m.notes().count(), 1);

    // Stepped through, it plays its own events.
    assert!(m.update(Action::Step));
    assert_eq!(m.cursor(), m.timeline().first_index() + 1);
}

#[test]
fn a_step_or_step_back_at_an_edge_still_pauses_the_page() {
    let mut m = live(chat_turn(11));
    assert!(!m.player.paused);
    // At the live end with nothing queued, a step has nothing to play: the pause is the change.
    assert!(m.update(Action::Step), "the view must redraw the pause button");
    assert!(m.player.paused);
    m.update(Action::Resume);
    let first = m.timeline().first_index();
    m.update(Action::Seek(first));
    m.update(Action::Resume);
    assert!(m.update(Action::StepBack), "at the first index, the pause is the change");
    assert!(m.player.paused);
    assert!(!m.update(Action::StepBack), "paused at the first index: nothing changes");
}
