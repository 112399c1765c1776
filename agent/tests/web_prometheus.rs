//! A real Prometheus scrapes `mailbeat run` over TLS with a client certificate and basic auth,
//! as `--web.config.file` promises: the job with the right credentials is `up == 1` and brings the
//! agent's series, the job with a wrong password and the job without a client certificate are
//! `up == 0`. Prometheus runs on a free loopback port with a temp config and storage, and is
//! stopped by its PID at the end.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::pki::Pki;
use support::*;

struct Prometheus {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prometheus_binary() -> String {
    for candidate in ["/usr/bin/prometheus", "/usr/local/bin/prometheus"] {
        if Path::new(candidate).exists() {
            return candidate.to_string();
        }
    }
    panic!("prometheus not found: run bash tests/run-all.sh, which installs it");
}

fn start_prometheus(dir: &Path, config: &str) -> Prometheus {
    let file = dir.join("prometheus.yml");
    std::fs::write(&file, config).unwrap();
    let port = free_port();
    let log = dir.join("prometheus.log");
    let child = Command::new(prometheus_binary())
        .arg(format!("--config.file={}", file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let p = Prometheus { child, port, log };
    let ready = wait_until(Duration::from_secs(30), || {
        get(p.port, "/-/ready").is_some_and(|(status, _)| status == 200)
    });
    assert!(ready, "prometheus never got ready:\n{}", p.log_text());
    p
}

impl Prometheus {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /api/v1/...` as JSON.
    fn api(&self, path: &str) -> Option<serde_json::Value> {
        let (status, body) = get(self.port, path)?;
        (status == 200).then(|| serde_json::from_str(&body).ok())?
    }
}

/// HTTP/1.0 GET (no chunked answers), `None` while nothing answers.
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

/// The `up` value of each job Prometheus has scraped so far.
fn up_by_job(p: &Prometheus) -> Vec<(String, f64)> {
    let Some(v) = p.api("/api/v1/query?query=up") else {
        return Vec::new();
    };
    v["data"]["result"]
        .as_array()
        .map(|series| {
            series
                .iter()
                .filter_map(|s| {
                    let job = s["metric"]["job"].as_str()?.to_string();
                    let value = s["value"][1].as_str()?.parse().ok()?;
                    Some((job, value))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[ignore = "needs prometheus (Debian package): run bash tests/run-all.sh"]
fn prometheus_scrapes_over_tls_with_client_cert_and_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(
        &config,
        format!(
            "global: {{every: 1h, timeout: 2s}}\ntargets:\n  - {{name: relay, protocol: smtp, host: 127.0.0.1, port: {}, tls: none, probes: [port]}}\n",
            closed_port()
        ),
    )
    .unwrap();
    let password = "scrape-password-for-prometheus";
    std::fs::write(
        dir.path().join("web.yml"),
        format!(
            "tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
basic_auth_users:
  prometheus: {}
",
            bcrypt::hash(password, 10).unwrap()
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("password"), password).unwrap();
    let web = dir.path().join("web.yml").display().to_string();
    let agent = start_agent_with(&config, dir.path(), &["--web.config.file", &web]);

    let target = format!("127.0.0.1:{}", agent.port);
    let ca = pki.path("ca.crt");
    let (cert, key) = (pki.path("client.crt"), pki.path("client.key"));
    let password_file = dir.path().join("password").display().to_string();
    let prometheus = start_prometheus(
        dir.path(),
        &format!(
            "global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: mailbeat
    scheme: https
    tls_config: {{ca_file: {ca}, cert_file: {cert}, key_file: {key}}}
    basic_auth: {{username: prometheus, password_file: {password_file}}}
    static_configs: [{{targets: ['{target}']}}]
  - job_name: wrong-password
    scheme: https
    tls_config: {{ca_file: {ca}, cert_file: {cert}, key_file: {key}}}
    basic_auth: {{username: prometheus, password: not-the-password}}
    static_configs: [{{targets: ['{target}']}}]
  - job_name: no-client-cert
    scheme: https
    tls_config: {{ca_file: {ca}}}
    basic_auth: {{username: prometheus, password_file: {password_file}}}
    static_configs: [{{targets: ['{target}']}}]
"
        ),
    );

    let mut up = Vec::new();
    let all_scraped = wait_until(Duration::from_secs(60), || {
        up = up_by_job(&prometheus);
        up.len() == 3
    });
    assert!(
        all_scraped,
        "jobs never all scraped: {up:?}\n{}",
        prometheus.log_text()
    );
    // One round may catch the agent between scrapes; `up` of the good job must settle at 1.
    let settled = wait_until(Duration::from_secs(30), || {
        up = up_by_job(&prometheus);
        up.iter().any(|(j, v)| j == "mailbeat" && *v == 1.0)
    });
    assert!(
        settled,
        "up of the good job: {up:?}\n{}",
        prometheus.log_text()
    );
    up.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        up,
        vec![
            ("mailbeat".to_string(), 1.0),
            ("no-client-cert".to_string(), 0.0),
            ("wrong-password".to_string(), 0.0),
        ],
        "{}",
        prometheus.log_text()
    );

    // The good job brought the agent's own series.
    let mut series = serde_json::Value::Null;
    let found = wait_until(Duration::from_secs(20), || {
        series = prometheus
            .api("/api/v1/query?query=mailbeat_build_info")
            .unwrap_or_default();
        series["data"]["result"]
            .as_array()
            .is_some_and(|r| r.iter().any(|s| s["metric"]["job"] == "mailbeat"))
    });
    assert!(found, "{series}");

    // Why the others are down, in Prometheus' words: a 401, and a failed handshake.
    let targets = prometheus.api("/api/v1/targets").unwrap();
    let error_of = |job: &str| {
        targets["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["labels"]["job"] == job)
            .and_then(|t| t["lastError"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        error_of("wrong-password").contains("401"),
        "{}",
        error_of("wrong-password")
    );
    let no_cert = error_of("no-client-cert");
    // Go says "remote error: tls: certificate required".
    assert!(
        no_cert.contains("tls:") && !no_cert.contains("401"),
        "{no_cert}"
    );
    assert_eq!(error_of("mailbeat"), "");

    // Neither the password nor the hash reached the agent's log.
    let log = std::fs::read_to_string(&agent.log).unwrap();
    assert!(!log.contains(password) && !log.contains("$2b$"), "{log}");
    drop(prometheus);
}
