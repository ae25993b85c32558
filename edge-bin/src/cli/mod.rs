//! The command line: one device (`zedge forwarder|queue|streamer [--frontend EP]... [options]`),
//! or the devices of a config file (`zedge run --config FILE`, `zedge check-config FILE`).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use lexopt::ValueExt;

use zedge_core::device::{DeviceConfig, Kind};

use crate::endpoint::Endpoint;
use crate::setup::{kind_from_name, kind_names, DeviceSetup, Tuning};

pub const DEFAULT_FRONTEND: &str = "tcp://*:5559";
pub const DEFAULT_BACKEND: &str = "tcp://*:5560";

pub const HELP: &str = "\
zedge: a ZeroMQ broker for edge gateways

Usage: zedge forwarder|queue|streamer [--frontend EP]... [--backend EP]... [options]
       zedge run --config FILE [-v]...
       zedge check-config FILE

Several devices in one process, from a TOML file (see /etc/zedge/zedge.toml):
  run --config FILE          run every [[device]] of FILE
  check-config FILE          check FILE and print what it would run; exit status 1 if wrong

Devices:
  forwarder   XSUB frontend (publishers) -> XPUB backend (subscribers)
  queue       ROUTER frontend (clients) <-> DEALER backend (workers)
  streamer    PULL frontend (producers) -> PUSH backend (workers)

Endpoints (repeat an option for several; @ or no prefix binds, > connects):
  --frontend EP              default tcp://*:5559
  --backend EP               default tcp://*:5560
      tcp://*:PORT  tcp://0.0.0.0:PORT  tcp://[::1]:PORT  tcp://HOST:PORT
      ipc:///run/zedge/x.ipc  >tcp://upstream:5559

Options:
  --max-msg-size BYTES       largest message accepted, K/M/G suffixes [default: 64M]
  --queue-hwm BYTES          per-peer outbound high-water mark [default: 1M]
  --max-peers N              peers at once, both sides together [default: 1024]
  --max-subscriptions N      subscription table size (forwarder) [default: 4096]
  --max-splices N            large bodies passed socket to socket through a pipe at once,
                             two descriptors each; 0 = copy every body [default: 32]
  --heartbeat-ivl MS         PING interval to ZMTP 3.1 peers, 0 = off [default: 0]
  --heartbeat-timeout MS     drop a peer silent this long after a PING [default: 3 * ivl]
  --handshake-timeout MS     drop a peer that has not finished its handshake [default: 10000]
  --classic                  forwarder only: SUB/PUB instead of XSUB/XPUB
  -v, -vv, -vvv              log info, debug, trace (or ZEDGE_LOG=error|warn|info|debug|trace)
  -h, --help                 print this help
  -V, --version              print the version

Stops on SIGINT/SIGTERM after flushing pending output for up to a second.
";

#[derive(Debug)]
pub enum Command {
    Help,
    Version,
    /// One device, from the command line.
    Device(Options),
    /// `zedge run --config FILE`.
    Run {
        config: PathBuf,
        verbosity: u8,
    },
    /// `zedge check-config FILE`.
    CheckConfig(PathBuf),
}

#[derive(Debug)]
pub struct Options {
    pub setup: DeviceSetup,
    pub verbosity: u8,
}

impl Options {
    pub fn device_config(&self) -> DeviceConfig {
        self.setup.device_config()
    }
}

/// A mistake on the command line; exit status 2.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<lexopt::Error> for UsageError {
    fn from(e: lexopt::Error) -> Self {
        let msg = match e {
            lexopt::Error::UnexpectedOption(o) => format!("unknown option '{o}'; see zedge --help"),
            lexopt::Error::MissingValue { option: Some(o) } => format!("{o} needs a value"),
            lexopt::Error::UnexpectedArgument(a) => {
                format!(
                    "unexpected argument '{}'; see zedge --help",
                    a.to_string_lossy()
                )
            }
            other => other.to_string(),
        };
        UsageError(msg)
    }
}

