//! The listener's rustls configuration: the certificate chain and key, the TLS versions, and the
//! client-certificate policy of `client_auth_type`.

use super::config::{ClientAuth, TlsSummary, TlsVersion};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// The certificates of a PEM file (named by the config key `key`); at least one.
pub(super) fn load_certs(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::Io(io) => crate::files::cannot_read(key, path, &io),
        e => format!("cannot read {key} {}: {e}", path.display()),
    })?;
    let certs: Vec<_> = iter
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1). The messages never show key bytes.
pub(super) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    // Read first, so that a missing file says so instead of "no key".
    let bytes = std::fs::read(path).map_err(|e| crate::files::cannot_read("key_file", path, &e))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            format!("{} holds no PEM private key", path.display())
        }
        e => format!("{} is not a valid PEM private key: {e}", path.display()),
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls server configuration for the settings; the key must belong to the certificate.
pub(super) fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<Vec<CertificateDer<'static>>>,
    settings: &TlsSummary,
) -> Result<rustls::ServerConfig, String> {
    let provider = provider();
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::TLS12, &rustls::version::TLS12),
        (TlsVersion::TLS13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (settings.min_version..=settings.max_version).contains(v))
    .map(|(_, p)| p)
    .collect();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let roots = match client_roots {
        Some(certs) => {
            let mut store = RootCertStore::empty();
            for cert in certs {
                store
                    .add(cert)
                    .map_err(|e| format!("client_ca_file: not a usable CA certificate: {e}"))?;
            }
            Some(Arc::new(store))
        }
        None => None,
    };
    let builder =
        match (settings.client_auth, roots) {
            (ClientAuth::NoClientCert, _) => builder.with_no_client_auth(),
            (ClientAuth::RequestClientCert, roots) => builder
                .with_client_cert_verifier(Arc::new(AnyClientCert::new(&provider, roots, false))),
            (ClientAuth::RequireAnyClientCert, roots) => builder
                .with_client_cert_verifier(Arc::new(AnyClientCert::new(&provider, roots, true))),
            (mode, Some(roots)) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
                let verifier = if mode == ClientAuth::VerifyClientCertIfGiven {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| format!("client_ca_file: {e}"))?;
                builder.with_client_cert_verifier(verifier)
            }
            (mode, None) => return Err(format!("{mode:?} needs client_ca_file")),
        };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("the key_file does not fit the cert_file, or is not usable: {e}"))?;
    // hyper serves HTTP/1.1 here.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Go's `RequestClientCert` and `RequireAnyClientCert`: a client certificate is asked for (and
/// with `mandatory`, required) but its chain is not verified, as in Go. The handshake signature
/// is still checked with the provider's algorithms, so the client holds the certificate's key.
#[derive(Debug)]
struct AnyClientCert {
    provider: Arc<CryptoProvider>,
    hints: Vec<DistinguishedName>,
    mandatory: bool,
}

impl AnyClientCert {
    fn new(
        provider: &Arc<CryptoProvider>,
        roots: Option<Arc<RootCertStore>>,
        mandatory: bool,
    ) -> Self {
        AnyClientCert {
            provider: provider.clone(),
            hints: roots.map(|r| r.subjects()).unwrap_or_default(),
            mandatory,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
