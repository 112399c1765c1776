//! The `tls` probe against loopback servers that present certificates made at test time (rcgen):
//! one server per case, implicit TLS and STARTTLS, good chains, broken chains and bad peers.
//!
//! Every target is 127.0.0.1 with `tls_server_name: mail.test`, the way a migration target is
//! configured (connect to an address, verify a name), unless a test says otherwise.

use mailbeat_probes::tls::client::open_session;
use mailbeat_probes::tls::TlsProbe;
use mailbeat_sdk::{
    CheckResult, Probe, ProbeContext, Protocol, Reason, Sample, Status, Target, TlsMode,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

const NAME: &str = "mail.test";
const TIMEOUT: Duration = Duration::from_secs(5);
/// For the tests of peers that never answer: the check must end within this plus a second.
const SHORT: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------------------
// Test PKI: root → intermediate → leaves, made fresh for each test.

fn unix_now() -> i64 {
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
struct Leaf {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

struct Pki {
    root: CertifiedIssuer<'static, KeyPair>,
    intermediate: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Self {
        Self::with_intermediate_validity(-30, 3650)
    }

    fn with_intermediate_validity(from_days: i64, to_days: i64) -> Self {
        Self::make("Test", from_days, to_days)
    }

    /// Another CA, with names of its own (same names would be the same CA to a verifier).
    fn other() -> Self {
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

    fn root(&self) -> CertificateDer<'static> {
        self.root.der().clone()
    }

    fn intermediate(&self) -> CertificateDer<'static> {
        self.intermediate.der().clone()
    }

    /// Trust store with just this PKI's root.
    fn roots(&self) -> RootCertStore {
        let mut store = RootCertStore::empty();
        store.add(self.root()).unwrap();
        store
    }

    /// A leaf issued by the intermediate.
    fn leaf(&self, names: &[&str], from_days: i64, to_days: i64) -> Leaf {
        let (params, key) = leaf_params(names, from_days, to_days);
        let cert = params.signed_by(&key, &self.intermediate).unwrap();
        Leaf {
            cert: cert.der().clone(),
            key: pkcs8(&key),
        }
    }

    /// The usual good leaf: mail.test, localhost, 127.0.0.1, valid for a year.
    fn good_leaf(&self) -> Leaf {
        self.leaf(&[NAME, "localhost", "127.0.0.1"], -1, 365)
    }
}

fn leaf_params(names: &[&str], from_days: i64, to_days: i64) -> (CertificateParams, KeyPair) {
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

fn self_signed_leaf(names: &[&str]) -> Leaf {
    let (params, key) = leaf_params(names, -1, 365);
    let cert = params.self_signed(&key).unwrap();
    Leaf {
        cert: cert.der().clone(),
        key: pkcs8(&key),
    }
}

// ---------------------------------------------------------------------------------------------
// Loopback servers.

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Arc::new(rustls::crypto::ring::default_provider())
}

fn acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    versions: &[&'static SupportedProtocolVersion],
) -> TlsAcceptor {
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

/// How a scripted server behaves.
#[derive(Clone, Copy, PartialEq)]
enum Script {
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
async fn serve(
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
async fn imaps(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> SocketAddr {
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
async fn raw_server<F, Fut>(handler: F) -> SocketAddr
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

fn target(addr: SocketAddr, protocol: Protocol, mode: TlsMode) -> Target {
    Target {
        name: "t".into(),
        protocol,
        host: addr.ip().to_string(),
        port: addr.port(),
        tls: mode,
        tls_server_name: Some(NAME.into()),
        ca_file: None,
        source_address: None,
        provider: None,
        account: None,
        labels: BTreeMap::new(),
    }
}

async fn run(target: &Target, roots: RootCertStore, timeout: Duration) -> CheckResult {
    run_with(target, roots, timeout, serde_json::Value::Null).await
}

async fn run_with(
    target: &Target,
    roots: RootCertStore,
    timeout: Duration,
    options: serde_json::Value,
) -> CheckResult {
    let _ = provider();
    let ctx = ProbeContext::new(timeout, Arc::new(roots)).with_options(options);
    TlsProbe.check(target, &ctx).await
}

#[track_caller]
fn assert_outcome(r: &CheckResult, status: Status, reason: Option<Reason>) {
    assert_eq!(
        (r.status, r.reason),
        (status, reason),
        "message: {}\ndetails: {}",
        r.message,
        r.details
    );
}

#[track_caller]
fn observation(r: &CheckResult, name: &str) -> f64 {
    *r.observations
        .get(name)
        .unwrap_or_else(|| panic!("no observation {name} in {:?}", r.observations))
}

fn samples<'a>(r: &'a CheckResult, name: &str) -> Vec<&'a Sample> {
    r.samples.iter().filter(|s| s.name == name).collect()
}

fn label<'a>(s: &'a Sample, key: &str) -> &'a str {
    s.labels.get(key).map(String::as_str).unwrap_or("")
}

/// The certificate metrics exist, with these values, even when verification failed.
#[track_caller]
fn assert_cert_metrics(r: &CheckResult, verified: bool, presented: usize) {
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
fn assert_verify(r: &CheckResult, code: u64, text: &str) {
    assert_eq!(
        r.details["verify"],
        json!({"code": code, "text": text}),
        "{}",
        r.message
    );
}

/// A verify code that openssl prints only with an extra option (`-verify_hostname`, `-verify_ip`).
#[track_caller]
fn assert_verify_option(r: &CheckResult, code: u64, text: &str, option: &str) {
    assert_eq!(
        r.details["verify"],
        json!({"code": code, "text": text, "openssl_option": option}),
        "{}",
        r.message
    );
}

// ---------------------------------------------------------------------------------------------
// Good chains.

#[tokio::test]
async fn implicit_tls_with_a_good_chain_is_ok_with_every_fact() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert.clone(), pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;

    assert_outcome(&r, Status::Ok, None);
    assert!(
        r.message.contains("openssl: verify code 0, ok"),
        "{}",
        r.message
    );
    assert_cert_metrics(&r, true, 2);
    assert_verify(&r, 0, "ok");

    let not_after = samples(&r, "tls_cert_not_after_timestamp_seconds");
    assert_eq!(label(not_after[0], "depth"), "0");
    assert_eq!(label(not_after[0], "subject_cn"), NAME);
    assert_eq!(label(not_after[1], "depth"), "1");
    assert_eq!(label(not_after[1], "subject_cn"), "Test Intermediate CA");

    let version = samples(&r, "tls_version_info");
    assert_eq!(version.len(), 1);
    assert_eq!(label(version[0], "version"), "TLS 1.3");
    assert!(
        label(version[0], "cipher").starts_with("TLS13_"),
        "{version:?}"
    );
    assert_eq!(version[0].value, 1.0);

    let leaf_json = &r.details["certificates"][0];
    assert_eq!(leaf_json["depth"], 0);
    assert_eq!(leaf_json["subject"], "CN=mail.test");
    assert_eq!(
        leaf_json["issuer"],
        "CN=Test Intermediate CA, O=mailbeat test"
    );
    assert_eq!(leaf_json["sans"], json!([NAME, "localhost", "127.0.0.1"]));
    assert_eq!(leaf_json["key"], "EC P-256");
    assert_eq!(leaf_json["signature_algorithm"], "ecdsa-with-SHA256");
    assert_eq!(leaf_json["self_signed"], false);
    assert_eq!(leaf_json["in_path"], true);
    assert!(leaf_json["not_after"].as_str().unwrap().ends_with('Z'));
    let fp = leaf_json["sha256_fingerprint"].as_str().unwrap();
    assert_eq!(fp.len(), 95, "{fp}");
    assert_eq!(r.details["server_name"], NAME);
    assert_eq!(r.details["peer"], addr.to_string());
    assert_eq!(r.details["tls_version"], "TLS 1.3");
    assert!(r.details["greeting"].as_str().unwrap().starts_with("* OK"));
}

#[tokio::test]
async fn tls_1_2_version_and_cipher_are_reported() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = serve(
        vec![leaf.cert, pki.intermediate()],
        leaf.key,
        Protocol::Smtp,
        TlsMode::Implicit,
        Script::Normal,
        &[&rustls::version::TLS12],
    )
    .await;
    let r = run(
        &target(addr, Protocol::Smtp, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Ok, None);
    let version = samples(&r, "tls_version_info");
    assert_eq!(label(version[0], "version"), "TLS 1.2");
    assert!(
        label(version[0], "cipher").starts_with("TLS_ECDHE_ECDSA_WITH_"),
        "{version:?}"
    );
}

#[tokio::test]
async fn an_ip_host_without_server_name_is_verified_against_ip_sans() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let mut t = target(addr, Protocol::Imap, TlsMode::Implicit);
    t.tls_server_name = None;
    let r = run(&t, pki.roots(), TIMEOUT).await;
    assert_outcome(&r, Status::Ok, None);
    assert_eq!(r.details["server_name"], "127.0.0.1");
}

#[tokio::test]
async fn an_intermediate_in_the_trust_store_completes_a_leaf_only_chain() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let mut roots = RootCertStore::empty();
    roots.add(pki.intermediate()).unwrap();
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        roots,
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Ok, None);
    assert_cert_metrics(&r, true, 1);
}

