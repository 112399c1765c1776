//! The shipped monitoring files against the real thing: Debian's Prometheus scrapes a running
//! `mailbeat run` every second and evaluates `config/alerts.yml` (its `for:` durations shortened,
//! nothing else changed); Debian's Alertmanager, with `config/alertmanager.example.yml` (its
//! receiver URLs pointed at this test and its group timers shortened), routes what fires to a
//! webhook receiver of this test. Then every query of every panel of every dashboard in
//! `dashboards/` is evaluated through Prometheus' HTTP API with its template variables
//! substituted, and must return data.
//!
//! What the agent checks, all on 127.0.0.1:
//! - `closed-port`: a port nothing listens on (`connection_refused`);
//! - `relay`: an SMTPS server of this test whose certificate expires in nine days
//!   (`tls_cert_expiring`) and which refuses every login (`535 5.7.8`, `auth_bad_credentials`);
//!   its first AUTH is held until the test holds the state database's write lock, so the
//!   credential back-off the refusal writes fails (`mailbeat_state_write_failures_total`);
//! - `idp-untrusted`: the test IdP's HTTPS port, whose CA the target does not trust;
//! - `oauth-revoked`: a Google-style account whose grant the IdP revokes after its first
//!   refresh (access tokens of two seconds): `invalid_grant`, its access token expired and not
//!   renewed;
//! - `oauth-ok`: a Microsoft-style account that keeps working (nothing may fire for it).
//!
//! Prometheus and Alertmanager run on free loopback ports with temporary directories (no
//! cluster port), and are stopped by their PIDs when the test ends.

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use support::idp::{Flavor, Idp, CLIENT_ID};
use support::*;

/// Panels allowed to return no data in this scenario (none today: the agent of this test has a
/// webhook whose receiver is down, so the outbox series exist, and the revoked grant fires
/// `MailReauthRequired` in the agent's own engine). A panel listed here that returns data fails
/// the test, so the list cannot outlive its reason.
const AWAITING_ENGINE: &[(&str, &str)] = &[];

/// The scrape job's name: not "mailbeat", to show that no rule or panel depends on it.
const JOB: &str = "mail-checks";

/// Alerts the scenario must fire in Prometheus and deliver through Alertmanager: name and a
/// subset of the labels.
const MUST_FIRE: &[(&str, &[(&str, &str)])] = &[
    (
        "MailCheckCritical",
        &[("target", "closed-port"), ("reason", "connection_refused")],
    ),
    (
        // A refused password is for a person to fix: it pages as a re-authorization (and the
        // generic MailCheckCritical of the same check is inhibited in Alertmanager).
        "MailReauthRequired",
        &[
            ("target", "relay"),
            ("probe", "auth"),
            ("reason", "auth_bad_credentials"),
        ],
    ),
    (
        "MailCheckWarning",
        &[
            ("target", "relay"),
            ("probe", "tls"),
            ("reason", "tls_cert_expiring"),
        ],
    ),
    ("MailCertExpiringSoon", &[("target", "relay")]),
    ("MailTlsChainNotVerified", &[("target", "idp-untrusted")]),
    ("MailReauthRequired", &[("target", "oauth-revoked")]),
    (
        "MailOAuthRefreshFailing",
        &[("target", "oauth-revoked"), ("provider", "google")],
    ),
    (
        "MailOAuthAccessTokenExpired",
        &[("target", "oauth-revoked")],
    ),
    ("MailbeatStateWriteFailing", &[("table", "auth_backoff")]),
];

