//! CURVE certificates in CZMQ's format (what `zcert_save` writes and pyzmq's `zmq.auth`
//! reads): a ZPL text file with the keys in Z85 under `curve`, a public file `NAME` and a
//! secret file `NAME_secret` (mode 0600). `zedge keygen NAME` makes a pair.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use zedge_core::curve::crypto::{KeyPair, KEY_LEN};
use zedge_core::wire::z85::{decode_key, encode_key};

/// A certificate's keys: the public one, and the secret one if it is a secret certificate.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Cert {
    pub public: [u8; KEY_LEN],
    pub secret: Option<[u8; KEY_LEN]>,
}

impl fmt::Debug for Cert {
    /// The public key in Z85, never the secret one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cert")
            .field("public", &z85(&self.public))
            .field("secret", &self.secret.map(|_| "(hidden)"))
            .finish()
    }
}

/// Why a certificate could not be read or written.
#[derive(Debug)]
pub enum CertError {
    Io(PathBuf, io::Error),
    /// No `public-key` line.
    NoPublicKey(PathBuf),
    /// A key that is not 40 characters of Z85.
    BadKey(PathBuf, &'static str),
    /// The secret key's public key is not the `public-key` of the file.
    Mismatch(PathBuf),
    /// `keygen` would overwrite a file.
    Exists(PathBuf),
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            CertError::NoPublicKey(p) => {
                write!(
                    f,
                    "{}: no public-key line: not a CURVE certificate",
                    p.display()
                )
            }
            CertError::BadKey(p, which) => write!(
                f,
                "{}: {which} is not a Z85 CURVE key (40 characters)",
                p.display()
            ),
            CertError::Mismatch(p) => write!(
                f,
                "{}: secret-key does not belong to public-key",
                p.display()
            ),
            CertError::Exists(p) => {
                write!(
                    f,
                    "{} exists; remove it first or choose another name",
                    p.display()
                )
            }
        }
    }
}

/// A key in Z85, as text.
pub fn z85(key: &[u8; KEY_LEN]) -> String {
    String::from_utf8_lossy(&encode_key(key)).into_owned()
}

/// Read a certificate file: `public-key` and, in a secret certificate, `secret-key` lines
/// (values quoted or not), comments and the rest of the ZPL ignored, as pyzmq reads them.
pub fn load(path: &Path) -> Result<Cert, CertError> {
    let mut text = String::new();
    fs::File::open(path)
        .and_then(|f| f.take(64 << 10).read_to_string(&mut text))
        .map_err(|e| CertError::Io(path.to_owned(), e))?;
    parse(&text, path)
}

fn parse(text: &str, path: &Path) -> Result<Cert, CertError> {
    let value = |name: &str| {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim_start().strip_prefix('='))
            .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
    };
    let key = |v: &str, which| {
        decode_key(v.as_bytes()).map_err(|_| CertError::BadKey(path.to_owned(), which))
    };
    let public = value("public-key").ok_or_else(|| CertError::NoPublicKey(path.to_owned()))?;
    let public = key(public, "public-key")?;
    let secret = value("secret-key")
        .map(|v| key(v, "secret-key"))
        .transpose()?;
    if let Some(s) = secret {
        if KeyPair::from_secret(s).public != public {
            return Err(CertError::Mismatch(path.to_owned()));
        }
    }
    Ok(Cert { public, secret })
}

/// The two files of a certificate, as CZMQ writes them.
fn render(pair: &KeyPair, secret: bool) -> String {
    let when = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut out = format!("#   ****  Generated at Unix time {when} by zedge  ****\n");
    if secret {
        out.push_str(
            "#   ZeroMQ CURVE **Secret** Certificate\n\
             #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n",
        );
    } else {
        out.push_str(
            "#   ZeroMQ CURVE Public Certificate\n\
             #   Exchange securely, or use a secure mechanism to verify the contents\n\
             #   of this file after exchange.\n",
        );
    }
    out.push_str("\nmetadata\ncurve\n");
    out.push_str(&format!("    public-key = \"{}\"\n", z85(&pair.public)));
    if secret {
        out.push_str(&format!("    secret-key = \"{}\"\n", z85(pair.secret())));
    }
    out
}

/// A new key pair from the system's random source.
pub fn generate() -> io::Result<KeyPair> {
    let mut secret = [0u8; KEY_LEN];
    crate::secure::fill_random(&mut secret)?;
    Ok(KeyPair::from_secret(secret))
}

/// Write `pair` as `name` (public, 0644) and `name_secret` (secret, 0600); neither may exist.
pub fn save(name: &Path, pair: &KeyPair) -> Result<(PathBuf, PathBuf), CertError> {
    let mut secret_name = name.as_os_str().to_owned();
    secret_name.push("_secret");
    let secret_path = PathBuf::from(secret_name);
    for p in [name, &secret_path] {
        if p.exists() {
            return Err(CertError::Exists(p.to_owned()));
        }
    }
    for (path, secret, mode) in [
        (&secret_path, true, 0o600),
        (&name.to_owned(), false, 0o644),
    ] {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .and_then(|mut f| f.write_all(render(pair, secret).as_bytes()))
            .map_err(|e| CertError::Io(path.clone(), e))?;
    }
    Ok((name.to_owned(), secret_path))
}

/// `zedge keygen NAME`: a new pair in `NAME` and `NAME_secret`; prints the public key.
pub fn keygen(name: &Path) -> Result<(), CertError> {
    let pair = generate().map_err(|e| CertError::Io(PathBuf::from("getrandom(2)"), e))?;
    let (public, secret) = save(name, &pair)?;
    // Read back as a device will read them.
    let (p, s) = (load(&public)?, load(&secret)?);
    if p.public != pair.public || s.secret.as_ref() != Some(pair.secret()) {
        return Err(CertError::Mismatch(secret));
    }
    crate::stdout::outln!("{}", z85(&pair.public));
    eprintln!(
        "zedge keygen: wrote {} (public) and {} (secret, mode 0600)",
        public.display(),
        secret.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests;
