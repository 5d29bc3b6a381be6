//! The relay's bookkeeping over generated sequences: every local line is either published
//! exactly once (its PUBLISH left in the bytes handed to the socket) or counted as not relayed;
//! its own lines never come back to it; another node's lines arrive once each.

use super::resp::{self, Reply};
use super::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Say,
    /// The socket takes this share (‰) of what is owed.
    Send(u16),
    Down,
    Up,
    /// Another node's line, with its sequence number's step.
    Remote(u8),
    /// This node's own line echoed back by Redis.
    Echo,
    Tick,
    /// Redis answers the oldest PUBLISH it was sent.
    Ack,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Say),
        3 => (0u16..=1000).prop_map(Op::Send),
        1 => Just(Op::Down),
        1 => Just(Op::Up),
        2 => (1u8..4).prop_map(Op::Remote),
        1 => Just(Op::Echo),
        1 => Just(Op::Tick),
        2 => Just(Op::Ack),
    ]
}

fn push(channel: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut v = format!(">3\r\n$7\r\nmessage\r\n${}\r\n", channel.len()).into_bytes();
    v.extend_from_slice(channel);
    v.extend_from_slice(format!("\r\n${}\r\n", payload.len()).as_bytes());
    v.extend_from_slice(payload);
    v.extend_from_slice(b"\r\n");
    v
}

fn subscribed(r: &mut Relay, now: Instant) {
    r.connecting(now);
    r.connected();
    let confirm = b">3\r\n$9\r\nsubscribe\r\n$13\r\nmuxscope:room\r\n:1\r\n>3\r\n$9\r\nsubscribe\r\n$17\r\nmuxscope:presence\r\n:2\r\n";
    assert!(r.input(confirm, now).unwrap().is_empty());
    assert_eq!(r.state(), RelayState::Up);
}

/// PUBLISH commands of any channel in `wire` (whole commands only).
fn published_commands(wire: &[u8]) -> u64 {
    let mut at = 0;
    let mut n = 0;
    while let Some((frame, used)) = redis_protocol::resp3::decode::complete::decode(&wire[at..]).unwrap() {
        at += used;
        if let redis_protocol::resp3::types::OwnedFrame::Array { data, .. } = frame {
            n += matches!(&data[0], redis_protocol::resp3::types::OwnedFrame::BlobString { data, .. } if data == b"PUBLISH") as u64;
        }
    }
    n
}

