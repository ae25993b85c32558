//! A device's CURVE settings, as written and as checked: its key pair (`curve_secret`), the
//! clients it lets in (`curve_allow`), the server its `>` endpoints are clients of
//! (`curve_server_key`) and the sides that use CURVE (`curve_sides`).
//!
//! With `curve_secret`, every bind endpoint of the chosen sides (both by default) and the
//! capture endpoint, if it binds, accept CURVE clients only; with `curve_server_key` too,
//! their `>` endpoints are CURVE clients of that server, with the device's own key pair. The
//! control endpoint stays NULL (it is for the local operator). The allow-list is read at start
//! and again at each reload (SIGHUP), without restarting the device.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use zedge_core::curve::crypto::{KeyPair, KEY_LEN};
use zedge_core::device::Side;
use zedge_core::wire::z85::decode_key;

use super::opt::{Origin, SettingError};
use crate::cert;
use crate::endpoint::{Addr, Endpoint, Host};

/// A CURVE setting, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CurveOpt {
    Secret,
    Allow,
    ServerKey,
    Sides,
    /// PLAIN's password file (RFC 24), the other mechanism: not with CURVE.
    Passwords,
    /// PLAIN on endpoints other than loopback and IPC (a switch).
    PlainAnywhere,
}

impl CurveOpt {
    pub const ALL: [CurveOpt; 6] = [
        CurveOpt::Secret,
        CurveOpt::Allow,
        CurveOpt::ServerKey,
        CurveOpt::Sides,
        CurveOpt::Passwords,
        CurveOpt::PlainAnywhere,
    ];

    pub fn key(self) -> &'static str {
        match self {
            CurveOpt::Secret => "curve_secret",
            CurveOpt::Allow => "curve_allow",
            CurveOpt::ServerKey => "curve_server_key",
            CurveOpt::Sides => "curve_sides",
            CurveOpt::Passwords => "plain_passwords",
            CurveOpt::PlainAnywhere => "plain_anywhere",
        }
    }

    /// A switch: given without a value on the command line (`true` in the file).
    pub fn is_switch(self) -> bool {
        self == CurveOpt::PlainAnywhere
    }

    pub fn flag(self) -> &'static str {
        match self {
            CurveOpt::Secret => "--curve-secret",
            CurveOpt::Allow => "--curve-allow",
            CurveOpt::ServerKey => "--curve-server-key",
            CurveOpt::Sides => "--curve-sides",
            CurveOpt::Passwords => "--plain-passwords",
            CurveOpt::PlainAnywhere => "--plain-anywhere",
        }
    }

    pub fn from_flag(flag: &str) -> Option<CurveOpt> {
        CurveOpt::ALL
            .into_iter()
            .find(|o| o.flag().strip_prefix("--") == Some(flag))
    }

    /// As the operator wrote it: its flag or its key.
    pub fn spelled(self, at: &Origin) -> &'static str {
        match at {
            Origin::Flag => self.flag(),
            Origin::Key(_) => self.key(),
        }
    }
}

/// The CURVE settings of a device, as written.
#[derive(Clone, Debug, Default)]
pub struct CurveWritten {
    given: [Option<(String, Origin)>; 6],
}

/// Which sides use CURVE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sides {
    pub frontend: bool,
    pub backend: bool,
}

/// A device's checked CURVE settings.
#[derive(Clone, PartialEq, Eq)]
pub struct CurveSetup {
    /// The file the key pair came from.
    pub secret_file: PathBuf,
    /// The key pair's secret (the public key follows from it).
    secret: [u8; KEY_LEN],
    /// Where the allow-list is read from; `None`: any client that completes the handshake.
    pub allow: Option<PathBuf>,
    /// The server `>` endpoints are clients of.
    pub server_key: Option<[u8; KEY_LEN]>,
    pub sides: Sides,
}

