//! The web config file: every key, and every mistake named.

use super::*;
use rcgen::{CertificateParams, KeyPair};

/// A self-signed certificate and its key, written as PEM files into `dir`.
fn write_cert(dir: &Path, name: &str) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

fn dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write_cert(d.path(), "server");
    write_cert(d.path(), "other");
    write_cert(d.path(), "ca");
    d
}

fn parse_in(dir: &Path, text: &str) -> Result<WebConfig, String> {
    parse(text, "web.yml", dir).map_err(|e| e.to_string())
}

fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

#[test]
fn an_empty_file_is_plain_http_without_auth() {
    let d = dir();
    let c = parse_in(d.path(), "").unwrap();
    assert!(c.tls.is_none() && c.auth.is_none());
    assert_eq!(c.describe(), "plain HTTP (no TLS), no basic auth");
    let c = parse_in(d.path(), "basic_auth_users: {}\n").unwrap();
    assert!(c.auth.is_none());
}

#[test]
fn every_key_parses() {
    let d = dir();
    let text = format!(
        "tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS13
  max_version: TLS13
basic_auth_users:
  prometheus: {}
  alice: '{}'
",
        hash("p"),
        hash("a")
    );
    let c = parse_in(d.path(), &text).unwrap();
    assert_eq!(
        c.tls_summary,
        Some(TlsSummary {
            client_auth: ClientAuth::RequireAndVerifyClientCert,
            min_version: TlsVersion::TLS13,
            max_version: TlsVersion::TLS13,
        })
    );
    let tls = c.tls.as_ref().unwrap();
    assert_eq!(tls.alpn_protocols, vec![b"http/1.1".to_vec()]);
    assert_eq!(c.auth.as_ref().unwrap().user_count(), 2);
    assert_eq!(
            c.describe(),
            "TLS (TLS13..TLS13, client certificates: RequireAndVerifyClientCert), basic auth with 2 user(s)"
        );
    // The hashes stay out of the debug form.
    assert!(!format!("{c:?}").contains("$2"), "{c:?}");
}

#[test]
fn defaults_are_no_client_cert_and_tls12_to_13() {
    let d = dir();
    let c = parse_in(
        d.path(),
        "tls_server_config: {cert_file: server.crt, key_file: server.key}\n",
    )
    .unwrap();
    let s = c.tls_summary.unwrap();
    assert_eq!(s.client_auth, ClientAuth::NoClientCert);
    assert_eq!(
        (s.min_version, s.max_version),
        (TlsVersion::TLS12, TlsVersion::TLS13)
    );
}

#[test]
fn every_client_auth_type_builds() {
    let d = dir();
    for mode in [
        "NoClientCert",
        "RequestClientCert",
        "RequireAnyClientCert",
        "VerifyClientCertIfGiven",
        "RequireAndVerifyClientCert",
    ] {
        let ca = if mode == "NoClientCert" {
            ""
        } else {
            ", client_ca_file: ca.crt"
        };
        let text = format!(
                "tls_server_config: {{cert_file: server.crt, key_file: server.key, client_auth_type: {mode}{ca}}}\n"
            );
        let c = parse_in(d.path(), &text).unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(format!("{:?}", c.tls_summary.unwrap().client_auth), mode);
    }
    // The unverified modes need no CA.
    parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireAnyClientCert}\n",
        )
        .unwrap();
}

#[test]
fn relative_paths_are_relative_to_the_file() {
    let d = dir();
    let sub = d.path().join("conf");
    std::fs::create_dir(&sub).unwrap();
    let file = sub.join("web.yml");
    std::fs::write(
        &file,
        "tls_server_config: {cert_file: ../server.crt, key_file: ../server.key}\n",
    )
    .unwrap();
    let c = load(&file).unwrap();
    assert!(c.tls.is_some());
    assert_eq!(c.path.as_deref(), Some(file.as_path()));
}

#[test]
fn unknown_keys_are_errors_with_their_place() {
    let d = dir();
    let e = parse_in(
        d.path(),
        "tls_server_config:\n  cert_file: server.crt\n  ciphers: [x]\n",
    )
    .unwrap_err();
    assert!(
        e.starts_with("web.yml:3:3: unknown field `ciphers`, expected one of"),
        "{e}"
    );
    let e = parse_in(d.path(), "basic_auth: {a: b}\n").unwrap_err();
    assert!(
        e.starts_with("web.yml:1:1: unknown field `basic_auth`"),
        "{e}"
    );
    // A typo of a mode names the right ones.
    let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireClientCert}\n",
        )
        .unwrap_err();
    assert!(e.contains("unknown variant `RequireClientCert`"), "{e}");
    assert!(e.contains("RequireAndVerifyClientCert"), "{e}");
}

#[test]
fn wrong_types_are_errors() {
    let d = dir();
    let e = parse_in(
        d.path(),
        "tls_server_config: {cert_file: [a], key_file: server.key}\n",
    )
    .unwrap_err();
    assert!(e.starts_with("web.yml:1:32: "), "{e}");
    let e = parse_in(d.path(), "basic_auth_users: [alice]\n").unwrap_err();
    assert!(e.starts_with("web.yml:1:19: "), "{e}");
    let e = parse_in(d.path(), "tls_server_config: yes\n").unwrap_err();
    assert!(e.starts_with("web.yml:1:"), "{e}");
    let e = parse_in(d.path(), "basic_auth_users:\n  alice:\n").unwrap_err();
    assert_eq!(e, "web.yml:2:8: a value is missing");
    let e = parse_in(d.path(), "basic_auth_users:\n  a: x\n  a: y\n").unwrap_err();
    assert_eq!(e, "web.yml:3:3: duplicate mapping key: a");
}

