//! Traffic after the handshake: data frames (whole or in chunks), commands, and
//! subscriptions in both forms (SUBSCRIBE/CANCEL commands, ZMTP 3.0 `0x01`/`0x00` messages),
//! each checked against the limits before anything is taken.

use super::{Event, FrameStart, Input, PingContext, Rx, Session};
use crate::conn::error::{Reason, SessionError};
use crate::wire::command::{Command, CANCEL_NAME, MAX_PING_CONTEXT, SUBSCRIBE_NAME};
use crate::wire::frame::FrameHead;

impl Session {
    pub(super) fn on_traffic<'a>(&mut self, input: &'a [u8]) -> Result<Input<'a>, SessionError> {
        if self.rx.skip_left > 0 {
            // The rest of a subscription whose topic is over the limit: dropped as it comes.
            let n = (input.len() as u64).min(self.rx.skip_left);
            self.rx.skip_left -= n;
            return Ok(Input {
                consumed: n as usize,
                event: None,
            });
        }
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
            // ZMTP 2.0 has no commands.
            if self.v2.is_some() {
                return Err(SessionError::UnexpectedCommand);
            }
            return self.on_command_frame(input, head, head_len);
        }
        let limit = self.cfg.limits.max_message_size;
        let msg_len = self.rx.msg_len.saturating_add(head.len);
        if msg_len > limit {
            return Err(SessionError::MessageTooLarge {
                len: msg_len,
                limit,
            });
        }
        if let Some(sub) = self.subscription_message(input, head, head_len) {
            return Ok(sub);
        }
        let body = &input[head_len..];
        let need = head.len.min(self.cfg.limits.head_bytes as u64) as usize;
        if body.len() < need {
            return Ok(Input::NEED_MORE);
        }
        let take = (body.len() as u64).min(head.len) as usize;
        self.rx = Rx {
            body_left: head.len - take as u64,
            skip_left: 0,
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

    /// A command frame. SUBSCRIBE and CANCEL, to a socket that takes them, are bounded by the
    /// topic limit; every other command by `max_command_size`.
    fn on_command_frame<'a>(
        &mut self,
        input: &'a [u8],
        head: FrameHead,
        head_len: usize,
    ) -> Result<Input<'a>, SessionError> {
        if self.cfg.socket_type.takes_subscriptions() {
            // The name tells, once enough of it is here to tell.
            let body = &input[head_len..];
            let start = &body[..body.len().min(SUBSCRIBE_NAME.len())];
            let mut may_be = false;
            for (name, subscribe) in [(SUBSCRIBE_NAME, true), (CANCEL_NAME, false)] {
                if start.starts_with(name) {
                    return Ok(self.subscription(input, head, head_len, name.len(), subscribe));
                }
                may_be |= name.starts_with(start) && name.len() as u64 <= head.len;
            }
            if may_be {
                return Ok(Input::NEED_MORE);
            }
        }
        let Some(body) = self.command_body(input, head, head_len)? else {
            return Ok(Input::NEED_MORE);
        };
        let event = self.on_command(Command::parse(body)?)?;
        Ok(Input {
            consumed: head_len + body.len(),
            event,
        })
    }

    /// The ZMTP 3.0 subscription form: a one-frame message starting with 0x01 or 0x00, sent to
    /// a PUB/XPUB, of any length. `None` if this frame is not one.
    fn subscription_message<'a>(
        &mut self,
        input: &'a [u8],
        head: FrameHead,
        head_len: usize,
    ) -> Option<Input<'a>> {
        if !self.cfg.socket_type.takes_subscriptions()
            || self.rx.in_message
            || head.more
            || head.len == 0
        {
            return None;
        }
        let subscribe = match input.get(head_len) {
            None => return Some(Input::NEED_MORE),
            Some(0x01) => true,
            Some(0x00) => false,
            Some(_) => return None,
        };
        Some(self.subscription(input, head, head_len, 1, subscribe))
    }

    /// A subscription whose frame starts at `input`, its topic after `name_len` body bytes:
    /// whole once it is all here, or skipped as it arrives if the topic is over the limit.
    fn subscription<'a>(
        &mut self,
        input: &'a [u8],
        head: FrameHead,
        head_len: usize,
        name_len: usize,
        subscribe: bool,
    ) -> Input<'a> {
        let topic_len = head.len - name_len as u64;
        if topic_len > self.cfg.limits.topic_limit() as u64 {
            let here = ((input.len() - head_len) as u64).min(head.len);
            self.rx.skip_left = head.len - here;
            return Input {
                consumed: head_len + here as usize,
                event: Some(Event::TopicTooLong {
                    subscribe,
                    len: topic_len,
                }),
            };
        }
        // Within the topic limit, so the cast is exact and the sum cannot overflow.
        let end = head_len + head.len as usize;
        let Some(topic) = input.get(head_len + name_len..end) else {
            return Input::NEED_MORE;
        };
        Input {
            consumed: end,
            event: Some(if subscribe {
                Event::Subscribe(topic)
            } else {
                Event::Cancel(topic)
            }),
        }
    }

    fn on_command<'a>(&mut self, cmd: Command<'a>) -> Result<Option<Event<'a>>, SessionError> {
        Ok(match cmd {
            Command::Ping { ttl, context } => {
                let mut buf = [0u8; MAX_PING_CONTEXT];
                buf[..context.len()].copy_from_slice(context);
                let pong = Some(PingContext {
                    buf,
                    len: context.len() as u8,
                });
                match &mut self.pongs_held {
                    Some(held) => *held = pong,
                    None => self.owed.pong = pong,
                }
                self.timers.on_peer_ttl(ttl);
                None
            }
            // Subscriptions sent to a socket that does not publish (those to one that does
            // never get here), PONGs (their arrival already counted as traffic) and commands
            // from later protocol versions.
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
