//! A session fed fuzzed bytes, from its first greeting byte and after a valid handshake: it
//! must never panic, stall with a full buffer, report more than its limits allow, or take
//! input after an error. See `Setup::from_bytes` for the three control bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use zedge_core_fuzz::{drive, handshake, Setup};

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let setup = Setup::from_bytes(control);
    let _ = drive(setup, rest);
    let mut stream = handshake(setup.cfg.socket_type);
    stream.extend_from_slice(rest);
    let _ = drive(setup, &stream);
});
