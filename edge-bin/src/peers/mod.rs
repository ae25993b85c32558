//! `zedge peers [--json] [--control EP]`: a running device's peers, asked of its control
//! endpoint (`PEERS`, see `control/peers.rs`) as a REQ client would, with the binary's own
//! ZMTP (the control endpoint's [`Channel`]): one table per device, or the answers as JSON
//! lines. Without `--control`, every device of `/etc/zedge/zedge.toml` that has a control
//! endpoint zedge binds is asked.

mod json;
mod table;

use std::time::Duration;

use async_io::Timer;
use futures_lite::future;
use zedge_core::conn::SessionConfig;
use zedge_core::time::Duration as CoreDuration;
use zedge_core::wire::metadata::SocketType;

use crate::control::zmtp::{small_messages, Channel};
use crate::endpoint::{Addr, Endpoint, Host, Mode};
use crate::host::Clock;
use crate::stat::DEFAULT_CONFIG;
pub use json::Value;

/// How long one request may take, connection and answer together.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read: [`PEERS_MAX`](crate::control::peers::PEERS_MAX) peers of a few
/// hundred bytes each, with room to spare.
const MAX_ANSWER: u64 = 4 << 20;
/// The most pages asked of one device (`PEERS FROM`): 100 000 peers.
const MAX_PAGES: usize = 100;

/// What `zedge peers` was asked.
#[derive(Debug, PartialEq, Eq)]
pub struct PeersOptions {
    pub control: Option<Endpoint>,
    pub json: bool,
}

