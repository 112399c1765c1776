//! Scripted loopback mail servers for the `auth` probe tests.
//!
//! A script is the transcript a real server produced, one line per step:
//! - `S: text` the server sends `text` CR LF (`{tag}` becomes the tag of the last client command,
//!   i.e. the first word of the last line that has a space);
//! - `C: prefix` the server reads one line, which must start with `prefix`, either at its start
//!   or after its first word (so IMAP scripts need not know the client's tag numbering);
//! - `TLS` the server upgrades the connection (after its STARTTLS reply);
//! - `HANG` the server says nothing for ten seconds;
//! - `CLOSE` the server hangs up.
//!
//! Every connection replays the whole script, then keeps reading until the client closes or says
//! LOGOUT / QUIT (then the server hangs up without a word, so the client need not wait). The server records every client line and counts connections, so a test can
//! assert what the server saw: the decoded PLAIN blob, that no password was sent, how many times
//! the back-off let the probe log in.
#![allow(dead_code)]

use mailbeat_sdk::{
    Account, CheckResult, Credentials, ProbeContext, Protocol, Secret, SecretKind, Target, TlsMode,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub const USER: &str = "alice@mail.test";
pub const PASSWORD: &str = "Tr0ub4dor&3-horse";
pub const TOKEN: &str = "ya29.a0AfH6SMBx-access-token-value";

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How the scripted server does TLS.
#[derive(Clone)]
pub enum ServerTls {
    Plain,
    /// TLS from the first byte.
    Implicit(TlsAcceptor),
    /// TLS at the script's `TLS` step.
    Starttls(TlsAcceptor),
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<String>>,
    errors: Mutex<Vec<String>>,
    connections: AtomicUsize,
}

/// A running scripted server.
pub struct Scripted {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Scripted {
    /// Every line any client sent, in order.
    pub fn received(&self) -> Vec<String> {
        self.state.received.lock().unwrap().clone()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// How many received lines start with `prefix` (case-insensitive).
    pub fn count(&self, prefix: &str) -> usize {
        self.received()
            .iter()
            .filter(|l| starts_with_ci(l, prefix))
            .count()
    }

    /// Panics with the deviations from the script, if any.
    pub fn assert_followed(&self) {
        let errors = self.state.errors.lock().unwrap().clone();
        assert!(
            errors.is_empty(),
            "client deviated from the script: {errors:?}"
        );
    }
}

fn starts_with_ci(line: &str, prefix: &str) -> bool {
    line.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// Starts a server on 127.0.0.1 that replays `script` on every connection.
pub async fn serve(script: &str, tls: ServerTls) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(State::default());
    let steps: Arc<Vec<String>> = Arc::new(
        script
            .lines()
            // Keep trailing spaces: "S: + " is what Dovecot sends.
            .map(str::trim_start)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    );
    let st = state.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            st.connections.fetch_add(1, Ordering::SeqCst);
            let (st, steps, tls) = (st.clone(), steps.clone(), tls.clone());
            tokio::spawn(async move {
                let io: Box<dyn Io> = match &tls {
                    ServerTls::Implicit(acceptor) => match acceptor.accept(tcp).await {
                        Ok(s) => Box::new(s),
                        Err(e) => {
                            st.errors.lock().unwrap().push(format!("TLS accept: {e}"));
                            return;
                        }
                    },
                    _ => Box::new(tcp),
                };
                replay(io, &steps, &st, &tls).await;
            });
        }
    });
    Scripted { addr, state }
}

