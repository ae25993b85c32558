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
mod preflight;
mod raw;
mod summary;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use log::LevelFilter;
use serde::Deserialize;
use toml::de::DeTable;

use crate::endpoint::{Endpoint, Mode};
use crate::setup::{
    DeviceSetup, Memory, Origin, Process, SettingError, Via, Written, WrittenProcess,
};
use explain::{explain, line_of};
pub use preflight::{preflight, same_address, ThisHost};
use raw::RawFile;
pub use summary::summary;

/// A name shows in logs and in `systemctl status`; keep it short and plain.
const MAX_NAME: usize = 32;

/// The largest config file or drop-in read: the shipped file, which documents every key, is
/// 12 KiB; a path given by mistake (`/dev/zero`, a log) is refused instead of read whole.
pub const MAX_FILE: u64 = 1 << 20;

/// A config file, checked.
#[derive(Debug)]
pub struct Config {
    /// `[log] level`, the level when neither `-v` nor `ZEDGE_LOG` asks for another.
    pub log_level: Option<LevelFilter>,
    pub process: Process,
    pub devices: Vec<DeviceSetup>,
    /// What the devices cost at worst; it fits `process.memory_max`.
    pub memory: Memory,
    /// The drop-ins read after the main file ([`load`]), in order.
    pub drop_ins: Vec<String>,
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

/// A file of the config: its name (as errors name it) and its text.
struct Source {
    file: String,
    text: String,
}

impl Source {
    /// An error at `span` of this file.
    fn at(&self, span: Range<usize>, what: String) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: Some(line_of(&self.text, span.start)),
            what,
        }
    }

    /// Where `span` is, for a message about another place: `line N` in the same file as
    /// `other`, `FILE:N` in another.
    fn place(&self, span: &Range<usize>, other: &Source) -> String {
        self.place_of_line(line_of(&self.text, span.start), other)
    }

    /// [`Source::place`] for a line.
    fn place_of_line(&self, line: usize, other: &Source) -> String {
        if std::ptr::eq(self, other) {
            format!("line {line}")
        } else {
            format!("{}:{line}", self.file)
        }
    }
}

/// The directory of drop-ins for the config file `path`: `conf.d` beside it
/// (`/etc/zedge/conf.d` for the package's `/etc/zedge/zedge.toml`).
pub fn drop_in_dir(path: &Path) -> PathBuf {
    path.parent()
        .unwrap_or_else(|| Path::new("."))
        .join("conf.d")
}

/// Read and check `path`, then its drop-ins: every `*.toml` file of [`drop_in_dir`], in the
/// order of their names, read after it. A drop-in adds devices, and its process options,
/// `[log]` and `[metrics]` replace what was read before it; a device named twice, or an
/// address bound twice, is refused wherever it is.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, Keys::Read)
}

/// [`load`] for the tools that need only addresses (`zedge stat`, `zedge peers`): the devices
/// come without their CURVE and PLAIN settings, and the key and password files, which are
/// for the zedge user only (board/README.md), are not read.
pub fn load_addresses(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, Keys::Skip)
}

/// Whether the key and password files a config names are read and checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    Read,
    Skip,
}

fn load_with(path: &Path, keys: Keys) -> Result<Config, ConfigError> {
    let mut sources = vec![read(path, "the config file")?];
    let dir = drop_in_dir(path);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return check(&sources, keys),
        Err(e) => {
            return Err(ConfigError {
                file: dir.display().to_string(),
                line: None,
                what: format!("cannot read the drop-in directory: {e}"),
            })
        }
    };
    let mut drop_ins: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // A FIFO or device named *.toml is read, and refused by `read` with its reason.
            name.ends_with(".toml") && !name.starts_with('.') && !p.is_dir()
        })
        .collect();
    drop_ins.sort();
    for p in drop_ins {
        sources.push(read(&p, "the drop-in")?);
    }
    check(&sources, keys)
}

