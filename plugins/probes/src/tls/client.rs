//! Opening a ready-to-use session to a target: connect, greeting, STARTTLS or implicit TLS,
//! verified against the target's trust anchors and name.
//!
//! The `auth` probe logs in over the session this returns. The `tls` probe shares the steps
//! before the handshake ([`before_handshake`]) and the [`RecordingVerifier`]; here the verifier
//! ends the handshake on a bad chain as any client would, and the chain it recorded is then named
//! by the `tls` probe's own judgement (`verdict.rs`), so both probes give a broken chain the same
//! reason.

use super::mode;
use super::verdict::{self, Seen};
use crate::dialogue::{self, BoxStream, Dialogue};
use crate::io::{lock, FirstBytes};
use crate::{net, Failure};
use mailbeat_sdk::{ProbeContext, Reason, Target, TlsMode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, PeerIncompatible,
    SignatureScheme,
};
use std::io;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The crypto provider used everywhere (one provider: ring). Built once: it is the same table of
/// cipher suites and key exchanges for every check, and every check asks for it twice.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
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
///
/// Each check has a verifier of its own (it records that check's chain), but the rest of the
/// configuration is the same for all: it is built once and copied, which is cheap (a few `Arc`s),
/// where building it allocated and dropped a 256-entry session cache on every check.
pub fn client_config_with_verifier(verifier: Arc<dyn ServerCertVerifier>) -> Arc<ClientConfig> {
    static BASE: OnceLock<ClientConfig> = OnceLock::new();
    let base = BASE.get_or_init(|| {
        let placeholder = Arc::new(RecordingVerifier::enforcing(Arc::new(
            rustls::RootCertStore::empty(),
        )));
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(placeholder)
            .with_no_client_auth();
        config.resumption = rustls::client::Resumption::disabled();
        config
    });
    let mut config = base.clone();
    config.dangerous().set_certificate_verifier(verifier);
    Arc::new(config)
}

/// The name to verify the certificate against, as rustls wants it.
pub fn server_name(target: &Target) -> Result<ServerName<'static>, Failure> {
    let name = net::bare_host(target.verify_name());
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