impl fmt::Debug for CurveSetup {
    /// Never the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurveSetup")
            .field("secret_file", &self.secret_file)
            .field("public", &cert::z85(&self.keys().public))
            .field("allow", &self.allow)
            .field("server_key", &self.server_key.as_ref().map(cert::z85))
            .field("sides", &self.sides)
            .finish()
    }
}

impl CurveSetup {
    pub fn keys(&self) -> KeyPair {
        KeyPair::from_secret(self.secret)
    }

    /// One line for `check-config`: the public key, the sides, whom it lets in, whom it
    /// connects to.
    pub fn summary(&self) -> String {
        let sides = match (self.sides.frontend, self.sides.backend) {
            (true, true) => "both sides",
            (true, false) => "frontend",
            _ => "backend",
        };
        let allow = match &self.allow {
            Some(p) => match load_allow(p) {
                Ok(keys) => format!("{} clients allowed by {}", keys.len(), p.display()),
                Err(why) => why,
            },
            None => "any client with the server key".to_owned(),
        };
        let server = match &self.server_key {
            Some(k) => format!("; > endpoints are clients of {}", cert::z85(k)),
            None => String::new(),
        };
        format!(
            "public key {} on {sides}; {allow}{server}",
            cert::z85(&self.keys().public)
        )
    }

    /// Whether connections on `side` use CURVE: bind endpoints as servers, `>` endpoints (as
    /// clients) only with a server key.
    pub fn on(&self, side: Side, connects: bool) -> bool {
        let chosen = match side {
            Side::Frontend => self.sides.frontend,
            Side::Backend => self.sides.backend,
            Side::Capture => true,
        };
        chosen && (!connects || self.server_key.is_some())
    }
}

impl CurveWritten {
    /// Record a setting; given again, the last one counts.
    pub fn set(&mut self, opt: CurveOpt, value: String, at: Origin) {
        self.given[opt as usize] = Some((value, at));
    }

    fn get(&self, opt: CurveOpt) -> Option<&(String, Origin)> {
        self.given[opt as usize].as_ref()
    }

