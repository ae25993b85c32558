//! How fast subscriptions go upstream: each publisher's allowance of subscription bytes.
//!
//! libzmq's PUB takes in what its subscribers send inside `send()`, on the application's
//! thread, each subscription or cancellation at a cost of about its topic's length, and reads
//! all that has arrived before it returns. A forwarder that writes every change to a
//! publisher whose socket takes it can feed it faster than that thread gets through them, and
//! its `send()` then never returns (a subscriber churning two 16,000-byte topics froze two
//! libzmq publishers). So each publisher (or upstream broker) is sent subscription bytes at
//! most at [`UpstreamPace::rate`], after a first [`UpstreamPace::burst`]: a token bucket,
//! refilled by the `now` the caller gives. What is above it waits in the table's log, which
//! owes each publisher every topic's latest state once (`subs/upstream.rs`), so a churn costs
//! a publisher at most `rate` a second, and it is told the final state when the churn stops.
//! Messages only wait for their publisher's turn, never for this: nothing here is per message.

use crate::time::Instant;

/// The pace of subscriptions to each publisher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UpstreamPace {
    /// Bytes a second of subscriptions and cancellations, as written (frame heads and
    /// all), to each publisher; zero: no limit. Default 256 KiB: a libzmq 4.3 PUB sent
    /// 16,000-byte topics at that spends about 4% of its thread on them
    /// (`tools/pub-sub-cost.py`), and ordinary topics of 20 bytes go about 10,000 a second.
    pub rate: u32,
    /// Bytes a publisher that was sent none for a while may be sent at once. Default 256 KiB:
    /// a subscriber joining with thousands of ordinary topics, or the replay of an ordinary
    /// table to a publisher that (re)connects, goes without waiting.
    pub burst: u32,
}

impl UpstreamPace {
    /// The defaults; what [`Default`] gives.
    pub const DEFAULT: UpstreamPace = UpstreamPace {
        rate: 256 << 10,
        burst: 256 << 10,
    };

    /// No limit.
    pub const OFF: UpstreamPace = UpstreamPace { rate: 0, burst: 0 };

    /// Whether it limits anything.
    pub const fn is_off(&self) -> bool {
        self.rate == 0
    }
}

impl Default for UpstreamPace {
    fn default() -> Self {
        UpstreamPace::DEFAULT
    }
}

/// What a publisher may be sent now: a token bucket of thousandths of a byte (a millisecond
/// of a rate in bytes a second is that many thousandths), below zero when the last
/// subscription took more than was left. It may be sent more while not below zero, so one
/// subscription longer than the burst still goes, and what it is sent in `t` is at most
/// `burst + rate * t` and the one subscription (or cancellation and subscription) that took it
/// below zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Allowance {
    credit: i64,
    at: Instant,
}

impl Allowance {
    /// A full bucket at `now`.
    pub(crate) fn full(pace: &UpstreamPace, now: Instant) -> Self {
        Allowance {
            credit: i64::from(pace.burst) * 1000,
            at: now,
        }
    }

    /// The credit at `now`: what it had, refilled, up to the burst.
    fn credit(&self, pace: &UpstreamPace, now: Instant) -> i64 {
        let cap = i64::from(pace.burst) * 1000;
        let ms = now.saturating_since(self.at).as_millis();
        let gain = ms.saturating_mul(u64::from(pace.rate));
        let gain = i64::try_from(gain).unwrap_or(i64::MAX);
        self.credit.saturating_add(gain).min(cap)
    }

    /// Whether it may be sent subscriptions at `now`.
    pub(crate) fn allows(&self, pace: &UpstreamPace, now: Instant) -> bool {
        pace.is_off() || self.credit(pace, now) >= 0
    }

    /// It was sent `bytes` of subscriptions at `now`.
    pub(crate) fn spend(&mut self, pace: &UpstreamPace, now: Instant, bytes: u64) {
        if pace.is_off() || bytes == 0 {
            return;
        }
        let now = now.max(self.at);
        let cost = i64::try_from(bytes.saturating_mul(1000)).unwrap_or(i64::MAX);
        self.credit = self.credit(pace, now).saturating_sub(cost);
        self.at = now;
    }

    /// When it may be sent subscriptions again, if it may not now (as of its last spend).
    pub(crate) fn refilled_at(&self, pace: &UpstreamPace) -> Option<Instant> {
        if pace.is_off() || self.credit >= 0 {
            return None;
        }
        let ms = self.credit.unsigned_abs().div_ceil(u64::from(pace.rate));
        Some(self.at + crate::time::Duration::from_millis(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACE: UpstreamPace = UpstreamPace {
        rate: 10_000,
        burst: 4_000,
    };

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn a_full_bucket_takes_the_burst_then_waits_for_the_rate() {
        let mut a = Allowance::full(&PACE, at(0));
        assert!(a.allows(&PACE, at(0)));
        a.spend(&PACE, at(0), 4_000);
        assert!(a.allows(&PACE, at(0)), "at zero it may still be sent");
        a.spend(&PACE, at(0), 1_000);
        assert!(!a.allows(&PACE, at(0)));
        // 1,000 bytes owed at 10 a millisecond: 100 ms.
        assert_eq!(a.refilled_at(&PACE), Some(at(100)));
        assert!(!a.allows(&PACE, at(99)));
        assert!(a.allows(&PACE, at(100)));
    }

    #[test]
    fn it_refills_up_to_the_burst_only() {
        let mut a = Allowance::full(&PACE, at(0));
        a.spend(&PACE, at(0), 4_000);
        // An hour idle: the burst, not an hour's worth.
        a.spend(&PACE, at(3_600_000), 4_000);
        assert!(a.allows(&PACE, at(3_600_000)));
        a.spend(&PACE, at(3_600_000), 1);
        assert!(!a.allows(&PACE, at(3_600_000)));
    }

    #[test]
    fn a_subscription_longer_than_the_burst_still_goes() {
        let mut a = Allowance::full(&PACE, at(0));
        a.spend(&PACE, at(0), 20_000);
        assert_eq!(a.refilled_at(&PACE), Some(at(1_600)));
        assert!(a.allows(&PACE, at(1_600)));
    }

    #[test]
    fn off_limits_nothing() {
        let off = UpstreamPace::OFF;
        let mut a = Allowance::full(&off, at(0));
        a.spend(&off, at(0), u64::MAX);
        assert!(a.allows(&off, at(0)));
        assert_eq!(a.refilled_at(&off), None);
    }

    #[test]
    fn a_zero_burst_paces_from_the_first_byte() {
        let pace = UpstreamPace {
            rate: 1_000,
            burst: 0,
        };
        let mut a = Allowance::full(&pace, at(0));
        assert!(a.allows(&pace, at(0)));
        a.spend(&pace, at(0), 50);
        assert_eq!(a.refilled_at(&pace), Some(at(50)));
    }

    #[test]
    fn what_it_takes_over_time_is_the_burst_and_the_rate() {
        // Sending whenever allowed, 300 bytes at a time, every millisecond for 10 s.
        let mut a = Allowance::full(&PACE, at(0));
        let mut sent = 0u64;
        for ms in 0..10_000 {
            while a.allows(&PACE, at(ms)) {
                a.spend(&PACE, at(ms), 300);
                sent += 300;
            }
        }
        let most = u64::from(PACE.burst) + u64::from(PACE.rate) * 10 + 300;
        assert!(sent <= most, "{sent} > {most}");
        assert!(
            sent >= most - 1_000,
            "{sent}: it was held back below its rate"
        );
    }
}
