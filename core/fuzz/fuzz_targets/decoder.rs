//! The wire decoders on fuzzed bytes: no panics, lengths within the input, and what decodes
//! re-encodes to something that decodes the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use zedge_core::wire::command::{Command, MAX_PING_CONTEXT};
use zedge_core::wire::frame::{FrameHead, MAX_HEAD_LEN};
use zedge_core::wire::greeting::Greeting;
use zedge_core::wire::metadata::Properties;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((head, used))) = FrameHead::decode(data) {
        assert!(used == 2 || used == MAX_HEAD_LEN);
        assert!(used <= data.len());
        assert!(!(head.command && head.more));
        let again = head.encode();
        assert_eq!(
            FrameHead::decode(again.as_slice()),
            Ok(Some((head, again.as_slice().len())))
        );
    }

    match Command::parse(data) {
        Ok(Command::Ready(props)) => properties(props, data.len()),
        Ok(Command::Ping { context, .. }) => assert!(context.len() <= MAX_PING_CONTEXT),
        Ok(Command::Error { reason }) => assert!(reason.len() <= 255),
        Ok(Command::Unknown { name }) => assert!(!name.is_empty()),
        Ok(_) | Err(_) => {}
    }

    if let Ok(Some(g)) = Greeting::decode(data) {
        assert!(g.major >= 3);
        assert_eq!(Greeting::decode(&g.encode()), Ok(Some(g)));
    }

    properties(Properties::new(data), data.len());
});

/// Iteration ends (each property takes at least two bytes) and stops at the first error.
fn properties(props: Properties<'_>, max: usize) {
    let _ = props.find("Socket-Type");
    let mut count = 0;
    for prop in props {
        count += 1;
        assert!(count <= max / 2 + 1, "properties do not end");
        if let Ok((name, _)) = prop {
            assert!(!name.is_empty());
        }
    }
}