// ---------------------------------------------------------------------------------------------
// Broken chains: each reason, with the metrics still there.

#[tokio::test]
async fn expired_leaf() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAME], -400, -3);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsCertExpired));
    assert!(
        r.message.contains("'CN=mail.test' (the leaf) expired"),
        "{}",
        r.message
    );
    assert!(r.message.contains("3 days ago"), "{}", r.message);
    assert_verify(&r, 10, "certificate has expired");
    assert_cert_metrics(&r, false, 2);
    let earliest = observation(&r, "tls_earliest_cert_expiry_timestamp_seconds");
    assert!(
        earliest < unix_now() as f64,
        "earliest expiry is the expired leaf"
    );
    // The handshake went through, so version and cipher are known too.
    assert_eq!(samples(&r, "tls_version_info").len(), 1);
}

#[tokio::test]
async fn expired_intermediate() {
    let pki = Pki::with_intermediate_validity(-400, -1);
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsCertExpired));
    assert!(r.message.contains("Test Intermediate CA"), "{}", r.message);
    assert!(r.message.contains("(depth 1)"), "{}", r.message);
    assert_verify(&r, 10, "certificate has expired");
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn not_yet_valid_leaf() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAME], 2, 400);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsCertNotYetValid));
    assert_verify(&r, 9, "certificate is not yet valid");
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn wrong_name() {
    let pki = Pki::new();
    let leaf = pki.leaf(&["other.test", "www.other.test"], -1, 365);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHostnameMismatch));
    assert!(
        r.message
            .contains("not valid for mail.test: it is valid for other.test, www.other.test"),
        "{}",
        r.message
    );
    assert_verify_option(&r, 62, "hostname mismatch", "-verify_hostname mail.test");
    // `openssl s_client -servername` alone does not check the name (it says 0): say which option
    // makes it say 62.
    assert!(
        r.message.ends_with(
            "(openssl: verify code 62 with -verify_hostname mail.test, hostname mismatch)"
        ),
        "{}",
        r.message
    );
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn wrong_ip_address() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAME], -1, 365);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let mut t = target(addr, Protocol::Imap, TlsMode::Implicit);
    t.tls_server_name = None;
    let r = run(&t, pki.roots(), TIMEOUT).await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHostnameMismatch));
    let ip = addr.ip().to_string();
    assert_verify_option(&r, 64, "IP address mismatch", &format!("-verify_ip {ip}"));
    assert!(
        r.message
            .contains(&format!("verify code 64 with -verify_ip {ip}")),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_self_signed_leaf() {
    let pki = Pki::new();
    let leaf = self_signed_leaf(&[NAME, "127.0.0.1"]);
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsSelfSigned));
    assert_verify(&r, 18, "self-signed certificate");
    assert_cert_metrics(&r, false, 1);
    assert_eq!(r.details["certificates"][0]["self_signed"], true);
}