/// The handshake a mail client would do (the target's roots, its name), with a failure named as
/// the `tls` probe names it: a chain webpki refused is told apart into expired, wrong name,
/// self-signed, incomplete chain, untrusted root and so on.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    target: &Target,
    ctx: &ProbeContext,
) -> Result<TlsStream<S>, Failure> {
    let verifier = Arc::new(RecordingVerifier::enforcing(ctx.roots.clone()));
    let config = client_config_with_verifier(verifier.clone());
    handshake_with(stream, target, ctx, config)
        .await
        .map_err(|failure| verdict::name_handshake_failure(failure, verifier.take(), target, ctx))
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

/// What a server that rustls refuses for its protocol version or cipher suites is told.
pub const WEAK_TLS: &str = "the server offers only TLS older than 1.2 or no modern cipher suite \
     (rustls refuses them); upgrade the server's TLS configuration";

/// Maps a rustls error to a reason. The chain-related ones are refined by
/// [`verdict::name_handshake_failure`] from the chain the verifier recorded.
///
/// A server stuck on TLS 1.0/1.1 either answers our ClientHello (TLS 1.2 and 1.3 only) with a
/// `protocol_version` or `insufficient_security` alert, or picks the old version in its
/// ServerHello, which rustls refuses: all of these are `tls_weak`. A `handshake_failure` alert is
/// also what OpenSSL sends when no cipher suite is shared, but servers send it for many other
/// reasons too, so it stays `tls_handshake_failed`, with that hint in the message.
pub fn classify_rustls_error(err: &rustls::Error) -> Failure {
    use rustls::Error::{AlertReceived, InvalidCertificate, PeerIncompatible as Incompatible};
    let reason = match err {
        InvalidCertificate(cert) => match cert {
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
        Incompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::NoCipherSuitesInCommon,
        )
        | AlertReceived(
            AlertDescription::ProtocolVersion | AlertDescription::InsufficientSecurity,
        ) => {
            return Failure::critical(Reason::TlsWeak, format!("{WEAK_TLS} (TLS: {err})"));
        }
        AlertReceived(AlertDescription::HandshakeFailure) => {
            return Failure::critical(
                Reason::TlsHandshakeFailed,
                format!(
                    "TLS: {err} (the server found nothing it accepts in our TLS 1.2/1.3 offer; \
                     often it supports only old cipher suites)"
                ),
            );
        }
        _ => Reason::TlsHandshakeFailed,
    };
    let words = match err {
        // rustls prints most certificate errors with `{:?}` (`Other(OtherError(...))`).
        InvalidCertificate(_) => format!(
            "invalid peer certificate: {}",
            verdict::Objection::of(err).words()
        ),
        _ => err.to_string(),
    };
    Failure::critical(reason, format!("TLS: {words}"))
}

/// TLS for a client that opens its own connections (an HTTP library given a preconfigured rustls
/// configuration, as the `ews` plugin does): [`VerifiedTls::config`] verifies as [`handshake`]
/// does (the target's roots, the name the client connects to), and
/// [`VerifiedTls::name_failure`] names a refused handshake as the `tls` probe names it, so a
/// plugin says what the built-in probes say about the same chain.
#[derive(Debug)]
pub struct VerifiedTls {
    verifier: Arc<RecordingVerifier>,
    config: Arc<ClientConfig>,
}

impl VerifiedTls {
    /// A verifying configuration for one check (it records the chain of the last handshake).
    pub fn new(ctx: &ProbeContext) -> Self {
        let verifier = Arc::new(RecordingVerifier::enforcing(ctx.roots.clone()));
        let config = client_config_with_verifier(verifier.clone());
        VerifiedTls { verifier, config }
    }

    /// The rustls configuration to hand to the client.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The failure a TLS error somewhere in `error`'s source chain stands for, named from the
    /// chain the verifier saw (expired, wrong name, incomplete chain, ...); `None` when the error
    /// holds no rustls error. `target` names the host the certificate must be valid for.
    pub fn name_failure(
        &self,
        error: &(dyn std::error::Error + 'static),
        target: &Target,
        ctx: &ProbeContext,
    ) -> Option<Failure> {
        let err = find_rustls_error(error)?;
        let failure = classify_rustls_error(err);
        Some(verdict::name_handshake_failure(
            failure,
            self.verifier.take(),
            target,
            ctx,
        ))
    }
}

/// The rustls error in `error`'s source chain. An I/O error carries it as its payload, not as its
/// source, and HTTP clients wrap one I/O error in another.
fn find_rustls_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(err) = e.downcast_ref::<rustls::Error>() {
            return Some(err);
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            let inner: &(dyn std::error::Error + 'static) = inner;
            if let Some(err) = find_rustls_error(inner) {
                return Some(err);
            }
        }
        cause = e.source();
    }
    None
}

/// A certificate verifier that asks webpki and writes down the answer and the chain. Handshake
/// signatures are checked for real (a forged server stays forged).
///
/// Recording only (the `tls` probe), it lets the handshake go on whatever webpki said, so the
/// version and cipher are known even when the chain is bad; nothing but EHLO/CAPABILITY/QUIT is
/// ever sent over such a connection. Enforcing ([`handshake`]), it ends the handshake on
/// webpki's objection, as any client does.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    /// `None` when the trust store is empty (webpki refuses to build one): every chain is then
    /// from an unknown issuer.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
    enforce: bool,
    seen: Mutex<Option<Seen>>,
}

impl RecordingVerifier {
    /// A verifier that records and lets every chain through (the `tls` probe).
    pub(crate) fn recording(roots: Arc<rustls::RootCertStore>) -> Self {
        Self::new(roots, false)
    }

    /// A verifier that records and refuses what webpki refuses.
    pub(crate) fn enforcing(roots: Arc<rustls::RootCertStore>) -> Self {
        Self::new(roots, true)
    }

    fn new(roots: Arc<rustls::RootCertStore>, enforce: bool) -> Self {
        let provider = provider();
        RecordingVerifier {
            webpki: WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .ok(),
            algorithms: provider.signature_verification_algorithms,
            enforce,
            seen: Mutex::new(None),
        }
    }

