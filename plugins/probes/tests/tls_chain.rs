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
// Certificates that rustls refuses, as people make them: each gets its most specific reason, a
// message in words (never a Rust debug dump) and the verify code `openssl s_client` prints for the
// same certificate. The codes were checked by hand against OpenSSL 3.0.19 (Debian 12, security
// level 2): `openssl s_server -accept 127.0.0.1:PORT -cert LEAF -key KEY [-cert_chain CHAIN]
// -cipher 'DEFAULT@SECLEVEL=0'` (so that it serves weak keys at all) and `openssl s_client -connect
// 127.0.0.1:PORT -servername mail.test -CAfile ROOT [-verify_hostname mail.test]
// [-verify_return_error]`; each test says what it printed.

/// Nothing a person reads is a Rust debug dump of a rustls or webpki error.
#[track_caller]
fn assert_words(r: &mailbeat_sdk::CheckResult) {
    for dump in [
        "Other(",
        "OtherError",
        "Context {",
        "CaUsedAsEndEntity",
        "Unsupported",
    ] {
        assert!(!r.message.contains(dump), "{}", r.message);
    }
}

#[tokio::test]
async fn a_self_signed_ca_true_leaf_as_openssl_req_x509_makes_it() {
    // `openssl req -x509 -new -subj /CN=mail.test -addext subjectAltName=DNS:mail.test` marks the
    // certificate CA:TRUE; webpki objects to that (CaUsedAsEndEntity) before it looks for an
    // issuer. openssl printed `Verify return code: 18 (self-signed certificate)`.
    let pki = Pki::new();
    let leaf = openssl_req_x509(&[NAME], true);
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsSelfSigned));
    assert_verify(&r, 18, "self-signed certificate");
    assert_words(&r);
    assert!(
        r.message.starts_with(
            "self-signed certificate: 'CN=mail.test' is signed by itself and is not trusted; use \
             a certificate from a trusted CA, or make a self-signed one without CA:TRUE and trust \
             it with ca_file; also, 'CN=mail.test' is marked as a CA (basicConstraints CA:TRUE"
        ),
        "{}",
        r.message
    );
    assert!(
        r.message.contains("basicConstraints=critical,CA:FALSE"),
        "{}",
        r.message
    );
    assert!(
        r.message
            .ends_with("(openssl: verify code 18, self-signed certificate)"),
        "{}",
        r.message
    );
    assert_cert_metrics(&r, false, 1);
}

#[tokio::test]
async fn a_trusted_self_signed_ca_true_leaf_is_still_refused() {
    // Trusted with ca_file, openssl accepts it: `Verify return code: 0 (ok)` (also with
    // -verify_hostname mail.test). rustls refuses a CA certificate as the server's own all the
    // same.
    let leaf = openssl_req_x509(&[NAME], true);
    let mut roots = RootCertStore::empty();
    roots.add(leaf.cert.clone()).unwrap();
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        roots,
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsSelfSigned));
    assert_verify(&r, 0, "ok");
    assert_words(&r);
    assert!(
        r.message.starts_with(
            "self-signed certificate 'CN=mail.test' is trusted (ca_file) but is marked as a CA"
        ),
        "{}",
        r.message
    );
    assert!(
        r.message.ends_with(
            "; openssl would accept it (verify code 0, it is in the trusted CA file); rustls and \
             current mail clients refuse a CA certificate as a server's own"
        ),
        "{}",
        r.message
    );
    assert_cert_metrics(&r, false, 1);
}

