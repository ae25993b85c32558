//! The mechanism under a [`Secure`](super::Secure) connection's session, and whom it lets
//! in: the core's CURVE link (either role) or PLAIN server, behind one face.

use std::cell::RefCell;
use std::rc::Rc;

use zedge_core::conn::SessionError;
use zedge_core::conn::{plain, v1};
use zedge_core::curve::crypto::KEY_LEN;
use zedge_core::curve::link::{Link, Opened, Outgoing, TX_ROOM};
use zedge_core::wire::greeting::GREETING_LEN;

use super::AllowList;
use crate::setup::Passwords;

/// The mechanism under the session: CURVE (either role) or a PLAIN server; or ZMTP 1.0,
/// which has none, under a NULL one.
#[derive(Debug)]
pub enum Layer {
    Curve(Box<Link>),
    Plain(plain::Server),
    V1(Box<v1::Link>),
}

/// Whom a server lets in.
#[derive(Debug)]
pub enum Gate {
    /// CURVE client keys; `None`: any client that completes the handshake.
    Keys(Option<Rc<RefCell<AllowList>>>),
    /// PLAIN user names and passwords.
    Passwords(Rc<RefCell<Passwords>>),
}

impl Layer {
    pub(super) fn greeting(&self) -> [u8; GREETING_LEN] {
        match self {
            Layer::Curve(l) => l.greeting(),
            Layer::Plain(p) => p.greeting(),
            // Its signature went before the layer came.
            Layer::V1(_) => [0; GREETING_LEN],
        }
    }

    pub(super) fn is_server(&self) -> bool {
        match self {
            Layer::Curve(l) => l.is_server(),
            Layer::Plain(_) => true,
            Layer::V1(_) => false,
        }
    }

    pub(super) fn is_active(&self) -> bool {
        match self {
            Layer::Curve(l) => l.is_active(),
            Layer::Plain(p) => p.is_active(),
            Layer::V1(l) => l.is_active(),
        }
    }

    pub(super) fn owes_metadata(&self) -> bool {
        match self {
            Layer::Curve(l) => l.owes_metadata(),
            Layer::Plain(p) => p.owes_metadata(),
            Layer::V1(_) => false,
        }
    }

    pub(super) fn awaits_greeting(&self) -> bool {
        match self {
            Layer::Curve(l) => l.awaits_greeting(),
            Layer::Plain(p) => p.awaits_greeting(),
            Layer::V1(_) => false,
        }
    }

    pub(super) fn session_greeting_left(&self) -> usize {
        match self {
            Layer::Curve(l) => l.session_greeting_left(),
            Layer::Plain(p) => p.session_greeting_left(),
            Layer::V1(l) => l.session_greeting_left(),
        }
    }

    pub(super) fn awaits_welcome(&self) -> bool {
        matches!(self, Layer::Curve(l) if l.awaits_welcome())
    }

    pub(super) fn client_key(&self) -> Option<&[u8; KEY_LEN]> {
        match self {
            Layer::Curve(l) => l.client_key(),
            Layer::Plain(_) | Layer::V1(_) => None,
        }
    }

    pub(super) fn open(
        &mut self,
        input: &mut [u8],
        tx: &mut [u8; TX_ROOM],
        gate: &Gate,
    ) -> Result<Opened, SessionError> {
        match (self, gate) {
            (Layer::Curve(l), Gate::Keys(allow)) => l.open(input, tx, |key| {
                allow.as_ref().is_none_or(|a| a.borrow().contains(key))
            }),
            (Layer::Curve(l), Gate::Passwords(_)) => l.open(input, tx, |_| false),
            (Layer::Plain(p), Gate::Passwords(users)) => p.open(input, tx, |user, password| {
                users.borrow().get(user).is_some_and(|p| p == password)
            }),
            (Layer::Plain(p), Gate::Keys(_)) => p.open(input, tx, |_, _| false),
            (Layer::V1(l), _) => l.open(input),
        }
    }

    pub(super) fn take_outgoing(
        &mut self,
        plain: &[u8],
        out: &mut [u8],
    ) -> Result<Outgoing, SessionError> {
        match self {
            Layer::Curve(l) => l.take_outgoing(plain, out),
            Layer::Plain(p) => p.take_outgoing(plain, out),
            Layer::V1(l) => l.take_outgoing(plain, out),
        }
    }
}
