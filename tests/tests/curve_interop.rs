//! zedge-core's CURVE commands against a real libzmq CURVE client (pyzmq): this test plays
//! the server by hand over a raw socket (greeting, WELCOME, READY, MESSAGE from
//! `zedge_core::curve`), and libzmq completes the handshake, sends a message that opens here,
//! and reads the one sealed here. (Groundwork of issue 13: the session layer does not use
//! CURVE yet.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use zedge_core::curve::crypto::{CryptoBox, KeyPair};
use zedge_core::curve::hello::{
    read_hello, read_welcome, write_hello, write_welcome, WelcomeRandom, HELLO_LEN, WELCOME_LEN,
};
use zedge_core::curve::initiate::{
    read_initiate, read_ready, write_initiate, write_ready, ClientKeys, Welcomed, INITIATE_MIN,
};
use zedge_core::curve::message::{read_message, write_message, From, Keys, OVERHEAD};
use zedge_core::wire::frame::FrameHead;
use zedge_core::wire::metadata::Properties;
use zedge_core::wire::z85::decode_key;
use zedge_tests::broker::free_port;
use zedge_tests::PyPeer;

/// libzmq's test key pairs (its tests/testutil_security.cpp).
const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
const CLIENT_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
const CLIENT_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

/// A libzmq DEALER that is a CURVE client of the server key (argv: endpoint and the keys),
/// sends `hello` and prints what it receives.
const CLIENT: &str = r#"
import sys, zmq
ep, server, public, secret = sys.argv[1:5]
s = zmq.Context().socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.RCVTIMEO, 10000)
s.curve_serverkey = server.encode()
s.curve_publickey = public.encode()
s.curve_secretkey = secret.encode()
s.connect(ep)
s.send(b"hello")
print("GOT", s.recv().decode())
"#;

/// One frame from the socket: its head and body.
fn read_frame(s: &mut TcpStream) -> (FrameHead, Vec<u8>) {
    let mut head = vec![0u8; 2];
    s.read_exact(&mut head).expect("a frame head");
    if head[0] & 0x02 != 0 {
        head.resize(9, 0);
        s.read_exact(&mut head[2..]).expect("a long frame head");
    }
    let (h, _) = FrameHead::decode(&head)
        .expect("a frame head")
        .expect("a whole head");
    let mut body = vec![0u8; h.len as usize];
    s.read_exact(&mut body).expect("a frame body");
    (h, body)
}

/// The 64-byte ZMTP 3.1 greeting of a CURVE peer.
fn curve_greeting(as_server: bool) -> [u8; 64] {
    let mut greeting = [0u8; 64];
    greeting[0] = 0xff;
    greeting[9] = 0x7f;
    greeting[10..12].copy_from_slice(&[3, 1]);
    greeting[12..17].copy_from_slice(b"CURVE");
    greeting[32] = u8::from(as_server);
    greeting
}

fn write_data(s: &mut TcpStream, body: &[u8]) {
    let head = FrameHead::data(body.len() as u64, false).encode();
    s.write_all(head.as_slice()).expect("a data head");
    s.write_all(body).expect("a data body");
}

fn write_command(s: &mut TcpStream, body: &[u8]) {
    let head = FrameHead::command(body.len() as u64).encode();
    s.write_all(head.as_slice()).expect("a command head");
    s.write_all(body).expect("a command body");
}

