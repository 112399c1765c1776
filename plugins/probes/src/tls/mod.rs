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
//! instead, and names it with the same judgement ([`verdict::name_handshake_failure`]).
//!
//! How a chain is judged, and the openssl verify code each verdict carries, is `verdict.rs`; what is
//! reported of a handshake (certificate metrics and details) is `report.rs`; the options (expiry
//! limits, `check_service`) are [`TlsOptions`].
//!
//! A server that finishes the handshake but never greets is `server_timeout`, with the TLS facts
//! and metrics kept: the certificate was fine, the service is not.

use crate::dialogue::{self, Dialogue};
use crate::io::{lock, FirstBytes};
use crate::{net, require_mail, Failure};
use async_trait::async_trait;
use client::RecordingVerifier;
use mailbeat_sdk::{
    Check, CheckResult, MetricDesc, OptionsError, Probe, ProbeContext, Protocol, Reason, Status,
    Target, TlsMode,
};
use report::Observed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

pub mod client;
mod mode;
mod options;
mod parsed;
mod report;
mod verdict;

pub use options::TlsOptions;

/// The `tls` probe.
#[derive(Debug, Default)]
pub struct TlsProbe;

impl Probe for TlsProbe {
    fn name(&self) -> &str {
        "tls"
    }

    fn is_default_for(&self, target: &Target) -> bool {
        target.mail().is_some() && target.tls != TlsMode::None
    }

    fn metrics(&self) -> Vec<MetricDesc> {
        report::metrics()
    }

    fn configure(
        &self,
        target: &Target,
        options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError> {
        let protocol = require_mail(self.name(), target)?.protocol;
        if target.tls == TlsMode::None {
            return Err(OptionsError::new(NO_TLS));
        }
        let options = TlsOptions::from_json(options)?;
        Ok(Arc::new(TlsCheck { options, protocol }))
    }
}

/// The `tls` probe configured for one target.
#[derive(Debug)]
struct TlsCheck {
    options: TlsOptions,
    protocol: Protocol,
}

#[async_trait]
impl Check for TlsCheck {
    async fn run(&self, target: &Target, ctx: &ProbeContext) -> CheckResult {
        if target.tls == TlsMode::None {
            return CheckResult::unknown(Reason::ConfigError, NO_TLS);
        }
        if let Err(f) = client::server_name(target) {
            return CheckResult::unknown(f.reason, f.message);
        }
        check_tls(target, ctx, &self.options, self.protocol).await
    }
}

const NO_TLS: &str = "tls probe on a target without TLS (tls: none); use tls: implicit or starttls";

async fn check_tls(
    target: &Target,
    ctx: &ProbeContext,
    options: &TlsOptions,
    protocol: Protocol,
) -> CheckResult {
    let connected = match net::connect(target, ctx).await {
        Ok(c) => c,
        Err(f) => return f.into(),
    };
    let connect_seconds = connected.connect_duration.as_secs_f64();
    let peer = connected.peer.to_string();
    // Called once on every path; it takes `peer` instead of copying it.
    let base = move |r: CheckResult| {
        r.observe("port_connect_duration_seconds", connect_seconds)
            .detail_value("peer", peer.into())
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
        (Err(f), None) => {
            mode::plain_text_instead_of_tls(f.clone(), &lock(&first_bytes), target).into()
        }
        // The chain was judged; a certificate problem is the more specific answer.
        (_, Some(v)) if v.status == Status::Critical => v.to_result(),
        // The chain was fine but the handshake failed afterwards. (A leaf key too weak for a
        // handshake signature, an RSA key under 2048 bits, is already a critical verdict.)
        (Err(f), Some(_)) => f.clone().into(),
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
            match speak_over_tls(&mut d, target.tls, protocol, ctx, &mut service).await {
                Ok(()) => goodbye(&mut d, protocol, ctx).await,
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
        // The words move into the details; `detail` would serialize a copy of each.
        result = result.detail_value("capabilities_before_tls", pre_tls_capabilities.into());
    }
    for (key, value) in service {
        result = result.detail_value(&key, value);
    }
    result
}

/// Checks the service answers over TLS: the greeting (implicit TLS) or the capabilities again
/// (after STARTTLS; for SMTP this is the second EHLO that RFC 3207 requires).
async fn speak_over_tls<S: AsyncRead + AsyncWrite + Unpin>(
    d: &mut Dialogue<S>,
    mode: TlsMode,
    protocol: Protocol,
    ctx: &ProbeContext,
    facts: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), Failure> {
    match mode {
        TlsMode::Implicit => {
            let greeting = dialogue::greeting(d, protocol, ctx).await?;
            facts.insert("greeting".into(), dialogue::printable(&greeting).into());
        }
        _ => {
            let caps = dialogue::capabilities(d, protocol, ctx).await?;
            facts.insert("capabilities_after_tls".into(), caps.into());
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
