//! `tls`: what an admin reads from `openssl s_client -connect host:993 -servername name`, on a
//! schedule, and *why* the verify code is not 0.
//!
//! Steps: connect; on STARTTLS ports read the greeting and ask for STARTTLS/STLS ourselves (lettre
//! and async-imap cannot take our verifier); handshake with a `RecordingVerifier`; judge the
//! chain; then speak to the service over TLS (the greeting on implicit-TLS ports, which the `port`
//! probe leaves to us, or EHLO/CAPABILITY/CAPA again after STARTTLS) and say goodbye.
//!
//! The verifier ([`client::RecordingVerifier`]) runs webpki as any client would, records the
//! presented chain and webpki's verdict, and then lets the handshake finish whatever the verdict
//! was, so the version and cipher are known and the certificate metrics exist exactly when they
//! matter: when verification fails. It still checks the handshake signatures. Nothing but
//! EHLO/CAPABILITY/QUIT is ever sent over such a connection, and only when the chain was not
//! judged critical. The `auth` probe's handshake ([`client::handshake`]) refuses a bad chain
//! instead, and names it with the same judgement ([`name_handshake_failure`]).
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
//! A server that finishes the handshake but never greets is `server_timeout`, with the TLS facts
//! and metrics kept: the certificate was fine, the service is not.

use crate::certs::{self, CertInfo, IssuerPath, PathEnd};
use crate::dialogue::{self, Dialogue};
use crate::io::{lock, FirstBytes};
use crate::{net, Failure};
use async_trait::async_trait;
use client::{RecordingVerifier, Seen};
use mailbeat_sdk::{CheckResult, Probe, ProbeContext, Protocol, Reason, Status, Target, TlsMode};
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, ProtocolVersion};
use serde::Deserialize;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;

pub mod client;

/// Options of the `tls` probe.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsOptions {
    /// Warn when a certificate that matters (the leaf or an intermediate it chains through)
    /// expires in fewer than this many days.
    pub warn_days: u32,
    /// Critical when it expires in fewer than this many days.
    pub critical_days: u32,
    /// After the handshake, check the service answers over TLS: the greeting on implicit-TLS ports,
    /// the capabilities again (EHLO / CAPABILITY / CAPA) after STARTTLS.
    pub check_service: bool,
}

fn default_warn_days() -> u32 {
    21
}

fn default_critical_days() -> u32 {
    7
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            warn_days: default_warn_days(),
            critical_days: default_critical_days(),
            check_service: true,
        }
    }
}

impl TlsOptions {
    fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        let options: TlsOptions = if value.is_null() {
            TlsOptions::default()
        } else {
            serde_json::from_value(value.clone()).map_err(|e| e.to_string())?
        };
        if options.critical_days > options.warn_days {
            return Err(format!(
                "critical_days ({}) is more than warn_days ({})",
                options.critical_days, options.warn_days
            ));
        }
        Ok(options)
    }
}

/// The `tls` probe.
#[derive(Debug, Default)]
pub struct TlsProbe;

#[async_trait]
impl Probe for TlsProbe {
    fn name(&self) -> &'static str {
        "tls"
    }

    fn validate(&self, target: &Target, options: &serde_json::Value) -> Result<(), String> {
        if target.tls == TlsMode::None {
            return Err(NO_TLS.to_string());
        }
        TlsOptions::from_json(options).map(drop)
    }

    async fn check(&self, target: &Target, ctx: &ProbeContext) -> CheckResult {
        let options = match TlsOptions::from_json(&ctx.options) {
            Ok(o) => o,
            Err(e) => return CheckResult::unknown(Reason::ConfigError, e),
        };
        if target.tls == TlsMode::None {
            return CheckResult::unknown(Reason::ConfigError, NO_TLS);
        }
        if let Err(f) = client::server_name(target) {
            return CheckResult::unknown(f.reason, f.message);
        }
        check_tls(target, ctx, &options).await
    }
}

const NO_TLS: &str = "tls probe on a target without TLS (tls: none); use tls: implicit or starttls";

