//! zedge-core: ZMTP 3.x and the ZeroMQ devices, as a sans-IO, `no_std`, fixed-capacity engine.
//!
//! The layers, each using only the ones above it in this list:
//!
//! - [`time`]: `Instant` and `Duration` values; the core never reads a clock.
//! - [`wire`]: ZMTP bytes. Greetings, frame headers, commands, READY metadata. Decoders borrow
//!   the caller's input and say "need more" instead of failing on a partial unit; encoders
//!   write whole units into caller buffers or nothing.
//! - [`conn`]: one `Session` per connection. Greeting, NULL handshake, socket-type check,
//!   heartbeats (PING/PONG, TTL, timeouts), limits enforced from headers.
//! - [`device`]: a `Device` over many sessions: forwarder, queue and streamer, one module
//!   each, over shared machinery (the input pump, messages in flight, the worker ring, the
//!   peer table and its lists, the subscription table, per-peer outbound byte queues).
//!
//! Bytes and `now` go in; events, bytes to send and the next deadline come out. Nothing here
//! allocates, blocks, or panics on anything a peer sends. `docs/architecture.md` traces one
//! message through the layers and the binary around them.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod conn;
#[cfg(feature = "curve")]
pub mod curve;
pub mod device;
pub mod time;
pub mod wire;
