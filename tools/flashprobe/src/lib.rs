//! What the core costs in flash on a Cortex-M4F (`tools/flash-size`): the NULL session alone,
//! then with a CURVE link of either role under it. Each entry point takes its state through a
//! pointer, so that no state of the session or link is known at build time and every path
//! of it stays in. Not part of the workspace; `unsafe` only to take C pointers.

#![no_std]
use zedge_core::conn::{Session, SessionConfig};
use zedge_core::time::Instant;
use zedge_core::wire::metadata::SocketType;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[no_mangle]
pub extern "C" fn null_new(s: *mut Session) {
    unsafe { s.write(Session::new(SessionConfig::new(SocketType::Dealer), Instant::ZERO)) };
}

/// A NULL session (any state) fed bytes and asked for its output: what any firmware links.
#[no_mangle]
pub extern "C" fn probe_null(s: *mut Session, input: *const u8, len: usize, out: *mut u8, cap: usize) -> usize {
    let s = unsafe { &mut *s };
    let input = unsafe { core::slice::from_raw_parts(input, len) };
    let out = unsafe { core::slice::from_raw_parts_mut(out, cap) };
    let n = s.handle_input(input, Instant::ZERO).map(|i| i.consumed).unwrap_or(0);
    n + s.poll_transmit(out)
}

#[cfg(feature = "curve")]
use zedge_core::curve::link::{Link, TX_ROOM};

#[cfg(feature = "curve")]
#[no_mangle]
pub extern "C" fn curve_new(l: *mut Link, secret: *const [u8; 32], random: *const [u8; 96], server: *const [u8; 32], client: bool) {
    use zedge_core::curve::crypto::KeyPair;
    let keys = KeyPair::from_secret(unsafe { *secret });
    let link = if client {
        Link::client(keys, unsafe { *server }, [0; 48], 1 << 16)
    } else {
        Link::server(keys, unsafe { *random }, 1 << 16)
    };
    unsafe { l.write(link) };
}

/// A CURVE link (either role, any state) under the session: input opened, output sealed.
#[cfg(feature = "curve")]
#[no_mangle]
pub extern "C" fn probe_curve(l: *mut Link, input: *mut u8, len: usize, out: *mut u8, cap: usize, md: *const u8, mdl: usize) -> usize {
    let link = unsafe { &mut *l };
    let input = unsafe { core::slice::from_raw_parts_mut(input, len) };
    let out = unsafe { core::slice::from_raw_parts_mut(out, cap) };
    let md = unsafe { core::slice::from_raw_parts(md, mdl) };
    let mut tx = [0u8; TX_ROOM];
    let a = link.open(input, &mut tx, |k| k[0] == 1).map(|_| 1).unwrap_or(0);
    let b = link.take_outgoing(md, out).map(|_| 1).unwrap_or(0);
    let c = link.send_metadata(md, out).unwrap_or(0);
    a + b + c + tx[0] as usize
}
