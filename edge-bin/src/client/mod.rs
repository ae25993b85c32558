//! The test clients: `zedge sub`, `pub`, `push`, `pull`, `req` and `rep`, an operator's way to
//! try a device from the shell (as `mosquitto_sub` and `mosquitto_pub` are Mosquitto's). Each
//! is one ZeroMQ peer of its socket type, on the core's session ([`Channel`]), connecting to
//! one endpoint (through CURVE with `--curve-server-key`), reading messages from its
//! arguments or standard input and printing what it receives, one message a line, frames
//! joined by a delimiter ([`format`]).

mod format;

use std::io::{self, BufRead};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::future;
use zedge_core::conn::{Limits, SessionConfig};
use zedge_core::curve::crypto::{KeyPair, KEY_LEN};
use zedge_core::wire::metadata::SocketType;

pub use format::Format;

use crate::budget::{Account, Charge};
use crate::control::zmtp::{Channel, Message};
use crate::endpoint::Endpoint;
use crate::host::Clock;
use crate::secure::Secure;

/// Which client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Sub,
    Pub,
    Push,
    Pull,
    Req,
    Rep,
}

impl Tool {
    pub const ALL: [(&'static str, Tool); 6] = [
        ("sub", Tool::Sub),
        ("pub", Tool::Pub),
        ("push", Tool::Push),
        ("pull", Tool::Pull),
        ("req", Tool::Req),
        ("rep", Tool::Rep),
    ];

    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t)
    }

    pub fn name(self) -> &'static str {
        Tool::ALL
            .into_iter()
            .find(|(_, t)| *t == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether it sends on its own (and so takes `--rate`): pub, push and req.
    pub fn sends(self) -> bool {
        matches!(self, Tool::Pub | Tool::Push | Tool::Req)
    }

    /// Where it connects to a device started with the defaults: senders to the frontend,
    /// receivers (and rep, a worker) to the backend.
    pub fn default_endpoint(self) -> &'static str {
        if self.sends() {
            crate::setup::DEFAULT_FRONTEND
        } else {
            crate::setup::DEFAULT_BACKEND
        }
    }

    fn socket_type(self) -> SocketType {
        match self {
            Tool::Sub => SocketType::Sub,
            Tool::Pub => SocketType::Pub,
            Tool::Push => SocketType::Push,
            Tool::Pull => SocketType::Pull,
            Tool::Req => SocketType::Req,
            Tool::Rep => SocketType::Rep,
        }
    }
}

/// A client's command line.
#[derive(Debug)]
pub struct ClientOptions {
    pub tool: Tool,
    pub endpoint: Endpoint,
    /// `sub`: topics; `pub`: `[TOPIC] [MESSAGE | -]`; `req`: the request's frames (none:
    /// standard input); `push`: the message's frames (none: standard input).
    pub args: Vec<String>,
    /// Messages to send or receive, then exit; `None`: all (standard input to its end, or
    /// for ever), one for `req` and `pub`/`push` given a message.
    pub count: Option<u64>,
    /// Messages a second, at most, for those that send.
    pub rate: Option<f64>,
    pub delimiter: String,
    pub format: Format,
    /// A CURVE server's public key: connect through CURVE.
    pub server_key: Option<[u8; KEY_LEN]>,
    /// The client's own secret certificate (for a server's allow-list); a new key pair if
    /// none.
    pub secret: Option<PathBuf>,
    pub max_msg_size: u64,
    /// Connecting, a handshake, a reply: each within this.
    pub timeout: Duration,
}

/// The most frames a client takes in one message.
const MAX_FRAMES: usize = 1024;
/// How long a closing client waits for the peer to take what it sent.
const LINGER: Duration = Duration::from_secs(2);

/// Run the client to its end: the count reached, standard input ended, or (for those that
/// receive) interrupted.
pub fn run(o: &ClientOptions) -> Result<(), String> {
    let keys = match (&o.server_key, &o.secret) {
        (None, _) => None,
        (Some(_), Some(path)) => {
            let cert = crate::cert::load(path).map_err(|e| e.to_string())?;
            let secret = cert.secret.ok_or_else(|| {
                format!(
                    "{}: a public certificate; give the secret one (NAME_secret)",
                    path.display()
                )
            })?;
            Some(KeyPair::from_secret(secret))
        }
        (Some(_), None) => Some(crate::cert::generate().map_err(|e| e.to_string())?),
    };
    let hex_told = std::cell::Cell::new(false);
    async_io::block_on(Client { o, keys, hex_told }.run())
}

struct Client<'a> {
    o: &'a ClientOptions,
    keys: Option<KeyPair>,
    /// Whether the note on frames printed in hex (`--format z85`) was given.
    hex_told: std::cell::Cell<bool>,
}

