//! Wire units the peer sends, and what the session should make of them.

use std::mem;

use crate::caller::{command_body, written};
use crate::session_check::{subscription, Outcome, Seen};
use zedge_core::conn::{Limits, SessionError};
use zedge_core::wire::command;
use zedge_core::wire::frame::FrameHead;
use zedge_core::wire::greeting::{Greeting, Mechanism, GREETING_LEN};
use zedge_core::wire::metadata::SocketType;

/// Our socket type, the peer's, and how the peer greets and introduces itself.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) ours: SocketType,
    pub(crate) theirs: SocketType,
    pub(crate) minor: u8,
    pub(crate) identity: Vec<u8>,
}

impl Peer {
    fn greeting(&self) -> [u8; GREETING_LEN] {
        let mut g = Greeting::ours(Mechanism::Null, false);
        g.minor = self.minor;
        g.encode()
    }

    fn ready(&self) -> Vec<u8> {
        written(|w| command::write_ready(w, self.theirs, &self.identity))
    }

    /// Greeting and READY: everything up to the first message.
    pub(crate) fn handshake(&self) -> Vec<u8> {
        let mut bytes = self.greeting().to_vec();
        bytes.extend(self.ready());
        bytes
    }
}

/// One frame or command of the peer's stream.
#[derive(Clone, Debug)]
pub(crate) enum Unit {
    Frame { more: bool, body: Vec<u8> },
    Ping { ttl: u16, context: Vec<u8> },
    Subscribe(Vec<u8>),
    Cancel(Vec<u8>),
}

impl Unit {
    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Unit::Frame { more, body } => {
                let mut bytes = FrameHead::data(body.len() as u64, *more)
                    .encode()
                    .as_slice()
                    .to_vec();
                bytes.extend_from_slice(body);
                bytes
            }
            Unit::Ping { ttl, context } => written(|w| command::write_ping(w, *ttl, context)),
            Unit::Subscribe(topic) => written(|w| command::write_subscribe(w, topic)),
            Unit::Cancel(topic) => written(|w| command::write_cancel(w, topic)),
        }
    }
}

/// What a correct session reports for `units` after the handshake, under `limits`.
pub(crate) fn model(peer: &Peer, limits: Limits, units: &[Unit]) -> Outcome {
    let mut want = Outcome {
        seen: Vec::new(),
        pongs: Vec::new(),
        end: Ok(()),
        leftover: 0,
    };
    let too_big = |len: usize| SessionError::CommandTooLarge {
        len: len as u64,
        limit: limits.max_command_size,
    };
    let ready_len = command_body(&peer.ready()).len();
    if ready_len > limits.max_command_size {
        want.end = Err(too_big(ready_len));
        return want;
    }
    let identity = if peer.theirs.announces_identity() {
        peer.identity.clone()
    } else {
        Vec::new()
    };
    want.seen.push(Seen::Ready {
        theirs: peer.theirs,
        minor: peer.minor.min(1),
        identity,
    });
    let takes_subs = peer.ours.takes_subscriptions();
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut msg_len = 0u64;
    for unit in units {
        if let Unit::Frame { more, body } = unit {
            let len = msg_len + body.len() as u64;
            if len > limits.max_message_size {
                want.end = Err(SessionError::MessageTooLarge {
                    len,
                    limit: limits.max_message_size,
                });
                return want;
            }
            // The ZMTP 3.0 subscription form: a lone frame starting 0x01 or 0x00.
            if takes_subs && frames.is_empty() && !more && matches!(body.first(), Some(0x00 | 0x01))
            {
                want.seen
                    .push(subscription(&limits, body[0] == 0x01, &body[1..]));
                continue;
            }
            frames.push(body.clone());
            msg_len = if *more { len } else { 0 };
            if !more {
                want.seen.push(Seen::Message(mem::take(&mut frames)));
            }
            continue;
        }
        // Subscriptions to a socket that takes them have the topic limit, not the command
        // limit.
        match unit {
            Unit::Subscribe(topic) if takes_subs => {
                want.seen.push(subscription(&limits, true, topic));
                continue;
            }
            Unit::Cancel(topic) if takes_subs => {
                want.seen.push(subscription(&limits, false, topic));
                continue;
            }
            _ => {}
        }
        let body_len = command_body(&unit.encode()).len();
        if body_len > limits.max_command_size {
            want.end = Err(too_big(body_len));
            return want;
        }
        if let Unit::Ping { context, .. } = unit {
            want.pongs.push(context.clone());
        }
    }
    want
}
