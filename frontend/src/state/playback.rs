//! Playback: the queue, the clock, slow motion and folding, and the rates sampled from the
//! counters.

use super::{push_capped, Action, Item, LogLine, Model, Rates, Sample};
use super::{ANIMATE_PER_TICK, CHAT_CAP, LOG_CAP, QUEUE_CAP, RATE_WINDOW_MS, SLOW_BASE_MS};
use muxscope_shared::ServerMsg;

impl Model {
    /// Applies one action. Returns false when nothing changed (the view need not redraw).
    pub fn update(&mut self, action: Action) -> bool {
        match action {
            Action::Connected(c) => {
                if self.connected == c {
                    return false;
                }
                self.connected = c;
                if c {
                    self.stream_closed = None;
                }
                let text = if c { "connected to the event stream" } else { "event stream lost; reconnecting…" };
                self.log_line("sys", text.to_string());
            }
            Action::StreamClosed { reason, retry_s } => {
                self.connected = false;
                let text = if reason.is_empty() {
                    format!("event stream lost; trying again in {retry_s} s")
                } else {
                    format!("event stream closed by the server: {reason} (trying again in {retry_s} s)")
                };
                self.stream_closed = Some(text.clone());
                self.log_line("sys", text);
            }
            Action::Receive(msgs, now) => {
                self.received_ms = now;
                for msg in msgs {
                    self.update(Action::Server(msg));
                }
                self.tick(now);
            }
            Action::Server(msg) => {
                match msg {
                    ServerMsg::Snapshot(s) => {
                        self.live_ts_ns = self.live_ts_ns.max(s.ts_ns);
                        self.queue.push_back(Item::Snapshot(s));
                    }
                    ServerMsg::Events { events } => {
                        for e in events {
                            self.live_ts_ns = self.live_ts_ns.max(e.ts_ns);
                            self.queue.push_back(Item::Event(e));
                        }
                    }
                }
                if self.queue.len() > QUEUE_CAP {
                    let n = self.queue.len() - QUEUE_CAP / 2;
                    self.fold(n, "queue full");
                }
            }
            Action::Tick(now) => return self.tick(now),
            Action::Pause => self.paused = true,
            Action::Resume => {
                self.paused = false;
                self.next_play_ms = 0.0;
            }
            Action::Step => {
                if !self.paused {
                    self.paused = true;
                }
                match self.queue.pop_front() {
                    Some(item) => self.play(item, true),
                    None => return false,
                }
            }
            Action::Speed(s) => {
                let s = if s.is_finite() { s.clamp(0.1, 1.0) } else { 1.0 };
                if (s - self.speed).abs() < 1e-9 {
                    return false;
                }
                self.speed = s;
                self.next_play_ms = 0.0;
            }
            Action::Live => {
                self.paused = false;
                self.speed = 1.0;
                self.play_live();
            }
            Action::ChatLine(text) => {
                let id = self.id();
                push_capped(&mut self.chat, LogLine { id, class: "chat", text }, CHAT_CAP);
            }
            Action::ChatStatus(text) => {
                let id = self.id();
                push_capped(&mut self.chat, LogLine { id, class: "status", text }, CHAT_CAP);
            }
            Action::Report(Ok(report)) => {
                if self.report.as_ref() == Some(&report) && self.report_error.is_none() {
                    return false;
                }
                self.report = Some(report);
                self.report_error = None;
            }
            Action::Report(Err(why)) => {
                if self.report_error.as_ref() == Some(&why) {
                    return false;
                }
                self.report_error = Some(why);
            }
        }
        true
    }

    fn tick(&mut self, now: f64) -> bool {
        let was_busy = self.busy();
        self.now_ms = now;
        if was_busy && !self.busy() {
            // The flood is over. Its still marks are up to a second and a half old: calm, they
            // would all start animating at once, as if it were happening now. Plain nodes.
            self.flashes.clear();
            self.fanout = None;
        }
        let played = self.play_due(now);
        let banner_ends = self.banner.as_ref().is_some_and(|b| now >= b.until_ms);
        if banner_ends {
            self.banner = None;
        }
        // Rates after playing: they describe the picture on screen.
        self.sample(now) || played || banner_ends
    }

