//! Judging a presented chain: the verdict (status, reason, message) and the openssl verify code
//! that goes with it.
//!
//! webpki checks the leaf alone first (dates, basicConstraints, extendedKeyUsage), then the path
//! to a trust anchor, then the name, and stops at the first error; rustls hands on what webpki said
//! ([`Objection`] unpacks and words it). The verdict is refined from the certificates themselves
//! ([`certs`]), and may name more than one fault, the one a person must fix first at its head:
//!
//! 1. expired, then not yet valid (whatever else is wrong, nothing works until that is fixed);
//! 2. a name the certificate does not carry (it says the connection reached the wrong server or
//!    the wrong certificate; whether that certificate is trusted is moot, and trusting it with
//!    `ca_file` would not make it valid for this name);
//! 3. no path to a trusted root, told apart into self-signed leaf, incomplete chain (the leaf's
//!    issuer was neither sent nor trusted) and untrusted root;
//! 4. what else webpki refuses: a weak key or signature, a CA certificate as the leaf (what
//!    `openssl req -x509` makes unless told otherwise), a purpose other than TLS server, a
//!    critical extension it does not process, an algorithm it does not verify, ...;
//! 5. the name only in the subject CN (openssl accepts that, rustls and current clients do not);
//!    an X.509 version 1 certificate (no extensions, so no subjectAltName).
//!
//! A verified chain can still fail or warn: a key too weak for rustls to use (an RSA key under
//! 2048 bits: the handshake then fails, so it is critical), or an expiry closer than
//! `warn_days`/`critical_days`.
//!
//! Each verdict carries the code and words `openssl s_client -connect HOST:PORT -servername NAME`
//! prints for the same chain (`Verify return code: 21 (unable to verify the first certificate)`),
//! with OpenSSL 3's default security level 2 (Debian 12): 66 for a leaf RSA key under 2048 bits,
//! 68 for a SHA-1 signature. For a wrong name that is only with `-verify_hostname NAME` (62) or
//! `-verify_ip IP` (64), since `-servername` alone checks no name and prints 0; the message says
//! so. Where openssl accepts what rustls refuses (a name only in the CN, CA:TRUE on the leaf, a
//! version 1 certificate, an Ed448 signature), the code is 0 and the message says both. Where
//! mailbeat does not know openssl's code, it reports 1 (unspecified) and says so.
//!
//! The `tls` probe judges every chain it sees; [`name_handshake_failure`] names a refused
//! handshake the same way for the `auth` probe's [`super::client::handshake`].

mod objection;
mod refusal;
mod untrusted;

use super::options::TlsOptions;
use super::parsed;
use crate::certs::path::{issuer_path, IssuerPath, PathEnd};
use crate::certs::{self, CertInfo, KeyInfo};
use crate::{net, Failure};
use mailbeat_sdk::{CheckResult, ProbeContext, Reason, Status, Target};
pub(crate) use objection::Objection;
use refusal::{refusal, weak_code, weakest};
use rustls::pki_types::{CertificateDer, TrustAnchor};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use untrusted::judge_unknown_issuer;

/// What the verifier saw: the chain as presented (leaf first) and webpki's objection, if any.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub chain: Vec<CertificateDer<'static>>,
    pub error: Option<rustls::Error>,
}

/// Parses and judges what the verifier saw: the presented certificates (with their facts for
/// the details), the path through them and the verdict.
pub(super) fn judge_seen(
    seen: &Seen,
    target: &Target,
    ctx: &ProbeContext,
    options: &TlsOptions,
) -> (Vec<Option<parsed::Parsed>>, Option<IssuerPath>, Verdict) {
    let parsed: Vec<Option<parsed::Parsed>> = seen.chain.iter().map(|c| parsed::parse(c)).collect();
    let presented: Vec<Option<Arc<CertInfo>>> = parsed
        .iter()
        .map(|p| p.as_ref().map(|p| p.info.clone()))
        .collect();
    // The anchors as rustls keeps them: no list of ~150 entries made per check to look at them.
    let anchors = ctx.roots.roots.as_slice();
    let path = issuer_path(&presented, |c| {
        anchors.iter().any(|a| c.issued_by_name(a.subject.as_ref()))
    });
    let verdict = judge(
        &Chain {
            presented: &presented,
            anchors,
        },
        path.as_ref(),
        seen.error.as_ref(),
        target.verify_name(),
        unix_now(),
        options,
    );
    (parsed, path, verdict)
}

