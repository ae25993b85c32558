//! Counters every device keeps: what the stats endpoint and logs report.

/// Traffic and peers on one side of a device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SideStats {
    /// Messages and bytes (data frame bodies) received from this side's peers.
    pub msgs_in: u64,
    /// Body bytes of those messages, frame headers not counted.
    pub bytes_in: u64,
    /// The frames (message parts) of those messages.
    pub frames_in: u64,
    /// Messages and bytes queued to this side's peers (a fanned-out message counts per copy).
    pub msgs_out: u64,
    /// Body bytes of those messages, per copy, frame headers not counted.
    pub bytes_out: u64,
    /// Peers connected now, handshake finished or not.
    pub peers: u32,
    /// Connections ever added on this side.
    pub connections: u64,
    /// Connections that ended in a protocol error (bad greeting, wrong socket type, limits...).
    pub refused: u64,
    /// Those of them that ended before their handshake was done, by reason.
    pub handshake_failures: HandshakeFailures,
}

/// Connections that failed their handshake, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HandshakeFailures {
    /// The greeting was not ZeroMQ (or a ZMTP 3.x greeting that does not parse).
    pub greeting: u64,
    /// An older peer (ZMTP 1.0 or 2.0) where it is not spoken: a device with `legacy = false`,
    /// a CURVE or PLAIN endpoint (neither has a mechanism), a 1.0 peer after a 12-byte
    /// greeting (revision 0).
    pub legacy: u64,
    /// The peer asked for another security mechanism.
    pub mechanism: u64,
    /// The peer's socket type is missing, unknown, or cannot talk to this side's.
    pub socket_type: u64,
    /// The handshake did not finish in time.
    pub timeout: u64,
    /// The connection ended before the handshake was done without an error in what it sent:
    /// the peer left (a port scan, a health check), or zedge closed it to make room for others
    /// (`max_handshaking`) or at shutdown.
    pub closed: u64,
    /// Anything else: a malformed command or property, a limit, data before READY, an
    /// ERROR from the peer.
    pub protocol: u64,
    /// A CURVE handshake that failed: a box that did not open (a wrong server key, a forged
    /// or replayed command), a malformed CURVE command, a key of small order.
    pub curve: u64,
    /// A CURVE client whose key is not on the allow-list, or a PLAIN client whose user name
    /// and password are not on the server's list.
    pub denied: u64,
}

impl HandshakeFailures {
    /// The reasons as metric labels, with their counts.
    pub const fn by_reason(&self) -> [(&'static str, u64); 9] {
        [
            ("curve", self.curve),
            ("denied", self.denied),
            ("greeting", self.greeting),
            ("legacy", self.legacy),
            ("mechanism", self.mechanism),
            ("socket_type", self.socket_type),
            ("timeout", self.timeout),
            ("protocol", self.protocol),
            ("closed", self.closed),
        ]
    }

    pub(crate) fn count(&mut self, e: &crate::conn::SessionError) {
        use crate::conn::SessionError as E;
        *match e {
            E::Greeting(
                crate::wire::greeting::GreetingError::Legacy(_)
                | crate::wire::greeting::GreetingError::UnsupportedVersion { .. },
            ) => &mut self.legacy,
            E::Greeting(_) => &mut self.greeting,
            E::MechanismMismatch { .. } => &mut self.mechanism,
            E::MissingSocketType
            | E::UnknownSocketType
            | E::IncompatibleSocketType { .. }
            | E::ClosedOnReady => &mut self.socket_type,
            E::HandshakeTimeout => &mut self.timeout,
            E::Denied => &mut self.denied,
            #[cfg(feature = "curve")]
            E::Curve(crate::curve::CurveError::Denied) => &mut self.denied,
            #[cfg(feature = "curve")]
            E::Curve(crate::curve::CurveError::NotCurve) => &mut self.mechanism,
            #[cfg(feature = "curve")]
            E::Curve(_) => &mut self.curve,
            _ => &mut self.protocol,
        } += 1;
    }
}

/// Messages not delivered, by cause. No cause drops silently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Drops {
    /// A subscriber's queue was above its high-water mark when the message started.
    pub hwm: u64,
    /// A subscriber was still taking another message when this one started. Stays zero:
    /// publishers wait for such a subscriber; a non-zero count is a bug worth reporting.
    pub busy: u64,
    /// A reply named a client that is gone (or a routing frame that is not ours).
    pub unroutable: u64,
    /// A message whose sender left before finishing it.
    pub aborted: u64,
    /// A subscriber's queue was below its high-water mark but could not grow: the process's
    /// memory budget was spent (`memory_max`).
    pub memory: u64,
    /// Data a subscriber sent that is not a subscription.
    pub upstream_data: u64,
    /// Subscriptions refused, all causes together; by cause in
    /// [`Stats::refused_subscriptions`].
    pub subscriptions: u64,
    /// Copies a capture reader lost: it was above its high-water mark, still taking another
    /// message, or out of memory when the message started, or could not take the rest of
    /// one. One per reader and message.
    pub capture: u64,
}

