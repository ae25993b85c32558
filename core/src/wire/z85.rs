//! Z85 (ZeroMQ RFC 32): binary as printable text, 4 bytes to 5 characters, as CURVE keys are
//! written in certificates, config files and on command lines (40 characters for a 32-byte
//! key).
//!
//! Strict as the RFC asks: the binary length must be a multiple of 4 and the text's a
//! multiple of 5; a character outside the alphabet, or a group of 5 that encodes more than 32
//! bits, is an error (never wrapped into another value).

use core::fmt;

/// The alphabet, value 0 to 84.
const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Character to value, 0xff for none.
const VALUES: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 85 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Why a Z85 encoding or decoding failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Z85Error {
    /// The input's length is not a multiple of 4 (encoding) or 5 (decoding).
    Length,
    /// A character at this position is not in the alphabet.
    Character(usize),
    /// The group of 5 characters starting here encodes more than 32 bits.
    Overflow(usize),
    /// The output buffer is too small.
    OutputTooSmall,
}

impl fmt::Display for Z85Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Z85Error::Length => f.write_str("length is not a multiple of 5 characters (4 bytes)"),
            Z85Error::Character(at) => write!(f, "character {} is not Z85", at + 1),
            Z85Error::Overflow(at) => {
                write!(
                    f,
                    "characters {}-{} encode more than 32 bits",
                    at + 1,
                    at + 5
                )
            }
            Z85Error::OutputTooSmall => f.write_str("output buffer too small"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Z85Error {}

/// Encode `bin` (a multiple of 4 bytes) into `out`; returns the characters written.
pub fn encode(bin: &[u8], out: &mut [u8]) -> Result<usize, Z85Error> {
    if bin.len() % 4 != 0 {
        return Err(Z85Error::Length);
    }
    let n = bin.len() / 4 * 5;
    let out = out.get_mut(..n).ok_or(Z85Error::OutputTooSmall)?;
    for (chunk, text) in bin.chunks_exact(4).zip(out.chunks_exact_mut(5)) {
        let mut value = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        for c in text.iter_mut().rev() {
            *c = ALPHABET[(value % 85) as usize];
            value /= 85;
        }
    }
    Ok(n)
}

/// Decode `text` (a multiple of 5 characters) into `out`; returns the bytes written.
pub fn decode(text: &[u8], out: &mut [u8]) -> Result<usize, Z85Error> {
    if text.len() % 5 != 0 {
        return Err(Z85Error::Length);
    }
    let n = text.len() / 5 * 4;
    let out = out.get_mut(..n).ok_or(Z85Error::OutputTooSmall)?;
    for (g, (group, bin)) in text
        .chunks_exact(5)
        .zip(out.chunks_exact_mut(4))
        .enumerate()
    {
        let mut value: u64 = 0;
        for (i, &c) in group.iter().enumerate() {
            let v = VALUES[c as usize];
            if v == 0xff {
                return Err(Z85Error::Character(g * 5 + i));
            }
            value = value * 85 + u64::from(v);
        }
        let value = u32::try_from(value).map_err(|_| Z85Error::Overflow(g * 5))?;
        bin.copy_from_slice(&value.to_be_bytes());
    }
    Ok(n)
}

/// A 32-byte key as its 40 characters.
pub fn encode_key(key: &[u8; 32]) -> [u8; 40] {
    let mut out = [0u8; 40];
    // 32 is a multiple of 4 and the buffer holds 40: cannot fail.
    let _ = encode(key, &mut out);
    out
}

/// A 32-byte key from its 40 characters.
pub fn decode_key(text: &[u8]) -> Result<[u8; 32], Z85Error> {
    if text.len() != 40 {
        return Err(Z85Error::Length);
    }
    let mut key = [0u8; 32];
    decode(text, &mut key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec;

    /// RFC 32's test vector.
    const HELLO: [u8; 8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];

    #[test]
    fn rfc_32_test_vector() {
        let mut text = [0u8; 10];
        assert_eq!(encode(&HELLO, &mut text), Ok(10));
        assert_eq!(&text, b"HelloWorld");
        let mut bin = [0u8; 8];
        assert_eq!(decode(b"HelloWorld", &mut bin), Ok(8));
        assert_eq!(bin, HELLO);
    }

    #[test]
    fn the_server_key_of_libzmqs_curve_tests_decodes_as_libzmq_decodes_it() {
        // The bytes are pyzmq's `zmq.utils.z85.decode` of the same text.
        let text = b"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
        let want = [
            84, 252, 186, 36, 233, 50, 73, 150, 147, 22, 251, 97, 124, 135, 43, 176, 193, 209, 255,
            20, 128, 4, 39, 197, 148, 203, 250, 207, 27, 194, 214, 82,
        ];
        assert_eq!(decode_key(text), Ok(want));
        assert_eq!(&encode_key(&want), text);
    }

    #[test]
    fn bad_input_is_refused_with_where() {
        let mut out = [0u8; 64];
        assert_eq!(encode(&[1, 2, 3], &mut out), Err(Z85Error::Length));
        assert_eq!(decode(b"Hell", &mut out), Err(Z85Error::Length));
        assert_eq!(decode(b"Hello Worl", &mut out), Err(Z85Error::Character(5)));
        assert_eq!(decode(b"Hell\"", &mut out), Err(Z85Error::Character(4)));
        // 84 x 85^4 + ... is over 2^32: refused, not wrapped.
        assert_eq!(
            decode(b"HelloWorld#####", &mut out),
            Err(Z85Error::Overflow(10))
        );
        assert_eq!(
            decode(b"%nSc0", &mut out),
            Ok(4),
            "the largest value, 2^32 - 1"
        );
        assert_eq!(out[..4], [0xff; 4]);
        assert_eq!(decode(b"%nSc1", &mut out), Err(Z85Error::Overflow(0)));
        assert_eq!(
            decode(b"HelloWorld", &mut out[..7]),
            Err(Z85Error::OutputTooSmall)
        );
        assert_eq!(encode(&HELLO, &mut out[..9]), Err(Z85Error::OutputTooSmall));
        assert_eq!(decode_key(b"HelloWorld"), Err(Z85Error::Length));
    }

    proptest! {
        #[test]
        fn round_trips(words in proptest::collection::vec(any::<[u8; 4]>(), 0..40)) {
            let bin: vec::Vec<u8> = words.concat();
            let mut text = vec![0u8; bin.len() / 4 * 5];
            prop_assert_eq!(encode(&bin, &mut text), Ok(text.len()));
            prop_assert!(text.iter().all(|c| ALPHABET.contains(c)));
            let mut back = vec![0u8; bin.len()];
            prop_assert_eq!(decode(&text, &mut back), Ok(bin.len()));
            prop_assert_eq!(back, bin);
        }

        #[test]
        fn any_text_decodes_or_is_refused_without_panicking(text in proptest::collection::vec(any::<u8>(), 0..60)) {
            let mut out = [0u8; 48];
            let _ = decode(&text, &mut out);
        }
    }
}
