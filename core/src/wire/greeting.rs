//! The 64-byte ZMTP 3.x greeting (RFC 23): signature, version, mechanism, as-server, filler.
//!
//! Peers may send the greeting in pieces (libzmq sends the 10-byte signature first and the
//! rest only after it has seen ours), so [`Greeting::decode`] judges whatever prefix it has:
//! a ZMTP 1.0/2.0 peer or plain garbage is refused as soon as the bytes that prove it arrive,
//! instead of waiting for 64 bytes that will never come.

use core::fmt;

/// Length of a ZMTP 3.x greeting.
pub const GREETING_LEN: usize = 64;
const MECHANISM_LEN: usize = 20;
const MECHANISM_AT: usize = 12;
const AS_SERVER_AT: usize = 32;

/// Length of the signature every ZMTP 2.0 and 3.x greeting starts with, sent first on its
/// own so that a peer can tell what the other speaks before saying more (RFC 23 "Version
/// Negotiation").
pub const SIGNATURE_LEN: usize = 10;
/// Length of a ZMTP 2.0 greeting (RFC 15): the signature, the revision, the socket type.
pub const V2_GREETING_LEN: usize = 12;

/// What a peer's first bytes say it speaks, decided as libzmq 4.3 decides
/// (`zmtp_engine.cpp`): as soon as the bytes that tell have come, never reading past them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Detected {
    /// ZMTP 1.0 (RFC 13) without a greeting: its first byte is not `ff` (a short frame
    /// length), or its tenth has bit 0 clear (the flags of a frame with a long length). None
    /// of its bytes is a greeting: they are its identity frame.
    V1,
    /// ZMTP 1.0 after a 12-byte greeting (revision 0).
    V1Versioned,
    /// ZMTP 2.0 (RFC 15, revision 1): a 12-byte greeting whose last byte is the socket type.
    V2,
    /// ZMTP 3.x: the rest of the 64-byte greeting follows. libzmq takes every revision but 0
    /// and 1 for this (2 included, which RFC 23 calls 2.0; its greeting then fails).
    V3,
}

impl Detected {
    /// Who speaks it, for a log line.
    pub const fn speakers(self) -> &'static str {
        match self {
            Detected::V1 | Detected::V1Versioned => "libzmq 2.x",
            Detected::V2 => "libzmq 3.x, JeroMQ 0.3, NetMQ 3",
            Detected::V3 => "libzmq 4.x",
        }
    }
}

impl fmt::Display for Detected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Detected::V1 | Detected::V1Versioned => "ZMTP 1.0",
            Detected::V2 => "ZMTP 2.0",
            Detected::V3 => "ZMTP 3.x",
        })
    }
}

/// Judge what the peer speaks from the prefix of its first bytes: `None` until they tell.
pub fn detect(input: &[u8]) -> Option<Detected> {
    match (
        input.first(),
        input.get(SIGNATURE_LEN - 1),
        input.get(SIGNATURE_LEN),
    ) {
        (Some(&b), _, _) if b != 0xff => Some(Detected::V1),
        (_, Some(&flags), _) if flags & 0x01 == 0 => Some(Detected::V1),
        (_, _, Some(0)) => Some(Detected::V1Versioned),
        (_, _, Some(1)) => Some(Detected::V2),
        (_, _, Some(_)) => Some(Detected::V3),
        _ => None,
    }
}

/// How much of our greeting, sent in pieces as libzmq 4.3 sends it, the peer's first bytes
/// (`input`) call for: the signature at once; the major version too once the peer's
/// signature is here (also when its version came with it, and says 2.0: a 2.0 peer reads
/// that byte as our revision); all of it once its version says ZMTP 3.x. A ZMTP 1.0 peer
/// gets no more than the signature, as from libzmq.
pub fn due_for(input: &[u8]) -> usize {
    match detect(input) {
        Some(Detected::V3) => GREETING_LEN,
        Some(Detected::V2 | Detected::V1Versioned) => SIGNATURE_LEN + 1,
        None if input.len() >= SIGNATURE_LEN => SIGNATURE_LEN + 1,
        _ => SIGNATURE_LEN,
    }
}

/// Why a peer that does not speak ZMTP 3.x is refused, once its first bytes tell (`None`
/// until then): a ZMTP 1.0 peer's first bytes are its identity frame, length then flags,
/// and flags with reserved bits set (or a length of 0) are not ZeroMQ at all (HTTP, TLS, a
/// port scan): [`GreetingError::BadSignature`].
pub fn refusal(input: &[u8], zmtp: Detected) -> Option<GreetingError> {
    if zmtp != Detected::V1 {
        return Some(GreetingError::Legacy(zmtp));
    }
    let (len, flags) = match input.first() {
        Some(0xff) => (1, *input.get(SIGNATURE_LEN - 1)?),
        // A length of 0 is no frame: told by its first byte, as libzmq tells it.
        Some(0) => return Some(GreetingError::BadSignature),
        Some(&len) => (len, *input.get(1)?),
        None => return None,
    };
    Some(if len == 0 || flags & !0x01 != 0 {
        GreetingError::BadSignature
    } else {
        GreetingError::Legacy(zmtp)
    })
}

