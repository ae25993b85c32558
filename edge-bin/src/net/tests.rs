use super::*;

#[test]
fn limit_unsent_sets_tcp_notsent_lowat() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let s = Stream::Tcp(Async::new(c).unwrap());
    s.limit_unsent(64 << 10);
    let Stream::Tcp(a) = &s else { unreachable!() };
    let set = socket2::SockRef::from(a.get_ref()).tcp_notsent_lowat();
    assert_eq!(set.unwrap(), 64 << 10);
}

#[test]
fn wait_for_bytes_holds_readiness_until_that_many_are_here() {
    use std::io::Write as _;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let s = Stream::Tcp(Async::new(l.accept().unwrap().0).unwrap());
    // Readable through the reactor within `ms`: 100 ms to say it is not (the bytes are on
    // loopback long before), 5 s to say it is (a loaded machine may take its time).
    let readable = |s: &Stream, ms: u64| {
        let ready = async { poll_fn(|cx| s.poll_readable(cx)).await.is_ok() };
        let late = async {
            async_io::Timer::after(std::time::Duration::from_millis(ms)).await;
            false
        };
        futures_lite::future::block_on(futures_lite::future::or(ready, late))
    };
    assert!(s.wait_for_bytes(100));
    c.write_all(&[7; 60]).unwrap();
    assert!(!readable(&s, 100), "60 of 100 bytes made it readable");
    c.write_all(&[7; 40]).unwrap();
    assert!(
        readable(&s, 5000),
        "100 of 100 bytes did not make it readable"
    );
    // Back to any byte: 100 are there, so readable at once.
    assert!(s.wait_for_bytes(1));
    assert!(readable(&s, 5000));
    drop(c);
    let (a, _b) = UnixStream::pair().unwrap();
    assert!(!Stream::Unix(Async::new(a).unwrap()).wait_for_bytes(100));
}

#[test]
fn bind_reports_address_in_use() {
    let first = bind(&Endpoint::parse("tcp://127.0.0.1:45917").unwrap());
    let Ok(_first) = first else { return }; // port taken by someone else: nothing to test
    let err = bind(&Endpoint::parse("tcp://127.0.0.1:45917").unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot bind tcp://127.0.0.1:45917: address in use (is another zedge running?)"
    );
}

#[test]
fn ipc_stale_socket_is_replaced_live_one_refused_file_removed_on_drop() {
    let dir = std::env::temp_dir().join(format!("zedge-ep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.ipc");
    drop(UnixListener::bind(&path).unwrap()); // leaves a stale socket file
    let ep = Endpoint::parse(&format!("ipc://{}", path.display())).unwrap();
    let live = bind(&ep).unwrap();
    let err = bind(&ep).unwrap_err().to_string();
    assert!(
        err.ends_with("address in use (is another zedge running?)"),
        "{err}"
    );
    assert!(path.exists());
    drop(live);
    assert!(!path.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What a socket holds untaken falls as its reader reads, on TCP (bytes not acknowledged:
/// the reader's window shut until it makes room) and on Unix streams (bytes not read).
#[test]
fn unsent_falls_as_the_peer_reads() {
    use std::io::Read as _;
    fn fill(w: &mut impl std::io::Write) -> usize {
        let mut n = 0;
        while let Ok(k) = w.write(&[1; 64 << 10]) {
            n += k;
        }
        n
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let mut r = l.accept().unwrap().0;
    c.set_nonblocking(true).unwrap();
    let mut w = c.try_clone().unwrap();
    let s = Stream::Tcp(Async::new(c).unwrap());
    assert_eq!(s.unsent(), Some(0));
    let written = fill(&mut w);
    let held = s.unsent().unwrap();
    assert!(held > 0, "a reader that reads nothing leaves bytes untaken");
    // Read until the kernel lets more go (a window shut until the reader made room).
    let mut buf = vec![0; 64 << 10];
    let mut read = 0;
    while s.unsent().unwrap() >= held && read < written {
        read += r.read(&mut buf).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(s.unsent().unwrap() < held, "read {read} of {written}");

    let (a, mut b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let mut w = a.try_clone().unwrap();
    let s = Stream::Unix(Async::new(a).unwrap());
    let written = fill(&mut w);
    // Counted with the kernel's own overhead per buffer, so about as many.
    let held = s.unsent().unwrap() as usize;
    assert!(held >= written, "{held} of {written}");
    assert!(b.read(&mut buf).unwrap() > 0);
    assert!((s.unsent().unwrap() as usize) < held);
}

#[test]
fn an_interface_name_binds_its_address_as_libzmq_does() {
    let lo = interface_addr("lo");
    assert_eq!(lo, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert_eq!(interface_addr("nosuchif0"), None);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let l = bind(&Endpoint::parse(&format!("tcp://lo:{port}")).unwrap()).expect("bind lo");
    let Listener::Tcp(t) = &l else {
        panic!("a TCP listener")
    };
    assert_eq!(t.get_ref().local_addr().unwrap().ip(), lo.unwrap());
    let Err(e) = bind(&Endpoint::parse("tcp://nosuchif0:1").unwrap()) else {
        panic!("bound an interface that is not there")
    };
    assert!(
        e.to_string()
            .contains("nosuchif0 is no network interface here"),
        "{e}"
    );
}
