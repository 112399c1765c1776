//! Loopback TLS servers and a test PKI for the `tls` probe tests (`tls_chain`, `tls_peers`,
//! `tls_open_session`): certificates made at test time (rcgen), one server per case, implicit TLS
//! and STARTTLS, and helpers that run the probe and read its result.
//!
//! Every target is 127.0.0.1 with `tls_server_name: mail.test`, the way a migration target is
//! configured (connect to an address, verify a name), unless a test says otherwise.
#![allow(dead_code)]

use mailbeat_probes::tls::TlsProbe;
use mailbeat_sdk::{CheckResult, ProbeContext, Protocol, Reason, Sample, Status, Target, TlsMode};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

pub const NAME: &str = "mail.test";
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// For the tests of peers that never answer: the check must end within this plus a second.
pub const SHORT: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------------------
// Test PKI: root → intermediate → leaves, made fresh for each test.

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Sets a validity window in days relative to now (negative = in the past).
fn set_validity(params: &mut CertificateParams, from_days: i64, to_days: i64) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let at = |days: i64| epoch + Duration::from_secs((unix_now() + days * 86_400) as u64);
    params.not_before = at(from_days);
    params.not_after = at(to_days);
}

fn ca_params(cn: &str, from_days: i64, to_days: i64) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationName, "mailbeat test");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.use_authority_key_identifier_extension = true;
    set_validity(&mut p, from_days, to_days);
    p
}

/// A certificate and its key, as a server presents them.
pub struct Leaf {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

pub struct Pki {
    root: CertifiedIssuer<'static, KeyPair>,
    intermediate: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    pub fn new() -> Self {
        Self::with_intermediate_validity(-30, 3650)
    }

    pub fn with_intermediate_validity(from_days: i64, to_days: i64) -> Self {
        Self::make("Test", from_days, to_days)
    }

    /// A PKI whose intermediate allows `n` CAs under it (pathLenConstraint).
    pub fn with_intermediate_path_len(n: u8) -> Self {
        let root = CertifiedIssuer::self_signed(
            ca_params("Test Root CA", -60, 7300),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        let mut params = ca_params("Test Intermediate CA", -30, 3650);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(n));
        let intermediate =
            CertifiedIssuer::signed_by(params, KeyPair::generate().unwrap(), &root).unwrap();
        Pki { root, intermediate }
    }

    /// Another CA, with names of its own (same names would be the same CA to a verifier).
    pub fn other() -> Self {
        Self::make("Other", -30, 3650)
    }

    fn make(prefix: &str, from_days: i64, to_days: i64) -> Self {
        let root = CertifiedIssuer::self_signed(
            ca_params(&format!("{prefix} Root CA"), -60, 7300),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        let intermediate = CertifiedIssuer::signed_by(
            ca_params(&format!("{prefix} Intermediate CA"), from_days, to_days),
            KeyPair::generate().unwrap(),
            &root,
        )
        .unwrap();
        Pki { root, intermediate }
    }

    pub fn root(&self) -> CertificateDer<'static> {
        self.root.der().clone()
    }

    pub fn intermediate(&self) -> CertificateDer<'static> {
        self.intermediate.der().clone()
    }

    /// Trust store with just this PKI's root.
    pub fn roots(&self) -> RootCertStore {
        let mut store = RootCertStore::empty();
        store.add(self.root()).unwrap();
        store
    }

    /// A leaf issued by the intermediate.
    pub fn leaf(&self, names: &[&str], from_days: i64, to_days: i64) -> Leaf {
        let (params, key) = leaf_params(names, from_days, to_days);
        let cert = params.signed_by(&key, &self.intermediate).unwrap();
        Leaf {
            cert: cert.der().clone(),
            key: pkcs8(&key),
        }
    }

    /// The usual good leaf: mail.test, localhost, 127.0.0.1, valid for a year.
    pub fn good_leaf(&self) -> Leaf {
        self.leaf(&[NAME, "localhost", "127.0.0.1"], -1, 365)
    }
}

impl Pki {
    /// A certificate made from `params` with `key`, issued by the intermediate.
    pub fn sign(&self, params: &CertificateParams, key: &KeyPair) -> Leaf {
        let cert = params.signed_by(key, &self.intermediate).unwrap();
        Leaf {
            cert: cert.der().clone(),
            key: pkcs8(key),
        }
    }