/// The room lines published in `wire` (whole commands only).
fn published_lines(wire: &[u8]) -> Vec<u64> {
    let mut at = 0;
    let mut seqs = Vec::new();
    // Commands are arrays of bulk strings: read them as RESP frames of our own making.
    while let Some((frame, n)) = redis_protocol::resp3::decode::complete::decode(&wire[at..]).unwrap() {
        at += n;
        if let redis_protocol::resp3::types::OwnedFrame::Array { data, .. } = frame {
            let arg = |i: usize| match &data[i] {
                redis_protocol::resp3::types::OwnedFrame::BlobString { data, .. } => data.clone(),
                _ => panic!("not a bulk string"),
            };
            if arg(0) == b"PUBLISH" && arg(1) == wire::ROOM {
                if let Msg::Line { seq, .. } = Msg::decode(&arg(2)).unwrap() {
                    seqs.push(seq);
                }
            }
        }
    }
    seqs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn every_line_is_relayed_once_or_counted(ops in proptest::collection::vec(op(), 1..120)) {
        let now = Instant::now();
        let mut r = Relay::new("redis://127.0.0.1:6379", "B".into(), 2_000, HEARTBEAT, now).unwrap();
        let mut offered = 0u64;
        let mut wire_out = Vec::new();
        let mut remote_seq = 0u64;
        let mut remote_sent = 0u64;
        let mut remote_got = Vec::new();
        let mut delivered = 0u64;
        let mut answered = 0u64;
        let mut conn_start = 0usize;
        for op in ops {
            match op {
                Op::Say => {
                    offered += 1;
                    let up = r.state() == RelayState::Up;
                    match r.publish("alice", "hello there") {
                        Ok(()) => prop_assert!(up),
                        Err(Lost::Down) => prop_assert!(!up),
                        Err(Lost::Slow) => prop_assert!(up && r.out().len() > 1_000),
                    }
                }
                Op::Send(share) => {
                    let n = r.out().len() * share as usize / 1000;
                    wire_out.extend_from_slice(&r.out()[..n]);
                    r.sent(n);
                }
                Op::Down => {
                    r.down("reset".into(), now);
                    // The socket is gone: a command cut in half never reached Redis (it drops
                    // the rest with the link).
                    let mut at = 0;
                    while let Some((_, n)) = redis_protocol::resp3::decode::complete::decode(&wire_out[at..]).unwrap() { at += n; }
                    wire_out.truncate(at);
                    (conn_start, answered) = (wire_out.len(), 0);
                }
                Op::Up => {
                    if r.state() != RelayState::Up {
                        subscribed(&mut r, now);
                    }
                }
                Op::Remote(step) => {
                    remote_seq += step as u64;
                    let line = Msg::Line { node: "A".into(), inst: 99, seq: remote_seq, from: "bob".into(), text: format!("n{remote_seq}") };
                    if r.state() == RelayState::Up {
                        remote_sent += 1;
                        let got = r.input(&push(wire::ROOM, &line.encode()), now).unwrap();
                        prop_assert_eq!(got.len(), 1);
                        prop_assert_eq!(&got[0].name, "bob@A");
                        remote_got.push(got[0].text.clone());
                        delivered += 1;
                    }
                }
                Op::Echo => {
                    let own = Msg::Line { node: "B".into(), inst: r.inst, seq: 0, from: "alice".into(), text: "x".into() };
                    if r.state() == RelayState::Up {
                        prop_assert!(r.input(&push(wire::ROOM, &own.encode()), now).unwrap().is_empty(), "its own line came back");
                    }
                }
                Op::Tick => {
                    r.tick(now + HEARTBEAT * 2, 3, Vec::new);
                }
                Op::Ack => {
                    // Only what was sent whole can be answered.
                    let sent = published_commands(&wire_out[conn_start..]) - answered;
                    if r.state() == RelayState::Up && sent > 0 {
                        r.input(b":1\r\n", now).unwrap();
                        answered += 1;
                    }
                }
            }
            let s = r.status(None, 0);
            let queued = r.out_lines.len() as u64;
            // Every line offered is published (sent or still queued), or counted as lost.
            prop_assert_eq!(s.published + s.lost_down + s.lost_slow, offered);
            // What left for Redis is the published lines not still queued, once each, in order.
            let seqs = published_lines(&wire_out);
            prop_assert_eq!(seqs.len() as u64, s.published - queued);
            prop_assert!(seqs.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(s.received, delivered);
            prop_assert!(s.unconfirmed <= s.published, "unconfirmed lines were published lines");
            prop_assert_eq!(delivered, remote_sent);
        }
        let texts: std::collections::HashSet<_> = remote_got.iter().collect();
        prop_assert_eq!(texts.len(), remote_got.len(), "a remote line came twice");
    }
}

#[test]
fn urls_are_checked() {
    assert_eq!(parse_url("redis://127.0.0.1:7000").unwrap().port(), 7000);
    assert_eq!(parse_url("redis://127.0.0.1").unwrap().port(), 6379);
    for bad in ["127.0.0.1:6379", "redis://", "redis://u:p@host:1", "redis://h:1/0", "http://x:1"] {
        assert!(parse_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn backoff_doubles_to_its_cap_and_resets_once_up() {
    let t = Instant::now();
    let mut r = Relay::new("redis://127.0.0.1:1", "A".into(), 1 << 20, HEARTBEAT, t).unwrap();
    assert!(r.connect_due(t));
    let mut waits = Vec::new();
    for _ in 0..8 {
        r.connecting(t);
        r.down("refused".into(), t);
        waits.push(r.deadline().unwrap() - t);
    }
    assert_eq!(waits[0], BACKOFF_FIRST);
    assert_eq!(waits[1], BACKOFF_FIRST * 2);
    assert_eq!(*waits.last().unwrap(), BACKOFF_MAX);
    subscribed(&mut r, t);
    r.down("reset".into(), t);
    assert_eq!(r.deadline().unwrap() - t, BACKOFF_FIRST);
}

#[test]
fn senders_are_told_once_an_outage() {
    let t = Instant::now();
    let mut r = Relay::new("redis://127.0.0.1:1", "A".into(), 1 << 20, HEARTBEAT, t).unwrap();
    assert_eq!(r.publish("a", "x"), Err(Lost::Down));
    assert!(r.first_notice(1));
    assert!(!r.first_notice(1));
    subscribed(&mut r, t);
    r.down("reset".into(), t);
    assert!(r.first_notice(1), "a new outage tells again");
    assert!(matches!(resp::next(b"-ERR x\r\n").unwrap(), Some((Reply::Error(_), 8))));
}

#[test]
fn remote_lines_are_made_safe_before_they_reach_a_terminal() {
    let t = Instant::now();
    let mut r = Relay::new("redis://127.0.0.1:1", "A".into(), 1 << 20, HEARTBEAT, t).unwrap();
    subscribed(&mut r, t);
    let evil = Msg::Line {
        node: "B\n".into(),
        inst: 5,
        seq: 0,
        from: "m[a]l ory".into(),
        text: format!("hi\n[root] fake\x1b[2J{}", "x".repeat(9000)),
    };
    let got = r.input(&push(wire::ROOM, &evil.encode()), t).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name, "malory@B");
    assert!(!got[0].text.contains('\n') && !got[0].text.contains('\x1b'), "{:?}", &got[0].text[..40]);
    assert_eq!(got[0].text.chars().count(), MAX_REMOTE_CHARS);
    // A heartbeat's names reach /who: cleaned too, and no more than a heartbeat carries.
    let mut names = vec!["e\x1b[2Jvil".to_string(); 500];
    names[0] = "ok".into();
    let hello = Msg::Hello { node: "C\r\n".into(), inst: 6, clients: 500, names };
    assert!(r.input(&push(wire::PRESENCE, &hello.encode()), t).unwrap().is_empty());
    let (who, total) = r.remote_names();
    assert_eq!((who.len(), total), (wire::NAMES_IN_HELLO, 500));
    assert_eq!(who[0], "ok@C");
    assert!(who.iter().all(|n| !n.chars().any(char::is_control)), "{:?}", &who[1]);
    // Not ours (another program on the channel): skipped, and the link stays up.
    assert!(r.input(&push(wire::ROOM, b"PING"), t).unwrap().is_empty());
    assert_eq!(r.state(), RelayState::Up);
}

#[test]
fn an_attempt_that_hangs_times_out() {
    let t = Instant::now();
    let mut r = Relay::new("redis://127.0.0.1:1", "A".into(), 1 << 20, HEARTBEAT, t).unwrap();
    r.connecting(t);
    assert_eq!(r.deadline(), Some(t + CONNECT_TIMEOUT), "the loop wakes for it");
    assert!(!r.attempt_timed_out(t + CONNECT_TIMEOUT / 2));
    assert!(r.attempt_timed_out(t + CONNECT_TIMEOUT));
}