/// Subscriptions refused, by cause ([`Refusal`](super::Refusal)). The subscriber stays
/// connected and its other subscriptions stand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SubscriptionRefusals {
    /// The table was full (`SubscriptionLimits::max`).
    pub table_full: u64,
    /// The topic storage was full (`SubscriptionLimits::topic_bytes`).
    pub topic_bytes_full: u64,
    /// The subscriber held its share (`SubscriptionLimits::max_per_peer` or
    /// `topic_bytes_per_peer`).
    pub peer_share: u64,
    /// The topic was longer than [`MAX_TOPIC`](super::MAX_TOPIC); its bytes were skipped.
    pub too_long: u64,
}

impl Drops {
    /// Messages dropped, all causes together; `upstream_data`, `subscriptions` and `capture`
    /// (copies) are not messages on their way between the sides and are not counted.
    pub const fn messages(&self) -> u64 {
        self.hwm + self.busy + self.unroutable + self.aborted + self.memory
    }
}

/// Messages (frames: each part of a multipart message is one) and their body bytes, as
/// libzmq's proxy counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tally {
    /// Message parts.
    pub msgs: u64,
    /// Their body bytes.
    pub bytes: u64,
}

impl Tally {
    pub(crate) fn add(&mut self, bytes: u64) {
        self.msgs += 1;
        self.bytes += bytes;
    }
}

/// What libzmq's `zmq_proxy_steerable` would report in its STATISTICS reply for the same
/// traffic (libzmq 4.3.5 and later): every part of a message is counted as one, bytes are
/// frame bodies, and a part counts as sent once the proxy has handed it to the other side's
/// socket, whether that socket then delivers it to one peer, several (a forwarder's
/// subscribers: once, however many), or none (a subscriber at its mark, a reply to a
/// client that left). A queue's requests carry the routing frame libzmq's ROUTER would put
/// before them (the client's identity, or 5 bytes), and its replies the same frame in
/// place of ours. A forwarder's subscribers "send" the subscriptions that travel upstream
/// (the first to a topic, the last cancel), as libzmq's XPUB hands them to its proxy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ProxyStats {
    /// Received from the frontend's peers.
    pub frontend_in: Tally,
    /// Sent to the frontend's peers (a queue's replies, a forwarder's subscriptions).
    pub frontend_out: Tally,
    /// Received from the backend's peers (replies, subscriptions).
    pub backend_in: Tally,
    /// Sent to the backend's peers.
    pub backend_out: Tally,
}

impl ProxyStats {
    /// The eight numbers in libzmq's order: frontend received messages and bytes, sent
    /// messages and bytes, then the same for the backend.
    pub const fn libzmq_order(&self) -> [u64; 8] {
        [
            self.frontend_in.msgs,
            self.frontend_in.bytes,
            self.frontend_out.msgs,
            self.frontend_out.bytes,
            self.backend_in.msgs,
            self.backend_in.bytes,
            self.backend_out.msgs,
            self.backend_out.bytes,
        ]
    }
}

