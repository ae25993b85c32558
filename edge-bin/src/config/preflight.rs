//! What `zedge check-config` checks beyond the file, without binding anything: what `run`
//! would meet on this host. A bind that cannot work here (a privileged port for the unit's
//! user, an address or interface this host does not have, an IPC directory that does not
//! exist) is a problem: check-config fails as run would. What run can wait for or what the
//! systemd unit provides (a name that does not resolve yet, /run/zedge, which the unit makes)
//! is a need, said and not failed.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;

use super::Config;
use crate::endpoint::{Addr, Endpoint, Host, Mode};
use crate::setup::{DeviceSetup, Process};

/// What the package's unit makes when it starts (`RuntimeDirectory=zedge`).
const RUNTIME_DIR: &str = "/run/zedge";

/// Where the kernel says which ports need privilege.
const UNPRIVILEGED_START: &str = "/proc/sys/net/ipv4/ip_unprivileged_port_start";

/// What check-config found: problems (run would fail) and needs (run would wait, or the unit
/// provides them), each a line naming the device, side and endpoint.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Preflight {
    pub problems: Vec<String>,
    pub needs: Vec<String>,
}

/// This host, as the checks see it.
pub struct ThisHost {
    /// The first port a user without CAP_NET_BIND_SERVICE may bind.
    pub unprivileged_from: u16,
    /// The addresses of this host's interfaces.
    pub addrs: Vec<IpAddr>,
    /// The address a bind to a name takes, or why none (`net::bind_name`, as `run` binds).
    pub bind_name: fn(&str) -> Result<IpAddr, String>,
}

impl ThisHost {
    /// The machine this runs on.
    pub fn here() -> ThisHost {
        let unprivileged_from = std::fs::read_to_string(UNPRIVILEGED_START)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1024);
        let addrs = if_addrs::get_if_addrs()
            .map(|a| a.iter().map(if_addrs::Interface::ip).collect())
            .unwrap_or_default();
        ThisHost {
            unprivileged_from,
            addrs,
            bind_name: crate::net::bind_name,
        }
    }
}

/// Check every endpoint of `cfg` (and its metrics address) against `host`.
pub fn preflight(cfg: &Config, host: &ThisHost) -> Preflight {
    let mut p = Preflight::default();
    for d in &cfg.devices {
        for (side, ep) in d.endpoints() {
            check(&mut p, host, &format!("{} {side} {ep}", d.name), ep);
        }
    }
    if let Some(m) = cfg.process.metrics {
        let what = format!("metrics {m}");
        bind_tcp(&mut p, host, &what, Some(m.ip()), m.port());
    }
    p.problems
        .extend(same_address(&cfg.devices, &cfg.process, host.bind_name));
    p
}

/// Two TCP binds that would take the same address and port once their names are resolved
/// (`tcp://localhost:P` and `tcp://127.0.0.1:P`, an interface and its address, a wildcard and
/// any address it covers, the metrics address and an endpoint), each as `X and Y both bind
/// ADDR`: the second would fail to bind at start as if another process held it. The written
/// endpoints were compared already (`Endpoint::clashes`); a name that does not resolve is
/// left to its own message.
pub fn same_address(
    devices: &[DeviceSetup],
    process: &Process,
    bind_name: fn(&str) -> Result<IpAddr, String>,
) -> Vec<String> {
    let mut binds: Vec<(String, SocketAddr)> = Vec::new();
    for d in devices {
        for (side, ep) in d.endpoints().filter(|(_, e)| e.mode == Mode::Bind) {
            let Addr::Tcp { host, port } = &ep.addr else {
                continue;
            };
            let ip = match host {
                Host::Any => IpAddr::from([0, 0, 0, 0]),
                Host::Ip(ip) => *ip,
                Host::Name(name) => match bind_name(name) {
                    Ok(ip) => ip,
                    Err(_) => continue,
                },
            };
            let what = if d.name.is_empty() {
                format!("--{side} {ep}")
            } else {
                format!("{} {side} {ep}", d.name)
            };
            binds.push((what, SocketAddr::new(ip, *port)));
        }
    }
    if let Some(m) = process.metrics {
        let cli = devices.iter().all(|d| d.name.is_empty());
        let what = if cli {
            format!("--metrics {m}")
        } else {
            format!("[metrics] listen {m}")
        };
        binds.push((what, m));
    }
    let mut found = Vec::new();
    for (i, (what, at)) in binds.iter().enumerate() {
        if let Some((first, first_at)) = binds[..i].iter().find(|(_, b)| overlap(*b, *at)) {
            let shown = if first_at.ip().is_unspecified() {
                at
            } else {
                first_at
            };
            found.push(format!(
                "{first} and {what} both bind {shown}; bind each address in one place only"
            ));
        }
    }
    found
}

