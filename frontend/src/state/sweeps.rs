//! What the page sees of the non-blocking model's cost: the EAGAINs of its sweeps (each one a
//! syscall that found nothing) and the nap it takes after a sweep that found nothing. Times are
//! the loop's (`ts_ns`), so slow motion and pauses do not make a napping loop look like a
//! spinning one.

use muxscope_shared::EventBody;

/// EAGAINs for this long without a `sleep` (and the model serving at least this long): the loop
/// spins (`--spin`).
pub const SPIN_AFTER_NS: u64 = 1_000_000_000;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sweeps {
    /// EAGAINs seen: recv and send that would block, accept that found the backlog empty.
    pub eagains: u64,
    /// Events seen (not gaps): what the EAGAINs are a share of. The gateway sends a browser a
    /// sample of a flood and counts the rest; the share scales the rate up to the whole.
    pub seen: u64,
    last_eagain_ns: Option<u64>,
    last_sleep_ns: Option<u64>,
    /// How long the last nap was.
    nap_ns: Option<u64>,
    /// When the model serving now started serving, as far as the page knows.
    since_ns: u64,
}

/// What the non-blocking loop does after a sweep that found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nap {
    /// It sleeps this many nanoseconds.
    Sleeps(u64),
    /// It tries again at once (`--spin`): EAGAINs came and no sleep for [`SPIN_AFTER_NS`].
    Spins,
    /// No sweep seen yet.
    Unknown,
}

impl Sweeps {
    /// A new model serves from `at_ns`: what the old one did says nothing of it. The total
    /// stays (the rates are differences of it).
    pub fn restart(&mut self, at_ns: u64) {
        *self = Sweeps { eagains: self.eagains, seen: self.seen, since_ns: at_ns, ..Sweeps::default() };
    }

    /// Counts one played event.
    pub fn see(&mut self, e: &EventBody, ts_ns: u64) {
        if !matches!(e, EventBody::Gap { .. }) {
            self.seen += 1;
        }
        match e {
            EventBody::Recv { would_block: true, .. } | EventBody::Send { would_block: true, .. } | EventBody::AcceptEagain { .. } => {
                self.eagains += 1;
                self.last_eagain_ns = Some(ts_ns);
            }
            EventBody::Sleep { ns } => {
                self.last_sleep_ns = Some(ts_ns);
                self.nap_ns = Some(*ns);
            }
            _ => {}
        }
    }

    /// How the loop naps as of `now_ns` (the newest event played).
    pub fn nap(&self, now_ns: u64) -> Nap {
        let recent = |t: Option<u64>| t.is_some_and(|t| now_ns.saturating_sub(t) <= SPIN_AFTER_NS);
        match self.nap_ns {
            Some(ns) if recent(self.last_sleep_ns) => Nap::Sleeps(ns),
            _ if recent(self.last_eagain_ns) && now_ns.saturating_sub(self.since_ns) > SPIN_AFTER_NS => Nap::Spins,
            Some(ns) => Nap::Sleeps(ns),
            None => Nap::Unknown,
        }
    }
}
