//! Raw ZMTP peers over a plain [`TcpStream`], for hostile input: they say exactly the bytes a
//! test gives them, built with `zedge_core::wire` where they are meant to be valid.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::command::{write_ping, write_ready, write_subscribe};
use zedge_core::wire::frame::FrameHead;
use zedge_core::wire::greeting::{Greeting, Mechanism, GREETING_LEN};
use zedge_core::wire::metadata::SocketType;
use zedge_core::wire::Writer;

/// Our greeting as a ZMTP 3.1 NULL client.
pub fn greeting() -> [u8; GREETING_LEN] {
    Greeting::ours(Mechanism::Null, false).encode()
}

/// A READY command announcing `socket_type`.
pub fn ready(socket_type: SocketType) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let mut w = Writer::new(&mut buf);
    write_ready(&mut w, socket_type, b"").expect("READY fits in 256 bytes");
    let n = w.len();
    buf[..n].to_vec()
}

/// A SUBSCRIBE command (ZMTP 3.1) for `topic`.
pub fn subscribe(topic: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; topic.len() + 32];
    let mut w = Writer::new(&mut buf);
    write_subscribe(&mut w, topic).expect("SUBSCRIBE fits");
    let n = w.len();
    buf.truncate(n);
    buf
}

/// A PING command with `ttl` (tenths of a second) and `context`.
pub fn ping(ttl: u16, context: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    write_ping(&mut w, ttl, context).expect("PING fits");
    let n = w.len();
    buf[..n].to_vec()
}

/// Connect to `addr` (retrying refused connections until `deadline`).
pub fn connect(addr: SocketAddr, deadline: Instant) -> TcpStream {
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => {
                s.set_nodelay(true).expect("TCP_NODELAY");
                return s;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot connect to {addr}: {e}"),
        }
    }
}

/// Connect and complete a NULL handshake as `socket_type`: our greeting and READY out, the
/// broker's greeting and READY (checked to be one) in.
pub fn handshake(addr: SocketAddr, socket_type: SocketType, deadline: Instant) -> TcpStream {
    handshake_as(addr, socket_type, 1, deadline)
}

/// [`handshake`] greeting as ZMTP 3.`minor`.
pub fn handshake_as(
    addr: SocketAddr,
    socket_type: SocketType,
    minor: u8,
    deadline: Instant,
) -> TcpStream {
    let mut s = connect(addr, deadline);
    let mut ours = greeting();
    ours[11] = minor;
    s.write_all(&ours).expect("write greeting");
    s.write_all(&ready(socket_type)).expect("write READY");
    set_deadline(&s, deadline);
    let mut theirs = [0u8; GREETING_LEN];
    s.read_exact(&mut theirs)
        .expect("read the broker's greeting");
    let g = Greeting::decode(&theirs)
        .expect("the broker's greeting decodes")
        .expect("64 bytes are a whole greeting");
    assert_eq!((g.major, g.mechanism), (3, Mechanism::Null));
    let (flags, body) = read_frame(&mut s).expect("read the broker's READY");
    assert!(
        flags & 0x04 != 0,
        "the broker's first frame is not a command"
    );
    assert!(
        body.starts_with(b"\x05READY"),
        "the broker's first command is not READY: {body:?}"
    );
    s
}

/// The handshake of a connection accepted from the broker: our greeting and READY as
/// `socket_type` out, the broker's greeting and READY in (`false` if they do not come by
/// `deadline`, or are not ZMTP 3 NULL).
pub fn accept_handshake(s: &mut TcpStream, socket_type: SocketType, deadline: Instant) -> bool {
    let mut theirs = [0u8; GREETING_LEN];
    let ok = s
        .write_all(&greeting())
        .and_then(|()| s.write_all(&ready(socket_type)))
        .and_then(|()| {
            set_deadline(s, deadline);
            s.read_exact(&mut theirs)
        });
    let greeted = ok.is_ok()
        && matches!(Greeting::decode(&theirs), Ok(Some(g)) if (g.major, g.mechanism) == (3, Mechanism::Null));
    greeted
        && read_frame(s)
            .is_ok_and(|(flags, body)| flags & COMMAND != 0 && body.starts_with(b"\x05READY"))
}

