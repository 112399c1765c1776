//! Judging a presented chain: the verdict (status, reason, message) and the openssl verify code
//! that goes with it.
//!
//! webpki checks the chain before the name and stops at the first error, so the verdict is refined
//! from the certificates themselves ([`certs`]), most specific first: expired, not yet valid, wrong
//! name, then an unknown issuer told apart into self-signed leaf, incomplete chain (the leaf's
//! issuer was neither sent nor trusted) and untrusted root. A verified chain can still warn: weak
//! key or signature, or an expiry closer than `warn_days`/`critical_days`. Each verdict carries the
//! code and words `openssl s_client` would print for it (`Verify return code: 21 (unable to verify
//! the first certificate)`); for a wrong name that is only with `-verify_hostname NAME` (or
//! `-verify_ip`), which the message says, since `-servername` alone checks no name and prints 0.
//!
//! The `tls` probe judges every chain it sees; [`name_handshake_failure`] names a refused
//! handshake the same way for the `auth` probe's [`super::client::handshake`].

mod objection;

use super::options::TlsOptions;
use crate::certs::path::{issuer_path, IssuerPath, PathEnd};
use crate::certs::{self, CertInfo};
use crate::{net, Failure};
use mailbeat_sdk::{CheckResult, ProbeContext, Reason, Status, Target};
pub(crate) use objection::Objection;
use rustls::pki_types::CertificateDer;
use rustls::CertificateError;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the verifier saw: the chain as presented (leaf first) and webpki's objection, if any.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub chain: Vec<CertificateDer<'static>>,
    pub error: Option<rustls::Error>,
}

/// Parses and judges what the verifier saw: the presented certificates, the path through them
/// and the verdict.
pub(super) fn judge_seen(
    seen: &Seen,
    target: &Target,
    ctx: &ProbeContext,
    options: &TlsOptions,
) -> (Vec<Option<CertInfo>>, Option<IssuerPath>, Verdict) {
    let presented: Vec<Option<CertInfo>> =
        seen.chain.iter().map(|c| certs::parse(c).ok()).collect();
    let anchors: Vec<&[u8]> = ctx.roots.roots.iter().map(|a| a.subject.as_ref()).collect();
    let path = issuer_path(&presented, &anchors);
    let verdict = judge(
        &presented,
        path.as_ref(),
        seen.error.as_ref(),
        target.verify_name(),
        unix_now(),
        options,
    );
    (presented, path, verdict)
}

/// Names a failed handshake the way the `tls` probe does, from what the verifier saw (`None`: no
/// certificate came): a chain webpki refused gets its verdict (incomplete chain, self-signed,
/// wrong name, ...); a failure after a chain that verified is blamed on a weak leaf key when
/// there is one. Used by [`super::client::handshake`], so the `auth` probe says what the `tls`
/// probe says.
pub(crate) fn name_handshake_failure(
    failure: Failure,
    seen: Option<Seen>,
    target: &Target,
    ctx: &ProbeContext,
) -> Failure {
    let Some(seen) = seen else {
        return failure;
    };
    let (presented, _, verdict) = judge_seen(&seen, target, ctx, &TlsOptions::default());
    match verdict.reason {
        Some(reason) if seen.error.is_some() => {
            Failure::new(verdict.status, reason, verdict.message)
        }
        _ => handshake_failed_after_chain(&failure, &presented),
    }
}

/// The verdict on a presented chain.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Verdict {
    pub(super) status: Status,
    pub(super) reason: Option<Reason>,
    /// The openssl verify code (0 = ok), see [`openssl_text`].
    pub(super) code: u32,
    /// The `openssl s_client` option without which it would not print `code` (name checks).
    pub(super) openssl_option: Option<String>,
    pub(super) message: String,
}

impl Verdict {
    fn new(status: Status, reason: Option<Reason>, code: u32, message: String) -> Self {
        let message = format!(
            "{message} (openssl: verify code {code}, {})",
            openssl_text(code)
        );
        Verdict {
            status,
            reason,
            code,
            openssl_option: None,
            message,
        }
    }

    fn critical(reason: Reason, code: u32, message: String) -> Self {
        Verdict::new(Status::Critical, Some(reason), code, message)
    }