    /// The PLAIN settings, checked (the password file read): `None` without
    /// `plain_passwords`. `binds` are the device's bind endpoints, which must be on loopback
    /// or IPC unless `plain_anywhere`.
    pub fn build_plain<'a>(
        &self,
        binds: impl IntoIterator<Item = &'a Endpoint>,
    ) -> Result<Option<PlainSetup>, SettingError> {
        let anywhere = match self.get(CurveOpt::PlainAnywhere) {
            Some((v, at)) => match v.as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(err(
                        CurveOpt::PlainAnywhere,
                        at,
                        format!("expected true or false, not {v}"),
                    ))
                }
            },
            None => false,
        };
        let Some((path, at)) = self.get(CurveOpt::Passwords) else {
            if let (true, Some((_, at))) = (anywhere, self.get(CurveOpt::PlainAnywhere)) {
                let needs = CurveOpt::Passwords.spelled(at);
                return Err(err(CurveOpt::PlainAnywhere, at, format!("needs {needs}")));
            }
            return Ok(None);
        };
        if let Some((_, cat)) = self.get(CurveOpt::Secret) {
            let secret = CurveOpt::Secret.spelled(cat);
            return Err(err(
                CurveOpt::Passwords,
                at,
                format!("a device runs one mechanism: {secret} or this, not both"),
            ));
        }
        let path = PathBuf::from(path);
        readable(&path)
            .and_then(|()| load_passwords(&path))
            .map_err(|why| err(CurveOpt::Passwords, at, why))?;
        if !anywhere {
            if let Some(ep) = binds.into_iter().find(|ep| !is_local(ep)) {
                let anywhere = CurveOpt::PlainAnywhere.spelled(at);
                return Err(err(
                    CurveOpt::Passwords,
                    at,
                    format!(
                        "PLAIN sends passwords in the clear, and {ep} is not loopback or IPC; \
                         bind it there, use CURVE, or set {anywhere}"
                    ),
                ));
            }
        }
        Ok(Some(PlainSetup {
            passwords: path,
            anywhere,
        }))
    }

    /// Check the settings, reading the key files: `None` without `curve_secret`.
    pub fn build(&self) -> Result<Option<CurveSetup>, SettingError> {
        let Some((secret_file, at)) = self.get(CurveOpt::Secret) else {
            if let Some((opt, (_, at))) = [CurveOpt::Allow, CurveOpt::ServerKey, CurveOpt::Sides]
                .into_iter()
                .find_map(|o| self.get(o).map(|g| (o, g)))
            {
                let secret = CurveOpt::Secret.spelled(at);
                return Err(err(
                    opt,
                    at,
                    format!("needs {secret}, the device's CURVE key pair (make one with zedge keygen NAME)"),
                ));
            }
            return Ok(None);
        };
        let secret_file = PathBuf::from(secret_file);
        readable(&secret_file)
            .and_then(|()| private(&secret_file, "a secret key"))
            .map_err(|why| err(CurveOpt::Secret, at, why))?;
        let secret = match cert::load(&secret_file) {
            Ok(cert::Cert {
                secret: Some(s), ..
            }) => s,
            Ok(_) => {
                return Err(err(
                    CurveOpt::Secret,
                    at,
                    format!(
                        "{} has no secret-key: give the NAME_secret file zedge keygen wrote",
                        secret_file.display()
                    ),
                ))
            }
            Err(e) => return Err(err(CurveOpt::Secret, at, e.to_string())),
        };
        let allow = match self.get(CurveOpt::Allow) {
            Some((path, at)) => {
                let path = PathBuf::from(path);
                load_allow(&path).map_err(|why| err(CurveOpt::Allow, at, why))?;
                Some(path)
            }
            None => None,
        };
        let server_key = match self.get(CurveOpt::ServerKey) {
            Some((key, at)) => {
                Some(server_key(key).map_err(|why| err(CurveOpt::ServerKey, at, why))?)
            }
            None => None,
        };
        let sides = match self.get(CurveOpt::Sides) {
            None => Sides {
                frontend: true,
                backend: true,
            },
            Some((v, at)) => match v.as_str() {
                "both" => Sides {
                    frontend: true,
                    backend: true,
                },
                "frontend" => Sides {
                    frontend: true,
                    backend: false,
                },
                "backend" => Sides {
                    frontend: false,
                    backend: true,
                },
                _ => {
                    return Err(err(
                        CurveOpt::Sides,
                        at,
                        format!("expected both, frontend or backend, not \"{v}\""),
                    ))
                }
            },
        };
        Ok(Some(CurveSetup {
            secret_file,
            secret,
            allow,
            server_key,
            sides,
        }))
    }
}

/// A device's checked PLAIN settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlainSetup {
    /// Where the user names and passwords are read from (at start and at each reload).
    pub passwords: PathBuf,
    pub anywhere: bool,
}

/// The user names and passwords a PLAIN server lets in.
pub type Passwords = std::collections::HashMap<Vec<u8>, Vec<u8>>;

/// Whether `ep` stays on this host: IPC, or TCP on a loopback address, `localhost`, or an
/// interface whose address is loopback (`tcp://lo:5559`, bound as `run` binds it).
pub fn is_local(ep: &Endpoint) -> bool {
    match &ep.addr {
        Addr::Ipc(_) => true,
        Addr::Tcp { host, .. } => match host {
            Host::Ip(ip) => ip.is_loopback(),
            Host::Name(n) => {
                n == "localhost" || crate::net::interface_addr(n).is_some_and(|ip| ip.is_loopback())
            }
            Host::Any => false,
        },
    }
}