    /// What was seen, if a certificate was.
    pub(crate) fn take(&self) -> Option<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let error = match &self.webpki {
            Some(webpki) => webpki
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .err(),
            None => Some(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        };
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        let refusal = error.clone().filter(|_| self.enforce);
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(Seen { chain, error });
        match refusal {
            Some(error) => Err(error),
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A connection brought to where the TLS handshake starts.
#[derive(Debug)]
pub struct BeforeHandshake<S> {
    pub stream: S,
    /// The plaintext greeting (STARTTLS only; implicit TLS greets over TLS).
    pub greeting: Option<String>,
    /// Capabilities seen before STARTTLS (empty for implicit TLS).
    pub capabilities: Vec<String>,
}

/// Brings a fresh connection to the TLS handshake: at once for implicit TLS; after the greeting
/// and STARTTLS/STLS in plaintext for STARTTLS. (`tls: none` has no handshake; the stream is
/// handed back as it is.)
pub async fn before_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    target: &Target,
    ctx: &ProbeContext,
) -> Result<BeforeHandshake<S>, Failure> {
    if target.tls != TlsMode::Starttls {
        return Ok(BeforeHandshake {
            stream,
            greeting: None,
            capabilities: Vec::new(),
        });
    }
    let protocol = crate::mail_endpoint(target)?.protocol;
    let mut d = Dialogue::new(stream);
    let greeting = dialogue::greeting(&mut d, protocol, ctx)
        .await
        .map_err(|f| mode::silence_instead_of_greeting(f, target))?;
    let (stream, capabilities) = dialogue::starttls(d, protocol, ctx).await?;
    Ok(BeforeHandshake {
        stream,
        greeting: Some(greeting),
        capabilities,
    })
}

/// A session after the greeting (and after STARTTLS when the target uses it): the next byte on the
/// stream is the client's.
#[derive(Debug)]
pub struct Session {
    pub stream: BoxStream,
    /// The greeting line (SMTP: the whole reply).
    pub greeting: String,
    /// True when the stream is TLS.
    pub tls: bool,
}

/// Connects and brings the session to the point where the client speaks: greeting read, TLS up
/// as the target's mode says, the certificate verified by [`handshake`].
pub async fn open_session(target: &Target, ctx: &ProbeContext) -> Result<Session, Failure> {
    let protocol = crate::mail_endpoint(target)?.protocol;
    let connected = net::connect(target, ctx).await?;
    if target.tls == TlsMode::None {
        let mut d = Dialogue::new(connected.stream);
        let greeting = dialogue::greeting(&mut d, protocol, ctx)
            .await
            .map_err(|f| mode::silence_instead_of_greeting(f, target))?;
        return Ok(Session {
            stream: Box::new(d.into_inner()?),
            greeting,
            tls: false,
        });
    }
    let ready = before_handshake(connected.stream, target, ctx).await?;
    // What the server sent instead of TLS, if it did, says the mode is wrong for the port.
    let first = Arc::new(Mutex::new(Vec::new()));
    let tls = handshake(FirstBytes::new(ready.stream, first.clone()), target, ctx)
        .await
        .map_err(|f| mode::plain_text_instead_of_tls(f, &lock(&first), target))?;
    let (stream, greeting): (BoxStream, String) = match ready.greeting {
        Some(greeting) => (Box::new(tls), greeting),
        None => {
            let mut d = Dialogue::new(tls);
            let greeting = dialogue::greeting(&mut d, protocol, ctx).await?;
            (Box::new(d.into_inner()?), greeting)
        }
    };
    Ok(Session {
        stream,
        greeting,
        tls: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::OtherError;

    #[test]
    fn a_refused_certificate_is_said_in_words() {
        let err = rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
            webpki::Error::CaUsedAsEndEntity,
        ))));
        let f = classify_rustls_error(&err);
        assert_eq!(f.reason, Reason::TlsHandshakeFailed);
        assert_eq!(
            f.message,
            "TLS: invalid peer certificate: the server's certificate is a CA certificate \
             (basicConstraints CA:TRUE), which rustls refuses as a server's own"
        );
        let f = classify_rustls_error(&CertificateError::BadSignature.into());
        assert!(!f.message.contains("BadSignature"), "{}", f.message);
        let f = classify_rustls_error(&CertificateError::UnknownIssuer.into());
        assert_eq!(f.reason, Reason::TlsUntrustedRoot);
    }
}