#[test]
fn missing_files_and_bad_pem_are_clear() {
    let d = dir();
    std::fs::write(d.path().join("junk.pem"), "not a certificate\n").unwrap();
    std::fs::write(
        d.path().join("broken.pem"),
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = parse_in(
        d.path(),
        "tls_server_config: {cert_file: nope.crt, key_file: nope.key}\n",
    )
    .unwrap_err();
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 2, "both files named: {e}");
    assert!(
        lines[0].starts_with("web.yml:1:32: tls_server_config.cert_file: cannot read "),
        "{e}"
    );
    assert!(
        lines[0].contains("cannot read cert_file ") && lines[0].contains("nope.crt: no such file"),
        "{e}"
    );
    assert!(
        lines[1].contains("tls_server_config.key_file: cannot read ")
            && lines[1].contains("nope.key"),
        "{e}"
    );

    let e = parse_in(
        d.path(),
        "tls_server_config: {cert_file: junk.pem, key_file: junk.pem}\n",
    )
    .unwrap_err();
    assert!(
        e.contains("tls_server_config.cert_file: ")
            && e.contains("junk.pem holds no PEM certificate"),
        "{e}"
    );
    assert!(
        e.contains("tls_server_config.key_file: ")
            && e.contains("junk.pem holds no PEM private key"),
        "{e}"
    );

    let e = parse_in(
        d.path(),
        "tls_server_config: {cert_file: broken.pem, key_file: server.key}\n",
    )
    .unwrap_err();
    assert!(e.contains("broken.pem is not valid PEM"), "{e}");

    // A key of another certificate.
    let e = parse_in(
        d.path(),
        "tls_server_config: {cert_file: server.crt, key_file: other.key}\n",
    )
    .unwrap_err();
    assert!(
        e.contains("tls_server_config: the key_file does not fit the cert_file"),
        "{e}"
    );
    // The key's bytes are never shown.
    let key = std::fs::read_to_string(d.path().join("other.key")).unwrap();
    let body = key.lines().nth(1).unwrap();
    assert!(!e.contains(body), "{e}");
}

#[test]
fn cert_and_key_are_both_needed() {
    let d = dir();
    let e = parse_in(d.path(), "tls_server_config: {cert_file: server.crt}\n").unwrap_err();
    assert_eq!(e, "web.yml: tls_server_config.key_file: is missing");
    let e = parse_in(d.path(), "tls_server_config: {}\n").unwrap_err();
    assert_eq!(e.lines().count(), 2, "{e}");
    let e = parse_in(
        d.path(),
        "tls_server_config: {cert_file: '', key_file: server.key}\n",
    )
    .unwrap_err();
    assert!(e.contains("tls_server_config.cert_file: is empty"), "{e}");
}

#[test]
fn client_ca_and_client_auth_type_go_together() {
    let d = dir();
    let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key, client_ca_file: ca.crt}\n",
        )
        .unwrap_err();
    assert!(
        e.contains("tls_server_config.client_ca_file: is set but client_auth_type is NoClientCert"),
        "{e}"
    );
    let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: VerifyClientCertIfGiven}\n",
        )
        .unwrap_err();
    assert!(
        e.contains(
            "tls_server_config.client_auth_type: VerifyClientCertIfGiven needs client_ca_file"
        ),
        "{e}"
    );
}

#[test]
fn only_tls12_and_tls13() {
    let d = dir();
    let e = parse_in(
        d.path(),
        "tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS10}\n",
    )
    .unwrap_err();
    assert!(
        e.contains("tls_server_config.min_version: TLS10 is not supported (TLS12 and TLS13 are)"),
        "{e}"
    );
    let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS13, max_version: TLS12}\n",
        )
        .unwrap_err();
    assert!(
        e.contains("tls_server_config.max_version: TLS12 is below min_version TLS13"),
        "{e}"
    );
    let e = parse_in(
        d.path(),
        "tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: SSL3}\n",
    )
    .unwrap_err();
    assert!(
        e.contains("unknown variant `SSL3`, expected one of TLS10, TLS11, TLS12, TLS13"),
        "{e}"
    );
}

#[test]
fn bad_hashes_are_named_by_user_never_shown() {
    let d = dir();
    let good = hash("pw");
    // Right shape, one character short; a plain password; a SHA-crypt hash.
    let short = &good[..59];
    let text = format!(
            "basic_auth_users:\n  alice: '{short}'\n  bob: hunter2-secret\n  carol: '$6$salt$abcdefghijklmnop'\n  'dave:x': '{good}'\n"
        );
    let e = parse_in(d.path(), &text).unwrap_err();
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 4, "every problem at once: {e}");
    assert!(
        lines[0].starts_with("web.yml:2:10: basic_auth_users.alice: not a bcrypt hash ("),
        "{e}"
    );
    assert!(lines[0].contains("htpasswd -nBC 10 alice"), "{e}");
    assert!(
        lines[1].starts_with("web.yml:3:8: basic_auth_users.bob: not a bcrypt hash"),
        "{e}"
    );
    assert!(
        lines[2].contains("basic_auth_users.carol: not a bcrypt hash"),
        "{e}"
    );
    assert!(
        lines[3].contains("basic_auth_users.dave:x: a user name cannot contain ':'"),
        "{e}"
    );
    for secret in [short, "hunter2", "$6$salt", &good[7..]] {
        assert!(!e.contains(secret), "{secret} shown in: {e}");
    }
}

#[test]
fn a_missing_file_is_an_error() {
    let d = dir();
    let e = load(&d.path().join("web.yml")).unwrap_err().to_string();
    assert!(
        e.starts_with("cannot read web config file ") && e.ends_with("web.yml: no such file"),
        "{e}"
    );
}
