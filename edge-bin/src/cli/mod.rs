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
pub use help::Page;

#[derive(Debug)]
pub enum Command {
    /// `zedge help [CMD]`, `zedge [CMD] --help`.
    Help(Page),
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
            // Named again, with what was meant, by [`hint`].
            lexopt::Error::UnexpectedOption(o) => format!("unknown option '{o}'"),
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
    let args: Vec<OsString> = args.into_iter().collect();
    let tool = args
        .first()
        .and_then(|a| a.to_str())
        .and_then(|a| TOOLS.into_iter().find(|(name, _)| *name == a));
    let rest = || args.iter().skip(1).cloned();
    let parsed = match tool {
        Some(("stat", _)) => parse_stat(rest()),
        Some(("peers", _)) => parse_peers(rest()),
        Some(("keygen", _)) => parse_keygen(rest()),
        Some(("help", _)) => parse_help(rest()),
        _ => parse_device(args.clone()),
    };
    let (name, longs) = match tool {
        Some((name, longs)) => (format!("zedge {name} --help"), longs.to_vec()),
        None => ("zedge --help".to_owned(), device_longs()),
    };
    parsed.map_err(|e| hint(e, &args, &longs, &name))
}

/// The commands with options of their own, and their long options.
const TOOLS: [(&str, &[&str]); 4] = [
    ("stat", &["--watch", "--json", "--help"]),
    ("peers", &["--json", "--control", "--help"]),
    ("keygen", &["--help"]),
    ("help", &["--help"]),
];

/// Every long option of a device or `run`.
fn device_longs() -> Vec<&'static str> {
    let fixed = [
        "--frontend",
        "--backend",
        "--control",
        "--capture",
        "--metrics",
        "--config",
        "--verbose",
        "--help",
        "--version",
    ];
    let opts = Opt::DEVICE.into_iter().chain(Opt::PROCESS);
    let mut longs: Vec<&str> = fixed.into_iter().collect();
    longs.extend(opts.map(Opt::flag));
    longs.extend(CurveOpt::ALL.map(CurveOpt::flag));
    longs.push("--no-legacy");
    longs
}

/// Every command: the devices, `run`, and the tools.
fn commands() -> Vec<&'static str> {
    let mut all: Vec<&str> = crate::setup::KINDS.map(crate::setup::kind_name).to_vec();
    all.extend(["run", "check-config"]);
    all.extend(TOOLS.map(|(name, _)| name));
    all
}

/// An unknown option's error, with what was meant where that can be told: the long option
/// nearest it, or (`-frontend`, which the parser reads as `-f -r ...`) the long option a
/// single dash was put before. `page`: where to read more.
fn hint(e: UsageError, args: &[OsString], longs: &[&str], page: &str) -> UsageError {
    let Some(option) =
        e.0.strip_prefix("unknown option '")
            .and_then(|r| r.split_once('\''))
            .map(|(o, _)| o)
    else {
        return e;
    };
    let mut meant = String::new();
    if let Some(letter) = option.strip_prefix('-').filter(|l| l.chars().count() == 1) {
        // The word the letter came from: an argument of one dash, more than one letter.
        let word = args.iter().filter_map(|a| a.to_str()).find(|a| {
            a.len() > 2
                && !a.starts_with("--")
                && a.strip_prefix('-').is_some_and(|w| w.starts_with(letter))
        });
        if let Some(word) = word {
            let long = format!("-{}", word.split('=').next().unwrap_or(word));
            meant = match crate::suggest::closest(&long, longs.iter().copied()) {
                Some(l) => format!(" (in '{word}'); long options take two dashes: {l}"),
                None => format!(" (in '{word}')"),
            };
        }
    } else {
        meant = crate::suggest::did_you_mean(option, longs.iter().copied());
    }
    UsageError(format!("unknown option '{option}'{meant}; see {page}"))
}

/// `zedge help [COMMAND]`.
fn parse_help(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let mut page = Page::Main;
    let mut named = false;
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(Page::Main)),
            Value(v) if !named => {
                let v = v.string()?;
                page = Page::of(&v).ok_or_else(|| {
                    UsageError(format!(
                        "no help for '{v}'{}; the commands are {}",
                        crate::suggest::did_you_mean(&v, commands()),
                        commands().join(", ")
                    ))
                })?;
                named = true;
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Help(page))
}

/// A device (`zedge forwarder ...`), `run` or `check-config`.
fn parse_device(args: Vec<OsString>) -> Result<Command, UsageError> {
    use lexopt::prelude::*;
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
            Short('h') | Long("help") => {
                let page = command.as_deref().and_then(Page::of).unwrap_or(Page::Main);
                return Ok(Command::Help(page));
            }
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
                "unknown device '{name}'{}; expected one of {} (or run, check-config; see \
                 zedge --help)",
                crate::suggest::did_you_mean(name, commands()),
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
    one_place_each(&setup)?;
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
            Short('h') | Long("help") => return Ok(Command::Help(Page::Stat)),
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
            Short('h') | Long("help") => return Ok(Command::Help(Page::Peers)),
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
            Short('h') | Long("help") => return Ok(Command::Help(Page::Keygen)),
            Value(v) if name.is_none() => name = Some(PathBuf::from(v)),
            _ => return Err(arg.unexpected().into()),
        }
    }
    name.map(Command::Keygen).ok_or_else(|| {
        UsageError("keygen needs a NAME: zedge keygen NAME writes NAME and NAME_secret".into())
    })
}

/// Every address the device binds is bound in one place: the same on both sides would fail
/// to bind at start, as if another process held it.
fn one_place_each(setup: &DeviceSetup) -> Result<(), UsageError> {
    let binds: Vec<(&str, &Endpoint)> = setup
        .frontends
        .iter()
        .map(|e| ("--frontend", e))
        .chain(setup.backends.iter().map(|e| ("--backend", e)))
        .chain(setup.control.iter().map(|e| ("--control", e)))
        .chain(setup.capture.iter().map(|e| ("--capture", e)))
        .collect();
    for (i, (flag, ep)) in binds.iter().enumerate() {
        if let Some((first, bound)) = binds[..i].iter().find(|(_, b)| b.clashes(ep)) {
            return Err(UsageError(format!(
                "{flag} {ep}: {first} {bound} binds this address already; bind each address \
                 in one place only"
            )));
        }
    }
    Ok(())
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