/// Read a password file: `user:password` a line (the first `:` splits them), `#` comments
/// and blank lines skipped. It must not be readable by others than its owner and group.
pub fn load_passwords(path: &Path) -> Result<Passwords, String> {
    let shown = path.display();
    private(path, "passwords")?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut users = Passwords::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((user, password)) = line.split_once(':') else {
            return Err(format!("{shown}:{}: expected user:password", n + 1));
        };
        if user.is_empty() || user.len() > 255 || password.len() > 255 {
            return Err(format!(
                "{shown}:{}: user names and passwords are 1 to 255 bytes (RFC 24)",
                n + 1
            ));
        }
        users.insert(user.as_bytes().to_vec(), password.as_bytes().to_vec());
    }
    Ok(users)
}

/// A file that holds secrets (`holds`: passwords, a secret key) must not be readable by every
/// user: libzmq's tools write secret certificates 0600, `zedge keygen` too.
fn private(path: &Path, holds: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if meta.permissions().mode() & 0o004 != 0 {
        return Err(format!(
            "{shown} is readable by every user; chmod o-r it (it holds {holds})"
        ));
    }
    Ok(())
}

/// Whether this user can open `path`, as the settings are checked: a key or password file
/// of the package is for the zedge user only (board/README.md), so an operator's
/// `check-config` meets it unreadable, and is told how to check it after all.
fn readable(path: &Path) -> Result<(), String> {
    match std::fs::File::open(path) {
        Ok(_) => Ok(()),
        Err(e) => Err(unreadable(path, &e)),
    }
}

/// What [`readable`] says of `e`, the error of opening `path`.
fn unreadable(path: &Path, e: &std::io::Error) -> String {
    let shown = path.display();
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => format!(
            "cannot read {shown} as this user (it is for the zedge user): run check-config \
             with sudo, or as zedge"
        ),
        _ => format!("{shown}: {e}"),
    }
}

/// A setting's error: the file's messages get their key and line where they are placed; the
/// command line's start with the flag.
fn err(opt: CurveOpt, at: &Origin, why: String) -> SettingError {
    SettingError::Curve {
        key: opt.key(),
        at: at.clone(),
        why: match at {
            Origin::Flag => format!("{}: {why}", opt.flag()),
            Origin::Key(_) => why,
        },
    }
}

/// A server's public key: 40 characters of Z85, or a certificate file holding it.
pub fn server_key(written: &str) -> Result<[u8; KEY_LEN], String> {
    if written.len() == 40 {
        if let Ok(key) = decode_key(written.as_bytes()) {
            return Ok(key);
        }
    }
    let path = Path::new(written);
    if path.exists() {
        return cert::load(path)
            .map(|c| c.public)
            .map_err(|e| e.to_string());
    }
    Err(format!(
        "\"{written}\" is neither a Z85 public key (40 characters) nor a certificate file"
    ))
}

