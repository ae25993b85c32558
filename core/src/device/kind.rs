//! Which device, which side: the few rules that differ between the three devices and that the
//! rest of the device layer (and its caller) asks about instead of matching on [`Kind`].

use crate::wire::metadata::SocketType;

/// Which device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// XSUB/XPUB, or SUB/PUB with `classic` (publishers get one subscription to everything,
    /// and subscriptions stay in the broker).
    Forwarder {
        /// SUB/PUB instead of XSUB/XPUB.
        classic: bool,
    },
    /// ROUTER/DEALER.
    Queue,
    /// PULL/PUSH.
    Streamer,
}

/// The side of a device a peer connected to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Side {
    /// Publishers, clients, producers.
    Frontend,
    /// Subscribers, workers.
    Backend,
    /// Capture readers: SUB sockets that get a copy of every message the device forwards,
    /// either way (`capture.rs`). They are no destination of their own and never slow the
    /// device: a reader that is behind loses copies, counted.
    Capture,
}

impl Side {
    /// Every side, in the order of [`Side::index`].
    pub const ALL: [Side; 3] = [Side::Frontend, Side::Backend, Side::Capture];

    /// Its place in [`Side::ALL`]: for per-side tables.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Its name in logs, metrics labels and the control endpoint's JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Side::Frontend => "frontend",
            Side::Backend => "backend",
            Side::Capture => "capture",
        }
    }
}

impl Kind {
    /// The socket type the device plays on `side`.
    pub const fn socket_type(self, side: Side) -> SocketType {
        match (self, side) {
            (Kind::Forwarder { classic: false }, Side::Frontend) => SocketType::XSub,
            (Kind::Forwarder { classic: false }, Side::Backend) => SocketType::XPub,
            (Kind::Forwarder { classic: true }, Side::Frontend) => SocketType::Sub,
            (Kind::Forwarder { classic: true }, Side::Backend) => SocketType::Pub,
            (Kind::Queue, Side::Frontend) => SocketType::Router,
            (Kind::Queue, Side::Backend) => SocketType::Dealer,
            (Kind::Streamer, Side::Frontend) => SocketType::Pull,
            (Kind::Streamer, Side::Backend) => SocketType::Push,
            // A tap: PUB, as libzmq's capture socket is in the ZeroMQ Guide.
            (_, Side::Capture) => SocketType::Pub,
        }
    }

    /// A peer type the socket-type rules allow on `side` but the device refuses: a ROUTER on a
    /// queue's frontend can never be answered nor ask (neither ROUTER speaks first), so it is
    /// almost surely another queue's frontend connected where its backend belongs, and is
    /// refused as an incompatible type would be, so that both ends say which side to use.
    pub const fn refused_peer(self, side: Side) -> Option<SocketType> {
        match (self, side) {
            (Kind::Queue, Side::Frontend) => Some(SocketType::Router),
            _ => None,
        }
    }

    /// A peer type refused on `side` when the peer is a zedge: a zedge's DEALER on a queue's
    /// backend is another queue's backend (zedge's own clients are REQ and REP), connected
    /// where that queue's frontend belongs; each would take the other's requests for replies
    /// and drop them as unroutable, with no word at either end.
    pub const fn refused_zedge(self, side: Side) -> Option<SocketType> {
        match (self, side) {
            (Kind::Queue, Side::Backend) => Some(SocketType::Dealer),
            _ => None,
        }
    }

    /// Whether a source waits for its destination: a queue or streamer message goes to one
    /// peer and waits for its room, while a forwarder never makes a publisher wait (a full
    /// subscriber loses the message instead).
    pub const fn waits_for_destination(self) -> bool {
        !matches!(self, Kind::Forwarder { .. })
    }

    /// Whether messages from `side` are replies (a queue's workers'): each goes to the client
    /// its routing frame names, which may hold the worker `client_stall` at most.
    pub const fn replies_from(self, side: Side) -> bool {
        matches!((self, side), (Kind::Queue, Side::Backend))
    }

    /// Whether a message from `side` already on its way waits for its destination to drain
    /// below its high-water mark: a streamer's work and a queue's request do (their sender is
    /// pushed back, nothing is lost). A publication never does, nor does a queue's reply: the
    /// worker answers other clients too, and a client's queue always has room for the rest of
    /// one message (its capacity is the mark plus a whole message); the next reply for a
    /// client over its mark is dropped instead.
    pub const fn waits_mid_message(self, side: Side) -> bool {
        matches!((self, side), (Kind::Streamer | Kind::Queue, Side::Frontend))
    }

    /// Whether the caller may move frame bodies past the device
    /// ([`Device::bypass_target`](super::Device::bypass_target)): only where a source waits
    /// for its one destination anyway.
    pub const fn bypasses(self) -> bool {
        self.waits_for_destination()
    }

    /// Whether messages from `side` are routed; the other side's data is read and dropped.
    pub const fn routes_from(self, side: Side) -> bool {
        matches!(
            (self, side),
            (Kind::Queue, Side::Frontend | Side::Backend)
                | (Kind::Forwarder { .. } | Kind::Streamer, Side::Frontend)
        )
    }

    /// Whether subscriptions travel upstream to publishers (XSUB); a classic SUB frontend
    /// subscribes to everything once and keeps subscriptions in the broker.
    pub const fn forwards_subscriptions(self) -> bool {
        matches!(self, Kind::Forwarder { classic: false })
    }
}