#[tokio::test]
async fn leaf_only_is_an_incomplete_chain() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsChainIncomplete));
    assert!(
        r.message.starts_with(
            "certificate chain incomplete: the server sent only the leaf (CN=mail.test) and not \
             the intermediate 'CN=Test Intermediate CA, O=mailbeat test' that issued it"
        ),
        "{}",
        r.message
    );
    assert!(
        r.message
            .ends_with("(openssl: verify code 21, unable to verify the first certificate)"),
        "{}",
        r.message
    );
    assert_verify(&r, 21, "unable to verify the first certificate");
    assert_cert_metrics(&r, false, 1);
}

#[tokio::test]
async fn a_full_chain_to_an_unknown_root_is_an_untrusted_root() {
    let pki = Pki::new();
    let other = Pki::other();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate(), pki.root()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        other.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsUntrustedRoot));
    assert!(
        r.message.contains("self-signed root 'CN=Test Root CA"),
        "{}",
        r.message
    );
    assert_verify(&r, 19, "self-signed certificate in certificate chain");
    assert_cert_metrics(&r, false, 3);
}

#[tokio::test]
async fn an_intermediate_from_an_unknown_root_is_an_untrusted_root() {
    let pki = Pki::new();
    let other = Pki::other();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        other.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsUntrustedRoot));
    assert_verify(&r, 20, "unable to get local issuer certificate");
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn a_trusted_root_of_the_same_name_but_another_key() {
    let pki = Pki::new();
    let impostor = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        impostor.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsUntrustedRoot));
    assert_verify(&r, 7, "certificate signature failure");
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn an_empty_trust_store_trusts_nothing() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        RootCertStore::empty(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsUntrustedRoot));
    assert_cert_metrics(&r, false, 2);
}