impl Client<'_> {
    async fn run(&self) -> Result<(), String> {
        let o = self.o;
        let mut ch = self.connect().await?;
        let mut done = 0u64;
        match o.tool {
            Tool::Sub | Tool::Pull | Tool::Rep => loop {
                if o.count.is_some_and(|c| done >= c) {
                    ch.close(LINGER).await;
                    return Ok(());
                }
                match ch.recv().await {
                    Ok(Some(msg)) => {
                        self.received(&mut ch, msg).await?;
                        done += 1;
                    }
                    end => {
                        let why = match end {
                            Err(e) => told(e),
                            _ => "closed by the peer".to_owned(),
                        };
                        eprintln!(
                            "zedge {}: {}: {why}; connecting again",
                            o.tool.name(),
                            o.endpoint
                        );
                        ch = self.reconnect().await;
                    }
                }
            },
            Tool::Pub | Tool::Push | Tool::Req => {
                let start = Instant::now();
                let mut lines = Lines::new(o)?;
                let lost = |e: io::Error| format!("{}: {e}", o.endpoint);
                while o.count.is_none_or(|c| done < c) {
                    // The device's PINGs are answered while the user types, or the rate
                    // waits: a client quiet for longer than its heartbeat timeout was dropped,
                    // and its next message lost.
                    let Some(msg) = ch.idle_until(lines.next()).await.map_err(lost)?? else {
                        break;
                    };
                    if let Some(rate) = o.rate {
                        let at = start + Duration::from_secs_f64(done as f64 / rate);
                        ch.idle_until(Timer::at(at)).await.map_err(lost)?;
                    }
                    self.send(&mut ch, msg).await?;
                    done += 1;
                }
                ch.close(LINGER).await;
                Ok(())
            }
        }
    }

    /// Connect again, every second until it works (a device restarting), as a libzmq
    /// socket does; the first failure is told.
    async fn reconnect(&self) -> Channel {
        let mut told = false;
        loop {
            Timer::after(Duration::from_secs(1)).await;
            match self.connect().await {
                Ok(ch) => return ch,
                Err(e) if !told => {
                    eprintln!("zedge {}: {e}; trying every second", self.o.tool.name());
                    told = true;
                }
                Err(_) => {}
            }
        }
    }

    /// A connection whose handshake is done; a SUB's subscriptions sent.
    async fn connect(&self) -> Result<Channel, String> {
        let o = self.o;
        let ep = &o.endpoint;
        let within = async {
            let stream = crate::net::connect(ep)
                .await
                .map_err(|e| format!("cannot connect to {ep}: {e}"))?;
            let secure = match (&self.keys, o.server_key) {
                (Some(keys), Some(server)) => {
                    let charge = Charge::new(Account::unlimited());
                    let max_frame = o.max_msg_size.saturating_add(64);
                    Some(
                        Secure::client(keys.clone(), server, max_frame, charge)
                            .map_err(|e| format!("{ep}: {e}"))?,
                    )
                }
                _ => None,
            };
            let cfg = SessionConfig {
                limits: Limits {
                    max_message_size: o.max_msg_size,
                    ..Limits::DEFAULT
                },
                ..SessionConfig::new(o.tool.socket_type())
            };
            let fail = |e: io::Error| format!("{ep}: {e}");
            let mut ch = Channel::open_with(stream, secure, cfg, Clock::start(), MAX_FRAMES)
                .await
                .map_err(fail)?;
            let shaken = ch.handshake().await.map_err(|e| {
                let hint = match (e.to_string().contains("mechanism Curve"), o.server_key) {
                    (true, None) => " (give --curve-server-key: the device's public key)",
                    _ => "",
                };
                format!("{ep}: {e}{hint}")
            })?;
            if !shaken {
                return Err(format!(
                    "{ep}: the peer closed the connection in the handshake (a device that \
                     wants CURVE: give --curve-server-key; or a peer that does not take a {})",
                    o.tool.socket_type().name()
                ));
            }
            if o.tool == Tool::Sub {
                let topics: Vec<Vec<u8>> = if o.args.is_empty() {
                    vec![Vec::new()]
                } else {
                    o.args
                        .iter()
                        .map(|t| o.format.decode(t))
                        .collect::<Result<_, _>>()?
                };
                for t in &topics {
                    ch.subscribe(t).await.map_err(fail)?;
                }
            }
            Ok(ch)
        };
        let late = async {
            Timer::after(o.timeout).await;
            Err(format!(
                "{ep}: no handshake within {:?} (is a device there?)",
                o.timeout
            ))
        };
        future::or(within, late).await
    }

    /// A message received: printed; a REP sends it back.
    async fn received(&self, ch: &mut Channel, msg: Message) -> Result<(), String> {
        let o = self.o;
        if o.tool == Tool::Rep {
            // The envelope (routing frames, then an empty delimiter) goes back as it came.
            let Some(split) = msg.iter().position(Vec::is_empty) else {
                eprintln!("zedge rep: a request without an envelope; not answered");
                return Ok(());
            };
            self.print(&msg[split + 1..])?;
            let frames: Vec<&[u8]> = msg.iter().map(Vec::as_slice).collect();
            return ch
                .send(&frames)
                .await
                .map_err(|e| format!("{}: {e}", o.endpoint));
        }
        self.print(&msg)
    }

    /// Send `msg`; a REQ waits for the reply and prints it.
    async fn send(&self, ch: &mut Channel, msg: Message) -> Result<(), String> {
        let o = self.o;
        let fail = |e: io::Error| format!("{}: {e}", o.endpoint);
        let mut frames: Vec<&[u8]> = Vec::with_capacity(msg.len() + 1);
        if o.tool == Tool::Req {
            frames.push(b"");
        }
        frames.extend(msg.iter().map(Vec::as_slice));
        ch.send(&frames).await.map_err(fail)?;
        if o.tool != Tool::Req {
            return Ok(());
        }
        let reply = async {
            let got = ch.recv().await;
            match got.map_err(|e| format!("{}: {}", o.endpoint, told(e)))? {
                Some(reply) => Ok(reply),
                None => Err(format!("{}: closed before the reply", o.endpoint)),
            }
        };
        let late = async {
            Timer::after(o.timeout).await;
            Err(format!("{}: no reply within {:?}", o.endpoint, o.timeout))
        };
        let reply = future::or(reply, late).await?;
        let body = match reply.split_first() {
            Some((first, rest)) if first.is_empty() => rest,
            _ => {
                return Err(format!(
                    "{}: a reply without its empty delimiter",
                    o.endpoint
                ))
            }
        };
        self.print(body)
    }

    fn print(&self, frames: &[Vec<u8>]) -> Result<(), String> {
        let (line, in_hex) = self.o.format.line(frames, &self.o.delimiter);
        if in_hex && !self.hex_told.replace(true) {
            eprintln!(
                "zedge {}: a frame whose size is no multiple of 4, which Z85 cannot write, is \
                 printed as ~ and its hex (--format z85 reads it back so); this is said once",
                self.o.tool.name()
            );
        }
        // The reader gone (`zedge sub ... | head`) ends the client there, quietly.
        crate::stdout::write(&line).map_err(|e| format!("standard output: {e}"))
    }
}

