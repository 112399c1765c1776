//! What the `tls` probe reports of a handshake, also (above all) when verification failed: the
//! certificate metrics and details, the verify code, the negotiated version and cipher.

use super::options::TlsOptions;
use super::parsed::Parsed;
use super::verdict::{self, Seen, Verdict};
use crate::certs;
use crate::certs::path::IssuerPath;
use crate::Failure;
use mailbeat_sdk::{CheckResult, MetricDesc, ProbeContext, Target};
use rustls::pki_types::CertificateDer;
use rustls::ProtocolVersion;
use serde_json::json;
use tokio_rustls::client::TlsStream;

/// Everything a handshake showed: the chain as parsed, the path through it that matters, the
/// verdict on it, and the negotiated version and cipher.
pub(super) struct Observed {
    seen: Option<Seen>,
    /// The presented certificates, leaf first; `None` for one that could not be parsed.
    pub(super) presented: Vec<Option<Parsed>>,
    path: Option<IssuerPath>,
    /// `None` when no certificate was seen.
    pub(super) verdict: Option<Verdict>,
    tls: Option<Negotiated>,
}

impl Observed {
    pub(super) fn new<S>(
        seen: Option<Seen>,
        handshake: &Result<TlsStream<S>, Failure>,
        target: &Target,
        ctx: &ProbeContext,
        options: &TlsOptions,
    ) -> Self {
        let (presented, path, verdict) = match &seen {
            Some(s) => {
                let (presented, path, verdict) = verdict::judge_seen(s, target, ctx, options);
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
    pub(super) fn report(&self, mut result: CheckResult) -> CheckResult {
        let verified = self.verdict.as_ref().is_some_and(|v| v.verified);
        result = result
            .observe("tls_chain_verified", if verified { 1.0 } else { 0.0 })
            .observe("tls_presented_certs", self.presented.len() as f64);
        let parsed = || {
            self.presented
                .iter()
                .enumerate()
                .filter_map(|(i, c)| Some((i, &*c.as_ref()?.info)))
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
            let mut verify = json!({"code": v.code, "text": verdict::openssl_text(v.code)});
            if let Some(option) = &v.openssl_option {
                verify["openssl_option"] = json!(option);
            }
            result = result.detail_value("verify", verify);
        }
        let on_path = self
            .path
            .as_ref()
            .map(|p| p.depths.as_slice())
            .unwrap_or_default();
        if let Some(seen) = &self.seen {
            let list = certificates_json(&seen.chain, &self.presented, on_path);
            result = result.detail_value("certificates", list);
        }
        // The expiry that warnings are about: the certificates on the path, not every one sent.
        let earliest = on_path
            .iter()
            .filter_map(|&i| self.presented.get(i)?.as_ref())
            .map(|c| c.info.not_after)
            .min();
        if let Some(earliest) = earliest {
            let days_left = (earliest - verdict::unix_now()) as f64 / 86_400.0;
            result = result
                .detail("earliest_expiry", certs::rfc3339(earliest))
                .detail("days_left", (days_left * 10.0).round() / 10.0);
            if verified {
                // blackbox_exporter's "last chain expiry": when the verified chain stops working.
                result = result
                    .observe(
                        "tls_verified_chain_expiry_timestamp_seconds",
                        earliest as f64,
                    )
                    .detail("verified_chain_expiry_timestamp_seconds", earliest);
            }
        }
        result
    }
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

/// Details for each presented certificate, leaf first: the facts kept with its parse, and where
/// it stands in this chain.
fn certificates_json(
    chain: &[CertificateDer<'static>],
    presented: &[Option<Parsed>],
    on_path: &[usize],
) -> serde_json::Value {
    let list = chain
        .iter()
        .zip(presented)
        .enumerate()
        .map(|(depth, (der, parsed))| match parsed {
            Some(p) => {
                let mut facts = (*p.facts).clone();
                facts.insert("depth".into(), depth.into());
                facts.insert("in_path".into(), on_path.contains(&depth).into());
                serde_json::Value::Object(facts)
            }
            None => json!({
                "depth": depth,
                "sha256_fingerprint": certs::fingerprint_sha256(der),
                "error": "cannot parse certificate",
            }),
        })
        .collect();
    serde_json::Value::Array(list)
}

/// The metrics the `tls` probe's results carry.
pub(super) fn metrics() -> Vec<MetricDesc> {
    vec![
        crate::net::connect_duration_metric(),
        MetricDesc::new(
            "tls_chain_verified",
            "1 if the presented chain verified for the server name as rustls and current mail \
             clients verify it (openssl then says verify code 0 too), else 0.",
        ),
        MetricDesc::new(
            "tls_earliest_cert_expiry_timestamp_seconds",
            "Earliest notAfter among the presented certificates, as a Unix timestamp.",
        )
        .blackbox(
            "probe_ssl_earliest_cert_expiry",
            "Returns last SSL chain expiry in unixtime",
            &[],
        ),
        // blackbox has it from its verified chains only; /metrics has the earliest expiry.
        MetricDesc::new(
            "tls_verified_chain_expiry_timestamp_seconds",
            "Earliest notAfter on the verified path from the leaf to the trust anchor.",
        )
        .blackbox(
            "probe_ssl_last_chain_expiry_timestamp_seconds",
            "Returns last SSL chain expiry in timestamp",
            &[],
        )
        .blackbox_only(),
        MetricDesc::new(
            "tls_cert_not_after_timestamp_seconds",
            "notAfter of each presented certificate, by depth (0 = leaf).",
        ),
        MetricDesc::new(
            "tls_presented_certs",
            "Number of certificates the server presented.",
        ),
        MetricDesc::new(
            "tls_version_info",
            "Negotiated TLS version and cipher suite.",
        )
        .blackbox(
            "probe_tls_version_info",
            "Returns the TLS version used or NaN when unknown",
            &["version"],
        ),
    ]
}
