//! The `tls` probe's verdict on certificate chains, served over implicit TLS by loopback servers
//! with certificates made at test time: good chains and every fact about them, broken chains
//! (each reason, with the certificate metrics still there), expiry thresholds, and its options.

mod tls_support;

use mailbeat_probes::tls::TlsProbe;
use mailbeat_sdk::{Probe, Protocol, Reason, Status, TlsMode};
use rustls::RootCertStore;
use serde_json::json;
use std::net::SocketAddr;
use tls_support::*;

// ---------------------------------------------------------------------------------------------
// Good chains.

#[tokio::test]
async fn implicit_tls_with_a_good_chain_is_ok_with_every_fact() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert.clone(), pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;

    assert_outcome(&r, Status::Ok, None);
    assert!(
        r.message.contains("openssl: verify code 0, ok"),
        "{}",
        r.message
    );
    assert_cert_metrics(&r, true, 2);
    assert_verify(&r, 0, "ok");

    let not_after = samples(&r, "tls_cert_not_after_timestamp_seconds");
    assert_eq!(label(not_after[0], "depth"), "0");
    assert_eq!(label(not_after[0], "subject_cn"), NAME);
    assert_eq!(label(not_after[1], "depth"), "1");
    assert_eq!(label(not_after[1], "subject_cn"), "Test Intermediate CA");

    let version = samples(&r, "tls_version_info");
    assert_eq!(version.len(), 1);
    assert_eq!(label(version[0], "version"), "TLS 1.3");
    assert!(
        label(version[0], "cipher").starts_with("TLS13_"),
        "{version:?}"
    );
    assert_eq!(version[0].value, 1.0);

    let leaf_json = &r.details["certificates"][0];
    assert_eq!(leaf_json["depth"], 0);
    assert_eq!(leaf_json["subject"], "CN=mail.test");
    assert_eq!(
        leaf_json["issuer"],
        "CN=Test Intermediate CA, O=mailbeat test"
    );
    assert_eq!(leaf_json["sans"], json!([NAME, "localhost", "127.0.0.1"]));
    assert_eq!(leaf_json["key"], "EC P-256");
    assert_eq!(leaf_json["signature_algorithm"], "ecdsa-with-SHA256");
    assert_eq!(leaf_json["self_signed"], false);
    assert_eq!(leaf_json["in_path"], true);
    assert!(leaf_json["not_after"].as_str().unwrap().ends_with('Z'));
    let fp = leaf_json["sha256_fingerprint"].as_str().unwrap();
    assert_eq!(fp.len(), 95, "{fp}");
    assert_eq!(r.details["server_name"], NAME);
    assert_eq!(r.details["peer"], addr.to_string());
    assert_eq!(r.details["tls_version"], "TLS 1.3");
    assert!(r.details["greeting"].as_str().unwrap().starts_with("* OK"));
}

#[tokio::test]
async fn tls_1_2_version_and_cipher_are_reported() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = serve(
        vec![leaf.cert, pki.intermediate()],
        leaf.key,
        Protocol::Smtp,
        TlsMode::Implicit,
        Script::Normal,
        &[&rustls::version::TLS12],
    )
    .await;
    let r = run(
        &target(addr, Protocol::Smtp, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Ok, None);
    let version = samples(&r, "tls_version_info");
    assert_eq!(label(version[0], "version"), "TLS 1.2");
    assert!(
        label(version[0], "cipher").starts_with("TLS_ECDHE_ECDSA_WITH_"),
        "{version:?}"
    );
}

#[tokio::test]
async fn an_ip_host_without_server_name_is_verified_against_ip_sans() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let mut t = target(addr, Protocol::Imap, TlsMode::Implicit);
    t.tls_server_name = None;
    let r = run(&t, pki.roots(), TIMEOUT).await;
    assert_outcome(&r, Status::Ok, None);
    assert_eq!(r.details["server_name"], "127.0.0.1");
}

#[tokio::test]
async fn an_intermediate_in_the_trust_store_completes_a_leaf_only_chain() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let mut roots = RootCertStore::empty();
    roots.add(pki.intermediate()).unwrap();
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        roots,
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Ok, None);
    assert_cert_metrics(&r, true, 1);
}

// ---------------------------------------------------------------------------------------------
// Broken chains: each reason, with the metrics still there.