#[tokio::test]
async fn expiry_within_critical_days_is_critical() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAME], -360, 3);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsCertExpiring));
    assert!(r.message.contains("less than 7 days"), "{}", r.message);
    // Expiring is not a verification failure: openssl says 0.
    assert_verify(&r, 0, "ok");
    assert_cert_metrics(&r, true, 2);
}

#[tokio::test]
async fn expiry_within_warn_days_is_a_warning_and_options_move_it() {
    let pki = Pki::new();
    let leaf = pki.leaf(&[NAME], -360, 10);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let t = target(addr, Protocol::Imap, TlsMode::Implicit);
    let r = run(&t, pki.roots(), TIMEOUT).await;
    assert_outcome(&r, Status::Warning, Some(Reason::TlsCertExpiring));
    assert!(r.message.contains("less than 21 days"), "{}", r.message);
    assert_cert_metrics(&r, true, 2);
    // A warning does not stop the service check.
    assert!(r.details["greeting"].is_string());

    let relaxed = json!({"warn_days": 5, "critical_days": 2});
    let r = run_with(&t, pki.roots(), TIMEOUT, relaxed).await;
    assert_outcome(&r, Status::Ok, None);
    let strict = json!({"warn_days": 60, "critical_days": 30});
    let r = run_with(&t, pki.roots(), TIMEOUT, strict).await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsCertExpiring));
}

#[tokio::test]
async fn an_intermediate_expiring_first_counts() {
    let pki = Pki::with_intermediate_validity(-300, 5);
    let leaf = pki.leaf(&[NAME], -1, 365);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsCertExpiring));
    assert!(r.message.contains("Test Intermediate CA"), "{}", r.message);
}

/// rcgen (ring) cannot sign with SHA-1, so this chain was made once with openssl
/// (`tests/fixtures/make-weak.sh`): an RSA CA that signed a P-256 leaf with sha1WithRSAEncryption.
#[tokio::test]
async fn a_sha1_signature_is_weak() {
    let fixture_cert = |s: &str| {
        rustls_pemfile::certs(&mut s.as_bytes())
            .next()
            .unwrap()
            .unwrap()
    };
    let ca = fixture_cert(include_str!("fixtures/weak-sha1-ca.pem"));
    let leaf = fixture_cert(include_str!("fixtures/weak-sha1-leaf.pem"));
    let key = include_str!("fixtures/weak-sha1-leaf-key.pem");
    let key = rustls_pemfile::private_key(&mut key.as_bytes())
        .unwrap()
        .unwrap();
    let addr = imaps(vec![leaf], key).await;
    let mut roots = RootCertStore::empty();
    roots.add(ca).unwrap();
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        roots,
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsWeak));
    assert!(r.message.contains("sha1WithRSAEncryption"), "{}", r.message);
    assert_verify(&r, 68, "CA signature digest algorithm too weak");
    assert_cert_metrics(&r, false, 1);
}