    /// A leaf for `names` whose key is an RSA key of `bits` bits, issued by the intermediate.
    /// ring can neither make nor use an RSA key under 2048 bits, so the certificate carries a
    /// public key that is nothing but the right size (no private key exists for it), and the
    /// `key` handed back is another key the test server signs its handshake with. A client
    /// refuses that handshake signature as it refuses a real weak key's; the verdict is on the
    /// certificate either way.
    pub fn leaf_with_rsa_key_bits(&self, names: &[&str], bits: usize) -> Leaf {
        let (params, key) = leaf_params(names, -1, 365);
        let cert = params
            .signed_by(&RsaPublicKeyOfSize::new(bits), &self.intermediate)
            .unwrap();
        Leaf {
            cert: cert.der().clone(),
            key: pkcs8(&key),
        }
    }

    /// A CA under the intermediate made from `params`, for chains of three CAs.
    pub fn sub_ca(&self, params: CertificateParams) -> CertifiedIssuer<'static, KeyPair> {
        CertifiedIssuer::signed_by(params, KeyPair::generate().unwrap(), &self.intermediate)
            .unwrap()
    }

    /// The intermediate CA's parameters, to make another like it.
    pub fn ca_params(cn: &str) -> CertificateParams {
        ca_params(cn, -30, 3650)
    }
}

/// A leaf for `names` issued by `issuer`.
pub fn leaf_signed_by(issuer: &CertifiedIssuer<'static, KeyPair>, names: &[&str]) -> Leaf {
    let (params, key) = leaf_params(names, -1, 365);
    let cert = params.signed_by(&key, issuer).unwrap();
    Leaf {
        cert: cert.der().clone(),
        key: pkcs8(&key),
    }
}

/// An RSA public key (`RSAPublicKey`, RFC 8017) with a modulus of exactly `bits` bits and
/// exponent 65537. Not a real key: only its size matters to the tests.
struct RsaPublicKeyOfSize(Vec<u8>);

impl RsaPublicKeyOfSize {
    fn new(bits: usize) -> Self {
        fn der(tag: u8, content: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            match content.len() {
                n if n < 0x80 => out.push(n as u8),
                n if n < 0x100 => out.extend([0x81, n as u8]),
                n => out.extend([0x82, (n >> 8) as u8, n as u8]),
            }
            out.extend_from_slice(content);
            out
        }
        // 0x00 keeps the INTEGER positive; the top bit of the modulus is set, and it is odd.
        let mut modulus = vec![0x00, 0xc5];
        modulus.extend((1..bits / 8).map(|i| (i * 151 % 251) as u8));
        *modulus.last_mut().unwrap() |= 1;
        let mut content = der(0x02, &modulus);
        content.extend(der(0x02, &[0x01, 0x00, 0x01]));
        RsaPublicKeyOfSize(der(0x30, &content))
    }
}

impl rcgen::PublicKeyData for RsaPublicKeyOfSize {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// A self-signed certificate as `openssl req -x509 -new -subj /CN=NAME [-addext
/// subjectAltName=...]` makes it: basicConstraints critical CA:TRUE (openssl's default v3_ca
/// section), subject and authority key identifiers, no extendedKeyUsage; `names` become
/// subjectAltNames only when `with_san`.
pub fn openssl_req_x509(names: &[&str], with_san: bool) -> Leaf {
    let sans: Vec<String> = if with_san {
        names.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    let mut p = CertificateParams::new(sans).unwrap();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.use_authority_key_identifier_extension = true;
    set_validity(&mut p, -1, 30);
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    Leaf {
        cert: cert.der().clone(),
        key: pkcs8(&key),
    }
}

/// A certificate and key from the PEM fixtures in `tests/fixtures` (made with openssl, for what
/// rcgen cannot make).
pub fn fixture_cert(pem: &str) -> CertificateDer<'static> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
}

pub fn fixture_key(pem: &str) -> PrivateKeyDer<'static> {
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .unwrap()
        .unwrap()
}

pub fn leaf_params(names: &[&str], from_days: i64, to_days: i64) -> (CertificateParams, KeyPair) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(names.clone()).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, names[0].as_str());
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    set_validity(&mut p, from_days, to_days);
    (p, KeyPair::generate().unwrap())
}

fn pkcs8(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

pub fn self_signed_leaf(names: &[&str]) -> Leaf {
    let (params, key) = leaf_params(names, -1, 365);
    let cert = params.self_signed(&key).unwrap();
    Leaf {
        cert: cert.der().clone(),
        key: pkcs8(&key),
    }
}

// ---------------------------------------------------------------------------------------------
// Loopback servers.

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Arc::new(rustls::crypto::ring::default_provider())
}

fn acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    versions: &[&'static SupportedProtocolVersion],
) -> TlsAcceptor {
    // Served through a resolver, as `with_single_cert` refuses a key that is not the
    // certificate's: a weak-key leaf has none (see `Pki::leaf_with_rsa_key_bits`).
    let signing_key = provider().key_provider.load_private_key(key).unwrap();
    let certified = Arc::new(CertifiedKey::new(chain, signing_key));
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Always(certified)));
    TlsAcceptor::from(Arc::new(config))
}

