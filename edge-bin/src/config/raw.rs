//! The file's shape, for serde: which keys exist, and what each value may be. Leaves have
//! hand-written visitors, so a wrong value is answered with what would be accepted.

use std::fmt;
use std::ops::Range;

use log::LevelFilter;
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::Deserialize;
use toml::Spanned;
use zedge_core::device::Kind;

use crate::endpoint::Endpoint;
use crate::setup::{kind_from_name, kind_names, CurveOpt, Opt, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    #[serde(default)]
    pub device: Vec<Spanned<RawDevice>>,
    pub log: Option<RawLog>,
    pub metrics: Option<RawMetrics>,
    /// Process options, at the top of the file (before any table).
    pub memory_max: Option<Spanned<Value>>,
}

impl RawFile {
    /// Takes out the process options that were given, as [`RawDevice::options`] does.
    pub fn options(&mut self) -> impl Iterator<Item = (Opt, Spanned<Value>)> {
        [(Opt::MemoryMax, self.memory_max.take())]
            .into_iter()
            .filter_map(|(opt, v)| Some((opt, v?)))
    }
}

/// The `[metrics]` table: where Prometheus metrics are served.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<Spanned<Level>>,
}

/// A `[[device]]` table. The options are kept as written, with their place, for
/// [`Written::build`](crate::setup::Written::build) to check as it checks the command line's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    pub name: Spanned<String>,
    pub kind: Spanned<KindValue>,
    pub classic: Option<Spanned<Value>>,
    pub frontend: Spanned<Endpoints>,
    pub backend: Spanned<Endpoints>,
    pub control: Option<Spanned<EndpointValue>>,
    pub capture: Option<Spanned<EndpointValue>>,
    pub max_msg_size: Option<Spanned<Value>>,
    pub queue_hwm: Option<Spanned<Value>>,
    pub max_peers: Option<Spanned<Value>>,
    pub max_peers_per_address: Option<Spanned<Value>>,
    pub max_handshaking: Option<Spanned<Value>>,
    pub handshake_rate_per_address: Option<Spanned<Value>>,
    pub max_subscriptions: Option<Spanned<Value>>,
    pub max_subscriptions_per_peer: Option<Spanned<Value>>,
    pub upstream_rate: Option<Spanned<Value>>,
    pub upstream_burst: Option<Spanned<Value>>,
    pub max_splices: Option<Spanned<Value>>,
    pub store_forward_max: Option<Spanned<Value>>,
    pub progress_timeout: Option<Spanned<Value>>,
    pub heartbeat_ivl: Option<Spanned<Value>>,
    pub heartbeat_timeout: Option<Spanned<Value>>,
    pub handshake_timeout: Option<Spanned<Value>>,
    pub client_stall: Option<Spanned<Value>>,
    pub worker_inflight: Option<Spanned<Value>>,
    pub splice_stall: Option<Spanned<Value>>,
    pub kernel_send_max: Option<Spanned<Value>>,
    pub legacy: Option<Spanned<Value>>,
    pub last_value: Option<Spanned<Value>>,
    pub last_value_max_topics: Option<Spanned<Value>>,
    pub last_value_max_bytes: Option<Spanned<Value>>,
    pub last_value_ttl: Option<Spanned<Value>>,
    pub last_value_prefix: Option<Spanned<Value>>,
    pub spool: Option<Spanned<Value>>,
    pub spool_max: Option<Spanned<Value>>,
    pub spool_fsync: Option<Spanned<Value>>,
    pub spool_rate: Option<Spanned<Value>>,
    pub curve_secret: Option<Spanned<String>>,
    pub curve_allow: Option<Spanned<String>>,
    pub curve_server_key: Option<Spanned<String>>,
    pub curve_sides: Option<Spanned<String>>,
    pub plain_passwords: Option<Spanned<String>>,
    pub plain_anywhere: Option<Spanned<bool>>,
}

impl RawDevice {
    /// Takes out the CURVE settings that were given, each with the setting its key sets.
    pub fn curve(&mut self) -> impl Iterator<Item = (CurveOpt, Spanned<String>)> {
        [
            (CurveOpt::Secret, self.curve_secret.take()),
            (CurveOpt::Allow, self.curve_allow.take()),
            (CurveOpt::ServerKey, self.curve_server_key.take()),
            (CurveOpt::Sides, self.curve_sides.take()),
            (CurveOpt::Passwords, self.plain_passwords.take()),
            (
                CurveOpt::PlainAnywhere,
                self.plain_anywhere
                    .take()
                    .map(|b| Spanned::new(b.span(), b.into_inner().to_string())),
            ),
        ]
        .into_iter()
        .filter_map(|(opt, v)| Some((opt, v?)))
    }

