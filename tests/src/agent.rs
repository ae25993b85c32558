//! [`Agent`]: one libzmq socket in a Python (pyzmq) process, driven line by line from a test.
//!
//! A [`PyPeer`](crate::PyPeer) runs a whole script on its own; an agent waits for commands, so
//! a test can interleave several real libzmq peers with the broker's life and with zmq.rs
//! peers in any order it likes: "connect a subscriber, then a publisher, publish until the
//! subscription has arrived, then another subscriber ...". Every command has a deadline, and
//! the process is killed when the agent is dropped (its stderr printed if the test failed).
//!
//! Frames travel as hex, `-` for an empty frame. The commands (see [`AGENT`]):
//! `send F..`, `recv MS`, `drain MAX IDLE_MS`, `burst N F..` (N messages `F.., seq`), `sub HEX`,
//! `unsub HEX`, `connect EP`, `disconnect EP`, `wait_event NAME MS`, `events MS`, `close`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::python;

/// The longest any single command may take, beyond the time it asks for.
pub const COMMAND_SLACK: Duration = Duration::from_secs(15);

/// The agent script. Arguments: socket type, then `connect=EP`, `bind=EP`, `opt=NAME=VALUE`
/// (integer or string option), `monitor` (record socket events), `sub=HEX` (subscribe first).
pub const AGENT: &str = r#"
import sys, time, binascii, zmq
from zmq.utils.monitor import recv_monitor_message

def unhex(f):
    return b"" if f == "-" else binascii.unhexlify(f)

def tohex(f):
    return "-" if len(f) == 0 else binascii.hexlify(f).decode()

def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

ctx = zmq.Context()
stype = getattr(zmq, sys.argv[1])
s = ctx.socket(stype)
s.setsockopt(zmq.LINGER, 2000)
s.setsockopt(zmq.SNDTIMEO, 5000)
mon = None
events = []
for arg in sys.argv[2:]:
    key, _, val = arg.partition("=")
    if key == "opt":
        name, _, v = val.partition("=")
        try:
            s.setsockopt(getattr(zmq, name), int(v))
        except ValueError:
            s.setsockopt(getattr(zmq, name), v.encode())
    elif key == "monitor":
        mon = s.get_monitor_socket()
    elif key == "sub":
        s.setsockopt(zmq.SUBSCRIBE, unhex(val))
    elif key == "connect":
        s.connect(val)
    elif key == "bind":
        s.bind(val)

def poll_events(ms):
    if mon is None:
        return
    end = time.monotonic() + ms / 1000.0
    while True:
        left = max(0, int((end - time.monotonic()) * 1000))
        if not mon.poll(left):
            return
        ev = recv_monitor_message(mon)
        events.append(zmq.Event(ev["event"]).name)

def subscribe(topic, on):
    if stype == zmq.XSUB:
        s.send((b"\x01" if on else b"\x00") + topic)
    else:
        s.setsockopt(zmq.SUBSCRIBE if on else zmq.UNSUBSCRIBE, topic)

out("ready")
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    cmd, args = words[0], words[1:]
    try:
        if cmd == "send":
            s.send_multipart([unhex(f) for f in args])
            out("ok")
        elif cmd == "burst":
            n = int(args[0])
            head = [unhex(f) for f in args[1:]]
            for i in range(n):
                s.send_multipart(head + [str(i).encode()])
            out("ok")
        elif cmd == "recv":
            if s.poll(int(args[0]), zmq.POLLIN):
                out("msg " + " ".join(tohex(f) for f in s.recv_multipart()))
            else:
                out("timeout")
        elif cmd == "drain":
            most, idle = int(args[0]), int(args[1])
            got = 0
            while got < most and s.poll(idle, zmq.POLLIN):
                out("msg " + " ".join(tohex(f) for f in s.recv_multipart()))
                got += 1
            out("end")
        elif cmd == "sub":
            subscribe(unhex(args[0]), True)
            out("ok")
        elif cmd == "unsub":
            subscribe(unhex(args[0]), False)
            out("ok")
        elif cmd == "connect":
            s.connect(args[0])
            out("ok")
        elif cmd == "disconnect":
            s.disconnect(args[0])
            out("ok")
        elif cmd == "wait_event":
            end = time.monotonic() + int(args[1]) / 1000.0
            while args[0] not in events and time.monotonic() < end:
                poll_events(20)
            out("ok" if args[0] in events else "timeout")
        elif cmd == "events":
            poll_events(int(args[0]))
            out("events " + " ".join(events))
        elif cmd == "close":
            if mon is not None:
                s.disable_monitor()
                mon.close()
            s.close()
            ctx.term()
            out("ok")
            break
        else:
            out("error unknown command " + cmd)
    except zmq.Again:
        out("again")
"#;

/// One message: its frames.
pub type Msg = Vec<Vec<u8>>;

/// A libzmq socket in a Python process; see the module docs.
#[derive(Debug)]
pub struct Agent {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    closed: bool,
}

