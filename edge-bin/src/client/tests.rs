//! Lines to messages and back.

use super::*;

#[test]
fn a_message_is_a_line_of_its_frames_in_each_format() {
    let msg = vec![b"sensors/t1".to_vec(), b"21.5".to_vec()];
    let line = |f: Format, msg: &[Vec<u8>], d: &str| f.line(msg, d);
    assert_eq!(
        line(Format::Text, &msg, "\t"),
        (b"sensors/t1\t21.5\n".to_vec(), false)
    );
    assert_eq!(
        line(Format::Hex, &msg, " "),
        (b"73656e736f72732f7431 32312e35\n".to_vec(), false)
    );
    let key = vec![0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b];
    assert_eq!(
        line(Format::Z85, std::slice::from_ref(&key), "|"),
        (b"HelloWorld\n".to_vec(), false)
    );
    // A frame Z85 cannot write (10 bytes) goes in hex after '~', the others still in Z85;
    // and reads back.
    let mixed = vec![b"sensors/t1".to_vec(), key.clone()];
    let (text, in_hex) = line(Format::Z85, &mixed, "|");
    assert_eq!(text, b"~73656e736f72732f7431|HelloWorld\n");
    assert!(in_hex);
    assert_eq!(
        Format::Z85.split(&text[..text.len() - 1], "|").unwrap(),
        mixed
    );
    assert_eq!(line(Format::Text, &[], "\t"), (b"\n".to_vec(), false));
}

#[test]
fn a_line_is_split_into_frames_and_each_read_in_its_format() {
    assert_eq!(
        Format::Text.split(b"a\tb\t\tc", "\t").unwrap(),
        [b"a".to_vec(), b"b".to_vec(), Vec::new(), b"c".to_vec()]
    );
    assert_eq!(
        Format::Text.split(b"a, b", ", ").unwrap(),
        [b"a".to_vec(), b"b".to_vec()]
    );
    assert_eq!(Format::Text.split(b"", "\t").unwrap(), [Vec::<u8>::new()]);
    assert_eq!(
        Format::Hex.split(b"00ff AB", " ").unwrap(),
        [vec![0, 0xff], vec![0xab]]
    );
    assert_eq!(
        Format::Z85.decode("HelloWorld").unwrap(),
        [0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]
    );
    assert_eq!(
        Format::Hex.decode("abc").unwrap_err(),
        "'abc': hex needs two digits a byte"
    );
    assert_eq!(Format::Hex.decode("zz").unwrap_err(), "'zz' is not hex");
    assert!(Format::Z85
        .decode("Hell")
        .unwrap_err()
        .contains("is not Z85"));
    assert!(Format::Z85
        .decode("Hell\x01")
        .unwrap_err()
        .contains("is not Z85"));
}