/// The one certificate a test server presents, whatever the client asks.
#[derive(Debug)]
struct Always(Arc<CertifiedKey>);

impl ResolvesServerCert for Always {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// How a scripted server behaves.
#[derive(Clone, Copy, PartialEq)]
pub enum Script {
    /// Speaks the protocol properly.
    Normal,
    /// STARTTLS ports: does not offer STARTTLS.
    NoStarttls,
    /// STARTTLS ports: offers STARTTLS and then refuses it.
    RefuseStarttls,
    /// Finishes the handshake and then says nothing.
    SilentAfterTls,
}

/// Starts a mail server on 127.0.0.1:0 that presents `chain`, speaking `protocol` with `mode`.
pub async fn serve(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    protocol: Protocol,
    mode: TlsMode,
    script: Script,
    versions: &[&'static SupportedProtocolVersion],
) -> SocketAddr {
    let acceptor = acceptor(chain, key, versions);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = session(tcp, acceptor, protocol, mode, script).await;
            });
        }
    });
    addr
}

async fn session(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    protocol: Protocol,
    mode: TlsMode,
    script: Script,
) -> std::io::Result<()> {
    let tcp = if mode == TlsMode::Starttls {
        let mut plain = BufReader::new(tcp);
        plain.write_all(greeting(protocol).as_bytes()).await?;
        loop {
            let mut line = String::new();
            if plain.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let (reply, upgrade) = answer(protocol, line.trim_end(), false, script);
            plain.write_all(reply.as_bytes()).await?;
            if upgrade {
                break;
            }
        }
        plain.into_inner()
    } else {
        tcp
    };
    let tls = acceptor.accept(tcp).await?;
    if script == Script::SilentAfterTls {
        tokio::time::sleep(Duration::from_secs(30)).await;
        return Ok(());
    }
    let mut tls = BufReader::new(tls);
    if mode == TlsMode::Implicit {
        tls.write_all(greeting(protocol).as_bytes()).await?;
    }
    loop {
        let mut line = String::new();
        if tls.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let (reply, _) = answer(protocol, line.trim_end(), true, script);
        tls.write_all(reply.as_bytes()).await?;
    }
}

fn greeting(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Smtp => "220 mail.test ESMTP test\r\n",
        Protocol::Imap => "* OK [CAPABILITY IMAP4rev1 STARTTLS] test ready\r\n",
        Protocol::Pop3 => "+OK test POP3 ready\r\n",
    }
}

/// The reply to one command, and whether to start TLS after it.
fn answer(protocol: Protocol, line: &str, tls: bool, script: Script) -> (String, bool) {
    let offer = script != Script::NoStarttls && !tls;
    let refuse = script == Script::RefuseStarttls;
    let upper = line.to_ascii_uppercase();
    match protocol {
        Protocol::Smtp => {
            if upper.starts_with("EHLO") {
                let ext = if tls {
                    "AUTH PLAIN LOGIN"
                } else if offer {
                    "STARTTLS"
                } else {
                    "SIZE 1000000"
                };
                (
                    format!("250-mail.test\r\n250-PIPELINING\r\n250 {ext}\r\n"),
                    false,
                )
            } else if upper == "STARTTLS" && refuse {
                (
                    "454 4.7.0 TLS not available due to local problem\r\n".into(),
                    false,
                )
            } else if upper == "STARTTLS" {
                ("220 2.0.0 Ready to start TLS\r\n".into(), true)
            } else if upper == "QUIT" {
                ("221 2.0.0 Bye\r\n".into(), false)
            } else {
                ("500 5.5.2 unknown command\r\n".into(), false)
            }
        }
        Protocol::Imap => {
            let (tag, command) = line.split_once(' ').unwrap_or((line, ""));
            match command.to_ascii_uppercase().as_str() {
                "CAPABILITY" => {
                    let caps = if tls {
                        "IMAP4rev1 AUTH=PLAIN"
                    } else if offer {
                        "IMAP4rev1 STARTTLS LOGINDISABLED"
                    } else {
                        "IMAP4rev1 AUTH=PLAIN"
                    };
                    (format!("* CAPABILITY {caps}\r\n{tag} OK done\r\n"), false)
                }
                "STARTTLS" if refuse => (format!("{tag} NO [UNAVAILABLE] TLS broken\r\n"), false),
                "STARTTLS" => (format!("{tag} OK Begin TLS negotiation now\r\n"), true),
                "LOGOUT" => (format!("* BYE logging out\r\n{tag} OK done\r\n"), false),
                _ => (format!("{tag} BAD unknown command\r\n"), false),
            }
        }
        Protocol::Pop3 => match upper.as_str() {
            "CAPA" => {
                let caps = if tls {
                    "USER\r\nSASL PLAIN\r\n"
                } else if offer {
                    "USER\r\nSTLS\r\n"
                } else {
                    "USER\r\n"
                };
                (format!("+OK\r\n{caps}.\r\n"), false)
            }
            "STLS" if refuse => ("-ERR TLS not available\r\n".into(), false),
            "STLS" => ("+OK Begin TLS negotiation\r\n".into(), true),
            "QUIT" => ("+OK bye\r\n".into(), false),
            _ => ("-ERR unknown command\r\n".into(), false),
        },
    }
}

