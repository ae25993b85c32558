//! The command line: one device (`zedge forwarder|queue|streamer [--frontend EP]... [options]`),
//! or the devices of a config file (`zedge run --config FILE`, `zedge check-config FILE`).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

mod help;

use lexopt::ValueExt;

use crate::endpoint::Endpoint;
use crate::setup::{
    self, kind_from_name, kind_names, CurveOpt, CurveWritten, DeviceSetup, Form, Memory, Opt,
    Origin, Process, SettingError, Via, Written, WrittenProcess,
};
pub use help::HELP;

#[derive(Debug)]
pub enum Command {
    Help,
    Version,
    /// One device, from the command line.
    Device(Box<Options>),
    /// `zedge run --config FILE`.
    Run {
        config: PathBuf,
        verbosity: u8,
    },
    /// `zedge check-config FILE`.
    CheckConfig(PathBuf),
    /// `zedge stat [--watch] [--json] [ADDR]`.
    Stat(crate::stat::StatOptions),
    /// `zedge peers [--json] [--control EP]`.
    Peers(crate::peers::PeersOptions),
    /// `zedge keygen NAME`: a CURVE certificate pair.
    Keygen(PathBuf),
}

#[derive(Debug)]
pub struct Options {
    pub setup: DeviceSetup,
    /// Its fixed memory fits `memory_max` (checked by [`Memory::check`]).
    pub process: Process,
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

    let args: Vec<OsString> = args.into_iter().collect();
    if args.first().is_some_and(|a| a == "stat") {
        return parse_stat(args.into_iter().skip(1));
    }
    if args.first().is_some_and(|a| a == "peers") {
        return parse_peers(args.into_iter().skip(1));
    }
    if args.first().is_some_and(|a| a == "keygen") {
        return parse_keygen(args.into_iter().skip(1));
    }
    let mut p = lexopt::Parser::from_args(args);
    let mut command: Option<String> = None;
    let mut file: Option<PathBuf> = None;
    let mut config: Option<PathBuf> = None;
    let mut frontends = Vec::new();
    let mut backends = Vec::new();
    let mut control = None;
    let mut capture = None;
    let mut metrics = None;
    let mut given: Vec<(Opt, setup::Value)> = Vec::new();
    let mut curve = CurveWritten::default();
    let mut verbosity = 0u8;
    // The first option that only makes sense for a device given on the command line, and
    // where the config file takes it instead.
    let mut device_only: Option<(String, String)> = None;
    while let Some(arg) = p.next()? {
        if let Long(name) = arg {
            let opt = Opt::from_flag(name);
            let instead = match (opt, name) {
                (Some(opt), _) if opt.is_process() => {
                    Some(format!("set {} at the top of the file", opt.key()))
                }
                (Some(opt), _) => Some(in_device_table(opt.key())),
                (None, "frontend" | "backend" | "control" | "capture") => {
                    Some(in_device_table(name))
                }
                (None, "metrics") => Some("set listen in the file's [metrics] table".into()),
                (None, _) => CurveOpt::from_flag(name).map(|c| in_device_table(c.key())),
            };
            if let Some(instead) = instead {
                device_only.get_or_insert_with(|| (format!("--{name}"), instead));
            }
            if let Some(c) = CurveOpt::from_flag(name) {
                let value = if c.is_switch() {
                    "true".to_owned()
                } else {
                    p.value()?.string()?
                };
                curve.set(c, value, Origin::Flag);
                continue;
            }
            if let Some(opt) = opt {
                let value = match opt.form() {
                    Form::Switch => setup::Value::Bool(opt.flag_sets()),
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
            Long("control") => control = Some(endpoint(&mut p)?),
            Long("capture") => capture = Some(endpoint(&mut p)?),
            Long("metrics") => {
                let v = p.value()?.string()?;
                let addr = v.parse().map_err(|_| {
                    UsageError(format!(
                        "--metrics {v}: expected an address and port, like 127.0.0.1:9559"
                    ))
                })?;
                metrics = Some(addr);
            }
            Value(v) if command.is_none() => command = Some(v.string()?),
            Value(v) if command.as_deref() == Some("check-config") && file.is_none() => {
                file = Some(v.into())
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    if let Some(sub @ ("run" | "check-config")) = command.as_deref() {
        if let Some((flag, instead)) = device_only {
            return Err(UsageError(format!(
                "{flag} is for a device on the command line; with a config file, {instead}"
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
    let mut process = WrittenProcess::default();
    written.frontends = frontends;
    written.backends = backends;
    written.control = control;
    written.capture = capture;
    written.curve = curve;
    process.metrics = metrics;
    for (opt, value) in given {
        if opt.is_process() {
            process.set(opt, value, Origin::Flag);
        } else {
            written.set(opt, value, Origin::Flag);
        }
    }
    let placed = |e: SettingError| {
        UsageError(match &e {
            SettingError::Option { opt, .. } => format!("{}: {e}", opt.flag()),
            SettingError::Device(_) => format!("invalid settings: {e}"),
            SettingError::Curve { .. } => e.to_string(),
        })
    };
    let setup = written.build().map_err(placed)?;
    let process = process.build().map_err(placed)?;
    Memory::check(std::slice::from_ref(&setup), &process, Via::CommandLine)
        .map_err(|e| UsageError(e.to_string()))?;
    Ok(Command::Device(Box::new(Options {
        setup,
        process,
        verbosity,
    })))
}

/// `zedge stat`'s own options.
fn parse_stat(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let mut o = crate::stat::StatOptions {
        addr: None,
        watch: false,
        json: false,
    };
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('w') | Long("watch") => o.watch = true,
            Long("json") => o.json = true,
            Value(v) if o.addr.is_none() => {
                let v = v.string()?;
                o.addr = Some(v.parse().map_err(|_| {
                    UsageError(format!(
                        "stat {v}: expected the metrics address and port, like 127.0.0.1:9559"
                    ))
                })?);
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Stat(o))
}

/// `zedge peers`' own options.
fn parse_peers(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let mut o = crate::peers::PeersOptions {
        control: None,
        json: false,
    };
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Long("json") => o.json = true,
            Long("control") => {
                let ep = endpoint(&mut p)?;
                if ep.mode == crate::endpoint::Mode::Connect {
                    return Err(UsageError(format!(
                        "peers --control >{ep}: give the address the device's control \
                         endpoint listens on, without >"
                    )));
                }
                o.control = Some(ep);
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Peers(o))
}

/// `zedge keygen NAME`.
fn parse_keygen(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let mut name = None;
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Value(v) if name.is_none() => name = Some(PathBuf::from(v)),
            _ => return Err(arg.unexpected().into()),
        }
    }
    name.map(Command::Keygen).ok_or_else(|| {
        UsageError("keygen needs a NAME: zedge keygen NAME writes NAME and NAME_secret".into())
    })
}

fn in_device_table(key: &str) -> String {
    format!("set {key} in the device's [[device]] table")
}

fn endpoint(p: &mut lexopt::Parser) -> Result<Endpoint, UsageError> {
    let v = p.value()?.string()?;
    Endpoint::parse(&v).map_err(|e| UsageError(e.to_string()))
}

#[cfg(test)]
mod tests;
