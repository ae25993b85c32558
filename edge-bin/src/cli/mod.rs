//! The command line: one device (`zedge forwarder|queue|streamer [--frontend EP]... [options]`),
//! or the devices of a config file (`zedge run --config FILE`, `zedge check-config FILE`).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

mod help;

use lexopt::ValueExt;

use crate::endpoint::Endpoint;
use crate::setup::{
    self, kind_from_name, kind_names, DeviceSetup, Form, Opt, Origin, SettingError, Written,
};
pub use help::HELP;

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
    let mut given: Vec<(Opt, setup::Value)> = Vec::new();
    let mut verbosity = 0u8;
    // The first option that only makes sense for a device given on the command line, and its
    // config key.
    let mut device_only: Option<(String, &'static str)> = None;
    while let Some(arg) = p.next()? {
        if let Long(name) = arg {
            let opt = Opt::from_flag(name);
            let key = match (opt, name) {
                (Some(opt), _) => Some(opt.key()),
                (None, "frontend") => Some("frontend"),
                (None, "backend") => Some("backend"),
                _ => None,
            };
            if let Some(key) = key {
                device_only.get_or_insert_with(|| (format!("--{name}"), key));
            }
            if let Some(opt) = opt {
                let value = match opt.form() {
                    Form::Switch => setup::Value::Bool(true),
                    _ => setup::Value::Str(p.value()?.string()?),
                };
                given.push((opt, value));
                continue;
            }
        }
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Short('v') | Long("verbose") => verbosity = verbosity.saturating_add(1),
            Short('c') | Long("config") => config = Some(p.value()?.into()),
            Long("frontend") => frontends.push(endpoint(&mut p)?),
            Long("backend") => backends.push(endpoint(&mut p)?),
            Value(v) if command.is_none() => command = Some(v.string()?),
            Value(v) if command.as_deref() == Some("check-config") && file.is_none() => {
                file = Some(v.into())
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    if let Some(sub @ ("run" | "check-config")) = command.as_deref() {
        if let Some((flag, key)) = device_only {
            return Err(UsageError(format!(
                "{flag} is for a device on the command line; with a config file, set {key} in \
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
    let kind = match command.as_deref() {
        Some(name) => kind_from_name(name).ok_or_else(|| {
            UsageError(format!(
                "unknown device '{name}'; expected one of {} (or run, check-config)",
                kind_names()
            ))
        })?,
        None => {
            return Err(UsageError(
                "which device? zedge forwarder|queue|streamer [options]; see zedge --help".into(),
            ))
        }
    };
    let mut written = Written::new(String::new(), kind);
    written.frontends = frontends;
    written.backends = backends;
    for (opt, value) in given {
        written.set(opt, value, Origin::Flag);
    }
    let setup = written.build().map_err(|e| {
        UsageError(match &e {
            SettingError::Option { opt, .. } => format!("{}: {e}", opt.flag()),
            SettingError::Device(_) => format!("invalid settings: {e}"),
        })
    })?;
    Ok(Command::Device(Options { setup, verbosity }))
}

fn endpoint(p: &mut lexopt::Parser) -> Result<Endpoint, UsageError> {
    let v = p.value()?.string()?;
    Endpoint::parse(&v).map_err(|e| UsageError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use zedge_core::device::Kind;

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
        let cfg = o.setup.device_config();
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
        let cfg = o.setup.device_config();
        assert_eq!(cfg.limits.max_message_size, 1 << 20);
        assert_eq!(cfg.queue_hwm, 256 << 10);
        assert_eq!(cfg.heartbeat.interval, Duration::from_millis(1000));
        assert_eq!(cfg.heartbeat.timeout, Duration::from_millis(2500));
        assert_eq!(cfg.handshake_timeout, Duration::from_millis(500));
    }

    #[test]
    fn durations_take_a_unit_and_a_bare_number_is_milliseconds() {
        let o = run(&[
            "queue",
            "--heartbeat-ivl",
            "5s",
            "--heartbeat-timeout=2m",
            "--handshake-timeout",
            "500",
            "--max-splices",
            "0",
        ])
        .unwrap();
        let t = o.setup.tuning;
        assert_eq!(t.heartbeat_ivl_ms, 5000);
        assert_eq!(t.heartbeat_timeout_ms, Some(120_000));
        assert_eq!(t.handshake_timeout_ms, 500);
        assert_eq!(t.max_splices, 0);
        let t = run(&["queue", "--handshake-timeout", "500ms"])
            .unwrap()
            .setup
            .tuning;
        assert_eq!(t.handshake_timeout_ms, 500);
    }

    #[test]
    fn heartbeat_timeout_defaults_to_three_intervals() {
        let cfg = run(&["queue", "--heartbeat-ivl", "200"])
            .unwrap()
            .setup
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
            "--classic: applies to forwarders only, and this device is a queue; remove it"
        );
        assert!(err(&["queue", "--max-msg-size", "12X"]).contains("not \"12X\""));
        assert!(err(&["queue", "--max-peers", "-1"]).contains("whole number"));
        assert!(err(&["queue", "--max-peers", "0"]).contains("at least 1"));
        assert!(err(&["queue", "--heartbeat-ivl", "1 hour"]).contains("a duration"));
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
}
