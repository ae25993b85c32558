//! One device's settings as written, on the command line or in a `[[device]]` table, and the
//! one function that checks them and makes the [`DeviceSetup`].
//!
//! A front end only records what was given and where ([`Origin`]); what it means is decided
//! here, starting from [`Tuning::default`]. So a mistake meets the same check and the same
//! words on either path, and the front end only adds the place: `--max-peers: ...` on the
//! command line, `FILE:LINE: device "x": key "max_peers": ...` in the file.

use zedge_core::device::Kind;

use super::opt::{Opt, Origin, Problem, SettingError};
use super::value::Value;
use super::{CurveWritten, DeviceSetup, Tuning, DEFAULT_BACKEND, DEFAULT_FRONTEND};
use crate::endpoint::Endpoint;

/// One device as the operator wrote it: nothing checked, nothing defaulted.
#[derive(Debug)]
pub struct Written {
    pub name: String,
    /// A forwarder's `classic` comes from [`Opt::Classic`].
    pub kind: Kind,
    /// Empty: the default endpoint (only the command line leaves a side out; the config file
    /// requires both).
    pub frontends: Vec<Endpoint>,
    pub backends: Vec<Endpoint>,
    pub control: Option<Endpoint>,
    pub capture: Option<Endpoint>,
    pub curve: CurveWritten,
    options: [Option<(Value, Origin)>; Opt::DEVICE.len()],
}

impl Written {
    pub fn new(name: String, kind: Kind) -> Written {
        Written {
            name,
            kind,
            frontends: Vec::new(),
            backends: Vec::new(),
            control: None,
            capture: None,
            curve: CurveWritten::default(),
            options: Default::default(),
        }
    }

    /// Record `opt`, a device option; given again, the last one counts. (Indexed by
    /// `opt as usize`: [`Opt::DEVICE`] is in declaration order, and the process options,
    /// declared after it, are [`Process`](super::Process)'s to record.)
    pub fn set(&mut self, opt: Opt, value: Value, at: Origin) {
        debug_assert!(!opt.is_process(), "{opt:?} is not a device option");
        if let Some(slot) = self.options.get_mut(opt as usize) {
            *slot = Some((value, at));
        }
    }

    fn given(&self, opt: Opt) -> Option<&Origin> {
        self.options.get(opt as usize)?.as_ref().map(|(_, at)| at)
    }

    /// Check every option (its form, then whether it applies to the kind, then its range),
    /// then the options together, and make the device: [`Tuning::default`] for what was left
    /// out.
    pub fn build(self) -> Result<DeviceSetup, SettingError> {
        let mut t = Tuning::default();
        let mut classic = false;
        let mut spool = None;
        for (opt, given) in Opt::DEVICE.into_iter().zip(&self.options) {
            let Some((value, at)) = given else { continue };
            let n = opt.check(value, at, Some(self.kind))?;
            match opt {
                Opt::Classic => classic = n != 0,
                Opt::MaxMsgSize => t.max_msg_size = n,
                Opt::QueueHwm => t.queue_hwm = to_usize(n),
                Opt::MaxPeers => t.max_peers = to_usize(n),
                Opt::MaxPeersPerAddress => t.max_peers_per_address = to_usize(n),
                Opt::MaxHandshaking => t.max_handshaking = to_usize(n),
                Opt::HandshakeRatePerAddress => t.handshake_rate_per_address = to_usize(n),
                Opt::MaxSubscriptions => t.max_subscriptions = to_usize(n),
                Opt::MaxSubscriptionsPerPeer => t.max_subscriptions_per_peer = to_usize(n),
                Opt::UpstreamRate => t.upstream_rate = u32::try_from(n).unwrap_or(u32::MAX),
                Opt::UpstreamBurst => t.upstream_burst = u32::try_from(n).unwrap_or(u32::MAX),
                Opt::MaxSplices => t.max_splices = to_usize(n),
                Opt::StoreForwardMax => t.store_forward_max = to_usize(n),
                Opt::ProgressTimeout => t.progress_timeout_ms = n,
                Opt::HeartbeatIvl => t.heartbeat_ivl_ms = n,
                Opt::HeartbeatTimeout => t.heartbeat_timeout_ms = Some(n),
                Opt::HandshakeTimeout => t.handshake_timeout_ms = n,
                Opt::ClientStall => t.client_stall_ms = n,
                Opt::WorkerInflight => t.worker_inflight = u32::try_from(n).unwrap_or(u32::MAX),
                Opt::SpliceStall => t.splice_stall_ms = n,
                Opt::KernelSendMax => t.kernel_send_max = u32::try_from(n).unwrap_or(u32::MAX),
                Opt::Legacy => t.legacy = n != 0,
                Opt::LastValue => t.last_value = n != 0,
                Opt::LastValueMaxTopics => t.last_value_max_topics = to_usize(n),
                Opt::LastValueMaxBytes => t.last_value_max_bytes = to_usize(n),
                Opt::LastValueTtl => t.last_value_ttl_ms = n,
                Opt::LastValuePrefix => t.last_value_prefix = to_usize(n),
                Opt::Spool => {
                    if let Value::Str(dir) = value {
                        spool = Some(dir.into());
                    }
                }
                Opt::SpoolMax => t.spool_max = n,
                Opt::SpoolFsync => t.spool_fsync_ms = n,
                Opt::SpoolRate => t.spool_rate = n,
                Opt::MemoryMax => {}
            }
        }
        self.check_together(&mut t)?;
        let curve = self.curve.build()?;
        if curve.is_some() && self.given(Opt::MaxMsgSize).is_none() {
            t.max_msg_size = super::CURVE_MAX_MSG_SIZE;
        }
        self.stored_whole_for_curve(&mut t, curve.as_ref())?;
        let binds = self
            .frontends
            .iter()
            .chain(&self.backends)
            .chain(&self.capture)
            .filter(|e| e.mode == crate::endpoint::Mode::Bind);
        let plain = self.curve.build_plain(binds)?;
        let kind = match self.kind {
            Kind::Forwarder { .. } => Kind::Forwarder { classic },
            kind => kind,
        };
        // A forwarder's spool stands in for uplinks: the backend's endpoints that connect.
        if let (Kind::Forwarder { .. }, Some(at)) = (self.kind, self.given(Opt::Spool)) {
            let uplinks = self
                .backends
                .iter()
                .any(|e| e.mode == crate::endpoint::Mode::Connect);
            if !uplinks {
                return Err(SettingError::Option {
                    opt: Opt::Spool,
                    at: at.clone(),
                    problem: Problem::NoUplink,
                });
            }
        }
        let setup = DeviceSetup {
            name: self.name,
            kind,
            tuning: t,
            frontends: or_default(self.frontends, DEFAULT_FRONTEND),
            backends: or_default(self.backends, DEFAULT_BACKEND),
            control: self.control,
            capture: self.capture,
            curve,
            plain,
            spool,
        };
        setup
            .device_config()
            .validate()
            .map_err(SettingError::Device)?;
        Ok(setup)
    }