    /// Takes out the options that were given, each with the option its key sets (the
    /// config tests check this spelling against [`Opt::key`]).
    pub fn options(&mut self) -> impl Iterator<Item = (Opt, Spanned<Value>)> {
        [
            (Opt::Classic, self.classic.take()),
            (Opt::MaxMsgSize, self.max_msg_size.take()),
            (Opt::QueueHwm, self.queue_hwm.take()),
            (Opt::MaxPeers, self.max_peers.take()),
            (Opt::MaxPeersPerAddress, self.max_peers_per_address.take()),
            (Opt::MaxHandshaking, self.max_handshaking.take()),
            (
                Opt::HandshakeRatePerAddress,
                self.handshake_rate_per_address.take(),
            ),
            (Opt::MaxSubscriptions, self.max_subscriptions.take()),
            (
                Opt::MaxSubscriptionsPerPeer,
                self.max_subscriptions_per_peer.take(),
            ),
            (Opt::UpstreamRate, self.upstream_rate.take()),
            (Opt::UpstreamBurst, self.upstream_burst.take()),
            (Opt::MaxSplices, self.max_splices.take()),
            (Opt::StoreForwardMax, self.store_forward_max.take()),
            (Opt::ProgressTimeout, self.progress_timeout.take()),
            (Opt::HeartbeatIvl, self.heartbeat_ivl.take()),
            (Opt::HeartbeatTimeout, self.heartbeat_timeout.take()),
            (Opt::HandshakeTimeout, self.handshake_timeout.take()),
            (Opt::ClientStall, self.client_stall.take()),
            (Opt::WorkerInflight, self.worker_inflight.take()),
            (Opt::SpliceStall, self.splice_stall.take()),
            (Opt::KernelSendMax, self.kernel_send_max.take()),
            (Opt::Legacy, self.legacy.take()),
            (Opt::LastValue, self.last_value.take()),
            (Opt::LastValueMaxTopics, self.last_value_max_topics.take()),
            (Opt::LastValueMaxBytes, self.last_value_max_bytes.take()),
            (Opt::LastValueTtl, self.last_value_ttl.take()),
            (Opt::LastValuePrefix, self.last_value_prefix.take()),
            (Opt::Spool, self.spool.take()),
            (Opt::SpoolMax, self.spool_max.take()),
            (Opt::SpoolFsync, self.spool_fsync.take()),
            (Opt::SpoolRate, self.spool_rate.take()),
        ]
        .into_iter()
        .filter_map(|(opt, v)| Some((opt, v?)))
    }
}

/// Deserialize a leaf from an integer or a string, with our own `expecting` phrase. `$int` and
/// `$str` say what each means; `$str` gives an empty error for "not one of the accepted
/// forms" (answered with `expecting`), or a message of its own.
macro_rules! leaf {
    ($ty:ident, $expecting:expr, int: $int:expr, str: $str:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "{}", $expecting)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        let f: fn(i64) -> Option<$ty> = $int;
                        f(v).ok_or_else(|| E::invalid_value(Unexpected::Signed(v), &self))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        let f: fn(&str) -> Result<$ty, String> = $str;
                        f(v).map_err(|why| {
                            if why.is_empty() {
                                E::invalid_value(Unexpected::Str(v), &self)
                            } else {
                                E::custom(why)
                            }
                        })
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

pub struct KindValue(pub Kind);
leaf!(KindValue, format_args!("one of {}", kind_names()),
    int: |_| None,
    str: |s| kind_from_name(s).map(KindValue).ok_or_else(String::new));

pub struct Level(pub LevelFilter);
leaf!(Level, "one of error, warn, info, debug, trace, off",
    int: |_| None,
    str: |s| crate::log::parse_level(s).map(Level).ok_or_else(String::new));

/// What the parser says of an integer too large for it (over 128 bits), and what an option's
/// value over 64 bits is refused with.
pub const TOO_LARGE: &str = "integer number overflowed";

/// Any value: what it may be depends on the option, which is [`Form::read`]'s to say.
///
/// [`Form::read`]: crate::setup::Form::read
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                Ok(i64::try_from(v).map_or(Value::Str(v.to_string()), Value::Int))
            }
            // The parser reads integers of up to 128 bits; no option takes one over 64, and
            // [`explain`](super::explain) says so in the key's words, as for larger ones.
            fn visit_i128<E: de::Error>(self, _: i128) -> Result<Value, E> {
                Err(E::custom(TOO_LARGE))
            }
            fn visit_u128<E: de::Error>(self, _: u128) -> Result<Value, E> {
                Err(E::custom(TOO_LARGE))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Str(v.to_owned()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Value::List)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Value::Table)
            }
        }
        d.deserialize_any(V)
    }
}

pub struct EndpointValue(pub Endpoint);
leaf!(EndpointValue, "an endpoint like \"tcp://*:5559\", \"ipc:///run/zedge/x.ipc\" or \">tcp://host:5559\"",
    int: |_| None,
    str: |s| Endpoint::parse(s).map(EndpointValue).map_err(|e| e.to_string()));

/// `"tcp://*:5559"` or `["tcp://*:5559", "ipc:///run/zedge/x.ipc"]`.
pub enum Endpoints {
    One(Endpoint),
    Many(Vec<Spanned<EndpointValue>>),
}

impl Endpoints {
    pub fn into_list(self, span: Range<usize>) -> Vec<Spanned<EndpointValue>> {
        match self {
            Endpoints::One(ep) => vec![Spanned::new(span, EndpointValue(ep))],
            Endpoints::Many(v) => v,
        }
    }
}

impl<'de> Deserialize<'de> for Endpoints {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Endpoints;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of endpoints, like [\"tcp://*:5559\"]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Endpoints, E> {
                Endpoint::parse(v)
                    .map(Endpoints::One)
                    .map_err(|e| E::custom(e))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Endpoints, A::Error> {
                let mut v = Vec::new();
                while let Some(ep) = seq.next_element()? {
                    v.push(ep);
                }
                Ok(Endpoints::Many(v))
            }
        }
        d.deserialize_any(V)
    }
}
