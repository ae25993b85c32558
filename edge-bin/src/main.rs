//! zedge: a ZeroMQ broker for edge gateways.
//!
//! This binary is the shell around `zedge-core`: it parses the command line or a config file,
//! binds and connects endpoints, and drives each device from a single-threaded async loop on
//! a thread of its own ([`worker`]), while the main thread handles signals, reloads and
//! shutdown ([`driver`]) and tells systemd how it is doing ([`notify`]). It owns no protocol
//! logic.
//!
//! Exit status: 0 after SIGINT/SIGTERM, 1 when running fails (an endpoint cannot be bound, a
//! device thread dies) or `check-config` finds a mistake, 2 for a bad command line or config
//! file given to `run`, including settings that cannot fit `memory_max`, two endpoints (or the
//! metrics address) that bind one address, or memory the system will not give (the unit's `RestartPreventExitStatus=2` keeps systemd from retrying a config
//! that cannot work). Errors are one line on stderr.

mod admit;
mod budget;
mod bypass;
mod cert;
mod cli;
mod client;
mod config;
mod connection;
mod control;
mod driver;
mod endpoint;
mod flush;
mod gate;
mod gateway;
mod host;
mod input;
mod log;
mod metrics;
mod net;
mod notify;
mod outframes;
mod peers;
mod queue;
mod reload;
mod report;
mod secure;
mod setup;
mod signal;
mod splice;
mod spool;
mod stat;
mod stdout;
mod storage;
mod suggest;
mod worker;

use std::path::Path;
use std::process::ExitCode;

use reload::Source;
use setup::{DeviceSetup, Process};

/// glibc's malloc serves a large allocation from its heap once one as large was freed (its
/// mmap threshold follows the largest freed, up to 32 MiB), and a heap keeps much of what is
/// freed in it: a broker whose buffers grow and shrink with large messages would then hold
/// well over what `memory_max` counts (measured: 110 MiB resident under 80M with three CURVE
/// senders of 15 MiB messages). A fixed threshold of 2 MiB keeps every larger allocation in a
/// mapping of its own, given back to the system when freed (62 MiB in the same run), and the
/// buffers of everyday messages in the heap (at 256 KiB, 64 KiB CURVE messages cost 40% more
/// CPU in mappings made and torn down). (musl maps large ones anyway.)
fn large_buffers_mapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // Safety: mallopt only sets a parameter of the allocator, before any thread starts.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 2 << 20) };
    }
}

fn main() -> ExitCode {
    large_buffers_mapped();
    // Settings that cannot work, or devices that cannot fit memory_max, are refused here,
    // before anything is bound or allocated.
    let (devices, process, verbosity, base_level, source) =
        match cli::parse(std::env::args_os().skip(1)) {
            Ok(cli::Command::Device(o)) => (vec![o.setup], o.process, o.verbosity, None, None),
            Ok(cli::Command::Run { config, verbosity }) => match config::load(&config) {
                Ok(cfg) => {
                    let source = Source {
                        path: config,
                        verbosity,
                        drop_ins: cfg.drop_ins,
                    };
                    let level = cfg.log_level;
                    (cfg.devices, cfg.process, verbosity, level, Some(source))
                }
                Err(e) => return usage_error(&e.to_string()),
            },
            Ok(cli::Command::CheckConfig(path)) => return check_config(&path),
            Ok(cli::Command::Stat(o)) => return tool("stat", stat::run(&o)),
            Ok(cli::Command::Peers(o)) => return tool("peers", peers::run(&o)),
            Ok(cli::Command::Keygen(name)) => return tool("keygen", cert::keygen(&name)),
            Ok(cli::Command::Client(o)) => return tool(o.tool.name(), client::run(&o)),
            Ok(cli::Command::Help(page)) => {
                stdout::print(page.text());
                return ExitCode::SUCCESS;
            }
            Ok(cli::Command::Version) => {
                stdout::outln!("zedge {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            Err(e) => return usage_error(&e.to_string()),
        };
    // Two binds of one address under different spellings (a name and its address, the metrics
    // address and an endpoint's) would fail at start as if another process held it.
    if let Some(clash) = config::same_address(&devices, &process, net::bind_name).first() {
        return match &source {
            Some(s) => usage_error(&format!("{}: {clash}", s.path.display())),
            None => usage_error(clash),
        };
    }
    let env = std::env::var("ZEDGE_LOG").ok();
    match log::level(verbosity, env.as_deref(), base_level) {
        Ok(level) => log::init(level),
        Err(e) => return usage_error(&e),
    }
    if let Some(path) = secure::use_widest() {
        ::log::debug!("CURVE keystream in {path} vectors");
    }
    run(devices, process, source)
}

fn run(devices: Vec<DeviceSetup>, process: Process, source: Option<Source>) -> ExitCode {
    match driver::run(devices, process, source) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zedge: {e}");
            ExitCode::from(e.exit_status())
        }
    }
}

fn check_config(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(cfg) => {
            let file = path.display().to_string();
            // What run would meet on this host, found without binding.
            let found = config::preflight(&cfg, &config::ThisHost::here());
            let mut out = config::summary(&cfg, &file, !found.problems.is_empty());
            if !found.needs.is_empty() {
                out.push_str("  before run:\n");
                for need in &found.needs {
                    out.push_str(&format!("    {need}\n"));
                }
            }
            // A reader gone (`| head -1`) takes neither the problems nor the status away.
            stdout::print_unless_gone(&out);
            for problem in &found.problems {
                eprintln!("zedge: {file}: {problem}");
            }
            if found.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("zedge: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How a tool command (`stat`, `peers`, `keygen`) ended: status 1 and its error, named.
fn tool(name: &str, result: Result<(), impl std::fmt::Display>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zedge {name}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("zedge: {msg}");
    ExitCode::from(2)
}
