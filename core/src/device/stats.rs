//! Counters every device keeps: what the stats endpoint and logs report.

/// Traffic and peers on one side of a device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SideStats {
    /// Messages and bytes (data frame bodies) received from this side's peers.
    pub msgs_in: u64,
    /// Body bytes of those messages, frame headers not counted.
    pub bytes_in: u64,
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
    /// Messages dropped, all causes together; `upstream_data` and `subscriptions` are not
    /// messages on their way between the sides and are not counted.
    pub const fn messages(&self) -> u64 {
        self.hwm + self.busy + self.unroutable + self.aborted + self.memory
    }
}

/// All counters of a device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// The frontend: publishers (forwarder), clients (queue) or producers (streamer).
    pub frontend: SideStats,
    /// The backend: subscribers (forwarder) or workers (queue, streamer).
    pub backend: SideStats,
    /// Messages not delivered, by cause.
    pub dropped: Drops,
    /// Peers the device reset because a message to them could not be completed.
    pub resets: u64,
    /// Senders closed because a message they were cutting through stopped moving, or one
    /// they were sending into memory others waited for did
    /// ([`Device::stall_peer`](super::Device::stall_peer)).
    pub stalled: u64,
    /// Queue clients closed because they read none of their replies for `client_stall` while
    /// memory was spent ([`CloseReason::Unread`](super::CloseReason::Unread)).
    pub unread: u64,
    /// Forwarder subscribers closed because they lagged while memory was spent and a
    /// subscriber that keeps up needed room
    /// ([`CloseReason::Lagging`](super::CloseReason::Lagging)).
    pub lagging: u64,
    /// Subscriptions refused, by cause (their sum is `dropped.subscriptions`).
    pub refused_subscriptions: SubscriptionRefusals,
}