    /// A wrong name: openssl checks names only when asked (`-verify_hostname NAME`, 62, or
    /// `-verify_ip IP`, 64); with `-servername` alone it prints 0.
    fn name_mismatch(name: &str, message: String) -> Self {
        let (code, option) = match name.parse::<std::net::IpAddr>() {
            Ok(_) => (64, format!("-verify_ip {name}")),
            Err(_) => (62, format!("-verify_hostname {name}")),
        };
        Verdict {
            status: Status::Critical,
            reason: Some(Reason::TlsHostnameMismatch),
            code,
            message: format!(
                "{message} (openssl: verify code {code} with {option}, {})",
                openssl_text(code)
            ),
            openssl_option: Some(option),
        }
    }

    pub(super) fn to_result(&self) -> CheckResult {
        match self.reason {
            Some(reason) => CheckResult::fail(self.status, reason, &self.message),
            None => CheckResult::ok(&self.message),
        }
    }
}

/// The words openssl prints for its `X509_V_ERR_*` codes (OpenSSL 3 spelling).
pub(super) fn openssl_text(code: u32) -> &'static str {
    match code {
        0 => "ok",
        7 => "certificate signature failure",
        9 => "certificate is not yet valid",
        10 => "certificate has expired",
        18 => "self-signed certificate",
        19 => "self-signed certificate in certificate chain",
        20 => "unable to get local issuer certificate",
        21 => "unable to verify the first certificate",
        23 => "certificate revoked",
        26 => "unsuitable certificate purpose",
        62 => "hostname mismatch",
        64 => "IP address mismatch",
        66 => "EE certificate key too weak",
        67 => "CA certificate key too weak",
        68 => "CA signature digest algorithm too weak",
        _ => "unspecified certificate verification error",
    }
}

/// Judges the presented chain from webpki's objection (`error`, `None` when it verified) and the
/// certificates themselves, most specific reason first.
fn judge(
    presented: &[Option<CertInfo>],
    path: Option<&IssuerPath>,
    error: Option<&rustls::Error>,
    name: &str,
    now: i64,
    options: &TlsOptions,
) -> Verdict {
    let (Some(leaf), Some(path)) = (presented.first().and_then(Option::as_ref), path) else {
        return match error {
            // webpki is the judge of trust; only the details are missing.
            None => Verdict::new(
                Status::Ok,
                None,
                0,
                "certificate chain verified, but the certificate could not be read for details"
                    .to_string(),
            ),
            Some(e) => Verdict::critical(
                Reason::TlsHandshakeFailed,
                1,
                format!(
                    "the server's certificate cannot be parsed: {}",
                    Objection::of(e).words()
                ),
            ),
        };
    };
    let on_path: Vec<(usize, &CertInfo)> = path
        .depths
        .iter()
        .filter_map(|&i| Some((i, presented.get(i)?.as_ref()?)))
        .collect();
    match error {
        None => judge_verified(&on_path, now, options),
        Some(error) => judge_failed(presented, &on_path, leaf, path, error, name, now),
    }
}