/// The file at `path` (`what`, in its error): a regular file of at most [`MAX_FILE`] bytes,
/// looked at before it is opened, as opening a FIFO waits for a writer.
fn read(path: &Path, what: &str) -> Result<Source, ConfigError> {
    use std::io::Read;
    let file = path.display().to_string();
    let fail = |why: String| ConfigError {
        file: file.clone(),
        line: None,
        what: why,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read {what}: {e}")))?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, FIFO or socket)"
        };
        return Err(fail(format!("{what} is {kind}; give a TOML file")));
    }
    let too_big = || {
        fail(format!(
            "{what} is larger than {} KiB, the most zedge reads; is it the right file?",
            MAX_FILE >> 10
        ))
    };
    if meta.len() > MAX_FILE {
        return Err(too_big());
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_string(&mut text))
        .map_err(|e| fail(format!("cannot read {what}: {e}")))?;
    // It grew since it was looked at.
    if text.len() as u64 > MAX_FILE {
        return Err(too_big());
    }
    Ok(Source {
        file: file.clone(),
        text,
    })
}

/// Check `text`, the contents of `file` (named in errors), alone.
#[cfg(test)]
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    check(
        &[Source {
            file: file.to_owned(),
            text: text.to_owned(),
        }],
        Keys::Read,
    )
}

/// One file's tables and keys, as serde read them.
fn raw_file(src: &Source) -> Result<RawFile, ConfigError> {
    let text = &src.text;
    // Parsed with recovery, so a syntax error is still placed in its device and key.
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if let Some(e) = syntax.first() {
        let span = e.span().unwrap_or(0..0);
        let (msg, key) = match e.message() {
            // The first of the two is in `doc`; the error points at the second.
            "duplicate key" => (e.message().to_owned(), text.get(span.clone())),
            m => (format!("not valid TOML: {m}"), None),
        };
        return Err(src.at(span.clone(), explain(&doc, span.start, key, None, &msg)));
    }
    RawFile::deserialize(toml::de::Deserializer::from(doc.clone())).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let written = text.get(span.clone());
        src.at(
            span.clone(),
            explain(&doc, span.start, None, written, e.message()),
        )
    })
}

