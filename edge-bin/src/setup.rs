//! What one device needs to run, however it was asked for: its kind, endpoints and limits.
//!
//! The command line (`zedge streamer ...`) makes one [`DeviceSetup`]; the config file
//! (`zedge run --config FILE`) makes several. Both start from [`Tuning::default`], so a key
//! left out of the config file means what the flag left off the command line means.

use std::fmt;

use zedge_core::conn::Heartbeat;
use zedge_core::device::{DeviceConfig, Kind};
use zedge_core::time::Duration;

use crate::endpoint::Endpoint;

/// The limits and timers of one device, in the units operators write them in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    pub max_msg_size: u64,
    pub queue_hwm: usize,
    pub max_peers: usize,
    pub max_subscriptions: usize,
    /// Large bodies on their way socket to socket through a pipe at once; zero copies them all.
    pub max_splices: usize,
    /// Zero turns PINGs off.
    pub heartbeat_ivl_ms: u64,
    /// `None`: three intervals.
    pub heartbeat_timeout_ms: Option<u64>,
    pub handshake_timeout_ms: u64,
}

impl Default for Tuning {
    /// The documented defaults (`zedge --help`, `board/zedge.toml`).
    fn default() -> Self {
        Tuning {
            max_msg_size: 64 << 20,
            queue_hwm: 1 << 20,
            max_peers: 1024,
            max_subscriptions: 4096,
            max_splices: 32,
            heartbeat_ivl_ms: 0,
            heartbeat_timeout_ms: None,
            handshake_timeout_ms: 10_000,
        }
    }
}

/// One device to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceSetup {
    /// Empty for the device of the command line; its log lines then carry no name.
    pub name: String,
    pub kind: Kind,
    pub tuning: Tuning,
    pub frontends: Vec<Endpoint>,
    pub backends: Vec<Endpoint>,
}

impl DeviceSetup {
    pub fn device_config(&self) -> DeviceConfig {
        let t = &self.tuning;
        let mut cfg = DeviceConfig::new(self.kind);
        cfg.limits.max_message_size = t.max_msg_size;
        cfg.queue_hwm = t.queue_hwm;
        cfg.subscriptions.max = t.max_subscriptions;
        cfg.handshake_timeout = Duration::from_millis(t.handshake_timeout_ms);
        if t.heartbeat_ivl_ms > 0 {
            let mut hb = Heartbeat::every(Duration::from_millis(t.heartbeat_ivl_ms));
            if let Some(ms) = t.heartbeat_timeout_ms {
                hb.timeout = Duration::from_millis(ms);
                hb.ttl = Duration::from_millis(ms);
            }
            cfg.heartbeat = hb;
        }
        cfg
    }

    /// The name in STATUS lines: the configured one, or the kind's.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            kind_name(self.kind)
        } else {
            &self.name
        }
    }
}

pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Forwarder { .. } => "forwarder",
        Kind::Queue => "queue",
        Kind::Streamer => "streamer",
    }
}

/// `64 MiB`, `1 KiB`, `300 B`: sizes as the summary prints them.
#[derive(Debug)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
            if n >= 1 << shift && n % (1 << shift) == 0 {
                return write!(f, "{} {unit}", n >> shift);
            }
        }
        write!(f, "{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_print_in_the_largest_exact_unit() {
        assert_eq!(Bytes(64 << 20).to_string(), "64 MiB");
        assert_eq!(Bytes(1 << 30).to_string(), "1 GiB");
        assert_eq!(Bytes(1536).to_string(), "1536 B");
        assert_eq!(Bytes(2048).to_string(), "2 KiB");
        assert_eq!(Bytes(0).to_string(), "0 B");
    }
}