/// webpki objected: expired, not yet valid, wrong name, then what its objection says.
fn judge_failed(
    presented: &[Option<CertInfo>],
    on_path: &[(usize, &CertInfo)],
    leaf: &CertInfo,
    path: &IssuerPath,
    error: &rustls::Error,
    name: &str,
    now: i64,
) -> Verdict {
    let cert_error = match error {
        rustls::Error::InvalidCertificate(e) => Some(e),
        _ => None,
    };
    let said_expired = matches!(
        cert_error,
        Some(CertificateError::Expired | CertificateError::ExpiredContext { .. })
    );
    let said_not_yet = matches!(
        cert_error,
        Some(CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. })
    );
    // What webpki looked at is the path; if it objected to a date we did not find there, it took
    // another presented certificate, so look at them all.
    let all: Vec<(usize, &CertInfo)> = presented
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, c.as_ref()?)))
        .collect();
    let find = |pred: &dyn Fn(&CertInfo) -> bool, fallback: bool| {
        on_path
            .iter()
            .chain(if fallback { all.iter() } else { [].iter() })
            .find(|(_, c)| pred(c))
            .copied()
    };

    if let Some((depth, cert)) = find(&|c| c.not_after < now, said_expired) {
        return Verdict::critical(
            Reason::TlsCertExpired,
            10,
            format!(
                "certificate has expired: '{}' ({}) expired on {}, {} ago",
                cert.subject,
                depth_words(depth),
                certs::rfc3339(cert.not_after),
                days(now - cert.not_after)
            ),
        );
    }
    if let Some((depth, cert)) = find(&|c| c.not_before > now, said_not_yet) {
        return Verdict::critical(
            Reason::TlsCertNotYetValid,
            9,
            format!(
                "certificate is not yet valid: '{}' ({}) is valid only from {}, in {} \
                 (check the server's and this host's clocks)",
                cert.subject,
                depth_words(depth),
                certs::rfc3339(cert.not_before),
                days(cert.not_before - now)
            ),
        );
    }
    if said_expired || said_not_yet {
        return Verdict::critical(
            if said_expired {
                Reason::TlsCertExpired
            } else {
                Reason::TlsCertNotYetValid
            },
            if said_expired { 10 } else { 9 },
            format!("TLS: {}", Objection::of(error).words()),
        );
    }
    let said_name = matches!(
        cert_error,
        Some(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })
    );
    if said_name || !leaf.matches_name(name) {
        let names = if leaf.sans.is_empty() {
            match &leaf.subject_cn {
                Some(cn) => format!(
                    "it has no subjectAltName, and its CN={cn} is ignored by current clients"
                ),
                None => "it names no host at all".to_string(),
            }
        } else {
            let sans: Vec<String> = leaf.sans.iter().map(ToString::to_string).collect();
            format!("it is valid for {}", sans.join(", "))
        };
        return Verdict::name_mismatch(
            net::bare_host(name),
            format!("certificate is not valid for {name}: {names}"),
        );
    }

    match cert_error {
        Some(CertificateError::UnknownIssuer) => judge_unknown_issuer(presented, leaf, path),
        // webpki found the issuer by name, but its key does not verify the signature: the chain
        // does not lead to a trust anchor we have (a re-keyed CA's old intermediate, a trusted CA
        // of the same name, a forged certificate). The remedy is the one for an untrusted root
        // (find which CA really issued it), so it is named so, with openssl's code 7.
        Some(CertificateError::BadSignature) => Verdict::critical(
            Reason::TlsUntrustedRoot,
            7,
            "a certificate's signature does not verify with its issuer's key (an old \
             intermediate of a CA that changed keys, or a trusted CA of the same name?)"
                .to_string(),
        ),
        #[allow(deprecated)]
        Some(
            CertificateError::UnsupportedSignatureAlgorithm
            | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. },
        ) => match weakest(on_path) {
            Some((depth, cert, words)) => Verdict::critical(
                Reason::TlsWeak,
                weak_code(depth, cert),
                format!(
                    "'{}' ({}) has a {}; current clients refuse it",
                    cert.subject,
                    depth_words(depth),
                    words
                ),
            ),
            None => Verdict::critical(
                Reason::TlsHandshakeFailed,
                7,
                format!("TLS: {}", Objection::of(error).words()),
            ),
        },
        Some(CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. }) => {
            Verdict::critical(
                Reason::TlsHandshakeFailed,
                26,
                format!(
                    "the certificate is not for TLS servers: {}",
                    Objection::of(error).words()
                ),
            )
        }
        Some(CertificateError::Revoked) => Verdict::critical(
            Reason::TlsHandshakeFailed,
            23,
            format!("TLS: {}", Objection::of(error).words()),
        ),
        _ => Verdict::critical(
            Reason::TlsHandshakeFailed,
            1,
            format!("TLS: {}", Objection::of(error).words()),
        ),
    }
}

