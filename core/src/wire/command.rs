//! ZMTP commands (RFC 23, RFC 37): READY, ERROR, SUBSCRIBE, CANCEL, PING, PONG.
//!
//! A command body is a 1-byte name length, the name, then command data. Parsing borrows from
//! the body; writing emits the whole frame (header included) or nothing at all.

use core::fmt;

use super::frame::{FrameHead, MAX_HEAD_LEN};
use super::metadata::{property_len, write_property, Properties, SocketType};
use super::{Full, Writer};

/// Most context bytes a PING may carry (RFC 37).
pub const MAX_PING_CONTEXT: usize = 16;

/// How a SUBSCRIBE command body starts: the name's length, then the name; the topic follows.
pub const SUBSCRIBE_NAME: &[u8] = b"\x09SUBSCRIBE";

/// How a CANCEL command body starts; the topic follows.
pub const CANCEL_NAME: &[u8] = b"\x06CANCEL";

/// Longest subscription head, everything but the topic, in either form: a frame header and
/// [`SUBSCRIBE_NAME`] (3.1), or a frame header and the `0x01` byte (3.0).
pub const MAX_SUBSCRIPTION_HEAD: usize = MAX_HEAD_LEN + SUBSCRIBE_NAME.len();

/// A parsed command.
#[derive(Clone, Debug)]
pub enum Command<'a> {
    /// READY: the peer's metadata (Socket-Type, Identity, ...); it ends the NULL handshake.
    Ready(Properties<'a>),
    /// ERROR: the peer is giving up on the connection.
    Error {
        /// Why, as the peer put it: at most 255 bytes, not necessarily UTF-8.
        reason: &'a [u8],
    },
    /// SUBSCRIBE (ZMTP 3.1): the peer wants messages whose first frame starts with this prefix.
    Subscribe(&'a [u8]),
    /// CANCEL (ZMTP 3.1): the peer withdraws one earlier SUBSCRIBE to this prefix.
    Cancel(&'a [u8]),
    /// PING (RFC 37): a heartbeat; the session answers it with a PONG carrying the same context.
    /// `ttl` is in tenths of a second, as on the wire; 0 means none.
    Ping {
        /// How long we may go without hearing from the peer before treating it as dead.
        ttl: u16,
        /// Up to 16 opaque bytes, echoed back in the PONG.
        context: &'a [u8],
    },
    /// PONG (RFC 37): the answer to one of our PINGs.
    Pong {
        /// The context of the PING it answers.
        context: &'a [u8],
    },
    /// A command this implementation does not know; ignored by the session.
    Unknown {
        /// Its name, for the log.
        name: &'a [u8],
    },
}

/// A command body that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CommandError {
    /// The body is empty or its name runs past its end.
    BadName,
    /// PING without its 2-byte TTL, or with more than 16 bytes of context.
    BadPing,
    /// ERROR whose reason length runs past the end.
    BadError,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommandError::BadName => "command name is empty or truncated",
            CommandError::BadPing => "PING lacks its TTL or carries more than 16 bytes of context",
            CommandError::BadError => "ERROR reason is truncated",
        })
    }
}

impl<'a> Command<'a> {
    /// Parse a command frame's body.
    pub fn parse(body: &'a [u8]) -> Result<Self, CommandError> {
        let (&name_len, rest) = body.split_first().ok_or(CommandError::BadName)?;
        let name_len = usize::from(name_len);
        if name_len == 0 || rest.len() < name_len {
            return Err(CommandError::BadName);
        }
        let (name, data) = rest.split_at(name_len);
        Ok(match name {
            b"READY" => Command::Ready(Properties::new(data)),
            b"ERROR" => {
                let (&len, reason) = data.split_first().ok_or(CommandError::BadError)?;
                let reason = reason
                    .get(..usize::from(len))
                    .ok_or(CommandError::BadError)?;
                Command::Error { reason }
            }
            b"SUBSCRIBE" => Command::Subscribe(data),
            b"CANCEL" => Command::Cancel(data),
            b"PING" => {
                if data.len() < 2 || data.len() - 2 > MAX_PING_CONTEXT {
                    return Err(CommandError::BadPing);
                }
                Command::Ping {
                    ttl: u16::from_be_bytes([data[0], data[1]]),
                    context: &data[2..],
                }
            }
            b"PONG" => Command::Pong { context: data },
            _ => Command::Unknown { name },
        })
    }
}

/// Write a whole command frame whose body is `name` followed by `parts`, or nothing.
fn write_command(w: &mut Writer<'_>, name: &str, parts: &[&[u8]]) -> Result<(), Full> {
    let body_len = 1 + name.len() + parts.iter().map(|p| p.len()).sum::<usize>();
    let head = FrameHead::command(body_len as u64);
    if w.remaining() < head.encoded_len() + body_len {
        return Err(Full);
    }
    w.put(head.encode().as_slice())?;
    w.put(&[name.len() as u8])?;
    w.put(name.as_bytes())?;
    parts.iter().try_for_each(|p| w.put(p))
}