/// Whether binding `b` fails while `a` is bound (Linux, without SO_REUSEPORT): the same port
/// on the same address, or on an address a wildcard covers (0.0.0.0 every IPv4 address, [::]
/// every address, as `Endpoint::clashes` has it).
fn overlap(a: SocketAddr, b: SocketAddr) -> bool {
    let covers =
        |wild: IpAddr, other: IpAddr| wild.is_unspecified() && (wild.is_ipv6() || other.is_ipv4());
    a.port() == b.port() && (a.ip() == b.ip() || covers(a.ip(), b.ip()) || covers(b.ip(), a.ip()))
}

fn check(p: &mut Preflight, host: &ThisHost, what: &str, ep: &Endpoint) {
    match (&ep.mode, &ep.addr) {
        (Mode::Bind, Addr::Tcp { host: h, port }) => {
            let ip = match h {
                Host::Any => None,
                Host::Ip(ip) => Some(*ip),
                Host::Name(name) => match (host.bind_name)(name) {
                    Ok(ip) => Some(ip),
                    Err(why) => {
                        p.problems.push(format!("{what}: {why}"));
                        return;
                    }
                },
            };
            bind_tcp(p, host, what, ip, *port);
        }
        // Linux's abstract namespace (`ipc://@name`): no file, nothing to check.
        (_, Addr::Ipc(path)) if path.as_os_str().as_encoded_bytes().starts_with(b"@") => {}
        (Mode::Bind, Addr::Ipc(path)) => {
            // A relative path (`ipc://x.ipc`) is made in the directory run starts in.
            let dir = match path.parent() {
                Some(dir) if dir.as_os_str().is_empty() => Path::new("."),
                Some(dir) => dir,
                None => Path::new("/"),
            };
            if dir.is_dir() {
                return;
            }
            if dir.exists() {
                p.problems
                    .push(format!("{what}: {} is not a directory", dir.display()));
            } else if dir == Path::new(RUNTIME_DIR) {
                p.needs.push(format!(
                    "{what}: {RUNTIME_DIR} does not exist yet; the systemd unit makes it as it \
                     starts zedge (RuntimeDirectory=zedge); to run zedge without the unit, \
                     make it first (sudo install -d -o zedge -g zedge {RUNTIME_DIR})"
                ));
            } else {
                p.problems.push(format!(
                    "{what}: the directory {} does not exist; make it, writable by the user \
                     zedge runs as (under the systemd unit, only {RUNTIME_DIR} is)",
                    dir.display()
                ));
            }
        }
        (
            Mode::Connect,
            Addr::Tcp {
                host: Host::Name(name),
                ..
            },
        ) => {
            if resolve(name).is_none() {
                p.needs.push(format!(
                    "{what}: {name} does not resolve now; run connects once it does (it keeps \
                     trying, with backoff)"
                ));
            }
        }
        (Mode::Connect, Addr::Ipc(path)) => {
            if !path.exists() {
                p.needs.push(format!(
                    "{what}: nothing listens at {} yet; run connects once something does",
                    path.display()
                ));
            }
        }
        (Mode::Connect, Addr::Tcp { .. }) => {}
    }
}