/// webpki found no path to a trust anchor: say whether the leaf signed itself, the server left
/// out the leaf's issuer, or the chain ends at a root nobody here trusts.
fn judge_unknown_issuer(
    presented: &[Option<CertInfo>],
    leaf: &CertInfo,
    path: &IssuerPath,
) -> Verdict {
    let last = path.last();
    let last_cert = presented.get(last).and_then(Option::as_ref).unwrap_or(leaf);
    match (path.end, last) {
        (PathEnd::SelfSigned, 0) => Verdict::critical(
            Reason::TlsSelfSigned,
            18,
            format!(
                "self-signed certificate: '{}' is signed by itself and is not trusted; use a \
                 certificate from a trusted CA, or trust this one with ca_file",
                leaf.subject
            ),
        ),
        (PathEnd::SelfSigned, _) => Verdict::critical(
            Reason::TlsUntrustedRoot,
            19,
            format!(
                "the chain ends at the self-signed root '{}' ({}), which is not trusted; if it \
                 is your own CA, add it with ca_file",
                last_cert.subject,
                depth_words(last)
            ),
        ),
        (PathEnd::MissingIssuer, 0) => {
            let sent = if presented.len() == 1 {
                format!("the server sent only the leaf ({})", leaf.subject)
            } else {
                format!(
                    "the server sent {} certificates but not the issuer of the leaf ({})",
                    presented.len(),
                    leaf.subject
                )
            };
            let fetch = match leaf.ca_issuers_urls.first() {
                Some(url) => format!("; the issuer can be downloaded from {url}"),
                None => String::new(),
            };
            Verdict::critical(
                Reason::TlsChainIncomplete,
                21,
                format!(
                    "certificate chain incomplete: {sent} and not the intermediate '{}' that \
                     issued it{fetch}; if that is a private root CA instead, add it with ca_file",
                    leaf.issuer
                ),
            )
        }
        (PathEnd::MissingIssuer, _) => Verdict::critical(
            Reason::TlsUntrustedRoot,
            20,
            format!(
                "the chain ends at '{}' ({}), issued by '{}', which is not a trusted root; if it \
                 is your own CA, add it with ca_file",
                last_cert.subject,
                depth_words(last),
                last_cert.issuer
            ),
        ),
        // The names lead to a trust anchor, yet webpki found no valid path (a different key
        // under the same name, or a constraint): the anchor we know is not the one that signed.
        (PathEnd::Anchored, _) => Verdict::critical(
            Reason::TlsUntrustedRoot,
            20,
            format!(
                "'{}' ({}) names a trusted issuer '{}' but does not verify against it (a CA \
                 with the same name and another key?)",
                last_cert.subject,
                depth_words(last),
                last_cert.issuer
            ),
        ),
    }
}

/// The chain verified: only expiry soon and weak crypto can still be said.
fn judge_verified(on_path: &[(usize, &CertInfo)], now: i64, options: &TlsOptions) -> Verdict {
    let earliest = on_path.iter().min_by_key(|(_, c)| c.not_after);
    let weak = weakest(on_path);
    let mut notes = Vec::new();
    let mut verdict = None;
    if let Some((depth, cert)) = earliest {
        let left = cert.not_after - now;
        let expiring = format!(
            "'{}' ({}) expires on {}, in {}",
            cert.subject,
            depth_words(*depth),
            certs::rfc3339(cert.not_after),
            days(left)
        );
        let status = if left < i64::from(options.critical_days) * 86_400 {
            Some((Status::Critical, options.critical_days))
        } else if left < i64::from(options.warn_days) * 86_400 {
            Some((Status::Warning, options.warn_days))
        } else {
            None
        };
        match status {
            Some((status, limit)) => {
                verdict = Some((
                    status,
                    Reason::TlsCertExpiring,
                    format!("certificate expiring: {expiring} (less than {limit} days)"),
                ));
            }
            None => notes.push(format!("earliest expiry: {expiring}")),
        }
    }
    if let Some((depth, cert, words)) = weak {
        let text = format!(
            "weak certificate: '{}' ({}) has a {}",
            cert.subject,
            depth_words(depth),
            words
        );
        match verdict {
            None => verdict = Some((Status::Warning, Reason::TlsWeak, text)),
            Some(_) => notes.push(text),
        }
    }
    let (status, reason, head) = match verdict {
        Some((status, reason, head)) => (status, Some(reason), head),
        None => (Status::Ok, None, "certificate chain verified".to_string()),
    };
    let message = std::iter::once(head)
        .chain(notes)
        .collect::<Vec<_>>()
        .join("; ");
    Verdict::new(status, reason, 0, message)
}

/// The first weakness on the path, leaf first.
fn weakest<'a>(on_path: &[(usize, &'a CertInfo)]) -> Option<(usize, &'a CertInfo, String)> {
    on_path.iter().find_map(|(depth, cert)| {
        let words = cert.weaknesses();
        (!words.is_empty()).then(|| (*depth, *cert, words.join(" and a ")))
    })
}