/// Read an allow-list: a directory of public certificate files (CZMQ zcertstore's convention:
/// every file in it but those named `*_secret`, which `zedge keygen` and `zcert_save` write
/// beside the public ones; a secret certificate under another name is refused), or a file
/// with one Z85 public key per line (`#` comments and blank lines skipped).
pub fn load_allow(path: &Path) -> Result<HashSet<[u8; KEY_LEN]>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut keys = HashSet::new();
    if meta.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .filter(|p| !p.to_string_lossy().ends_with("_secret"))
            .collect();
        files.sort();
        for file in files {
            let cert = cert::load(&file).map_err(|e| e.to_string())?;
            if cert.secret.is_some() {
                return Err(format!(
                    "{} is a secret certificate; an allow-list holds public ones only",
                    file.display()
                ));
            }
            keys.insert(cert.public);
        }
        return Ok(keys);
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = decode_key(line.as_bytes()).map_err(|_| {
            format!(
                "{}:{}: not a Z85 public key (40 characters)",
                path.display(),
                n + 1
            )
        })?;
        keys.insert(key);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_from_a_file_and_a_directory() {
        let dir = std::env::temp_dir().join(format!("zedge-allow-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("certs")).unwrap();
        let a = KeyPair::from_secret([1; 32]);
        let b = KeyPair::from_secret([2; 32]);
        let list = dir.join("keys");
        std::fs::write(
            &list,
            format!(
                "# two\n{}\n\n  {}  \n",
                cert::z85(&a.public),
                cert::z85(&b.public)
            ),
        )
        .unwrap();
        let keys = load_allow(&list).unwrap();
        assert!(keys.contains(&a.public) && keys.contains(&b.public) && keys.len() == 2);
        cert::save(&dir.join("certs/a"), &a).unwrap();
        // The secret file beside it is skipped; under another name it is refused.
        assert_eq!(load_allow(&dir.join("certs")).unwrap().len(), 1);
        std::fs::rename(dir.join("certs/a_secret"), dir.join("certs/a.secret")).unwrap();
        let e = load_allow(&dir.join("certs")).unwrap_err();
        assert!(e.contains("secret certificate"), "{e}");
        std::fs::write(&list, "not a key\n").unwrap();
        let e = load_allow(&list).unwrap_err();
        assert!(
            e.ends_with("keys:1: not a Z85 public key (40 characters)"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn loopback_interfaces_names_and_ipc_stay_on_this_host() {
        let ep = |s: &str| Endpoint::parse(s).unwrap();
        for local in [
            "tcp://127.0.0.1:1",
            "tcp://localhost:1",
            "tcp://[::1]:1",
            "ipc://x.ipc",
        ] {
            assert!(is_local(&ep(local)), "{local}");
        }
        for open in ["tcp://*:1", "tcp://0.0.0.0:1", "tcp://192.168.1.10:1"] {
            assert!(!is_local(&ep(open)), "{open}");
        }
        // This host's loopback interface (lo on Linux), by its name, and any other by its.
        for i in if_addrs::get_if_addrs().unwrap_or_default() {
            let named = ep(&format!("tcp://{}:1", i.name));
            let loopback = crate::net::interface_addr(&i.name).is_some_and(|a| a.is_loopback());
            assert_eq!(is_local(&named), loopback, "{}", i.name);
        }
    }

    /// Tests run as root, who reads every file: the permission error is given by hand.
    #[test]
    fn a_file_this_user_cannot_read_says_whose_it_is_and_how_to_check_it() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(
            unreadable(Path::new("/etc/zedge/telemetry_secret"), &denied),
            "cannot read /etc/zedge/telemetry_secret as this user (it is for the zedge user): \
             run check-config with sudo, or as zedge"
        );
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(
            unreadable(Path::new("/x"), &missing),
            format!("/x: {missing}")
        );
    }

    /// A secret key readable by every user is refused, as a password file is.
    #[test]
    fn a_world_readable_secret_key_is_refused_as_a_password_file_is() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("zedge-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        cert::save(&dir.join("srv"), &KeyPair::from_secret([3; 32])).unwrap();
        let secret = dir.join("srv_secret");
        let mut w = CurveWritten::default();
        w.set(CurveOpt::Secret, secret.display().to_string(), Origin::Flag);
        assert!(w.build().unwrap().is_some());
        let open = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(&secret, open).unwrap();
        assert_eq!(
            w.build().unwrap_err().to_string(),
            format!(
                "--curve-secret: {} is readable by every user; chmod o-r it (it holds a \
                 secret key)",
                secret.display()
            )
        );
        let passwords = dir.join("passwords");
        std::fs::write(&passwords, "u:p\n").unwrap();
        std::fs::set_permissions(&passwords, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_passwords(&passwords).unwrap_err();
        assert!(e.ends_with("is readable by every user; chmod o-r it (it holds passwords)"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn settings_without_a_secret_say_what_is_missing() {
        let mut w = CurveWritten::default();
        w.set(CurveOpt::Allow, "/x".into(), Origin::Flag);
        let e = w.build().unwrap_err().to_string();
        assert!(e.starts_with("--curve-allow: needs --curve-secret"), "{e}");
        assert_eq!(CurveWritten::default().build().unwrap(), None);
    }
}
