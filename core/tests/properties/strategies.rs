//! Strategies: peers, streams of wire units, limits, read sizes, and garbage.

use proptest::collection::vec;
use proptest::prelude::*;

use crate::model::{Peer, Unit};
use zedge_core::conn::{Limits, MAX_TOPIC};
use zedge_core::wire::command::MAX_PING_CONTEXT;
use zedge_core::wire::frame::FrameHead;
use zedge_core::wire::metadata::SocketType;

pub(crate) fn peer() -> impl Strategy<Value = Peer> {
    let types = prop_oneof![
        Just((SocketType::XPub, SocketType::Sub)),
        Just((SocketType::XPub, SocketType::XSub)),
        Just((SocketType::Pub, SocketType::Sub)),
        Just((SocketType::Pull, SocketType::Push)),
        Just((SocketType::Router, SocketType::Dealer)),
        Just((SocketType::Router, SocketType::Req)),
    ];
    (types, 0u8..=2, vec(any::<u8>(), 0..=255)).prop_map(|((ours, theirs), minor, identity)| Peer {
        ours,
        theirs,
        minor,
        identity,
    })
}

fn frame_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..2000),
        // Looks like a ZMTP 3.0 subscription to a PUB or XPUB: short, or around the topic
        // limit.
        1 => (0u8..=1, topic()).prop_map(|(first, mut rest)| {
            rest.insert(0, first);
            rest
        }),
    ]
}

fn command_unit() -> impl Strategy<Value = Unit> {
    prop_oneof![
        (any::<u16>(), vec(any::<u8>(), 0..=MAX_PING_CONTEXT))
            .prop_map(|(ttl, context)| Unit::Ping { ttl, context }),
        topic().prop_map(Unit::Subscribe),
        topic().prop_map(Unit::Cancel),
    ]
}

/// Mostly short; now and then just within [`MAX_TOPIC`] or over it.
fn topic() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => vec(any::<u8>(), 0..300),
        1 => (MAX_TOPIC - 2..MAX_TOPIC + 3).prop_map(|n| vec![b't'; n]),
        1 => (MAX_TOPIC..30_000usize).prop_map(|n| vec![b'u'; n]),
    ]
}

/// Multipart messages of 1 to 4 frames, with now and then a command after a frame.
pub(crate) fn units() -> impl Strategy<Value = Vec<Unit>> {
    let message = vec(
        (frame_body(), prop::option::weighted(0.2, command_unit())),
        1..5,
    )
    .prop_map(|frames| {
        let last = frames.len() - 1;
        let mut units = Vec::new();
        for (i, (body, cmd)) in frames.into_iter().enumerate() {
            let more = i < last;
            units.push(Unit::Frame { more, body });
            units.extend(cmd);
        }
        units
    });
    vec(message, 0..10).prop_map(|messages| messages.concat())
}

pub(crate) fn encode(units: &[Unit]) -> Vec<u8> {
    units.iter().flat_map(Unit::encode).collect()
}

pub(crate) fn limits() -> impl Strategy<Value = Limits> {
    (0u64..12_000, 0usize..600, 0usize..3000, 0usize..20_000).prop_map(|(msg, cmd, head, topic)| {
        Limits {
            max_message_size: msg,
            max_command_size: cmd,
            head_bytes: head,
            max_topic: topic,
        }
    })
}

/// Read sizes: byte by byte, small, or larger than any buffer.
pub(crate) fn chunks() -> impl Strategy<Value = Vec<usize>> {
    vec(prop_oneof![1usize..8, 1usize..600, 1usize..10_000], 1..8)
}

/// Bytes that look enough like ZMTP to get past the first check now and then.
pub(crate) fn garbage() -> impl Strategy<Value = Vec<u8>> {
    let raw_head = (
        0u8..8,
        prop_oneof![0u64..600, any::<u64>()],
        vec(any::<u8>(), 0..300),
    )
        .prop_map(|(flags, len, body)| {
            let mut bytes = vec![flags];
            if flags & 0x02 != 0 {
                bytes.extend(len.to_be_bytes());
            } else {
                bytes.push(len as u8);
            }
            bytes.extend(body);
            bytes
        });
    let names =
        prop::sample::select(&["PING", "PONG", "SUBSCRIBE", "CANCEL", "READY", "ERROR", "X"][..]);
    let raw_command = (names, vec(any::<u8>(), 0..40)).prop_map(|(name, data)| {
        let mut body = vec![name.len() as u8];
        body.extend(name.as_bytes());
        body.extend(data);
        let mut bytes = FrameHead::command(body.len() as u64)
            .encode()
            .as_slice()
            .to_vec();
        bytes.extend(body);
        bytes
    });
    let token = prop_oneof![
        vec(any::<u8>(), 0..64),
        raw_head,
        raw_command,
        command_unit().prop_map(|u| u.encode()),
        (frame_body(), any::<bool>()).prop_map(|(body, more)| Unit::Frame { more, body }.encode()),
    ];
    vec(token, 0..24).prop_map(|tokens| tokens.concat())
}
