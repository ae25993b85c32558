use super::*;

/// What pyzmq's `zmq.auth.create_certificates` wrote (its secret file).
const PYZMQ_SECRET: &str = r#"#   ****  Generated on 2026-12-01 06:01:46.865724 by pyzmq  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

metadata
curve
    public-key = "lFJT.m?2rS]@^B%M^Q.wRVcGb<Z#0IrwU10b!{9}"
    secret-key = "M59Tny>N1$O.43<Ge*8WZh7f*!=kk3:J<fw=<?5w"
"#;

fn p() -> &'static Path {
    Path::new("c")
}

#[test]
fn a_pyzmq_secret_certificate_reads_and_its_keys_belong_together() {
    let c = parse(PYZMQ_SECRET, p()).unwrap();
    assert_eq!(z85(&c.public), "lFJT.m?2rS]@^B%M^Q.wRVcGb<Z#0IrwU10b!{9}");
    let secret = c.secret.expect("a secret key");
    assert_eq!(KeyPair::from_secret(secret).public, c.public);
    // The public file: no secret.
    let public_only: String = PYZMQ_SECRET
        .lines()
        .filter(|l| !l.contains("secret-key"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(parse(&public_only, p()).unwrap().secret, None);
}

#[test]
fn what_we_write_reads_back() {
    let pair = KeyPair::from_secret([7; 32]);
    let secret = parse(&render(&pair, true), p()).unwrap();
    assert_eq!((secret.public, secret.secret), (pair.public, Some([7; 32])));
    let public = parse(&render(&pair, false), p()).unwrap();
    assert_eq!((public.public, public.secret), (pair.public, None));
}

#[test]
fn bad_certificates_say_what_is_wrong() {
    let e = parse("metadata\ncurve\n", p()).unwrap_err();
    assert!(e.to_string().contains("no public-key line"), "{e}");
    let e = parse("    public-key = \"short\"\n", p()).unwrap_err();
    assert!(
        e.to_string().contains("public-key is not a Z85 CURVE key"),
        "{e}"
    );
    let other = KeyPair::from_secret([8; 32]);
    let text = format!(
        "public-key = \"{}\"\nsecret-key = \"{}\"\n",
        z85(&KeyPair::from_secret([7; 32]).public),
        z85(other.secret())
    );
    let e = parse(&text, p()).unwrap_err();
    assert!(e.to_string().contains("does not belong"), "{e}");
    // A commented-out key is no key.
    let e = parse(
        "# public-key = \"lFJT.m?2rS]@^B%M^Q.wRVcGb<Z#0IrwU10b!{9}\"\n",
        p(),
    )
    .unwrap_err();
    assert!(matches!(e, CertError::NoPublicKey(_)), "{e}");
}
