//! Certificates that rustls refuses, as people make them (`openssl req -x509` with CA:TRUE,
//! weak keys, a name only in the CN, old versions, constraints): each gets its most specific
//! reason, a message in words and the verify code `openssl s_client` prints.

mod tls_support;

use mailbeat_sdk::{Protocol, Reason, Status, TlsMode};
use rustls::RootCertStore;
use tls_support::*;

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