/// Names a failed handshake the way the `tls` probe does, from what the verifier saw (`None`: no
/// certificate came): a chain webpki refused gets its verdict (incomplete chain, self-signed,
/// wrong name, ...), and so does a verified chain with a key too weak for rustls to use, which is
/// why the handshake then fails. Used by [`super::client::handshake`], so the `auth` probe says
/// what the `tls` probe says.
pub(crate) fn name_handshake_failure(
    failure: Failure,
    seen: Option<Seen>,
    target: &Target,
    ctx: &ProbeContext,
) -> Failure {
    let Some(seen) = seen else {
        return failure;
    };
    let (_, _, verdict) = judge_seen(&seen, target, ctx, &TlsOptions::default());
    match verdict.reason {
        Some(reason)
            if seen.error.is_some()
                || (reason == Reason::TlsWeak
                    && verdict.status == Status::Critical
                    && failure.reason == Reason::TlsHandshakeFailed) =>
        {
            Failure::new(verdict.status, reason, verdict.message)
        }
        _ => failure,
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
    /// rustls accepted the chain for the name and its keys (`tls_chain_verified`): the chain
    /// works for current clients, though it may expire soon.
    pub(super) verified: bool,
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
            verified: false,
        }
    }

    fn critical(reason: Reason, code: u32, message: String) -> Self {
        Verdict::new(Status::Critical, Some(reason), code, message)
    }

    /// The verdict on `faults`, the first one at its head and the others as notes; the code is
    /// what `openssl s_client` prints for all of them together.
    fn of_faults(faults: &[Fault]) -> Self {
        let Some(head) = faults.first() else {
            return Verdict::critical(
                Reason::TlsHandshakeFailed,
                1,
                "the certificate was refused".to_string(),
            );
        };
        let mut message = head.text.clone();
        for fault in &faults[1..] {
            message.push_str("; also, ");
            message.push_str(&fault.note);
        }
        // Without -verify_hostname openssl prints the first fault it checks that is not the name;
        // with it, it reports the name too.
        let plain = faults
            .iter()
            .find(|f| f.option.is_none() && f.code.is_some_and(|c| c != 0));
        let named = faults.iter().find(|f| f.option.is_some());
        let unknown = faults.iter().any(|f| f.code.is_none());
        let (code, option, tail) = match (plain, named) {
            (Some(p), Some(n)) => {
                let (code, option, name_code) = (
                    p.code.unwrap_or(1),
                    n.option.clone().unwrap_or_default(),
                    n.code.unwrap_or(1),
                );
                (
                    code,
                    None,
                    format!(
                        " (openssl: verify code {code}, {}; with {option} it also reports \
                         {name_code}, {})",
                        openssl_text(code),
                        openssl_text(name_code)
                    ),
                )
            }
            (Some(p), None) => {
                let code = p.code.unwrap_or(1);
                (
                    code,
                    None,
                    format!(" (openssl: verify code {code}, {})", openssl_text(code)),
                )
            }
            (None, Some(n)) => {
                let (code, option) = (n.code.unwrap_or(1), n.option.clone().unwrap_or_default());
                (
                    code,
                    Some(option.clone()),
                    format!(
                        " (openssl: verify code {code} with {option}, {})",
                        openssl_text(code)
                    ),
                )
            }
            (None, None) if unknown => (
                1,
                None,
                " (mailbeat knows no openssl verify code for this and reports 1, unspecified)"
                    .to_string(),
            ),
            (None, None) => {
                let tail = match faults.iter().find_map(|f| f.accepted.as_ref()) {
                    Some((why, refused)) => format!(
                        "; openssl would accept it (verify code 0, {why}); rustls and current \
                         mail clients refuse {refused}"
                    ),
                    None => " (openssl: verify code 0, ok)".to_string(),
                };
                (0, None, tail)
            }
        };
        message.push_str(&tail);
        Verdict {
            status: head.status,
            reason: Some(head.reason),
            code,
            openssl_option: option,
            message,
            verified: false,
        }
    }

    pub(super) fn to_result(&self) -> CheckResult {
        match self.reason {
            Some(reason) => CheckResult::fail(self.status, reason, &self.message),
            None => CheckResult::ok(&self.message),
        }
    }
}

