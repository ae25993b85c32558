//! Warnings that come in bursts, rate-limited without losing any.
//!
//! A fleet reconnecting to a full device, or a process out of descriptors, can refuse
//! thousands of connections a second, and a subscriber past its share thousands of
//! subscriptions: a line each would flood the journal, and a line only when the next event
//! comes would hide the end of every burst. A [`Limiter`] lets the first event of a quiet
//! period through at once, counts the rest for one interval, and reports that count when the
//! interval ends, whether or not anything happens after it. [`RefusedSubscriptions`] keeps one
//! per cause of a refused subscription, fed from the device's counters. Time is passed in, so
//! the unit tests need no clock.

use std::time::{Duration, Instant};

use zedge_core::device::{Refusal, SubscriptionRefusals};

/// How often one kind of warning may be logged.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// What to log: how many events, and the last of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Burst {
    pub count: u64,
    /// The last event's description (its peer's address, say).
    pub last: String,
}

/// One kind of warning, logged at most once per `every`.
#[derive(Debug)]
pub struct Limiter {
    every: Duration,
    /// The end of the current interval; `None` while quiet.
    until: Option<Instant>,
    held: u64,
    last: String,
}

impl Limiter {
    pub fn new(every: Duration) -> Limiter {
        Limiter {
            every,
            until: None,
            held: 0,
            last: String::new(),
        }
    }

    /// An event at `now`, described by `what`: the burst to log now, or `None` if it is held
    /// for [`Limiter::flush`].
    pub fn hit(&mut self, now: Instant, what: impl FnOnce() -> String) -> Option<Burst> {
        self.hit_many(now, 1, what)
    }

    /// `n` events at `now`, the last described by `what`, as [`Limiter::hit`].
    pub fn hit_many(
        &mut self,
        now: Instant,
        n: u64,
        what: impl FnOnce() -> String,
    ) -> Option<Burst> {
        self.held += n;
        if self.until.is_some_and(|t| now < t) {
            self.last = what();
            return None;
        }
        // Held events of an interval that ended unflushed are reported with this one.
        self.until = Some(now + self.every);
        self.last.clear();
        Some(Burst {
            count: std::mem::take(&mut self.held),
            last: what(),
        })
    }

    /// When [`Limiter::flush`] has something to report, if it will.
    pub fn due(&self) -> Option<Instant> {
        self.until.filter(|_| self.held > 0)
    }

    /// The events held back, once their interval has ended at `now`. A report starts another
    /// interval, so a burst that goes on is logged once per interval.
    pub fn flush(&mut self, now: Instant) -> Option<Burst> {
        if self.until.is_none_or(|t| now < t) {
            return None;
        }
        if self.held == 0 {
            self.until = None;
            return None;
        }
        self.until = Some(now + self.every);
        Some(self.take())
    }

    /// Whatever is held, interval or not: for a process about to stop.
    pub fn drain(&mut self) -> Option<Burst> {
        (self.held > 0).then(|| self.take())
    }

    fn take(&mut self) -> Burst {
        Burst {
            count: std::mem::take(&mut self.held),
            last: std::mem::take(&mut self.last),
        }
    }
}

/// Refused subscriptions, warned per cause at most once per [`WARN_EVERY`]: the device counts
/// them ([`SubscriptionRefusals`]); [`RefusedSubscriptions::update`] takes the counters after a
/// call into the device that refused some, and hands back what to log.
#[derive(Debug)]
pub struct RefusedSubscriptions {
    seen: SubscriptionRefusals,
    limits: [(Refusal, Limiter); 4],
}

impl Default for RefusedSubscriptions {
    fn default() -> Self {
        RefusedSubscriptions {
            seen: SubscriptionRefusals::default(),
            limits: Refusal::ALL.map(|r| (r, Limiter::new(WARN_EVERY))),
        }
    }
}

impl RefusedSubscriptions {
    /// The device's counters at `now`: each cause that went up is a burst of that many, the
    /// last described by `what`; `log` gets what is to be logged now.
    pub fn update(
        &mut self,
        now: Instant,
        counts: &SubscriptionRefusals,
        what: impl Fn(Refusal) -> String,
        mut log: impl FnMut(&Burst),
    ) {
        for (cause, limiter) in &mut self.limits {
            let n = count(counts, *cause).saturating_sub(count(&self.seen, *cause));
            if n > 0 {
                if let Some(b) = limiter.hit_many(now, n, || what(*cause)) {
                    log(&b);
                }
            }
        }
        self.seen = *counts;
    }

    /// What was held back in every interval that has ended by `now`.
    pub fn flush(&mut self, now: Instant, mut log: impl FnMut(&Burst)) {
        for (_, l) in &mut self.limits {
            if let Some(b) = l.flush(now) {
                log(&b);
            }
        }
    }

