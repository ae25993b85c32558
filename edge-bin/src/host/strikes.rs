//! Addresses whose connections were closed for holding others up: for holding a device's lane
//! while others waited (`connection/mod.rs`, `lane_stalled`), or, as a queue's or streamer's
//! worker, for reading too little of a message cut through to it while its sender waited
//! (`CloseReason::Deaf`), or, as a sender, for cutting a message through too slowly while
//! others waited for its receivers (`CloseReason::Overdue`). For a while after, a connection
//! from one of them waits for the cipher lane behind everyone else (`budget/turns.rs`); as a
//! worker it gets a message cut through only when no other worker can take it, and as a sender
//! it has one progress timeout, not four, to finish such a message once others wait
//! (`Device::strike`; the device's other peers from the address too, from the moment it is
//! struck). Closed within 1.25 s each time, senders that held a lane and came back at once
//! still held one most of the time: six of them cut a 12 MiB CURVE producer beside them from
//! 273 messages in 30 s to 14 (attacker round 6); closed after 5 s each time, a deaf worker
//! that came back at once was given the next large message and held its producer again
//! (attacker round 8: 5 messages in 30 s to the normal worker instead of 7,000). A peer from
//! such an address still gets its messages through, when nobody else waits for the lane or
//! can take the work.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::DeviceHost;
use crate::gate::Source;
use zedge_core::device::PeerId;

/// How long an address stays struck after its last connection was closed so.
pub const STRIKE_FOR: Duration = Duration::from_secs(60);

/// The most addresses kept: past it, those whose strike ran out go first, and a new one is
/// not kept if none has (each entry is a connection closed for a stall, which took a lane's
/// turn first: a few per second at most).
const MOST: usize = 1024;

/// The addresses struck, and when.
#[derive(Debug, Default)]
pub(super) struct Strikes {
    at: HashMap<IpAddr, Instant>,
}

impl Strikes {
    fn strike(&mut self, ip: IpAddr, now: Instant) {
        if self.at.len() >= MOST && !self.at.contains_key(&ip) {
            self.at.retain(|_, t| now.duration_since(*t) < STRIKE_FOR);
            if self.at.len() >= MOST {
                return;
            }
        }
        self.at.insert(ip, now);
    }

    fn struck(&self, ip: IpAddr, now: Instant) -> bool {
        self.at
            .get(&ip)
            .is_some_and(|t| now.duration_since(*t) < STRIKE_FOR)
    }
}

impl DeviceHost {
    /// The connection `id` is closed for holding others up: its address is struck, and the
    /// device's other peers from it are told so.
    pub fn strike(&self, id: PeerId) {
        let Some(Source::Tcp(ip)) = self.conns.borrow().get(&id).map(|h| h.src) else {
            return;
        };
        self.strikes.borrow_mut().strike(ip, Instant::now());
        let same: Vec<PeerId> = self
            .conns
            .borrow()
            .iter()
            .filter(|(other, h)| **other != id && h.src == Source::Tcp(ip))
            .map(|(other, _)| *other)
            .collect();
        for other in same {
            self.strike_in_device(other);
        }
    }

    /// The device is told that the connection `id` comes from an address struck within
    /// [`STRIKE_FOR`], for what is left of it (`Device::strike`).
    pub fn strike_in_device(&self, id: PeerId) {
        let Some(Source::Tcp(ip)) = self.conns.borrow().get(&id).map(|h| h.src) else {
            return;
        };
        let Some(at) = self.strikes.borrow().at.get(&ip).copied() else {
            return;
        };
        let left = STRIKE_FOR.saturating_sub(at.elapsed());
        if left.is_zero() {
            return;
        }
        let ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX);
        let until = self.clock.now() + zedge_core::time::Duration::from_millis(ms);
        self.with_device(|dev| dev.strike(id, until));
    }

    /// Whether the connection `id` comes from an address struck within [`STRIKE_FOR`].
    pub fn struck(&self, id: PeerId) -> bool {
        match self.conns.borrow().get(&id).map(|h| h.src) {
            Some(Source::Tcp(ip)) => self.strikes.borrow().struck(ip, Instant::now()),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_struck_for_a_while_and_the_table_stays_bounded() {
        let mut s = Strikes::default();
        let t0 = Instant::now();
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        s.strike(ip, t0);
        assert!(s.struck(ip, t0 + Duration::from_secs(59)));
        assert!(!s.struck(ip, t0 + STRIKE_FOR));
        assert!(!s.struck("10.0.0.8".parse().unwrap(), t0));
        for i in 0..(MOST as u32 + 10) {
            s.strike(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert_eq!(s.at.len(), MOST, "bounded");
        // Once the others ran out, a new one is kept.
        let later = t0 + STRIKE_FOR;
        s.strike("192.0.2.1".parse().unwrap(), later);
        assert!(s.struck("192.0.2.1".parse().unwrap(), later));
        assert!(s.at.len() <= 2);
    }
}
