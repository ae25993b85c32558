//! The config file of `zedge run --config FILE` and `zedge check-config FILE`.
//!
//! TOML: process options at the top (`memory_max`), an optional `[log]` table and one
//! `[[device]]` table per device, keys spelled as the command-line flags with `_` for `-`.
//! serde checks the structure (unknown, missing and repeated keys) and [`toml::Spanned`] keeps
//! where each value was written; a device's options are checked by [`Written::build`], as the
//! command line's are, the process options by [`WrittenProcess::build`], and what the devices
//! cost by [`Memory::check`]; the checks that span devices (names, endpoints bound twice) are
//! this module's. Every error names the file, the line, the device and the key, and says what
//! would be accepted. `board/zedge.toml` documents each key and its default.

mod explain;
mod raw;
mod summary;

use std::fmt;
use std::ops::Range;
use std::path::Path;

use log::LevelFilter;
use serde::Deserialize;
use toml::de::DeTable;

use crate::endpoint::{Endpoint, Mode};
use crate::setup::{
    DeviceSetup, Memory, Origin, Process, SettingError, Via, Written, WrittenProcess,
};
use explain::{explain, line_of};
use raw::RawFile;
pub use summary::summary;

/// A name shows in logs and in `systemctl status`; keep it short and plain.
const MAX_NAME: usize = 32;

/// A config file, checked.
#[derive(Debug)]
pub struct Config {
    /// `[log] level`, the level when neither `-v` nor `ZEDGE_LOG` asks for another.
    pub log_level: Option<LevelFilter>,
    pub process: Process,
    pub devices: Vec<DeviceSetup>,
    /// What the devices cost at worst; it fits `process.memory_max`.
    pub memory: Memory,
}

