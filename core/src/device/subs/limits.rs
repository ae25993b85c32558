//! What a subscription table may hold and what one subscriber holds of it: the limits, the
//! causes of a refusal, and a subscriber's part ([`PeerSubs`]).

use core::fmt;

use super::store::NIL;
#[cfg(doc)]
use super::SubTable;

/// A subscriber may hold at most this many times what the table has left free, beside its
/// fixed share ([`SubscriptionLimits::max_per_peer`], `topic_bytes_per_peer`): each one's share
/// shrinks as the table fills, so a fifth of what the subscribers before it left is still
/// there for the next, however many came first at their full share (four at the default share
/// filled the default table, and locked out everyone after them). Past it, a subscription is
/// refused as [`Refusal::TableFull`] (or [`Refusal::TopicBytesFull`]): what is left is not
/// for this subscriber.
pub const SHARE_OF_FREE: usize = 4;

/// The per-subscriber share an XSUB peer (a downstream broker, subscribing for all of its
/// own subscribers) has, in subscribers' shares: at the defaults, the whole table, which the
/// shrinking share ([`SHARE_OF_FREE`]) then bounds; a smaller `max_per_peer` bounds it too.
pub const PROXY_SHARES: usize = 4;

/// How big the subscription table is and what one subscriber may take of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SubscriptionLimits {
    /// Subscriptions the table holds: distinct (subscriber, topic) pairs. Subscribing again
    /// to a topic one holds only counts it up, costs nothing and is never refused. Default
    /// 4,096.
    pub max: usize,
    /// Subscriptions one subscriber may hold, so that none can fill the table for the others.
    /// Default 1,024, a quarter of the default table. As the table fills, a subscriber's share
    /// shrinks below this: it may hold at most [`SHARE_OF_FREE`] times what is left free (then
    /// refused as [`Refusal::TableFull`]).
    pub max_per_peer: usize,
    /// Storage for topic bytes beyond each topic's first 16, taken in 28-byte pieces. Default
    /// 1 MiB.
    pub topic_bytes: usize,
    /// What the topics one subscriber holds may take of `topic_bytes`, each counted in full
    /// even when others hold it too. Default 256 KiB. As the topic storage fills, this shrinks
    /// as `max_per_peer` does.
    pub topic_bytes_per_peer: usize,
}

impl SubscriptionLimits {
    /// The defaults; what [`Default`] gives.
    pub const DEFAULT: SubscriptionLimits = SubscriptionLimits {
        max: 4096,
        max_per_peer: 1024,
        topic_bytes: 1 << 20,
        topic_bytes_per_peer: 256 << 10,
    };
}

impl Default for SubscriptionLimits {
    fn default() -> Self {
        SubscriptionLimits::DEFAULT
    }
}

/// Why a subscription was refused. The subscriber is not told (ZMTP has no way to), and its
/// other subscriptions stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Refusal {
    /// The table holds [`SubscriptionLimits::max`] subscriptions, or what is left is not for
    /// this subscriber, which holds [`SHARE_OF_FREE`] times as much.
    TableFull,
    /// The topic storage ([`SubscriptionLimits::topic_bytes`]) has no room for the topic, or
    /// what is left is not for this subscriber ([`SHARE_OF_FREE`]).
    TopicBytesFull,
    /// The subscriber holds its share: [`SubscriptionLimits::max_per_peer`] subscriptions, or
    /// [`SubscriptionLimits::topic_bytes_per_peer`].
    PeerShare,
    /// The topic is longer than [`MAX_TOPIC`](crate::conn::MAX_TOPIC).
    TooLong,
}

impl Refusal {
    /// Every cause.
    pub const ALL: [Refusal; 4] = [
        Refusal::TableFull,
        Refusal::TopicBytesFull,
        Refusal::PeerShare,
        Refusal::TooLong,
    ];
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::TableFull => "subscription table full (raise max subscriptions)",
            Refusal::TopicBytesFull => "topic storage full (raise topic bytes)",
            Refusal::PeerShare => "the subscriber holds its share of the subscription table",
            Refusal::TooLong => "topic longer than the 16 KiB limit",
        })
    }
}

/// One subscriber's part of the table: the head of its list of subscriptions and what they
/// take. The caller keeps one per subscriber (the device keeps it in the peer's slot) and
/// passes that one for every call about the subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerSubs {
    pub(super) peer: u32,
    pub(super) head: u32,
    pub(super) len: u32,
    pub(super) pieces: u32,
}

impl PeerSubs {
    /// No subscriptions yet, for the subscriber that [`SubTable::matches`] names `peer`. No two
    /// subscribers in a table may share a name.
    pub const fn new(peer: u32) -> Self {
        PeerSubs {
            peer,
            head: NIL,
            len: 0,
            pieces: 0,
        }
    }

    /// Subscriptions it holds (distinct topics).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// It holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
