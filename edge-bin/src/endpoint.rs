//! ZeroMQ endpoints as written: `tcp://` and `ipc://` strings, parsed and checked.
//!
//! A leading `>` connects, a leading `@` (or none) binds, as in CZMQ. `tcp://*:PORT` binds
//! every IPv4 interface, as libzmq does without `ZMQ_IPV6`; `tcp://[::]:PORT` binds IPv6.
//! Only text here: the CLI and config parse endpoints long before any socket exists.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// `sun_path` is 108 bytes on Linux, including the terminating NUL.
const MAX_IPC_PATH: usize = 107;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Bind,
    Connect,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// `*`: every IPv4 interface (bind only).
    Any,
    Ip(IpAddr),
    /// A name to resolve.
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    Tcp { host: Host, port: u16 },
    Ipc(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub mode: Mode,
    pub addr: Addr,
    /// The endpoint as the user wrote it, without the `@`/`>` prefix, for messages.
    text: String,
}

impl Endpoint {
    /// As written in a config: a leading `>` when it connects.
    pub fn with_mode(&self) -> String {
        match self.mode {
            Mode::Bind => self.text.clone(),
            Mode::Connect => format!(">{}", self.text),
        }
    }
}

impl Endpoint {
    /// Whether binding `other` would fail because this one is bound (Linux, without
    /// SO_REUSEPORT); never for an endpoint that connects.
    pub fn clashes(&self, other: &Endpoint) -> bool {
        if self.mode != Mode::Bind || other.mode != Mode::Bind {
            return false;
        }
        match (&self.addr, &other.addr) {
            (Addr::Ipc(x), Addr::Ipc(y)) => x == y,
            (Addr::Tcp { host: h1, port: p1 }, Addr::Tcp { host: h2, port: p2 }) => {
                p1 == p2 && (h1 == h2 || covers(h1, h2) || covers(h2, h1))
            }
            _ => false,
        }
    }
}

/// `*` and `0.0.0.0` hold a port on every IPv4 address; `[::]` (dual-stack) on every address.
fn covers(wild: &Host, other: &Host) -> bool {
    match wild {
        Host::Any => matches!(other, Host::Any | Host::Ip(IpAddr::V4(_))),
        Host::Ip(ip) if ip.is_unspecified() && ip.is_ipv4() => {
            matches!(other, Host::Any | Host::Ip(IpAddr::V4(_)))
        }
        Host::Ip(ip) if ip.is_unspecified() => true,
        _ => false,
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why an endpoint string is not one we accept; the message names the fix.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Endpoint {
    pub fn parse(s: &str) -> Result<Endpoint, ParseError> {
        let bad = |why: &str| ParseError(format!("bad endpoint '{s}': {why}"));
        let (mode, text) = match s.as_bytes().first() {
            Some(b'>') => (Mode::Connect, &s[1..]),
            Some(b'@') => (Mode::Bind, &s[1..]),
            _ => (Mode::Bind, s),
        };
        let addr = if let Some(rest) = text.strip_prefix("tcp://") {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| bad("expected tcp://HOST:PORT"))?;
            let port = match port.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(bad("the port must be a number from 1 to 65535")),
            };
            let host = parse_host(host).map_err(bad)?;
            if host == Host::Any && mode == Mode::Connect {
                return Err(bad("cannot connect to '*'; name a host"));
            }
            Addr::Tcp { host, port }
        } else if let Some(path) = text.strip_prefix("ipc://") {
            if path.is_empty() {
                return Err(bad("expected ipc:///path/to/socket"));
            }
            if path.len() > MAX_IPC_PATH {
                return Err(bad("the socket path is longer than 107 bytes"));
            }
            Addr::Ipc(PathBuf::from(path))
        } else {
            return Err(bad("supported transports are tcp:// and ipc://"));
        };
        Ok(Endpoint {
            mode,
            addr,
            text: text.to_owned(),
        })
    }
}

fn parse_host(host: &str) -> Result<Host, &'static str> {
    if host == "*" {
        return Ok(Host::Any);
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse()
            .map(Host::Ip)
            .map_err(|_| "bad IPv6 address in brackets");
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if valid {
        Ok(Host::Name(host.to_owned()))
    } else {
        Err("expected '*', an IP address, [IPv6] or a host name before the port")
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn tcp(s: &str) -> (Mode, Host, u16) {
        match Endpoint::parse(s) {
            Ok(Endpoint {
                mode,
                addr: Addr::Tcp { host, port },
                ..
            }) => (mode, host, port),
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn tcp_forms() {
        assert_eq!(tcp("tcp://*:5559"), (Mode::Bind, Host::Any, 5559));
        assert_eq!(
            tcp("@tcp://0.0.0.0:5559"),
            (Mode::Bind, Host::Ip(Ipv4Addr::UNSPECIFIED.into()), 5559)
        );
        assert_eq!(
            tcp(">tcp://127.0.0.1:5560"),
            (Mode::Connect, Host::Ip(Ipv4Addr::LOCALHOST.into()), 5560)
        );
        assert_eq!(
            tcp("tcp://[::1]:5559"),
            (Mode::Bind, Host::Ip(Ipv6Addr::LOCALHOST.into()), 5559)
        );
        assert_eq!(
            tcp(">tcp://broker.example-1.net:7000"),
            (
                Mode::Connect,
                Host::Name("broker.example-1.net".into()),
                7000
            )
        );
    }

    #[test]
    fn ipc_form_and_display() {
        let ep = Endpoint::parse(">ipc:///run/zedge/x.ipc").unwrap();
        assert_eq!(ep.mode, Mode::Connect);
        assert_eq!(ep.addr, Addr::Ipc(PathBuf::from("/run/zedge/x.ipc")));
        assert_eq!(ep.to_string(), "ipc:///run/zedge/x.ipc");
        assert_eq!(
            Endpoint::parse("tcp://*:1").unwrap().to_string(),
            "tcp://*:1"
        );
    }

    #[test]
    fn rejects_with_a_reason() {
        for bad in [
            "tcp://*",
            "tcp://*:0",
            "tcp://*:65536",
            "tcp://*:port",
            "tcp://:5559",
            "tcp://[::1:5559",
            "tcp://[zz]:5559",
            "tcp://ho st:1",
            ">tcp://*:5559",
            "ipc://",
            "udp://1.2.3.4:5",
            "5559",
            "",
        ] {
            let e = Endpoint::parse(bad).expect_err(bad);
            assert!(e.to_string().starts_with("bad endpoint"), "{e}");
        }
        let long = format!("ipc:///{}", "x".repeat(200));
        assert!(Endpoint::parse(&long).is_err());
    }
}
