//! The command line: one device (`zedge forwarder|queue|streamer [--frontend EP]... [options]`),
//! or the devices of a config file (`zedge run --config FILE`, `zedge check-config FILE`).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

#[cfg(test)]
mod docs;
mod help;

use lexopt::ValueExt;

use crate::client::{ClientOptions, Format, Tool};
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
    /// A test client: `zedge sub EP`, `zedge req EP MESSAGE`...
    Client(Box<ClientOptions>),
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
        Some((name, _)) if Tool::from_name(name).is_some() => parse_client(name, rest()),
        Some(("stat", _)) => parse_stat(rest()),
        Some(("peers", _)) => parse_peers(rest()),
        Some(("keygen", _)) => parse_keygen(rest()),
        Some(("help", _)) => parse_help(rest()),
        _ => parse_device(args.clone()),
    };
    // The command, for a device or run: the first argument that is no option.
    let command = args
        .iter()
        .filter_map(|a| a.to_str())
        .find(|a| !a.starts_with('-'));
    let (name, longs) = match (tool, command) {
        (Some((name, longs)), _) => (format!("zedge {name} --help"), longs.to_vec()),
        (None, Some(c @ ("run" | "check-config"))) => {
            (format!("zedge {c} --help"), RUN_LONGS.to_vec())
        }
        (None, _) => ("zedge --help".to_owned(), device_longs()),
    };
    parsed.map_err(|e| hint(e, &args, &longs, &name))
}

/// The test clients' long options.
const CLIENT_LONGS: &[&str] = &[
    "--count",
    "--rate",
    "--delimiter",
    "--format",
    "--curve-server-key",
    "--curve-secret",
    "--max-msg-size",
    "--timeout",
    "--help",
];

/// The long options of `run` and `check-config`: a device's are in the file.
const RUN_LONGS: &[&str] = &["--config", "--verbose", "--help", "--version"];