/// The security mechanism named in the greeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mechanism {
    /// NULL (RFC 23): no authentication, no encryption.
    Null,
    /// PLAIN (RFC 24): clear-text user name and password, no encryption.
    Plain,
    /// CURVE (RFC 26): CurveZMQ authentication and encryption.
    Curve,
}

impl Mechanism {
    /// The name as the greeting's 20-byte mechanism field spells it, before the NUL padding.
    pub const fn name(self) -> &'static [u8] {
        match self {
            Mechanism::Null => b"NULL",
            Mechanism::Plain => b"PLAIN",
            Mechanism::Curve => b"CURVE",
        }
    }

    /// The mechanism a 20-byte, NUL-padded field names; `None` for anything else.
    fn from_field(field: &[u8]) -> Option<Self> {
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        // Everything after the name must be padding.
        if field[end..].iter().any(|&b| b != 0) {
            return None;
        }
        [Mechanism::Null, Mechanism::Plain, Mechanism::Curve]
            .into_iter()
            .find(|m| m.name() == &field[..end])
    }
}

/// A decoded greeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Greeting {
    /// ZMTP major version; anything below 3 was refused while decoding.
    pub major: u8,
    /// ZMTP minor version: 0 is ZMTP 3.0; 1 or more brings 3.1's PING/PONG and SUBSCRIBE/CANCEL.
    pub minor: u8,
    /// The security mechanism the peer runs; both sides must name the same one.
    pub mechanism: Mechanism,
    /// Which role the peer takes in a PLAIN or CURVE handshake; NULL ignores it.
    pub as_server: bool,
}

/// Why a greeting was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GreetingError {
    /// The first bytes are not a ZMTP 2.0+ signature: ZMTP 1.0 or not ZeroMQ at all.
    BadSignature,
    /// A ZMTP 2.0 (or older) peer; only 3.x is spoken.
    UnsupportedVersion {
        /// The major version the peer's greeting announced.
        major: u8,
    },
    /// The mechanism field does not name a known mechanism.
    UnknownMechanism,
    /// A ZMTP 1.0 or 2.0 peer, told by its first bytes ([`detect`]); only 3.x is spoken.
    Legacy(Detected),
}

impl fmt::Display for GreetingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GreetingError::BadSignature => {
                f.write_str("peer did not send a ZMTP signature (not a ZeroMQ 3.x peer?)")
            }
            GreetingError::UnsupportedVersion { major } => write!(
                f,
                "peer speaks ZMTP major version {major}; only ZMTP 3.x is supported (upgrade the peer's libzmq to 4.x)"
            ),
            GreetingError::UnknownMechanism => f.write_str("peer's greeting names an unknown security mechanism"),
            GreetingError::Legacy(z) => write!(
                f,
                "peer speaks {z} ({}), which this endpoint does not speak",
                z.speakers()
            ),
        }
    }
}

impl Greeting {
    /// The greeting we send: ZMTP 3.1.
    pub const fn ours(mechanism: Mechanism, as_server: bool) -> Self {
        Greeting {
            major: 3,
            minor: 1,
            mechanism,
            as_server,
        }
    }

    /// Judge a prefix of the peer's greeting. `Ok(None)` means "need more bytes"; once 64 bytes
    /// are present the greeting is returned.
    pub fn decode(input: &[u8]) -> Result<Option<Greeting>, GreetingError> {
        // Bytes 1..9 are padding (they carried a length in ZMTP 1.0 days) and are not checked.
        match detect(input) {
            Some(Detected::V3) => {}
            Some(zmtp) => return refusal(input, zmtp).map_or(Ok(None), Err),
            None => return Ok(None),
        }
        if let Some(&major) = input.get(10) {
            if major < 3 {
                return Err(GreetingError::UnsupportedVersion { major });
            }
        }
        if input.len() < GREETING_LEN {
            return Ok(None);
        }
        let mechanism = Mechanism::from_field(&input[MECHANISM_AT..MECHANISM_AT + MECHANISM_LEN])
            .ok_or(GreetingError::UnknownMechanism)?;
        Ok(Some(Greeting {
            major: input[10],
            minor: input[11],
            mechanism,
            as_server: input[AS_SERVER_AT] == 0x01,
        }))
    }

