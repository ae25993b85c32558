//! A peer that speaks ZMTP 1.0 (libzmq 2.x), told by its first bytes at an endpoint that
//! speaks it: its connection goes on through a [`Secure`] with the core's 1.0 layer
//! ([`zedge_core::conn::v1`]), whose session sees a ZMTP 3.0 NULL peer.
//!
//! libzmq 4.3 tells a 1.0 peer from its first bytes as [`greeting::detect`] does, and so
//! does the session; but the session would refuse it. So until its first bytes tell, they
//! wait in the input unfed ([`Conn::undecided`](super::Conn)); one that speaks 1.0 has
//! them read by the layer instead, after our signature (its identity frame's header, sent
//! or still queued). The others go to the session as ever (a ZMTP 2.0 peer is spoken to in
//! 2.0, 1.0 bytes that are not ZeroMQ are refused by it, with their reason).

use std::cell::RefCell;
use std::rc::Rc;

use zedge_core::conn::v1;
use zedge_core::wire::greeting::{self, Detected, GreetingError, SIGNATURE_LEN};

use super::Conn;
use crate::host::{Dev, DeviceHost};
use crate::secure::Secure;

/// Whether a peer whose first bytes are `first` speaks ZMTP 1.0: `None` until they tell.
/// A signature (its tenth byte's bit 0 set) tells it does not, without the byte after it
/// that tells which later version it speaks: that byte may wait for our version, which the
/// session sends once it has the peer's signature (two zedges, each waiting for the other's
/// eleventh byte, never met). Bytes that look like 1.0 but are not ZeroMQ (a length of 0,
/// reserved flags: HTTP, TLS) are not: the session refuses them.
pub(super) fn speaks_v1(first: &[u8]) -> Option<bool> {
    if first.first() == Some(&0xff) && first.get(SIGNATURE_LEN - 1)? & 0x01 != 0 {
        return Some(false);
    }
    match greeting::detect(first)? {
        Detected::V1 => match greeting::refusal(first, Detected::V1)? {
            GreetingError::Legacy(_) => Some(true),
            _ => Some(false),
        },
        _ => Some(false),
    }
}

impl Conn {
    /// Its peer speaks ZMTP 1.0: from here on its bytes go through the 1.0 layer, both ways,
    /// starting with those the input holds.
    pub(super) fn speak_v1(&mut self, host: &DeviceHost, dev: &Dev) {
        let ours = dev
            .peer_view(self.id)
            .map(|v| dev.config().kind.socket_type(v.side));
        let Some(ours) = ours else { return };
        let first = self.input.take_unread();
        let peer = v1::peer_for(ours);
        let max = dev.config().limits.max_message_size;
        let secure = Secure::v1(peer, max, host.charge(), &first, self.wrote);
        let secure = Rc::new(RefCell::new(secure));
        host.set_secure(self.id, secure.clone());
        self.secure = Some(secure);
        self.undecided = false;
        // It has no greeting: its identity frame is as much.
        host.greeted(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::speaks_v1;

    #[test]
    fn a_signature_is_not_1_0_without_the_byte_after_it() {
        let signature = [0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f];
        for n in 1..signature.len() {
            assert_eq!(speaks_v1(&signature[..n]), None, "{n} bytes");
        }
        assert_eq!(speaks_v1(&signature), Some(false));
        assert_eq!(speaks_v1(&[0x01, 0x00]), Some(true), "an empty identity");
        assert_eq!(speaks_v1(&[0x01]), None);
        let long = [0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00];
        assert_eq!(speaks_v1(&long), Some(true), "an identity in the long form");
        assert_eq!(speaks_v1(b"GET / HTTP/1.1"), Some(false), "not ZeroMQ");
        assert_eq!(speaks_v1(&[0x00]), Some(false), "a length of 0");
    }
}