/// An implicit-TLS IMAP server presenting `chain` (TLS 1.2 and 1.3).
pub async fn imaps(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> SocketAddr {
    serve(
        chain,
        key,
        Protocol::Imap,
        TlsMode::Implicit,
        Script::Normal,
        rustls::ALL_VERSIONS,
    )
    .await
}

/// A server that runs `handler` on each connection (for peers that misbehave).
pub async fn raw_server<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(handler(tcp));
        }
    });
    addr
}

// ---------------------------------------------------------------------------------------------
// Running the probe and reading its result.

pub fn target(addr: SocketAddr, protocol: Protocol, mode: TlsMode) -> Target {
    Target {
        name: "t".into(),
        protocol: Some(protocol),
        host: addr.ip().to_string(),
        port: Some(addr.port()),
        tls: mode,
        tls_server_name: Some(NAME.into()),
        ca_file: None,
        source_address: None,
        provider: None,
        account: None,
        labels: BTreeMap::new(),
        migration_domain: None,
    }
}

pub async fn run(target: &Target, roots: RootCertStore, timeout: Duration) -> CheckResult {
    run_with(target, roots, timeout, serde_json::Value::Null).await
}

pub async fn run_with(
    target: &Target,
    roots: RootCertStore,
    timeout: Duration,
    options: serde_json::Value,
) -> CheckResult {
    let _ = provider();
    let ctx = ProbeContext::new(timeout, Arc::new(roots));
    mailbeat_sdk::check_once(&TlsProbe, target, &options, &ctx).await
}

#[track_caller]
pub fn assert_outcome(r: &CheckResult, status: Status, reason: Option<Reason>) {
    assert_eq!(
        (r.status, r.reason),
        (status, reason),
        "message: {}\ndetails: {}",
        r.message,
        r.details
    );
}

#[track_caller]
pub fn observation(r: &CheckResult, name: &str) -> f64 {
    *r.observations
        .get(name)
        .unwrap_or_else(|| panic!("no observation {name} in {:?}", r.observations))
}

pub fn samples<'a>(r: &'a CheckResult, name: &str) -> Vec<&'a Sample> {
    r.samples.iter().filter(|s| s.name == name).collect()
}

pub fn label<'a>(s: &'a Sample, key: &str) -> &'a str {
    s.labels.get(key).map(String::as_str).unwrap_or("")
}

/// The certificate metrics exist, with these values, even when verification failed.
#[track_caller]
pub fn assert_cert_metrics(r: &CheckResult, verified: bool, presented: usize) {
    assert_eq!(
        observation(r, "tls_chain_verified"),
        if verified { 1.0 } else { 0.0 }
    );
    assert_eq!(observation(r, "tls_presented_certs"), presented as f64);
    let not_after = samples(r, "tls_cert_not_after_timestamp_seconds");
    assert_eq!(not_after.len(), presented, "{not_after:?}");
    let earliest = not_after
        .iter()
        .map(|s| s.value)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(
        observation(r, "tls_earliest_cert_expiry_timestamp_seconds"),
        earliest
    );
    assert_eq!(
        r.details["certificates"].as_array().unwrap().len(),
        presented
    );
    assert!(observation(r, "port_connect_duration_seconds") >= 0.0);
}

#[track_caller]
pub fn assert_verify(r: &CheckResult, code: u64, text: &str) {
    assert_eq!(
        r.details["verify"],
        json!({"code": code, "text": text}),
        "{}",
        r.message
    );
}

/// A verify code that openssl prints only with an extra option (`-verify_hostname`, `-verify_ip`).
#[track_caller]
pub fn assert_verify_option(r: &CheckResult, code: u64, text: &str, option: &str) {
    assert_eq!(
        r.details["verify"],
        json!({"code": code, "text": text, "openssl_option": option}),
        "{}",
        r.message
    );
}

/// Reads what a peer sends first, and drops it.
pub async fn read_some(tcp: &mut TcpStream) {
    let mut buf = [0u8; 512];
    let _ = tcp.read(&mut buf).await;
}
