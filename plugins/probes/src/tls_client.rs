//! Opening a ready-to-use session to a target: connect, greeting, STARTTLS or implicit TLS,
//! verified against the target's trust anchors and name.
//!
//! The `auth` probe logs in over the session this returns; the `tls` probe uses the same steps with
//! a verifier that also records the chain.

use crate::dialogue::{self, BoxStream, Dialogue};
use crate::{net, Failure};
use mailbeat_sdk::{ProbeContext, Reason, Target, TlsMode};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The crypto provider used everywhere (one provider: ring).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that verifies like any mail client would: the target's roots, its name.
pub fn client_config(ctx: &ProbeContext) -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(ctx.roots.clone())
        .with_no_client_auth();
    Arc::new(config)
}

/// A client configuration that leaves certificate verification to `verifier` (the `tls` probe's
/// recording verifier), with the same provider and protocol versions as [`client_config`].
/// Session resumption is off: a resumed session presents no certificate, so there would be
/// nothing to verify or record.
pub fn client_config_with_verifier(verifier: Arc<dyn ServerCertVerifier>) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// The name to verify the certificate against, as rustls wants it.
pub fn server_name(target: &Target) -> Result<ServerName<'static>, Failure> {
    let name = target
        .verify_name()
        .trim_start_matches('[')
        .trim_end_matches(']');
    ServerName::try_from(name.to_string()).map_err(|e| {
        Failure::critical(
            Reason::ConfigError,
            format!("{name:?} is not a valid TLS server name: {e}"),
        )
    })
}

/// Runs the TLS handshake over `stream` with `config`, naming what failed.
pub async fn handshake_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    target: &Target,
    ctx: &ProbeContext,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<S>, Failure> {
    let name = server_name(target)?;
    let connect = TlsConnector::from(config).connect(name, stream);
    net::within(
        ctx,
        Reason::ServerTimeout,
        "during the TLS handshake",
        connect,
    )
    .await?
    .map_err(|e| classify_handshake_error(&e))
}

/// [`handshake_with`] using [`client_config`].
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    target: &Target,
    ctx: &ProbeContext,
) -> Result<TlsStream<S>, Failure> {
    handshake_with(stream, target, ctx, client_config(ctx)).await
}

/// Names a failed handshake from the rustls error inside the I/O error.
pub fn classify_handshake_error(e: &io::Error) -> Failure {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(err) => classify_rustls_error(err),
        None if e.kind() == io::ErrorKind::UnexpectedEof => Failure::critical(
            Reason::TlsHandshakeFailed,
            "the server closed the connection during the TLS handshake",
        ),
        None => Failure::critical(
            Reason::TlsHandshakeFailed,
            format!("TLS handshake failed: {e}"),
        ),
    }
}

/// Maps a rustls error to a reason. The `tls` probe refines `UnknownIssuer` into incomplete chain,
/// self-signed or untrusted root from the chain it captured.
pub fn classify_rustls_error(err: &rustls::Error) -> Failure {
    let reason = match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                Reason::TlsCertExpired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Reason::TlsCertNotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Reason::TlsHostnameMismatch
            }
            CertificateError::UnknownIssuer => Reason::TlsUntrustedRoot,
            _ => Reason::TlsHandshakeFailed,
        },
        _ => Reason::TlsHandshakeFailed,
    };
    Failure::critical(reason, format!("TLS: {err}"))
}

/// A session after the greeting (and after STARTTLS when the target uses it): the next byte on the
/// stream is the client's.
#[derive(Debug)]
pub struct Session {
    pub stream: BoxStream,
    /// The greeting line (SMTP: the whole reply).
    pub greeting: String,
    /// Capabilities seen before STARTTLS (empty for implicit TLS and plaintext).
    pub pre_tls_capabilities: Vec<String>,
    /// True when the stream is TLS.
    pub tls: bool,
    pub connect_duration: Duration,
}

/// Connects and brings the session to the point where the client speaks: greeting read, TLS up
/// as the target's mode says.
pub async fn open_session(target: &Target, ctx: &ProbeContext) -> Result<Session, Failure> {
    let connected = net::connect(target, ctx).await?;
    let connect_duration = connected.connect_duration;
    let (stream, greeting, pre_tls_capabilities, tls): (BoxStream, _, _, _) = match target.tls {
        TlsMode::Implicit => {
            let tls = handshake(connected.stream, target, ctx).await?;
            let mut d = Dialogue::new(tls);
            let greeting = dialogue::greeting(&mut d, target.protocol, ctx).await?;
            (Box::new(d.into_inner()?), greeting, Vec::new(), true)
        }
        TlsMode::Starttls => {
            let mut d = Dialogue::new(connected.stream);
            let greeting = dialogue::greeting(&mut d, target.protocol, ctx).await?;
            let (plain, caps) = dialogue::starttls(d, target.protocol, ctx).await?;
            let tls = handshake(plain, target, ctx).await?;
            (Box::new(tls), greeting, caps, true)
        }
        TlsMode::None => {
            let mut d = Dialogue::new(connected.stream);
            let greeting = dialogue::greeting(&mut d, target.protocol, ctx).await?;
            (Box::new(d.into_inner()?), greeting, Vec::new(), false)
        }
    };
    Ok(Session {
        stream,
        greeting,
        pre_tls_capabilities,
        tls,
        connect_duration,
    })
}
