//! Facts about X.509 certificates, read from their DER: names, validity, key, signature, and the
//! checks a person reads from `openssl x509 -text` (self-signed? weak? valid for this name?).
//!
//! Pure functions, no I/O and no clock: the `tls` probe hands in the certificates the server
//! presented and "now". Everything here takes server-controlled bytes, so nothing panics: what
//! cannot be parsed is an `Err` or an absent fact.
//!
//! Name matching is done here and not left to webpki because webpki checks the chain before the
//! name: when the chain does not verify, webpki never says whether the name would have matched, and
//! "wrong name" is the more useful answer.
//!
//! How the presented certificates chain (who issued whom, and the path from the leaf that
//! matters) is [`path`].

use sha2::{Digest, Sha256};
use std::fmt;
use std::net::IpAddr;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

mod key;
pub mod path;

use key::key_info;
pub use key::{key_of_spki, KeyAlgorithm, KeyInfo, MIN_EC_BITS, MIN_RSA_BITS};

/// A subjectAltName entry that server names are matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    Dns(String),
    Ip(IpAddr),
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(name) => f.write_str(name),
            San::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// What the `tls` probe needs to know about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject as `CN=mail.example.com, O=Example`.
    pub subject: String,
    pub issuer: String,
    /// The first common name of the subject, if any.
    pub subject_cn: Option<String>,
    /// DNS and IP subjectAltNames (other kinds are not used for server names).
    pub sans: Vec<San>,
    /// Validity, in seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the DER, as `openssl x509 -fingerprint -sha256` prints it.
    pub sha256_fingerprint: String,
    pub key: KeyInfo,
    /// Signature algorithm name as openssl prints it (`sha256WithRSAEncryption`).
    pub signature_algorithm: String,
    /// True when the signature uses MD2, MD5 or SHA-1.
    pub weak_signature_hash: bool,
    /// basicConstraints CA:TRUE.
    pub is_ca: bool,
    /// The X.509 version as people count it (1 or 3; `openssl x509 -req` without `-extfile` makes
    /// a version 1 certificate, which has no extensions at all).
    pub version: u32,
    /// Critical extensions that webpki does not process and so refuses the certificate for
    /// (`certificatePolicies`, or an OID), as `openssl x509 -text` names them.
    pub unhandled_critical: Vec<String>,
    /// Authority Information Access "CA Issuers" URLs: where the issuer certificate can be fetched.
    pub ca_issuers_urls: Vec<String>,
    subject_der: Vec<u8>,
    issuer_der: Vec<u8>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
}

