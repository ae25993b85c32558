//! zmq.rs (the `zeromq` crate) peers, driven synchronously from a test on a private tokio
//! runtime. zmq.rs speaks ZMTP 3.0: subscriptions as `0x01`/`0x00` messages, and its SUB does
//! no filtering of its own, so what it receives is exactly what the broker routed to it.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use tokio::runtime::Runtime;
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

/// A runtime for zmq.rs sockets. Create it before the sockets, so they drop first.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Run `f` on `rt`, failing the test if it takes longer than `limit`.
pub fn block<T>(rt: &Runtime, limit: Duration, what: &str, f: impl Future<Output = T>) -> T {
    rt.block_on(async { tokio::time::timeout(limit, f).await })
        .unwrap_or_else(|_| panic!("zmq.rs: {what} took over {limit:?}"))
}

/// A socket of type `S` connected to `endpoint`.
pub fn connect<S: Socket>(rt: &Runtime, endpoint: &str) -> S {
    block(rt, Duration::from_secs(10), "connect", async {
        let mut s = S::new();
        s.connect(endpoint)
            .await
            .unwrap_or_else(|e| panic!("zmq.rs cannot connect to {endpoint}: {e}"));
        s
    })
}

/// A zmq.rs SUB connected to `endpoint`, subscribed to `topics`.
pub fn sub(rt: &Runtime, endpoint: &str, topics: &[&str]) -> zeromq::SubSocket {
    let mut s: zeromq::SubSocket = connect(rt, endpoint);
    for t in topics {
        block(rt, Duration::from_secs(10), "subscribe", s.subscribe(t))
            .unwrap_or_else(|e| panic!("zmq.rs cannot subscribe: {e}"));
    }
    s
}

/// The next message within `timeout`, if any.
pub fn recv<S: SocketRecv>(rt: &Runtime, s: &mut S, timeout: Duration) -> Option<Vec<Vec<u8>>> {
    rt.block_on(async {
        match tokio::time::timeout(timeout, s.recv()).await {
            Ok(Ok(m)) => Some(m.iter().map(|f| f.to_vec()).collect()),
            Ok(Err(e)) => panic!("zmq.rs recv failed: {e}"),
            Err(_) => None,
        }
    })
}

/// Send one message.
pub fn send<S: SocketSend>(rt: &Runtime, s: &mut S, frames: &[&[u8]]) {
    let mut msg = ZmqMessage::from(frames[0].to_vec());
    for f in &frames[1..] {
        msg.push_back(f.to_vec().into());
    }
    block(rt, Duration::from_secs(10), "send", s.send(msg))
        .unwrap_or_else(|e| panic!("zmq.rs send failed: {e}"));
}
