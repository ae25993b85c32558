//! `zedge --help`. The defaults it shows are [`Tuning::default`]'s and [`Process::default`]'s:
//! a test below holds them to it, each option's `[default: X]` given back to the parser must
//! change nothing.
//!
//! [`Tuning::default`]: crate::setup::Tuning
//! [`Process::default`]: crate::setup::Process

pub const HELP: &str = "\
zedge: a ZeroMQ broker for edge gateways

Usage: zedge forwarder|queue|streamer [--frontend EP]... [--backend EP]... [options]
       zedge run --config FILE [-v]...
       zedge check-config FILE
       zedge stat [--watch] [--json] [ADDR]
       zedge peers [--json] [--control EP]
       zedge keygen NAME
       zedge sub|pub|push|pull|req|rep EP [ARGS]... [options]
       zedge help [COMMAND]       (or zedge COMMAND --help): a command's own page

Several devices in one process, from a TOML file (see /etc/zedge/zedge.toml):
  run --config FILE          run every [[device]] of FILE, each on a thread of its own;
                             SIGHUP reads FILE again and applies what changed
  check-config FILE          check FILE and print what it would run; exit status 1 if wrong

A running zedge, from its metrics (ADDR, or [metrics] listen of /etc/zedge/zedge.toml):
  stat [--watch] [--json] [ADDR]
                             per device: peers, messages and bytes per second in and out
                             per side, queued bytes, drops by cause; --watch refreshes
                             every second

A running device's peers, from its control endpoint (EP, or the control endpoints of
/etc/zedge/zedge.toml's devices):
  peers [--json] [--control EP]
                             per peer: side, address, socket type, ZMTP version, time
                             connected, messages and bytes in and out, queued bytes,
                             drops, identity; --json prints the PEERS answers

