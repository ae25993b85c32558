//! Micro-benchmark of the CURVE boxes (XSalsa20-Poly1305, `curve::salsa`): `seal` and `open`
//! in place at 256 B and 64 KiB, and Poly1305 alone (seal less it: about XSalsa20's share), to compare with libsodium's `crypto_secretbox` through
//! `bench/sodium_box.c`, which prints the same lines.
//!
//! Run: `cargo bench -p zedge-core --features curve,std --bench curve` (`-- NAME` runs the lines
//! whose name contains NAME, e.g. `-- open`; `-- --wide` gives the keystream to the binary's
//! widest path for this CPU, `edge-bin/src/secure/wide.rs`, AVX2 on x86_64). Reference:
//! `cc -O2 -o /tmp/sodium_box bench/sodium_box.c -lsodium && /tmp/sodium_box`.
//!
//! Each line: the best of REPS timed batches (each about 20 ms) in ns per message and MB/s
//! (10^6 bytes of message body per second). `open` copies the sealed box into the buffer
//! before each open (it decrypts in place), as the C program does; the copy is a few percent
//! of a 64 KiB open. Without `--bench` (`cargo test --benches`) each runs once, as a smoke
//! test. Timings on a shared machine are noisy: compare best-of figures of runs made one
//! after the other.

use std::hint::black_box;
use std::time::{Duration, Instant};

use zedge_core::curve::salsa::{open, poly1305, seal};

/// The binary's wider keystream paths, the same source.
#[path = "../../edge-bin/src/secure/wide.rs"]
mod wide;

const REPS: usize = 15;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    if args.iter().any(|a| a == "--wide") {
        println!(
            "keystream: {}",
            wide::use_widest().unwrap_or("the core's own")
        );
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(*f));
    let key = [0x42u8; 32];
    let nonce: [u8; 24] = core::array::from_fn(|i| i as u8);
    for len in [256usize, 64 << 10] {
        let mut buf = vec![0u8; 16 + len];
        for (i, b) in buf[16..].iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        let name = format!("seal {len}");
        if wanted(&name) {
            let mut b = buf.clone();
            report(&name, len, bench, || {
                assert!(seal(&key, &nonce, black_box(&mut b)));
            });
        }
        let mut sealed = buf.clone();
        assert!(seal(&key, &nonce, &mut sealed));
        let name = format!("open {len}");
        if wanted(&name) {
            let mut b = buf.clone();
            report(&name, len, bench, || {
                b.copy_from_slice(&sealed);
                assert!(open(&key, &nonce, black_box(&mut b)));
            });
            assert_eq!(b[16..], buf[16..], "opens to the plaintext");
        }
        let name = format!("poly1305 {len}");
        if wanted(&name) {
            report(&name, len, bench, || {
                black_box(poly1305(&key, black_box(&buf[16..])));
            });
        }
    }
}

/// Time `op` (one message of `len` bytes) and print the best of `REPS` batches.
fn report(name: &str, len: usize, bench: bool, mut op: impl FnMut()) {
    if !bench {
        op();
        println!("{name:<12} ok");
        return;
    }
    let mut batch = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..batch {
            op();
        }
        if t.elapsed() >= Duration::from_millis(20) {
            break;
        }
        batch *= 2;
    }
    let best = (0..REPS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batch {
                op();
            }
            t.elapsed().as_nanos() as f64 / batch as f64
        })
        .fold(f64::INFINITY, f64::min);
    println!(
        "{name:<12} {best:>10.1} ns/msg {:>8.1} MB/s",
        len as f64 * 1e3 / best
    );
}