#[tokio::test]
async fn expired_leaf() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAME], -400, -3);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsCertExpired));
    assert!(
        r.message.contains("'CN=mail.test' (the leaf) expired"),
        "{}",
        r.message
    );
    assert!(r.message.contains("3 days ago"), "{}", r.message);
    assert_verify(&r, 10, "certificate has expired");
    assert_cert_metrics(&r, false, 2);
    let earliest = observation(&r, "tls_earliest_cert_expiry_timestamp_seconds");
    assert!(
        earliest < unix_now() as f64,
        "earliest expiry is the expired leaf"
    );
    // The handshake went through, so version and cipher are known too.
    assert_eq!(samples(&r, "tls_version_info").len(), 1);
}

#[tokio::test]
async fn expired_intermediate() {
    let pki = Pki::with_intermediate_validity(-400, -1);
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsCertExpired));
    assert!(r.message.contains("Test Intermediate CA"), "{}", r.message);
    assert!(r.message.contains("(depth 1)"), "{}", r.message);
    assert_verify(&r, 10, "certificate has expired");
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn not_yet_valid_leaf() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAME], 2, 400);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsCertNotYetValid));
    assert_verify(&r, 9, "certificate is not yet valid");
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn wrong_name() {
    let pki = Pki::new();
    let leaf = pki.leaf(&["other.test", "www.other.test"], -1, 365);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHostnameMismatch));
    assert!(
        r.message
            .contains("not valid for mail.test: it is valid for other.test, www.other.test"),
        "{}",
        r.message
    );
    assert_verify_option(&r, 62, "hostname mismatch", "-verify_hostname mail.test");
    // `openssl s_client -servername` alone does not check the name (it says 0): say which option
    // makes it say 62.
    assert!(
        r.message.ends_with(
            "(openssl: verify code 62 with -verify_hostname mail.test, hostname mismatch)"
        ),
        "{}",
        r.message
    );
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn wrong_ip_address() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAME], -1, 365);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let mut t = target(addr, Protocol::Imap, TlsMode::Implicit);
    t.tls_server_name = None;
    let r = run(&t, pki.roots(), TIMEOUT).await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHostnameMismatch));
    let ip = addr.ip().to_string();
    assert_verify_option(&r, 64, "IP address mismatch", &format!("-verify_ip {ip}"));
    assert!(
        r.message
            .contains(&format!("verify code 64 with -verify_ip {ip}")),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_self_signed_leaf() {
    let pki = Pki::new();
    let leaf = self_signed_leaf(&[NAME, "127.0.0.1"]);
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsSelfSigned));
    assert_verify(&r, 18, "self-signed certificate");
    assert_cert_metrics(&r, false, 1);
    assert_eq!(r.details["certificates"][0]["self_signed"], true);
}

#[tokio::test]
async fn leaf_only_is_an_incomplete_chain() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsChainIncomplete));
    assert!(
        r.message.starts_with(
            "certificate chain incomplete: the server sent only the leaf (CN=mail.test) and not \
             the intermediate 'CN=Test Intermediate CA, O=mailbeat test' that issued it"
        ),
        "{}",
        r.message
    );
    assert!(
        r.message
            .ends_with("(openssl: verify code 21, unable to verify the first certificate)"),
        "{}",
        r.message
    );
    assert_verify(&r, 21, "unable to verify the first certificate");
    assert_cert_metrics(&r, false, 1);
}

#[tokio::test]
async fn a_full_chain_to_an_unknown_root_is_an_untrusted_root() {
    let pki = Pki::new();
    let other = Pki::other();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate(), pki.root()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        other.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsUntrustedRoot));
    assert!(
        r.message.contains("self-signed root 'CN=Test Root CA"),
        "{}",
        r.message
    );
    assert_verify(&r, 19, "self-signed certificate in certificate chain");
    assert_cert_metrics(&r, false, 3);
}

#[tokio::test]
async fn an_intermediate_from_an_unknown_root_is_an_untrusted_root() {
    let pki = Pki::new();
    let other = Pki::other();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        other.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsUntrustedRoot));
    assert_verify(&r, 20, "unable to get local issuer certificate");
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn a_trusted_root_of_the_same_name_but_another_key() {
    let pki = Pki::new();
    let impostor = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        impostor.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsUntrustedRoot));
    assert_verify(&r, 7, "certificate signature failure");
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn an_empty_trust_store_trusts_nothing() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        RootCertStore::empty(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsUntrustedRoot));
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn expiry_within_critical_days_is_critical() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAME], -360, 3);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsCertExpiring));
    assert!(r.message.contains("less than 7 days"), "{}", r.message);
    // Expiring is not a verification failure: openssl says 0.
    assert_verify(&r, 0, "ok");
    assert_cert_metrics(&r, true, 2);
}