async fn check_tls(target: &Target, ctx: &ProbeContext, options: &TlsOptions) -> CheckResult {
    let connected = match net::connect(target, ctx).await {
        Ok(c) => c,
        Err(f) => return f.into(),
    };
    let connect_seconds = connected.connect_duration.as_secs_f64();
    let peer = connected.peer.to_string();
    let base = |r: CheckResult| {
        r.observe("port_connect_duration_seconds", connect_seconds)
            .detail("peer", &peer)
            .detail("server_name", target.verify_name())
    };

    // STARTTLS: greeting, capabilities, STARTTLS/STLS in plaintext first.
    let ready = match client::before_handshake(connected.stream, target, ctx).await {
        Ok(ready) => ready,
        Err(f) => return base(f.into()),
    };
    let (plain, pre_tls_capabilities) = (ready.stream, ready.capabilities);

    // The handshake, with the chain and webpki's verdict recorded whatever they are.
    let verifier = Arc::new(RecordingVerifier::recording(ctx.roots.clone()));
    let config = client::client_config_with_verifier(verifier.clone());
    let first_bytes = Arc::new(Mutex::new(Vec::new()));
    let stream = FirstBytes::new(plain, first_bytes.clone());
    let handshake = client::handshake_with(stream, target, ctx, config).await;
    let observed = Observed::new(verifier.take(), &handshake, target, ctx, options);

    let mut result = match (&handshake, &observed.verdict) {
        // No certificate seen: the handshake failed before (alert, not TLS at all, silence).
        (Err(f), None) => explain_handshake_failure(f, &lock(&first_bytes), &target.tls),
        // The chain was judged; a certificate problem is the more specific answer.
        (_, Some(v)) if v.status == Status::Critical => v.to_result(),
        // The chain was fine but the handshake failed afterwards (a handshake signature webpki
        // could not check: an RSA key under 2048 bits, say).
        (Err(f), Some(_)) => handshake_failed_after_chain(f, &observed.presented).into(),
        (Ok(_), Some(v)) => v.to_result(),
        (Ok(_), None) => CheckResult::critical(
            Reason::InternalError,
            "the TLS handshake completed without a certificate check",
        ),
    };

    // Speak to the service over TLS, unless the chain already failed.
    let mut service = serde_json::Map::new();
    if let (Ok(stream), true) = (handshake, result.status != Status::Critical) {
        if options.check_service {
            let mut d = Dialogue::new(stream);
            match speak_over_tls(&mut d, target, ctx, &mut service).await {
                Ok(()) => goodbye(&mut d, target.protocol, ctx).await,
                Err(f) => {
                    let tls_words = result.message.clone();
                    result = CheckResult::from(f);
                    result.message = format!("{}; TLS itself: {tls_words}", result.message);
                }
            }
        }
    }

    result = observed.report(base(result));
    if !pre_tls_capabilities.is_empty() {
        result = result.detail("capabilities_before_tls", &pre_tls_capabilities);
    }
    for (key, value) in service {
        result = result.detail(&key, value);
    }
    result
}

/// Everything a handshake showed: the chain as parsed, the path through it that matters, the
/// verdict on it, and the negotiated version and cipher.
struct Observed {
    seen: Option<Seen>,
    /// The presented certificates, leaf first; `None` for one that could not be parsed.
    presented: Vec<Option<CertInfo>>,
    path: Option<IssuerPath>,
    /// `None` when no certificate was seen.
    verdict: Option<Verdict>,
    tls: Option<Negotiated>,
}

impl Observed {
    fn new<S>(
        seen: Option<Seen>,
        handshake: &Result<TlsStream<S>, Failure>,
        target: &Target,
        ctx: &ProbeContext,
        options: &TlsOptions,
    ) -> Self {
        let (presented, path, verdict) = match &seen {
            Some(s) => {
                let (presented, path, verdict) = judge_seen(s, target, ctx, options);
                (presented, path, Some(verdict))
            }
            None => (Vec::new(), None, None),
        };
        let tls = handshake.as_ref().ok().map(|s| negotiated(s.get_ref().1));
        Observed {
            seen,
            presented,
            path,
            verdict,
            tls,
        }
    }

