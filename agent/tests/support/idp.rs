//! A loopback OAuth2 authorization server for the agent's integration tests (issue #9): HTTPS
//! with a test CA of its own, on its own thread and tokio runtime, so that sync `#[test]`s drive
//! the `mailbeat` binary against it; it stops when dropped.
//!
//! It answers like Google (`Flavor::Google`) or Microsoft (`Flavor::Microsoft`): the token,
//! device-code and error bodies have those providers' shapes, and the error texts are the ones
//! their servers send (gathered from public reports; the source of each is next to it). Endpoints:
//! `POST /token` (grants `refresh_token`, `authorization_code` with PKCE S256,
//! `urn:ietf:params:oauth:grant-type:device_code`), `GET /authorize` (auto-consent as the
//! signed-in user, 302 to the redirect URI), `POST /devicecode`, and `POST /introspect` (RFC 7662,
//! also on a plain-HTTP port for Dovecot's passdb oauth2, see `Idp::start_with_introspection`).
//!
//! Rotation, as the crash test of #9 needs it: with rotation on (Microsoft's default) every
//! refresh returns a new refresh token and only the latest is accepted, except that the one
//! before it is accepted once while the latest was never presented (a client that crashed after
//! the server issued a token and before it stored it). Every presentation of a refresh token is
//! logged per grant (`presented`), and a non-latest one counts in `stale_presentations`.
//!
//! Nothing here panics on what a client sends: a malformed request gets 400 with an RFC 6749
//! body. Tokens are opaque random strings; none is ever printed by this module.
#![allow(dead_code)] // each test file uses its own part

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The client every `Idp` knows from the start: public (no secret), like a desktop app.
pub const CLIENT_ID: &str = "mailbeat-test-client";
/// The key of the id_tokens' HS256 signature (tests may verify it; nothing else relies on it).
pub const ID_TOKEN_KEY: &[u8] = b"mailbeat-test-idp-id-token-key";
/// The grant type of RFC 8628.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

const MAX_BODY: usize = 64 * 1024;
const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// A poll this much earlier than the interval still counts as on time (network jitter).
const POLL_TOLERANCE: Duration = Duration::from_millis(250);

/// Which provider the server imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Google,
    Microsoft,
}

impl Flavor {
    /// The mail scope a seeded grant carries.
    pub fn mail_scope(self) -> &'static str {
        match self {
            Flavor::Google => "https://mail.google.com/",
            Flavor::Microsoft => {
                "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access"
            }
        }
    }
}

/// What `Idp::grant` seeded: the tokens a test hands to the agent.
#[derive(Clone, Debug)]
pub struct SeededGrant {
    pub refresh_token: String,
    pub access_token: String,
}

/// A scripted answer for the next token request (`Idp::respond_next`), in place of what the
/// server would have said. The named constructors carry the providers' real bodies.
#[derive(Clone, Debug)]
pub enum Answer {
    Raw {
        status: u16,
        content_type: String,
        body: String,
    },
    /// Like `Raw`, with any headers (`Content-Type` among them when wanted).
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Read the request, then never answer (until the `Idp` is dropped).
    Hang,
}

/// A scripted answer to the next device-flow polls (`Idp::device_script`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevicePoll {
    Pending,
    SlowDown,
}

/// How a refresh token fared when presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presented {
    /// The latest refresh token of its grant: accepted.
    Latest,
    /// The one before the latest, accepted once because the latest was never presented.
    StaleAccepted,
    /// An older one, or the previous one a second time: refused with `invalid_grant`.
    StaleRefused,
    /// The grant was revoked (`Idp::revoke`): refused.
    Revoked,
    /// Older than `refresh_token_expires_in`: refused.
    Expired,
    /// A scripted answer (`respond_next`) was given instead; the grant did not change.
    Scripted,
}

/// One presentation of a refresh token of a grant.
#[derive(Clone, Debug)]
pub struct Presentation {
    pub at: Instant,
    pub token: String,
    pub outcome: Presented,
}

/// One request the server read, with the status it answered (0: none, a `Hang`).
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    /// The refresh token presented (grant type `refresh_token`).
    pub refresh_token: Option<String>,
    pub status: u16,
}

/// One poll of the device flow's token request.
#[derive(Clone, Debug)]
pub struct DevicePollRecord {
    pub at: Instant,
    pub user_code: String,
    /// `authorization_pending`, `slow_down`, `expired_token`, `access_denied`,
    /// `authorization_declined`, `invalid_grant` or `success`.
    pub answer: String,
}

// ---------------------------------------------------------------------------------------------
// State

struct Grant {
    email: String,
    client_id: String,
    scope: String,
    current: String,
    current_issued: SystemTime,
    current_presented: bool,
    previous: Option<String>,
    previous_grace_used: bool,
    history: Vec<String>,
    revoked: bool,
    presented: Vec<Presentation>,
}

struct Access {
    email: String,
    grant: usize,
    client_id: String,
    scope: String,
    issued: SystemTime,
    expires: SystemTime,
    dead: bool,
}

struct Code {
    email: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    created: Instant,
    used: bool,
}

#[derive(PartialEq, Eq)]
enum DeviceState {
    Pending,
    Approved(String),
    Denied,
    Consumed,
}

struct Device {
    device_code: String,
    user_code: String,
    client_id: String,
    scope: String,
    created: Instant,
    expires_in: Duration,
    interval: Duration,
    last_poll: Option<Instant>,
    state: DeviceState,
}

type Hook = Box<dyn FnOnce() + Send>;

struct State {
    flavor: Flavor,
    issuer: String,
    clients: HashMap<String, Option<String>>,
    grants: Vec<Grant>,
    access: HashMap<String, Access>,
    access_lifetime: Duration,
    refresh_lifetime: Option<Duration>,
    rotation: bool,
    queued: VecDeque<Answer>,
    hook: Option<Hook>,
    signed_in: Option<String>,
    codes: HashMap<String, Code>,
    devices: Vec<Device>,
    device_expires_in: Duration,
    device_interval: Duration,
    device_script: VecDeque<DevicePoll>,
    device_polls: Vec<DevicePollRecord>,
    log: Vec<LoggedRequest>,
    stale: u64,
    refreshes: u64,
    refresh_attempts: u64,
    pkce_verified: u64,
    introspections: u64,
    authorizations: u64,
    random: Random,
}

/// Opaque random strings without a new dependency: SHA-256 over a per-process random seed (the
/// std hasher's keys), a counter and the clock.
struct Random {
    seed: [u8; 16],
    counter: u64,
}

impl Random {
    fn new() -> Random {
        use std::hash::{BuildHasher, Hasher};
        let mut seed = [0u8; 16];
        for chunk in seed.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
        Random { seed, counter: 0 }
    }

    fn bytes(&mut self) -> [u8; 32] {
        self.counter += 1;
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.counter.to_le_bytes());
        h.update(format!("{:?}", Instant::now()).as_bytes());
        h.finalize().into()
    }

    fn token(&mut self, prefix: &str) -> String {
        format!("{prefix}{}", b64url(&self.bytes()))
    }

    fn uuid(&mut self) -> String {
        uuid_of(&self.bytes())
    }

    /// `XXXX-XXXX`, letters without look-alikes (like Google's and Microsoft's user codes).
    fn user_code(&mut self) -> String {
        const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
        let b = self.bytes();
        let mut s = String::new();
        for (i, byte) in b.iter().take(8).enumerate() {
            if i == 4 {
                s.push('-');
            }
            s.push(ALPHABET[*byte as usize % ALPHABET.len()] as char);
        }
        s
    }
}

