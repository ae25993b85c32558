//! The settings of the whole process, however many devices it runs: written once, at the top
//! of the config file or on the command line, and checked by the same [`Opt::check`] as a
//! device's options.

use super::opt::Opt;
use super::opt::{Origin, SettingError};
use super::value::Value;

/// What the process as a whole may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Process {
    /// Bytes every buffer of the process draws from: the devices' tables and input buffers
    /// (fixed at start, see [`Memory`](super::Memory)) and all queued messages.
    pub memory_max: usize,
    /// Where Prometheus metrics are served (`crate::metrics`), if anywhere.
    pub metrics: Option<std::net::SocketAddr>,
}

impl Default for Process {
    /// 256 MiB: under the shipped unit's `MemoryHigh=384M` (where the kernel starts reclaiming
    /// and throttling) with room for the binary, its stack, the allocator's slack and the
    /// kernel's socket and pipe buffers, which are charged to the unit but not to the budget;
    /// `MemoryMax=512M` stays a backstop that should never be reached.
    fn default() -> Self {
        Process {
            memory_max: 256 << 20,
            metrics: None,
        }
    }
}

/// The process options as written: nothing checked, nothing defaulted.
#[derive(Debug, Default)]
pub struct WrittenProcess {
    memory_max: Option<(Value, Origin)>,
    /// Parsed already by the front end (`--metrics`, `[metrics] listen`).
    pub metrics: Option<std::net::SocketAddr>,
}

impl WrittenProcess {
    /// Record `opt`, a process option; given again, the last one counts.
    pub fn set(&mut self, opt: Opt, value: Value, at: Origin) {
        match opt {
            Opt::MemoryMax => self.memory_max = Some((value, at)),
            _ => debug_assert!(false, "{opt:?} is not a process option"),
        }
    }

    /// Check each option and make the settings: [`Process::default`] for what was left out.
    pub fn build(self) -> Result<Process, SettingError> {
        let mut p = Process {
            metrics: self.metrics,
            ..Process::default()
        };
        if let Some((value, at)) = &self.memory_max {
            let n = Opt::MemoryMax.check(value, at, None)?;
            p.memory_max = usize::try_from(n).unwrap_or(usize::MAX);
        }
        Ok(p)
    }
}