#[test]
fn a_libzmq_curve_client_completes_the_handshake_with_zedge_s_commands_and_talks_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("tcp://{}", listener.local_addr().unwrap());
    let args: Vec<String> = [&ep[..], SERVER_PUBLIC, CLIENT_PUBLIC, CLIENT_SECRET]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let client = PyPeer::spawn("curve client", CLIENT, &args, Duration::from_secs(30));
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();

    // Greetings: ours says CURVE, as server.
    s.write_all(&curve_greeting(true)).unwrap();
    let mut theirs = [0u8; 64];
    s.read_exact(&mut theirs).unwrap();
    assert_eq!(&theirs[12..17], b"CURVE");
    assert_eq!(theirs[32], 0, "the client says it is no server");

    let server = KeyPair::from_secret(decode_key(SERVER_SECRET.as_bytes()).unwrap());
    assert_eq!(Ok(server.public), decode_key(SERVER_PUBLIC.as_bytes()));
    let (head, hello) = read_frame(&mut s);
    assert!(head.command);
    let hello = read_hello(&hello, &server).expect("libzmq's HELLO");

    let random = WelcomeRandom {
        transient_secret: [0x31; 32],
        cookie_key: [0x32; 32],
        cookie_nonce: [0x33; 16],
        welcome_nonce: [0x34; 16],
    };
    let mut welcome = [0u8; WELCOME_LEN];
    write_welcome(&hello, &server, &random, &mut welcome).unwrap();
    write_command(&mut s, &welcome);

    let (_, mut initiate) = read_frame(&mut s);
    let welcomed = Welcomed {
        cookie_key: random.cookie_key,
        client_transient: hello.client_transient,
        hello_nonce: hello.nonce,
    };
    let done = read_initiate(&mut initiate, &server, &welcomed).expect("libzmq's INITIATE");
    assert_eq!(
        Ok(done.client),
        decode_key(CLIENT_PUBLIC.as_bytes()),
        "the client's long-term key, vouched for"
    );
    let props = Properties::new(done.metadata);
    assert_eq!(props.find("Socket-Type"), Ok(Some(&b"DEALER"[..])));
    let last_in = done.nonce;
    let session = done.session;

    let ready_meta = b"\x0bSocket-Type\x00\x00\x00\x06DEALER";
    let mut ready = [0u8; 64];
    let n = write_ready(&session, 1, ready_meta, &mut ready).unwrap();
    write_command(&mut s, &ready[..n]);

    // libzmq's first MESSAGE, with the data frame "hello" in its box. libzmq sends each
    // MESSAGE as a final data frame (its MORE and COMMAND bits are inside the box).
    let (head, mut msg) = read_frame(&mut s);
    assert!(!head.command && !head.more, "{head:?}");
    let opened =
        read_message(&mut msg, &Keys::new(&session), From::Client, last_in).expect("a MESSAGE");
    assert_eq!((opened.flags, opened.body), (0, &b"hello"[..]));

    let mut out = [0u8; 64];
    let n = write_message(
        &Keys::new(&session),
        From::Server,
        2,
        0,
        &[b"world"],
        &mut out,
    )
    .unwrap();
    assert_eq!(n, OVERHEAD + 5);
    write_data(&mut s, &out[..n]);
    let printed = client.finish();
    assert!(printed.contains("GOT world"), "{printed}");
}

/// A libzmq ROUTER that is a CURVE server (argv: the server's secret key and the endpoint it
/// binds): answers one message with `world`, and prints the request.
const SERVER: &str = r#"
import sys, zmq
s = zmq.Context().socket(zmq.ROUTER)
s.setsockopt(zmq.LINGER, 1000)
s.setsockopt(zmq.RCVTIMEO, 10000)
s.curve_server = True
s.curve_secretkey = sys.argv[1].encode()
s.bind(sys.argv[2])
who, body = s.recv_multipart()
s.send_multipart([who, b"world"])
print("GOT", body.decode())
"#;

#[test]
fn zedge_s_client_commands_complete_the_handshake_with_a_libzmq_curve_server() {
    let port = free_port();
    let args = vec![SERVER_SECRET.to_owned(), format!("tcp://127.0.0.1:{port}")];
    let server_proc = PyPeer::spawn("curve server", SERVER, &args, Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "the server never bound: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&curve_greeting(false)).unwrap();
    let mut theirs = [0u8; 64];
    s.read_exact(&mut theirs).unwrap();
    // libzmq 4.3.5 says as-server 0 in its greeting even as a CURVE server: a client must not
    // require the flag.
    assert_eq!(&theirs[12..17], b"CURVE");

    let server = decode_key(SERVER_PUBLIC.as_bytes()).unwrap();
    let client = KeyPair::from_secret(decode_key(CLIENT_SECRET.as_bytes()).unwrap());
    let transient = KeyPair::from_secret([0x51; 32]);
    let mut hello = [0u8; HELLO_LEN];
    write_hello(&server, &transient, 1, &mut hello).unwrap();
    write_command(&mut s, &hello);
    let (_, welcome) = read_frame(&mut s);
    let welcome = read_welcome(&welcome, &server, &transient).expect("libzmq's WELCOME");

    let meta = b"\x0bSocket-Type\x00\x00\x00\x06DEALER";
    let keys = ClientKeys {
        server: &server,
        client: &client,
        transient: &transient,
        welcome: &welcome,
    };
    let mut initiate = vec![0u8; INITIATE_MIN + meta.len()];
    let n = write_initiate(&keys, 2, &[0x52; 16], meta, &mut initiate).unwrap();
    write_command(&mut s, &initiate[..n]);
    let session = CryptoBox::new(&welcome.server_transient, transient.secret()).unwrap();
    let (_, mut ready) = read_frame(&mut s);
    let (ready_nonce, props) = read_ready(&mut ready, &session).expect("libzmq's READY");
    assert_eq!(
        Properties::new(props).find("Socket-Type"),
        Ok(Some(&b"ROUTER"[..]))
    );

    let mut out = [0u8; 64];
    let n = write_message(
        &Keys::new(&session),
        From::Client,
        3,
        0,
        &[b"hello"],
        &mut out,
    )
    .unwrap();
    write_data(&mut s, &out[..n]);
    let (_, mut answer) = read_frame(&mut s);
    let opened = read_message(&mut answer, &Keys::new(&session), From::Server, ready_nonce)
        .expect("a MESSAGE");
    assert_eq!((opened.flags, opened.body), (0, &b"world"[..]));
    let printed = server_proc.finish();
    assert!(printed.contains("GOT hello"), "{printed}");
}