/// One thing wrong with a chain, as a verdict names it.
#[derive(Debug, Clone)]
struct Fault {
    status: Status,
    reason: Reason,
    /// What `openssl s_client` prints for it: 0 when openssl accepts it, `None` when mailbeat
    /// does not know.
    code: Option<u32>,
    /// The `s_client` option without which openssl checks no name (62, 64).
    option: Option<String>,
    /// What is wrong, as the head of a message.
    text: String,
    /// The same, as a note after another fault.
    note: String,
    /// Where openssl accepts it (code 0): why openssl does, and what rustls refuses.
    accepted: Option<(String, String)>,
}

impl Fault {
    fn critical(reason: Reason, code: Option<u32>, text: String) -> Self {
        Fault {
            status: Status::Critical,
            reason,
            code,
            option: None,
            note: text.clone(),
            text,
            accepted: None,
        }
    }

    fn with_note(mut self, note: String) -> Self {
        self.note = note;
        self
    }

    /// openssl accepts it (verify code 0): `why`, and what rustls refuses.
    fn accepted_by_openssl(mut self, why: &str, refused: &str) -> Self {
        self.code = Some(0);
        self.accepted = Some((why.to_string(), refused.to_string()));
        self
    }
}

/// The words openssl prints for its `X509_V_ERR_*` codes (OpenSSL 3 spelling).
pub(super) fn openssl_text(code: u32) -> &'static str {
    match code {
        0 => "ok",
        3 => "unable to get certificate CRL",
        7 => "certificate signature failure",
        9 => "certificate is not yet valid",
        10 => "certificate has expired",
        12 => "CRL has expired",
        18 => "self-signed certificate",
        19 => "self-signed certificate in certificate chain",
        20 => "unable to get local issuer certificate",
        21 => "unable to verify the first certificate",
        22 => "certificate chain too long",
        23 => "certificate revoked",
        25 => "path length constraint exceeded",
        26 => "unsuitable certificate purpose",
        28 => "certificate rejected",
        34 => "unhandled critical extension",
        47 => "permitted subtree violation",
        62 => "hostname mismatch",
        64 => "IP address mismatch",
        66 => "EE certificate key too weak",
        67 => "CA certificate key too weak",
        68 => "CA signature digest algorithm too weak",
        79 => "invalid CA certificate",
        _ => "unspecified certificate verification error",
    }
}

/// The presented certificates (leaf first; `None` for one that could not be parsed) and the trust
/// anchors.
struct Chain<'a> {
    presented: &'a [Option<Arc<CertInfo>>],
    /// The trust anchors, as rustls keeps them. Only the key of the anchor a chain ends at is
    /// ever looked at, so it is parsed then, not for each of the ~150 webpki roots on every check.
    anchors: &'a [TrustAnchor<'static>],
}

impl Chain<'_> {
    fn cert(&self, depth: usize) -> Option<&CertInfo> {
        self.presented.get(depth).and_then(Option::as_deref)
    }

    /// Every presented certificate that could be parsed, with its position.
    fn all(&self) -> Vec<(usize, &CertInfo)> {
        self.presented
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.as_deref()?)))
            .collect()
    }

    /// The key of the trust anchor that issued `cert`, by name.
    fn anchor_key(&self, cert: &CertInfo) -> Option<KeyInfo> {
        self.anchors
            .iter()
            .find(|a| cert.issued_by_name(a.subject.as_ref()))
            .and_then(|a| certs::key_of_spki(a.subject_public_key_info.as_ref()))
    }
}