fn set_deadline(s: &TcpStream, deadline: Instant) {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(10));
    s.set_read_timeout(Some(left)).expect("set read timeout");
}

/// One whole frame: flags and body.
pub fn read_frame(s: &mut TcpStream) -> io::Result<(u8, Vec<u8>)> {
    let mut flags = [0u8; 1];
    s.read_exact(&mut flags)?;
    let len = if flags[0] & 0x02 != 0 {
        let mut l = [0u8; 8];
        s.read_exact(&mut l)?;
        u64::from_be_bytes(l)
    } else {
        let mut l = [0u8; 1];
        s.read_exact(&mut l)?;
        u64::from(l[0])
    };
    let len = usize::try_from(len).map_err(|_| io::Error::other("frame too long"))?;
    // Large enough for the largest the tests publish, small enough not to allocate what a
    // garbled length says.
    if len > 16 << 20 {
        return Err(io::Error::other("frame over 16 MiB from the broker"));
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok((flags[0], body))
}

/// A ZMTP frame's flag: a command (PING, say), not a message's part.
pub const COMMAND: u8 = 0x04;

/// The next data frame on `s` (commands skipped), its flags and body; an error at `until`.
pub fn next_data_frame(s: &mut TcpStream, until: Instant) -> io::Result<(u8, Vec<u8>)> {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        s.set_read_timeout(Some(left))?;
        let (flags, body) = read_frame(s)?;
        if flags & COMMAND == 0 {
            return Ok((flags, body));
        }
    }
}

/// A ZMTP frame's flag: more frames of the same message follow.
pub const MORE: u8 = 0x01;

/// The next whole message on `s` (commands skipped), its frames; an error at `until`.
pub fn next_message(s: &mut TcpStream, until: Instant) -> io::Result<Vec<Vec<u8>>> {
    let mut frames = Vec::new();
    loop {
        let (flags, body) = next_data_frame(s, until)?;
        frames.push(body);
        if flags & MORE == 0 {
            return Ok(frames);
        }
    }
}

/// A data frame header announcing `len` bytes.
pub fn data_head(len: u64, more: bool) -> Vec<u8> {
    FrameHead::data(len, more).encode().as_slice().to_vec()
}

/// A command frame header announcing `len` bytes.
pub fn command_head(len: u64) -> Vec<u8> {
    FrameHead::command(len).encode().as_slice().to_vec()
}

/// Whether the broker closes `s` by `deadline` (EOF or reset). Whatever it sends before
/// closing (an ERROR command, say) is read and dropped; its length is returned with `true`.
pub fn closed_by(s: &mut TcpStream, deadline: Instant) -> (bool, usize) {
    let mut buf = [0u8; 4096];
    let mut seen = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (false, seen);
        }
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("set read timeout");
        match s.read(&mut buf) {
            Ok(0) => return (true, seen),
            Ok(n) => seen += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return (true, seen),
        }
    }
}

/// A message's bytes on the wire: a data frame per part, MORE on all but the last.
pub fn message_bytes(parts: &[&[u8]]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        bytes.extend(data_head(part.len() as u64, i + 1 < parts.len()));
        bytes.extend_from_slice(part);
    }
    bytes
}

/// Write `bytes` to `s` on a thread, `chunk` bytes every `every`; the stream is handed back.
pub fn paced(
    mut s: TcpStream,
    bytes: Vec<u8>,
    chunk: usize,
    every: Duration,
) -> thread::JoinHandle<TcpStream> {
    thread::spawn(move || {
        let start = Instant::now();
        for (i, piece) in bytes.chunks(chunk).enumerate() {
            let at = start + every * i as u32;
            thread::sleep(at.saturating_duration_since(Instant::now()));
            s.write_all(piece).expect("write a paced chunk");
        }
        s
    })
}

/// Write one message, a data frame per part.
pub fn send_message(s: &mut TcpStream, parts: &[&[u8]]) {
    crate::write_message(s, parts).expect("write message");
}
