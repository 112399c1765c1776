//! What rustls (webpki) objected to in a chain, told apart and said in words.
//!
//! rustls passes on the webpki errors it has no variant of its own for inside
//! `CertificateError::Other` (`CaUsedAsEndEntity`, `UnsupportedCriticalExtension`,
//! `EndEntityUsedAsCa`, ...), and prints most of its variants with `{:?}`; neither is for people.
//! [`Objection::of`] unpacks webpki's error and [`Objection::words`] says each one the way openssl
//! says its own (`self-signed certificate`, `unsuitable certificate purpose`). The verdict (the
//! reason, the openssl verify code, which certificate is at fault) is the parent module's.

use rustls::CertificateError;

/// One objection of rustls/webpki to a presented chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Objection {
    /// A certificate's notAfter is past (also webpki's `InvalidCertValidity`, notAfter before
    /// notBefore, which rustls calls expired).
    Expired,
    /// A certificate's notBefore is ahead.
    NotYetValid,
    /// No subjectAltName is the name (webpki never reads the subject CN).
    WrongName,
    /// No path to a trust anchor.
    UnknownIssuer,
    /// The leaf is a CA certificate (basicConstraints CA:TRUE): webpki checks this on the leaf
    /// alone, before it looks for an issuer.
    CaAsLeaf,
    /// A certificate on the path as an issuer is not a CA certificate.
    LeafAsCa,
    /// A CA's pathLenConstraint is exceeded.
    PathLength,
    /// A CA issued a certificate for a name outside its nameConstraints.
    NameConstraints,
    /// A signature does not verify with its issuer's key; also what webpki (ring) says of a
    /// signature by an RSA key under 2048 bits, which it refuses to use.
    BadSignature,
    /// A signature algorithm rustls does not verify (SHA-1, MD5, Ed448, P-521, ...).
    UnsupportedAlgorithm,
    /// A signature of a kind that does not fit its issuer's key, or a key rustls does not use.
    AlgorithmForKey,
    /// The extendedKeyUsage does not allow TLS server authentication: what it allows instead.
    Purpose(Vec<String>),
    /// An extendedKeyUsage extension with no purpose in it.
    EmptyPurpose,
    /// A critical extension webpki does not process.
    CriticalExtension,
    /// A certificate older than X.509 version 3.
    Version,
    Revoked,
    RevocationUnknown,
    RevocationListExpired,
    /// The certificate's key is explicitly distrusted.
    Distrusted,
    /// Longer than webpki's limit of 6 intermediates.
    ChainTooLong,
    /// webpki gave up: too many signatures, paths or name comparisons to try.
    TooComplex,
    /// The certificate's two signature algorithm fields disagree.
    SignatureFieldsDiffer,
    /// The certificate is not valid DER or an extension is malformed.
    Encoding,
    /// The stapled OCSP response is not valid.
    Ocsp,
    /// Anything else, in rustls's own words when they are not a debug dump.
    Other(Option<String>),
}

impl Objection {
    /// The objection in `error`, as webpki raised it.
    pub(crate) fn of(error: &rustls::Error) -> Objection {
        match error {
            rustls::Error::InvalidCertificate(e) => Self::of_certificate(e),
            rustls::Error::General(words) => Objection::Other(Some(words.clone())),
            _ => Objection::Other(None),
        }
    }

