//! The histograms' fold: buckets, the rolling window by the events' clock, the round trip, and
//! the current model drawn apart from the previous one.

use super::plots::bucket;
use super::tests::{recv, send, wait, Feed};
use super::*;
use muxscope_shared::EventBody;

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

#[test]
fn buckets_are_log_scale_and_their_edges_agree() {
    for plot in Plot::ALL {
        for b in 0..BUCKETS {
            assert_eq!(bucket(plot, plot.lower_edge(b)), b, "{plot:?} {b}");
            if b > 0 {
                assert_eq!(bucket(plot, plot.lower_edge(b) - 1), b - 1, "{plot:?} below {b}");
            }
        }
        assert_eq!(bucket(plot, u64::MAX), BUCKETS - 1);
    }
    assert_eq!(bucket(Plot::Blocked, 5 * MS), 7, "5 ms: 4.096 ms ≤ v < 16.384 ms");
    assert_eq!(bucket(Plot::EventsPerWakeup, 3), 2);
    assert_eq!(bucket(Plot::BytesPerSend, 64), 3);
}

fn total(h: &Hist) -> u32 {
    h.iter().sum()
}

#[test]
fn each_plot_counts_what_it_says() {
    let mut f = Feed::new(IoModel::Epoll, &[5, 6]);
    // Turn 1: a line from fd 5 (recv at 2 ms) fans out; fd 5's copy is sent at 2.5 ms.
    f.at(MS, wait(500 * 1_000, &[5])).at(2 * MS, recv(5, 40, false)).at(2 * MS + 100_000, send(6, 30));
    f.at(2 * MS + 500_000, send(5, 30)).at(3 * MS, send(5, 1000)).at(4 * MS, wait(2 * MS, &[]));
    let s = f.scene.insight.plots.summary(4 * MS, 10, Some(IoModel::Epoll));
    let [blocked, epw, bytes, rtt] = &s.now;
    assert_eq!(total(blocked), 2);
    assert_eq!(blocked[bucket(Plot::Blocked, 500_000)], 1);
    assert_eq!(blocked[bucket(Plot::Blocked, 2 * MS)], 1);
    assert_eq!(total(epw), 1, "one turn ended");
    assert_eq!(epw[bucket(Plot::EventsPerWakeup, 4)], 1, "recv and three sends");
    assert_eq!(total(bytes), 3);
    assert_eq!(bytes[bucket(Plot::BytesPerSend, 1000)], 1);
    assert_eq!(total(rtt), 1, "only the sender's first send after its line");
    assert_eq!(rtt[bucket(Plot::RoundTrip, 500_000)], 1);
    assert_eq!(s.previous, None);
    assert_eq!(s.before, [[0; BUCKETS]; 4]);
}

#[test]
fn the_window_rolls_by_the_events_clock() {
    let mut f = Feed::new(IoModel::Epoll, &[5]);
    for sec in 0..70 {
        f.at(sec * S + 1, wait(MS, &[]));
    }
    let p = &f.scene.insight.plots;
    let at = |now, w| total(&p.summary(now, w, Some(IoModel::Epoll)).now[0]);
    assert_eq!(at(69 * S + 5, 10), 10);
    assert_eq!(at(69 * S + 5, 60), 60);
    // Seen from an earlier moment (a paused, stepped-back picture), slots after it are not counted.
    assert_eq!(at(30 * S + 5, 10), 10);
    assert_eq!(at(300 * S, 60), 0, "nothing in the last minute");
    assert!(p.heap_bytes() < 32 << 10, "bounded: {}", p.heap_bytes());
}

#[test]
fn a_switch_inside_the_window_keeps_the_previous_model_apart() {
    let mut f = Feed::new(IoModel::Poll, &[5]);
    f.at(S, wait(MS, &[])).at(2 * S, wait(MS, &[]));
    f.at(3 * S, EventBody::Handover { from: IoModel::Poll, to: IoModel::Epoll });
    f.at(3 * S + 1, EventBody::Model { model: IoModel::Epoll, from: Some(IoModel::Poll) });
    f.at(3 * S + 2, wait(10 * MS, &[])).at(4 * S, wait(10 * MS, &[])).at(4 * S + 1, wait(10 * MS, &[]));
    let s = f.scene.insight.plots.summary(4 * S + 1, 10, Some(IoModel::Epoll));
    assert_eq!((s.current, s.previous), (Some(IoModel::Epoll), Some(IoModel::Poll)));
    assert_eq!((total(&s.now[0]), total(&s.before[0])), (3, 2));
    // A gap forgets lines waiting for their send back.
    f.at(5 * S, recv(5, 40, false)).at(5 * S + 1, EventBody::gap(9)).at(5 * S + 2, send(5, 40));
    assert_eq!(total(&f.scene.insight.plots.summary(5 * S + 2, 10, Some(IoModel::Epoll)).now[3]), 0);
}
