//! A small stderr logger for the `log` facade: `2026-12-01T03:20:11.123Z WARN  message`, one
//! line per record, wall-clock time in UTC.
//!
//! Under systemd (`JOURNAL_STREAM` set) a line is `<4>message` instead: journald reads the
//! priority from the prefix and keeps wall-clock time of its own, so `journalctl -p warning`
//! works. The level comes from `-v` counts, `ZEDGE_LOG` and the config file's `[log] level`.
//!
//! [`notice!`](crate::notice) lines are what an operator should see at the default level
//! though nothing is wrong (start, stop, a connection recovered): logged at warn level so
//! that they pass the default filter, shown as `NOTE` and given syslog's notice priority.

use std::io::Write;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

/// The target of [`notice!`](crate::notice) records.
pub const NOTICE: &str = "zedge::notice";

/// A line an operator sees at the default level though nothing is wrong.
#[macro_export]
macro_rules! notice {
    ($($arg:tt)+) => {
        ::log::log!(target: $crate::log::NOTICE, ::log::Level::Warn, $($arg)+)
    };
}

struct StderrLogger {
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
        Some(v) => parse_level(v).ok_or_else(|| {
            format!("ZEDGE_LOG={v}: expected off, error, warn, info, debug or trace")
        })?,
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
        let notice = record.target() == NOTICE;
        // One write per line, so lines from a dying process are not interleaved halves.
        let line = if self.journal {
            let priority = if notice {
                5
            } else {
                syslog_priority(record.level())
            };
            format!("<{priority}>{}\n", record.args())
        } else {
            let label = if notice {
                "NOTE"
            } else {
                record.level().as_str()
            };
            format!("{} {label:<5} {}\n", utc_now(), record.args())
        };
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Now, as `2026-12-01T03:20:11.123Z`.
fn utc_now() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    utc(t.as_secs(), t.subsec_millis())
}

/// `secs` since the epoch as an RFC 3339 time in UTC (the proleptic Gregorian calendar,
/// days to a date by Howard Hinnant's `civil_from_days`).
fn utc(secs: u64, millis: u32) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
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
    fn times_are_utc_dates() {
        assert_eq!(utc(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400, 7), "2000-02-29T00:00:00.007Z");
        assert_eq!(utc(1_795_927_211, 123), "2026-11-29T04:40:11.123Z");
        assert_eq!(utc(4_107_542_399, 999), "2100-02-28T23:59:59.999Z");
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