    /// Adds the certificate metrics and details to `result`, also (above all) when verification
    /// failed.
    fn report(&self, mut result: CheckResult) -> CheckResult {
        let verified = self.verdict.as_ref().is_some_and(|v| v.code == 0);
        result = result
            .observe("tls_chain_verified", if verified { 1.0 } else { 0.0 })
            .observe("tls_presented_certs", self.presented.len() as f64);
        let parsed = || {
            self.presented
                .iter()
                .enumerate()
                .filter_map(|(i, c)| Some((i, c.as_ref()?)))
        };
        if let Some(earliest) = parsed().map(|(_, c)| c.not_after).min() {
            let name = "tls_earliest_cert_expiry_timestamp_seconds";
            result = result.observe(name, earliest as f64);
        }
        for (depth, cert) in parsed() {
            result = result.sample(
                "tls_cert_not_after_timestamp_seconds",
                &[
                    ("depth", &depth.to_string()),
                    ("subject_cn", cert.short_name()),
                ],
                cert.not_after as f64,
            );
        }
        if let Some(tls) = &self.tls {
            result = result
                .sample(
                    "tls_version_info",
                    &[("version", &tls.version), ("cipher", &tls.cipher)],
                    1.0,
                )
                .detail("tls_version", &tls.version)
                .detail("cipher", &tls.cipher);
        }
        if let Some(v) = &self.verdict {
            let mut verify = json!({"code": v.code, "text": openssl_text(v.code)});
            if let Some(option) = &v.openssl_option {
                verify["openssl_option"] = json!(option);
            }
            result = result.detail("verify", verify);
        }
        let on_path = self
            .path
            .as_ref()
            .map(|p| p.depths.as_slice())
            .unwrap_or_default();
        if let Some(seen) = &self.seen {
            let list = certificates_json(&seen.chain, &self.presented, on_path);
            result = result.detail("certificates", list);
        }
        // The expiry that warnings are about: the certificates on the path, not every one sent.
        let earliest = on_path
            .iter()
            .filter_map(|&i| self.presented.get(i)?.as_ref())
            .map(|c| c.not_after)
            .min();
        if let Some(earliest) = earliest {
            let days_left = (earliest - unix_now()) as f64 / 86_400.0;
            result = result
                .detail("earliest_expiry", certs::rfc3339(earliest))
                .detail("days_left", (days_left * 10.0).round() / 10.0);
            if verified {
                // blackbox_exporter's "last chain expiry": when the verified chain stops working.
                result = result.detail("verified_chain_expiry_timestamp_seconds", earliest);
            }
        }
        result
    }
}

/// Parses and judges what the verifier saw: the presented certificates, the path through them
/// and the verdict.
fn judge_seen(
    seen: &Seen,
    target: &Target,
    ctx: &ProbeContext,
    options: &TlsOptions,
) -> (Vec<Option<CertInfo>>, Option<IssuerPath>, Verdict) {
    let presented: Vec<Option<CertInfo>> =
        seen.chain.iter().map(|c| certs::parse(c).ok()).collect();
    let anchors: Vec<&[u8]> = ctx.roots.roots.iter().map(|a| a.subject.as_ref()).collect();
    let path = certs::issuer_path(&presented, &anchors);
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

/// Names a failed handshake the way this probe does, from what the verifier saw (`None`: no
/// certificate came): a chain webpki refused gets its verdict (incomplete chain, self-signed,
/// wrong name, ...); a failure after a chain that verified is blamed on a weak leaf key when
/// there is one. Used by [`client::handshake`], so the `auth` probe says what this one says.
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
struct Verdict {
    status: Status,
    reason: Option<Reason>,
    /// The openssl verify code (0 = ok), see [`openssl_text`].
    code: u32,
    /// The `openssl s_client` option without which it would not print `code` (name checks).
    openssl_option: Option<String>,
    message: String,
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

    fn to_result(&self) -> CheckResult {
        match self.reason {
            Some(reason) => CheckResult::fail(self.status, reason, &self.message),
            None => CheckResult::ok(&self.message),
        }
    }
}

/// The words openssl prints for its `X509_V_ERR_*` codes (OpenSSL 3 spelling).
fn openssl_text(code: u32) -> &'static str {
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
                format!("the server's certificate cannot be parsed: {e}"),
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
            format!("TLS: {error}"),
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
            None => Verdict::critical(Reason::TlsHandshakeFailed, 7, format!("TLS: {error}")),
        },
        Some(CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. }) => {
            Verdict::critical(
                Reason::TlsHandshakeFailed,
                26,
                format!("the certificate is not for TLS servers: {error}"),
            )
        }
        Some(CertificateError::Revoked) => {
            Verdict::critical(Reason::TlsHandshakeFailed, 23, format!("TLS: {error}"))
        }
        _ => Verdict::critical(Reason::TlsHandshakeFailed, 1, format!("TLS: {error}")),
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
fn handshake_failed_after_chain(failure: &Failure, presented: &[Option<CertInfo>]) -> Failure {
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

/// A handshake that failed before any certificate: say what the server sent when it was not TLS
/// at all (a plaintext greeting on a port configured as implicit TLS, say).
fn explain_handshake_failure(failure: &Failure, first: &[u8], mode: &TlsMode) -> CheckResult {
    if failure.reason != Reason::TlsHandshakeFailed || first.is_empty() {
        return failure.clone().into();
    }
    let line = first.split(|&b| b == b'\n').next().unwrap_or(first);
    let printable = line
        .iter()
        .all(|&b| b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b));
    if !printable {
        return failure.clone().into();
    }
    let text = dialogue::printable(String::from_utf8_lossy(line).trim_end());
    let hint = match mode {
        TlsMode::Starttls => "the server accepted STARTTLS but then did not start TLS",
        _ => "this port does not speak implicit TLS (should the target use tls: starttls?)",
    };
    CheckResult::critical(
        Reason::TlsHandshakeFailed,
        format!("the server answered the TLS handshake in plaintext: '{text}'; {hint}"),
    )
}