    /// The rules between options. A default that another option makes impossible follows it
    /// (`max_subscriptions_per_peer` is at most `max_subscriptions`); a written value that
    /// does not is refused.
    fn check_together(&self, t: &mut Tuning) -> Result<(), SettingError> {
        if let Some(at) = self.given(Opt::HeartbeatTimeout) {
            if t.heartbeat_ivl_ms == 0 {
                return Err(SettingError::Option {
                    opt: Opt::HeartbeatTimeout,
                    at: at.clone(),
                    problem: Problem::NoHeartbeat,
                });
            }
        }
        match self.given(Opt::MaxSubscriptionsPerPeer) {
            Some(at) if t.max_subscriptions_per_peer > t.max_subscriptions => {
                return Err(SettingError::Option {
                    opt: Opt::MaxSubscriptionsPerPeer,
                    at: at.clone(),
                    problem: Problem::AboveTotal {
                        total: Opt::MaxSubscriptions,
                        value: t.max_subscriptions as u64,
                    },
                });
            }
            Some(_) => {}
            None => {
                t.max_subscriptions_per_peer = t.max_subscriptions_per_peer.min(t.max_subscriptions)
            }
        }
        Ok(())
    }

    /// A device that sends data to CURVE peers stores every message whole: a CURVE frame is
    /// sealed whole (its MAC covers all of it), so a frame cut through would be copied whole
    /// for each CURVE peer it goes to. `store_forward_max` follows `max_msg_size` up; one
    /// written below it is refused.
    fn stored_whole_for_curve(
        &self,
        t: &mut Tuning,
        curve: Option<&super::CurveSetup>,
    ) -> Result<(), SettingError> {
        let Some(sides) = curve.map(|c| c.sides) else {
            return Ok(());
        };
        let whole = to_usize(t.max_msg_size);
        let capture = self.capture.is_some();
        if !super::sends_sealed(self.kind, sides, capture) || t.store_forward_max >= whole {
            return Ok(());
        }
        match self.given(Opt::StoreForwardMax) {
            Some(at) => Err(SettingError::Option {
                opt: Opt::StoreForwardMax,
                at: at.clone(),
                problem: Problem::BelowCurve {
                    max_msg_size: t.max_msg_size,
                },
            }),
            None => {
                t.store_forward_max = whole;
                Ok(())
            }
        }
    }
}

fn or_default(eps: Vec<Endpoint>, default: &str) -> Vec<Endpoint> {
    if eps.is_empty() {
        vec![Endpoint::parse(default).unwrap_or_else(|e| unreachable!("default {default}: {e}"))]
    } else {
        eps
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
