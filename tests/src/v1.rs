//! A ZMTP 1.0 (RFC 13) peer played by hand on a raw socket, as libzmq 2.x speaks: its
//! identity frame first, then frames whose length (one byte, or `0xff` and eight) counts the
//! flags byte after it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::raw;

/// What a 1.0 peer reads first from zedge (and libzmq 4): its signature, which a 1.0 peer
/// takes for an empty identity frame's header.
pub const SIGNATURE: [u8; 10] = [0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f];

/// One 1.0 frame.
pub fn frame(body: &[u8], more: bool) -> Vec<u8> {
    let len = body.len() as u64 + 1;
    let mut out = if len < 0xff {
        vec![len as u8]
    } else {
        let mut long = vec![0xff];
        long.extend_from_slice(&len.to_be_bytes());
        long
    };
    out.push(u8::from(more));
    out.extend_from_slice(body);
    out
}

/// A message's frames.
pub fn message(parts: &[&[u8]]) -> Vec<u8> {
    parts
        .iter()
        .enumerate()
        .flat_map(|(i, p)| frame(p, i + 1 < parts.len()))
        .collect()
}

/// A 1.0 peer's connection.
#[derive(Debug)]
pub struct V1Peer {
    pub s: TcpStream,
}

impl V1Peer {
    /// Connect to `addr`, send the identity frame, and read zedge's signature.
    pub fn connect(addr: SocketAddr, identity: &[u8]) -> V1Peer {
        let mut s = raw::connect(addr, Instant::now() + Duration::from_secs(10));
        s.write_all(&frame(identity, false)).expect("send identity");
        let mut sig = [0u8; 10];
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        s.read_exact(&mut sig).expect("zedge's signature");
        assert_eq!(sig, SIGNATURE, "what a 1.0 peer reads first");
        V1Peer { s }
    }

    pub fn send(&mut self, parts: &[&[u8]]) {
        self.s.write_all(&message(parts)).expect("send a message");
    }

    /// The next message within `timeout`, if any.
    pub fn recv(&mut self, timeout: Duration) -> Option<Vec<Vec<u8>>> {
        self.s
            .set_read_timeout(Some(timeout))
            .expect("read timeout");
        let mut parts = Vec::new();
        loop {
            let (body, more) = match read_frame(&mut self.s) {
                Ok(f) => f,
                Err(e) if parts.is_empty() && is_timeout(&e) => return None,
                Err(e) => panic!("a 1.0 frame: {e}"),
            };
            parts.push(body);
            if !more {
                return Some(parts);
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One 1.0 frame from `s`: its body and whether more follow.
pub fn read_frame(s: &mut TcpStream) -> io::Result<(Vec<u8>, bool)> {
    let mut b = [0u8; 1];
    s.read_exact(&mut b)?;
    let len = if b[0] == 0xff {
        let mut l = [0u8; 8];
        s.read_exact(&mut l)?;
        u64::from_be_bytes(l)
    } else {
        u64::from(b[0])
    };
    if len == 0 {
        return Err(io::Error::other("a 1.0 frame of length 0"));
    }
    let mut flags = [0u8; 1];
    s.read_exact(&mut flags)?;
    let mut body = vec![0u8; (len - 1) as usize];
    s.read_exact(&mut body)?;
    Ok((body, flags[0] & 1 != 0))
}
