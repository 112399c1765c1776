//! Shared by the binary's integration tests: run the agent as a process, speak HTTP (and HTTPS,
//! with a test PKI made by rcgen) to it, read series from a scrape, and have `promtool` judge the
//! scrape.
#![allow(dead_code)] // each test file uses its own part

pub mod idp;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mailbeat");

/// `mailbeat ARGS --config.file CONFIG`, ready for more (an environment variable, say).
pub fn command(args: &[&str], config: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).arg("--config.file").arg(config);
    c
}

/// Runs `mailbeat ARGS --config.file CONFIG` to the end.
pub fn mailbeat(args: &[&str], config: &Path) -> std::process::Output {
    command(args, config).output().unwrap()
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn free_port() -> u16 {
    closed_port()
}

pub fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    let buf = http_raw(port, method, path);
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The whole HTTP/1.1 response to `method path`, status line and headers included.
pub fn http_raw(port: u16, method: &str, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    buf
}

/// The value of the series whose text (name and labels) starts with `series`.
pub fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

pub struct Agent {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_agent(config: &Path, dir: &Path) -> Agent {
    start_agent_with(config, dir, &[])
}

/// `mailbeat run` with more flags (`--web.config.file F`, `--web.enable-lifecycle`). Waits until
/// the agent says it listens. A "free" port another test took in the meantime (tests run in
/// parallel and pick ports the same way) makes the agent fail to listen: then it is started
/// again on another port, a bounded number of times.
pub fn start_agent_with(config: &Path, dir: &Path, extra: &[&str]) -> Agent {
    let log = dir.join("agent.log");
    for _attempt in 0..5 {
        let port = free_port();
        let child = Command::new(BIN)
            .args(["run", "--config.file"])
            .arg(config)
            .args([
                "--web.listen-address",
                &format!("127.0.0.1:{port}"),
                "--log.level",
                "debug",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut agent = Agent {
            child,
            port,
            log: log.clone(),
        };
        let mut exited = false;
        wait_until(Duration::from_secs(10), || {
            exited = agent.child.try_wait().ok().flatten().is_some();
            exited
                || std::fs::read_to_string(&agent.log).is_ok_and(|l| l.contains("mailbeat started"))
        });
        let lost_the_port = exited
            && std::fs::read_to_string(&agent.log).is_ok_and(|l| l.contains("cannot listen on"));
        if !lost_the_port {
            return agent;
        }
    }
    panic!("the agent could not listen on any of five free ports");
}

pub fn wait_until(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

pub fn scrape_until(agent: &Agent, what: &str) -> String {
    let mut last = String::new();
    let found = wait_until(Duration::from_secs(15), || {
        last = http(agent.port, "GET", "/metrics").1;
        last.contains(what)
    });
    assert!(found, "{what} never appeared in /metrics:\n{last}");
    last
}

/// `promtool check metrics` on a scrape; fails when promtool is missing (tests calling it are
/// ignored under a plain `cargo test` and run by `tests/run-all.sh`, which installs it).
pub fn promtool_check_metrics(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: run the README's test command, which installs it");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The CA file and a user of the real-server harness (`tests/run-all.sh`), the user read from
/// `user_var`. Panics when no harness runs: the tests that call this are `#[ignore]`d, so they run
/// only when asked for (`--include-ignored`), and then a missing harness is a failure.
pub fn harness(user_var: &str, default_user: &str) -> (String, String) {
    if std::env::var_os("MAILBEAT_HARNESS_DIR").is_none() {
        panic!("the real-server harness is not running (MAILBEAT_HARNESS_DIR unset): run bash tests/run-all.sh");
    }
    (
        std::env::var("MAILBEAT_TEST_CA").expect("MAILBEAT_TEST_CA"),
        std::env::var(user_var).unwrap_or_else(|_| default_user.into()),
    )
}

// ---------------------------------------------------------------------------------------------
// HTTPS: a test PKI (a CA, a server certificate for 127.0.0.1 and localhost, a client
// certificate, and one from another CA) and a small client.

pub mod pki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::path::{Path, PathBuf};

    /// PEM files written into a directory: `ca.crt`, `server.crt`/`server.key`,
    /// `client.crt`/`client.key` (signed by the CA) and `stranger.crt`/`stranger.key` (signed by
    /// another CA).
    pub struct Pki {
        pub dir: PathBuf,
    }

    fn ca(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
    }

    fn leaf(
        dir: &Path,
        name: &str,
        sans: &[&str],
        usage: ExtendedKeyUsagePurpose,
        issuer: &CertifiedIssuer<'static, KeyPair>,
    ) {
        let mut p =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }

    impl Pki {
        pub fn new(dir: &Path) -> Pki {
            let ca = ca("mailbeat test CA");
            std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
            leaf(
                dir,
                "server",
                &["127.0.0.1", "localhost"],
                ExtendedKeyUsagePurpose::ServerAuth,
                &ca,
            );
            leaf(
                dir,
                "client",
                &["client.test"],
                ExtendedKeyUsagePurpose::ClientAuth,
                &ca,
            );
            let other = ca_other();
            leaf(
                dir,
                "stranger",
                &["stranger.test"],
                ExtendedKeyUsagePurpose::ClientAuth,
                &other,
            );
            Pki {
                dir: dir.to_path_buf(),
            }
        }

        pub fn path(&self, file: &str) -> String {
            self.dir.join(file).display().to_string()
        }

        pub fn certs(&self, file: &str) -> Vec<CertificateDer<'static>> {
            CertificateDer::pem_file_iter(self.dir.join(file))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        }

        pub fn key(&self, file: &str) -> PrivateKeyDer<'static> {
            PrivateKeyDer::from_pem_file(self.dir.join(file)).unwrap()
        }
    }

    fn ca_other() -> CertifiedIssuer<'static, KeyPair> {
        ca("another CA")
    }
}

/// What an HTTPS request got: the status, the headers (lower-case names) and the body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How a test client connects: TLS trusting the test CA (with a client certificate, named by its
/// file stem in the PKI), and basic credentials.
#[derive(Default, Clone)]
pub struct Client<'a> {
    pub pki: Option<&'a pki::Pki>,
    pub client_cert: Option<&'a str>,
    pub basic: Option<(&'a str, &'a str)>,
    pub tls13_only: bool,
    pub tls12_only: bool,
}

impl Client<'_> {
    /// One request over a new connection; `Err` when TLS or the connection fails.
    pub fn request(&self, port: u16, method: &str, path: &str) -> Result<Reply, String> {
        use base64::Engine as _;
        let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let auth = self
            .basic
            .map(|(u, p)| {
                format!(
                    "Authorization: Basic {}\r\n",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                )
            })
            .unwrap_or_default();
        let head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\nContent-Length: 0\r\n\r\n");
        let mut raw = Vec::new();
        match self.pki {
            None => {
                let mut s = tcp;
                s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
                s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
            }
            Some(pki) => {
                let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
                let mut roots = rustls::RootCertStore::empty();
                for c in pki.certs("ca.crt") {
                    roots.add(c).unwrap();
                }
                let versions: &[&'static rustls::SupportedProtocolVersion] = if self.tls13_only {
                    &[&rustls::version::TLS13]
                } else if self.tls12_only {
                    &[&rustls::version::TLS12]
                } else {
                    rustls::DEFAULT_VERSIONS
                };
                let builder = rustls::ClientConfig::builder_with_provider(provider)
                    .with_protocol_versions(versions)
                    .unwrap()
                    .with_root_certificates(roots);
                let config = match self.client_cert {
                    Some(name) => builder
                        .with_client_auth_cert(
                            pki.certs(&format!("{name}.crt")),
                            pki.key(&format!("{name}.key")),
                        )
                        .unwrap(),
                    None => builder.with_no_client_auth(),
                };
                let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
                let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
                    .map_err(|e| e.to_string())?;
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                tls.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
                // A server that closes without close_notify after its answer is fine here.
                match tls.read_to_end(&mut raw) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        parse_reply(&raw)
    }
}

fn parse_reply(raw: &[u8]) -> Result<Reply, String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP answer: {text:?}"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line: {text:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_string(),
    })
}

/// A bcrypt hash of `password` (cost 4: tests need not be slow).
pub fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}