/// Check the config made of `sources`, the main file first.
fn check(sources: &[Source], keys: Keys) -> Result<Config, ConfigError> {
    let main = &sources[0];
    let mut process = WrittenProcess::default();
    // The file that set each process option last.
    let mut set_in: Vec<(crate::setup::Opt, usize)> = Vec::new();
    let mut log_level = None;
    let mut raw_devices = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let mut raw = raw_file(src)?;
        if let Some(m) = raw.metrics.take() {
            process.metrics = Some(match m.listen {
                Some(l) => l.get_ref().parse().map_err(|_| {
                    src.at(
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
            set_in.retain(|(o, _)| *o != opt);
            set_in.push((opt, i));
        }
        if let Some(level) = raw.log.take().and_then(|l| l.level) {
            log_level = Some(level.into_inner().0);
        }
        raw_devices.extend(raw.device.into_iter().map(|d| (i, d)));
    }
    let process = process.build().map_err(|e| match &e {
        SettingError::Option {
            opt,
            at: Origin::Key(span),
            ..
        } => {
            let src = set_in
                .iter()
                .find(|(o, _)| o == opt)
                .map_or(main, |&(_, i)| &sources[i]);
            src.at(span.clone(), format!("key \"{}\": {e}", opt.key()))
        }
        _ => main.at(0..0, e.to_string()),
    })?;
    if raw_devices.is_empty() {
        return Err(main.at(
            0..0,
            "no devices; add a [[device]] table with name, kind, frontend and backend".into(),
        ));
    }
    // Each device with its file and the line of its table; each bound address with its
    // device, file and span.
    let mut devices: Vec<(DeviceSetup, usize, usize)> = Vec::new();
    let mut binds: Vec<(Endpoint, String, usize, Range<usize>)> = Vec::new();
    for (i, (si, raw)) in raw_devices.into_iter().enumerate() {
        let src = &sources[si];
        let header = line_of(&src.text, raw.span().start);
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
            src.at(span, format!("{dev_label}: key \"{key}\": {what}"))
        };
        // An endpoint that binds is noted, or refused if another place binds it already.
        let claim = |binds: &mut Vec<(Endpoint, String, usize, Range<usize>)>,
                     ep: &Endpoint,
                     (span, key): (Range<usize>, &str)| {
            if ep.mode != Mode::Bind {
                return Ok(());
            }
            if let Some((_, owner, at, at_span)) = binds.iter().find(|(b, ..)| b.clashes(ep)) {
                let what = format!(
                    "{ep} is bound already by {owner} ({}); bind each address in one place \
                     only",
                    sources[*at].place(at_span, src)
                );
                return Err(key_err(span, key, what));
            }
            binds.push((ep.clone(), dev_label.clone(), si, span));
            Ok(())
        };
        if let Err(why) = check_name(&name) {
            return Err(key_err(name_span, "name", why));
        }
        if let Some((_, at, line)) = devices.iter().find(|(d, ..)| d.name == name) {
            return Err(key_err(
                name_span,
                "name",
                format!(
                    "the device at {} has this name already; names must differ",
                    sources[*at].place_of_line(*line, src)
                ),
            ));
        }
        let mut written = Written::new(name, raw.kind.get_ref().0);
        for (opt, value) in options {
            let span = value.span();
            written.set(opt, value.into_inner(), Origin::Key(span));
        }
        for (opt, value) in curve.filter(|_| keys == Keys::Read) {
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
                file: src.file.clone(),
                line: Some(header),
                what: format!("{dev_label}: {e}"),
            },
        })?;
        // Two spools in one directory would write over each other (the second to start
        // would find it locked, and run without).
        let spool = setup.spool.as_deref().filter(|_| setup.has_spool());
        if let Some((other, at, line)) = devices
            .iter()
            .find(|(d, ..)| d.has_spool() && d.spool.as_deref() == spool)
        {
            return Err(ConfigError {
                file: src.file.clone(),
                line: Some(header),
                what: format!(
                    "{dev_label}: key \"spool\": {} is the spool of device {:?} already ({}); \
                     give each device a directory of its own",
                    spool.map_or_else(String::new, |p| p.display().to_string()),
                    other.name,
                    sources[*at].place_of_line(*line, src)
                ),
            });
        }
        devices.push((setup, si, header));
    }
    let (devices, places): (Vec<DeviceSetup>, Vec<(usize, usize)>) = devices
        .into_iter()
        .map(|(d, si, header)| (d, (si, header)))
        .unzip();
    let memory = Memory::check(&devices, &process, Via::ConfigFile).map_err(|e| {
        let (si, line) = places.get(e.device).copied().unwrap_or((0, 0));
        let src = &sources[si];
        ConfigError {
            file: src.file.clone(),
            line: (line > 0).then_some(line),
            what: e.to_string(),
        }
    })?;
    Ok(Config {
        log_level,
        process,
        devices,
        memory,
        drop_ins: sources[1..].iter().map(|s| s.file.clone()).collect(),
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
/// A config whose key and password files are not there: tests run as root, who reads
/// every file, so a missing file stands for one only the zedge user may read. For the tests
/// of `zedge stat` and `zedge peers`, which read the config without them.
pub fn keys_out_of_reach(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zedge-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("zedge.toml");
    let dir = dir.join("missing").display().to_string();
    std::fs::write(
        &file,
        format!(
            "[metrics]\nlisten = \"127.0.0.1:9559\"\n\n[[device]]\nname = \"a\"\nkind = \"forwarder\"\n\
         frontend = [\"tcp://*:5559\"]\nbackend = [\"tcp://127.0.0.1:5560\"]\n\
         control = \"tcp://*:5570\"\ncurve_secret = \"{dir}/telemetry_secret\"\n\n\
         [[device]]\nname = \"b\"\nkind = \"queue\"\nfrontend = [\"tcp://127.0.0.1:5561\"]\n\
         backend = [\"tcp://127.0.0.1:5562\"]\ncontrol = \"tcp://127.0.0.1:5571\"\n\
         plain_passwords = \"{dir}/passwords\"\n"
        ),
    )
    .unwrap();
    assert!(
        crate::config::load(&file).is_err(),
        "run reads the key files"
    );
    file
}

#[cfg(test)]
mod shipped;
#[cfg(test)]
mod tests;