    /// Whatever is held, for a device about to stop.
    pub fn drain(&mut self, mut log: impl FnMut(&Burst)) {
        for (_, l) in &mut self.limits {
            if let Some(b) = l.drain() {
                log(&b);
            }
        }
    }
}

fn count(c: &SubscriptionRefusals, cause: Refusal) -> u64 {
    match cause {
        Refusal::TableFull => c.table_full,
        Refusal::TopicBytesFull => c.topic_bytes_full,
        Refusal::PeerShare => c.peer_share,
        Refusal::TooLong => c.too_long,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn burst(count: u64, last: &str) -> Option<Burst> {
        Some(Burst {
            count,
            last: last.to_owned(),
        })
    }

    #[test]
    fn the_first_event_goes_through_and_the_rest_are_reported_when_the_interval_ends() {
        let t0 = Instant::now();
        let mut l = Limiter::new(10 * S);
        assert_eq!(l.hit(t0, || "a".into()), burst(1, "a"));
        assert_eq!(l.due(), None, "nothing held, nothing due");
        for (i, who) in ["b", "c", "d"].into_iter().enumerate() {
            assert_eq!(l.hit(t0 + (i as u32 + 1) * S, || who.into()), None);
        }
        assert_eq!(l.due(), Some(t0 + 10 * S));
        assert_eq!(l.flush(t0 + 9 * S), None, "not before the interval ends");
        // No further event: the timer alone reports the three held back, naming the last.
        assert_eq!(l.flush(t0 + 10 * S), burst(3, "d"));
        assert_eq!(l.flush(t0 + 10 * S), None);
        assert_eq!(l.due(), None);
    }

    #[test]
    fn a_burst_that_goes_on_is_reported_once_per_interval() {
        let t0 = Instant::now();
        let mut l = Limiter::new(10 * S);
        let mut lines = Vec::new();
        // One event every 100 ms for 35 s, flushed by a timer on every 100 ms tick as well.
        for tick in 0..350u32 {
            let now = t0 + tick * S / 10;
            lines.extend(l.flush(now));
            lines.extend(l.hit(now, || tick.to_string()));
        }
        lines.extend(l.flush(t0 + 45 * S));
        let counts: Vec<u64> = lines.iter().map(|b| b.count).collect();
        assert_eq!(counts, [1, 99, 100, 100, 50]);
        assert_eq!(counts.iter().sum::<u64>(), 350, "every event counted once");
        assert_eq!(lines.last().map(|b| b.last.as_str()), Some("349"));
    }

    #[test]
    fn events_held_past_an_unflushed_interval_come_with_the_next_one() {
        let t0 = Instant::now();
        let mut l = Limiter::new(10 * S);
        l.hit(t0, String::new);
        l.hit(t0 + S, || "held".into());
        assert_eq!(l.hit(t0 + 20 * S, || "new".into()), burst(2, "new"));
        assert_eq!(l.flush(t0 + 40 * S), None);
    }

    #[test]
    fn quiet_again_after_an_interval_with_nothing_held() {
        let t0 = Instant::now();
        let mut l = Limiter::new(10 * S);
        l.hit(t0, String::new);
        assert_eq!(l.flush(t0 + 10 * S), None);
        assert_eq!(l.hit(t0 + 11 * S, || "x".into()), burst(1, "x"));
    }

    #[test]
    fn drain_gives_what_is_held_at_once() {
        let t0 = Instant::now();
        let mut l = Limiter::new(10 * S);
        l.hit(t0, String::new);
        assert_eq!(l.drain(), None);
        l.hit(t0 + S, || "y".into());
        assert_eq!(l.drain(), burst(1, "y"));
        assert_eq!(l.flush(t0 + 20 * S), None);
    }

    #[test]
    fn refused_subscriptions_are_reported_per_cause_with_their_counts() {
        let t0 = Instant::now();
        let mut r = RefusedSubscriptions::default();
        let mut lines = Vec::new();
        // 500 refused past a share in one call, and one too long: each cause at once.
        let mut counts = SubscriptionRefusals {
            peer_share: 500,
            too_long: 1,
            ..Default::default()
        };
        let what = |c: Refusal| format!("{c}");
        r.update(t0, &counts, what, |b| lines.push(b.clone()));
        // 300 more past the share within the interval: held, then reported when it ends.
        counts.peer_share = 800;
        r.update(t0 + S, &counts, what, |b| lines.push(b.clone()));
        assert_eq!(lines.len(), 2);
        r.flush(t0 + 10 * S, |b| lines.push(b.clone()));
        let got: Vec<(u64, &str)> = lines.iter().map(|b| (b.count, b.last.as_str())).collect();
        let share = format!("{}", Refusal::PeerShare);
        let long = format!("{}", Refusal::TooLong);
        assert_eq!(got, [(500, &share[..]), (1, &long[..]), (300, &share[..])]);
        r.drain(|b| lines.push(b.clone()));
        assert_eq!(lines.len(), 3, "nothing held");
    }
}
