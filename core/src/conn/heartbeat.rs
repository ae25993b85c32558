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

#[derive(Clone, Copy, Debug)]
pub(crate) struct Timers {
    cfg: Heartbeat,
    last_rx: Instant,
    /// When the next PING goes out; `None` when we do not ping this peer.
    next_ping: Option<Instant>,
    /// The first PING sent since the peer last sent anything.
    unanswered_since: Option<Instant>,
    /// TTL the peer asked for in its last PING; zero for none.
    peer_ttl: Duration,
}

impl Timers {
    pub(crate) fn new(cfg: Heartbeat, now: Instant) -> Self {
        Timers {
            cfg,
            last_rx: now,
            next_ping: None,
            unanswered_since: None,
            peer_ttl: Duration::ZERO,
        }
    }

    /// The handshake is done: start pinging if the peer understands PING.
    pub(crate) fn start(&mut self, peer_minor: u8, now: Instant) {
        if peer_minor >= 1 && !self.cfg.interval.is_zero() {
            self.next_ping = Some(now + self.cfg.interval);
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

    /// TTL to put in our PINGs, in tenths of a second.
    pub(crate) fn our_ttl(&self) -> u16 {
        u16::try_from(self.cfg.ttl.as_millis() / 100).unwrap_or(u16::MAX)
    }

    fn ping_deadline(&self) -> Option<Instant> {
        if self.cfg.timeout.is_zero() {
            return None;
        }
        self.unanswered_since.map(|t| t + self.cfg.timeout)
    }

    fn ttl_deadline(&self) -> Option<Instant> {
        (!self.peer_ttl.is_zero()).then(|| self.last_rx + self.peer_ttl)
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        [self.next_ping, self.ping_deadline(), self.ttl_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn on_timeout(&mut self, now: Instant) -> Result<Due, SessionError> {
        if self.ping_deadline().is_some_and(|t| now >= t) {
            return Err(SessionError::HeartbeatTimeout);
        }
        if self.ttl_deadline().is_some_and(|t| now >= t) {
            return Err(SessionError::TtlExpired);
        }
        match self.next_ping {
            Some(t) if now >= t => {
                self.next_ping = Some(now + self.cfg.interval);
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
        let mut t = Timers::new(Heartbeat::every(Duration::from_millis(100)), ms(0));
        t.start(1, ms(0));
        assert_eq!(t.next_deadline(), Some(ms(100)));
        assert_eq!(t.on_timeout(ms(100)), Ok(Due::SendPing));
        assert_eq!(t.on_timeout(ms(200)), Ok(Due::SendPing));
        // The timeout runs from the first unanswered PING.
        assert_eq!(t.next_deadline(), Some(ms(300)));
        assert_eq!(t.on_timeout(ms(400)), Err(SessionError::HeartbeatTimeout));
    }

    #[test]
    fn traffic_answers_pings() {
        let mut t = Timers::new(Heartbeat::every(Duration::from_millis(100)), ms(0));
        t.start(1, ms(0));
        for i in 1..50 {
            assert_eq!(t.on_timeout(ms(i * 100)), Ok(Due::SendPing));
            t.on_rx(ms(i * 100 + 5));
        }
    }

    #[test]
    fn no_pings_to_3_0_peers() {
        let mut t = Timers::new(Heartbeat::every(Duration::from_millis(100)), ms(0));
        t.start(0, ms(0));
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn peer_ttl_enforced_even_without_our_heartbeats() {
        let mut t = Timers::new(Heartbeat::OFF, ms(0));
        t.start(1, ms(0));
        t.on_peer_ttl(20);
        t.on_rx(ms(10));
        assert_eq!(t.next_deadline(), Some(ms(2010)));
        assert_eq!(t.on_timeout(ms(2009)), Ok(Due::Nothing));
        assert_eq!(t.on_timeout(ms(2010)), Err(SessionError::TtlExpired));
    }
}
