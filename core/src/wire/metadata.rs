//! READY metadata (RFC 23 §"The NULL security mechanism"): socket types and properties.
//!
//! A property is a 1-byte name length, the name, a 4-byte big-endian value length and the value.
//! Every length is checked against what is actually there before it is used.

use core::fmt;

use super::{Full, Writer};

/// The ZeroMQ socket types that speak ZMTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SocketType {
    /// PAIR (RFC 31): one exclusive peer, messages both ways.
    Pair,
    /// PUB (RFC 29): sends each message to the subscribers whose prefixes match it.
    Pub,
    /// SUB (RFC 29): receives what it subscribed to; sends only subscriptions.
    Sub,
    /// REQ (RFC 28): sends a request, then waits for its one reply.
    Req,
    /// REP (RFC 28): answers requests, one at a time, in order.
    Rep,
    /// DEALER (RFC 28): unsynchronised requests or replies, round-robin over its peers.
    Dealer,
    /// ROUTER (RFC 28): routes each message by the identity frame in front of it.
    Router,
    /// PULL (RFC 30): receives from its pushers, fair-queued.
    Pull,
    /// PUSH (RFC 30): sends to its pullers, round-robin.
    Push,
    /// XPUB (RFC 29): a PUB that also hands the subscriptions it receives to its application.
    XPub,
    /// XSUB (RFC 29): a SUB whose application sends subscriptions as messages.
    XSub,
}

impl SocketType {
    /// Every socket type, for tables and tests.
    pub const ALL: [SocketType; 11] = [
        SocketType::Pair,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pull,
        SocketType::Push,
        SocketType::XPub,
        SocketType::XSub,
    ];

    /// The name as READY's Socket-Type property spells it.
    pub const fn name(self) -> &'static str {
        match self {
            SocketType::Pair => "PAIR",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pull => "PULL",
            SocketType::Push => "PUSH",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
        }
    }

    /// The byte a ZMTP 2.0 greeting gives for this type (RFC 15; libzmq's `ZMQ_*` number,
    /// its index in [`SocketType::ALL`]: libzmq 4.3 sends 9 and 10 for XPUB and XSUB).
    pub const fn zmtp2_code(self) -> u8 {
        self as u8
    }

    /// The type a ZMTP 2.0 greeting's socket-type byte names.
    pub fn from_zmtp2_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The type a Socket-Type value names (ASCII case is ignored, as libzmq does).
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// Whether a peer of type `peer` may talk to a socket of this type (RFC 23, RFC 28, RFC 29).
    pub const fn accepts(self, peer: SocketType) -> bool {
        use SocketType::*;
        matches!(
            (self, peer),
            (Pair, Pair)
                | (Req, Rep | Router)
                | (Rep, Req | Dealer)
                | (Dealer, Rep | Dealer | Router)
                | (Router, Req | Dealer | Router)
                | (Pub | XPub, Sub | XSub)
                | (Sub | XSub, Pub | XPub)
                | (Push, Pull)
                | (Pull, Push)
        )
    }

    /// Types whose READY carries an Identity property (libzmq sends one, maybe empty).
    pub const fn announces_identity(self) -> bool {
        matches!(
            self,
            SocketType::Req | SocketType::Dealer | SocketType::Router
        )
    }

    /// Types that receive subscriptions from their peers (and so parse the 3.0 `0x01`/`0x00` form).
    pub const fn takes_subscriptions(self) -> bool {
        matches!(self, SocketType::Pub | SocketType::XPub)
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Metadata that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MetadataError {
    /// A length points past the end of the command.
    Truncated,
    /// A property with an empty name.
    EmptyName,
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::Truncated => {
                f.write_str("metadata property runs past the end of the command")
            }
            MetadataError::EmptyName => f.write_str("metadata property has an empty name"),
        }
    }
}

/// The properties in a READY body, in order.
#[derive(Clone, Debug)]
pub struct Properties<'a> {
    rest: &'a [u8],
}

impl<'a> Properties<'a> {
    /// The properties in `bytes` (a READY body after its name); nothing is parsed until asked for.
    pub fn new(bytes: &'a [u8]) -> Self {
        Properties { rest: bytes }
    }

    /// The value of the first property called `name` (ASCII case ignored).
    pub fn find(&self, name: &str) -> Result<Option<&'a [u8]>, MetadataError> {
        for prop in self.clone() {
            let (n, v) = prop?;
            if n.eq_ignore_ascii_case(name.as_bytes()) {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
}

impl<'a> Iterator for Properties<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), MetadataError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&name_len, rest) = self.rest.split_first()?;
        let parsed = parse_property(usize::from(name_len), rest);
        // After an error the iterator ends: nothing past a bad length can be trusted.
        self.rest = match parsed {
            Ok((_, _, rest)) => rest,
            Err(_) => &[],
        };
        Some(parsed.map(|(n, v, _)| (n, v)))
    }
}