// ---------------------------------------------------------------------------------------------
// STARTTLS, spoken by the probe itself.

async fn starttls_server(pki: &Pki, protocol: Protocol, script: Script) -> SocketAddr {
    let leaf = pki.good_leaf();
    serve(
        vec![leaf.cert, pki.intermediate()],
        leaf.key,
        protocol,
        TlsMode::Starttls,
        script,
        rustls::ALL_VERSIONS,
    )
    .await
}

#[tokio::test]
async fn starttls_smtp_imap_and_pop3_are_ok() {
    let pki = Pki::new();
    for (protocol, after) in [
        (Protocol::Smtp, "AUTH PLAIN LOGIN"),
        (Protocol::Imap, "AUTH=PLAIN"),
        (Protocol::Pop3, "SASL PLAIN"),
    ] {
        let addr = starttls_server(&pki, protocol, Script::Normal).await;
        let r = run(
            &target(addr, protocol, TlsMode::Starttls),
            pki.roots(),
            TIMEOUT,
        )
        .await;
        assert_outcome(&r, Status::Ok, None);
        assert_cert_metrics(&r, true, 2);
        let caps = r.details["capabilities_after_tls"].to_string();
        assert!(caps.contains(after), "{protocol}: {caps}");
        assert!(
            r.details["capabilities_before_tls"].is_array(),
            "{protocol}"
        );
    }
}

#[tokio::test]
async fn starttls_with_a_leaf_only_chain_is_an_incomplete_chain() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = serve(
        vec![leaf.cert],
        leaf.key,
        Protocol::Smtp,
        TlsMode::Starttls,
        Script::Normal,
        rustls::ALL_VERSIONS,
    )
    .await;
    let r = run(
        &target(addr, Protocol::Smtp, TlsMode::Starttls),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsChainIncomplete));
    assert_cert_metrics(&r, false, 1);
    assert!(
        r.details.get("capabilities_after_tls").is_none(),
        "no talking over a bad chain"
    );
}

#[tokio::test]
async fn starttls_not_offered() {
    let pki = Pki::new();
    for protocol in [Protocol::Smtp, Protocol::Imap] {
        let addr = starttls_server(&pki, protocol, Script::NoStarttls).await;
        let r = run(
            &target(addr, protocol, TlsMode::Starttls),
            pki.roots(),
            TIMEOUT,
        )
        .await;
        assert_outcome(&r, Status::Critical, Some(Reason::StarttlsNotOffered));
        assert!(r.observations.contains_key("port_connect_duration_seconds"));
        assert!(
            !r.observations.contains_key("tls_chain_verified"),
            "no TLS was attempted"
        );
    }
}

#[tokio::test]
async fn starttls_answered_with_an_error() {
    let pki = Pki::new();
    for (protocol, words) in [
        (
            Protocol::Smtp,
            "454 4.7.0 TLS not available due to local problem",
        ),
        (Protocol::Imap, "NO [UNAVAILABLE] TLS broken"),
        (Protocol::Pop3, "-ERR TLS not available"),
    ] {
        let addr = starttls_server(&pki, protocol, Script::RefuseStarttls).await;
        let r = run(
            &target(addr, protocol, TlsMode::Starttls),
            pki.roots(),
            TIMEOUT,
        )
        .await;
        // SMTP 454 (4.7.0 TLS not available) is the server saying "not now": unavailable, not a
        // protocol violation. IMAP NO and POP3 -ERR do not say why.
        let reason = match protocol {
            Protocol::Smtp => Reason::ServerUnavailable,
            _ => Reason::ProtocolError,
        };
        assert_outcome(&r, Status::Critical, Some(reason));
        assert!(r.message.contains(words), "{protocol}: {}", r.message);
    }
}

// ---------------------------------------------------------------------------------------------
// Bad peers: a clear reason, no hang past the timeout, no panic.

