//! zmqrs-proxy DEVICE FRONTEND BACKEND: a zmq.rs (crate `zeromq` 0.7) broker for tools/bench.
//!
//! forwarder: XSUB frontend -> XPUB backend (subscriptions travel back upstream)
//! queue:     ROUTER frontend <-> DEALER backend
//! streamer:  PULL frontend -> PUSH backend
//!
//! The loop is `zeromq::proxy`'s (a `select!` over both sockets' `recv`, each message sent on
//! to the other side), written out so that a peer's receive error (a peer leaving) does not end
//! the broker, and so PULL/PUSH, which are not both send and receive, fit it too.

use futures::{select, FutureExt};
use zeromq::prelude::*;
use zeromq::{DealerSocket, PullSocket, PushSocket, RouterSocket, XPubSocket, XSubSocket};

/// Errors are counted and reported at counts 1, 2, 4, 8 ...: zmq.rs's PUSH fails every send
/// while no worker is connected (it drops the message), and one line per message would cost
/// the broker more than the message.
fn report(side: &str, e: &zeromq::ZmqError, count: &mut u64) {
    *count += 1;
    if count.is_power_of_two() {
        eprintln!("zmqrs-proxy: {side}: {e} ({count} errors so far)");
    }
}

fn ep(s: &str) -> &str {
    s.trim_start_matches('@')
}

async fn both_ways<F, B>(mut front: F, mut back: B)
where
    F: SocketSend + SocketRecv,
    B: SocketSend + SocketRecv,
{
    let (mut fe_errs, mut be_errs) = (0, 0);
    loop {
        select! {
            m = front.recv().fuse() => match m {
                Ok(m) => if let Err(e) = back.send(m).await { report("backend", &e, &mut be_errs) },
                Err(e) => report("frontend", &e, &mut fe_errs),
            },
            m = back.recv().fuse() => match m {
                Ok(m) => if let Err(e) = front.send(m).await { report("frontend", &e, &mut fe_errs) },
                Err(e) => report("backend", &e, &mut be_errs),
            },
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 {
        eprintln!("usage: zmqrs-proxy forwarder|queue|streamer FRONTEND BACKEND");
        std::process::exit(2);
    }
    let (fe, be) = (ep(&args[1]), ep(&args[2]));
    match args[0].as_str() {
        "forwarder" => {
            let mut f = XSubSocket::new();
            f.bind(fe).await.expect("bind frontend");
            let mut b = XPubSocket::new();
            b.bind(be).await.expect("bind backend");
            both_ways(f, b).await;
        }
        "queue" => {
            let mut f = RouterSocket::new();
            f.bind(fe).await.expect("bind frontend");
            let mut b = DealerSocket::new();
            b.bind(be).await.expect("bind backend");
            both_ways(f, b).await;
        }
        "streamer" => {
            let mut f = PullSocket::new();
            f.bind(fe).await.expect("bind frontend");
            let mut b = PushSocket::new();
            b.bind(be).await.expect("bind backend");
            let (mut fe_errs, mut be_errs) = (0, 0);
            loop {
                match f.recv().await {
                    Ok(m) => {
                        if let Err(e) = b.send(m).await {
                            report("backend", &e, &mut be_errs);
                        }
                    }
                    Err(e) => report("frontend", &e, &mut fe_errs),
                }
            }
        }
        d => {
            eprintln!("zmqrs-proxy: unknown device {d}");
            std::process::exit(2);
        }
    }
}
