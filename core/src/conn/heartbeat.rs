//! Liveness timers for one connection: our PINGs, our timeout, the peer's TTL.

use super::config::Heartbeat;
use super::error::SessionError;
use crate::time::{Duration, Instant};

/// What a timer asks of the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Due {
    Nothing,
    SendPing,
}

/// The timers' state; their settings are the session's (`SessionConfig::heartbeat`), passed in
/// by each call rather than copied into every peer's slot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timers {
    last_rx: Instant,
    /// When the next PING goes out; `None` when we do not ping this peer.
    next_ping: Option<Instant>,
    /// The first PING sent since the peer last sent anything.
    unanswered_since: Option<Instant>,
    /// TTL the peer asked for in its last PING; zero for none.
    peer_ttl: Duration,
}

impl Timers {
    pub(crate) fn new(now: Instant) -> Self {
        Timers {
            last_rx: now,
            next_ping: None,
            unanswered_since: None,
            peer_ttl: Duration::ZERO,
        }
    }

    /// The handshake is done: start pinging if the peer understands PING.
    pub(crate) fn start(&mut self, cfg: &Heartbeat, peer_minor: u8, now: Instant) {
        if peer_minor >= 1 && !cfg.interval.is_zero() {
            self.next_ping = Some(now + cfg.interval);
        }
    }

    /// Bytes arrived from the peer.
    pub(crate) fn on_rx(&mut self, now: Instant) {
        self.last_rx = now;
        self.unanswered_since = None;
    }

    /// The peer's PING carried a TTL in tenths of a second.
    pub(crate) fn on_peer_ttl(&mut self, ttl_ds: u16) {
        self.peer_ttl = Duration::from_millis(u64::from(ttl_ds) * 100);
    }

    fn ping_deadline(&self, cfg: &Heartbeat) -> Option<Instant> {
        if cfg.timeout.is_zero() {
            return None;
        }
        self.unanswered_since.map(|t| t + cfg.timeout)
    }

    fn ttl_deadline(&self) -> Option<Instant> {
        (!self.peer_ttl.is_zero()).then(|| self.last_rx + self.peer_ttl)
    }

    pub(crate) fn next_deadline(&self, cfg: &Heartbeat) -> Option<Instant> {
        [self.next_ping, self.ping_deadline(cfg), self.ttl_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn on_timeout(
        &mut self,
        cfg: &Heartbeat,
        now: Instant,
    ) -> Result<Due, SessionError> {
        if self.ping_deadline(cfg).is_some_and(|t| now >= t) {
            return Err(SessionError::HeartbeatTimeout);
        }
        if self.ttl_deadline().is_some_and(|t| now >= t) {
            return Err(SessionError::TtlExpired);
        }
        match self.next_ping {
            Some(t) if now >= t => {
                self.next_ping = Some(now + cfg.interval);
                self.unanswered_since.get_or_insert(now);
                Ok(Due::SendPing)
            }
            _ => Ok(Due::Nothing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn pings_on_interval_and_times_out_without_answer() {
        let cfg = Heartbeat::every(Duration::from_millis(100));
        let mut t = Timers::new(ms(0));
        t.start(&cfg, 1, ms(0));
        assert_eq!(t.next_deadline(&cfg), Some(ms(100)));
        assert_eq!(t.on_timeout(&cfg, ms(100)), Ok(Due::SendPing));
        assert_eq!(t.on_timeout(&cfg, ms(200)), Ok(Due::SendPing));
        // The timeout runs from the first unanswered PING.
        assert_eq!(t.next_deadline(&cfg), Some(ms(300)));
        assert_eq!(
            t.on_timeout(&cfg, ms(400)),
            Err(SessionError::HeartbeatTimeout)
        );
    }

    #[test]
    fn traffic_answers_pings() {
        let cfg = Heartbeat::every(Duration::from_millis(100));
        let mut t = Timers::new(ms(0));
        t.start(&cfg, 1, ms(0));
        for i in 1..50 {
            assert_eq!(t.on_timeout(&cfg, ms(i * 100)), Ok(Due::SendPing));
            t.on_rx(ms(i * 100 + 5));
        }
    }

    #[test]
    fn no_pings_to_3_0_peers() {
        let cfg = Heartbeat::every(Duration::from_millis(100));
        let mut t = Timers::new(ms(0));
        t.start(&cfg, 0, ms(0));
        assert_eq!(t.next_deadline(&cfg), None);
    }

    #[test]
    fn peer_ttl_enforced_even_without_our_heartbeats() {
        let cfg = Heartbeat::OFF;
        let mut t = Timers::new(ms(0));
        t.start(&cfg, 1, ms(0));
        t.on_peer_ttl(20);
        t.on_rx(ms(10));
        assert_eq!(t.next_deadline(&cfg), Some(ms(2010)));
        assert_eq!(t.on_timeout(&cfg, ms(2009)), Ok(Due::Nothing));
        assert_eq!(t.on_timeout(&cfg, ms(2010)), Err(SessionError::TtlExpired));
    }
}