/// Print the peers of each device asked; `Err` with what went wrong.
pub fn run(o: &PeersOptions) -> Result<(), String> {
    let targets = match &o.control {
        Some(ep) => vec![reachable(ep).unwrap_or_else(|| ep.clone())],
        None => configured(DEFAULT_CONFIG)?,
    };
    let mut out = String::new();
    for ep in &targets {
        let pages = fetch(ep)?;
        if o.json {
            for p in &pages {
                out.push_str(p);
                out.push('\n');
            }
        } else {
            let values = pages
                .iter()
                .map(|p| json::parse(p).map_err(|e| format!("{ep}: not the answer expected: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            out.push_str(&table::render(&values));
        }
    }
    crate::stdout::print(&out);
    Ok(())
}

/// The control endpoints of the config file's devices, as a client reaches them.
fn configured(path: &str) -> Result<Vec<Endpoint>, String> {
    let cfg =
        crate::config::load_addresses(std::path::Path::new(path)).map_err(|e| e.to_string())?;
    let eps: Vec<Endpoint> = cfg
        .devices
        .iter()
        .filter_map(|d| d.control.as_ref())
        .filter(|ep| ep.mode == Mode::Bind)
        .filter_map(reachable)
        .collect();
    if eps.is_empty() {
        return Err(format!(
            "{path}: no device has a control endpoint zedge binds; give one \
             (zedge peers --control tcp://127.0.0.1:5570) or add control = \"EP\" to a \
             [[device]] of the file"
        ));
    }
    Ok(eps)
}

/// Where a client reaches a bound endpoint: a wildcard address means this host.
fn reachable(ep: &Endpoint) -> Option<Endpoint> {
    let text = match &ep.addr {
        Addr::Tcp {
            host: Host::Any,
            port,
        } => format!("tcp://127.0.0.1:{port}"),
        Addr::Tcp {
            host: Host::Ip(ip),
            port,
        } if ip.is_unspecified() => match ip {
            std::net::IpAddr::V4(_) => format!("tcp://127.0.0.1:{port}"),
            std::net::IpAddr::V6(_) => format!("tcp://[::1]:{port}"),
        },
        _ => ep.to_string(),
    };
    Endpoint::parse(&text).ok()
}

/// Every page of the device's `PEERS` answer, as JSON text.
fn fetch(ep: &Endpoint) -> Result<Vec<String>, String> {
    let mut pages = Vec::new();
    let mut from = 0u64;
    for _ in 0..MAX_PAGES {
        let command = if from == 0 {
            "PEERS".to_owned()
        } else {
            format!("PEERS {from}")
        };
        let answer = ask(ep, command.as_bytes()).map_err(|e| format!("{ep}: {e}"))?;
        let text = String::from_utf8_lossy(&answer).into_owned();
        if text.starts_with("ERROR") {
            return Err(format!("{ep}: {text}"));
        }
        let v = json::parse(&text).map_err(|e| format!("{ep}: not the answer expected: {e}"))?;
        let listed = v.get("listed").map_or(0, Value::u64);
        let more = v.get("truncated") == Some(&Value::Bool(true));
        pages.push(text);
        if !more || listed == 0 {
            break;
        }
        from += listed;
    }
    Ok(pages)
}

/// One request, the last frame of its answer.
pub fn ask(ep: &Endpoint, command: &[u8]) -> Result<Vec<u8>, String> {
    let exchange = async {
        let stream = crate::net::connect(ep)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let cfg = SessionConfig {
            limits: small_messages(MAX_ANSWER),
            handshake_timeout: CoreDuration::from_secs(TIMEOUT.as_secs()),
            ..SessionConfig::new(SocketType::Req)
        };
        let fail = |e: std::io::Error| e.to_string();
        let mut ch = Channel::open(stream, cfg, Clock::start())
            .await
            .map_err(fail)?;
        if !ch.handshake().await.map_err(fail)? {
            return Err("the connection closed in the handshake".to_owned());
        }
        ch.send(&[b"", command]).await.map_err(fail)?;
        let msg = ch
            .recv()
            .await
            .map_err(fail)?
            .ok_or("the connection closed without an answer")?;
        msg.into_iter()
            .next_back()
            .ok_or_else(|| "an empty answer".to_owned())
    };
    let timeout = async {
        Timer::after(TIMEOUT).await;
        Err(format!("no answer within {TIMEOUT:?}"))
    };
    async_io::block_on(future::or(exchange, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `zedge peers` needs only the control endpoints: the key and password files are not
    /// read.
    #[test]
    fn the_control_endpoints_are_read_without_the_key_files() {
        let file = crate::config::keys_out_of_reach("peers-keys");
        let eps = configured(file.to_str().unwrap()).unwrap();
        let eps: Vec<String> = eps.iter().map(ToString::to_string).collect();
        assert_eq!(eps, ["tcp://127.0.0.1:5570", "tcp://127.0.0.1:5571"]);
        let _ = std::fs::remove_dir_all(file.parent().unwrap());
    }

    #[test]
    fn wildcard_addresses_are_reached_on_this_host() {
        let at = |s: &str| reachable(&Endpoint::parse(s).unwrap()).unwrap().to_string();
        assert_eq!(at("tcp://*:5570"), "tcp://127.0.0.1:5570");
        assert_eq!(at("tcp://0.0.0.0:5570"), "tcp://127.0.0.1:5570");
        assert_eq!(at("tcp://[::]:5570"), "tcp://[::1]:5570");
        assert_eq!(at("tcp://10.0.0.1:5570"), "tcp://10.0.0.1:5570");
        assert_eq!(at("ipc:///run/zedge/ctl"), "ipc:///run/zedge/ctl");
    }

    #[test]
    fn a_file_without_control_endpoints_says_what_to_do() {
        let dir = std::env::temp_dir().join(format!("zedge-peers-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("z.toml");
        std::fs::write(
            &path,
            "[[device]]\nname = \"a\"\nkind = \"streamer\"\nfrontend = \"tcp://*:1\"\n\
             backend = \"tcp://*:2\"\n",
        )
        .unwrap();
        let e = configured(path.to_str().unwrap()).unwrap_err();
        assert!(e.contains("no device has a control endpoint"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