fn uuid_of(b: &[u8]) -> String {
    let h: String = b.iter().take(16).map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------------
// The server handle

/// The running server. Dropping it stops the server (a hanging answer is dropped with it).
pub struct Idp {
    state: Arc<Mutex<State>>,
    flavor: Flavor,
    port: u16,
    introspection_port: Option<u16>,
    ca_file: PathBuf,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Idp {
    /// HTTPS on a free port of 127.0.0.1.
    pub fn start(flavor: Flavor) -> Idp {
        Idp::launch(flavor, None)
    }

    /// Also plain HTTP on 127.0.0.1:`port` for `POST /introspect` (Dovecot's passdb oauth2 of
    /// the harness asks `MAILBEAT_IDP_INTROSPECT_PORT`). The port is fixed, so tests that use it
    /// must not run at once; a port still held by a previous server is retried for 10 s.
    pub fn start_with_introspection(flavor: Flavor, port: u16) -> Idp {
        Idp::launch(flavor, Some(port))
    }

    fn launch(flavor: Flavor, introspection_port: Option<u16>) -> Idp {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("temporary directory for the IdP's CA");
        let (ca_pem, tls) = tls_config();
        let ca_file = dir.path().join("idp-ca.pem");
        std::fs::write(&ca_file, ca_pem).expect("write the IdP's CA");

        let state = Arc::new(Mutex::new(State {
            flavor,
            issuer: String::new(),
            clients: HashMap::from([(CLIENT_ID.to_string(), None)]),
            grants: Vec::new(),
            access: HashMap::new(),
            access_lifetime: Duration::from_secs(3600),
            refresh_lifetime: None,
            rotation: flavor == Flavor::Microsoft,
            queued: VecDeque::new(),
            hook: None,
            signed_in: None,
            codes: HashMap::new(),
            devices: Vec::new(),
            device_expires_in: Duration::from_secs(match flavor {
                Flavor::Google => 1800,
                Flavor::Microsoft => 900,
            }),
            device_interval: Duration::from_secs(5),
            device_script: VecDeque::new(),
            device_polls: Vec::new(),
            log: Vec::new(),
            stale: 0,
            refreshes: 0,
            refresh_attempts: 0,
            pkce_verified: 0,
            introspections: 0,
            authorizations: 0,
            random: Random::new(),
        }));

        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<u16, String>>();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name("test-idp".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("runtime: {e}")));
                        return;
                    }
                };
                rt.block_on(serve(
                    thread_state,
                    tls,
                    introspection_port,
                    ready_tx,
                    stop_rx,
                ));
                rt.shutdown_timeout(Duration::from_secs(2));
            })
            .expect("spawn the IdP thread");
        let port = match ready_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(port)) => port,
            Ok(Err(e)) => panic!("the test IdP did not start: {e}"),
            Err(e) => panic!("the test IdP did not start: {e}"),
        };
        lock(&state).issuer = format!("https://127.0.0.1:{port}");
        Idp {
            state,
            flavor,
            port,
            introspection_port,
            ca_file,
            _dir: dir,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url())
    }

    pub fn authorization_url(&self) -> String {
        format!("{}/authorize", self.url())
    }

    pub fn device_authorization_url(&self) -> String {
        format!("{}/devicecode", self.url())
    }

    /// The plain-HTTP introspection URL, when started with one.
    pub fn introspection_url(&self) -> Option<String> {
        self.introspection_port
            .map(|p| format!("http://127.0.0.1:{p}/introspect"))
    }

    /// The PEM of the server's CA, for `account.oauth.ca_file`.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Registers a client; with a secret, requests must present it (form or HTTP Basic).
    pub fn register_client(&self, client_id: &str, secret: Option<&str>) {
        self.state()
            .clients
            .insert(client_id.to_string(), secret.map(str::to_string));
    }

    /// Seeds a grant of `CLIENT_ID` for `email` with the flavor's mail scope.
    pub fn grant(&self, email: &str) -> SeededGrant {
        let scope = self.flavor.mail_scope().to_string();
        self.grant_for(CLIENT_ID, email, &scope)
    }

    /// Seeds a grant of a client for `email` with `scope` (space-separated).
    pub fn grant_for(&self, client_id: &str, email: &str, scope: &str) -> SeededGrant {
        let mut s = self.state();
        let gi = s.new_grant(email, client_id, scope);
        let access_token = s.new_access(gi);
        SeededGrant {
            refresh_token: s.grants[gi].current.clone(),
            access_token,
        }
    }

    /// Lifetime of the access tokens issued from now on (default 3600 s; 2 s works).
    pub fn set_access_token_lifetime(&self, lifetime: Duration) {
        self.state().access_lifetime = lifetime.max(Duration::from_secs(1));
    }

    /// With `Some`, answers carry `refresh_token_expires_in` and a refresh token older than that
    /// (since it was issued) is refused as expired.
    pub fn set_refresh_token_expires_in(&self, lifetime: Option<Duration>) {
        self.state().refresh_lifetime = lifetime;
    }

    /// Every access token issued so far is dead (introspection says `active: false`).
    pub fn expire_access_tokens(&self) {
        for a in self.state().access.values_mut() {
            a.dead = true;
        }
    }

    /// Revokes every grant of `email`: its refresh and access tokens are dead, and a refresh
    /// gets the flavor's revoked body.
    pub fn revoke(&self, email: &str) {
        let mut s = self.state();
        for g in s.grants.iter_mut().filter(|g| g.email == email) {
            g.revoked = true;
        }
        for a in s.access.values_mut().filter(|a| a.email == email) {
            a.dead = true;
        }
    }

    /// Whether a refresh returns a new refresh token (Microsoft: true, Google: false).
    pub fn set_rotation(&self, on: bool) {
        self.state().rotation = on;
    }

    /// Presentations of a non-latest refresh token, accepted under the grace or refused.
    pub fn stale_presentations(&self) -> u64 {
        self.state().stale
    }

    /// Refresh-token grants answered with tokens.
    pub fn refreshes(&self) -> u64 {
        self.state().refreshes
    }

    /// Refresh-token grant requests received, whatever their answer (scripted ones included).
    pub fn refresh_attempts(&self) -> u64 {
        self.state().refresh_attempts
    }

    /// Every presentation of a refresh token of `email`'s grants, in order.
    pub fn presented(&self, email: &str) -> Vec<Presentation> {
        let s = self.state();
        let mut all: Vec<Presentation> = s
            .grants
            .iter()
            .filter(|g| g.email == email)
            .flat_map(|g| g.presented.iter().cloned())
            .collect();
        all.sort_by_key(|p| p.at);
        all
    }

    /// The refresh tokens presented for `email`, in order.
    pub fn presented_tokens(&self, email: &str) -> Vec<String> {
        self.presented(email).into_iter().map(|p| p.token).collect()
    }

    /// The latest refresh token of `email`'s newest grant.
    pub fn latest_refresh_token(&self, email: &str) -> Option<String> {
        let s = self.state();
        s.grants
            .iter()
            .rev()
            .find(|g| g.email == email)
            .map(|g| g.current.clone())
    }

    /// Runs once, after the next token answer's state is committed (with rotation, the new
    /// refresh token is the latest) and before that answer is written: a test kills the agent
    /// there. It runs on a blocking thread of the server; the answer waits for it.
    pub fn on_next_issue(&self, hook: Box<dyn FnOnce() + Send>) {
        self.state().hook = Some(hook);
    }

    /// Queues an answer for the next token request (`POST /token`), in place of the normal one.
    pub fn respond_next(&self, answer: Answer) {
        self.state().queued.push_back(answer);
    }

    /// The user `/authorize` signs in as (default: the request's `login_hint`).
    pub fn set_signed_in(&self, email: &str) {
        self.state().signed_in = Some(email.to_string());
    }

    /// Token exchanges whose PKCE S256 verifier matched.
    pub fn pkce_verified(&self) -> u64 {
        self.state().pkce_verified
    }

    /// `/authorize` requests answered with a code.
    pub fn authorizations(&self) -> u64 {
        self.state().authorizations
    }

    /// `expires_in` of the device codes issued from now on.
    pub fn set_device_expires_in(&self, d: Duration) {
        self.state().device_expires_in = d;
    }

    /// `interval` of the device codes issued from now on (default 5 s).
    pub fn set_device_interval(&self, d: Duration) {
        self.state().device_interval = d;
    }

    /// The user approves the device code `user_code` as `email`; false if there is none.
    pub fn approve_device(&self, user_code: &str, email: &str) -> bool {
        let mut s = self.state();
        match s
            .devices
            .iter_mut()
            .find(|d| d.user_code == user_code && d.state == DeviceState::Pending)
        {
            Some(d) => {
                d.state = DeviceState::Approved(email.to_string());
                true
            }
            None => false,
        }
    }

    /// The user denies the device code `user_code`; false if there is none.
    pub fn deny_device(&self, user_code: &str) -> bool {
        let mut s = self.state();
        match s
            .devices
            .iter_mut()
            .find(|d| d.user_code == user_code && d.state == DeviceState::Pending)
        {
            Some(d) => {
                d.state = DeviceState::Denied;
                true
            }
            None => false,
        }
    }

    /// Answers for the next device-flow polls, before anything else (approval included).
    /// A scripted `SlowDown` raises the code's interval by 5 s like a real one.
    pub fn device_script(&self, polls: Vec<DevicePoll>) {
        self.state().device_script.extend(polls);
    }

    /// Every device-flow poll, in order.
    pub fn device_polls(&self) -> Vec<DevicePollRecord> {
        self.state().device_polls.clone()
    }

    /// The user code of the latest device code issued.
    pub fn last_user_code(&self) -> Option<String> {
        self.state().devices.last().map(|d| d.user_code.clone())
    }

    /// Introspection requests answered (both listeners).
    pub fn introspections(&self) -> u64 {
        self.state().introspections
    }

    /// What introspection would say of `token` now.
    pub fn access_token_active(&self, token: &str) -> bool {
        self.state().active(token).is_some()
    }

    /// Every access token issued so far (a test looks for them where they must not be).
    pub fn issued_access_tokens(&self) -> Vec<String> {
        self.state().access.keys().cloned().collect()
    }

    /// Every request read, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state().log.clone()
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TLS: a CA and a server certificate for 127.0.0.1 and localhost, made at start.