/// The version and cipher a handshake settled on, as metric labels.
#[derive(Debug, Clone)]
struct Negotiated {
    version: String,
    cipher: String,
}

fn negotiated(conn: &rustls::ClientConnection) -> Negotiated {
    let version = match conn.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_string(),
    };
    let cipher = match conn.negotiated_cipher_suite() {
        Some(suite) => match suite.suite().as_str() {
            Some(name) => name.to_string(),
            None => format!("{:?}", suite.suite()),
        },
        None => "unknown".to_string(),
    };
    Negotiated { version, cipher }
}

/// Checks the service answers over TLS: the greeting (implicit TLS) or the capabilities again
/// (after STARTTLS; for SMTP this is the second EHLO that RFC 3207 requires).
async fn speak_over_tls<S: AsyncRead + AsyncWrite + Unpin>(
    d: &mut Dialogue<S>,
    target: &Target,
    ctx: &ProbeContext,
    facts: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), Failure> {
    match target.tls {
        TlsMode::Implicit => {
            let greeting = dialogue::greeting(d, target.protocol, ctx).await?;
            facts.insert("greeting".into(), dialogue::printable(&greeting).into());
        }
        _ => {
            let caps = dialogue::capabilities(d, target.protocol, ctx).await?;
            facts.insert("capabilities_after_tls".into(), json!(caps));
        }
    }
    Ok(())
}

/// Says goodbye (QUIT / LOGOUT) so the server logs a clean end; best effort, briefly.
async fn goodbye<S: AsyncRead + AsyncWrite + Unpin>(
    d: &mut Dialogue<S>,
    protocol: Protocol,
    ctx: &ProbeContext,
) {
    let (line, verb) = match protocol {
        Protocol::Imap => ("z1 LOGOUT", "LOGOUT"),
        Protocol::Smtp | Protocol::Pop3 => ("QUIT", "QUIT"),
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), d.send_command(ctx, line, verb)).await;
}

/// Details for each presented certificate, leaf first.
fn certificates_json(
    chain: &[CertificateDer<'static>],
    presented: &[Option<CertInfo>],
    on_path: &[usize],
) -> serde_json::Value {
    let list = chain
        .iter()
        .zip(presented)
        .enumerate()
        .map(|(depth, (der, info))| match info {
            Some(c) => json!({
                "depth": depth,
                "subject": c.subject,
                "issuer": c.issuer,
                "subject_cn": c.subject_cn,
                "sans": c.sans.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "not_before": certs::rfc3339(c.not_before),
                "not_after": certs::rfc3339(c.not_after),
                "sha256_fingerprint": c.sha256_fingerprint,
                "key": c.key.to_string(),
                "signature_algorithm": c.signature_algorithm,
                "self_signed": c.is_self_signed(),
                "is_ca": c.is_ca,
                "in_path": on_path.contains(&depth),
                "weaknesses": c.weaknesses(),
            }),
            None => json!({
                "depth": depth,
                "sha256_fingerprint": certs::fingerprint_sha256(der),
                "error": "cannot parse certificate",
            }),
        })
        .collect();
    serde_json::Value::Array(list)
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

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_and_reject_typos() {
        let o = TlsOptions::from_json(&serde_json::Value::Null).unwrap();
        assert_eq!(
            (o.warn_days, o.critical_days, o.check_service),
            (21, 7, true)
        );
        let o = TlsOptions::from_json(&json!({"warn_days": 30})).unwrap();
        assert_eq!((o.warn_days, o.critical_days), (30, 7));
        assert!(TlsOptions::from_json(&json!({"warn_dayz": 30})).is_err());
        assert!(TlsOptions::from_json(&json!({"warn_days": 3, "critical_days": 7})).is_err());
    }

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

    #[test]
    fn plaintext_instead_of_tls_is_named() {
        let f = Failure::critical(Reason::TlsHandshakeFailed, "TLS: corrupt message");
        let r = explain_handshake_failure(&f, b"220 mail.test ESMTP\r\n", &TlsMode::Implicit);
        assert!(r.message.contains("220 mail.test ESMTP"), "{}", r.message);
        assert!(r.message.contains("starttls"), "{}", r.message);
        let r = explain_handshake_failure(&f, &[0x16, 0x03, 0x01], &TlsMode::Implicit);
        assert_eq!(r.message, f.message);
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
