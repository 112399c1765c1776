//! What webpki refused other than dates, names and a missing path, told as the fault of the
//! certificate that has it, and the weaknesses of keys and signatures with openssl's codes for
//! them.

use super::*;

/// The signature algorithms rustls (ring) verifies, as [`certs::signature_algorithm_name`] names
/// them.
pub(super) const RUSTLS_VERIFIES: &[&str] = &[
    "ecdsa-with-SHA256",
    "ecdsa-with-SHA384",
    "ED25519",
    "sha256WithRSAEncryption",
    "sha384WithRSAEncryption",
    "sha512WithRSAEncryption",
    "rsassaPss",
];

/// What webpki refused other than dates, names and a missing path, as a fault of the certificate
/// that has it; `None` for those, or when no certificate shows it.
pub(super) fn refusal(
    objection: &Objection,
    chain: &Chain<'_>,
    on_path: &[(usize, &CertInfo)],
    leaf: &CertInfo,
    path: &IssuerPath,
) -> Option<Fault> {
    let issuers = || on_path.iter().filter(|(depth, _)| *depth > 0);
    // The first certificate that shows a fact, on the path first, then any presented.
    let all = chain.all();
    let showing = |pred: &dyn Fn(&CertInfo) -> bool| {
        on_path
            .iter()
            .chain(all.iter())
            .find(|(_, c)| pred(c))
            .copied()
    };
    let fault = match objection {
        Objection::Expired
        | Objection::NotYetValid
        | Objection::WrongName
        | Objection::UnknownIssuer => return None,
        Objection::CaAsLeaf => {
            const MARKED: &str = "is marked as a CA (basicConstraints CA:TRUE, which `openssl req \
                 -x509` sets unless told otherwise), and rustls and current mail clients refuse a \
                 CA certificate as a server's own, even a trusted one";
            const REMEDY: &str = "make it again with `-addext basicConstraints=critical,CA:FALSE`";
            let note = format!("'{}' {MARKED}: {REMEDY}", leaf.subject);
            if leaf.is_self_signed() {
                Fault::critical(
                    Reason::TlsSelfSigned,
                    Some(0),
                    format!(
                        "self-signed certificate '{}' is trusted (ca_file) but {MARKED}; {REMEDY}",
                        leaf.subject
                    ),
                )
                .accepted_by_openssl(
                    "it is in the trusted CA file",
                    "a CA certificate as a server's own",
                )
            } else {
                Fault::critical(
                    Reason::TlsHandshakeFailed,
                    Some(0),
                    format!(
                        "the server's certificate '{}' {MARKED}; have it reissued with CA:FALSE",
                        leaf.subject
                    ),
                )
                .accepted_by_openssl(
                    "CA:TRUE on a server's certificate does not matter to openssl",
                    "a CA certificate as a server's own",
                )
            }
            .with_note(note)
        }
        Objection::Purpose(_) | Objection::EmptyPurpose => Fault::critical(
            Reason::TlsHandshakeFailed,
            Some(26),
            format!(
                "the certificate '{}' is not for TLS servers: {}",
                leaf.subject,
                objection.words()
            ),
        ),
        Objection::CriticalExtension => {
            let (depth, cert) = showing(&|c| !c.unhandled_critical.is_empty())?;
            let names = cert.unhandled_critical.join(", ");
            let fault = Fault::critical(
                Reason::TlsHandshakeFailed,
                Some(34),
                format!(
                    "'{}' ({}) has a critical extension that rustls does not process ({names}), \
                     so rustls and clients built on it must refuse the certificate",
                    cert.subject,
                    depth_words(depth)
                ),
            );
            // openssl refuses a critical extension it does not know (34) and processes the ones
            // it names (certificatePolicies, ...), which are the ones written as a name here.
            if cert
                .unhandled_critical
                .iter()
                .all(|n| !n.starts_with(|c: char| c.is_ascii_digit()))
            {
                fault.accepted_by_openssl(
                    &format!("openssl processes {names}"),
                    "a critical extension they do not process",
                )
            } else {
                fault
            }
        }
        Objection::Version => {
            let (depth, cert) = showing(&|c| c.version < 3)?;
            let fault = Fault::critical(
                Reason::TlsHandshakeFailed,
                None,
                format!(
                    "'{}' ({}) is an X.509 version {} certificate (what `openssl x509 -req` makes \
                     without -extfile): it has no extensions, so no subjectAltName, and rustls \
                     and current mail clients refuse any certificate older than version 3; \
                     reissue it with `-extfile` and a subjectAltName",
                    cert.subject,
                    depth_words(depth),
                    cert.version
                ),
            )
            .with_note(format!(
                "'{}' is an X.509 version {} certificate, which rustls and current mail clients \
                 refuse (reissue it with `-extfile` and a subjectAltName)",
                cert.subject, cert.version
            ));
            if depth == 0 {
                fault.accepted_by_openssl(
                    "a version 1 leaf is fine to openssl",
                    "any certificate older than version 3",
                )
            } else {
                fault
            }
        }
        // ring refuses to verify with an RSA key under 2048 bits, which webpki reports as a bad
        // signature: say so when an issuer on the path (or the trust anchor) has such a key.
        Objection::BadSignature => match weak_issuer(chain, on_path, path) {
            Some((place, key, code)) => Fault::critical(
                Reason::TlsWeak,
                Some(code),
                format!(
                    "weak certificate: {place} has a {}, too weak for rustls to verify the \
                     signatures it made; current clients refuse it",
                    key.weakness().unwrap_or_else(|| key.to_string())
                ),
            ),
            None => Fault::critical(
                Reason::TlsUntrustedRoot,
                Some(7),
                "a certificate's signature does not verify with its issuer's key (an old \
                 intermediate of a CA that changed keys, or a trusted CA of the same name?)"
                    .to_string(),
            ),
        },
        Objection::UnsupportedAlgorithm | Objection::AlgorithmForKey => {
            if let Some((depth, cert, words)) = weakest(on_path) {
                Fault::critical(
                    Reason::TlsWeak,
                    Some(weak_code(depth, cert)),
                    format!(
                        "weak certificate: '{}' ({}) has a {words}; current clients refuse it",
                        cert.subject,
                        depth_words(depth)
                    ),
                )
            } else if let Some((place, key, code)) = weak_issuer(chain, on_path, path) {
                Fault::critical(
                    Reason::TlsWeak,
                    Some(code),
                    format!(
                        "weak certificate: {place} has a {}; current clients refuse it",
                        key.weakness().unwrap_or_else(|| key.to_string())
                    ),
                )
            } else if let Some((depth, cert)) = on_path
                .iter()
                .find(|(_, c)| !RUSTLS_VERIFIES.contains(&c.signature_algorithm.as_str()))
            {
                Fault::critical(
                    Reason::TlsHandshakeFailed,
                    None,
                    format!(
                        "'{}' ({}) is signed with {}, which rustls does not verify (it verifies \
                         ECDSA P-256 and P-384, Ed25519, and RSA of 2048 bits and more, with \
                         SHA-256, SHA-384 or SHA-512), and neither do clients built on it",
                        cert.subject,
                        depth_words(*depth),
                        cert.signature_algorithm
                    ),
                )
                .accepted_by_openssl(
                    &format!("openssl verifies {}", cert.signature_algorithm),
                    "a signature algorithm they do not implement",
                )
            } else {
                Fault::critical(Reason::TlsHandshakeFailed, None, objection.words())
            }
        }
        Objection::LeafAsCa => {
            let (depth, cert) = issuers().find(|(_, c)| !c.is_ca).copied()?;
            Fault::critical(
                Reason::TlsUntrustedRoot,
                Some(26),
                format!(
                    "'{}' ({}) issued the certificate below it but is not a CA certificate \
                     (basicConstraints CA:FALSE, or none), so nothing vouches for the leaf; the \
                     server must send the intermediate CA that really issued it",
                    cert.subject,
                    depth_words(depth)
                ),
            )
        }
        Objection::PathLength => Fault::critical(
            Reason::TlsUntrustedRoot,
            Some(25),
            "path length constraint exceeded: a CA on the path allows fewer CAs under it \
             (pathLenConstraint) than the chain has, so it does not vouch for the leaf"
                .to_string(),
        ),
        Objection::NameConstraints => Fault::critical(
            Reason::TlsUntrustedRoot,
            Some(47),
            format!(
                "a CA on the path may issue only for the names its nameConstraints permit, and \
                 '{}' is for other names, so it does not vouch for it",
                leaf.subject
            ),
        ),
        Objection::Revoked => Fault::critical(
            Reason::TlsHandshakeFailed,
            Some(23),
            "certificate revoked: its CA has revoked a certificate in the chain; replace it"
                .to_string(),
        ),
        Objection::RevocationUnknown => {
            Fault::critical(Reason::TlsHandshakeFailed, Some(3), objection.words())
        }
        Objection::RevocationListExpired => {
            Fault::critical(Reason::TlsHandshakeFailed, Some(12), objection.words())
        }
        Objection::Distrusted => {
            Fault::critical(Reason::TlsUntrustedRoot, Some(28), objection.words())
        }
        Objection::ChainTooLong => {
            Fault::critical(Reason::TlsHandshakeFailed, None, objection.words())
                .accepted_by_openssl("openssl allows chains 100 deep", "a longer chain")
        }
        Objection::TooComplex
        | Objection::SignatureFieldsDiffer
        | Objection::Encoding
        | Objection::Ocsp
        | Objection::Other(_) => {
            Fault::critical(Reason::TlsHandshakeFailed, None, objection.words())
        }
    };
    Some(fault)
}

