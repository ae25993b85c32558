//! Traffic after the handshake: data frames (whole or in chunks), commands, and the ZMTP 3.0
//! subscription messages, each checked against the limits before anything is taken.

use super::{Event, FrameStart, Input, PingContext, Rx, Session};
use crate::conn::error::{Reason, SessionError};
use crate::wire::command::{Command, MAX_PING_CONTEXT};
use crate::wire::frame::FrameHead;

impl Session {
    pub(super) fn on_traffic<'a>(&mut self, input: &'a [u8]) -> Result<Input<'a>, SessionError> {
        if self.rx.body_left > 0 {
            if input.is_empty() {
                return Ok(Input::NEED_MORE);
            }
            let n = (input.len() as u64).min(self.rx.body_left) as usize;
            self.rx.body_left -= n as u64;
            let done = self.rx.body_left == 0;
            return Ok(Input {
                consumed: n,
                event: Some(Event::Body {
                    chunk: &input[..n],
                    done,
                }),
            });
        }
        match FrameHead::decode(input)? {
            Some((head, head_len)) => self.on_frame_head(input, head, head_len),
            None => Ok(Input::NEED_MORE),
        }
    }

    /// A frame starts at `input` with `head` (`head_len` bytes) between frames.
    pub(super) fn on_frame_head<'a>(
        &mut self,
        input: &'a [u8],
        head: FrameHead,
        head_len: usize,
    ) -> Result<Input<'a>, SessionError> {
        if head.command {
            let Some(body) = self.command_body(input, head, head_len)? else {
                return Ok(Input::NEED_MORE);
            };
            let event = self.on_command(Command::parse(body)?)?;
            return Ok(Input {
                consumed: head_len + body.len(),
                event,
            });
        }
        let limit = self.cfg.limits.max_message_size;
        let msg_len = self.rx.msg_len.saturating_add(head.len);
        if msg_len > limit {
            return Err(SessionError::MessageTooLarge {
                len: msg_len,
                limit,
            });
        }
        let body = &input[head_len..];
        if let Some(sub) = self.subscription_message(head, body) {
            return Ok(match sub {
                Some(event) => Input {
                    consumed: head_len + head.len as usize,
                    event: Some(event),
                },
                None => Input::NEED_MORE,
            });
        }
        let need = head.len.min(self.cfg.limits.head_bytes as u64) as usize;
        if body.len() < need {
            return Ok(Input::NEED_MORE);
        }
        let take = (body.len() as u64).min(head.len) as usize;
        self.rx = Rx {
            body_left: head.len - take as u64,
            msg_len: if head.more { msg_len } else { 0 },
            in_message: head.more,
        };
        let start = FrameStart {
            more: head.more,
            len: head.len,
            chunk: &body[..take],
        };
        Ok(Input {
            consumed: head_len + take,
            event: Some(Event::Frame(start)),
        })
    }

    /// The ZMTP 3.0 subscription form: a one-frame message starting with 0x01 or 0x00, sent to
    /// a PUB/XPUB. `None` if this frame cannot be one; `Some(None)` if it may be but is not
    /// all here yet.
    fn subscription_message<'a>(
        &self,
        head: FrameHead,
        body: &'a [u8],
    ) -> Option<Option<Event<'a>>> {
        let small = head.len >= 1 && head.len <= self.cfg.limits.max_command_size as u64;
        if !self.cfg.socket_type.takes_subscriptions() || self.rx.in_message || head.more || !small
        {
            return None;
        }
        let Some(body) = body.get(..head.len as usize) else {
            return Some(None);
        };
        match body.split_first() {
            Some((0x01, topic)) => Some(Some(Event::Subscribe(topic))),
            Some((0x00, topic)) => Some(Some(Event::Cancel(topic))),
            _ => None,
        }
    }

    fn on_command<'a>(&mut self, cmd: Command<'a>) -> Result<Option<Event<'a>>, SessionError> {
        let takes_subs = self.cfg.socket_type.takes_subscriptions();
        Ok(match cmd {
            Command::Ping { ttl, context } => {
                let mut buf = [0u8; MAX_PING_CONTEXT];
                buf[..context.len()].copy_from_slice(context);
                self.owed.pong = Some(PingContext {
                    buf,
                    len: context.len() as u8,
                });
                self.timers.on_peer_ttl(ttl);
                None
            }
            Command::Subscribe(topic) if takes_subs => Some(Event::Subscribe(topic)),
            Command::Cancel(topic) if takes_subs => Some(Event::Cancel(topic)),
            // Subscriptions sent to a socket that does not publish, PONGs (their arrival
            // already counted as traffic) and commands from later protocol versions.
            Command::Subscribe(_)
            | Command::Cancel(_)
            | Command::Pong { .. }
            | Command::Unknown { .. } => None,
            Command::Error { reason } => return Err(SessionError::PeerError(Reason::new(reason))),
            Command::Ready(_) => return Err(SessionError::UnexpectedCommand),
        })
    }

    /// A whole command body, `None` if not all here yet, an error if over the limit.
    pub(super) fn command_body<'a>(
        &self,
        input: &'a [u8],
        head: FrameHead,
        head_len: usize,
    ) -> Result<Option<&'a [u8]>, SessionError> {
        let limit = self.cfg.limits.max_command_size;
        if head.len > limit as u64 {
            return Err(SessionError::CommandTooLarge {
                len: head.len,
                limit,
            });
        }
        // head.len <= limit, a usize, so the cast is exact; the sum can only overflow for an
        // absurd limit, and then the body is simply not all here.
        Ok(head_len
            .checked_add(head.len as usize)
            .and_then(|end| input.get(head_len..end)))
    }
}
