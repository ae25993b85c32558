//! Messages as lines: a message's frames joined by a delimiter, each frame as it is (text), in
//! hex, or in Z85 (RFC 32: frames whose length is a multiple of 4, as keys are; another frame
//! is written `~` and its hex, which no Z85 text holds, and read back so).

use zedge_core::wire::z85;

/// How a frame is written in a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The bytes themselves.
    Text,
    /// Two lowercase hex digits a byte (upper case read too).
    Hex,
    /// Z85, 5 characters for 4 bytes.
    Z85,
}

impl Format {
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "text" => Some(Format::Text),
            "hex" => Some(Format::Hex),
            "z85" => Some(Format::Z85),
            _ => None,
        }
    }

    /// A frame written on the command line.
    pub fn decode(self, written: &str) -> Result<Vec<u8>, String> {
        self.decode_bytes(written.as_bytes())
    }

    /// A frame as written in a line.
    pub fn decode_bytes(self, written: &[u8]) -> Result<Vec<u8>, String> {
        let shown = || String::from_utf8_lossy(written).into_owned();
        match self {
            Format::Text => Ok(written.to_vec()),
            Format::Hex => {
                if written.len() % 2 != 0 {
                    return Err(format!("'{}': hex needs two digits a byte", shown()));
                }
                written
                    .chunks(2)
                    .map(|pair| {
                        let digit = |c: u8| (c as char).to_digit(16);
                        match (digit(pair[0]), digit(pair[1])) {
                            (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                            _ => Err(format!("'{}' is not hex", shown())),
                        }
                    })
                    .collect()
            }
            Format::Z85 => {
                if let Some(hex) = written.strip_prefix(HEX_IN_Z85) {
                    return Format::Hex.decode_bytes(hex);
                }
                let mut out = vec![0u8; written.len() / 5 * 4];
                match z85::decode(written, &mut out) {
                    Ok(n) => {
                        out.truncate(n);
                        Ok(out)
                    }
                    Err(_) => Err(format!(
                        "'{}' is not Z85 (5 characters of its alphabet for every 4 bytes)",
                        shown()
                    )),
                }
            }
        }
    }

    /// A line's frames, split at each `delimiter`.
    pub fn split(self, line: &[u8], delimiter: &str) -> Result<Vec<Vec<u8>>, String> {
        let d = delimiter.as_bytes();
        let mut frames = Vec::new();
        let mut rest = line;
        while let Some(at) = find(rest, d) {
            frames.push(self.decode_bytes(&rest[..at])?);
            rest = &rest[at + d.len()..];
        }
        frames.push(self.decode_bytes(rest)?);
        Ok(frames)
    }

    /// A message as a line: its frames, each written this way, joined by `delimiter`, and a
    /// newline; and whether a frame Z85 cannot write was written in hex after `~`.
    pub fn line(self, frames: &[Vec<u8>], delimiter: &str) -> (Vec<u8>, bool) {
        let (mut out, mut in_hex) = (Vec::new(), false);
        for (i, f) in frames.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(delimiter.as_bytes());
            }
            match self {
                Format::Text => out.extend_from_slice(f),
                Format::Hex => hex(f, &mut out),
                Format::Z85 => {
                    let mut text = vec![0u8; f.len() / 4 * 5];
                    match z85::encode(f, &mut text) {
                        Ok(n) => out.extend_from_slice(&text[..n]),
                        Err(_) => {
                            out.extend_from_slice(HEX_IN_Z85);
                            hex(f, &mut out);
                            in_hex = true;
                        }
                    }
                }
            }
        }
        out.push(b'\n');
        (out, in_hex)
    }
}

/// Before a frame that `--format z85` writes in hex: `~` is no character of Z85's.
pub const HEX_IN_Z85: &[u8] = b"~";

fn hex(frame: &[u8], out: &mut Vec<u8>) {
    for b in frame {
        out.extend_from_slice(format!("{b:02x}").as_bytes());
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
