use super::*;
use rustls::CertificateError;

#[test]
fn openssl_words() {
    assert_eq!(openssl_text(0), "ok");
    assert_eq!(openssl_text(21), "unable to verify the first certificate");
    assert_eq!(
        openssl_text(999),
        "unspecified certificate verification error"
    );
}

fn judge_alone(
    presented: &[Option<CertInfo>],
    path: Option<&IssuerPath>,
    error: Option<&rustls::Error>,
    name: &str,
    now: i64,
) -> Verdict {
    let presented: Vec<Option<Arc<CertInfo>>> =
        presented.iter().map(|c| c.clone().map(Arc::new)).collect();
    let chain = Chain {
        presented: &presented,
        anchors: &[],
    };
    judge(&chain, path, error, name, now, &TlsOptions::default())
}

#[test]
fn unparseable_leaf_is_a_handshake_failure() {
    let v = judge_alone(
        &[None],
        None,
        Some(&rustls::Error::InvalidCertificate(
            CertificateError::BadEncoding,
        )),
        "mail.test",
        0,
    );
    assert_eq!(v.reason, Some(Reason::TlsHandshakeFailed));
    assert_ne!(v.code, 0);
    assert!(!v.message.contains("BadEncoding"), "{}", v.message);
}

fn rsa1024() -> CertInfo {
    let pem = include_str!("../../../tests/fixtures/weak-rsa1024.pem");
    let der = rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    certs::parse(&der).unwrap()
}

#[test]
fn a_weak_key_on_a_verified_chain_is_critical_with_openssl_code_66() {
    // webpki verifies signatures on the path, not the leaf's own key: a leaf with a weak key
    // under a strong CA verifies, and then its handshake signature fails. openssl (security
    // level 2) refuses it with 66.
    let presented = vec![Some(rsa1024())];
    let path = IssuerPath {
        depths: vec![0],
        end: PathEnd::Anchored,
    };
    let now = presented[0].as_ref().unwrap().not_before + 86_400;
    let v = judge_alone(&presented, Some(&path), None, "weak-rsa.test", now);
    assert_eq!(
        (v.status, v.reason, v.code, v.verified),
        (Status::Critical, Some(Reason::TlsWeak), 66, false)
    );
    assert!(v.message.contains("RSA 1024"), "{}", v.message);
    assert!(
        v.message
            .ends_with("(openssl: verify code 66, EE certificate key too weak)"),
        "{}",
        v.message
    );
}

#[test]
fn revocation_objections_are_named_though_no_crl_is_configured() {
    // The probe gives webpki no CRLs, so these cannot happen today; if they do, they are
    // named in words with openssl's code, not dumped.
    let leaf = rsa1024();
    let now = leaf.not_before + 86_400;
    let presented = vec![Some(leaf)];
    let path = IssuerPath {
        depths: vec![0],
        end: PathEnd::Anchored,
    };
    for (error, code) in [
        (CertificateError::Revoked, 23),
        (CertificateError::UnknownRevocationStatus, 3),
        (CertificateError::ExpiredRevocationList, 12),
    ] {
        let error = rustls::Error::InvalidCertificate(error);
        let v = judge_alone(&presented, Some(&path), Some(&error), "weak-rsa.test", now);
        assert_eq!(v.code, code, "{}", v.message);
        assert_eq!(v.reason, Some(Reason::TlsHandshakeFailed));
        assert!(!v.message.contains("Revocation"), "{}", v.message);
    }
}

#[test]
fn day_words() {
    assert_eq!(days(3 * 86_400), "3 days");
    assert_eq!(days(3600 * 5), "5.0 hours");
}