/// The weak key that made a signature on the path (an issuer's, or the trust anchor's), where it
/// sits, and openssl's code for it: 67 (CA key too weak), or 66 when the key is the leaf's own
/// (a self-signed leaf trusted with `ca_file`, where openssl looks at the leaf first).
fn weak_issuer(
    chain: &Chain<'_>,
    on_path: &[(usize, &CertInfo)],
    path: &IssuerPath,
) -> Option<(String, KeyInfo, u32)> {
    let code = |key: &KeyInfo, leaf: bool| match (key.openssl_refuses(), leaf) {
        (false, _) => 0,
        (true, true) => 66,
        (true, false) => 67,
    };
    let presented = on_path
        .iter()
        .filter(|(depth, _)| *depth > 0)
        .find(|(_, c)| c.key.weakness().is_some())
        .map(|(depth, c)| {
            (
                format!("'{}' ({})", c.subject, depth_words(*depth)),
                c.key.clone(),
                code(&c.key, false),
            )
        });
    presented.or_else(|| {
        let last = chain.cert(path.last())?;
        let key = chain.anchor_key(last)?;
        key.weakness()?;
        if path.last() == 0 && last.is_self_issued() {
            return Some((
                format!(
                    "'{}' (the leaf, self-signed and trusted with ca_file)",
                    last.subject
                ),
                key.clone(),
                code(&key, true),
            ));
        }
        Some((
            format!("the trusted root '{}' that issued it", last.issuer),
            key.clone(),
            code(&key, false),
        ))
    })
}

/// The first weakness on the path, leaf first.
pub(super) fn weakest<'a>(
    on_path: &[(usize, &'a CertInfo)],
) -> Option<(usize, &'a CertInfo, String)> {
    on_path.iter().find_map(|(depth, cert)| {
        let words = cert.weaknesses();
        (!words.is_empty()).then(|| (*depth, *cert, words.join(" and a ")))
    })
}

/// openssl's code for a weakness at security level 2: 66/67 for a key it refuses (leaf/CA), 68
/// for a weak digest, 0 for a key only rustls refuses (a P-224 curve).
pub(super) fn weak_code(depth: usize, cert: &CertInfo) -> u32 {
    match (
        cert.key.weakness().is_some(),
        cert.key.openssl_refuses(),
        depth,
    ) {
        (true, true, 0) => 66,
        (true, true, _) => 67,
        (true, false, _) if !cert.weak_signature_hash => 0,
        _ => 68,
    }
}