/// The commands with options of their own, and their long options.
const TOOLS: [(&str, &[&str]); 10] = [
    ("sub", CLIENT_LONGS),
    ("pub", CLIENT_LONGS),
    ("push", CLIENT_LONGS),
    ("pull", CLIENT_LONGS),
    ("req", CLIENT_LONGS),
    ("rep", CLIENT_LONGS),
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
            _ => {
                // `zedge sbu tcp://...`: the mistyped command, not its argument, is the news.
                if let Some(name) = command.as_deref().filter(|c| !is_device_command(c)) {
                    return Err(unknown_command(name));
                }
                return Err(arg.unexpected().into());
            }
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
        Some(name) => kind_from_name(name).ok_or_else(|| unknown_command(name))?,
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

/// A test client: `zedge sub|pub|push|pull|req|rep EP [ARGS...] [options]`.
fn parse_client(
    name: &str,
    args: impl IntoIterator<Item = OsString>,
) -> Result<Command, UsageError> {
    use lexopt::prelude::*;
    let tool = Tool::from_name(name).ok_or_else(|| UsageError(format!("no client '{name}'")))?;
    let mut p = lexopt::Parser::from_args(args);
    let mut endpoint = None;
    let mut rest = Vec::new();
    let mut o = ClientOptions {
        tool,
        endpoint: Endpoint::parse(">tcp://127.0.0.1:1").expect("an endpoint"),
        args: Vec::new(),
        count: None,
        rate: None,
        delimiter: "\t".to_owned(),
        format: Format::Text,
        server_key: None,
        secret: None,
        max_msg_size: 16 << 20,
        timeout: std::time::Duration::from_secs(5),
    };
    let bad =
        |flag: &str, v: &str, what: &str| UsageError(format!("{name} {flag} {v}: expected {what}"));
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(Page::Client(tool))),
            Short('n') | Long("count") => {
                let v = p.value()?.string()?;
                o.count = Some(
                    crate::setup::parse_count(&v)
                        .ok_or_else(|| bad("--count", &v, "a whole number"))?,
                );
            }
            Short('r') | Long("rate") => {
                let v = p.value()?.string()?;
                o.rate = Some(
                    v.parse::<f64>()
                        .ok()
                        .filter(|r| r.is_finite() && *r > 0.0)
                        .ok_or_else(|| bad("--rate", &v, "messages a second, above 0"))?,
                );
            }
            Short('d') | Long("delimiter") => {
                let v = p.value()?.string()?;
                if v.is_empty() {
                    return Err(UsageError(format!(
                        "{name} --delimiter: give at least one character"
                    )));
                }
                o.delimiter = v;
            }
            Short('f') | Long("format") => {
                let v = p.value()?.string()?;
                o.format =
                    Format::from_name(&v).ok_or_else(|| bad("--format", &v, "text, hex or z85"))?;
            }
            Long("curve-server-key") => {
                let v = p.value()?.string()?;
                o.server_key = Some(
                    crate::setup::server_key(&v)
                        .map_err(|why| UsageError(format!("{name} --curve-server-key: {why}")))?,
                );
            }
            Long("curve-secret") => o.secret = Some(p.value()?.into()),
            Long("max-msg-size") => {
                let v = p.value()?.string()?;
                o.max_msg_size = crate::setup::parse_size(&v)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad("--max-msg-size", &v, "bytes, like 65536, 64K or 64M"))?;
            }
            Long("timeout") => {
                let v = p.value()?.string()?;
                let ms = crate::setup::parse_duration_ms(&v)
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| bad("--timeout", &v, "a duration, like 500ms or 5s"))?;
                o.timeout = std::time::Duration::from_millis(ms);
            }
            Value(v) if endpoint.is_none() => endpoint = Some(v.string()?),
            Value(v) => rest.push(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let Some(ep) = endpoint else {
        return Err(UsageError(format!(
            "{name} needs an endpoint, e.g. zedge {name} {}; see zedge {name} --help",
            tool.default_endpoint()
        )));
    };
    if o.rate.is_some() && !tool.sends() {
        return Err(UsageError(format!(
            "{name} --rate: only pub, push and req send at a rate; {name} takes what comes"
        )));
    }
    if ep.starts_with('@') {
        return Err(UsageError(format!(
            "{name} {ep}: a test client connects; give the address a device binds, without @"
        )));
    }
    let mut parsed = Endpoint::parse(ep.strip_prefix('>').unwrap_or(&ep))
        .map_err(|e| UsageError(e.to_string()))?;
    if let crate::endpoint::Addr::Tcp {
        host: crate::endpoint::Host::Any,
        ..
    } = parsed.addr
    {
        return Err(UsageError(format!(
            "{name} {ep}: cannot connect to '*'; name the host (127.0.0.1 for this one)"
        )));
    }
    parsed.mode = crate::endpoint::Mode::Connect;
    o.endpoint = parsed;
    let most = match tool {
        Tool::Pub => Some(2),
        Tool::Pull | Tool::Rep => Some(0),
        _ => None,
    };
    if most.is_some_and(|m| rest.len() > m) {
        return Err(UsageError(format!(
            "{name}: too many arguments; see zedge {name} --help"
        )));
    }
    let limit = zedge_core::conn::MAX_TOPIC;
    let topics = rest.iter().filter(|_| tool == Tool::Sub);
    if let Some(long) = topics
        .filter_map(|t| o.format.decode(t).ok())
        .find(|t| t.len() > limit)
    {
        return Err(UsageError(format!(
            "{name}: a topic of {} bytes; a device takes topics of at most {} KiB ({limit} \
             bytes)",
            long.len(),
            limit >> 10
        )));
    }
    if o.secret.is_some() && o.server_key.is_none() {
        return Err(UsageError(format!(
            "{name} --curve-secret goes with --curve-server-key (the server's public key)"
        )));
    }
    o.args = rest;
    Ok(Command::Client(Box::new(o)))
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
                o.addr = Some(crate::stat::parse_addr(&v).ok_or_else(|| {
                    UsageError(format!(
                        "stat {v}: expected the metrics address and port, like 127.0.0.1:9559 \
                         or http://127.0.0.1:9559/metrics"
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

/// A device, `run` or `check-config`: the commands [`parse_device`] reads.
fn is_device_command(name: &str) -> bool {
    kind_from_name(name).is_some() || matches!(name, "run" | "check-config")
}

/// A command that is none of zedge's, with the one meant if it is near one.
fn unknown_command(name: &str) -> UsageError {
    UsageError(format!(
        "unknown device '{name}'{}; expected one of {} (or run, check-config; see zedge \
         --help)",
        crate::suggest::did_you_mean(name, commands()),
        kind_names()
    ))
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