/// openssl's code for a weakness: 66/67 for a small key (leaf/CA), 68 for a weak digest.
fn weak_code(depth: usize, cert: &CertInfo) -> u32 {
    match (cert.key.weakness().is_some(), depth) {
        (true, 0) => 66,
        (true, _) => 67,
        (false, _) => 68,
    }
}

/// The handshake failed after a chain that verified (or warned): a weak leaf key is the likely
/// cause, since webpki refuses handshake signatures by RSA keys under 2048 bits. (A time-out or
/// any other failure that is not the handshake's own stays what it is.)
pub(super) fn handshake_failed_after_chain(
    failure: &Failure,
    presented: &[Option<CertInfo>],
) -> Failure {
    match presented.first().and_then(Option::as_ref) {
        Some(leaf)
            if leaf.key.weakness().is_some() && failure.reason == Reason::TlsHandshakeFailed =>
        {
            Failure::critical(
                Reason::TlsWeak,
                format!(
                    "the server's key is too weak to be accepted: '{}' has a {} key ({})",
                    leaf.subject, leaf.key, failure.message
                ),
            )
        }
        _ => failure.clone(),
    }
}

/// `leaf`, `intermediate at depth 1`: where a certificate sits, as a person reads it.
fn depth_words(depth: usize) -> String {
    if depth == 0 {
        "the leaf".to_string()
    } else {
        format!("depth {depth}")
    }
}

/// A span of seconds in days, as a person reads it.
fn days(secs: i64) -> String {
    let d = secs as f64 / 86_400.0;
    if d.abs() < 2.0 {
        format!("{:.1} hours", secs as f64 / 3600.0)
    } else {
        format!("{d:.0} days")
    }
}

pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_words() {
        assert_eq!(openssl_text(0), "ok");
        assert_eq!(openssl_text(21), "unable to verify the first certificate");
        assert_eq!(
            openssl_text(999),
            "unspecified certificate verification error"
        );
    }

    #[test]
    fn unparseable_leaf_is_a_handshake_failure() {
        let v = judge(
            &[None],
            None,
            Some(&rustls::Error::InvalidCertificate(
                CertificateError::BadEncoding,
            )),
            "mail.test",
            0,
            &TlsOptions::default(),
        );
        assert_eq!(v.reason, Some(Reason::TlsHandshakeFailed));
        assert_ne!(v.code, 0);
    }

    fn rsa1024() -> CertInfo {
        let pem = include_str!("../../tests/fixtures/weak-rsa1024.pem");
        let der = rustls_pemfile::certs(&mut pem.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        certs::parse(&der).unwrap()
    }

    #[test]
    fn a_weak_key_on_a_verified_chain_is_a_warning() {
        // webpki refuses weak signatures on the path, so a verified chain with a weak key is
        // one whose trust anchor vouches for it (a pinned certificate in ca_file, say).
        let presented = vec![Some(rsa1024())];
        let path = IssuerPath {
            depths: vec![0],
            end: PathEnd::Anchored,
        };
        let now = presented[0].as_ref().unwrap().not_before + 86_400;
        let v = judge(
            &presented,
            Some(&path),
            None,
            "weak-rsa.test",
            now,
            &TlsOptions::default(),
        );
        assert_eq!(
            (v.status, v.reason, v.code),
            (Status::Warning, Some(Reason::TlsWeak), 0)
        );
        assert!(v.message.contains("RSA 1024"), "{}", v.message);
    }

    #[test]
    fn a_handshake_refused_over_a_weak_leaf_key_says_so() {
        let f = Failure::critical(Reason::TlsHandshakeFailed, "TLS: invalid peer signature");
        let r = handshake_failed_after_chain(&f, &[Some(rsa1024())]);
        assert_eq!(r.reason, Reason::TlsWeak);
        assert!(r.message.contains("RSA 1024"), "{}", r.message);
        let r = handshake_failed_after_chain(&f, &[None]);
        assert_eq!(r.reason, Reason::TlsHandshakeFailed);
        let timeout = Failure::critical(Reason::ServerTimeout, "timed out during the handshake");
        let r = handshake_failed_after_chain(&timeout, &[Some(rsa1024())]);
        assert_eq!(r.reason, Reason::ServerTimeout);
    }

    #[test]
    fn day_words() {
        assert_eq!(days(3 * 86_400), "3 days");
        assert_eq!(days(3600 * 5), "5.0 hours");
    }
}