    #[allow(deprecated)]
    fn of_certificate(error: &CertificateError) -> Objection {
        use CertificateError as C;
        match error {
            C::BadEncoding => Objection::Encoding,
            C::Expired | C::ExpiredContext { .. } => Objection::Expired,
            C::NotValidYet | C::NotValidYetContext { .. } => Objection::NotYetValid,
            C::Revoked => Objection::Revoked,
            C::UnhandledCriticalExtension => Objection::CriticalExtension,
            C::UnknownIssuer => Objection::UnknownIssuer,
            C::UnknownRevocationStatus => Objection::RevocationUnknown,
            C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => {
                Objection::RevocationListExpired
            }
            C::BadSignature => Objection::BadSignature,
            C::UnsupportedSignatureAlgorithm | C::UnsupportedSignatureAlgorithmContext { .. } => {
                Objection::UnsupportedAlgorithm
            }
            C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                Objection::AlgorithmForKey
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => Objection::WrongName,
            C::InvalidPurpose => Objection::Purpose(Vec::new()),
            C::InvalidPurposeContext { presented, .. } => {
                Objection::Purpose(presented.iter().map(ToString::to_string).collect())
            }
            C::InvalidOcspResponse => Objection::Ocsp,
            C::ApplicationVerificationFailure => Objection::Other(None),
            C::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
                Some(e) => Self::of_webpki(e),
                None => Objection::Other(None),
            },
            _ => Objection::Other(None),
        }
    }

    /// webpki's errors, the ones rustls maps to a variant of its own included (a verifier other
    /// than rustls's could pass them on as they are).
    #[allow(deprecated)]
    fn of_webpki(error: &webpki::Error) -> Objection {
        use webpki::Error as W;
        match error {
            W::CertExpired { .. } | W::InvalidCertValidity => Objection::Expired,
            W::CertNotValidYet { .. } => Objection::NotYetValid,
            W::CertNotValidForName(_) => Objection::WrongName,
            W::UnknownIssuer => Objection::UnknownIssuer,
            W::CaUsedAsEndEntity => Objection::CaAsLeaf,
            W::EndEntityUsedAsCa => Objection::LeafAsCa,
            W::PathLenConstraintViolated => Objection::PathLength,
            W::NameConstraintViolation => Objection::NameConstraints,
            W::InvalidSignatureForPublicKey => Objection::BadSignature,
            W::UnsupportedSignatureAlgorithm | W::UnsupportedSignatureAlgorithmContext(_) => {
                Objection::UnsupportedAlgorithm
            }
            W::UnsupportedSignatureAlgorithmForPublicKey
            | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => Objection::AlgorithmForKey,
            W::RequiredEkuNotFound | W::RequiredEkuNotFoundContext(_) => {
                Objection::Purpose(Vec::new())
            }
            W::EmptyEkuExtension => Objection::EmptyPurpose,
            W::UnsupportedCriticalExtension => Objection::CriticalExtension,
            W::UnsupportedCertVersion => Objection::Version,
            W::CertRevoked => Objection::Revoked,
            W::UnknownRevocationStatus => Objection::RevocationUnknown,
            W::CrlExpired { .. } => Objection::RevocationListExpired,
            W::CertDistrusted => Objection::Distrusted,
            W::MaximumPathDepthExceeded => Objection::ChainTooLong,
            W::MaximumSignatureChecksExceeded
            | W::MaximumPathBuildCallsExceeded
            | W::MaximumNameConstraintComparisonsExceeded => Objection::TooComplex,
            W::SignatureAlgorithmMismatch => Objection::SignatureFieldsDiffer,
            W::BadDer
            | W::BadDerTime
            | W::TrailingData(_)
            | W::MalformedExtensions
            | W::ExtensionValueInvalid
            | W::InvalidSerialNumber
            | W::MalformedDnsIdentifier
            | W::MalformedNameConstraint
            | W::InvalidNetworkMaskConstraint => Objection::Encoding,
            _ => Objection::Other(None),
        }
    }

    /// True for what webpki checks on the leaf alone, before it looks for any issuer: when it
    /// objects to one of these, it never said whether the chain would have verified.
    pub(crate) fn before_any_issuer(&self) -> bool {
        matches!(
            self,
            Objection::CaAsLeaf
                | Objection::Purpose(_)
                | Objection::EmptyPurpose
                | Objection::CriticalExtension
                | Objection::Version
                | Objection::Encoding
        )
    }

    /// The objection in words, openssl's where it has them.
    pub(crate) fn words(&self) -> String {
        let words = match self {
            Objection::Expired => "certificate has expired",
            Objection::NotYetValid => "certificate is not yet valid",
            Objection::WrongName => "certificate is not valid for the server's name",
            Objection::UnknownIssuer => {
                "unable to get local issuer certificate (no path to a trusted root)"
            }
            Objection::CaAsLeaf => {
                "the server's certificate is a CA certificate (basicConstraints CA:TRUE), which \
                 rustls refuses as a server's own"
            }
            Objection::LeafAsCa => "a certificate that issued another is not a CA certificate",
            Objection::PathLength => "path length constraint exceeded",
            Objection::NameConstraints => {
                "a CA issued a certificate for a name outside its name constraints"
            }
            Objection::BadSignature => {
                "certificate signature failure (a signature does not verify with the key that \
                 should have made it, or that key is too weak to be used)"
            }
            Objection::UnsupportedAlgorithm => {
                "a certificate is signed with an algorithm rustls does not verify"
            }
            Objection::AlgorithmForKey => {
                "a signature does not fit the kind of key that should have made it"
            }
            Objection::Purpose(allowed) if !allowed.is_empty() => {
                return format!(
                    "unsuitable certificate purpose: its extendedKeyUsage allows {} but not \
                     server authentication",
                    allowed.join(", ")
                )
            }
            Objection::Purpose(_) => {
                "unsuitable certificate purpose: its extendedKeyUsage does not allow server \
                 authentication"
            }
            Objection::EmptyPurpose => {
                "unsuitable certificate purpose: its extendedKeyUsage extension is empty"
            }
            Objection::CriticalExtension => "unhandled critical extension",
            Objection::Version => "the certificate is not X.509 version 3",
            Objection::Revoked => "certificate revoked",
            Objection::RevocationUnknown => "the certificate's revocation status is unknown",
            Objection::RevocationListExpired => "the certificate revocation list has expired",
            Objection::Distrusted => "the certificate's key is explicitly distrusted",
            Objection::ChainTooLong => "certificate chain too long (more than 6 intermediates)",
            Objection::TooComplex => "the certificate chain is too complex to verify",
            Objection::SignatureFieldsDiffer => {
                "the certificate's two signature algorithm fields disagree"
            }
            Objection::Encoding => "the certificate is not valid DER or has a malformed extension",
            Objection::Ocsp => "the stapled OCSP response is not valid",
            Objection::Other(Some(words)) => {
                return format!("the certificate was refused: {words}")
            }
            Objection::Other(None) => "the certificate was refused",
        };
        words.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::{ServerName, UnixTime};
    use rustls::{ExtendedKeyPurpose, OtherError};
    use std::sync::Arc;

    fn other(e: webpki::Error) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
    }

    /// Every variant rustls 0.23 has, and the webpki errors it passes on in `Other`: each is
    /// told apart and said without a debug dump.
    #[test]
    #[allow(deprecated)]
    fn every_certificate_error_is_named_in_words() {
        use CertificateError as C;
        let t = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1));
        let cases: Vec<(rustls::Error, Objection)> = vec![
            (C::BadEncoding.into(), Objection::Encoding),
            (C::Expired.into(), Objection::Expired),
            (
                C::ExpiredContext {
                    time: t,
                    not_after: t,
                }
                .into(),
                Objection::Expired,
            ),
            (C::NotValidYet.into(), Objection::NotYetValid),
            (
                C::NotValidYetContext {
                    time: t,
                    not_before: t,
                }
                .into(),
                Objection::NotYetValid,
            ),
            (C::Revoked.into(), Objection::Revoked),
            (
                C::UnhandledCriticalExtension.into(),
                Objection::CriticalExtension,
            ),
            (C::UnknownIssuer.into(), Objection::UnknownIssuer),
            (
                C::UnknownRevocationStatus.into(),
                Objection::RevocationUnknown,
            ),
            (
                C::ExpiredRevocationList.into(),
                Objection::RevocationListExpired,
            ),
            (
                C::ExpiredRevocationListContext {
                    time: t,
                    next_update: t,
                }
                .into(),
                Objection::RevocationListExpired,
            ),
            (C::BadSignature.into(), Objection::BadSignature),
            (
                C::UnsupportedSignatureAlgorithm.into(),
                Objection::UnsupportedAlgorithm,
            ),
            (
                C::UnsupportedSignatureAlgorithmContext {
                    signature_algorithm_id: vec![1, 2],
                    supported_algorithms: vec![],
                }
                .into(),
                Objection::UnsupportedAlgorithm,
            ),
            (
                C::UnsupportedSignatureAlgorithmForPublicKeyContext {
                    signature_algorithm_id: vec![1],
                    public_key_algorithm_id: vec![2],
                }
                .into(),
                Objection::AlgorithmForKey,
            ),
            (C::NotValidForName.into(), Objection::WrongName),
            (
                C::NotValidForNameContext {
                    expected: ServerName::try_from("mail.test").unwrap(),
                    presented: vec!["DnsName(\"other.test\")".into()],
                }
                .into(),
                Objection::WrongName,
            ),
            (C::InvalidPurpose.into(), Objection::Purpose(vec![])),
            (
                C::InvalidPurposeContext {
                    required: ExtendedKeyPurpose::ServerAuth,
                    presented: vec![ExtendedKeyPurpose::ClientAuth],
                }
                .into(),
                Objection::Purpose(vec!["client authentication".into()]),
            ),
            (C::InvalidOcspResponse.into(), Objection::Ocsp),
            (
                C::ApplicationVerificationFailure.into(),
                Objection::Other(None),
            ),
            (other(webpki::Error::CaUsedAsEndEntity), Objection::CaAsLeaf),
            (other(webpki::Error::EndEntityUsedAsCa), Objection::LeafAsCa),
            (
                other(webpki::Error::PathLenConstraintViolated),
                Objection::PathLength,
            ),
            (
                other(webpki::Error::NameConstraintViolation),
                Objection::NameConstraints,
            ),
            (
                other(webpki::Error::UnsupportedCriticalExtension),
                Objection::CriticalExtension,
            ),
            (
                other(webpki::Error::UnsupportedCertVersion),
                Objection::Version,
            ),
            (
                other(webpki::Error::EmptyEkuExtension),
                Objection::EmptyPurpose,
            ),
            (other(webpki::Error::CertDistrusted), Objection::Distrusted),
            (
                other(webpki::Error::MaximumPathDepthExceeded),
                Objection::ChainTooLong,
            ),
            (
                other(webpki::Error::MaximumSignatureChecksExceeded),
                Objection::TooComplex,
            ),
            (
                other(webpki::Error::SignatureAlgorithmMismatch),
                Objection::SignatureFieldsDiffer,
            ),
            (
                other(webpki::Error::MalformedExtensions),
                Objection::Encoding,
            ),
            (other(webpki::Error::BadDer), Objection::Encoding),
            (
                other(webpki::Error::UnsupportedNameType),
                Objection::Other(None),
            ),
            (
                rustls::Error::InvalidCertificate(C::Other(OtherError(Arc::new(
                    std::io::Error::other("custom"),
                )))),
                Objection::Other(None),
            ),
        ];
        for (error, expected) in cases {
            let objection = Objection::of(&error);
            assert_eq!(objection, expected, "{error:?}");
            let words = objection.words();
            for dump in ["Other(", "OtherError", "Context", "{", "Error", "\""] {
                assert!(!words.contains(dump), "{error:?} → {words}");
            }
        }
    }
}
