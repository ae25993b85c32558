//! A small stderr logger for the `log` facade: `  12.345 WARN  message`, one line per record.
//!
//! Time is seconds since start. Under systemd (`JOURNAL_STREAM` set) a line is `<4>message`
//! instead: journald reads the priority from the prefix and keeps wall-clock time of its own,
//! so `journalctl -p warning` works. The level comes from `-v` counts, `ZEDGE_LOG` and the
//! config file's `[log] level`.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

use log::{LevelFilter, Log, Metadata, Record};

struct StderrLogger {
    start: Instant,
    journal: bool,
}

static LOGGER: OnceLock<StderrLogger> = OnceLock::new();

/// The level from `-v` repetitions, the `ZEDGE_LOG` value if set, and the config file's
/// `[log] level` (`base`, warn without one). `ZEDGE_LOG` replaces `base`; `-v` only raises.
pub fn level(
    verbosity: u8,
    env: Option<&str>,
    base: Option<LevelFilter>,
) -> Result<LevelFilter, String> {
    let from_flags = match verbosity {
        0 => LevelFilter::Warn,
        1 => LevelFilter::Info,
        2 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    let base = base.unwrap_or(LevelFilter::Warn);
    let from_env = match env.map(str::trim) {
        None | Some("") => base,
        Some(v) => parse_level(v)
            .ok_or_else(|| format!("ZEDGE_LOG={v}: expected error, warn, info, debug or trace"))?,
    };
    Ok(if verbosity > 0 {
        from_flags.max(from_env)
    } else {
        from_env
    })
}

/// `error`, `warn`, `info`, `debug`, `trace` or `off`, in any case.
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "off" => LevelFilter::Off,
        "error" => LevelFilter::Error,
        "warn" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => return None,
    })
}

pub fn init(level: LevelFilter) {
    let logger = LOGGER.get_or_init(|| StderrLogger {
        start: Instant::now(),
        journal: std::env::var_os("JOURNAL_STREAM").is_some(),
    });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // One write per line, so lines from a dying process are not interleaved halves.
        let line = if self.journal {
            format!("<{}>{}\n", syslog_priority(record.level()), record.args())
        } else {
            let t = self.start.elapsed();
            format!(
                "{:>4}.{:03} {:<5} {}\n",
                t.as_secs(),
                t.subsec_millis(),
                record.level(),
                record.args()
            )
        };
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// sd-daemon(3) priorities: err, warning, notice (info), debug.
fn syslog_priority(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 5,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_env() {
        assert_eq!(level(0, None, None), Ok(LevelFilter::Warn));
        assert_eq!(level(1, None, None), Ok(LevelFilter::Info));
        assert_eq!(level(2, None, None), Ok(LevelFilter::Debug));
        assert_eq!(level(5, None, None), Ok(LevelFilter::Trace));
        assert_eq!(level(0, Some("error"), None), Ok(LevelFilter::Error));
        assert_eq!(level(0, Some("DEBUG"), None), Ok(LevelFilter::Debug));
        assert_eq!(level(1, Some("error"), None), Ok(LevelFilter::Info));
        assert_eq!(level(1, Some("trace"), None), Ok(LevelFilter::Trace));
        assert!(level(0, Some("loud"), None)
            .unwrap_err()
            .contains("ZEDGE_LOG=loud"));
    }

    #[test]
    fn config_level_is_the_base() {
        let info = Some(LevelFilter::Info);
        assert_eq!(level(0, None, info), Ok(LevelFilter::Info));
        assert_eq!(level(0, Some("error"), info), Ok(LevelFilter::Error));
        assert_eq!(level(2, None, info), Ok(LevelFilter::Debug));
        assert_eq!(
            level(1, None, Some(LevelFilter::Trace)),
            Ok(LevelFilter::Trace)
        );
        assert_eq!(parse_level(" Off "), Some(LevelFilter::Off));
        assert_eq!(parse_level("verbose"), None);
    }
}