#[tokio::test]
async fn expiry_within_warn_days_is_a_warning_and_options_move_it() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAME], -360, 10);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let t = target(addr, Protocol::Imap, TlsMode::Implicit);
    let r = run(&t, pki.roots(), TIMEOUT).await;
    assert_outcome(&r, Status::Warning, Some(Reason::TlsCertExpiring));
    assert!(r.message.contains("less than 21 days"), "{}", r.message);
    assert_cert_metrics(&r, true, 2);
    // A warning does not stop the service check.
    assert!(r.details["greeting"].is_string());

    let relaxed = json!({"warn_days": 5, "critical_days": 2});
    let r = run_with(&t, pki.roots(), TIMEOUT, relaxed).await;
    assert_outcome(&r, Status::Ok, None);
    let strict = json!({"warn_days": 60, "critical_days": 30});
    let r = run_with(&t, pki.roots(), TIMEOUT, strict).await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsCertExpiring));
}

#[tokio::test]
async fn an_intermediate_expiring_first_counts() {
    let pki = Pki::with_intermediate_validity(-300, 5);
    let leaf = pki.leaf(&[NAME], -1, 365);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsCertExpiring));
    assert!(r.message.contains("Test Intermediate CA"), "{}", r.message);
}

/// rcgen (ring) cannot sign with SHA-1, so this chain was made once with openssl
/// (`tests/fixtures/make-weak.sh`): an RSA CA that signed a P-256 leaf with sha1WithRSAEncryption.
#[tokio::test]
async fn a_sha1_signature_is_weak() {
    let fixture_cert = |s: &str| {
        rustls_pemfile::certs(&mut s.as_bytes())
            .next()
            .unwrap()
            .unwrap()
    };
    let ca = fixture_cert(include_str!("fixtures/weak-sha1-ca.pem"));
    let leaf = fixture_cert(include_str!("fixtures/weak-sha1-leaf.pem"));
    let key = include_str!("fixtures/weak-sha1-leaf-key.pem");
    let key = rustls_pemfile::private_key(&mut key.as_bytes())
        .unwrap()
        .unwrap();
    let addr = imaps(vec![leaf], key).await;
    let mut roots = RootCertStore::empty();
    roots.add(ca).unwrap();
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        roots,
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsWeak));
    assert!(r.message.contains("sha1WithRSAEncryption"), "{}", r.message);
    assert_verify(&r, 68, "CA signature digest algorithm too weak");
    assert_cert_metrics(&r, false, 1);
}

// ---------------------------------------------------------------------------------------------
// Configuration.

#[tokio::test]
async fn a_target_without_tls_is_a_config_error() {
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let t = target(addr, Protocol::Imap, TlsMode::None);
    let r = run(&t, RootCertStore::empty(), TIMEOUT).await;
    assert_outcome(&r, Status::Unknown, Some(Reason::ConfigError));
    assert!(
        r.message.contains("tls probe on a target without TLS"),
        "{}",
        r.message
    );
    assert!(TlsProbe.validate(&t, &serde_json::Value::Null).is_err());
}

#[test]
fn the_tls_probe_is_built_in() {
    assert!(mailbeat_probes::builtin().iter().any(|p| p.name() == "tls"));
}

#[tokio::test]
async fn options_are_validated() {
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let t = target(addr, Protocol::Imap, TlsMode::Implicit);
    assert!(TlsProbe.validate(&t, &serde_json::Value::Null).is_ok());
    assert!(TlsProbe
        .validate(&t, &json!({"warn_days": 30, "critical_days": 10}))
        .is_ok());
    assert!(TlsProbe.validate(&t, &json!({"warn_dys": 30})).is_err());
    let r = run_with(&t, RootCertStore::empty(), TIMEOUT, json!({"bogus": 1})).await;
    assert_outcome(&r, Status::Unknown, Some(Reason::ConfigError));
}