async fn read_some(tcp: &mut TcpStream) {
    let mut buf = [0u8; 512];
    let _ = tcp.read(&mut buf).await;
}

#[tokio::test]
async fn a_server_closing_mid_handshake() {
    let addr = raw_server(|mut tcp| async move {
        read_some(&mut tcp).await; // the ClientHello
                                   // Half a ServerHello record header, then gone.
        let _ = tcp.write_all(&[0x16, 0x03, 0x03]).await;
    })
    .await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        Pki::new().roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHandshakeFailed));
    assert_eq!(observation(&r, "tls_chain_verified"), 0.0);
    assert_eq!(observation(&r, "tls_presented_certs"), 0.0);
    assert!(r.details.get("verify").is_none());
}

#[tokio::test]
async fn a_plaintext_greeting_on_an_implicit_tls_port() {
    let addr = raw_server(|mut tcp| async move {
        let _ = tcp.write_all(b"220 mail.test ESMTP Postfix\r\n").await;
        read_some(&mut tcp).await;
    })
    .await;
    let r = run(
        &target(addr, Protocol::Smtp, TlsMode::Implicit),
        Pki::new().roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHandshakeFailed));
    assert!(
        r.message.contains("'220 mail.test ESMTP Postfix'"),
        "{}",
        r.message
    );
    assert!(r.message.contains("tls: starttls"), "{}", r.message);
}

#[tokio::test]
async fn garbage_instead_of_a_greeting() {
    let addr = raw_server(|mut tcp| async move {
        let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        read_some(&mut tcp).await;
    })
    .await;
    for protocol in [Protocol::Smtp, Protocol::Imap, Protocol::Pop3] {
        let r = run(
            &target(addr, protocol, TlsMode::Starttls),
            Pki::new().roots(),
            TIMEOUT,
        )
        .await;
        assert_outcome(&r, Status::Critical, Some(Reason::BadGreeting));
        assert!(
            r.message.contains("HTTP/1.1 400"),
            "{protocol}: {}",
            r.message
        );
    }
}

async fn silent(tcp: TcpStream) {
    tokio::time::sleep(Duration::from_secs(30)).await;
    drop(tcp);
}

#[tokio::test]
async fn a_server_that_never_answers_the_client_hello() {
    let addr = raw_server(silent).await;
    let started = Instant::now();
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        Pki::new().roots(),
        SHORT,
    )
    .await;
    assert!(
        started.elapsed() < SHORT + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_outcome(&r, Status::Critical, Some(Reason::ServerTimeout));
    assert!(r.message.contains("TLS handshake"), "{}", r.message);
}

#[tokio::test]
async fn a_server_that_never_greets() {
    let addr = raw_server(silent).await;
    let started = Instant::now();
    let r = run(
        &target(addr, Protocol::Smtp, TlsMode::Starttls),
        Pki::new().roots(),
        SHORT,
    )
    .await;
    assert!(
        started.elapsed() < SHORT + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_outcome(&r, Status::Critical, Some(Reason::ServerTimeout));
}

#[tokio::test]
async fn a_server_that_accepts_starttls_and_then_hangs() {
    let addr = raw_server(|tcp| async move {
        let mut tcp = BufReader::new(tcp);
        let _ = tcp.write_all(b"+OK ready\r\n").await;
        let mut line = String::new();
        while tcp.read_line(&mut line).await.unwrap_or(0) > 0 {
            match line.trim_end() {
                "CAPA" => {
                    let _ = tcp.write_all(b"+OK\r\nSTLS\r\n.\r\n").await;
                }
                "STLS" => {
                    let _ = tcp.write_all(b"+OK go ahead\r\n").await;
                    // ... and never a ServerHello.
                    silent(tcp.into_inner()).await;
                    return;
                }
                _ => {
                    let _ = tcp.write_all(b"-ERR\r\n").await;
                }
            }
            line.clear();
        }
    })
    .await;
    let started = Instant::now();
    let r = run(
        &target(addr, Protocol::Pop3, TlsMode::Starttls),
        Pki::new().roots(),
        SHORT,
    )
    .await;
    assert!(
        started.elapsed() < SHORT + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_outcome(&r, Status::Critical, Some(Reason::ServerTimeout));
}

#[tokio::test]
async fn tls_that_works_but_no_greeting_keeps_the_tls_facts() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = serve(
        vec![leaf.cert, pki.intermediate()],
        leaf.key,
        Protocol::Imap,
        TlsMode::Implicit,
        Script::SilentAfterTls,
        rustls::ALL_VERSIONS,
    )
    .await;
    let started = Instant::now();
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        SHORT,
    )
    .await;
    assert!(
        started.elapsed() < SHORT + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_outcome(&r, Status::Critical, Some(Reason::ServerTimeout));
    assert!(
        r.message.contains("TLS itself: certificate chain verified"),
        "{}",
        r.message
    );
    assert_cert_metrics(&r, true, 2);
    assert_verify(&r, 0, "ok");

    // Without the service check the same server is fine.
    let r = run_with(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        SHORT,
        json!({"check_service": false}),
    )
    .await;
    assert_outcome(&r, Status::Ok, None);
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        Pki::new().roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::ConnectionRefused));
}