/// A TCP bind to `ip` (`None`: every address) and `port`.
fn bind_tcp(p: &mut Preflight, host: &ThisHost, what: &str, ip: Option<IpAddr>, port: u16) {
    if port != 0 && port < host.unprivileged_from {
        p.problems.push(format!(
            "{what}: port {port} is privileged (below net.ipv4.ip_unprivileged_port_start, {}) \
             and the systemd unit gives zedge no CAP_NET_BIND_SERVICE; use a port from {} on",
            host.unprivileged_from, host.unprivileged_from
        ));
    }
    // No addresses: the interfaces could not be listed, so nothing is known of them.
    if let Some(ip) = ip.filter(|ip| !ip.is_unspecified() && !host.addrs.is_empty()) {
        if !host.addrs.contains(&ip) {
            p.problems.push(format!(
                "{what}: {ip} is no address of this host's interfaces"
            ));
        }
    }
}

/// The first address `name` resolves to now, if any.
fn resolve(name: &str) -> Option<IpAddr> {
    (name, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn lo(name: &str) -> Result<IpAddr, String> {
        match name {
            "lo0" | "localhost" => Ok(IpAddr::from([127, 0, 0, 1])),
            _ => Err(format!("{name} is no network interface here")),
        }
    }

    fn host() -> ThisHost {
        ThisHost {
            unprivileged_from: 1024,
            addrs: vec![
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from([192, 168, 1, 10]),
            ],
            bind_name: lo,
        }
    }

    fn run(device: &str, extra: &str) -> Preflight {
        let text = format!("{extra}[[device]]\nname = \"d\"\nkind = \"streamer\"\n{device}");
        let cfg = parse(&text, "z.toml").unwrap_or_else(|e| panic!("{e}"));
        preflight(&cfg, &host())
    }

    #[test]
    fn binds_this_host_can_make_pass() {
        let p = run(
            "frontend = [\"tcp://*:5559\", \"tcp://lo0:5561\", \"tcp://192.168.1.10:5562\"]\n\
             backend = \">tcp://127.0.0.1:1\"\n",
            "[metrics]\nlisten = \"127.0.0.1:9559\"\n",
        );
        assert_eq!(p, Preflight::default());
    }

    #[test]
    fn privileged_ports_foreign_addresses_and_missing_interfaces_are_problems() {
        let p = run(
            "frontend = [\"tcp://*:80\", \"tcp://10.9.9.9:5559\", \"tcp://nosuchif0.invalid:5560\"]\n\
             backend = \"tcp://127.0.0.1:5561\"\n",
            "[metrics]\nlisten = \"0.0.0.0:443\"\n",
        );
        assert_eq!(
            p.problems,
            [
                "d frontend tcp://*:80: port 80 is privileged (below \
                 net.ipv4.ip_unprivileged_port_start, 1024) and the systemd unit gives zedge no \
                 CAP_NET_BIND_SERVICE; use a port from 1024 on",
                "d frontend tcp://10.9.9.9:5559: 10.9.9.9 is no address of this host's \
                 interfaces",
                "d frontend tcp://nosuchif0.invalid:5560: nosuchif0.invalid is no network \
                 interface here",
                "metrics 0.0.0.0:443: port 443 is privileged (below \
                 net.ipv4.ip_unprivileged_port_start, 1024) and the systemd unit gives zedge no \
                 CAP_NET_BIND_SERVICE; use a port from 1024 on",
            ]
        );
        assert!(p.needs.is_empty());
    }

    #[test]
    fn binds_of_one_address_under_two_spellings_are_problems_naming_both() {
        let clashes = [
            (
                "frontend = \"tcp://127.0.0.1:5559\"\nbackend = \"tcp://localhost:5559\"\n",
                "",
                "d frontend tcp://127.0.0.1:5559 and d backend tcp://localhost:5559",
            ),
            (
                "frontend = \"tcp://lo0:5559\"\nbackend = \"tcp://192.168.1.10:5560\"\n",
                "[metrics]\nlisten = \"0.0.0.0:5559\"\n",
                "d frontend tcp://lo0:5559 and [metrics] listen 0.0.0.0:5559",
            ),
            (
                "frontend = \"tcp://*:5559\"\nbackend = \"tcp://127.0.0.1:5560\"\n",
                "[metrics]\nlisten = \"127.0.0.1:5559\"\n",
                "d frontend tcp://*:5559 and [metrics] listen 127.0.0.1:5559",
            ),
        ];
        for (device, extra, both) in clashes {
            let p = run(device, extra);
            assert_eq!(
                p.problems,
                [format!(
                    "{both} both bind 127.0.0.1:5559; bind each address in one place only"
                )]
            );
        }
        // Other ports, other addresses, and a connect to the same address are no clash.
        let p = run(
            "frontend = [\"tcp://127.0.0.1:5559\", \">tcp://localhost:5560\"]\n\
             backend = [\"tcp://localhost:5560\", \"tcp://192.168.1.10:5559\"]\n",
            "[metrics]\nlisten = \"127.0.0.1:5561\"\n",
        );
        assert_eq!(p, Preflight::default());
    }

    #[test]
    fn ipc_directories_must_exist_but_the_units_is_a_need() {
        let dir = std::env::temp_dir().join(format!("zedge-preflight-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let gone = dir.join("gone");
        let p = run(
            &format!(
                "frontend = \"ipc://{}/x.ipc\"\nbackend = \"ipc://{}/y.ipc\"\n",
                gone.display(),
                RUNTIME_DIR
            ),
            "",
        );
        assert_eq!(
            p.problems,
            [format!(
                "d frontend ipc://{}/x.ipc: the directory {} does not exist; make it, writable \
                 by the user zedge runs as (under the systemd unit, only /run/zedge is)",
                gone.display(),
                gone.display()
            )]
        );
        if !Path::new(RUNTIME_DIR).exists() {
            assert_eq!(p.needs.len(), 1, "{:?}", p.needs);
            assert!(p.needs[0].starts_with("d backend ipc:///run/zedge/y.ipc: /run/zedge does not exist yet; the systemd unit makes it"));
        }
        std::fs::create_dir_all(&gone).expect("mkdir");
        let p = run(
            &format!(
                "frontend = \"ipc://{}/x.ipc\"\nbackend = \"tcp://*:5560\"\n",
                gone.display()
            ),
            "",
        );
        assert_eq!(p, Preflight::default());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn relative_ipc_paths_are_checked_in_this_directory_and_abstract_ones_not_at_all() {
        let p = run(
            "frontend = [\"ipc://here.ipc\", \"ipc://@zedge-abstract\"]\n\
             backend = [\">ipc://@zedge-elsewhere\", \"tcp://127.0.0.1:5560\"]\n",
            "",
        );
        assert_eq!(p, Preflight::default());
        let p = run(
            "frontend = \"ipc://no-such-dir-here/x.ipc\"\nbackend = \"tcp://127.0.0.1:5560\"\n",
            "",
        );
        assert_eq!(
            p.problems,
            [
                "d frontend ipc://no-such-dir-here/x.ipc: the directory no-such-dir-here does not \
              exist; make it, writable by the user zedge runs as (under the systemd unit, only \
              /run/zedge is)"
            ]
        );
    }

    #[test]
    fn what_run_waits_for_is_a_need_not_a_problem() {
        let p = run(
            "frontend = \">tcp://nosuchhost.invalid:5559\"\nbackend = \">ipc:///nonexistent/x.ipc\"\n",
            "",
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(
            p.needs,
            [
                "d frontend tcp://nosuchhost.invalid:5559: nosuchhost.invalid does not resolve \
                 now; run connects once it does (it keeps trying, with backoff)",
                "d backend ipc:///nonexistent/x.ipc: nothing listens at /nonexistent/x.ipc \
                 yet; run connects once something does",
            ]
        );
    }
}