    /// Write the 64 greeting bytes.
    pub fn encode(&self) -> [u8; GREETING_LEN] {
        let mut out = [0u8; GREETING_LEN];
        // libzmq's padding: a ZMTP 1.0 length of 1, so 1.0 peers read it as an empty identity.
        out[0] = 0xff;
        out[8] = 0x01;
        out[9] = 0x7f;
        out[10] = self.major;
        out[11] = self.minor;
        let name = self.mechanism.name();
        out[MECHANISM_AT..MECHANISM_AT + name.len()].copy_from_slice(name);
        out[AS_SERVER_AT] = u8::from(self.as_server);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::vectors;

    #[test]
    fn round_trip() {
        let g = Greeting::ours(Mechanism::Null, true);
        assert_eq!(Greeting::decode(&g.encode()), Ok(Some(g)));
    }

    #[test]
    fn libzmq_greeting_decodes_as_3_1_null() {
        let g = Greeting::decode(vectors::GREETING_31).unwrap().unwrap();
        assert_eq!(
            (g.major, g.minor, g.mechanism, g.as_server),
            (3, 1, Mechanism::Null, false)
        );
        // What we send is byte-for-byte what libzmq sends for the same settings.
        assert_eq!(
            &Greeting::ours(Mechanism::Null, false).encode()[..],
            vectors::GREETING_31
        );
    }

    #[test]
    fn every_prefix_of_a_good_greeting_needs_more() {
        let g = Greeting::ours(Mechanism::Null, false).encode();
        for n in 0..GREETING_LEN {
            assert_eq!(Greeting::decode(&g[..n]), Ok(None), "prefix {n}");
        }
    }

    #[test]
    fn zmtp_1_and_2_refused_early() {
        // ZMTP 1.0: a short frame (length, flags), no 0xff; told at its first byte, named
        // at its flags.
        assert_eq!(Greeting::decode(&[0x01]), Ok(None));
        assert_eq!(
            Greeting::decode(&[0x01, 0x00]),
            Err(GreetingError::Legacy(Detected::V1))
        );
        // ZMTP 2.0 greeting: signature then revision 0x01; refused at byte 11.
        let v2 = [0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f, 0x01, 0x05];
        assert_eq!(
            Greeting::decode(&v2[..11]),
            Err(GreetingError::Legacy(Detected::V2))
        );
        // Revision 2 is taken for 3.x, as libzmq does, and its greeting refused.
        let mut v = Greeting::ours(Mechanism::Null, false).encode();
        v[10] = 2;
        assert_eq!(
            Greeting::decode(&v[..11]),
            Err(GreetingError::UnsupportedVersion { major: 2 })
        );
        // HTTP on the wrong port.
        assert_eq!(
            Greeting::decode(b"GET / HTTP/1.1\r\n"),
            Err(GreetingError::BadSignature)
        );
        // A 1.0 length of 0 is no frame, told by its first byte.
        assert_eq!(Greeting::decode(&[0]), Err(GreetingError::BadSignature));
    }

    /// Every prefix of each kind of first bytes: undecided until the byte that tells, then
    /// decided as libzmq 4.3 decides (the captures of notes/zmtp-legacy: libzmq answers
    /// revisions 2, 4 and ff with the rest of a 3.x greeting).
    #[test]
    fn detection_decides_at_the_byte_that_tells() {
        let sig = |rev: u8, ty: u8| [0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f, rev, ty];
        // JeroMQ sends its identity's length in the signature's padding.
        let jeromq = [0xff, 0, 0, 0, 0, 0, 0, 0, 0x03, 0x7f, 0x01, 0x03];
        // A 1.0 identity of 255 bytes: its long length (256 = len + 1), then its flags.
        let v1_long = [0xff, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        let cases: [(&[u8], usize, Detected); 9] = [
            (vectors::GREETING_31, 11, Detected::V3),
            (&sig(1, 8), 11, Detected::V2),
            (&jeromq, 11, Detected::V2),
            (&sig(0, 8), 11, Detected::V1Versioned),
            (&sig(2, 0), 11, Detected::V3),
            (&sig(4, 0), 11, Detected::V3),
            (&sig(0xff, 0), 11, Detected::V3),
            (&v1_long, 10, Detected::V1),
            (&[0x01, 0x00], 1, Detected::V1),
        ];
        for (bytes, tells, want) in cases {
            for n in 0..=bytes.len() {
                let got = detect(&bytes[..n]);
                let expect = (n >= tells).then_some(want);
                assert_eq!(got, expect, "{bytes:02x?} prefix {n}");
            }
        }
        // HTTP and TLS on the wrong port look like a 1.0 frame from their first byte.
        assert_eq!(detect(b"GET / HTTP/1.1\r\n"), Some(Detected::V1));
        assert_eq!(detect(&[0x16, 0x03, 0x01]), Some(Detected::V1));
    }

    #[test]
    fn higher_versions_and_other_mechanisms_are_reported() {
        let mut g = Greeting {
            major: 3,
            minor: 7,
            mechanism: Mechanism::Curve,
            as_server: true,
        }
        .encode();
        assert_eq!(
            Greeting::decode(&g),
            Ok(Some(Greeting {
                major: 3,
                minor: 7,
                mechanism: Mechanism::Curve,
                as_server: true
            }))
        );
        g[MECHANISM_AT..MECHANISM_AT + 5].copy_from_slice(b"GSSAP");
        assert_eq!(Greeting::decode(&g), Err(GreetingError::UnknownMechanism));
        g[MECHANISM_AT..MECHANISM_AT + 5].copy_from_slice(b"NULL\0");
        g[MECHANISM_AT + 7] = b'x';
        assert_eq!(Greeting::decode(&g), Err(GreetingError::UnknownMechanism));
    }
}