/// Parse the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    use lexopt::prelude::*;

    let mut p = lexopt::Parser::from_args(args);
    let mut command: Option<String> = None;
    let mut file: Option<PathBuf> = None;
    let mut config: Option<PathBuf> = None;
    let mut frontends = Vec::new();
    let mut backends = Vec::new();
    let mut classic = false;
    let mut t = Tuning::default();
    let mut verbosity = 0u8;
    // The first option that only makes sense for a device given on the command line.
    let mut device_only: Option<String> = None;
    while let Some(arg) = p.next()? {
        if let Long(name) = arg {
            if !matches!(name, "help" | "version" | "verbose" | "config") {
                device_only.get_or_insert_with(|| format!("--{name}"));
            }
        }
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Short('v') | Long("verbose") => verbosity = verbosity.saturating_add(1),
            Short('c') | Long("config") => config = Some(p.value()?.into()),
            Long("frontend") => frontends.push(endpoint(&mut p)?),
            Long("backend") => backends.push(endpoint(&mut p)?),
            Long("max-msg-size") => t.max_msg_size = size(&mut p, "--max-msg-size")?,
            Long("queue-hwm") => t.queue_hwm = to_usize(size(&mut p, "--queue-hwm")?),
            Long("max-peers") => t.max_peers = count(&mut p, "--max-peers")?,
            Long("max-subscriptions") => {
                t.max_subscriptions = count(&mut p, "--max-subscriptions")?
            }
            Long("max-splices") => t.max_splices = count(&mut p, "--max-splices")?,
            Long("heartbeat-ivl") => t.heartbeat_ivl_ms = millis(&mut p, "--heartbeat-ivl")?,
            Long("heartbeat-timeout") => {
                t.heartbeat_timeout_ms = Some(millis(&mut p, "--heartbeat-timeout")?)
            }
            Long("handshake-timeout") => {
                t.handshake_timeout_ms = millis(&mut p, "--handshake-timeout")?
            }
            Long("classic") => classic = true,
            Value(v) if command.is_none() => command = Some(v.string()?),
            Value(v) if command.as_deref() == Some("check-config") && file.is_none() => {
                file = Some(v.into())
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    if let Some(sub @ ("run" | "check-config")) = command.as_deref() {
        if let Some(opt) = device_only {
            return Err(UsageError(format!(
                "{opt} is for a device on the command line; with a config file, set it in \
                 the device's [[device]] table"
            )));
        }
        let path = match (sub, file, config) {
            ("run", _, Some(path)) => {
                return Ok(Command::Run {
                    config: path,
                    verbosity,
                })
            }
            ("run", _, None) => {
                return Err(UsageError(
                    "run needs --config FILE, e.g. zedge run --config /etc/zedge/zedge.toml".into(),
                ))
            }
            (_, Some(path), None) | (_, None, Some(path)) => path,
            (_, Some(_), Some(_)) => {
                return Err(UsageError("check-config takes one file".into()));
            }
            (_, None, None) => {
                return Err(UsageError(
                    "check-config needs a file, e.g. zedge check-config /etc/zedge/zedge.toml"
                        .into(),
                ))
            }
        };
        return Ok(Command::CheckConfig(path));
    }
    if config.is_some() {
        return Err(UsageError(
            "--config goes with run: zedge run --config FILE".into(),
        ));
    }
    let kind = match command.as_deref().map(|c| (c, kind_from_name(c))) {
        Some((_, Some(Kind::Forwarder { .. }))) => Kind::Forwarder { classic },
        Some((_, Some(kind))) => kind,
        Some((other, None)) => {
            return Err(UsageError(format!(
                "unknown device '{other}'; expected one of {} (or run, check-config)",
                kind_names()
            )))
        }
        None => {
            return Err(UsageError(
                "which device? zedge forwarder|queue|streamer [options]; see zedge --help".into(),
            ))
        }
    };
    if classic && !matches!(kind, Kind::Forwarder { .. }) {
        return Err(UsageError("--classic applies to the forwarder only".into()));
    }
    if t.max_peers == 0 {
        return Err(UsageError("--max-peers must be at least 1".into()));
    }
    if t.max_msg_size == 0 {
        return Err(UsageError("--max-msg-size must be at least 1".into()));
    }
    if t.queue_hwm == 0 {
        return Err(UsageError("--queue-hwm must be at least 1".into()));
    }
    if frontends.is_empty() {
        frontends.push(default_endpoint(DEFAULT_FRONTEND));
    }
    if backends.is_empty() {
        backends.push(default_endpoint(DEFAULT_BACKEND));
    }
    Ok(Command::Device(Options {
        setup: DeviceSetup {
            name: String::new(),
            kind,
            tuning: t,
            frontends,
            backends,
        },
        verbosity,
    }))
}

fn default_endpoint(s: &str) -> Endpoint {
    Endpoint::parse(s).unwrap_or_else(|e| unreachable!("default endpoint {s}: {e}"))
}

fn endpoint(p: &mut lexopt::Parser) -> Result<Endpoint, UsageError> {
    let v = p.value()?.string()?;
    Endpoint::parse(&v).map_err(|e| UsageError(e.to_string()))
}

fn text(p: &mut lexopt::Parser) -> Result<String, UsageError> {
    Ok(p.value()?.string()?)
}

fn count(p: &mut lexopt::Parser, name: &str) -> Result<usize, UsageError> {
    let v = text(p)?;
    v.parse()
        .map_err(|_| UsageError(format!("{name} expects a whole number, not '{v}'")))
}

fn millis(p: &mut lexopt::Parser, name: &str) -> Result<u64, UsageError> {
    let v = text(p)?;
    v.strip_suffix("ms")
        .unwrap_or(&v)
        .parse()
        .map_err(|_| UsageError(format!("{name} expects milliseconds, not '{v}'")))
}

fn size(p: &mut lexopt::Parser, name: &str) -> Result<u64, UsageError> {
    let v = text(p)?;
    parse_size(&v).ok_or_else(|| {
        UsageError(format!(
            "{name} expects bytes with an optional K, M or G suffix (e.g. 64M), not '{v}'"
        ))
    })
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// `123`, `64K`, `64M`, `1G` (binary multiples; `KiB`, `MB`... also accepted).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (num, suffix) = s.split_at(digits);
    let n: u64 = num.parse().ok()?;
    let shift = match suffix.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    use zedge_core::conn::Heartbeat;
    use zedge_core::time::Duration;

    fn run(args: &[&str]) -> Result<Options, UsageError> {
        match parse(args.iter().map(OsString::from))? {
            Command::Device(o) => Ok(o),
            other => panic!("{other:?}"),
        }
    }

    fn err(args: &[&str]) -> String {
        run(args).expect_err("should fail").0
    }

    #[test]
    fn defaults() {
        let o = run(&["streamer"]).unwrap();
        let (s, t) = (&o.setup, &o.setup.tuning);
        assert_eq!(s.kind, Kind::Streamer);
        assert_eq!(s.frontends, vec![Endpoint::parse("tcp://*:5559").unwrap()]);
        assert_eq!(s.backends, vec![Endpoint::parse("tcp://*:5560").unwrap()]);
        assert_eq!(t.max_msg_size, 64 << 20);
        assert_eq!(t.queue_hwm, 1 << 20);
        assert_eq!((t.max_peers, t.max_subscriptions), (1024, 4096));
        assert_eq!(t.max_splices, 32);
        let cfg = o.device_config();
        assert_eq!(cfg.heartbeat, Heartbeat::OFF);
        assert_eq!(cfg.handshake_timeout, Duration::from_millis(10_000));
    }

    #[test]
    fn everything() {
        let o = run(&[
            "-vv",
            "forwarder",
            "--classic",
            "--frontend",
            "tcp://127.0.0.1:1",
            "--frontend=>tcp://[::1]:2",
            "--backend",
            "ipc:///tmp/b.ipc",
            "--max-msg-size",
            "1M",
            "--queue-hwm=256k",
            "--max-peers",
            "10",
            "--max-subscriptions",
            "0",
            "--max-splices",
            "0",
            "--heartbeat-ivl",
            "1000",
            "--heartbeat-timeout",
            "2500",
            "--handshake-timeout",
            "500",
        ])
        .unwrap();
        assert_eq!(o.setup.kind, Kind::Forwarder { classic: true });
        assert_eq!(o.setup.frontends.len(), 2);
        assert_eq!(o.setup.backends[0].to_string(), "ipc:///tmp/b.ipc");
        assert_eq!(o.verbosity, 2);
        let cfg = o.device_config();
        assert_eq!(cfg.limits.max_message_size, 1 << 20);
        assert_eq!(cfg.queue_hwm, 256 << 10);
        assert_eq!(cfg.heartbeat.interval, Duration::from_millis(1000));
        assert_eq!(cfg.heartbeat.timeout, Duration::from_millis(2500));
        assert_eq!(cfg.handshake_timeout, Duration::from_millis(500));
    }

    #[test]
    fn heartbeat_timeout_defaults_to_three_intervals() {
        let cfg = run(&["queue", "--heartbeat-ivl", "200"])
            .unwrap()
            .device_config();
        assert_eq!(cfg.heartbeat.timeout, Duration::from_millis(600));
    }

    #[test]
    fn help_and_version() {
        let p = |a: &[&str]| parse(a.iter().map(OsString::from)).unwrap();
        assert!(matches!(p(&["--help"]), Command::Help));
        assert!(matches!(p(&["queue", "-h"]), Command::Help));
        assert!(matches!(p(&["--version"]), Command::Version));
        for d in ["64M", "1M", "1024", "4096", "10000", "3 * ivl"] {
            assert!(HELP.contains(d), "{d}");
        }
    }

    #[test]
    fn usage_errors_are_one_clear_line() {
        assert_eq!(
            err(&["queue", "--bogus"]),
            "unknown option '--bogus'; see zedge --help"
        );
        assert_eq!(err(&["queue", "--frontend"]), "--frontend needs a value");
        assert!(err(&["queue", "--frontend", "tcp://x"]).starts_with("bad endpoint 'tcp://x'"));
        assert!(err(&["router"]).starts_with("unknown device 'router'"));
        assert!(err(&[]).starts_with("which device?"));
        assert!(err(&["queue", "extra"]).starts_with("unexpected argument 'extra'"));
        assert_eq!(
            err(&["queue", "--classic"]),
            "--classic applies to the forwarder only"
        );
        assert!(err(&["queue", "--max-msg-size", "12X"]).contains("not '12X'"));
        assert!(err(&["queue", "--max-peers", "-1"]).contains("whole number"));
        assert!(err(&["queue", "--max-peers", "0"]).contains("at least 1"));
        assert!(err(&["queue", "--heartbeat-ivl", "1s"]).contains("milliseconds"));
        for args in [
            &["queue", "--bogus"][..],
            &["queue", "--frontend", "tcp://x"],
        ] {
            assert!(!err(args).contains('\n'));
        }
    }

    #[test]
    fn config_file_commands() {
        let p = |a: &[&str]| parse(a.iter().map(OsString::from));
        match p(&["run", "--config", "/etc/zedge/zedge.toml", "-v"]).unwrap() {
            Command::Run { config, verbosity } => {
                assert_eq!(config, PathBuf::from("/etc/zedge/zedge.toml"));
                assert_eq!(verbosity, 1);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p(&["run", "-c", "z.toml"]).unwrap(),
            Command::Run { .. }
        ));
        match p(&["check-config", "z.toml"]).unwrap() {
            Command::CheckConfig(f) => assert_eq!(f, PathBuf::from("z.toml")),
            other => panic!("{other:?}"),
        }
        let e = |a: &[&str]| p(a).expect_err("should fail").0;
        assert!(e(&["run"]).starts_with("run needs --config FILE"));
        assert!(e(&["check-config"]).starts_with("check-config needs a file"));
        assert!(e(&["check-config", "a", "b"]).starts_with("unexpected argument 'b'"));
        assert!(e(&["run", "--config", "z", "--max-peers", "5"])
            .starts_with("--max-peers is for a device on the command line"));
        assert!(e(&["queue", "--config", "z"]).starts_with("--config goes with run"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("1MB"), Some(1 << 20));
        assert_eq!(parse_size("M"), None);
        assert_eq!(parse_size("1.5M"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }
}