/// Name, value, and what follows.
type Property<'a> = (&'a [u8], &'a [u8], &'a [u8]);

fn parse_property(name_len: usize, bytes: &[u8]) -> Result<Property<'_>, MetadataError> {
    if name_len == 0 {
        return Err(MetadataError::EmptyName);
    }
    let name = bytes.get(..name_len).ok_or(MetadataError::Truncated)?;
    let rest = &bytes[name_len..];
    let len_bytes = rest.get(..4).ok_or(MetadataError::Truncated)?;
    let value_len = u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
    let rest = &rest[4..];
    let value_len = usize::try_from(value_len).map_err(|_| MetadataError::Truncated)?;
    let value = rest.get(..value_len).ok_or(MetadataError::Truncated)?;
    Ok((name, value, &rest[value_len..]))
}

/// Append one property. Names longer than 255 bytes are a caller bug and are refused as `Full`.
pub fn write_property(w: &mut Writer<'_>, name: &str, value: &[u8]) -> Result<(), Full> {
    let name_len = u8::try_from(name.len()).map_err(|_| Full)?;
    let value_len = u32::try_from(value.len()).map_err(|_| Full)?;
    w.put(&[name_len])?;
    w.put(name.as_bytes())?;
    w.put(&value_len.to_be_bytes())?;
    w.put(value)
}

/// Encoded length of one property.
pub const fn property_len(name: &str, value: &[u8]) -> usize {
    1 + name.len() + 4 + value.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_is_symmetric() {
        for a in SocketType::ALL {
            for b in SocketType::ALL {
                assert_eq!(a.accepts(b), b.accepts(a), "{a} vs {b}");
            }
        }
        assert!(SocketType::Router.accepts(SocketType::Req));
        assert!(!SocketType::Push.accepts(SocketType::Sub));
        assert!(!SocketType::XPub.accepts(SocketType::XPub));
    }

    #[test]
    fn names_round_trip_and_ignore_case() {
        for t in SocketType::ALL {
            assert_eq!(SocketType::from_name(t.name().as_bytes()), Some(t));
        }
        for (code, t) in SocketType::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(t.zmtp2_code()), code);
            assert_eq!(SocketType::from_zmtp2_code(t.zmtp2_code()), Some(t));
        }
        // libzmq 4.3's own codes (zmq.h), as it sends them in a 2.0 greeting.
        assert_eq!(SocketType::XPub.zmtp2_code(), 9);
        assert_eq!(SocketType::Push.zmtp2_code(), 8);
        assert_eq!(SocketType::from_zmtp2_code(11), None);
        assert_eq!(SocketType::from_zmtp2_code(0x63), None);
        assert_eq!(SocketType::from_name(b"xpub"), Some(SocketType::XPub));
        assert_eq!(SocketType::from_name(b"STREAM"), None);
    }

    #[test]
    fn properties_parse_and_write() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        write_property(&mut w, "Socket-Type", b"DEALER").unwrap();
        write_property(&mut w, "Identity", b"").unwrap();
        let n = w.len();
        assert_eq!(
            n,
            property_len("Socket-Type", b"DEALER") + property_len("Identity", b"")
        );
        let props = Properties::new(&buf[..n]);
        assert_eq!(props.find("socket-type"), Ok(Some(&b"DEALER"[..])));
        assert_eq!(props.find("Identity"), Ok(Some(&b""[..])));
        assert_eq!(props.find("Resource"), Ok(None));
    }

    #[test]
    fn lying_lengths_are_errors() {
        // Value length 2^32-1 with 3 bytes present.
        let bytes = [0x01, b'A', 0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        assert_eq!(
            Properties::new(&bytes).next(),
            Some(Err(MetadataError::Truncated))
        );
        assert_eq!(
            Properties::new(&[0x05, b'A']).next(),
            Some(Err(MetadataError::Truncated))
        );
        assert_eq!(
            Properties::new(&[0x00]).next(),
            Some(Err(MetadataError::EmptyName))
        );
        let mut p = Properties::new(&[0x00, 0x01, b'A', 0, 0, 0, 0]);
        assert!(p.next().unwrap().is_err());
        assert!(p.next().is_none(), "iteration stops after an error");
    }
}