/// What is wrong with a config file, and where: `FILE:LINE: device "x": key "y": what to do`.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    file: String,
    line: Option<usize>,
    what: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.what),
            None => write!(f, "{}: {}", self.file, self.what),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Read and check `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &file),
        Err(e) => Err(ConfigError {
            file,
            line: None,
            what: format!("cannot read the config file: {e}"),
        }),
    }
}

/// Check `text`, the contents of `file` (named in errors).
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let at = |span: Range<usize>, what: String| ConfigError {
        file: file.to_owned(),
        line: Some(line_of(text, span.start)),
        what,
    };
    // Parsed with recovery, so a syntax error is still placed in its device and key.
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if let Some(e) = syntax.first() {
        let span = e.span().unwrap_or(0..0);
        let (msg, key) = match e.message() {
            // The first of the two is in `doc`; the error points at the second.
            "duplicate key" => (e.message().to_owned(), text.get(span.clone())),
            m => (format!("not valid TOML: {m}"), None),
        };
        return Err(at(span.clone(), explain(&doc, span.start, key, None, &msg)));
    }
    let mut raw = RawFile::deserialize(toml::de::Deserializer::from(doc.clone())).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let written = text.get(span.clone());
        at(
            span.clone(),
            explain(&doc, span.start, None, written, e.message()),
        )
    })?;
    let mut process = WrittenProcess::default();
    if let Some(m) = raw.metrics.take() {
        process.metrics = Some(match m.listen {
            Some(l) => l.get_ref().parse().map_err(|_| {
                at(
                    l.span(),
                    format!(
                        "[metrics] key \"listen\": expected an address and port like \
                         \"127.0.0.1:{}\", got {:?}",
                        crate::metrics::DEFAULT_PORT,
                        l.get_ref()
                    ),
                )
            })?,
            None => crate::metrics::default_listen(),
        });
    }
    for (opt, value) in raw.options() {
        let span = value.span();
        process.set(opt, value.into_inner(), Origin::Key(span));
    }
    let process = process.build().map_err(|e| match &e {
        SettingError::Option {
            opt,
            at: Origin::Key(span),
            ..
        } => at(span.clone(), format!("key \"{}\": {e}", opt.key())),
        _ => at(0..0, e.to_string()),
    })?;
    let log_level = raw.log.and_then(|l| l.level).map(|l| l.into_inner().0);
    if raw.device.is_empty() {
        return Err(at(
            0..0,
            "no devices; add a [[device]] table with name, kind, frontend and backend".into(),
        ));
    }
    let mut devices: Vec<(DeviceSetup, usize)> = Vec::new();
    let mut binds: Vec<(Endpoint, String, usize)> = Vec::new();
    for (i, raw) in raw.device.into_iter().enumerate() {
        let header = line_of(text, raw.span().start);
        let mut raw = raw.into_inner();
        let options = raw.options();
        let curve = raw.curve();
        let name_span = raw.name.span();
        let name = raw.name.into_inner();
        let dev_label = if name.is_empty() {
            format!("device #{}", i + 1)
        } else {
            format!("device {name:?}")
        };
        let key_err = |span: Range<usize>, key: &str, what: String| {
            at(span, format!("{dev_label}: key \"{key}\": {what}"))
        };
        // An endpoint that binds is noted, or refused if another place binds it already.
        let claim = |binds: &mut Vec<(Endpoint, String, usize)>,
                     ep: &Endpoint,
                     (span, key): (Range<usize>, &str)| {
            if ep.mode != Mode::Bind {
                return Ok(());
            }
            if let Some((_, owner, line)) = binds.iter().find(|(b, ..)| b.clashes(ep)) {
                let what = format!(
                    "{ep} is bound already by {owner} (line {line}); bind each address in one \
                     place only"
                );
                return Err(key_err(span, key, what));
            }
            binds.push((ep.clone(), dev_label.clone(), line_of(text, span.start)));
            Ok(())
        };
        if let Err(why) = check_name(&name) {
            return Err(key_err(name_span, "name", why));
        }
        if let Some((_, line)) = devices.iter().find(|(d, _)| d.name == name) {
            return Err(key_err(
                name_span,
                "name",
                format!("the device at line {line} has this name already; names must differ"),
            ));
        }
        let mut written = Written::new(name, raw.kind.get_ref().0);
        for (opt, value) in options {
            let span = value.span();
            written.set(opt, value.into_inner(), Origin::Key(span));
        }
        for (opt, value) in curve {
            let span = value.span();
            written
                .curve
                .set(opt, value.into_inner(), Origin::Key(span));
        }
        let mut sides = [Vec::new(), Vec::new()];
        for (side, key, eps) in [(0, "frontend", raw.frontend), (1, "backend", raw.backend)] {
            let list_span = eps.span();
            let eps = eps.into_inner().into_list(list_span.clone());
            if eps.is_empty() {
                return Err(key_err(
                    list_span,
                    key,
                    "needs at least one endpoint, like [\"tcp://*:5559\"]".into(),
                ));
            }
            for ep in eps {
                let span = ep.span();
                let ep = ep.into_inner().0;
                claim(&mut binds, &ep, (span, key))?;
                sides[side].push(ep);
            }
        }
        [written.frontends, written.backends] = sides;
        for (key, raw_ep, to) in [
            ("control", raw.control, &mut written.control),
            ("capture", raw.capture, &mut written.capture),
        ] {
            if let Some(ep) = raw_ep {
                let span = ep.span();
                let ep = ep.into_inner().0;
                claim(&mut binds, &ep, (span, key))?;
                *to = Some(ep);
            }
        }
        let setup = written.build().map_err(|e| match &e {
            SettingError::Option {
                opt,
                at: Origin::Key(span),
                ..
            } => key_err(span.clone(), opt.key(), e.to_string()),
            SettingError::Curve {
                key,
                at: Origin::Key(span),
                why,
            } => key_err(span.clone(), key, why.clone()),
            _ => ConfigError {
                file: file.to_owned(),
                line: Some(header),
                what: format!("{dev_label}: {e}"),
            },
        })?;
        devices.push((setup, header));
    }
    let (devices, headers): (Vec<DeviceSetup>, Vec<usize>) = devices.into_iter().unzip();
    let memory = Memory::check(&devices, &process, Via::ConfigFile).map_err(|e| ConfigError {
        file: file.to_owned(),
        line: headers.get(e.device).copied(),
        what: e.to_string(),
    })?;
    Ok(Config {
        log_level,
        process,
        devices,
        memory,
    })
}

/// Names go into logs and STATUS lines: letters, digits, `-`, `_`, `.`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected 1 to {MAX_NAME} letters, digits, '-', '_' or '.', not {name:?}"
        ))
    }
}

#[cfg(test)]
mod shipped;
#[cfg(test)]
mod tests;