#[tokio::test]
async fn a_ca_true_leaf_from_a_trusted_ca() {
    // A CA that issues a server certificate with CA:TRUE: openssl printed `Verify return code: 0
    // (ok)`; rustls refuses it.
    let pki = Pki::new();
    let (mut params, key) = leaf_params(&[NAME], -1, 365);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let leaf = pki.sign(&params, &key);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHandshakeFailed));
    assert_verify(&r, 0, "ok");
    assert_words(&r);
    assert!(
        r.message
            .starts_with("the server's certificate 'CN=mail.test' is marked as a CA"),
        "{}",
        r.message
    );
    assert!(
        r.message
            .contains("openssl would accept it (verify code 0, CA:TRUE on a server's certificate"),
        "{}",
        r.message
    );
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn a_self_signed_ca_true_leaf_with_the_name_only_in_the_cn() {
    // `openssl req -x509 -new -subj /CN=mail.test` without -addext: CA:TRUE and no
    // subjectAltName. openssl printed 18 (self-signed certificate), with -verify_hostname
    // mail.test too: it finds the name in the CN.
    let pki = Pki::new();
    let leaf = openssl_req_x509(&[NAME], false);
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsSelfSigned));
    assert_verify(&r, 18, "self-signed certificate");
    assert_words(&r);
    assert!(r.message.contains("CA:TRUE"), "{}", r.message);
    assert!(
        r.message.contains(
            "also, the name is only in the subject (CN=mail.test) and it has no subjectAltName"
        ),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_name_only_in_the_subject_cn() {
    // A trusted chain whose leaf has CN=mail.test and no subjectAltName. openssl printed
    // `Verify return code: 0 (ok)`, with `-verify_hostname mail.test` too (X509_check_host falls
    // back to the CN when there is no DNS subjectAltName); rustls refuses it (NotValidForName).
    let pki = Pki::new();
    let (mut params, key) = leaf_params(&[NAME], -1, 365);
    params.subject_alt_names.clear();
    let leaf = pki.sign(&params, &key);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHostnameMismatch));
    assert_verify(&r, 0, "ok");
    assert_words(&r);
    assert_eq!(
        r.message,
        "certificate is not valid for mail.test: the name is only in the subject \
         (CN=mail.test) and it has no subjectAltName; reissue it with \
         subjectAltName=DNS:mail.test; openssl would accept it (verify code 0, name only in the \
         subject CN); rustls and current mail clients refuse a certificate without a \
         subjectAltName"
    );
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn a_leaf_for_another_name_and_untrusted_says_both() {
    // A self-signed CA:FALSE leaf for other.test. openssl printed 18 (self-signed certificate);
    // with -verify_hostname mail.test it printed `verify error:num=18` and `num=62:hostname
    // mismatch`, and `Verify return code: 62`; with -verify_return_error it stopped at 18.
    // The name comes first: the server presented a certificate for another host, and trusting
    // it would not make it valid for this one.
    let pki = Pki::new();
    let leaf = self_signed_leaf(&["other.test"]);
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHostnameMismatch));
    assert_verify(&r, 18, "self-signed certificate");
    assert_words(&r);
    assert_eq!(
        r.message,
        "certificate is not valid for mail.test: it is valid for other.test; also, \
         'CN=other.test' is self-signed and not trusted (openssl: verify code 18, self-signed \
         certificate; with -verify_hostname mail.test it also reports 62, hostname mismatch)"
    );

    // The same from a CA nobody here trusts, leaf only: openssl printed 21 (unable to verify the
    // first certificate).
    let other = Pki::other();
    let leaf = other.leaf(&["other.test"], -1, 365);
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHostnameMismatch));
    assert_verify(&r, 21, "unable to verify the first certificate");
    assert!(
        r.message.contains("also, the chain is incomplete"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn rsa_1024_and_512_leaves_are_critical_with_openssl_code_66() {
    // webpki verifies the chain (the intermediate's signature is strong), and then refuses the
    // handshake signature of a key under 2048 bits. openssl printed `Verify return code: 66 (EE
    // certificate key too weak)` for a 1024-bit and a 512-bit RSA leaf (the 512-bit one served
    // with -tls1_2: no RSA-PSS signature fits in 512 bits).
    let pki = Pki::new();
    for bits in [1024, 512] {
        let leaf = pki.leaf_with_rsa_key_bits(&[NAME, "127.0.0.1"], bits);
        let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
        let r = run(
            &target(addr, Protocol::Imap, TlsMode::Implicit),
            pki.roots(),
            TIMEOUT,
        )
        .await;
        assert_outcome(&r, Status::Critical, Some(Reason::TlsWeak));
        assert_verify(&r, 66, "EE certificate key too weak");
        assert_words(&r);
        assert!(
            r.message.starts_with(&format!(
                "weak certificate: 'CN=mail.test' (the leaf) has a RSA {bits} key (less than \
                 2048 bits); rustls and current mail clients refuse it"
            )),
            "{}",
            r.message
        );
        assert_eq!(observation(&r, "tls_chain_verified"), 0.0);
    }
}

#[tokio::test]
async fn an_rsa_1024_ca_is_critical_with_openssl_code_67() {
    // ring signs with no RSA key under 2048 bits, so this chain was made once with openssl
    // (`tests/fixtures/make-refused.sh`): a trusted root with an RSA-1024 key that signed a P-256
    // leaf. webpki reports a bad signature (ring will not verify with the key). openssl printed
    // `Verify return code: 67 (CA certificate key too weak)`.
    let ca = fixture_cert(include_str!("fixtures/weak-rsa1024-ca.pem"));
    let leaf = fixture_cert(include_str!("fixtures/weak-rsa1024-ca-leaf.pem"));
    let key = fixture_key(include_str!("fixtures/weak-rsa1024-ca-leaf-key.pem"));
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
    assert_verify(&r, 67, "CA certificate key too weak");
    assert_words(&r);
    assert!(
        r.message.starts_with(
            "weak certificate: the trusted root 'CN=Weak RSA-1024 Root CA' that issued it has a \
             RSA 1024 key (less than 2048 bits)"
        ),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_weak_self_signed_leaf_trusted_with_ca_file_is_openssl_code_66() {
    // A self-signed RSA-1024 leaf, trusted as its own root (`ca_file`). openssl printed
    // `verify error:num=66:EE certificate key too weak`: it looks at the leaf before the root.
    let leaf = fixture_cert(include_str!("fixtures/weak-rsa1024-selfsigned.pem"));
    let key = fixture_key(include_str!("fixtures/weak-rsa1024-ca-leaf-key.pem"));
    let addr = imaps(vec![leaf.clone()], key).await;
    let mut roots = RootCertStore::empty();
    roots.add(leaf).unwrap();
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        roots,
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsWeak));
    assert_verify(&r, 66, "EE certificate key too weak");
    assert_words(&r);
}

#[tokio::test]
async fn a_client_only_certificate_is_unsuitable() {
    // extendedKeyUsage clientAuth only. openssl printed `Verify return code: 26 (unsuitable
    // certificate purpose)`.
    let pki = Pki::new();
    let (mut params, key) = leaf_params(&[NAME], -1, 365);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = pki.sign(&params, &key);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHandshakeFailed));
    assert_verify(&r, 26, "unsuitable certificate purpose");
    assert_words(&r);
    assert_eq!(
        r.message,
        "the certificate 'CN=mail.test' is not for TLS servers: unsuitable certificate purpose: \
         its extendedKeyUsage allows client authentication but not server authentication \
         (openssl: verify code 26, unsuitable certificate purpose)"
    );
}