/// Why a connection failed, with the option to change where one can help: a message over
/// `--max-msg-size` is not taken (the connection is closed, and that message lost).
fn told(e: io::Error) -> String {
    use zedge_core::conn::SessionError;
    match e.get_ref().and_then(|i| i.downcast_ref::<SessionError>()) {
        Some(SessionError::MessageTooLarge { len, limit }) => format!(
            "a message of at least {len} bytes came, over --max-msg-size ({limit} bytes); it is \
             lost: give a larger --max-msg-size to take such messages"
        ),
        _ => e.to_string(),
    }
}

/// The messages a client sends: from its arguments, or lines of standard input.
struct Lines<'a> {
    o: &'a ClientOptions,
    /// The one message of the arguments, sent `count` times (once by default).
    given: Option<Message>,
    /// Each line of standard input goes after this topic frame (`pub TOPIC`, `pub TOPIC -`).
    topic: Option<Vec<u8>>,
    sent: u64,
    /// Lines of standard input, read on a thread of their own (started when first needed).
    stdin: Option<async_channel::Receiver<io::Result<Vec<u8>>>>,
}

impl<'a> Lines<'a> {
    fn new(o: &'a ClientOptions) -> Result<Lines<'a>, String> {
        let decode = |s: &String| o.format.decode(s);
        let (given, topic) = match (o.tool, o.args.as_slice()) {
            (Tool::Pub, [topic]) => (None, Some(decode(topic)?)),
            (Tool::Pub, [topic, dash]) if dash == "-" => (None, Some(decode(topic)?)),
            (_, []) => (None, None),
            (_, frames) => {
                let msg = frames.iter().map(decode).collect::<Result<Message, _>>()?;
                (Some(msg), None)
            }
        };
        Ok(Lines {
            o,
            given,
            topic,
            sent: 0,
            stdin: None,
        })
    }

    /// The next message; `None` at the end.
    async fn next(&mut self) -> Result<Option<Message>, String> {
        if let Some(msg) = &self.given {
            // One by default; `--count N` sends it N times.
            if self.o.count.is_none() && self.sent > 0 {
                return Ok(None);
            }
            self.sent += 1;
            return Ok(Some(msg.clone()));
        }
        let lines = self.stdin.get_or_insert_with(stdin_lines);
        // Closed: standard input ended.
        let Ok(read) = lines.recv().await else {
            return Ok(None);
        };
        let mut line = read.map_err(|e| format!("standard input: {e}"))?;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let mut msg = match &self.topic {
            Some(t) => vec![t.clone()],
            None => Vec::new(),
        };
        if self.topic.is_some() {
            msg.push(self.o.format.decode_bytes(&line)?);
        } else {
            msg.extend(self.o.format.split(&line, &self.o.delimiter)?);
        }
        self.sent += 1;
        Ok(Some(msg))
    }
}

/// Lines of standard input (with their newlines), read on a thread of their own so that the
/// connection is kept while none comes; the channel closes at the end of the input.
fn stdin_lines() -> async_channel::Receiver<io::Result<Vec<u8>>> {
    let (tx, rx) = async_channel::bounded(64);
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        loop {
            let mut line = Vec::new();
            let read = match stdin.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => Ok(line),
                Err(e) => Err(e),
            };
            let failed = read.is_err();
            if tx.send_blocking(read).is_err() || failed {
                return;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests;