impl Agent {
    /// A socket of `socket_type` (`"SUB"`, `"XPUB"`, ...) set up by `args` (see [`AGENT`]).
    /// Returns once the socket exists and has started connecting.
    pub fn spawn(name: &str, socket_type: &str, args: &[String]) -> Agent {
        let mut child = Command::new(python())
            .arg("-u")
            .arg("-c")
            .arg(AGENT)
            .arg(socket_type)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Python agent {name}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("agent stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = child.stderr.take().map(|mut pipe| {
            thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                buf
            })
        });
        let mut agent = Agent {
            name: name.to_owned(),
            child,
            stdin,
            lines,
            stderr,
            closed: false,
        };
        let first = agent.line(Instant::now() + COMMAND_SLACK);
        assert_eq!(first, "ready", "agent {name} did not start");
        agent
    }

    /// A socket that connects to `endpoint`, with extra `args`.
    pub fn connect(name: &str, socket_type: &str, endpoint: &str, args: &[&str]) -> Agent {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.push(format!("connect={endpoint}"));
        Agent::spawn(name, socket_type, &all)
    }

    fn line(&mut self, deadline: Instant) -> String {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("agent {} did not answer before its deadline", self.name)
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().ok();
                panic!("agent {} died ({status:?})", self.name)
            }
        }
    }

    /// Send one command line; the first line of the answer.
    pub fn command(&mut self, cmd: &str, takes: Duration) -> String {
        let stdin = self.stdin.as_mut().expect("agent stdin");
        writeln!(stdin, "{cmd}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("agent {} stopped reading commands: {e}", self.name));
        self.line(Instant::now() + takes + COMMAND_SLACK)
    }

    fn expect_ok(&mut self, cmd: &str, takes: Duration) {
        let answer = self.command(cmd, takes);
        assert_eq!(answer, "ok", "agent {}: `{}`", self.name, short(cmd));
    }

    /// Send one message (waits up to 5 s for room, then panics).
    pub fn send(&mut self, frames: &[&[u8]]) {
        self.expect_ok(&format!("send {}", hex_frames(frames)), Duration::ZERO);
    }

    /// `n` messages: `frames` and then a frame holding the decimal sequence number 0..n.
    pub fn burst(&mut self, n: usize, frames: &[&[u8]]) {
        self.expect_ok(
            &format!("burst {n} {}", hex_frames(frames)),
            Duration::from_secs(10),
        );
    }

    /// The next message within `timeout`, if any.
    pub fn recv(&mut self, timeout: Duration) -> Option<Msg> {
        let answer = self.command(&format!("recv {}", timeout.as_millis()), timeout);
        parse_msg(&self.name, &answer)
    }

    /// Up to `most` messages, until none arrives for `idle`.
    pub fn drain(&mut self, most: usize, idle: Duration) -> Vec<Msg> {
        let stdin = self.stdin.as_mut().expect("agent stdin");
        writeln!(stdin, "drain {most} {}", idle.as_millis())
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("agent {} stopped reading commands: {e}", self.name));
        let mut msgs = Vec::new();
        loop {
            let line = self.line(Instant::now() + idle + COMMAND_SLACK);
            if line == "end" {
                return msgs;
            }
            match parse_msg(&self.name, &line) {
                Some(m) => msgs.push(m),
                None => panic!("agent {}: unexpected `{line}` while draining", self.name),
            }
        }
    }

    /// Subscribe (SUB: option; XSUB: a `0x01` message).
    pub fn sub(&mut self, topic: &[u8]) {
        self.expect_ok(&format!("sub {}", hex(topic)), Duration::ZERO);
    }

    pub fn unsub(&mut self, topic: &[u8]) {
        self.expect_ok(&format!("unsub {}", hex(topic)), Duration::ZERO);
    }

    pub fn connect_to(&mut self, endpoint: &str) {
        self.expect_ok(&format!("connect {endpoint}"), Duration::ZERO);
    }

    /// Whether the monitor reported event `name` (e.g. `HANDSHAKE_SUCCEEDED`) within `timeout`.
    pub fn wait_event(&mut self, name: &str, timeout: Duration) -> bool {
        self.command(
            &format!("wait_event {name} {}", timeout.as_millis()),
            timeout,
        ) == "ok"
    }

    /// Every monitor event so far, after collecting for `settle`.
    pub fn events(&mut self, settle: Duration) -> Vec<String> {
        let answer = self.command(&format!("events {}", settle.as_millis()), settle);
        let rest = answer
            .strip_prefix("events")
            .unwrap_or_else(|| panic!("agent {}: unexpected `{answer}`", self.name));
        rest.split_whitespace().map(str::to_owned).collect()
    }

    /// Nothing in its monitor events says it was disconnected; `who` names it if something
    /// does.
    pub fn assert_never_disconnected(&mut self, who: &str) {
        let events = self.events(Duration::from_millis(50));
        assert!(
            !events.iter().any(|e| e == "DISCONNECTED" || e == "CLOSED"),
            "{who} was disconnected: {events:?}"
        );
    }

    /// Close the socket (lingering up to 2 s) and end the process.
    pub fn close(mut self) {
        self.expect_ok("close", Duration::from_secs(3));
        self.closed = true;
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if thread::panicking() || !self.closed {
            let stderr = self
                .stderr
                .take()
                .and_then(|h| h.join().ok())
                .unwrap_or_default();
            if thread::panicking() && !stderr.is_empty() {
                eprintln!(
                    "--- agent {} stderr:\n{}",
                    self.name,
                    String::from_utf8_lossy(&stderr)
                );
            }
        }
    }
}

fn parse_msg(name: &str, line: &str) -> Option<Msg> {
    if line == "timeout" {
        return None;
    }
    let Some(frames) = line.strip_prefix("msg ") else {
        panic!("agent {name}: unexpected `{}`", short(line));
    };
    Some(frames.split(' ').map(unhex).collect())
}

fn short(s: &str) -> &str {
    &s[..s.len().min(200)]
}

/// Lower-case hex, `-` for nothing (the agent's frame encoding).
pub fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".to_owned();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_frames(frames: &[&[u8]]) -> String {
    frames.iter().map(|f| hex(f)).collect::<Vec<_>>().join(" ")
}

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("agent sent bad hex"))
        .collect()
}