async fn replay(io: Box<dyn Io>, steps: &[String], st: &State, tls: &ServerTls) {
    let mut io = BufReader::new(io);
    let mut tag = String::from("*");
    for step in steps {
        if let Some(text) = step.strip_prefix("S:") {
            let line = format!("{}\r\n", text.trim_start().replace("{tag}", &tag));
            if io.get_mut().write_all(line.as_bytes()).await.is_err() {
                return;
            }
            let _ = io.get_mut().flush().await;
        } else if let Some(prefix) = step.strip_prefix("C:") {
            let Some(line) = read_line(&mut io).await else {
                return;
            };
            st.received.lock().unwrap().push(line.clone());
            if let Some((first, _)) = line.split_once(' ') {
                tag = first.to_string();
            }
            let prefix = prefix.trim();
            let after_tag = line.split_once(' ').map(|(_, rest)| rest).unwrap_or("");
            if !starts_with_ci(&line, prefix) && !starts_with_ci(after_tag, prefix) {
                st.errors
                    .lock()
                    .unwrap()
                    .push(format!("expected {prefix:?}, got {line:?}"));
                return;
            }
        } else if step == "TLS" {
            let ServerTls::Starttls(acceptor) = tls else {
                panic!("TLS step without a Starttls server");
            };
            let inner = io.into_inner();
            match acceptor.accept(inner).await {
                Ok(s) => io = BufReader::new(Box::new(s) as Box<dyn Io>),
                Err(e) => {
                    st.errors
                        .lock()
                        .unwrap()
                        .push(format!("STARTTLS accept: {e}"));
                    return;
                }
            }
        } else if step == "CLOSE" {
            return;
        } else if step == "HANG" {
            tokio::time::sleep(Duration::from_secs(10)).await;
        } else {
            panic!("bad script step {step:?}");
        }
    }
    // Record what the client says on its way out (LOGOUT, QUIT), answering nothing.
    let drain = async {
        while let Some(line) = read_line(&mut io).await {
            let bye = starts_with_ci(&line, "QUIT")
                || line
                    .split_once(' ')
                    .is_some_and(|(_, rest)| starts_with_ci(rest, "LOGOUT"));
            st.received.lock().unwrap().push(line);
            if bye {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), drain).await;
}

async fn read_line(io: &mut BufReader<Box<dyn Io>>) -> Option<String> {
    let mut line = String::new();
    match io.read_line(&mut line).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
    }
}

/// A target on the scripted server.
pub fn target(protocol: Protocol, server: &Scripted, tls: TlsMode, oauth: bool) -> Target {
    Target {
        name: format!("test-{protocol}"),
        protocol: Some(protocol),
        host: "127.0.0.1".into(),
        port: Some(server.addr.port()),
        tls,
        tls_server_name: Some("mail.test".into()),
        ca_file: None,
        source_address: None,
        provider: None,
        account: Some(Account {
            username: USER.into(),
            mechanism: None,
            oauth,
            token_store: false,
        }),
        labels: Default::default(),
        migration_domain: None,
    }
}

/// Runs the `auth` probe once on `t`, with no options.
pub async fn check(t: &Target, ctx: &ProbeContext) -> CheckResult {
    mailbeat_sdk::check_once(
        &mailbeat_probes::auth::AuthProbe,
        t,
        &serde_json::Value::Null,
        ctx,
    )
    .await
}

/// Password credentials.
pub fn password() -> Credentials {
    Credentials {
        username: USER.into(),
        secret: Secret::new(PASSWORD),
        kind: SecretKind::Password,
    }
}

/// OAuth2 access-token credentials.
pub fn token() -> Credentials {
    Credentials {
        username: USER.into(),
        secret: Secret::new(TOKEN),
        kind: SecretKind::AccessToken,
    }
}

/// A context with a short deadline, no roots and `creds`.
pub fn ctx(creds: Credentials) -> ProbeContext {
    ctx_with(
        creds,
        Duration::from_secs(5),
        Arc::new(rustls::RootCertStore::empty()),
    )
}

pub fn ctx_with(
    creds: Credentials,
    timeout: Duration,
    roots: Arc<rustls::RootCertStore>,
) -> ProbeContext {
    ProbeContext::new(timeout, roots).with_credentials(creds)
}

/// A test PKI: a CA and a leaf for `mail.test`; returns the server side and roots that trust it.
pub fn pki() -> (TlsAcceptor, Arc<rustls::RootCertStore>) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["mail.test".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(leaf_key.serialize_der());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key.into())
    .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    (TlsAcceptor::from(Arc::new(config)), Arc::new(roots))
}

/// base64 decode for assertions on what the server received.
pub fn b64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap_or_else(|e| panic!("not base64: {text:?}: {e}"))
}