Test clients, to try a device from the shell (zedge help sub, and so on):
  sub EP [TOPIC]...          print what a SUB gets (a forwarder's backend)
  pub EP [TOPIC] [MESSAGE|-] publish (a forwarder's frontend)
  push EP [FRAME]...         send work (a streamer's frontend); pull EP takes it (backend)
  req EP [FRAME]...          send a request, print the reply (a queue's frontend);
                             rep EP answers each by echoing it (a queue's backend)

CURVE keys (CZMQ's certificate format, as zcert_save writes and pyzmq's zmq.auth reads):
  keygen NAME                a new key pair: NAME (public) and NAME_secret (mode 0600);
                             prints the public key in Z85

Devices:
  forwarder   XSUB frontend (publishers) -> XPUB backend (subscribers)
  queue       ROUTER frontend (clients) <-> DEALER backend (workers)
  streamer    PULL frontend (producers) -> PUSH backend (workers)

Endpoints (repeat an option for several; @ or no prefix binds, > connects):
  --frontend EP              on this host only (beyond it: tcp://*:5559, with
                             --curve-secret) default tcp://127.0.0.1:5559
  --backend EP               default tcp://127.0.0.1:5560
      tcp://*:PORT  tcp://0.0.0.0:PORT  tcp://[::1]:PORT  tcp://HOST:PORT
      ipc:///run/zedge/x.ipc  >tcp://upstream:5559
  --control EP               a control endpoint for REQ clients, as libzmq's
                             zmq_proxy_steerable: PAUSE, RESUME, TERMINATE, STATISTICS
                             (8 counters), STATS (every counter, JSON) and PEERS (every
                             peer, JSON); none by default
  --capture EP               a tap: SUB sockets connected here get a copy of every message
                             the device forwards, either way; a slow reader loses copies
                             (counted), never slows the device; at most 4 readers
  --metrics ADDR             Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9559
                             (no authentication: keep it on loopback); none by default

Security (CURVE, as libzmq's; docs/security.md):
  --curve-secret FILE        the device's key pair (a secret certificate: zedge keygen NAME
                             writes NAME_secret); bind endpoints of --curve-sides then take
                             CURVE clients only, loopback and IPC ones too
  --curve-allow PATH         only these clients: a directory of public certificates or a
                             file of Z85 public keys, one a line; read again on reload
  --curve-server-key KEY     > endpoints are CURVE clients of this server (its Z85 public key
                             or certificate file)
  --curve-sides SIDES        both, frontend or backend: the sides that use CURVE; the other
                             stays in the clear (say, for local consumers) [default: both]
  --plain-passwords FILE     PLAIN instead (RFC 24, passwords in the clear): bind endpoints
                             take clients whose user:password line is in FILE; loopback and
                             IPC endpoints only, unless --plain-anywhere
  --plain-anywhere           PLAIN on endpoints beyond this host too (passwords then cross
                             the network in the clear)

Options (BYTES: 65536, 64K, 64M, 1G; TIME: milliseconds, or 500ms, 5s, 2m):
  --max-msg-size BYTES       largest message accepted (16M with CURVE) [default: 64M]
  --queue-hwm BYTES          per-peer outbound high-water mark [default: 1M]
  --max-peers N              peers at once on each side; each side has its own, so one
                             cannot lock the other out [default: 1024]
  --max-peers-per-address N  peers at once on each side from one IP address (IPC peers
                             are not capped by address) [default: 256]
  --max-handshaking N        connections on each side still in their handshake; one more
                             closes one quiet for a second (else one of a host's several),
                             or is refused [default: 64]
  --handshake-rate-per-address N
                             new connections a second a side with CURVE or PLAIN takes
                             from one IP address, after a first burst of
                             --max-peers-per-address; 0: no limit [default: 64]
  --max-subscriptions N      forwarder only: subscription table size [default: 4096]
  --max-subscriptions-per-peer N
                             forwarder only: subscriptions one peer may hold, at most
                             --max-subscriptions, and at most 4x what the table has left
                             (an XSUB peer, a downstream broker: 4 such shares)
                             [default: 1024]
  --upstream-rate BYTES      forwarder only: subscriptions and cancellations sent to each
                             publisher a second; above it, each topic's latest state goes
                             once (a libzmq PUB takes them in on its own thread, inside
                             send()); 0 = no limit [default: 256K]
  --upstream-burst BYTES     forwarder only: what a publisher may be sent at once before
                             --upstream-rate holds it back [default: 256K]
  --last-value               forwarder only: keep the latest message of each topic (its
                             first frame) and give a subscriber that subscribes, at once and
                             to it alone, those its subscription matches, before live ones;
                             subscribes to everything upstream
  --last-value-max-topics N  forwarder only, with --last-value: topics kept at most, the
                             oldest pushed out [default: 10000]
  --last-value-max-bytes BYTES
                             forwarder only, with --last-value: bytes of messages kept at
                             most, drawn from --memory-max [default: 16M]
  --last-value-ttl TIME      forwarder only, with --last-value: drop a kept message after
                             this long, 0 = never [default: 0]
  --last-value-prefix N      forwarder only, with --last-value: keep a message of one frame
                             under its first N bytes (at most 256), 0 = keep none
                             [default: 0]
  --spool DIR                streamer and forwarder only: while no worker can take work
                             (the uplink is down, or every worker is at --queue-hwm), a
                             streamer's producers' messages go to segment files in DIR
                             instead of waiting; while no uplink (a backend endpoint written
                             >...) is connected, or one is at --queue-hwm, a forwarder's
                             publications go there instead of being lost to it; either way
                             they are sent from there, in order, before new ones
                             (docs/spool.md)
  --spool-max BYTES          streamer and forwarder only, with --spool: segment bytes at
                             most; past it the oldest segment goes, its messages counted as
                             dropped; at least 2M [default: 256M]
  --spool-fsync TIME         streamer and forwarder only, with --spool: how often what was
                             spooled is made durable (fdatasync); what came since the last
                             one can be lost in a crash or a power cut [default: 1s]
  --spool-rate BYTES         streamer and forwarder only, with --spool: bytes a second
                             spooled messages are sent at, at most, so a link that comes
                             back is not flooded; 0 = as fast as they are taken [default: 0]
  --max-splices N            queue and streamer only: large bodies passed socket to socket
                             through a pipe at once, two descriptors each; 0 = copy every
                             body; at most 1024 [default: 32]
  --store-forward-max BYTES  messages up to this size are received whole before they are
                             forwarded, larger ones cut through; at least 64K [default: 1M]
  --progress-timeout TIME    a message being cut through that makes no progress this long
                             aborts its sender, or closes the worker holding it that reads
                             too little of it; once others wait for its destinations, all of
                             it is owed within 4 times this; 0 = never [default: 5s]
  --heartbeat-ivl TIME       PING interval to ZMTP 3.1 peers (libzmq 4.2 and later answer
                             by themselves; 3.0 peers are never pinged), 0 = off
                             [default: 10s]
  --heartbeat-timeout TIME   drop a peer silent this long after a PING; needs
                             --heartbeat-ivl [default: 3 * ivl]
  --handshake-timeout TIME   drop a peer that has not finished its handshake [default: 10000]
  --client-stall TIME        queue only: a client behind on its replies this long (its
                             queue not emptied) loses those that wait (over --queue-hwm),
                             and is closed if memory is spent, so it cannot hold their
                             worker; 0 = at once [default: 250ms]
  --worker-inflight N        queue only: a worker holding this many requests it has not
                             answered gets no more until it answers one, so a request
                             waits behind at most that many of other clients' at a busy
                             worker; 0 = no limit [default: 1000]
  --splice-stall TIME        queue and streamer only: a body going socket to socket that
                             its destination takes nothing of this long is queued instead,
                             so the sender goes on [default: 20ms]
  --kernel-send-max BYTES    what the kernel may hold of each connection's output, unsent
                             or unacknowledged (SO_SNDBUF), so a peer that stops reading
                             holds this much of the kernel's memory, not the 4 MiB its
                             autotuning gives a TCP connection; outside --memory-max; one
                             connection sends at most this much per round trip, and a
                             large message cut through waits on it; at least 4K, 0 = the
                             kernel's own limit [default: 256K]
  --memory-max BYTES         what every buffer of the process may use together; settings
                             whose tables and buffers cannot fit are refused, with what
                             they cost; when the rest is spent at run time, subscribers
                             whose queues cannot grow lose messages and senders to a queue
                             or streamer wait [default: 256M]
  --classic                  forwarder only: SUB/PUB instead of XSUB/XPUB
  --no-legacy                refuse peers older than ZMTP 3.0 (libzmq 2.x and 3.x, JeroMQ
                             0.3, NetMQ 3), saying so in the log, instead of speaking ZMTP
                             1.0 or 2.0 to them; CURVE and PLAIN endpoints always refuse them
  -v, -vv, -vvv, --verbose  log info, debug, trace (or ZEDGE_LOG=error|warn|info|debug|trace)
  -h, --help                 print this help
  -V, --version              print the version

Stops on SIGINT/SIGTERM after flushing pending output for up to a second, and logs per
device the messages it could not deliver.
";

use crate::client::Tool;

/// A page of help: `zedge help [CMD]`, `zedge CMD --help`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// The whole page: every command, and a device's options.
    Main,
    Run,
    CheckConfig,
    Stat,
    Peers,
    Keygen,
    /// A test client's.
    Client(Tool),
}

impl Page {
    /// Every page, with the command it is for (the main page: `help`).
    pub const ALL: [(&'static str, Page); 12] = [
        ("help", Page::Main),
        ("run", Page::Run),
        ("check-config", Page::CheckConfig),
        ("stat", Page::Stat),
        ("peers", Page::Peers),
        ("keygen", Page::Keygen),
        ("sub", Page::Client(Tool::Sub)),
        ("pub", Page::Client(Tool::Pub)),
        ("push", Page::Client(Tool::Push)),
        ("pull", Page::Client(Tool::Pull)),
        ("req", Page::Client(Tool::Req)),
        ("rep", Page::Client(Tool::Rep)),
    ];

    /// The page for `command` (a device's is the main page, which holds its options).
    pub fn of(command: &str) -> Option<Page> {
        if crate::setup::kind_from_name(command).is_some() {
            return Some(Page::Main);
        }
        Page::ALL
            .into_iter()
            .find(|(c, _)| *c == command)
            .map(|(_, p)| p)
    }

    pub fn text(self) -> &'static str {
        match self {
            Page::Main => HELP,
            Page::Run => RUN,
            Page::CheckConfig => CHECK_CONFIG,
            Page::Stat => STAT,
            Page::Peers => PEERS,
            Page::Keygen => KEYGEN,
            Page::Client(Tool::Sub) => SUB,
            Page::Client(Tool::Pub) => PUB,
            Page::Client(Tool::Push) => PUSH,
            Page::Client(Tool::Pull) => PULL,
            Page::Client(Tool::Req) => REQ,
            Page::Client(Tool::Rep) => REP,
        }
    }
}

/// What every test client takes; `$side` and `$port`: the side of the device it connects to
/// (pub, push and req the frontend, sub, pull and rep the backend), and its default port.
macro_rules! client_options {
    ($side:literal, $port:literal) => {
        concat!(
            "
EP is the device's ",
            $side,
            ", which it binds (tcp://127.0.0.1:",
            $port,
            " by default;
ipc:///run/zedge/x.ipc); the client connects to it. Each message is a line: its frames
joined by the delimiter, each frame as text (its bytes), hex or Z85 (--format).

  -n, --count N              send or receive N messages, then exit
  -r, --rate N               send at most N messages a second (pub, push, req)
  -d, --delimiter STR        between a message's frames, in and out [default: tab]
  -f, --format FORMAT        text, hex or z85 (a frame of a size no multiple of 4:
                             ~ and its hex) [default: text]
      --curve-server-key KEY the device's CURVE public key (Z85, or its certificate
                             file): connect through CURVE
      --curve-secret FILE    this client's secret certificate, for a device that allows
                             only some clients [default: a new key pair]
      --max-msg-size BYTES   largest message taken [default: 16M]
      --timeout TIME         for the connection and its handshake, and a reply
                             [default: 5s]
  -h, --help                 print this help

Exit status 1, and why, if it cannot connect or the device refuses it.
"
        )
    };
}

const SUB: &str = concat!(
    "\
Usage: zedge sub EP [TOPIC]... [options]

A SUB socket: subscribes to each TOPIC (a prefix of the first frame; none: everything), and
prints every message it receives, until --count messages or interrupted. It connects again
if the connection drops (a device restarted). Against a forwarder's backend:
  zedge sub tcp://127.0.0.1:5560 sensors/
",
    client_options!("backend", "5560")
);

const PUB: &str = concat!(
    "\
Usage: zedge pub EP [TOPIC] [MESSAGE | -] [options]

A PUB socket: sends [TOPIC, MESSAGE] (--count times; once by default); with TOPIC alone or
MESSAGE -, [TOPIC, line] for each line of standard input; with neither, each line of
standard input, split into frames at the delimiter. It sends every message to the device,
which gives each to the subscribers whose subscriptions match. Against a forwarder's frontend:
  zedge pub tcp://127.0.0.1:5559 sensors/t1 21.5
",
    client_options!("frontend", "5559")
);

const PUSH: &str = concat!(
    "\
Usage: zedge push EP [FRAME]... [options]

A PUSH socket: sends the message of FRAMEs (--count times; once by default), or each line of
standard input, split into frames at the delimiter. Against a streamer's frontend:
  seq 1000 | zedge push tcp://127.0.0.1:5559
",
    client_options!("frontend", "5559")
);

const PULL: &str = concat!(
    "\
Usage: zedge pull EP [options]

A PULL socket, a worker: prints every message it receives, until --count messages or
interrupted. Against a streamer's backend:
  zedge pull tcp://127.0.0.1:5560 --count 1000
",
    client_options!("backend", "5560")
);

const REQ: &str = concat!(
    "\
Usage: zedge req EP [FRAME]... [options]

A REQ socket, a client: sends the request of FRAMEs (--count times; once by default), or one
for each line of standard input, and prints each reply. Against a queue's frontend:
  zedge req tcp://127.0.0.1:5561 ping
",
    client_options!("frontend", "5559")
);

const REP: &str = concat!(
    "\
Usage: zedge rep EP [options]

A REP socket, a worker that echoes: prints each request it receives and sends it back as the
reply, until --count requests or interrupted. Against a queue's backend:
  zedge rep tcp://127.0.0.1:5562
",
    client_options!("backend", "5560")
);

const RUN: &str = "\
Usage: zedge run --config FILE [-v]...

Runs every [[device]] of FILE (TOML; the package's is /etc/zedge/zedge.toml), each on a
thread of its own, with the options FILE sets for each (a device's options are the keys of
its table, named as the command line's without dashes: queue_hwm for --queue-hwm). The
*.toml files of the directory conf.d beside FILE (/etc/zedge/conf.d) are read after it, in
the order of their names: they add devices, and their top-level keys, [log] and [metrics]
replace FILE's. FILE and each drop-in are regular files of at most 1 MiB.

  -c, --config FILE          the config file (required)
  -v, -vv, -vvv              log info, debug, trace, over FILE's [log] level
                             (or ZEDGE_LOG=error|warn|info|debug|trace)
  -h, --help                 print this help

SIGHUP reads FILE again and applies what changed; SIGINT and SIGTERM stop after flushing
pending output for up to a second. Exit status 2 if FILE is wrong (nothing is started),
1 if running fails. See also: zedge check-config FILE.
";

const CHECK_CONFIG: &str = "\
Usage: zedge check-config FILE

Checks FILE and its drop-ins (conf.d beside it) as zedge run --config FILE would, binds
nothing, and prints each device as it would run: its endpoints, options and memory; then
what run still needs on this host (an IPC directory the systemd unit makes, a name that does
not resolve yet). Exit status 1, and the mistake with its line, if FILE is wrong; 1 too, each
problem on a line, if run would fail on this host: a privileged port (the unit has no
CAP_NET_BIND_SERVICE), an address or interface this host does not have, an IPC directory
that does not exist, two settings that bind one address (tcp://localhost:P and
tcp://127.0.0.1:P, an endpoint and the [metrics] address; run refuses them too).

  -h, --help                 print this help
";

const STAT: &str = "\
Usage: zedge stat [--watch] [--json] [ADDR]

Per device of a running zedge, from its Prometheus metrics (ADDR, like 127.0.0.1:9559 or
http://127.0.0.1:9559/metrics, or the [metrics] listen address of /etc/zedge/zedge.toml):
peers, messages and bytes per second in and out per side, queued bytes, drops by cause.

  -w, --watch                refresh every second
      --json                 print the figures as JSON
  -h, --help                 print this help
";

const PEERS: &str = "\
Usage: zedge peers [--json] [--control EP]

Every peer of a running device, from its control endpoint (EP, or the control endpoints of
/etc/zedge/zedge.toml's devices): side, address, socket type, ZMTP version, time connected,
messages and bytes in and out, queued bytes, drops, identity.

      --control EP           the device's control endpoint, as it binds it
      --json                 print the PEERS answers as they come
  -h, --help                 print this help
";

const KEYGEN: &str = "\
Usage: zedge keygen NAME

Writes a new CURVE key pair in CZMQ's certificate format (as zcert_save writes and pyzmq's
zmq.auth reads): NAME, the public certificate, and NAME_secret (mode 0600), and prints the
public key in Z85. Give NAME_secret to --curve-secret (curve_secret); give NAME, or the key,
to the peers: --curve-server-key, or --curve-allow on a server.

  -h, --help                 print this help
";

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;
    use crate::cli::{parse, Command};
    use crate::setup::{kind_name, Opt, Process, Tuning, DEFAULT_BACKEND, DEFAULT_FRONTEND};

    /// An option's entry: its line and the continuation lines under it, joined.
    fn entry(flag: &str) -> String {
        let mut lines = HELP.lines().skip_while(|l| {
            !l.trim_start()
                .strip_prefix(flag)
                .is_some_and(|rest| rest.starts_with(' '))
        });
        let first = lines
            .next()
            .unwrap_or_else(|| panic!("{flag} is not in the help"));
        let more = lines.take_while(|l| l.starts_with(&" ".repeat(29)));
        std::iter::once(first)
            .chain(more)
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn shown_default(flag: &str) -> Option<String> {
        let e = entry(flag);
        let (_, rest) = e.split_once("[default: ")?;
        rest.split_once(']').map(|(d, _)| d.to_owned())
    }

    #[test]
    fn every_option_is_in_the_help() {
        for opt in Opt::DEVICE.into_iter().chain(Opt::PROCESS) {
            let e = entry(opt.flag());
            let kinds = opt.kinds();
            if kinds.len() == 1 {
                assert!(e.contains(&format!("{} only", kind_name(kinds[0]))), "{e}");
            }
        }
        assert!(entry("--max-splices").contains("queue and streamer only"));
        assert!(entry("--max-peers").contains("on each side"));
    }

    #[test]
    fn the_defaults_the_help_shows_are_the_real_ones() {
        for opt in Opt::DEVICE.into_iter().chain(Opt::PROCESS) {
            let shown = shown_default(opt.flag());
            let shown = match opt {
                Opt::Classic | Opt::Legacy | Opt::LastValue => {
                    assert_eq!(shown, None, "a switch is as its default unless given");
                    continue;
                }
                // None unless given.
                Opt::Spool => {
                    assert_eq!(shown, None);
                    continue;
                }
                // Not a value: what none means, which the core decides.
                Opt::HeartbeatTimeout => {
                    assert_eq!(shown.as_deref(), Some("3 * ivl"));
                    assert_eq!(Tuning::default().heartbeat_timeout_ms, None);
                    continue;
                }
                _ => shown.unwrap_or_else(|| panic!("{} shows no default", opt.flag())),
            };
            let args = [kind_name(opt.kinds()[0]), opt.flag(), &shown];
            match parse(args.iter().map(OsString::from)) {
                Ok(Command::Device(o)) => {
                    let what = format!("{} [default: {shown}]", opt.flag());
                    assert_eq!(o.setup.tuning, Tuning::default(), "{what}");
                    assert_eq!(o.process, Process::default(), "{what}");
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }
        assert!(entry("--frontend").ends_with(&format!("default {DEFAULT_FRONTEND}")));
        assert!(entry("--backend").ends_with(&format!("default {DEFAULT_BACKEND}")));
    }
}