/// Judges the presented chain from webpki's objection (`error`, `None` when it verified) and the
/// certificates themselves, most specific reason first.
fn judge(
    chain: &Chain<'_>,
    path: Option<&IssuerPath>,
    error: Option<&rustls::Error>,
    name: &str,
    now: i64,
    options: &TlsOptions,
) -> Verdict {
    let (Some(leaf), Some(path)) = (chain.cert(0), path) else {
        return match error {
            // webpki is the judge of trust; only the details are missing.
            None => Verdict {
                verified: true,
                ..Verdict::new(
                    Status::Ok,
                    None,
                    0,
                    "certificate chain verified, but the certificate could not be read for \
                     details"
                        .to_string(),
                )
            },
            Some(e) => Verdict::of_faults(&[Fault::critical(
                Reason::TlsHandshakeFailed,
                None,
                format!(
                    "the server's certificate cannot be parsed: {}",
                    Objection::of(e).words()
                ),
            )]),
        };
    };
    let on_path: Vec<(usize, &CertInfo)> = path
        .depths
        .iter()
        .filter_map(|&i| Some((i, chain.cert(i)?)))
        .collect();
    match error {
        None => {
            let verdict = judge_verified(&on_path, now, options);
            Verdict {
                verified: verdict.reason != Some(Reason::TlsWeak),
                ..verdict
            }
        }
        Some(error) => judge_failed(chain, &on_path, leaf, path, error, name, now),
    }
}

/// webpki objected: expired or not yet valid first, then the faults in the order of the module
/// documentation.
fn judge_failed(
    chain: &Chain<'_>,
    on_path: &[(usize, &CertInfo)],
    leaf: &CertInfo,
    path: &IssuerPath,
    error: &rustls::Error,
    name: &str,
    now: i64,
) -> Verdict {
    let objection = Objection::of(error);
    let said_expired = objection == Objection::Expired;
    let said_not_yet = objection == Objection::NotYetValid;
    // What webpki looked at is the path; if it objected to a date we did not find there, it took
    // another presented certificate, so look at them all.
    let all = chain.all();
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
        let (reason, code) = if said_expired {
            (Reason::TlsCertExpired, 10)
        } else {
            (Reason::TlsCertNotYetValid, 9)
        };
        return Verdict::critical(reason, code, objection.words());
    }

    let name = name_fault(leaf, name, objection == Objection::WrongName);
    // webpki objected to the leaf before it looked for an issuer, so it never said whether the
    // chain leads to a trusted root: the names on the chain tell.
    let trust = match &objection {
        Objection::UnknownIssuer => Some(judge_unknown_issuer(chain, leaf, path)),
        o if o.before_any_issuer() && path.end != PathEnd::Anchored => {
            Some(judge_unknown_issuer(chain, leaf, path))
        }
        _ => None,
    };
    let refusal = refusal(&objection, chain, on_path, leaf, path);
    let (cn_only, real_name) = match name {
        Some(n) if n.code == Some(0) => (Some(n), None),
        other => (None, other),
    };
    let (version, refusal) = match refusal {
        Some(r) if objection == Objection::Version => (Some(r), None),
        other => (None, other),
    };
    let faults: Vec<Fault> = [real_name, trust, refusal, cn_only, version]
        .into_iter()
        .flatten()
        .collect();
    if faults.is_empty() {
        return Verdict::of_faults(&[Fault::critical(
            Reason::TlsHandshakeFailed,
            None,
            objection.words(),
        )]);
    }
    Verdict::of_faults(&faults)
}