fn tls_config() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.distinguished_name
        .push(DnType::CommonName, "mailbeat test IdP CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
        .expect("self-signed CA");
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server params");
    leaf.distinguished_name
        .push(DnType::CommonName, "mailbeat test IdP");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("server key");
    let cert = leaf.signed_by(&key, &issuer).expect("server certificate");
    let chain = vec![cert.der().clone()];
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .expect("server certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (issuer.pem(), Arc::new(config))
}

// ---------------------------------------------------------------------------------------------
// Serving

async fn serve(
    state: Arc<Mutex<State>>,
    tls: Arc<rustls::ServerConfig>,
    introspection_port: Option<u16>,
    ready: std::sync::mpsc::Sender<Result<u16, String>>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let https = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(format!("bind 127.0.0.1:0: {e}")));
            return;
        }
    };
    let port = https.local_addr().map(|a| a.port()).unwrap_or(0);
    let plain = match introspection_port {
        None => None,
        Some(p) => {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match tokio::net::TcpListener::bind(("127.0.0.1", p)).await {
                    Ok(l) => break Some(l),
                    Err(e) if Instant::now() >= deadline => {
                        let _ = ready.send(Err(format!("bind 127.0.0.1:{p}: {e}")));
                        return;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
    };
    let _ = ready.send(Ok(port));

    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let tls_loop = {
        let state = state.clone();
        let mut stop = stop.clone();
        async move {
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    accepted = https.accept() => {
                        let Ok((tcp, peer)) = accepted else { continue };
                        let acceptor = acceptor.clone();
                        let state = state.clone();
                        tokio::spawn(async move {
                            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await;
                            if let Ok(Ok(stream)) = handshake {
                                serve_connection(state, stream, peer, true).await;
                            }
                        });
                    }
                }
            }
        }
    };
    let plain_loop = {
        let mut stop = stop.clone();
        async move {
            let Some(listener) = plain else { return };
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    accepted = listener.accept() => {
                        let Ok((tcp, peer)) = accepted else { continue };
                        let state = state.clone();
                        tokio::spawn(serve_connection(state, tcp, peer, false));
                    }
                }
            }
        }
    };
    tokio::join!(tls_loop, plain_loop);
}

async fn serve_connection<S>(state: Arc<Mutex<State>>, stream: S, _peer: SocketAddr, tls: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let state = state.clone();
        async move {
            use futures::FutureExt as _;
            // A bug of this server answers 500 instead of dropping the connection.
            let answer = std::panic::AssertUnwindSafe(handle(state, req, tls))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    respond(Answer::Raw {
                        status: 500,
                        content_type: "text/plain".into(),
                        body: "the test IdP panicked (a bug of agent/tests/support/idp.rs)".into(),
                    })
                });
            Ok::<_, Infallible>(answer)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// What a handler decided: an answer to write, or none ever.
enum Outcome {
    Answer(Answer),
    Hang,
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
    tls: bool,
) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let basic = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials);
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let flavor = lock(&state).flavor;
            let a = rfc_error(
                flavor,
                400,
                "invalid_request",
                "The request body is too large or unreadable.",
            );
            log(&state, &method, &path, None, None, None, &a);
            return respond(a);
        }
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let param = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let grant_type = param("grant_type");
    let client_id = param("client_id").or_else(|| basic.as_ref().map(|b| b.0.clone()));
    let refresh_token = match grant_type.as_deref() {
        Some("refresh_token") => param("refresh_token"),
        _ => None,
    };

    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    let outcome = match (method.as_str(), path.as_str()) {
        ("POST", "/introspect") => Outcome::Answer(introspect(&state, param("token"))),
        (_, "/introspect") => Outcome::Answer(method_not_allowed(&state)),
        _ if !tls => Outcome::Answer(not_found(&state)),
        ("POST", "/token") if !is_form => {
            let flavor = lock(&state).flavor;
            Outcome::Answer(rfc_error(
                flavor,
                400,
                "invalid_request",
                "The request must be application/x-www-form-urlencoded.",
            ))
        }
        ("POST", "/token") => {
            let queued = lock(&state).queued.pop_front();
            match queued {
                Some(answer) => {
                    let mut s = lock(&state);
                    if grant_type.as_deref() == Some("refresh_token") {
                        s.refresh_attempts += 1;
                        if let Some(rt) = &refresh_token {
                            s.note_presented(rt, Presented::Scripted);
                        }
                    }
                    match answer {
                        Answer::Hang => Outcome::Hang,
                        a => Outcome::Answer(a),
                    }
                }
                None => {
                    let secret =
                        param("client_secret").or_else(|| basic.as_ref().map(|b| b.1.clone()));
                    let (answer, issued) = token(
                        &state,
                        grant_type.as_deref(),
                        client_id.as_deref(),
                        secret.as_deref(),
                        &param,
                    );
                    if issued {
                        let hook = lock(&state).hook.take();
                        if let Some(hook) = hook {
                            let _ = tokio::task::spawn_blocking(hook).await;
                        }
                    }
                    Outcome::Answer(answer)
                }
            }
        }
        ("POST", "/devicecode") if is_form => {
            Outcome::Answer(device_code(&state, client_id.as_deref(), param("scope")))
        }
        ("POST", "/devicecode") => {
            let flavor = lock(&state).flavor;
            Outcome::Answer(rfc_error(
                flavor,
                400,
                "invalid_request",
                "The request must be application/x-www-form-urlencoded.",
            ))
        }
        ("GET", "/authorize") => Outcome::Answer(authorize(&state, &query)),
        (_, "/token" | "/devicecode" | "/authorize") => Outcome::Answer(method_not_allowed(&state)),
        _ => Outcome::Answer(not_found(&state)),
    };
    match outcome {
        Outcome::Answer(a) => {
            log(
                &state,
                &method,
                &path,
                grant_type,
                client_id,
                refresh_token,
                &a,
            );
            respond(a)
        }
        Outcome::Hang => {
            log(
                &state,
                &method,
                &path,
                grant_type,
                client_id,
                refresh_token,
                &Answer::Hang,
            );
            let () = std::future::pending().await;
            respond(Answer::Hang)
        }
    }
}