#[tokio::test]
async fn an_unknown_critical_extension() {
    // A critical extension with an OID nobody knows (1.2.3.4.5). openssl printed `Verify return
    // code: 34 (unhandled critical extension)`.
    let pki = Pki::new();
    let (mut params, key) = leaf_params(&[NAME], -1, 365);
    let mut ext = rcgen::CustomExtension::from_oid_content(&[1, 2, 3, 4, 5], vec![0x05, 0x00]);
    ext.set_criticality(true);
    params.custom_extensions.push(ext);
    let leaf = pki.sign(&params, &key);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHandshakeFailed));
    assert_verify(&r, 34, "unhandled critical extension");
    assert_words(&r);
    assert!(
        r.message.starts_with(
            "'CN=mail.test' (the leaf) has a critical extension that rustls does not process \
             (1.2.3.4.5)"
        ),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_version_1_leaf() {
    // `openssl x509 -req` without -extfile makes a version 1 certificate (fixture from
    // `tests/fixtures/make-refused.sh`: rcgen writes only version 3), with the name in the CN
    // alone. openssl printed `Verify return code: 0 (ok)`, with -verify_hostname mail.test too;
    // webpki refuses it (UnsupportedCertVersion).
    let ca = fixture_cert(include_str!("fixtures/v1-ca.pem"));
    let leaf = fixture_cert(include_str!("fixtures/v1-leaf.pem"));
    let key = fixture_key(include_str!("fixtures/v1-leaf-key.pem"));
    let addr = imaps(vec![leaf], key).await;
    let mut roots = RootCertStore::empty();
    roots.add(ca).unwrap();
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        roots,
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHostnameMismatch));
    assert_verify(&r, 0, "ok");
    assert_words(&r);
    assert!(
        r.message.starts_with(
            "certificate is not valid for mail.test: the name is only in the subject \
             (CN=mail.test) and it has no subjectAltName"
        ),
        "{}",
        r.message
    );
    assert!(
        r.message
            .contains("also, 'CN=mail.test' is an X.509 version 1 certificate"),
        "{}",
        r.message
    );
    assert!(
        r.message.contains("openssl would accept it (verify code 0"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_signature_algorithm_rustls_does_not_verify() {
    // An Ed448 root that signed the leaf (fixture from `tests/fixtures/make-refused.sh`: ring has
    // no Ed448). Strong, and openssl printed `Verify return code: 0 (ok)`; webpki refuses it
    // (UnsupportedSignatureAlgorithmContext).
    let ca = fixture_cert(include_str!("fixtures/ed448-ca.pem"));
    let leaf = fixture_cert(include_str!("fixtures/ed448-leaf.pem"));
    let key = fixture_key(include_str!("fixtures/ed448-leaf-key.pem"));
    let addr = imaps(vec![leaf], key).await;
    let mut roots = RootCertStore::empty();
    roots.add(ca).unwrap();
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        roots,
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHandshakeFailed));
    assert_verify(&r, 0, "ok");
    assert_words(&r);
    assert!(
        r.message.starts_with(
            "'CN=mail.test' (the leaf) is signed with ED448, which rustls does not verify"
        ),
        "{}",
        r.message
    );
    assert!(
        r.message
            .ends_with("; openssl would accept it (verify code 0, openssl verifies ED448); rustls and current mail clients refuse a signature algorithm they do not implement"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn an_intermediate_that_is_not_a_ca() {
    // The leaf is signed by a certificate with basicConstraints CA:FALSE. openssl printed
    // `Verify return code: 26 (unsuitable certificate purpose)` (with -verify_return_error it
    // stops at the first, 79, invalid CA certificate).
    let pki = Pki::new();
    let mut params = Pki::ca_params("Not A CA");
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let not_ca = pki.sub_ca(params);
    let leaf = leaf_signed_by(&not_ca, &[NAME]);
    let addr = imaps(
        vec![leaf.cert, not_ca.der().clone(), pki.intermediate()],
        leaf.key,
    )
    .await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsUntrustedRoot));
    assert_verify(&r, 26, "unsuitable certificate purpose");
    assert_words(&r);
    assert!(
        r.message.starts_with(
            "'CN=Not A CA, O=mailbeat test' (depth 1) issued the certificate below it but is not \
             a CA certificate"
        ),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_path_length_constraint_exceeded() {
    // The intermediate allows no CA under it (pathLenConstraint 0), and one is there. openssl
    // printed `Verify return code: 25 (path length constraint exceeded)`.
    let pki = Pki::with_intermediate_path_len(0);
    let sub = pki.sub_ca(Pki::ca_params("Sub CA"));
    let leaf = leaf_signed_by(&sub, &[NAME]);
    let addr = imaps(
        vec![leaf.cert, sub.der().clone(), pki.intermediate()],
        leaf.key,
    )
    .await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsUntrustedRoot));
    assert_verify(&r, 25, "path length constraint exceeded");
    assert_words(&r);
}

#[tokio::test]
async fn a_name_outside_the_cas_name_constraints() {
    // A CA constrained to example.com issued a leaf for mail.test. openssl printed `Verify
    // return code: 47 (permitted subtree violation)`.
    let pki = Pki::new();
    let mut params = Pki::ca_params("Constrained CA");
    params.name_constraints = Some(rcgen::NameConstraints {
        permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("example.com".into())],
        excluded_subtrees: vec![],
    });
    let constrained = pki.sub_ca(params);
    let leaf = leaf_signed_by(&constrained, &[NAME]);
    let addr = imaps(
        vec![leaf.cert, constrained.der().clone(), pki.intermediate()],
        leaf.key,
    )
    .await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsUntrustedRoot));
    assert_verify(&r, 47, "permitted subtree violation");
    assert_words(&r);
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
