//! The devices driven end to end by simulated peers, in simulated time.
//!
//! Every remote peer is a real [`Session`](crate::conn::Session) configured as the socket an
//! application would use (REQ clients, REP workers, PUB publishers, SUB subscribers...), wired
//! to its device peer through in-memory pipes. The [`harness`] plays the device's caller as the
//! module docs describe it. Tests are grouped by device, then peers leaving and the counters,
//! forwarder subscriptions at scale and under abuse, random operation sequences, and
//! regressions.

use std::collections::{BTreeMap, BTreeSet};
use std::iter;
use std::vec::Vec;
use std::{format, vec};

use proptest::prelude::*;
use proptest::sample::Index;

use super::{CloseReason, DeviceConfig, Drops, Kind, Side};
use crate::conn::{SessionError, MAX_TOPIC};
use crate::wire::metadata::SocketType::{Dealer, Pub, Pull, Push, Rep, Req, Sub, XPub, XSub};
use harness::{encode, Msg, Net, Storage, VecQueue, P};
use remote::End;
use Side::{Backend, Frontend};

mod bypass;
mod caller;
mod capture;
mod deaf;
mod facts;
mod forwarder;
mod harness;
mod heartbeat;
mod isolation;
mod lagging;
mod last_value;
mod later;
mod lifecycle;
mod memory;
mod overdue;
mod probe;
mod queue;
mod regressions;
mod remote;
mod sequences;
mod sharing;
mod slow_clients;
mod spool;
mod steering;
mod streamer;
mod subscriptions;
mod turns;
mod vec_queue;

// Helpers shared by the test modules.

fn forwarder() -> DeviceConfig {
    DeviceConfig::new(Kind::Forwarder { classic: false })
}

/// Input buffers of 4 KB (a forwarder's a little over [`MAX_TOPIC`], as they must hold a
/// whole subscription): larger messages are cut through.
fn small_input(mut cfg: DeviceConfig) -> DeviceConfig {
    cfg.limits.max_command_size = 1024;
    cfg.input_capacity = match cfg.kind {
        Kind::Forwarder { .. } => MAX_TOPIC + 64,
        Kind::Queue | Kind::Streamer => 4096,
    };
    cfg
}

fn msg(frames: &[&[u8]]) -> Msg {
    frames.iter().map(|f| f.to_vec()).collect()
}

/// A request or reply as a REQ socket sends and receives it (behind an empty delimiter), or
/// as a DEALER does.
fn envelope(req: bool, body: &[u8]) -> Msg {
    if req {
        msg(&[b"", body])
    } else {
        msg(&[body])
    }
}

/// What an echoing worker answers, once the device has taken the routing frame off.
fn echo(request: &Msg) -> Msg {
    let mut m = request.clone();
    if let Some(last) = m.last_mut() {
        *last = [&b"re:"[..], last].concat();
    }
    m
}

fn on(topic: &[u8]) -> (bool, Vec<u8>) {
    (true, topic.to_vec())
}

fn off(topic: &[u8]) -> (bool, Vec<u8>) {
    (false, topic.to_vec())
}

/// A message whose every byte depends on its sender and number, so that a splice or a loss
/// shows; frame 0 starts with both.
fn tagged(from: u32, seq: u32, sizes: &[usize]) -> Msg {
    sizes
        .iter()
        .enumerate()
        .map(|(f, &len)| {
            let mut frame = Vec::with_capacity(8 + len);
            if f == 0 {
                frame.extend(from.to_be_bytes());
                frame.extend(seq.to_be_bytes());
            }
            let salt = from as usize * 101 + seq as usize * 31 + f * 7;
            frame.extend((0..len).map(|i| (salt + i) as u8));
            frame
        })
        .collect()
}

fn tag(m: &Msg) -> (u32, u32) {
    let word = |at: usize| u32::from_be_bytes(m[0][at..at + 4].try_into().unwrap());
    (word(0), word(4))
}

/// About 20 KB in three frames.
fn big(from: u32, seq: u32) -> Msg {
    tagged(from, seq, &[7000, 6000, 7000])
}

/// Every message the workers got is one that was sent, whole, and none came twice; with `all`,
/// every sent message arrived.
fn assert_delivered_once(net: &Net<'_>, workers: &[P], sent: &[Msg], all: bool) {
    let mut count: BTreeMap<&Msg, usize> = BTreeMap::new();
    for &w in workers {
        for m in net.msgs(w) {
            *count.entry(m).or_default() += 1;
        }
    }
    let sent_set: BTreeSet<&Msg> = sent.iter().collect();
    for (m, n) in &count {
        assert!(
            sent_set.contains(m),
            "a message that was never sent: {:?}",
            tag(m)
        );
        assert_eq!(*n, 1, "{:?} delivered {n} times", tag(m));
    }
    if all {
        assert_eq!(count.len(), sent_set.len(), "lost messages");
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