/// Alerts that must not fire while the agent runs.
const MUST_NOT_FIRE: &[&str] = &[
    "MailbeatDown",
    "MailbeatConfigReloadFailed",
    "MailChecksStale",
    "MailOAuthRefreshTokenExpiring",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn secs(since: Instant) -> String {
    format!("{:.1} s", since.elapsed().as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// Prometheus and Alertmanager as child processes

struct Daemon {
    name: &'static str,
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Our own child, by its PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn log_text(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("--- {} log (tail) ---\n{}", self.name, tail.join("\n"))
    }

    fn get_json(&self, path: &str) -> Option<Value> {
        let (status, body) = get(self.port, path)?;
        (status == 200).then(|| serde_json::from_str(&body).ok())?
    }
}

fn binary(candidates: &[&str]) -> String {
    candidates
        .iter()
        .find(|c| Path::new(c).exists())
        .map(|c| c.to_string())
        .unwrap_or_else(|| {
            panic!("{candidates:?} not found: run bash tests/run-all.sh, which installs them")
        })
}

fn spawn(name: &'static str, bin: &str, args: &[String], dir: &Path, port: u16) -> Daemon {
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    let d = Daemon {
        name,
        child,
        port,
        log,
    };
    let ready = wait_until(Duration::from_secs(30), || {
        get(d.port, "/-/ready").is_some_and(|(s, _)| s == 200)
    });
    assert!(ready, "{name} never got ready\n{}", d.log_text());
    d
}

/// HTTP/1.0 GET (no chunked answers); `None` while nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---------------------------------------------------------------------------------------------
// The shipped files, adapted to a test that must not wait ten minutes

/// `config/alerts.yml` with every non-zero `for:` set to 1s.
fn shortened_rules(shipped: &str) -> String {
    shipped
        .lines()
        .map(|l| match l.trim_start().strip_prefix("for: ") {
            Some(d) if d.trim() != "0m" && d.trim() != "0s" => {
                format!("{}for: 1s", &l[..l.len() - l.trim_start().len()])
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `config/alertmanager.example.yml` with its receivers at `receiver` and the group timers at 1s.
fn shortened_alertmanager(shipped: &str, receiver: &str) -> String {
    shipped
        .lines()
        .map(|l| {
            let indent = &l[..l.len() - l.trim_start().len()];
            let t = l.trim_start();
            if t.starts_with("group_wait: ") {
                format!("{indent}group_wait: 1s")
            } else if t.starts_with("group_interval: ") {
                format!("{indent}group_interval: 1s")
            } else {
                l.replace("127.0.0.1:18081", receiver)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("YAML")
}

/// Sets every value of `key` anywhere in `v` to `to`.
fn set_all(v: &mut Value, key: &str, to: &Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == key {
                    *x = to.clone();
                } else {
                    set_all(x, key, to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| set_all(x, key, to)),
        _ => {}
    }
}

#[test]
fn the_test_copies_of_the_shipped_files_differ_only_in_their_timers() {
    let shipped = std::fs::read_to_string(root().join("config/alerts.yml")).unwrap();
    let short = parse_yaml(&shortened_rules(&shipped));
    let mut want = parse_yaml(&shipped);
    let mut n = 0;
    for g in want["groups"].as_array_mut().unwrap() {
        for r in g["rules"].as_array_mut().unwrap() {
            if !matches!(r["for"].as_str(), Some("0m" | "0s")) {
                r["for"] = Value::from("1s");
                n += 1;
            }
        }
    }
    assert!(n >= 10, "{n} rules with a for:");
    assert_eq!(short, want, "the rules' test copy changed more than `for:`");

    let shipped = std::fs::read_to_string(root().join("config/alertmanager.example.yml")).unwrap();
    let short = parse_yaml(&shortened_alertmanager(&shipped, "127.0.0.1:1234"));
    let mut want = parse_yaml(&shipped);
    for key in ["group_wait", "group_interval"] {
        set_all(&mut want, key, &Value::from("1s"));
    }
    let text = serde_json::to_string(&want)
        .unwrap()
        .replace("127.0.0.1:18081", "127.0.0.1:1234");
    assert_eq!(
        short,
        serde_json::from_str::<Value>(&text).unwrap(),
        "the Alertmanager test copy changed more than its timers and receiver URLs"
    );
}

// ---------------------------------------------------------------------------------------------
// The webhook receiver Alertmanager delivers to

struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<(String, Value)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, st) = (got.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => {
                        if let Some(delivery) = read_post(s) {
                            g.lock().unwrap().push(delivery);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(_) => break,
                }
            }
        });
        Receiver {
            port,
            got,
            stop,
            thread: Some(thread),
        }
    }

    fn deliveries(&self) -> Vec<(String, Value)> {
        self.got.lock().unwrap().clone()
    }
}

/// One POST: its path and JSON body, answered 200.
fn read_post(mut s: TcpStream) -> Option<(String, Value)> {
    s.set_nonblocking(false).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut length = 0;
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .ok()?;
    Some((path, serde_json::from_slice(&body).ok()?))
}

// ---------------------------------------------------------------------------------------------
// An SMTPS server that refuses every login, with a certificate that expires soon

struct FakeRelay {
    port: u16,
    ca_file: PathBuf,
    auths: Arc<AtomicUsize>,
    release: Arc<(Mutex<bool>, Condvar)>,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.open_gate();
    }
}

impl FakeRelay {
    fn start(dir: &Path) -> FakeRelay {
        use chrono::Datelike as _;
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(DnType::CommonName, "mailbeat relay test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "relay.test");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        // Midnight (UTC) ten days on: nine to ten days left, inside the tls probe's 21-day
        // warning and the rules' 14 days, outside its 7-day critical.
        let end = chrono::Utc::now() + chrono::Duration::days(10);
        leaf.not_after = rcgen::date_time_ymd(end.year(), end.month() as u8, end.day() as u8);
        let key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        let ca_file = dir.join("relay-ca.pem");
        std::fs::write(&ca_file, issuer.pem()).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap(),
        );

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let auths = Arc::new(AtomicUsize::new(0));
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, rel, st) = (auths.clone(), release.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let (config, a, rel) = (config.clone(), a.clone(), rel.clone());
                        std::thread::spawn(move || serve_smtp(s, config, &a, &rel));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(_) => break,
                }
            }
        });
        FakeRelay {
            port,
            ca_file,
            auths,
            release,
            stop,
        }
    }

    /// Lets the held AUTH (and every later one) get its answer.
    fn open_gate(&self) {
        let (open, cv) = &*self.release;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
}

/// One SMTP session over implicit TLS: greeting, EHLO with AUTH PLAIN LOGIN, and 535 to every
/// AUTH, the first ones only once the gate opens (at most 50 s). Bounded: 50 commands, 30 s
/// of silence.
fn serve_smtp(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    auths: &AtomicUsize,
    release: &(Mutex<bool>, Condvar),
) {
    let _ = tcp.set_nonblocking(false);
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut r = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    let send = |r: &mut BufReader<_>, text: &str| -> bool {
        let s: &mut rustls::StreamOwned<_, _> = r.get_mut();
        s.write_all(text.as_bytes()).is_ok() && s.flush().is_ok()
    };
    if !send(&mut r, "220 relay.test ESMTP test relay\r\n") {
        return;
    }
    let mut line = String::new();
    for _ in 0..50 {
        line.clear();
        if !matches!(r.read_line(&mut line), Ok(n) if n > 0) {
            return;
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        let reply = if cmd.starts_with("EHLO") {
            "250-relay.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        } else if cmd.starts_with("HELO") {
            "250 relay.test\r\n"
        } else if cmd.starts_with("AUTH") {
            if cmd == "AUTH PLAIN" || cmd.starts_with("AUTH LOGIN") {
                // No initial response: ask for it, and take one line.
                if !send(&mut r, "334 \r\n") {
                    return;
                }
                line.clear();
                if !matches!(r.read_line(&mut line), Ok(n) if n > 0) {
                    return;
                }
            }
            auths.fetch_add(1, Ordering::SeqCst);
            let (open, cv) = release;
            let guard = open.lock().unwrap();
            let _ = cv
                .wait_timeout_while(guard, Duration::from_secs(50), |open| !*open)
                .unwrap();
            "535 5.7.8 Authentication credentials invalid\r\n"
        } else if cmd.starts_with("NOOP") || cmd.starts_with("RSET") {
            "250 2.0.0 OK\r\n"
        } else if cmd.starts_with("QUIT") {
            let _ = send(&mut r, "221 2.0.0 Bye\r\n");
            return;
        } else {
            "502 5.5.2 Command not recognized\r\n"
        };
        if !send(&mut r, reply) {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

/// The alerts Prometheus has, as (name, labels, state).
fn prometheus_alerts(p: &Daemon) -> Vec<(String, Value, String)> {
    let Some(v) = p.get_json("/api/v1/alerts") else {
        return Vec::new();
    };
    v["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["labels"]["alertname"].as_str().unwrap_or("").to_string(),
                a["labels"].clone(),
                a["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn matches(labels: &Value, name: &str, want: &[(&str, &str)]) -> bool {
    labels["alertname"] == name && want.iter().all(|(k, v)| labels[*k] == *v)
}

/// The value of a metric in the agent's own scrape.
fn agent_metric(agent: &Agent, series: &str) -> Option<f64> {
    value(&http(agent.port, "GET", "/metrics").1, series)
}

/// Grafana's variables as this test selects them: one job (this test's), every instance and
/// every target (their "All" value), and the time range and intervals a 5-minute dashboard at
/// Grafana's default 15 s interval has. Longest names first.
fn substitute(expr: &str) -> String {
    const VARS: &[(&str, &str)] = &[
        ("${__rate_interval}", "1m"),
        ("$__rate_interval", "1m"),
        ("${__interval_ms}", "15000"),
        ("$__interval_ms", "15000"),
        ("${__interval}", "15s"),
        ("$__interval", "15s"),
        ("${__range_ms}", "300000"),
        ("$__range_ms", "300000"),
        ("${__range_s}", "300"),
        ("$__range_s", "300"),
        ("${__range}", "5m"),
        ("$__range", "5m"),
        ("${job}", JOB),
        ("$job", JOB),
        ("${instance}", ".+"),
        ("$instance", ".+"),
        ("${target}", ".+"),
        ("$target", ".+"),
    ];
    let mut out = expr.to_string();
    for (var, value) in VARS {
        out = out.replace(var, value);
    }
    out
}

/// A `$name` left after substitution (`$1` in label_replace is PromQL's, not Grafana's).
fn unknown_variable(expr: &str) -> Option<String> {
    let b = expr.as_bytes();
    (0..b.len()).find_map(|i| {
        let next = *b.get(i + 1)?;
        (b[i] == b'$' && (next.is_ascii_alphabetic() || next == b'_' || next == b'{'))
            .then(|| expr[i..].chars().take(20).collect())
    })
}

/// What `/api/v1/query` says about `expr`: `Ok(number of results)` or `Err(message)`.
fn evaluate(p: &Daemon, expr: &str) -> Result<usize, String> {
    let (status, body) = get(p.port, &format!("/api/v1/query?query={}", encode(expr)))
        .ok_or_else(|| "no answer".to_string())?;
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("{status}: {e}: {body}"))?;
    if v["status"] != "success" {
        return Err(format!("{status}: {}", v["error"]));
    }
    Ok(match v["data"]["resultType"].as_str() {
        Some("scalar") | Some("string") => 1,
        _ => v["data"]["result"].as_array().map_or(0, Vec::len),
    })
}

/// `label_values(SELECTOR, LABEL)` through `/api/v1/label/LABEL/values?match[]=SELECTOR`.
fn label_values(p: &Daemon, query: &str) -> Result<BTreeSet<String>, String> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .ok_or_else(|| format!("not label_values(): {query}"))?;
    let (selector, label) = inner
        .rsplit_once(',')
        .ok_or_else(|| format!("no label: {query}"))?;
    let v = p
        .get_json(&format!(
            "/api/v1/label/{}/values?match[]={}",
            label.trim(),
            encode(&substitute(selector.trim()))
        ))
        .ok_or_else(|| format!("label values of {query} failed"))?;
    Ok(v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect())
}

struct PanelQuery {
    dashboard: String,
    panel: String,
    expr: String,
}

fn dashboard_queries() -> (Vec<PanelQuery>, Vec<(String, String, String)>) {
    let mut queries = Vec::new();
    let mut variables = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("dashboards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for f in files {
        let d: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let uid = d["uid"].as_str().unwrap().to_string();
        let mut panels: Vec<&Value> = Vec::new();
        for p in d["panels"].as_array().into_iter().flatten() {
            panels.push(p);
            panels.extend(p["panels"].as_array().into_iter().flatten());
        }
        for p in panels {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(e) = t["expr"].as_str() {
                    queries.push(PanelQuery {
                        dashboard: uid.clone(),
                        panel: p["title"].as_str().unwrap_or("").to_string(),
                        expr: e.to_string(),
                    });
                }
            }
        }
        for v in d["templating"]["list"].as_array().into_iter().flatten() {
            if v["type"] == "query" {
                variables.push((
                    uid.clone(),
                    v["name"].as_str().unwrap().to_string(),
                    v["query"]["query"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    (queries, variables)
}

// ---------------------------------------------------------------------------------------------
// The scenario

fn agent_config(dir: &Path, relay: &FakeRelay, idp_google: &Idp, idp_microsoft: &Idp) -> PathBuf {
    let revoked = idp_google.grant("revoked@example.com");
    let ok = idp_microsoft.grant("ok@example.com");
    std::fs::write(dir.join("revoked.rt"), &revoked.refresh_token).unwrap();
    std::fs::write(dir.join("ok.rt"), &ok.refresh_token).unwrap();
    std::fs::write(dir.join("relay.pw"), "not-the-password\n").unwrap();
    let yaml = format!(
        "global: {{state_dir: {state}, every: 2s, timeout: 60s}}
# A receiver that is down: deliveries wait in the outbox and are retried.
webhooks:
  - {{name: oncall, url: \"http://127.0.0.1:{closed}/hook\", timeout: 2s}}
targets:
  - {{name: closed-port, protocol: smtp, host: 127.0.0.1, port: {closed}, tls: none, probes: [port]}}
  - name: relay
    protocol: smtp
    host: 127.0.0.1
    port: {relay}
    tls: implicit
    ca_file: {relay_ca}
    account: {{username: relay@example.com, password_file: relay.pw}}
    probes: [port, tls, {{auth: {{mechanism: plain}}}}]
  - {{name: idp-untrusted, protocol: imap, host: 127.0.0.1, port: {idp_port}, tls: implicit, probes: [{{tls: {{check_service: false}}}}]}}
  - name: oauth-revoked
    protocol: smtp
    host: 127.0.0.1
    port: {closed}
    tls: implicit
    account:
      username: revoked@example.com
      oauth: {{provider: google, client_id: {CLIENT_ID}, refresh_token_file: revoked.rt, token_url: {google_token}, ca_file: {google_ca}}}
    probes: [token]
  - name: oauth-ok
    protocol: smtp
    host: 127.0.0.1
    port: {closed}
    tls: implicit
    account:
      username: ok@example.com
      oauth: {{provider: microsoft, client_id: {CLIENT_ID}, refresh_token_file: ok.rt, token_url: {ms_token}, ca_file: {ms_ca}}}
    probes: [token]
",
        state = dir.join("state").display(),
        closed = closed_port(),
        relay = relay.port,
        relay_ca = relay.ca_file.display(),
        idp_port = idp_google.port(),
        google_token = idp_google.token_url(),
        google_ca = idp_google.ca_file().display(),
        ms_token = idp_microsoft.token_url(),
        ms_ca = idp_microsoft.ca_file().display(),
    );
    let path = dir.join("mailbeat.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
#[ignore = "needs prometheus and alertmanager: run bash tests/run-all.sh"]
fn shipped_rules_fire_through_alertmanager_and_every_dashboard_panel_has_data() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The servers the agent checks, and the agent.
    let relay = FakeRelay::start(d);
    let google = Idp::start(Flavor::Google);
    google.set_access_token_lifetime(Duration::from_secs(2));
    let microsoft = Idp::start(Flavor::Microsoft);
    let config = agent_config(d, &relay, &google, &microsoft);
    let agent = start_agent(&config, d);

    // Alertmanager with the shipped routing, Prometheus with the shipped rules.
    let receiver = Receiver::start();
    let shipped_am =
        std::fs::read_to_string(root().join("config/alertmanager.example.yml")).unwrap();
    std::fs::write(
        d.join("alertmanager.yml"),
        shortened_alertmanager(&shipped_am, &format!("127.0.0.1:{}", receiver.port)),
    )
    .unwrap();
    let am_port = free_port();
    let am = spawn(
        "alertmanager",
        &binary(&[
            "/usr/bin/prometheus-alertmanager",
            "/usr/local/bin/alertmanager",
        ]),
        &[
            format!("--config.file={}", d.join("alertmanager.yml").display()),
            format!("--storage.path={}", d.join("am-data").display()),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            // No gossip port: nothing but this loopback address.
            "--cluster.listen-address=".to_string(),
            "--log.level=debug".to_string(),
        ],
        d,
        am_port,
    );
    let shipped_rules = std::fs::read_to_string(root().join("config/alerts.yml")).unwrap();
    std::fs::write(d.join("alerts.yml"), shortened_rules(&shipped_rules)).unwrap();
    std::fs::write(
        d.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}}
rule_files: [{rules}]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]
scrape_configs:
  - job_name: {JOB}
    static_configs: [{{targets: ['127.0.0.1:{agent}']}}]
",
            rules = d.join("alerts.yml").display(),
            agent = agent.port,
        ),
    )
    .unwrap();
    let prom_port = free_port();
    let prom = spawn(
        "prometheus",
        &binary(&["/usr/bin/prometheus", "/usr/local/bin/prometheus"]),
        &[
            format!("--config.file={}", d.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", d.join("tsdb").display()),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
            "--log.level=debug".to_string(),
        ],
        d,
        prom_port,
    );
    eprintln!(
        "agent, relay, IdPs, Alertmanager, Prometheus up after {}",
        secs(t0)
    );
    let context = |what: &str| {
        format!(
            "{what}\n--- agent log (tail) ---\n{}\n{}\n{}",
            std::fs::read_to_string(&agent.log)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n"),
            prom.log_text(),
            am.log_text()
        )
    };

    // oauth-revoked: one good refresh (a two-second access token), then the grant is revoked.
    let first_refresh = wait_until(Duration::from_secs(30), || google.refreshes() >= 1);
    assert!(first_refresh, "{}", context("no refresh of oauth-revoked"));
    google.revoke("revoked@example.com");
    // Both OAuth accounts settled: oauth-ok refreshed, oauth-revoked refused, before the state
    // database is locked (a rotation must not be the write that fails).
    let settled = wait_until(Duration::from_secs(30), || {
        let m = http(agent.port, "GET", "/metrics").1;
        value(
            &m,
            "mailbeat_oauth_refresh_success{target=\"oauth-ok\",provider=\"microsoft\"}",
        ) == Some(1.0)
            && value(
                &m,
                "mailbeat_oauth_refresh_success{target=\"oauth-revoked\",provider=\"google\"}",
            ) == Some(0.0)
    });
    assert!(settled, "{}", context("the OAuth accounts never settled"));

    // relay's login is waiting for its 535; hold the state database's write lock, then let the
    // refusal come: the credential back-off it writes cannot be stored.
    let held = wait_until(Duration::from_secs(30), || {
        relay.auths.load(Ordering::SeqCst) >= 1
    });
    assert!(held, "{}", context("relay never got an AUTH"));
    let db = rusqlite::Connection::open(d.join("state/mailbeat.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    relay.open_gate();
    let failed_write = wait_until(Duration::from_secs(30), || {
        agent_metric(
            &agent,
            "mailbeat_state_write_failures_total{table=\"auth_backoff\"}",
        )
        .is_some_and(|v| v >= 1.0)
    });
    db.execute_batch("ROLLBACK").unwrap();
    drop(db);
    assert!(failed_write, "{}", context("no failed state write"));
    eprintln!("scenario in place after {}", secs(t0));

    // Prometheus fires the shipped rules.
    let mut alerts = Vec::new();
    let all_fire = wait_until(Duration::from_secs(60), || {
        alerts = prometheus_alerts(&prom);
        MUST_FIRE.iter().all(|(name, want)| {
            alerts
                .iter()
                .any(|(_, l, s)| s == "firing" && matches(l, name, want))
        })
    });
    let firing: Vec<String> = alerts
        .iter()
        .map(|(n, l, s)| format!("{s} {n} {}", l))
        .collect();
    assert!(
        all_fire,
        "{}",
        context(&format!(
            "not all of {MUST_FIRE:?} fired; Prometheus has:\n{}",
            firing.join("\n")
        ))
    );
    let t_fired = t0.elapsed();
    for (name, l, _) in &alerts {
        assert!(
            !MUST_NOT_FIRE.contains(&name.as_str()) && l["target"] != "oauth-ok",
            "{name} {l} must not fire"
        );
        assert_eq!(l["job"], JOB, "{name}: the alert keeps the job");
    }
    eprintln!(
        "Prometheus: {} alerts, all {} required firing after {:.1} s",
        alerts.len(),
        MUST_FIRE.len(),
        t_fired.as_secs_f64()
    );

    // Alertmanager has them, and inhibits the generic alert of the re-authorization.
    let mut am_alerts = Value::Null;
    let all_in_am = wait_until(Duration::from_secs(60), || {
        am_alerts = am.get_json("/api/v2/alerts").unwrap_or_default();
        let list = am_alerts.as_array().cloned().unwrap_or_default();
        MUST_FIRE.iter().all(|(name, want)| {
            list.iter()
                .any(|a| matches(&a["labels"], name, want) && a["status"]["state"] == "active")
        })
    });
    assert!(
        all_in_am,
        "{}",
        context(&format!("Alertmanager's alerts: {am_alerts:#}"))
    );
    let inhibited = am_alerts.as_array().unwrap().iter().any(|a| {
        matches(
            &a["labels"],
            "MailCheckCritical",
            &[("target", "oauth-revoked"), ("probe", "token")],
        ) && a["status"]["state"] == "suppressed"
            && a["status"]["inhibitedBy"]
                .as_array()
                .is_some_and(|i| !i.is_empty())
    });
    assert!(
        inhibited,
        "MailReauthRequired does not inhibit MailCheckCritical of the same check: {am_alerts:#}"
    );
    eprintln!("Alertmanager: all required active after {}", secs(t0));

    // ... and delivers them to the receiver, in Alertmanager's webhook format, routed as the
    // example says: re-authorization to the account owners, the rest to the admins.
    let delivered = |name: &str, want: &[(&str, &str)]| {
        receiver.deliveries().into_iter().find_map(|(path, body)| {
            body["alerts"]
                .as_array()?
                .iter()
                .find(|a| a["status"] == "firing" && matches(&a["labels"], name, want))
                .map(|a| (path.clone(), body.clone(), a.clone()))
        })
    };
    let all_delivered = wait_until(Duration::from_secs(60), || {
        MUST_FIRE
            .iter()
            .all(|(name, want)| delivered(name, want).is_some())
    });
    let paths: Vec<String> = receiver
        .deliveries()
        .iter()
        .map(|(p, b)| format!("{p} {}", b["groupKey"]))
        .collect();
    assert!(
        all_delivered,
        "{}",
        context(&format!("the receiver got: {paths:#?}"))
    );
    for (name, want) in MUST_FIRE {
        let (path, body, alert) = delivered(name, want).unwrap();
        assert_eq!(body["version"], "4", "{body}");
        assert_eq!(body["status"], "firing", "{body}");
        assert!(body["groupKey"].as_str().is_some_and(|k| !k.is_empty()));
        assert!(body["externalURL"].as_str().is_some(), "{body}");
        let (want_path, want_receiver) = if *name == "MailReauthRequired" {
            ("/reauth", "account-owners")
        } else {
            ("/alerts", "mail-admins")
        };
        assert_eq!(path, want_path, "{name}");
        assert_eq!(body["receiver"], want_receiver, "{name}");
        assert_eq!(
            alert["annotations"]["runbook_url"],
            format!("docs/runbook.md#{}", name.to_lowercase())
        );
        assert!(
            alert["annotations"]["summary"]
                .as_str()
                .is_some_and(|s| !s.contains("{{")),
            "{alert}"
        );
        assert!(
            alert["generatorURL"]
                .as_str()
                .is_some_and(|u| u.contains("/graph?g0.expr=")),
            "{alert}"
        );
    }
    assert!(
        delivered(
            "MailCheckCritical",
            &[("target", "oauth-revoked"), ("probe", "token")]
        )
        .is_none(),
        "an inhibited alert was delivered"
    );
    eprintln!(
        "receiver: {} deliveries, all required after {}",
        receiver.deliveries().len(),
        secs(t0)
    );

    // Every dashboard query, with its variables substituted, returns data now.
    let t_dash = Instant::now();
    let (queries, variables) = dashboard_queries();
    for (uid, name, query) in &variables {
        let values = label_values(&prom, query).unwrap_or_else(|e| panic!("{uid} ${name}: {e}"));
        let want: Vec<String> = match name.as_str() {
            "job" => vec![JOB.to_string()],
            "instance" => vec![format!("127.0.0.1:{}", agent.port)],
            "target" => [
                "closed-port",
                "relay",
                "idp-untrusted",
                "oauth-revoked",
                "oauth-ok",
            ]
            .map(String::from)
            .to_vec(),
            other => panic!("{uid}: unexpected variable {other}"),
        };
        for w in want {
            assert!(values.contains(&w), "{uid} ${name}: {w} not in {values:?}");
        }
    }
    let mut failures: Vec<String>;
    let mut awaiting: Vec<String>;
    let mut rounds = 0;
    loop {
        rounds += 1;
        failures = Vec::new();
        awaiting = Vec::new();
        for q in &queries {
            let expr = substitute(&q.expr);
            let at = format!("{} / {:?}: {}", q.dashboard, q.panel, expr);
            if let Some(v) = unknown_variable(&expr) {
                failures.push(format!("{at}: unknown variable {v}"));
                continue;
            }
            let waiting = AWAITING_ENGINE
                .iter()
                .any(|(d, p)| *d == q.dashboard && *p == q.panel);
            match evaluate(&prom, &expr) {
                Err(e) => failures.push(format!("{at}: error {e}")),
                Ok(0) if waiting => awaiting.push(at),
                Ok(0) => failures.push(format!("{at}: no data")),
                Ok(_) if waiting => failures.push(format!(
                    "{at}: returns data: remove ({:?}, {:?}) from AWAITING_ENGINE",
                    q.dashboard, q.panel
                )),
                Ok(_) => {}
            }
        }
        // A rate over a fresh counter may need one more scrape; give it a few rounds.
        if failures.is_empty() || rounds >= 10 {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(
        failures.is_empty(),
        "{}",
        context(&format!(
            "dashboard panels without data or with errors:\n{}",
            failures.join("\n")
        ))
    );
    let listed: BTreeSet<(&str, &str)> = AWAITING_ENGINE.iter().copied().collect();
    let present: BTreeSet<(&str, &str)> = queries
        .iter()
        .map(|q| (q.dashboard.as_str(), q.panel.as_str()))
        .collect();
    assert!(
        listed.is_subset(&present),
        "AWAITING_ENGINE names panels that do not exist: {:?}",
        listed.difference(&present).collect::<Vec<_>>()
    );
    eprintln!(
        "dashboards: {} queries of {} panels and {} variables evaluated in {:.2} s ({rounds} rounds); \
         expected once #10's engine lands ({}):\n  {}",
        queries.len(),
        present.len(),
        variables.len(),
        t_dash.elapsed().as_secs_f64(),
        awaiting.len(),
        awaiting.join("\n  ")
    );

    // The agent goes away: MailbeatDown fires for it, whatever its job is called, and is delivered.
    drop(agent);
    let down = wait_until(Duration::from_secs(60), || {
        prometheus_alerts(&prom)
            .iter()
            .any(|(n, l, s)| n == "MailbeatDown" && s == "firing" && l["job"] == JOB)
    });
    assert!(down, "{}", prom.log_text());
    let down_delivered = wait_until(Duration::from_secs(60), || {
        delivered("MailbeatDown", &[("job", JOB)]).is_some()
    });
    assert!(down_delivered, "{}", am.log_text());
    eprintln!("MailbeatDown fired and delivered; whole test {}", secs(t0));
}
