//! CURVE peers for the tests: key pairs made by the binary, what a Python script needs to
//! open libzmq CURVE sockets with them, and a client handshake made by hand (from
//! `zedge_core::curve`), for hostile peers that libzmq will not play.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;

use zedge_core::curve::crypto::{CryptoBox, KeyPair, KEY_LEN};
use zedge_core::curve::hello::{read_welcome, write_hello, HELLO_LEN};
use zedge_core::curve::initiate::{write_initiate, ClientKeys, INITIATE_MIN};
use zedge_core::curve::message::{write_message, From, Keys as MessageKeys, MORE, OVERHEAD};
use zedge_core::wire::frame::FrameHead;
use zedge_core::wire::z85::decode_key;

use crate::broker::zedge_bin;
use crate::systemd::temp_path;

/// Key pairs made by `zedge keygen` in a directory of their own: `srv` (the device), `cli`
/// (an allowed client), `intruder` (a client not on the list), and `allowed`, a file with
/// `cli`'s public key.
#[derive(Debug)]
pub struct Keys {
    dir: PathBuf,
}

impl Keys {
    pub fn generate() -> Keys {
        let dir = temp_path("curve");
        std::fs::create_dir_all(&dir).expect("make the key directory");
        let keys = Keys { dir };
        for name in ["srv", "cli", "intruder", "edge"] {
            keys.keygen(name);
        }
        let cli = keys.public("cli");
        std::fs::write(keys.path("allowed"), format!("# the clients\n{cli}\n"))
            .expect("write the allow-list");
        keys
    }

