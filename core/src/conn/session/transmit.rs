//! What we owe the peer (greeting, READY, PING, PONG, ERROR, subscriptions) and the timers
//! that make us owe it.

use super::{Session, State};
use crate::conn::error::SessionError;
use crate::conn::heartbeat::Due;
use crate::time::Instant;
use crate::wire::command;
use crate::wire::frame::FrameHead;
use crate::wire::greeting::Greeting;
use crate::wire::metadata::SocketType;
use crate::wire::{Full, Writer};

impl Session {
    /// Commands owed to the peer are waiting for [`Session::poll_transmit`].
    pub fn wants_transmit(&self) -> bool {
        let o = &self.owed;
        o.error.is_some()
            || (!self.is_closed()
                && (o.greeting_sent < o.greeting_due
                    || o.v2_tail
                    || o.ready
                    || o.ping
                    || o.pong.is_some()))
    }

    /// The next [`Session::poll_transmit`] writes a PONG: one is owed and not held back.
    pub fn pong_due(&self) -> bool {
        self.owed.pong.is_some() && !self.is_closed()
    }

    /// While `held`, owed PONGs wait: for a caller that still holds our last PONG unwritten
    /// (its peer is not reading). PINGs that arrive meanwhile are answered once it lets go,
    /// with the latest one's context, as libzmq (which keeps one PONG) answers them: a peer
    /// that pings without reading costs one queued PONG however many PINGs it sends.
    pub fn hold_pongs(&mut self, held: bool) {
        let latest = self.pongs_held.take().flatten();
        if held {
            self.pongs_held = Some(self.owed.pong.take().or(latest));
        } else if latest.is_some() {
            self.owed.pong = latest;
        }
    }

    /// Write owed commands into `out`: whole ones only, in protocol order. Returns bytes written.
    /// [`TRANSMIT_BUFFER`](super::TRANSMIT_BUFFER) bytes always take everything owed at once.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
        let mut w = Writer::new(out);
        let _ = self.write_owed(&mut w);
        w.len()
    }

    fn write_owed(&mut self, w: &mut Writer<'_>) -> Result<(), Full> {
        let closed = self.is_closed();
        if closed && self.owed.error.is_none() {
            return Ok(());
        }
        let (sent, due) = (self.owed.greeting_sent, self.owed.greeting_due);
        if sent < due {
            let ours = Greeting::ours(self.cfg.mechanism, self.cfg.as_server).encode();
            w.put(&ours[usize::from(sent)..usize::from(due)])?;
            self.owed.greeting_sent = due;
        }
        if self.owed.v2_tail {
            // The 2.0 greeting's last byte, then an empty identity frame (libzmq's default).
            w.put(&[self.cfg.socket_type.zmtp2_code(), 0x00, 0x00])?;
            self.owed.v2_tail = false;
        }
        if let Some(reason) = self.owed.error {
            command::write_error(w, reason.as_bytes())?;
            self.owed.error = None;
        }
        if closed {
            return Ok(());
        }
        if self.owed.ready {
            let ty = self.cfg.socket_type;
            let zedge = ty == SocketType::XPub || self.cfg.announces_zedge;
            command::write_ready_as(w, ty, b"", zedge)?;
            self.owed.ready = false;
        }
        if let Some(ctx) = self.owed.pong {
            command::write_pong(w, &ctx.buf[..usize::from(ctx.len)])?;
            self.owed.pong = None;
        }
        if self.owed.ping {
            command::write_ping(w, self.cfg.heartbeat.ttl_ds(), b"")?;
            self.owed.ping = false;
        }
        Ok(())
    }

    /// When [`Session::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Greeting { deadline } | State::Handshake { deadline, .. } => deadline,
            State::Active { .. } => self.timers.next_deadline(&self.cfg.heartbeat),
            State::Closed => None,
        }
    }

    /// Fire whatever timers are due at `now`. An error ends the session.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), SessionError> {
        let result = match self.state {
            State::Closed => return Err(SessionError::Closed),
            State::Greeting { deadline } | State::Handshake { deadline, .. } => match deadline {
                Some(t) if now >= t => Err(SessionError::HandshakeTimeout),
                _ => Ok(()),
            },
            State::Active { .. } => self.timers.on_timeout(&self.cfg.heartbeat, now).map(|due| {
                if due == Due::SendPing {
                    self.owed.ping = true;
                }
            }),
        };
        if result.is_err() {
            self.state = State::Closed;
        }
        result
    }

    /// Write a subscription (or its cancellation) in the form the peer's version calls for:
    /// a SUBSCRIBE/CANCEL command to 3.1 peers, a `0x01`/`0x00` message to 3.0 peers. Only
    /// after the handshake, and at a message boundary of the outgoing stream; before the
    /// handshake, or without room for all of it, nothing is written and `Full` is returned.
    pub fn write_subscription(
        &self,
        w: &mut Writer<'_>,
        subscribe: bool,
        topic: &[u8],
    ) -> Result<(), Full> {
        let mut head = [0u8; command::MAX_SUBSCRIPTION_HEAD];
        let mut hw = Writer::new(&mut head);
        self.write_subscription_head(&mut hw, subscribe, topic.len())?;
        let n = hw.len();
        if w.remaining() < n + topic.len() {
            return Err(Full);
        }
        w.put(&head[..n])?;
        w.put(topic)
    }

    /// [`Session::write_subscription`] without the topic, for a caller that appends the
    /// `topic_len` topic bytes itself (a stored topic may be in pieces): at most
    /// [`MAX_SUBSCRIPTION_HEAD`](command::MAX_SUBSCRIPTION_HEAD) bytes, whatever the topic's
    /// length.
    pub fn write_subscription_head(
        &self,
        w: &mut Writer<'_>,
        subscribe: bool,
        topic_len: usize,
    ) -> Result<(), Full> {
        match self.state {
            State::Active { minor: 1.. } => {
                command::write_subscription_head(w, subscribe, topic_len)
            }
            State::Active { minor: 0 } => {
                let head = FrameHead::data((topic_len as u64).saturating_add(1), false);
                if w.remaining() < head.encoded_len() + 1 {
                    return Err(Full);
                }
                w.put(head.encode().as_slice())?;
                w.put(&[u8::from(subscribe)])
            }
            _ => Err(Full),
        }
    }
}