/// The property a zedge forwarder's backend (an XPUB) adds to its READY (RFC 23: a name
/// starting `X-` is the application's): it holds each topic once for a broker (an XSUB) and
/// may refuse subscriptions past its limits, so a downstream zedge offers it the topics that
/// may have been refused again once room frees there (`subs/upstream.rs`, `reoffer_after`).
/// Peers that do not know it ignore it, as libzmq does.
pub const ZEDGE_PROPERTY: &str = "X-Zedge";

/// READY with Socket-Type, plus Identity where libzmq sends one, plus [`ZEDGE_PROPERTY`]
/// from an XPUB.
pub fn write_ready(w: &mut Writer<'_>, ours: SocketType, identity: &[u8]) -> Result<(), Full> {
    write_ready_as(w, ours, identity, ours == SocketType::XPub)
}

/// [`write_ready`], with [`ZEDGE_PROPERTY`] if `zedge` (a device's socket: another queue's
/// backend refuses a zedge queue's backend, `Kind::refused_zedge`).
pub fn write_ready_as(
    w: &mut Writer<'_>,
    ours: SocketType,
    identity: &[u8],
    zedge: bool,
) -> Result<(), Full> {
    let ty = ours.name().as_bytes();
    let mut data_len = property_len("Socket-Type", ty);
    if ours.announces_identity() {
        data_len += property_len("Identity", identity);
    }
    if zedge {
        data_len += property_len(ZEDGE_PROPERTY, b"1");
    }
    let body_len = 1 + "READY".len() + data_len;
    let head = FrameHead::command(body_len as u64);
    if w.remaining() < head.encoded_len() + body_len {
        return Err(Full);
    }
    w.put(head.encode().as_slice())?;
    w.put(b"\x05READY")?;
    write_property(w, "Socket-Type", ty)?;
    if ours.announces_identity() {
        write_property(w, "Identity", identity)?;
    }
    if zedge {
        write_property(w, ZEDGE_PROPERTY, b"1")?;
    }
    Ok(())
}

/// ERROR with a reason (cut to 255 bytes).
pub fn write_error(w: &mut Writer<'_>, reason: &[u8]) -> Result<(), Full> {
    let reason = &reason[..reason.len().min(255)];
    write_command(w, "ERROR", &[&[reason.len() as u8], reason])
}

/// SUBSCRIBE to a topic prefix, in the ZMTP 3.1 command form (3.0 peers need a message).
pub fn write_subscribe(w: &mut Writer<'_>, topic: &[u8]) -> Result<(), Full> {
    write_command(w, "SUBSCRIBE", &[topic])
}

/// CANCEL of a topic prefix, in the ZMTP 3.1 command form (3.0 peers need a message).
pub fn write_cancel(w: &mut Writer<'_>, topic: &[u8]) -> Result<(), Full> {
    write_command(w, "CANCEL", &[topic])
}

/// A SUBSCRIBE (or CANCEL) command without its topic: the frame header for a `topic_len`-byte
/// topic and the name. The caller appends the topic, which may be stored in pieces (at most
/// [`MAX_SUBSCRIPTION_HEAD`] bytes are written here, whatever the topic's length).
pub fn write_subscription_head(
    w: &mut Writer<'_>,
    subscribe: bool,
    topic_len: usize,
) -> Result<(), Full> {
    let name = if subscribe {
        SUBSCRIBE_NAME
    } else {
        CANCEL_NAME
    };
    let head = FrameHead::command((name.len() as u64).saturating_add(topic_len as u64));
    if w.remaining() < head.encoded_len() + name.len() {
        return Err(Full);
    }
    w.put(head.encode().as_slice())?;
    w.put(name)
}

/// PING with a TTL in tenths of a second and up to 16 bytes of context (longer is cut).
pub fn write_ping(w: &mut Writer<'_>, ttl: u16, context: &[u8]) -> Result<(), Full> {
    let context = &context[..context.len().min(MAX_PING_CONTEXT)];
    write_command(w, "PING", &[&ttl.to_be_bytes(), context])
}