    pub fn keygen(&self, name: &str) {
        let out = Command::new(zedge_bin())
            .arg("keygen")
            .arg(self.path(name))
            .output()
            .expect("run zedge keygen");
        assert!(out.status.success(), "{out:?}");
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// A public key, from its certificate.
    pub fn public_key(&self, name: &str) -> [u8; KEY_LEN] {
        decode_key(self.public(name).as_bytes()).expect("a Z85 public key")
    }

    /// A public key in Z85, from its certificate.
    pub fn public(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.path(name)).expect("read a certificate");
        let line = text
            .lines()
            .find(|l| l.contains("public-key"))
            .expect("a public-key line");
        line.split('"').nth(1).expect("a quoted key").to_owned()
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Shared by the scripts: CURVE sockets from the key directory.
pub const CURVE_PRELUDE: &str = r#"
import zmq.auth, urllib.request, socket, os
assert zmq.has("curve"), "this libzmq has no CURVE"
keys = sys.argv[1]
def cert(name):
    return zmq.auth.load_certificate(os.path.join(keys, name))
SRV = cert("srv")[0]
def curve(t, ep, me="cli", server=None, **opts):
    pub, sec = cert(me + "_secret")
    return sock(t, ep, CURVE_SERVERKEY=server or SRV, CURVE_PUBLICKEY=pub,
                CURVE_SECRETKEY=sec, **opts)
def metric(url, name):
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total
def read_slowly(s, every, stop):
    """A slow reader of `s`: one message every `every` seconds, until `stop` is set."""
    s.setsockopt(zmq.RCVTIMEO, 100)
    def run():
        while not stop.is_set():
            try:
                s.recv_multipart()
            except zmq.Again:
                pass
            time.sleep(every)
    threading.Thread(target=run, daemon=True).start()
"#;

/// A pyzmq script: the prelude ([`crate::zmq_prelude`]), [`CURVE_PRELUDE`], then `body`.
pub fn script(body: &str) -> String {
    format!("{}{CURVE_PRELUDE}{body}", crate::zmq_prelude!())
}

/// A CURVE client's stream to `addr` whose handshake was made by hand: a `socket_type` peer
/// of long-term pair `client` and transient pair `transient`, to the server whose public key
/// is `server`. Its next MESSAGE's short nonce is 3. No READY is waited for: a PUSH has
/// nothing to read, and the server reads its MESSAGEs whether or not it has read ours.
pub fn handshake_by_hand(
    addr: SocketAddr,
    server: &[u8; KEY_LEN],
    client: &KeyPair,
    transient: &KeyPair,
    socket_type: &str,
) -> io::Result<TcpStream> {
    Ok(sealing_by_hand(addr, server, client, transient, socket_type)?.stream)
}

/// A CURVE client's session made by hand ([`handshake_by_hand`]), which seals its MESSAGEs
/// ([`ByHand::message`]): for hostile peers that send some frames whole and others in part.
#[derive(Debug)]
pub struct ByHand {
    pub stream: TcpStream,
    keys: MessageKeys,
    nonce: u64,
}

impl ByHand {
    /// A MESSAGE frame, head and all, of `body` with `more` set or not, sealed with the next
    /// short nonce.
    pub fn message(&mut self, body: &[u8], more: bool) -> Vec<u8> {
        let mut sealed = vec![0u8; OVERHEAD + body.len()];
        let flags = if more { MORE } else { 0 };
        let n = write_message(
            &self.keys,
            From::Client,
            self.nonce,
            flags,
            &[body],
            &mut sealed,
        )
        .expect("a MESSAGE sealed");
        self.nonce += 1;
        let mut frame = FrameHead::data(n as u64, false)
            .encode()
            .as_slice()
            .to_vec();
        frame.extend_from_slice(&sealed[..n]);
        frame
    }
}

/// [`handshake_by_hand`], keeping the session's keys.
pub fn sealing_by_hand(
    addr: SocketAddr,
    server: &[u8; KEY_LEN],
    client: &KeyPair,
    transient: &KeyPair,
    socket_type: &str,
) -> io::Result<ByHand> {
    sealing_over(
        TcpStream::connect(addr)?,
        server,
        client,
        transient,
        socket_type,
    )
}

/// [`sealing_by_hand`] over a stream already connected.
pub fn sealing_over(
    mut s: TcpStream,
    server: &[u8; KEY_LEN],
    client: &KeyPair,
    transient: &KeyPair,
    socket_type: &str,
) -> io::Result<ByHand> {
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut greeting = [0u8; 64];
    greeting[0] = 0xff;
    greeting[9] = 0x7f;
    greeting[10..12].copy_from_slice(&[3, 1]);
    greeting[12..17].copy_from_slice(b"CURVE");
    s.write_all(&greeting)?;
    s.read_exact(&mut greeting)?;
    let mut hello = [0u8; HELLO_LEN];
    write_hello(server, transient, 1, &mut hello).map_err(io::Error::other)?;
    write_frame(&mut s, &hello, true)?;
    let welcome = read_frame(&mut s)?;
    let welcome = read_welcome(&welcome, server, transient).map_err(io::Error::other)?;
    let ty = socket_type.as_bytes();
    let mut meta = b"\x0bSocket-Type\x00\x00\x00".to_vec();
    meta.push(u8::try_from(ty.len()).expect("a short socket type"));
    meta.extend_from_slice(ty);
    let keys = ClientKeys {
        server,
        client,
        transient,
        welcome: &welcome,
    };
    let mut initiate = vec![0u8; INITIATE_MIN + meta.len()];
    let n =
        write_initiate(&keys, 2, &[0x52; 16], &meta, &mut initiate).map_err(io::Error::other)?;
    write_frame(&mut s, &initiate[..n], true)?;
    let session =
        CryptoBox::new(&welcome.server_transient, transient.secret()).map_err(io::Error::other)?;
    Ok(ByHand {
        stream: s,
        keys: MessageKeys::new(&session),
        nonce: 3,
    })
}

/// A frame's head and body.
fn write_frame(s: &mut TcpStream, body: &[u8], command: bool) -> io::Result<()> {
    let len = body.len() as u64;
    let head = if command {
        FrameHead::command(len)
    } else {
        FrameHead::data(len, false)
    };
    s.write_all(head.encode().as_slice())?;
    s.write_all(body)
}

/// One frame's body.
fn read_frame(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; 2];
    s.read_exact(&mut head)?;
    if head[0] & 0x02 != 0 {
        head.resize(9, 0);
        s.read_exact(&mut head[2..])?;
    }
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "not a frame head");
    let (h, _) = FrameHead::decode(&head)
        .map_err(|_| bad())?
        .ok_or_else(bad)?;
    let mut body = vec![0u8; usize::try_from(h.len).map_err(|_| bad())?];
    s.read_exact(&mut body)?;
    Ok(body)
}