/// Parses one DER certificate.
pub fn parse(der: &[u8]) -> Result<CertInfo, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("cannot parse certificate: {e}"))?;
    let subject_cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    let mut info = CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        subject_cn,
        sans: Vec::new(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        sha256_fingerprint: fingerprint_sha256(der),
        key: key_info(cert.public_key()),
        signature_algorithm: signature_algorithm_name(
            &cert.signature_algorithm.algorithm.to_id_string(),
        ),
        weak_signature_hash: is_weak_signature_oid(
            &cert.signature_algorithm.algorithm.to_id_string(),
        ),
        is_ca: false,
        version: cert.version().0 + 1,
        unhandled_critical: Vec::new(),
        ca_issuers_urls: Vec::new(),
        subject_der: name_content(cert.subject().as_raw()).to_vec(),
        issuer_der: name_content(cert.issuer().as_raw()).to_vec(),
        subject_key_id: None,
        authority_key_id: None,
    };
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        if ext.critical && !WEBPKI_EXTENSIONS.contains(&oid.as_str()) {
            info.unhandled_critical.push(extension_name(&oid));
        }
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                info.sans
                    .extend(san.general_names.iter().filter_map(san_of));
            }
            ParsedExtension::BasicConstraints(bc) => info.is_ca = bc.ca,
            ParsedExtension::SubjectKeyIdentifier(id) => info.subject_key_id = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                info.authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for desc in &aia.accessdescs {
                    // 1.3.6.1.5.5.7.48.2 is id-ad-caIssuers.
                    if desc.access_method.to_id_string() == "1.3.6.1.5.5.7.48.2" {
                        if let GeneralName::URI(url) = desc.access_location {
                            info.ca_issuers_urls.push(url.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

/// The extensions webpki reads (keyUsage, subjectAltName, basicConstraints, nameConstraints,
/// cRLDistributionPoints, extKeyUsage): a critical extension of any other kind makes it refuse the
/// certificate (`UnsupportedCriticalExtension`), as openssl refuses one it does not know (34).
const WEBPKI_EXTENSIONS: &[&str] = &[
    "2.5.29.15",
    "2.5.29.17",
    "2.5.29.19",
    "2.5.29.30",
    "2.5.29.31",
    "2.5.29.37",
];

/// An extension's name as `openssl x509 -text` prints it, else its OID.
fn extension_name(oid: &str) -> String {
    let name = match oid {
        "2.5.29.14" => "subjectKeyIdentifier",
        "2.5.29.32" => "certificatePolicies",
        "2.5.29.33" => "policyMappings",
        "2.5.29.35" => "authorityKeyIdentifier",
        "2.5.29.36" => "policyConstraints",
        "2.5.29.54" => "inhibitAnyPolicy",
        "1.3.6.1.5.5.7.1.1" => "authorityInfoAccess",
        "1.3.6.1.5.5.7.1.24" => "TLS Feature (OCSP must-staple)",
        "1.3.6.1.4.1.11129.2.4.2" => "CT Precertificate SCTs",
        other => other,
    };
    name.to_string()
}

impl CertInfo {
    /// Issuer and subject are the same name (a root, or a self-made certificate).
    pub fn is_self_issued(&self) -> bool {
        self.subject_der == self.issuer_der
    }

    /// Self-issued, and its key identifiers (when both are present) say it signed itself. The
    /// signature itself is not checked: the verdict on trust is webpki's, this only names the
    /// shape of the chain as openssl would (`self-signed certificate`).
    pub fn is_self_signed(&self) -> bool {
        self.is_self_issued()
            && match (&self.authority_key_id, &self.subject_key_id) {
                (Some(aki), Some(ski)) => aki == ski,
                _ => true,
            }
    }

    /// Why this certificate is weak, in words; empty when it is not. The signature of a
    /// self-signed certificate is not counted: nobody checks a root's signature on itself.
    pub fn weaknesses(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(key) = self.key.weakness() {
            out.push(key);
        }
        if self.weak_signature_hash && !self.is_self_signed() {
            out.push(format!("{} signature", self.signature_algorithm));
        }
        out
    }

    /// True when a subjectAltName matches `name` (RFC 6125; see [`name_matches`]).
    pub fn matches_name(&self, name: &str) -> bool {
        name_matches(&self.sans, name)
    }

    /// The common name, else the whole subject: a short label for a person or a metric.
    pub fn short_name(&self) -> &str {
        self.subject_cn.as_deref().unwrap_or(&self.subject)
    }
}

/// The content of a DER `Name` without its SEQUENCE tag and length, which is how rustls stores a
/// trust anchor's subject. Returns the input unchanged when it does not look like a SEQUENCE.
pub fn name_content(raw: &[u8]) -> &[u8] {
    match raw {
        [0x30, len, rest @ ..] if *len < 0x80 => rest,
        [0x30, len, rest @ ..] => {
            let n = usize::from(len & 0x7f);
            rest.get(n..).unwrap_or(raw)
        }
        _ => raw,
    }
}

fn san_of(name: &GeneralName<'_>) -> Option<San> {
    match name {
        GeneralName::DNSName(dns) => Some(San::Dns(dns.to_string())),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => <[u8; 4]>::try_from(*bytes)
                .ok()
                .map(|b| San::Ip(IpAddr::from(b))),
            16 => <[u8; 16]>::try_from(*bytes)
                .ok()
                .map(|b| San::Ip(IpAddr::from(b))),
            _ => None,
        },
        _ => None,
    }
}

/// The name openssl prints for a signature algorithm OID (the OID itself when unknown).
pub fn signature_algorithm_name(oid: &str) -> String {
    let name = match oid {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.3" => "dsaWithSHA1",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        other => other,
    };
    name.to_string()
}

/// True for signature algorithms over MD2, MD5 or SHA-1, which collisions have broken.
pub fn is_weak_signature_oid(oid: &str) -> bool {
    matches!(
        oid,
        "1.2.840.113549.1.1.2"
            | "1.2.840.113549.1.1.4"
            | "1.2.840.113549.1.1.5"
            | "1.3.14.3.2.29"
            | "1.2.840.10045.4.1"
            | "1.2.840.10040.4.3"
    )
}

/// SHA-256 of `der` as colon-separated upper-case hex, the way
/// `openssl x509 -noout -fingerprint -sha256` prints it.
pub fn fingerprint_sha256(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// True when one of `sans` matches the server name `name` (RFC 6125): an IP address only against
/// IP SANs; a DNS name case-insensitively against DNS SANs, where `*` may stand for exactly the
/// whole left-most label and is not used under fewer than two more labels (`*.com` matches
/// nothing). The subject CN is never used, as in every current client.
pub fn name_matches(sans: &[San], name: &str) -> bool {
    let name = crate::net::bare_host(name);
    if let Ok(ip) = name.parse::<IpAddr>() {
        return sans.iter().any(|s| matches!(s, San::Ip(a) if *a == ip));
    }
    sans.iter().any(|s| match s {
        San::Dns(pattern) => dns_pattern_matches(pattern, name),
        San::Ip(_) => false,
    })
}

/// One DNS SAN (possibly `*.example.com`) against one host name; see [`name_matches`].
pub fn dns_pattern_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(rest) => {
            if rest.contains('*') || rest.split('.').count() < 2 {
                return false;
            }
            match host.split_once('.') {
                Some((first, host_rest)) => !first.is_empty() && host_rest == rest,
                None => false,
            }
        }
        // A `*` anywhere else (`f*.example.com`, `a.*.example.com`) is not honoured.
        None => !pattern.contains('*') && pattern == host,
    }
}

/// Seconds since the Unix epoch as RFC 3339 UTC (`2026-11-22T12:00:00Z`). Written out here
/// because certificate dates can lie before 1970 or far ahead, where `humantime` gives up.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era.saturating_mul(400) + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn pem_der(pem: &str) -> Vec<u8> {
        let mut reader = std::io::BufReader::new(pem.as_bytes());
        let der = rustls_pemfile::certs(&mut reader)
            .next()
            .expect("one certificate")
            .expect("valid PEM");
        der.to_vec()
    }

    const RSA1024: &str = include_str!("../../tests/fixtures/weak-rsa1024.pem");
    pub(super) const SHA1_LEAF: &str = include_str!("../../tests/fixtures/weak-sha1-leaf.pem");
    pub(super) const SHA1_CA: &str = include_str!("../../tests/fixtures/weak-sha1-ca.pem");

    #[test]
    fn rsa_1024_key_is_weak() {
        let info = parse(&pem_der(RSA1024)).unwrap();
        assert_eq!(info.key.algorithm, KeyAlgorithm::Rsa);
        assert_eq!(info.key.bits, 1024);
        assert_eq!(info.key.to_string(), "RSA 1024");
        assert_eq!(info.signature_algorithm, "sha256WithRSAEncryption");
        assert!(info.is_self_signed());
        let weak = info.weaknesses();
        assert_eq!(weak.len(), 1, "{weak:?}");
        assert!(weak[0].contains("RSA 1024"), "{weak:?}");
    }

    #[test]
    fn sha1_signature_is_weak_but_not_on_a_root() {
        let leaf = parse(&pem_der(SHA1_LEAF)).unwrap();
        assert_eq!(leaf.signature_algorithm, "sha1WithRSAEncryption");
        assert!(leaf.weak_signature_hash);
        assert_eq!(leaf.key.to_string(), "EC P-256");
        assert_eq!(leaf.weaknesses(), vec!["sha1WithRSAEncryption signature"]);
        let ca = parse(&pem_der(SHA1_CA)).unwrap();
        assert_eq!(ca.key.to_string(), "RSA 2048");
        assert!(ca.is_ca);
        assert!(ca.weaknesses().is_empty());
        assert!(ca.is_issuer_of(&leaf));
        assert!(!leaf.is_issuer_of(&ca));
    }

    #[test]
    fn facts_of_a_fixture() {
        let der = pem_der(SHA1_LEAF);
        let leaf = parse(&der).unwrap();
        assert_eq!(leaf.subject, "CN=mail.test");
        assert_eq!(leaf.subject_cn.as_deref(), Some("mail.test"));
        assert_eq!(leaf.issuer, "CN=Weak Test Root CA");
        assert_eq!(
            leaf.sans,
            vec![
                San::Dns("mail.test".into()),
                San::Ip("127.0.0.1".parse().unwrap())
            ]
        );
        assert!(leaf.not_before < leaf.not_after);
        assert!(rfc3339(leaf.not_after).starts_with("21"));
        let fp = leaf.sha256_fingerprint.clone();
        assert_eq!(fp.len(), 32 * 3 - 1);
        assert_eq!(fp, fingerprint_sha256(&der));
        assert!(fp
            .chars()
            .all(|c| c == ':' || c.is_ascii_hexdigit() && !c.is_lowercase()));
        assert!(!leaf.is_self_issued());
        assert!(leaf.matches_name("mail.test"));
        assert!(leaf.matches_name("MAIL.TEST."));
        assert!(leaf.matches_name("127.0.0.1"));
        assert!(!leaf.matches_name("127.0.0.2"));
        assert!(!leaf.matches_name("other.test"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(b"").is_err());
        assert!(parse(b"\x30\x03\x02\x01\x00").is_err());
        assert!(parse(&[0xff; 64]).is_err());
        let der = pem_der(SHA1_LEAF);
        for cut in [1, 10, der.len() / 2, der.len() - 1] {
            assert!(parse(&der[..cut]).is_err());
        }
    }

    #[test]
    fn wildcards_follow_rfc_6125() {
        assert!(dns_pattern_matches("*.example.com", "mail.example.com"));
        assert!(dns_pattern_matches("*.Example.COM", "MAIL.example.com"));
        assert!(!dns_pattern_matches("*.example.com", "example.com"));
        assert!(!dns_pattern_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_pattern_matches("*.example.com", ".example.com"));
        assert!(!dns_pattern_matches("*.com", "example.com"));
        assert!(!dns_pattern_matches("m*.example.com", "mail.example.com"));
        assert!(!dns_pattern_matches("mail.*.com", "mail.example.com"));
        assert!(!dns_pattern_matches("*.*.example.com", "a.b.example.com"));
        assert!(dns_pattern_matches("mail.example.com", "mail.example.com."));
        assert!(!dns_pattern_matches("", ""));
        assert!(!dns_pattern_matches("*", "localhost"));
    }

    #[test]
    fn ip_names_match_only_ip_sans() {
        let sans = vec![
            San::Dns("127.0.0.1".into()),
            San::Ip("::1".parse().unwrap()),
        ];
        assert!(
            !name_matches(&sans, "127.0.0.1"),
            "an IP never matches a DNS SAN"
        );
        assert!(name_matches(&sans, "::1"));
        assert!(name_matches(&sans, "[::1]"));
        assert!(!name_matches(
            &[San::Ip("10.0.0.1".parse().unwrap())],
            "ten.example"
        ));
    }

    #[test]
    fn rfc3339_covers_odd_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_348_800), "2026-11-22T12:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(-62_135_596_800), "0001-01-01T00:00:00Z");
        // Nothing panics at the extremes.
        let _ = rfc3339(i64::MAX);
        let _ = rfc3339(i64::MIN);
    }

    #[test]
    fn weak_signature_oids() {
        assert!(is_weak_signature_oid("1.2.840.113549.1.1.5"));
        assert!(is_weak_signature_oid("1.2.840.113549.1.1.4"));
        assert!(is_weak_signature_oid("1.2.840.10045.4.1"));
        assert!(!is_weak_signature_oid("1.2.840.113549.1.1.11"));
        assert!(!is_weak_signature_oid("1.2.840.10045.4.3.2"));
        assert_eq!(
            signature_algorithm_name("1.2.840.10045.4.3.2"),
            "ecdsa-with-SHA256"
        );
        assert_eq!(signature_algorithm_name("1.2.3.4"), "1.2.3.4");
    }

    #[test]
    fn name_content_strips_the_sequence_header() {
        assert_eq!(name_content(&[0x30, 2, 0xaa, 0xbb]), &[0xaa, 0xbb]);
        assert_eq!(name_content(&[0x30, 0x81, 2, 0xaa, 0xbb]), &[0xaa, 0xbb]);
        assert_eq!(name_content(&[0x31, 1, 0xaa]), &[0x31, 1, 0xaa]);
        assert_eq!(name_content(&[0x30, 0x84, 0]), &[0x30, 0x84, 0]);
        assert_eq!(name_content(&[]), &[] as &[u8]);
    }
}
