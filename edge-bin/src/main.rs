//! zedge: a ZeroMQ broker for edge gateways.
//!
//! This binary is the shell around `zedge-core`: it parses the command line, binds and
//! connects endpoints, and drives one device from a single-threaded async loop
//! ([`driver`]). It owns no protocol logic.
//!
//! Exit status: 0 after SIGINT/SIGTERM, 1 when running fails (an endpoint cannot be bound),
//! 2 for a bad command line. Errors are one line on stderr.

mod cli;
mod connection;
mod driver;
mod endpoint;
mod log;
mod queue;

use std::process::ExitCode;

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Command::Run(o)) => o,
        Ok(cli::Command::Help) => {
            print!("{}", cli::HELP);
            return ExitCode::SUCCESS;
        }
        Ok(cli::Command::Version) => {
            println!("zedge {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => return usage_error(&e.to_string()),
    };
    let env = std::env::var("ZEDGE_LOG").ok();
    match log::level(opts.verbosity, env.as_deref()) {
        Ok(level) => log::init(level),
        Err(e) => return usage_error(&e),
    }
    let cfg = opts.device_config();
    if let Err(e) = cfg.validate() {
        return usage_error(&format!("invalid settings: {e}"));
    }
    let setup = driver::Setup {
        cfg,
        max_peers: opts.max_peers,
        max_subscriptions: opts.max_subscriptions,
        frontends: opts.frontends,
        backends: opts.backends,
    };
    match driver::run(setup) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zedge: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("zedge: {msg}");
    ExitCode::from(2)
}