/// All counters of a device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Per side, by [`Side::index`](super::Side::index): read with [`Stats::frontend`],
    /// [`Stats::backend`], [`Stats::capture`] or [`Stats::side`]. An array, so that the
    /// message path counts into a side without a branch (a match over three fields cost a
    /// streamer's message 14 instructions, tools/bench-callgrind).
    pub(crate) sides: [SideStats; 3],
    /// Messages not delivered, by cause.
    pub dropped: Drops,
    /// Peers the device reset because a message to them could not be completed.
    pub resets: u64,
    /// Senders closed because a message they were cutting through stopped moving, or one
    /// they were sending into memory others waited for did
    /// ([`Device::stall_peer`](super::Device::stall_peer)).
    pub stalled: u64,
    /// Peers closed for not reading while others waited: queue clients that read none of
    /// their replies for `client_stall` while memory was spent
    /// ([`CloseReason::Unread`](super::CloseReason::Unread)), and workers that held their
    /// sender mid-message and read too little of it for the progress timeout
    /// ([`CloseReason::Deaf`](super::CloseReason::Deaf)).
    pub unread: u64,
    /// Forwarder subscribers closed because they lagged while memory was spent and a
    /// subscriber that keeps up needed room
    /// ([`CloseReason::Lagging`](super::CloseReason::Lagging)).
    pub lagging: u64,
    /// Subscriptions refused, by cause (their sum is `dropped.subscriptions`).
    pub refused_subscriptions: SubscriptionRefusals,
    /// What it takes to tell the traffic as libzmq's steerable proxy counts it
    /// ([`Stats::proxy`]) from the counters above.
    pub(crate) proxy_view: ProxyView,
}

impl Stats {
    /// The frontend: publishers (forwarder), clients (queue) or producers (streamer).
    pub const fn frontend(&self) -> &SideStats {
        &self.sides[0]
    }

    /// The backend: subscribers (forwarder) or workers (queue, streamer).
    pub const fn backend(&self) -> &SideStats {
        &self.sides[1]
    }

    /// The capture readers (`capture.rs`): the copies queued to them (`msgs_out`,
    /// `bytes_out`), those they lost in `dropped.capture`.
    pub const fn capture(&self) -> &SideStats {
        &self.sides[2]
    }

    /// One side's.
    pub const fn side(&self, side: super::Side) -> &SideStats {
        &self.sides[side.index()]
    }

    /// One side's, to change (in a copy: a caller's tests, sums of several devices).
    pub fn side_mut(&mut self, side: super::Side) -> &mut SideStats {
        &mut self.sides[side.index()]
    }

    /// The traffic as libzmq's steerable proxy would count it (its STATISTICS).
    pub fn proxy(&self) -> ProxyStats {
        let v = &self.proxy_view;
        let (f, b) = (self.frontend(), self.backend());
        let frontend_in = Tally {
            msgs: (f.frames_in + v.ids_in.msgs).saturating_sub(v.unseen[0].msgs),
            bytes: (f.bytes_in + v.ids_in.bytes).saturating_sub(v.unseen[0].bytes),
        };
        // Replies came with our routing frame; libzmq's would be its id for the client.
        let ours = v.reply_ids.msgs * super::queue::ROUTING_ID_LEN as u64;
        let backend_in = Tally {
            msgs: (b.frames_in + v.up.msgs).saturating_sub(v.unseen[1].msgs),
            bytes: (b.bytes_in + v.up.bytes + v.reply_ids.bytes)
                .saturating_sub(v.unseen[1].bytes + ours),
        };
        // libzmq's proxy sends each part it received on at once, and the send succeeds
        // whether the part then reaches one peer, several or none.
        ProxyStats {
            frontend_in,
            frontend_out: backend_in,
            backend_in,
            backend_out: frontend_in,
        }
    }
}

/// Where the frames and bytes the sides received differ from what libzmq's proxy would
/// have read (each counted off the message path).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct ProxyView {
    /// Data from a side the proxy does not read (subscribers, PULL workers, capture
    /// readers), per side ([`Side::index`](super::Side::index)).
    pub(crate) unseen: [Tally; 3],
    /// The routing frames libzmq's ROUTER would put before the requests read.
    pub(crate) ids_in: Tally,
    /// Replies that came with our routing frame, and libzmq's id for their clients.
    pub(crate) reply_ids: Tally,
    /// Subscriptions and cancellations that went upstream (libzmq's XPUB would hand them to
    /// the proxy).
    pub(crate) up: Tally,
}

impl ProxyView {
    pub(crate) fn unseen(&mut self, side: super::Side) -> &mut Tally {
        &mut self.unseen[side.index()]
    }
}