/// The leaf is not valid for `name` (`said`: webpki said so): the names it has instead, or that
/// the name is only in its subject CN, where openssl finds it (X509_check_host falls back to the
/// CN when there is no DNS subjectAltName) and rustls and current clients do not.
fn name_fault(leaf: &CertInfo, name: &str, said: bool) -> Option<Fault> {
    if !said && leaf.matches_name(name) {
        return None;
    }
    let host = net::bare_host(name);
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    let has_dns = leaf.sans.iter().any(|s| matches!(s, certs::San::Dns(_)));
    let cn = leaf.subject_cn.as_deref();
    if let Some(cn) = cn.filter(|cn| !is_ip && !has_dns && certs::dns_pattern_matches(cn, host)) {
        let lacking = if leaf.sans.is_empty() {
            "it has no subjectAltName"
        } else {
            "its subjectAltName has no DNS name"
        };
        let text = format!(
            "certificate is not valid for {name}: the name is only in the subject (CN={cn}) and \
             {lacking}; reissue it with subjectAltName=DNS:{host}"
        );
        let note = format!("the name is only in the subject (CN={cn}) and {lacking}");
        return Some(
            Fault::critical(Reason::TlsHostnameMismatch, None, text)
                .with_note(note)
                .accepted_by_openssl(
                    "name only in the subject CN",
                    "a certificate without a subjectAltName",
                ),
        );
    }
    let names = if leaf.sans.is_empty() {
        match cn {
            Some(cn) => {
                format!("it has no subjectAltName, and its CN={cn} is ignored by current clients")
            }
            None => "it names no host at all".to_string(),
        }
    } else {
        let sans: Vec<String> = leaf.sans.iter().map(ToString::to_string).collect();
        format!("it is valid for {}", sans.join(", "))
    };
    let (code, option) = if is_ip {
        (64, format!("-verify_ip {host}"))
    } else {
        (62, format!("-verify_hostname {host}"))
    };
    Some(Fault {
        option: Some(option),
        ..Fault::critical(
            Reason::TlsHostnameMismatch,
            Some(code),
            format!("certificate is not valid for {name}: {names}"),
        )
        .with_note(format!("it is not valid for {name}: {names}"))
    })
}

/// The chain verified: a key too weak for rustls to use, and expiry soon, can still be said.
fn judge_verified(on_path: &[(usize, &CertInfo)], now: i64, options: &TlsOptions) -> Verdict {
    let earliest = on_path.iter().min_by_key(|(_, c)| c.not_after);
    let mut notes = Vec::new();
    let mut verdict = None;
    // Every weakness recognized here is refused by rustls (no RSA key under 2048 bits, no curve
    // under P-256, no DSA, no MD5 or SHA-1 signature): on a verified chain it can only be the
    // leaf's own key, and the handshake signature made with it then fails. So it is critical,
    // and comes first.
    if let Some((depth, cert, words)) = weakest(on_path) {
        let code = weak_code(depth, cert);
        verdict = Some((
            Status::Critical,
            Reason::TlsWeak,
            code,
            format!(
                "weak certificate: '{}' ({}) has a {words}; rustls and current mail clients \
                 refuse it",
                cert.subject,
                depth_words(depth)
            ),
        ));
    }
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
        match (status, &verdict) {
            (Some((status, limit)), None) => {
                verdict = Some((
                    status,
                    Reason::TlsCertExpiring,
                    0,
                    format!("certificate expiring: {expiring} (less than {limit} days)"),
                ));
            }
            (Some((_, limit)), Some(_)) => {
                notes.push(format!("expiring: {expiring} (less than {limit} days)"))
            }
            (None, _) => notes.push(format!("earliest expiry: {expiring}")),
        }
    }
    let (status, reason, code, head) = match verdict {
        Some((status, reason, code, head)) => (status, Some(reason), code, head),
        None => (
            Status::Ok,
            None,
            0,
            "certificate chain verified".to_string(),
        ),
    };
    let message = std::iter::once(head)
        .chain(notes)
        .collect::<Vec<_>>()
        .join("; ");
    Verdict::new(status, reason, code, message)
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
mod tests;
