//! A device's CURVE keys and allow-list, on its thread: which new connection gets a
//! [`Secure`] layer, in which role, and which connected clients a new allow-list removes.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use log::{error, info};
use zedge_core::curve::crypto::KeyPair;
use zedge_core::device::{PeerId, Side};

use super::DeviceHost;
use crate::budget::Charge;
use crate::cert::z85;
use crate::secure::{AllowList, Secure};
use crate::setup::{load_allow, load_passwords, CurveSetup, DeviceSetup, Passwords};

/// A device's security: CURVE, or a PLAIN server.
#[derive(Debug)]
pub enum Security {
    Curve(Curve),
    Plain(Rc<RefCell<Passwords>>),
}

impl Security {
    /// The device's, if it has any.
    pub fn start(d: &DeviceSetup, max_frame: u64) -> Option<Security> {
        if let Some(c) = &d.curve {
            return Some(Security::Curve(Curve::start(c, max_frame)));
        }
        let p = d.plain.as_ref()?;
        let users = load_passwords(&p.passwords).unwrap_or_else(|why| {
            error!("cannot read the PLAIN passwords: {why}; no client is let in");
            Passwords::new()
        });
        Some(Security::Plain(Rc::new(RefCell::new(users))))
    }

    /// Whether a connection accepted on `side` has a server's handshake to pass (one that
    /// costs the device: [`crate::gate::Gate::rate`]).
    pub fn serves(&self, side: Side) -> bool {
        match self {
            Security::Curve(c) => c.setup.on(side, false),
            Security::Plain(_) => true,
        }
    }

    /// The layer for a new connection on `side` (`connects`: one of its `>` endpoints), if
    /// it has one: PLAIN is for bind endpoints only.
    pub fn secure_for(
        &self,
        side: Side,
        connects: bool,
        charge: impl FnOnce() -> Charge,
    ) -> io::Result<Option<Secure>> {
        match self {
            Security::Curve(c) => c.secure_for(side, connects, charge),
            Security::Plain(_) if connects => Ok(None),
            Security::Plain(users) => Ok(Some(Secure::plain(users.clone(), charge()))),
        }
    }
}

#[derive(Debug)]
pub struct Curve {
    setup: CurveSetup,
    keys: KeyPair,
    /// `None`: any client that completes the handshake.
    allow: Option<Rc<RefCell<AllowList>>>,
    max_frame: u64,
}

impl Curve {
    pub fn start(setup: &CurveSetup, max_frame: u64) -> Curve {
        let allow = setup.allow.as_ref().map(|path| {
            // Read when the setup was checked, moments ago; if it went since, nobody is let
            // in until a reload finds it again.
            let keys = load_allow(path).unwrap_or_else(|why| {
                error!("cannot read the CURVE allow-list: {why}; no client is let in");
                AllowList::new()
            });
            Rc::new(RefCell::new(keys))
        });
        Curve {
            setup: setup.clone(),
            keys: setup.keys(),
            allow,
            max_frame,
        }
    }

    /// The layer for a new connection on `side` (`connects`: one of its `>` endpoints), if
    /// it uses CURVE.
    pub fn secure_for(
        &self,
        side: Side,
        connects: bool,
        charge: impl FnOnce() -> Charge,
    ) -> io::Result<Option<Secure>> {
        if !self.setup.on(side, connects) {
            return Ok(None);
        }
        let keys = self.keys.clone();
        let secure = match (connects, self.setup.server_key) {
            (true, Some(server)) => Secure::client(keys, server, self.max_frame, charge())?,
            _ => Secure::server(keys, self.allow.clone(), self.max_frame, charge())?,
        };
        Ok(Some(secure))
    }
}

impl DeviceHost {
    /// A new password list (a reload read it), for the connections to come; those in are
    /// not asked again.
    pub fn set_passwords(&self, users: Passwords) {
        if let Some(Security::Plain(p)) = &self.security {
            *p.borrow_mut() = users;
        }
    }

    /// A new allow-list (a reload read it): connected clients whose key it no longer holds
    /// are closed; the others stay as they are.
    pub fn set_allow_list(&self, keys: AllowList) {
        let Some(Security::Curve(Curve {
            allow: Some(allow), ..
        })) = &self.security
        else {
            return;
        };
        let removed: Vec<(PeerId, String)> = self
            .conns
            .borrow()
            .iter()
            .filter_map(|(&id, h)| {
                let key = *h.secure.as_ref()?.borrow().client_key()?;
                (!keys.contains(&key)).then(|| (id, z85(&key)))
            })
            .collect();
        *allow.borrow_mut() = keys;
        for (id, key) in removed {
            info!(
                "{}client {key} is no longer allowed; closing its connection",
                self.tag
            );
            if let Some(h) = self.conns.borrow().get(&id) {
                h.signal.revoked();
            }
        }
    }
}
