//! A small stderr logger for the `log` facade: `  12.345 WARN  message`, one line per record.
//!
//! Time is seconds since start (journald adds wall-clock time of its own). The level comes
//! from `-v` counts and `ZEDGE_LOG`, whichever asks for more.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

use log::{LevelFilter, Log, Metadata, Record};

struct StderrLogger {
    start: Instant,
}

static LOGGER: OnceLock<StderrLogger> = OnceLock::new();

/// The level from `-v` repetitions (0 = warn) and the `ZEDGE_LOG` value, if set.
pub fn level(verbosity: u8, env: Option<&str>) -> Result<LevelFilter, String> {
    let from_flags = match verbosity {
        0 => LevelFilter::Warn,
        1 => LevelFilter::Info,
        2 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    let from_env = match env.map(str::trim) {
        None | Some("") => LevelFilter::Warn,
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "off" => LevelFilter::Off,
            "error" => LevelFilter::Error,
            "warn" => LevelFilter::Warn,
            "info" => LevelFilter::Info,
            "debug" => LevelFilter::Debug,
            "trace" => LevelFilter::Trace,
            _ => {
                return Err(format!(
                    "ZEDGE_LOG={v}: expected error, warn, info, debug or trace"
                ))
            }
        },
    };
    Ok(if verbosity > 0 {
        from_flags.max(from_env)
    } else {
        from_env
    })
}

pub fn init(level: LevelFilter) {
    let logger = LOGGER.get_or_init(|| StderrLogger {
        start: Instant::now(),
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
        let t = self.start.elapsed();
        // One write per line, so lines from a dying process are not interleaved halves.
        let line = format!(
            "{:>4}.{:03} {:<5} {}\n",
            t.as_secs(),
            t.subsec_millis(),
            record.level(),
            record.args()
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_env() {
        assert_eq!(level(0, None), Ok(LevelFilter::Warn));
        assert_eq!(level(1, None), Ok(LevelFilter::Info));
        assert_eq!(level(2, None), Ok(LevelFilter::Debug));
        assert_eq!(level(5, None), Ok(LevelFilter::Trace));
        assert_eq!(level(0, Some("error")), Ok(LevelFilter::Error));
        assert_eq!(level(0, Some("DEBUG")), Ok(LevelFilter::Debug));
        assert_eq!(level(1, Some("error")), Ok(LevelFilter::Info));
        assert_eq!(level(1, Some("trace")), Ok(LevelFilter::Trace));
        assert!(level(0, Some("loud"))
            .unwrap_err()
            .contains("ZEDGE_LOG=loud"));
    }
}