    fn play_due(&mut self, now: f64) -> bool {
        if self.paused || self.queue.is_empty() {
            return false;
        }
        if self.is_live() {
            // Busy: a few still pictures a second say as much as twenty, for a fraction of the work.
            // A snapshot is drawn at once (see `takes_frames`) and starts the next second's wait.
            let snapshot = self.queue.iter().any(|i| matches!(i, Item::Snapshot(_)));
            if self.busy_redraw_waits(now) && !snapshot {
                return false;
            }
            self.live_played_ms = now;
            self.play_live();
            return true;
        }
        let interval = SLOW_BASE_MS / self.speed;
        if self.next_play_ms == 0.0 {
            self.next_play_ms = now;
        }
        if now < self.next_play_ms {
            return false;
        }
        if let Some(item) = self.queue.pop_front() {
            self.play(item, true);
        }
        self.next_play_ms = (self.next_play_ms + interval).max(now - interval);
        true
    }

    /// Everything queued, now: the newest few animate, the rest are folded (and counted).
    fn play_live(&mut self) {
        let n = self.queue.len();
        if n > ANIMATE_PER_TICK {
            self.fold(n - ANIMATE_PER_TICK, "faster than it can be drawn");
        }
        while let Some(item) = self.queue.pop_front() {
            self.play(item, true);
        }
    }

    /// Applies the oldest `n` queued items without animating them.
    fn fold(&mut self, n: usize, why: &str) {
        let mut folded = 0u64;
        for _ in 0..n {
            let Some(item) = self.queue.pop_front() else { break };
            if matches!(item, Item::Event(_)) {
                folded += 1;
            }
            self.play(item, false);
        }
        if folded > 0 {
            self.folded_at_ms = self.now_ms;
            self.folded_total += folded;
            self.log_line("fold", format!("×{folded} events folded ({why})"));
        }
    }

    fn sample(&mut self, now: f64) -> bool {
        let c = &self.snap.counters;
        let s = Sample {
            at_ms: now,
            wakeups: c.wakeups,
            messages: c.messages,
            bytes: c.recv_bytes + c.sent_bytes,
            events: self.events_played,
            eagains: self.sweeps.eagains,
            seen: self.sweeps.seen,
        };
        if let Some(last) = self.samples.back() {
            if now - last.at_ms < 250.0 {
                return false;
            }
        }
        self.samples.push_back(s);
        while self.samples.len() > 2 && now - self.samples[0].at_ms > RATE_WINDOW_MS {
            self.samples.pop_front();
        }
        let first = self.samples[0];
        let dt = (now - first.at_ms) / 1000.0;
        let old = self.rates;
        if dt > 0.0 {
            let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
            let wakeups = s.wakeups.saturating_sub(first.wakeups);
            self.rates = Rates {
                wakeups: per(s.wakeups, first.wakeups),
                messages: per(s.messages, first.messages),
                bytes: per(s.bytes, first.bytes),
                events_per_wakeup: if wakeups > 0 { s.events.saturating_sub(first.events) as f64 / wakeups as f64 } else { 0.0 },
                eagains: per(s.eagains, first.eagains),
                eagains_all: match s.seen.saturating_sub(first.seen) {
                    0 => 0.0,
                    seen => per(s.eagains, first.eagains) * s.events.saturating_sub(first.events) as f64 / seen as f64,
                },
            };
        }
        self.rates != old
    }

    pub(super) fn log_line(&mut self, class: &'static str, text: String) {
        let id = self.id();
        push_capped(&mut self.log, LogLine { id, class, text }, LOG_CAP);
    }
}