fn log(
    state: &Mutex<State>,
    method: &str,
    path: &str,
    grant_type: Option<String>,
    client_id: Option<String>,
    refresh_token: Option<String>,
    answer: &Answer,
) {
    let status = match answer {
        Answer::Raw { status, .. } | Answer::Full { status, .. } => *status,
        Answer::Hang => 0,
    };
    lock(state).log.push(LoggedRequest {
        at: Instant::now(),
        method: method.to_string(),
        path: path.to_string(),
        grant_type,
        client_id,
        refresh_token,
        status,
    });
}

fn respond(answer: Answer) -> Response<Full<Bytes>> {
    let (status, headers, body) = match answer {
        Answer::Raw {
            status,
            content_type,
            body,
        } => (
            status,
            vec![("Content-Type".to_string(), content_type)],
            body,
        ),
        Answer::Full {
            status,
            headers,
            body,
        } => (status, headers, body),
        Answer::Hang => (500, Vec::new(), String::new()),
    };
    let mut b = Response::builder().status(status);
    for (n, v) in &headers {
        b = b.header(n.as_str(), v.as_str());
    }
    b.header("Cache-Control", "no-store")
        .header("Pragma", "no-cache")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| {
            let mut r = Response::new(Full::new(Bytes::from_static(b"bad scripted answer")));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((decode(id), decode(secret)))
}

fn not_found(state: &Mutex<State>) -> Answer {
    let flavor = lock(state).flavor;
    rfc_error(flavor, 404, "invalid_request", "Not found.")
}

fn method_not_allowed(state: &Mutex<State>) -> Answer {
    let flavor = lock(state).flavor;
    rfc_error(flavor, 405, "invalid_request", "Method not allowed.")
}

// ---------------------------------------------------------------------------------------------
// State operations

impl State {
    fn new_grant(&mut self, email: &str, client_id: &str, scope: &str) -> usize {
        let rt = self.new_refresh_token();
        self.grants.push(Grant {
            email: email.to_string(),
            client_id: client_id.to_string(),
            scope: scope.to_string(),
            current: rt.clone(),
            current_issued: SystemTime::now(),
            current_presented: false,
            previous: None,
            previous_grace_used: false,
            history: vec![rt],
            revoked: false,
            presented: Vec::new(),
        });
        self.grants.len() - 1
    }

    fn new_refresh_token(&mut self) -> String {
        let prefix = match self.flavor {
            Flavor::Google => "1//0g",
            Flavor::Microsoft => "M.C5",
        };
        self.random.token(prefix)
    }

    fn new_access(&mut self, grant: usize) -> String {
        let prefix = match self.flavor {
            Flavor::Google => "ya29.a0",
            Flavor::Microsoft => "EwB4A",
        };
        let token = self.random.token(prefix);
        let now = SystemTime::now();
        let g = &self.grants[grant];
        self.access.insert(
            token.clone(),
            Access {
                email: g.email.clone(),
                grant,
                client_id: g.client_id.clone(),
                scope: g.scope.clone(),
                issued: now,
                expires: now + self.access_lifetime,
                dead: false,
            },
        );
        token
    }

    /// The live access token's record.
    fn active(&self, token: &str) -> Option<&Access> {
        let a = self.access.get(token)?;
        let live = !a.dead && SystemTime::now() < a.expires && !self.grants[a.grant].revoked;
        live.then_some(a)
    }

    fn note_presented(&mut self, token: &str, outcome: Presented) {
        if let Some(g) = self
            .grants
            .iter_mut()
            .find(|g| g.history.iter().any(|t| t == token))
        {
            g.presented.push(Presentation {
                at: Instant::now(),
                token: token.to_string(),
                outcome,
            });
        }
    }

    /// The token answer for `grant` (a new access token; with `rotate`, a new refresh token
    /// that becomes the latest). `with_refresh`: include the (new or current) refresh token.
    fn issue(
        &mut self,
        grant: usize,
        rotate: bool,
        with_refresh: bool,
        scope: Option<String>,
    ) -> Answer {
        let access = self.new_access(grant);
        if rotate {
            let new = self.new_refresh_token();
            let g = &mut self.grants[grant];
            g.history.push(new.clone());
            g.current = new;
            g.current_issued = SystemTime::now();
            g.current_presented = false;
        }
        let g = &self.grants[grant];
        let scope = scope.unwrap_or_else(|| g.scope.clone());
        let refresh = (rotate || with_refresh).then(|| g.current.clone());
        let id_token = scope
            .split_whitespace()
            .any(|s| s == "openid")
            .then(|| self.id_token(grant));
        let secs = self.access_lifetime.as_secs().max(1);
        let refresh_expires = self.refresh_lifetime.map(|d| {
            let issued = self.grants[grant].current_issued;
            let left = (issued + d)
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            left.as_secs()
        });
        let mut fields: Vec<(&str, Value)> = Vec::new();
        match self.flavor {
            Flavor::Google => {
                fields.push(("access_token", json!(access)));
                fields.push(("expires_in", json!(secs)));
                if let Some(r) = &refresh {
                    fields.push(("refresh_token", json!(r)));
                }
                if let Some(e) = refresh_expires {
                    fields.push(("refresh_token_expires_in", json!(e)));
                }
                fields.push(("scope", json!(scope)));
                fields.push(("token_type", json!("Bearer")));
                if let Some(t) = &id_token {
                    fields.push(("id_token", json!(t)));
                }
                json_answer(self.flavor, 200, &fields)
            }
            Flavor::Microsoft => {
                fields.push(("token_type", json!("Bearer")));
                fields.push(("scope", json!(scope)));
                fields.push(("expires_in", json!(secs)));
                fields.push(("ext_expires_in", json!(secs)));
                fields.push(("access_token", json!(access)));
                if let Some(r) = &refresh {
                    fields.push(("refresh_token", json!(r)));
                }
                if let Some(e) = refresh_expires {
                    fields.push(("refresh_token_expires_in", json!(e)));
                }
                if let Some(t) = &id_token {
                    fields.push(("id_token", json!(t)));
                }
                json_answer(self.flavor, 200, &fields)
            }
        }
    }

    /// An OpenID Connect id_token (HS256 over `ID_TOKEN_KEY`).
    fn id_token(&mut self, grant: usize) -> String {
        let g = &self.grants[grant];
        let now = unix(SystemTime::now());
        let sub = {
            let h = Sha256::digest(g.email.as_bytes());
            h.iter()
                .take(10)
                .map(|b| format!("{b:02}"))
                .collect::<String>()
        };
        let header = json!({"alg": "HS256", "typ": "JWT"});
        let payload = json!({
            "iss": self.issuer,
            "aud": g.client_id,
            "sub": sub,
            "email": g.email,
            "email_verified": true,
            "preferred_username": g.email,
            "name": g.email.split('@').next().unwrap_or(""),
            "iat": now,
            "exp": now + 3600,
        });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(payload.to_string().as_bytes())
        );
        let sig = hmac_sha256(ID_TOKEN_KEY, signing_input.as_bytes());
        format!("{signing_input}.{}", b64url(&sig))
    }

    fn client_ok(&self, client_id: Option<&str>, secret: Option<&str>) -> Result<String, Answer> {
        let flavor = self.flavor;
        let Some(id) = client_id.filter(|c| !c.is_empty()) else {
            return Err(match flavor {
                Flavor::Google => google(400, "invalid_request", "Could not determine client ID from request."),
                Flavor::Microsoft => microsoft(
                    400,
                    "invalid_request",
                    900144,
                    "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
                    &[],
                ),
            });
        };
        match self.clients.get(id) {
            None => Err(match flavor {
                // tarickb/sasl-xoauth2 and email-oauth2-proxy #362 quote it.
                Flavor::Google => google(401, "invalid_client", "The OAuth client was not found."),
                Flavor::Microsoft => microsoft(
                    400,
                    "unauthorized_client",
                    700016,
                    &format!("AADSTS700016: Application with identifier '{id}' was not found in the directory 'mail.test'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."),
                    &[],
                ),
            }),
            Some(None) => Ok(id.to_string()),
            Some(Some(expected)) => match secret {
                Some(s) if s == expected => Ok(id.to_string()),
                None | Some("") => Err(match flavor {
                    Flavor::Google => google(400, "invalid_request", "client_secret is missing."),
                    Flavor::Microsoft => microsoft(
                        401,
                        "invalid_client",
                        7000218,
                        "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                        &[],
                    ),
                }),
                Some(_) => Err(match flavor {
                    Flavor::Google => google(401, "invalid_client", "Unauthorized"),
                    Flavor::Microsoft => Answer::microsoft_aadsts(7000215),
                }),
            },
        }
    }
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// `BASE64URL(SHA256(verifier))`, the S256 challenge of RFC 7636.
pub fn s256_challenge(verifier: &str) -> String {
    b64url(&Sha256::digest(verifier.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// POST /token

/// The answer, and whether it issued tokens (the crash hook runs then).
fn token(
    state: &Mutex<State>,
    grant_type: Option<&str>,
    client_id: Option<&str>,
    secret: Option<&str>,
    param: &dyn Fn(&str) -> Option<String>,
) -> (Answer, bool) {
    let mut s = lock(state);
    let flavor = s.flavor;
    if grant_type == Some("refresh_token") {
        s.refresh_attempts += 1;
    }
    let client = match s.client_ok(client_id, secret) {
        Ok(c) => c,
        Err(a) => return (a, false),
    };
    match grant_type {
        Some("refresh_token") => refresh(&mut s, &client, param("refresh_token"), param("scope")),
        Some("authorization_code") => exchange_code(&mut s, &client, param),
        Some(DEVICE_GRANT) => poll_device(&mut s, &client, param("device_code")),
        None | Some("") => (
            match flavor {
                Flavor::Google => google(400, "unsupported_grant_type", "Invalid grant_type: "),
                Flavor::Microsoft => microsoft(
                    400,
                    "invalid_request",
                    900144,
                    "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
                    &[],
                ),
            },
            false,
        ),
        Some(other) => (
            match flavor {
                Flavor::Google => google(400, "unsupported_grant_type", &format!("Invalid grant_type: {other}")),
                Flavor::Microsoft => microsoft(
                    400,
                    "unsupported_grant_type",
                    70003,
                    "AADSTS70003: The app requested an unsupported grant type.",
                    &[],
                ),
            },
            false,
        ),
    }
}

fn refresh(
    s: &mut State,
    client: &str,
    token: Option<String>,
    scope: Option<String>,
) -> (Answer, bool) {
    let flavor = s.flavor;
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return (
            match flavor {
                Flavor::Google => google(400, "invalid_request", "Missing required parameter: refresh_token"),
                Flavor::Microsoft => microsoft(
                    400,
                    "invalid_request",
                    900144,
                    "AADSTS900144: The request body must contain the following parameter: 'refresh_token'.",
                    &[],
                ),
            },
            false,
        );
    };
    let Some(gi) = s.grants.iter().position(|g| g.history.contains(&token)) else {
        return (unknown_refresh_token(flavor), false);
    };
    let now = Instant::now();
    let present = |s: &mut State, outcome: Presented| {
        s.grants[gi].presented.push(Presentation {
            at: now,
            token: token.clone(),
            outcome,
        })
    };
    if s.grants[gi].client_id != client {
        present(s, Presented::StaleRefused);
        return (unknown_refresh_token(flavor), false);
    }
    if s.grants[gi].revoked {
        present(s, Presented::Revoked);
        return (revoked(flavor, s.grants[gi].current_issued), false);
    }
    let g = &s.grants[gi];
    let outcome = if token == g.current {
        let expired = s
            .refresh_lifetime
            .is_some_and(|d| SystemTime::now() > g.current_issued + d);
        if expired {
            Presented::Expired
        } else {
            Presented::Latest
        }
    } else if g.previous.as_deref() == Some(token.as_str())
        && !g.current_presented
        && !g.previous_grace_used
    {
        Presented::StaleAccepted
    } else {
        Presented::StaleRefused
    };
    present(s, outcome);
    match outcome {
        Presented::Expired => {
            let issued = s.grants[gi].current_issued;
            (expired(flavor, issued), false)
        }
        Presented::StaleRefused => {
            s.stale += 1;
            (stale_refused(flavor), false)
        }
        Presented::Latest | Presented::StaleAccepted => {
            let grace = outcome == Presented::StaleAccepted;
            if grace {
                s.stale += 1;
            }
            let rotate = s.rotation;
            {
                let g = &mut s.grants[gi];
                if grace {
                    // The undelivered latest dies with the rotation below; the presented one
                    // stays the previous, but its grace is spent.
                    g.previous_grace_used = true;
                } else {
                    g.current_presented = true;
                }
                if rotate {
                    g.previous = Some(token.clone());
                    if !grace {
                        g.previous_grace_used = false;
                    }
                }
            }
            s.refreshes += 1;
            (s.issue(gi, rotate, false, scope), true)
        }
        Presented::Revoked | Presented::Scripted => (stale_refused(flavor), false),
    }
}

fn unknown_refresh_token(flavor: Flavor) -> Answer {
    match flavor {
        // The answer to a refresh token Google never issued.
        Flavor::Google => google(400, "invalid_grant", "Bad Request"),
        // davidjrh/dnn.azureadprovider #112.
        Flavor::Microsoft => microsoft(
            400,
            "invalid_grant",
            9002313,
            "AADSTS9002313: Invalid request. Request is malformed or invalid.",
            &[],
        ),
    }
}

fn stale_refused(flavor: Flavor) -> Answer {
    match flavor {
        Flavor::Google => Answer::google_expired_or_revoked(),
        // BingAds/BingAds-Python-SDK #279.
        Flavor::Microsoft => microsoft(
            400,
            "invalid_grant",
            70000,
            "AADSTS70000: The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.",
            &[],
        ),
    }
}

fn revoked(flavor: Flavor, issued: SystemTime) -> Answer {
    match flavor {
        Flavor::Google => Answer::google_expired_or_revoked(),
        Flavor::Microsoft => aadsts_at(50173, issued),
    }
}

fn expired(flavor: Flavor, issued: SystemTime) -> Answer {
    match flavor {
        Flavor::Google => Answer::google_expired_or_revoked(),
        Flavor::Microsoft => aadsts_at(700082, issued),
    }
}

fn exchange_code(
    s: &mut State,
    client: &str,
    param: &dyn Fn(&str) -> Option<String>,
) -> (Answer, bool) {
    let flavor = s.flavor;
    let missing = |name: &str| match flavor {
        Flavor::Google => google(
            400,
            "invalid_request",
            &format!("Missing required parameter: {name}"),
        ),
        Flavor::Microsoft => microsoft(
            400,
            "invalid_request",
            900144,
            &format!(
                "AADSTS900144: The request body must contain the following parameter: '{name}'."
            ),
            &[],
        ),
    };
    let Some(code) = param("code").filter(|c| !c.is_empty()) else {
        return (missing("code"), false);
    };
    let bad_code = match flavor {
        Flavor::Google => google(400, "invalid_grant", "Bad Request"),
        // shubhamdipt/django-microsoft-authentication #15, snok/django-auth-adfs #245.
        Flavor::Microsoft => microsoft(
            400,
            "invalid_grant",
            54005,
            "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            &[],
        ),
    };
    let Some(c) = s.codes.get_mut(&code) else {
        return (bad_code, false);
    };
    if c.used || c.created.elapsed() > CODE_LIFETIME || c.client_id != client {
        return (bad_code, false);
    }
    if param("redirect_uri").as_deref() != Some(c.redirect_uri.as_str()) {
        return (
            match flavor {
                Flavor::Google => google(400, "redirect_uri_mismatch", "Bad Request"),
                Flavor::Microsoft => microsoft(
                    400,
                    "invalid_grant",
                    70000,
                    "AADSTS70000: The provided value for the 'redirect_uri' is not valid. The value must exactly match the redirect URI used to obtain the authorization code.",
                    &[],
                ),
            },
            false,
        );
    }
    let Some(verifier) = param("code_verifier").filter(|v| !v.is_empty()) else {
        return (
            match flavor {
                Flavor::Google => google(400, "invalid_grant", "Missing code verifier."),
                Flavor::Microsoft => missing("code_verifier"),
            },
            false,
        );
    };
    if s256_challenge(&verifier) != c.challenge {
        return (
            match flavor {
                Flavor::Google => google(400, "invalid_grant", "Invalid code verifier."),
                Flavor::Microsoft => microsoft(
                    400,
                    "invalid_grant",
                    501481,
                    "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                    &[],
                ),
            },
            false,
        );
    }
    c.used = true;
    let (email, scope) = (c.email.clone(), c.scope.clone());
    s.pkce_verified += 1;
    let gi = s.new_grant(&email, client, &scope);
    (s.issue(gi, false, true, None), true)
}

// ---------------------------------------------------------------------------------------------
// GET /authorize

fn authorize(state: &Mutex<State>, query: &str) -> Answer {
    let q: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |n: &str| q.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let mut s = lock(state);
    let flavor = s.flavor;
    let client_id = get("client_id").unwrap_or_default();
    if !s.clients.contains_key(&client_id) {
        // No redirect to an unverified client (RFC 6749 §4.1.2.1): an error page.
        return html(400, "<html><body><h1>Error 400: invalid_client</h1><p>The OAuth client was not found.</p></body></html>");
    }
    let Some(redirect_uri) = get("redirect_uri").filter(|r| r.starts_with("http")) else {
        return html(400, "<html><body><h1>Error 400: invalid_request</h1><p>Missing required parameter: redirect_uri</p></body></html>");
    };
    let state_param = get("state");
    let redirect = |pairs: &[(&str, String)]| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k, v);
        }
        if let Some(st) = &state_param {
            ser.append_pair("state", st);
        }
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        Answer::Full {
            status: 302,
            headers: vec![
                (
                    "Location".into(),
                    format!("{redirect_uri}{sep}{}", ser.finish()),
                ),
                ("Content-Type".into(), "text/html; charset=utf-8".into()),
            ],
            body: String::new(),
        }
    };
    if get("response_type").as_deref() != Some("code") {
        return redirect(&[
            ("error", "unsupported_response_type".into()),
            (
                "error_description",
                "Only response_type=code is supported.".into(),
            ),
        ]);
    }
    let challenge = get("code_challenge").unwrap_or_default();
    if challenge.is_empty() || get("code_challenge_method").as_deref() != Some("S256") {
        return redirect(&[
            ("error", "invalid_request".into()),
            (
                "error_description",
                "PKCE with code_challenge_method=S256 is required.".into(),
            ),
        ]);
    }
    let Some(email) = s.signed_in.clone().or_else(|| get("login_hint")) else {
        return redirect(&[
            ("error", "login_required".into()),
            ("error_description", "No user is signed in.".into()),
        ]);
    };
    let scope = get("scope").unwrap_or_else(|| flavor.mail_scope().to_string());
    let code = s.random.token(match flavor {
        Flavor::Google => "4/0A",
        Flavor::Microsoft => "M.C5_BAY.2.U.",
    });
    s.codes.insert(
        code.clone(),
        Code {
            email,
            client_id,
            redirect_uri: redirect_uri.clone(),
            challenge,
            scope: scope.clone(),
            created: Instant::now(),
            used: false,
        },
    );
    s.authorizations += 1;
    match flavor {
        // Google adds the granted scope and the account index; Microsoft a session state.
        Flavor::Google => redirect(&[
            ("code", code),
            ("scope", scope),
            ("authuser", "0".into()),
            ("prompt", "consent".into()),
        ]),
        Flavor::Microsoft => {
            let session = s.random.uuid();
            redirect(&[("code", code), ("session_state", session)])
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Device flow (RFC 8628)

fn device_code(state: &Mutex<State>, client_id: Option<&str>, scope: Option<String>) -> Answer {
    let mut s = lock(state);
    let flavor = s.flavor;
    // A known client is enough here (a confidential one proves itself when it polls).
    let client = match client_id.filter(|c| s.clients.contains_key(*c)) {
        Some(c) => c.to_string(),
        None => {
            if let Err(a) = s.client_ok(client_id, None) {
                return a;
            }
            return rfc_error(flavor, 400, "invalid_client", "Unknown client.");
        }
    };
    let device = s.random.token(match flavor {
        Flavor::Google => "AH-1Ng",
        Flavor::Microsoft => "DAQABIQEAAAD",
    });
    let user_code = s.random.user_code();
    let (expires_in, interval) = (s.device_expires_in, s.device_interval);
    let scope = scope.unwrap_or_else(|| flavor.mail_scope().to_string());
    s.devices.push(Device {
        device_code: device.clone(),
        user_code: user_code.clone(),
        client_id: client,
        scope,
        created: Instant::now(),
        expires_in,
        interval,
        last_poll: None,
        state: DeviceState::Pending,
    });
    let verification = format!("{}/device", s.issuer);
    match flavor {
        // Google's shape says verification_url (developers.google.com, limited-input-device).
        Flavor::Google => json_answer(
            flavor,
            200,
            &[
                ("device_code", json!(device)),
                ("user_code", json!(user_code)),
                ("expires_in", json!(expires_in.as_secs())),
                ("interval", json!(interval.as_secs())),
                ("verification_url", json!(verification)),
            ],
        ),
        // learn.microsoft.com Q&A 981553 shows this body.
        Flavor::Microsoft => json_answer(
            flavor,
            200,
            &[
                ("user_code", json!(user_code)),
                ("device_code", json!(device)),
                ("verification_uri", json!(verification)),
                ("expires_in", json!(expires_in.as_secs())),
                ("interval", json!(interval.as_secs())),
                (
                    "message",
                    json!(format!("To sign in, use a web browser to open the page {verification} and enter the code {user_code} to authenticate.")),
                ),
            ],
        ),
    }
}

fn poll_device(s: &mut State, client: &str, device_code: Option<String>) -> (Answer, bool) {
    let flavor = s.flavor;
    let now = Instant::now();
    let Some(di) = device_code.as_deref().and_then(|dc| {
        s.devices
            .iter()
            .position(|d| d.device_code == dc && d.client_id == client)
    }) else {
        return (
            match flavor {
                Flavor::Google => google(400, "invalid_grant", "Bad Request"),
                Flavor::Microsoft => microsoft(
                    400,
                    "invalid_grant",
                    70000,
                    "AADSTS70000: The provided value for the input parameter 'device_code' is not valid.",
                    &[],
                ),
            },
            false,
        );
    };
    let scripted = s.device_script.pop_front();
    let d = &mut s.devices[di];
    let too_fast = d
        .last_poll
        .is_some_and(|last| now.duration_since(last) + POLL_TOLERANCE < d.interval);
    d.last_poll = Some(now);
    let user_code = d.user_code.clone();
    let word: &str;
    let answer = if d.created.elapsed() > d.expires_in {
        word = "expired_token";
        device_error(flavor, "expired_token")
    } else if let Some(p) = scripted {
        if p == DevicePoll::SlowDown {
            d.interval += Duration::from_secs(5);
            word = "slow_down";
        } else {
            word = "authorization_pending";
        }
        device_error(flavor, word)
    } else if too_fast && d.state == DeviceState::Pending {
        d.interval += Duration::from_secs(5);
        word = "slow_down";
        device_error(flavor, word)
    } else {
        match &d.state {
            DeviceState::Pending => {
                word = "authorization_pending";
                device_error(flavor, word)
            }
            DeviceState::Denied => {
                word = match flavor {
                    Flavor::Google => "access_denied",
                    Flavor::Microsoft => "authorization_declined",
                };
                device_error(flavor, word)
            }
            DeviceState::Consumed => {
                word = "invalid_grant";
                device_error(flavor, word)
            }
            DeviceState::Approved(email) => {
                let (email, scope) = (email.clone(), d.scope.clone());
                d.state = DeviceState::Consumed;
                s.device_polls.push(DevicePollRecord {
                    at: now,
                    user_code,
                    answer: "success".into(),
                });
                let gi = s.new_grant(&email, client, &scope);
                return (s.issue(gi, false, true, None), true);
            }
        }
    };
    s.device_polls.push(DevicePollRecord {
        at: now,
        user_code,
        answer: word.to_string(),
    });
    (answer, false)
}

fn device_error(flavor: Flavor, error: &str) -> Answer {
    match flavor {
        // developers.google.com, "OAuth 2.0 for TV and Limited-Input Device Applications":
        // pending is 428, slow_down and access_denied are 403.
        Flavor::Google => match error {
            "authorization_pending" => google(428, error, "Precondition Required"),
            "slow_down" => google(403, error, "Forbidden"),
            "access_denied" => google(403, error, "Forbidden"),
            "expired_token" => google(400, error, "Bad Request"),
            _ => google(400, "invalid_grant", "Bad Request"),
        },
        Flavor::Microsoft => match error {
            // learn.microsoft.com Q&A 981553.
            "authorization_pending" => microsoft(
                400,
                error,
                70016,
                "AADSTS70016: The provided request has not yet been authorized by the user. The user must input their code.",
                &[],
            ),
            // Microsoft documents no slow_down of its own: RFC 8628's shape.
            "slow_down" => rfc_error(
                flavor,
                400,
                error,
                "The client is polling too often: wait 5 seconds more between polls.",
            ),
            "expired_token" => microsoft(400, error, 70019, "AADSTS70019: Verification code expired.", &[]),
            "authorization_declined" => microsoft(
                400,
                error,
                70000,
                "AADSTS70000: The request was denied because one or more scopes requested are unauthorized or expired. The user must first sign in and grant the client application access to the requested scope.",
                &[],
            ),
            _ => microsoft(
                400,
                "invalid_grant",
                70000,
                "AADSTS70000: The provided value for the input parameter 'device_code' is not valid.",
                &[],
            ),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// POST /introspect (RFC 7662)

fn introspect(state: &Mutex<State>, token: Option<String>) -> Answer {
    let mut s = lock(state);
    s.introspections += 1;
    let body = match token.as_deref().and_then(|t| s.active(t)) {
        Some(a) => json!({
            "active": true,
            "username": a.email,
            "email": a.email,
            "sub": a.email,
            "client_id": a.client_id,
            "scope": a.scope,
            "token_type": "Bearer",
            "iat": unix(a.issued),
            "exp": unix(a.expires),
        }),
        None => json!({"active": false}),
    };
    Answer::Raw {
        status: 200,
        content_type: "application/json".into(),
        body: body.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies

/// A JSON object with its keys in the given order; Google pretty-prints (two spaces), Microsoft
/// sends one line.
fn json_text(flavor: Flavor, fields: &[(&str, Value)]) -> String {
    let items: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            let key = Value::String((*k).to_string()).to_string();
            match flavor {
                Flavor::Google => format!("  {key}: {v}"),
                Flavor::Microsoft => format!("{key}:{v}"),
            }
        })
        .collect();
    match flavor {
        Flavor::Google => format!("{{\n{}\n}}", items.join(",\n")),
        Flavor::Microsoft => format!("{{{}}}", items.join(",")),
    }
}

fn json_answer(flavor: Flavor, status: u16, fields: &[(&str, Value)]) -> Answer {
    Answer::Raw {
        status,
        content_type: "application/json; charset=utf-8".into(),
        body: json_text(flavor, fields),
    }
}

fn google(status: u16, error: &str, description: &str) -> Answer {
    json_answer(
        Flavor::Google,
        status,
        &[
            ("error", json!(error)),
            ("error_description", json!(description)),
        ],
    )
}

fn rfc_error(flavor: Flavor, status: u16, error: &str, description: &str) -> Answer {
    match flavor {
        Flavor::Google => google(status, error, description),
        Flavor::Microsoft => json_answer(
            flavor,
            status,
            &[
                ("error", json!(error)),
                ("error_description", json!(description)),
            ],
        ),
    }
}

fn html(status: u16, body: &str) -> Answer {
    Answer::Raw {
        status,
        content_type: "text/html; charset=UTF-8".into(),
        body: body.to_string(),
    }
}

/// A Microsoft identity platform error: the description gets the trace, correlation and
/// timestamp lines, and the body `error_codes`, `timestamp`, `trace_id`, `correlation_id`,
/// `error_uri`, then `extra` (`suberror`, `claims`).
fn microsoft(status: u16, error: &str, code: u32, text: &str, extra: &[(&str, Value)]) -> Answer {
    let mut r = Random::new();
    let trace = r.uuid();
    let correlation = r.uuid();
    let now = chrono::Utc::now();
    let ts = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
    let description =
        format!("{text} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {ts}");
    let mut fields = vec![
        ("error", json!(error)),
        ("error_description", json!(description)),
        ("error_codes", json!([code])),
        ("timestamp", json!(ts)),
        ("trace_id", json!(trace)),
        ("correlation_id", json!(correlation)),
        (
            "error_uri",
            json!(format!(
                "https://login.microsoftonline.com/error?code={code}"
            )),
        ),
    ];
    fields.extend(extra.iter().cloned());
    json_answer(Flavor::Microsoft, status, &fields)
}

/// Microsoft's issue times: seven digits of fractional seconds (`2022-01-03T09:39:41.5631952Z`).
fn iso(t: SystemTime) -> String {
    let dt = chrono::DateTime::<chrono::Utc>::from(t);
    let ticks = dt.timestamp_subsec_nanos() / 100;
    format!("{}.{ticks:07}Z", dt.format("%Y-%m-%dT%H:%M:%S"))
}

/// The AADSTS body for `code`, with `issued` as the grant's issue time where the text names it.
fn aadsts_at(code: u32, issued: SystemTime) -> Answer {
    let issued = iso(issued);
    let now = iso(SystemTime::now());
    let claims = json!("{\"access_token\":{\"capolids\":{\"essential\":true,\"values\":[\"59866338-815e-41e6-9613-0ec6218e5c3d\"]}}}");
    match code {
        // tarickb/sasl-xoauth2 #30, Azure/azure-cli #14244 (body with error_codes, error_uri).
        700082 => microsoft(
            400,
            "invalid_grant",
            code,
            &format!("AADSTS700082: The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive for 90.00:00:00."),
            &[],
        ),
        // snok/django-auth-adfs #245.
        70008 => microsoft(
            400,
            "invalid_grant",
            code,
            "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            &[],
        ),
        // microsoft/SynapseVSCode #87.
        50173 => microsoft(
            400,
            "invalid_grant",
            code,
            &format!("AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{issued}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{now}'."),
            &[],
        ),
        // AzureAD/microsoft-authentication-library-for-js #6765.
        700084 => microsoft(
            400,
            "invalid_grant",
            code,
            &format!("AADSTS700084: The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page. The token was issued on {issued}."),
            &[],
        ),
        // nais/device #45, simonrob/email-oauth2-proxy #181 (suberror token_expired).
        70043 => microsoft(
            400,
            "invalid_grant",
            code,
            &format!("AADSTS70043: The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. The token was issued on {issued} and the maximum allowed lifetime for this request is 86400."),
            &[("suberror", json!("token_expired"))],
        ),
        // spencerwooo/onedrive-vercel-index #1051, dotnet/sign #849 (ErrorCode invalid_client).
        7000222 => microsoft(
            401,
            "invalid_client",
            code,
            &format!("AADSTS7000222: The provided client secret keys for app '{CLIENT_ID}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."),
            &[],
        ),
        // OfficeDev/microsoft-365-agents-toolkit #8621, keycloak #31294 (status 401).
        7000215 => microsoft(
            401,
            "invalid_client",
            code,
            &format!("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{CLIENT_ID}'."),
            &[],
        ),
        // MicrosoftDocs/azure-docs #39189 (suberror consent_required).
        65001 => microsoft(
            400,
            "invalid_grant",
            code,
            &format!("AADSTS65001: The user or administrator has not consented to use the application with ID '{CLIENT_ID}' named 'mailbeat'. Send an interactive authorization request for this user and resource."),
            &[("suberror", json!("consent_required"))],
        ),
        // AzureAD/microsoft-authentication-library-for-objc #1391 (v2.0: invalid_grant,
        // suberror basic_action); the resource is Exchange Online's.
        50076 => microsoft(
            400,
            "invalid_grant",
            code,
            "AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'.",
            &[("claims", claims), ("suberror", json!("basic_action"))],
        ),
        // AzureAD/azure-activedirectory-library-for-nodejs #151 (error interaction_required;
        // MSAL.NET #559 shows the same code as invalid_grant on v2.0: both shapes exist).
        50079 => microsoft(
            400,
            "interaction_required",
            code,
            "AADSTS50079: Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'.",
            &[("claims", claims)],
        ),
        // AzureAD/microsoft-authentication-library-for-java #597, Azure/azure-cli #32809.
        53003 => microsoft(
            400,
            "invalid_grant",
            code,
            "AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
            &[("suberror", json!("message_only")), ("claims", claims)],
        ),
        other => microsoft(
            400,
            "invalid_grant",
            other,
            &format!("AADSTS{other}: (the test IdP has no gathered text for this code)"),
            &[],
        ),
    }
}

impl Answer {
    /// Google's answer to an expired or revoked refresh token (GeneralTask/task-manager #2169,
    /// googleworkspace/python-samples #1644).
    pub fn google_expired_or_revoked() -> Answer {
        google(400, "invalid_grant", "Token has been expired or revoked.")
    }

    /// A Google Workspace session-control policy (cline/cline #4080).
    pub fn google_invalid_rapt() -> Answer {
        json_answer(
            Flavor::Google,
            400,
            &[
                ("error", json!("invalid_grant")),
                (
                    "error_description",
                    json!("reauth related error (invalid_rapt)"),
                ),
                (
                    "error_uri",
                    json!("https://support.google.com/a/answer/9368756"),
                ),
                ("error_subtype", json!("invalid_rapt")),
            ],
        )
    }

    /// A Google Workspace admin restricting the app (oauthlib/oauthlib #707).
    pub fn google_admin_policy_enforced() -> Answer {
        google(
            400,
            "admin_policy_enforced",
            "Access to your account data is restricted by policies within your organization. Please contact administrator for more information.",
        )
    }

    /// A client Google does not know (Edujugon/laravel-google-ads #17: 401).
    pub fn google_invalid_client() -> Answer {
        google(401, "invalid_client", "The OAuth client was not found.")
    }

    /// The Microsoft identity platform's body for an AADSTS code: 700082, 70008, 50173, 700084,
    /// 70043, 7000222, 7000215, 65001, 50076, 50079, 53003 carry their real texts (sources in
    /// the code); any other code gets a placeholder text.
    pub fn microsoft_aadsts(code: u32) -> Answer {
        aadsts_at(code, SystemTime::now() - Duration::from_secs(90 * 86400))
    }

    /// Google's HTML error page for a 500.
    pub fn server_error_html_500() -> Answer {
        html(
            500,
            "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <meta name=viewport content=\"initial-scale=1, minimum-scale=1, width=device-width\">\n  <title>Error 500 (Server Error)!!1</title>\n  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>\n  <p><b>500.</b> <ins>That\u{2019}s an error.</ins>\n  <p>There was an error. Please try again later. <ins>That\u{2019}s all we know.</ins>\n",
        )
    }

    /// A 401 from a proxy in front of the token endpoint (nginx's page), not OAuth JSON.
    pub fn unauthorized_401_html() -> Answer {
        html(
            401,
            "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        )
    }

    /// A 200 that is not JSON: a captive portal's sign-in page.
    pub fn non_json_200() -> Answer {
        html(
            200,
            "<!DOCTYPE html>\n<html><head><title>Sign in to continue</title></head><body><form method=\"post\" action=\"/login\"><p>Please sign in to use this network.</p><input name=\"user\"><input name=\"password\" type=\"password\"></form></body></html>\n",
        )
    }

    /// Google's 429 page (googleads/googleads-php-lib #688 shows the HTML), with Retry-After.
    pub fn rate_limited_429() -> Answer {
        Answer::Full {
            status: 429,
            headers: vec![
                ("Content-Type".into(), "text/html; charset=UTF-8".into()),
                ("Retry-After".into(), "30".into()),
            ],
            body: "<!DOCTYPE html PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\">\n<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\"><title>429 Too Many Requests</title></head>\n<body><h1>429 Too Many Requests</h1><p>We're sorry, but you have sent too many requests to us recently. Please try again later.</p></body></html>\n".into(),
        }
    }

    /// The HTTP status this answer carries (0 for `Hang`).
    pub fn status(&self) -> u16 {
        match self {
            Answer::Raw { status, .. } | Answer::Full { status, .. } => *status,
            Answer::Hang => 0,
        }
    }

    /// The body (empty for `Hang`).
    pub fn body(&self) -> &str {
        match self {
            Answer::Raw { body, .. } | Answer::Full { body, .. } => body,
            Answer::Hang => "",
        }
    }
}
