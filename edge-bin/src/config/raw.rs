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
use crate::setup::{kind_from_name, kind_names};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    #[serde(default)]
    pub device: Vec<Spanned<RawDevice>>,
    pub log: Option<RawLog>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<Spanned<Level>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    pub name: Spanned<String>,
    pub kind: Spanned<KindValue>,
    pub classic: Option<Spanned<bool>>,
    pub frontend: Spanned<Endpoints>,
    pub backend: Spanned<Endpoints>,
    pub max_msg_size: Option<Spanned<Size>>,
    pub queue_hwm: Option<Spanned<Size>>,
    pub max_peers: Option<Spanned<Count>>,
    pub max_subscriptions: Option<Spanned<Count>>,
    pub max_splices: Option<Spanned<Count>>,
    pub heartbeat_ivl: Option<Spanned<Millis>>,
    pub heartbeat_timeout: Option<Spanned<Millis>>,
    pub handshake_timeout: Option<Spanned<Millis>>,
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

/// Bytes: `65536`, or `"64K"`, `"64M"`, `"1G"`.
pub struct Size(pub u64);
leaf!(Size, "bytes: a whole number, or a string like \"64K\" or \"64M\"",
    int: |n| u64::try_from(n).ok().map(Size),
    str: |s| crate::cli::parse_size(s).map(Size).ok_or_else(String::new));

pub struct Count(pub u64);
leaf!(Count, "a whole number",
    int: |n| u64::try_from(n).ok().map(Count),
    str: |_| Err(String::new()));

/// Milliseconds: `500`, or `"500ms"`, `"10s"`, `"2m"`.
pub struct Millis(pub u64);
leaf!(Millis, "milliseconds: a whole number, or a string like \"500ms\" or \"10s\"",
    int: |n| u64::try_from(n).ok().map(Millis),
    str: |s| parse_duration_ms(s).map(Millis).ok_or_else(String::new));

pub fn parse_duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = s.split_at(digits);
    let n: u64 = num.parse().ok()?;
    let scale = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        _ => return None,
    };
    n.checked_mul(scale)
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