/// PONG answering a PING; `context` is the PING's, echoed unchanged.
pub fn write_pong(w: &mut Writer<'_>, context: &[u8]) -> Result<(), Full> {
    write_command(w, "PONG", &[context])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::vectors;

    fn body(frame: &[u8]) -> &[u8] {
        let (head, used) = FrameHead::decode(frame).unwrap().unwrap();
        assert!(head.command);
        assert_eq!(used + head.len as usize, frame.len(), "one whole frame");
        &frame[used..]
    }

    fn written(f: impl FnOnce(&mut Writer<'_>) -> Result<(), Full>) -> ([u8; 512], usize) {
        let mut buf = [0u8; 512];
        let mut w = Writer::new(&mut buf);
        f(&mut w).unwrap();
        let n = w.len();
        (buf, n)
    }

    #[test]
    fn our_ready_matches_libzmq_for_every_type() {
        for (ty, captured) in [
            (SocketType::Req, vectors::READY_REQ),
            (SocketType::Rep, vectors::READY_REP),
            (SocketType::Dealer, vectors::READY_DEALER),
            (SocketType::Router, vectors::READY_ROUTER),
            (SocketType::Pub, vectors::READY_PUB),
            (SocketType::Sub, vectors::READY_SUB),
            (SocketType::XPub, vectors::READY_XPUB),
            (SocketType::XSub, vectors::READY_XSUB),
            (SocketType::Push, vectors::READY_PUSH),
            (SocketType::Pull, vectors::READY_PULL),
        ] {
            let (buf, n) = written(|w| write_ready(w, ty, b""));
            if ty == SocketType::XPub {
                // libzmq's, then ours: a zedge forwarder's backend says so.
                let (head, rest) = (&buf[..2], &buf[2..n]);
                assert_eq!(head, [0x04, captured[1] + 13], "READY for {ty}");
                assert_eq!(
                    &rest[..captured.len() - 2],
                    &captured[2..],
                    "READY for {ty}"
                );
                assert_eq!(&rest[captured.len() - 2..], b"\x07X-Zedge\x00\x00\x00\x011");
                continue;
            }
            assert_eq!(&buf[..n], captured, "READY for {ty}");
            let Command::Ready(props) = Command::parse(body(captured)).unwrap() else {
                panic!("not READY")
            };
            assert_eq!(
                props.find("Socket-Type").unwrap(),
                Some(ty.name().as_bytes())
            );
        }
    }

    #[test]
    fn ready_with_identity() {
        let Command::Ready(props) = Command::parse(body(vectors::READY_DEALER_ID)).unwrap() else {
            panic!()
        };
        assert_eq!(props.find("Identity").unwrap(), Some(&b"client-7"[..]));
        let (buf, n) = written(|w| write_ready(w, SocketType::Dealer, b"client-7"));
        assert_eq!(&buf[..n], vectors::READY_DEALER_ID);
    }

    #[test]
    fn subscriptions_in_3_1_form() {
        assert!(matches!(
            Command::parse(body(vectors::SUBSCRIBE_CMD_31)),
            Ok(Command::Subscribe(b"weather"))
        ));
        assert!(matches!(
            Command::parse(body(vectors::CANCEL_CMD_31)),
            Ok(Command::Cancel(b"weather"))
        ));
        let (buf, n) = written(|w| write_subscribe(w, b"weather"));
        assert_eq!(&buf[..n], vectors::SUBSCRIBE_CMD_31);
        let (buf, n) = written(|w| write_cancel(w, b"weather"));
        assert_eq!(&buf[..n], vectors::CANCEL_CMD_31);
        for (subscribe, whole) in [
            (true, vectors::SUBSCRIBE_CMD_31),
            (false, vectors::CANCEL_CMD_31),
        ] {
            let (buf, n) = written(|w| write_subscription_head(w, subscribe, 7));
            assert_eq!([&buf[..n], b"weather"].concat(), whole);
        }
    }

    #[test]
    fn ping_and_pong_as_libzmq_sends_them() {
        let Command::Ping { ttl, context } = Command::parse(body(vectors::PING_DEALER)).unwrap()
        else {
            panic!()
        };
        assert_eq!(ttl, 20, "HEARTBEAT_TTL 2000 ms is 20 deciseconds");
        let (buf, n) = written(|w| write_ping(w, ttl, context));
        assert_eq!(&buf[..n], vectors::PING_DEALER);
        let Command::Pong { context } = Command::parse(body(vectors::PONG_CTX)).unwrap() else {
            panic!()
        };
        assert_eq!(context, b"ctx-1234");
        let (buf, n) = written(|w| write_pong(w, b"ctx-1234"));
        assert_eq!(&buf[..n], vectors::PONG_CTX);
    }

    #[test]
    fn error_round_trip_and_malformed_commands() {
        let (buf, n) = written(|w| write_error(w, b"Invalid socket type"));
        let Command::Error { reason } = Command::parse(body(&buf[..n])).unwrap() else {
            panic!()
        };
        assert_eq!(reason, b"Invalid socket type");
        assert_eq!(Command::parse(b"").unwrap_err(), CommandError::BadName);
        assert_eq!(Command::parse(b"\x00").unwrap_err(), CommandError::BadName);
        assert_eq!(
            Command::parse(b"\x09SUB").unwrap_err(),
            CommandError::BadName
        );
        assert_eq!(
            Command::parse(b"\x04PING\x00").unwrap_err(),
            CommandError::BadPing
        );
        assert_eq!(
            Command::parse(b"\x04PING\x00\x00abcdefghijklmnopq").unwrap_err(),
            CommandError::BadPing
        );
        assert_eq!(
            Command::parse(b"\x05ERROR\x09abc").unwrap_err(),
            CommandError::BadError
        );
        assert!(matches!(
            Command::parse(b"\x05HELLO..."),
            Ok(Command::Unknown { name: b"HELLO" })
        ));
    }

    #[test]
    fn writing_into_too_little_room_writes_nothing() {
        let mut buf = [0u8; 8];
        let mut w = Writer::new(&mut buf);
        assert_eq!(write_subscribe(&mut w, b"weather"), Err(Full));
        assert_eq!(write_ready(&mut w, SocketType::Dealer, b""), Err(Full));
        assert_eq!(w.len(), 0);
    }
}