// ---------------------------------------------------------------------------------------------
// Servers stuck on old TLS: rustls refuses them, and that is a weak configuration, not a mystery.

const WEAK_WORDS: &str = "the server offers only TLS older than 1.2 or no modern cipher suite";

#[tokio::test]
async fn a_protocol_version_alert_is_weak_tls() {
    // What an old server says to a ClientHello offering only TLS 1.2 and 1.3: a fatal
    // protocol_version alert (level 2, description 70), in a TLS 1.0 record.
    let addr = raw_server(|mut tcp| async move {
        read_some(&mut tcp).await;
        let _ = tcp
            .write_all(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])
            .await;
        read_some(&mut tcp).await;
    })
    .await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        Pki::new().roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsWeak));
    assert!(r.message.contains(WEAK_WORDS), "{}", r.message);
    assert!(
        r.message.contains("upgrade the server's TLS"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_tls_1_0_server_hello_is_weak_tls() {
    // A ServerHello that picks TLS 1.0 (0x0301) and TLS_RSA_WITH_AES_128_CBC_SHA.
    let addr = raw_server(|mut tcp| async move {
        read_some(&mut tcp).await;
        let mut record = vec![
            0x16, 0x03, 0x01, 0x00, 0x2a, 0x02, 0x00, 0x00, 0x26, 0x03, 0x01,
        ];
        record.extend_from_slice(&[0x42; 32]);
        record.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00]);
        let _ = tcp.write_all(&record).await;
        read_some(&mut tcp).await;
    })
    .await;
    let r = run(
        &target(addr, Protocol::Smtp, TlsMode::Implicit),
        Pki::new().roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsWeak));
    assert!(r.message.contains(WEAK_WORDS), "{}", r.message);
}

// ---------------------------------------------------------------------------------------------
// `open_session`, the auth probe's way in: it names TLS failures as this probe does.

fn ctx_with_roots(roots: RootCertStore) -> ProbeContext {
    let _ = provider();
    ProbeContext::new(TIMEOUT, Arc::new(roots))
}

#[tokio::test]
async fn open_session_names_a_leaf_only_chain_as_incomplete() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let err = open_session(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        &ctx_with_roots(pki.roots()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason, Reason::TlsChainIncomplete, "{}", err.message);
    assert!(err.message.contains("verify code 21"), "{}", err.message);

    let leaf = pki.good_leaf();
    let addr = serve(
        vec![leaf.cert],
        leaf.key,
        Protocol::Smtp,
        TlsMode::Starttls,
        Script::Normal,
        rustls::ALL_VERSIONS,
    )
    .await;
    let err = open_session(
        &target(addr, Protocol::Smtp, TlsMode::Starttls),
        &ctx_with_roots(pki.roots()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason, Reason::TlsChainIncomplete, "{}", err.message);
}

#[tokio::test]
async fn open_session_names_other_chain_failures_as_the_tls_probe_does() {
    let pki = Pki::new();
    let leaf = self_signed_leaf(&[NAME]);
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let t = target(addr, Protocol::Imap, TlsMode::Implicit);
    let err = open_session(&t, &ctx_with_roots(pki.roots()))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::TlsSelfSigned, "{}", err.message);

    let leaf = pki.leaf(&["other.test"], -1, 365);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let t = target(addr, Protocol::Imap, TlsMode::Implicit);
    let err = open_session(&t, &ctx_with_roots(pki.roots()))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::TlsHostnameMismatch, "{}", err.message);

    // And a good chain still opens, greeting read, the next byte the client's.
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let t = target(addr, Protocol::Imap, TlsMode::Implicit);
    let session = open_session(&t, &ctx_with_roots(pki.roots()))
        .await
        .unwrap();
    assert!(session.tls);
    assert!(session.greeting.starts_with("* OK"), "{}", session.greeting);
}

