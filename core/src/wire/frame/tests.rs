//! Frame heads against their bytes (libzmq's captured frames among them), sizes that cannot be
//! trusted, flags that are refused, and the scan for a whole message, fresh and resumed.

use super::*;
use crate::wire::vectors;

#[test]
fn short_and_long_round_trip() {
    for (head, bytes) in [
        (FrameHead::data(5, true), &[0x01, 0x05][..]),
        (FrameHead::data(0, false), &[0x00, 0x00][..]),
        (FrameHead::command(255), &[0x04, 0xff][..]),
        (
            FrameHead::data(256, false),
            &[0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x00][..],
        ),
        (
            FrameHead::command(300),
            &[0x06, 0, 0, 0, 0, 0, 0, 0x01, 0x2c][..],
        ),
    ] {
        assert_eq!(head.encode().as_slice(), bytes);
        assert_eq!(head.encoded_len(), bytes.len());
        assert_eq!(FrameHead::decode(bytes), Ok(Some((head, bytes.len()))));
        for n in 0..bytes.len() {
            assert_eq!(FrameHead::decode(&bytes[..n]), Ok(None));
        }
    }
}

#[test]
fn long_form_with_small_size_is_accepted() {
    let bytes = [0x02, 0, 0, 0, 0, 0, 0, 0, 0x03];
    assert_eq!(
        FrameHead::decode(&bytes),
        Ok(Some((FrameHead::data(3, false), 9)))
    );
}

#[test]
fn huge_sizes_are_reported_not_trusted() {
    let bytes = [0x02, 0x40, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        FrameHead::decode(&bytes),
        Ok(Some((FrameHead::data(1 << 62, false), 9)))
    );
}

#[test]
fn bad_flags_refused() {
    assert_eq!(
        FrameHead::decode(&[0x08]),
        Err(FrameError::ReservedFlags(0x08))
    );
    assert_eq!(
        FrameHead::decode(&[0x80, 0]),
        Err(FrameError::ReservedFlags(0x80))
    );
    assert_eq!(
        FrameHead::decode(&[0x05, 0]),
        Err(FrameError::CommandWithMore)
    );
}

#[test]
fn whole_messages_are_recognised() {
    let msg = vectors::MULTIPART_PUSH;
    assert!(holds_message(msg));
    for n in 0..msg.len() {
        assert!(!holds_message(&msg[..n]), "prefix {n}");
    }
    // A PING between the frames of a message does not end it.
    let mut with_cmd = std::vec::Vec::from(&msg[..7]);
    with_cmd.extend_from_slice(vectors::PING_DEALER);
    assert!(!holds_message(&with_cmd));
    with_cmd.extend_from_slice(&msg[7..]);
    assert!(holds_message(&with_cmd));
    assert!(!holds_message(&[
        0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
    ]));
}

#[test]
fn a_whole_message_has_a_length_and_a_partial_one_is_all_of_the_input() {
    let msg = vectors::MULTIPART_PUSH;
    let (head, used) = FrameHead::decode(msg).unwrap().unwrap();
    assert_eq!(message_extent(msg, head, used), (Some(0), msg.len()));
    let mut two = msg.to_vec();
    two.extend_from_slice(msg);
    assert_eq!(
        message_extent(&two, head, used),
        (Some(0), msg.len()),
        "the first only"
    );
    for n in used..msg.len() {
        let (missing, len) = message_extent(&msg[..n], head, used);
        assert_eq!(len, n, "prefix {n}");
        assert_eq!(missing, message_missing(&msg[..n], head, used));
        assert_ne!(missing, Some(0));
    }
    let huge = [0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    let (head, used) = FrameHead::decode(&huge).unwrap().unwrap();
    assert_eq!(
        message_extent(&huge, head, used).1,
        huge.len(),
        "no overflow"
    );
}

#[test]
fn libzmq_multipart_frames() {
    // hello, empty, 300 x's: short MORE, short MORE, long last.
    let mut at = 0;
    let mut seen = [(false, 0u64); 3];
    for slot in &mut seen {
        let (head, used) = FrameHead::decode(&vectors::MULTIPART_PUSH[at..])
            .unwrap()
            .unwrap();
        assert!(!head.command);
        *slot = (head.more, head.len);
        at += used + head.len as usize;
    }
    assert_eq!(seen, [(true, 5), (true, 0), (false, 300)]);
    assert_eq!(at, vectors::MULTIPART_PUSH.len());
}

#[test]
fn a_scan_resumed_piece_by_piece_answers_as_a_fresh_one_and_reads_each_frame_once() {
    // The libzmq multipart message with a PING between its frames, then 1,000 empty MORE
    // frames before its end.
    let msg = vectors::MULTIPART_PUSH;
    let mut bytes = std::vec::Vec::from(&msg[..7]);
    bytes.extend_from_slice(vectors::PING_DEALER);
    bytes.extend_from_slice(&msg[7..msg.len() - 300 - 9]);
    for _ in 0..1000 {
        bytes.extend_from_slice(&[0x01, 0x00]);
    }
    bytes.extend_from_slice(&msg[msg.len() - 300 - 9..]);
    let (head, used) = FrameHead::decode(&bytes).unwrap().unwrap();
    let mut kept = MessageScan::new(head, used);
    let mut frames_read = 0;
    for n in used..=bytes.len() {
        // Kept as it is, or only its position, as the device keeps it.
        let mut resumed = MessageScan::resume(&bytes[..n], kept.position()).unwrap();
        let want = message_missing(&bytes[..n], head, used);
        assert_eq!(resumed.missing(&bytes[..n]), want, "prefix {n}");
        assert_eq!(kept.missing(&bytes[..n]), want, "prefix {n}");
        assert_eq!(resumed.position(), kept.position());
        frames_read += resumed.frames();
    }
    // Each frame head after the first was read once: the PING, 1,001 empty frames, the
    // last.
    assert_eq!(frames_read, 1 + 1001 + 1);
    assert_eq!(kept.frames(), 1 + 1001 + 1);
    assert_eq!(kept.missing(&bytes), Some(0));
    assert_eq!(MessageScan::resume(&bytes[..3], 7), None);
}