#[tokio::test]
async fn open_session_names_weak_tls() {
    let addr = raw_server(|mut tcp| async move {
        read_some(&mut tcp).await;
        let _ = tcp
            .write_all(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])
            .await;
    })
    .await;
    let err = open_session(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        &ctx_with_roots(Pki::new().roots()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason, Reason::TlsWeak, "{}", err.message);
}

#[tokio::test]
async fn data_ahead_of_the_client_is_not_called_starttls_injection_without_starttls() {
    // A plaintext POP3 server that sends a second line before the client said anything.
    let addr = raw_server(|mut tcp| async move {
        let _ = tcp.write_all(b"+OK ready\r\n+OK surprise\r\n").await;
        read_some(&mut tcp).await;
    })
    .await;
    let err = open_session(
        &target(addr, Protocol::Pop3, TlsMode::None),
        &ctx_with_roots(RootCertStore::empty()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason, Reason::ProtocolError, "{}", err.message);
    assert!(
        err.message
            .contains("server sent data before the client spoke"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("STARTTLS"), "{}", err.message);
}

#[tokio::test]
async fn data_ahead_of_the_tls_handshake_after_starttls_is_called_injection() {
    let addr = raw_server(|tcp| async move {
        let mut tcp = BufReader::new(tcp);
        let _ = tcp.write_all(b"+OK ready\r\n").await;
        let mut line = String::new();
        while tcp.read_line(&mut line).await.unwrap_or(0) > 0 {
            let reply: &[u8] = match line.trim_end() {
                "CAPA" => b"+OK\r\nSTLS\r\n.\r\n",
                "STLS" => b"+OK go ahead\r\n+OK injected\r\n",
                _ => b"-ERR\r\n",
            };
            let _ = tcp.write_all(reply).await;
            line.clear();
        }
    })
    .await;
    let err = open_session(
        &target(addr, Protocol::Pop3, TlsMode::Starttls),
        &ctx_with_roots(RootCertStore::empty()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason, Reason::ProtocolError, "{}", err.message);
    assert!(
        err.message.contains("STARTTLS injection"),
        "{}",
        err.message
    );
}

// ---------------------------------------------------------------------------------------------
// Configuration.

#[tokio::test]
async fn a_target_without_tls_is_a_config_error() {
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let t = target(addr, Protocol::Imap, TlsMode::None);
    let r = run(&t, RootCertStore::empty(), TIMEOUT).await;
    assert_outcome(&r, Status::Unknown, Some(Reason::ConfigError));
    assert!(
        r.message.contains("tls probe on a target without TLS"),
        "{}",
        r.message
    );
    assert!(TlsProbe.validate(&t, &serde_json::Value::Null).is_err());
}

#[test]
fn the_tls_probe_is_built_in() {
    assert!(mailbeat_probes::builtin().iter().any(|p| p.name() == "tls"));
}

#[tokio::test]
async fn options_are_validated() {
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let t = target(addr, Protocol::Imap, TlsMode::Implicit);
    assert!(TlsProbe.validate(&t, &serde_json::Value::Null).is_ok());
    assert!(TlsProbe
        .validate(&t, &json!({"warn_days": 30, "critical_days": 10}))
        .is_ok());
    assert!(TlsProbe.validate(&t, &json!({"warn_dys": 30})).is_err());
    let r = run_with(&t, RootCertStore::empty(), TIMEOUT, json!({"bogus": 1})).await;
    assert_outcome(&r, Status::Unknown, Some(Reason::ConfigError));
}
