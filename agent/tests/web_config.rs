//! `--web.config.file` and `--web.enable-lifecycle`, as a user runs them: `mailbeat run` as a
//! process behind TLS (certificates made by rcgen at test time) and basic auth, spoken to by a
//! rustls client trusting the test CA; client certificates by `client_auth_type`; TLS versions;
//! the lifecycle switch (and SIGHUP, which always reloads); a bad web config stopping the agent and
//! failing `validate`, never showing a password or a hash.

mod support;

use std::path::Path;
use std::process::Command;
use support::pki::Pki;
use support::*;

const PASSWORD: &str = "correct-horse-battery-staple";

fn write_agent_config(path: &Path, target: &str) {
    std::fs::write(
        path,
        format!(
            "global: {{every: 1h, timeout: 2s}}\ntargets:\n  - {{name: {target}, protocol: smtp, host: 127.0.0.1, port: {}, tls: none, probes: [port]}}\n",
            closed_port()
        ),
    )
    .unwrap();
}

/// A temp dir with the PKI, an agent config and a web config of `web` (YAML; `HASH` stands for
/// the hash of [`PASSWORD`]).
fn setup(web: &str) -> (tempfile::TempDir, Pki, String) {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    write_agent_config(&dir.path().join("mailbeat.yaml"), "relay");
    let hash = bcrypt_hash(PASSWORD);
    std::fs::write(dir.path().join("web.yml"), web.replace("HASH", &hash)).unwrap();
    (dir, pki, hash)
}

fn start(dir: &Path, extra: &[&str]) -> Agent {
    let web = dir.join("web.yml").display().to_string();
    let mut args = vec!["--web.config.file", web.as_str()];
    args.extend_from_slice(extra);
    start_agent_with(&dir.join("mailbeat.yaml"), dir, &args)
}

const TLS_AND_AUTH: &str = "tls_server_config:
  cert_file: server.crt
  key_file: server.key
basic_auth_users:
  prometheus: HASH
";

const PATHS: [(&str, &str); 7] = [
    ("GET", "/metrics"),
    ("GET", "/probe?target=relay"),
    ("GET", "/-/healthy"),
    ("GET", "/-/ready"),
    ("POST", "/-/reload"),
    ("GET", "/"),
    ("GET", "/no-such-path"),
];

#[test]
fn tls_and_basic_auth_guard_every_path() {
    let (dir, pki, hash) = setup(TLS_AND_AUTH);
    let agent = start(dir.path(), &["--web.enable-lifecycle"]);
    let good = Client {
        pki: Some(&pki),
        basic: Some(("prometheus", PASSWORD)),
        ..Client::default()
    };
    let expected = [200, 200, 200, 200, 200, 200, 404];
    for ((method, path), status) in PATHS.iter().zip(expected) {
        let r = good.request(agent.port, method, path).unwrap();
        assert_eq!(r.status, status, "{method} {path}: {r:?}");
    }
    let m = good.request(agent.port, "GET", "/metrics").unwrap().body;
    assert!(m.contains("mailbeat_build_info{"), "{m}");
    let p = good
        .request(agent.port, "GET", "/probe?target=relay")
        .unwrap()
        .body;
    assert_eq!(value(&p, "probe_success"), Some(0.0), "{p}");

    let refused = [
        ("wrong password", Some(("prometheus", "not-the-password"))),
        ("unknown user", Some(("mallory", PASSWORD))),
        ("empty credentials", Some(("", ""))),
        ("no credentials", None),
    ];
    for (what, basic) in refused {
        let client = Client {
            pki: Some(&pki),
            basic,
            ..Client::default()
        };
        for (method, path) in PATHS {
            let r = client.request(agent.port, method, path).unwrap();
            assert_eq!(r.status, 401, "{what}: {method} {path}: {r:?}");
            assert_eq!(
                r.header("www-authenticate"),
                Some("Basic realm=\"mailbeat\""),
                "{what}: {method} {path}"
            );
            assert!(!r.body.contains("mailbeat_"), "{what}: {method} {path}");
        }
    }

    // Plain HTTP to the TLS listener: the handshake fails, no HTTP answer comes back.
    let plain = Client {
        basic: Some(("prometheus", PASSWORD)),
        ..Client::default()
    };
    let r = plain.request(agent.port, "GET", "/metrics");
    assert!(r.is_err(), "plain HTTP got an answer: {r:?}");

    // The agent still serves after all that, and its log holds no secret.
    assert_eq!(
        good.request(agent.port, "GET", "/-/healthy")
            .unwrap()
            .status,
        200
    );
    let log = std::fs::read_to_string(&agent.log).unwrap();
    assert!(
        log.contains("mailbeat started") && log.contains("tls=true"),
        "{log}"
    );
    assert!(log.contains("basic_auth_users=1"), "{log}");
    assert!(log.contains("TLS handshake failed"), "{log}");
    for secret in [PASSWORD, "not-the-password", &hash, &hash[7..]] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

#[test]
fn basic_auth_without_tls() {
    let (dir, _pki, _) = setup("basic_auth_users:\n  prometheus: HASH\n");
    let agent = start(dir.path(), &[]);
    let good = Client {
        basic: Some(("prometheus", PASSWORD)),
        ..Client::default()
    };
    assert_eq!(
        good.request(agent.port, "GET", "/metrics").unwrap().status,
        200
    );
    let r = Client::default()
        .request(agent.port, "GET", "/metrics")
        .unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"mailbeat\"")
    );
    // The same connection handling as before: support::http (no credentials) gets 401 too.
    assert_eq!(http(agent.port, "GET", "/").0, 401);
}

/// Which client certificates each `client_auth_type` lets in: none, one of the CA, one of
/// another CA.
#[test]
fn client_certificates_by_client_auth_type() {
    let cases: [(&str, [bool; 3]); 5] = [
        ("NoClientCert", [true, true, true]),
        ("RequestClientCert", [true, true, true]),
        ("RequireAnyClientCert", [false, true, true]),
        ("VerifyClientCertIfGiven", [true, true, false]),
        ("RequireAndVerifyClientCert", [false, true, false]),
    ];
    for (mode, allowed) in cases {
        let ca = if mode == "NoClientCert" {
            ""
        } else {
            "\n  client_ca_file: ca.crt"
        };
        let web = format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key{ca}\n  client_auth_type: {mode}\n"
        );
        let (dir, pki, _) = setup(&web);
        let agent = start(dir.path(), &[]);
        for (cert, ok) in [None, Some("client"), Some("stranger")]
            .into_iter()
            .zip(allowed)
        {
            let client = Client {
                pki: Some(&pki),
                client_cert: cert,
                ..Client::default()
            };
            let r = client.request(agent.port, "GET", "/-/healthy");
            match (ok, &r) {
                (true, Ok(reply)) => assert_eq!(reply.status, 200, "{mode} {cert:?}"),
                (false, Err(_)) => {}
                _ => panic!("{mode} with client cert {cert:?}: {r:?} (expected allowed: {ok})"),
            }
        }
        if allowed.contains(&false) {
            // The agent logs the failed handshake after the client has seen it fail: wait for it.
            let mut log = String::new();
            let logged = wait_until(std::time::Duration::from_secs(10), || {
                log = std::fs::read_to_string(&agent.log).unwrap_or_default();
                log.contains("TLS handshake failed")
            });
            assert!(logged, "{mode}:\n{log}");
        }
    }
}

/// Client certificates and basic auth together: both must pass.
#[test]
fn client_certificate_and_basic_auth_together() {
    let (dir, pki, _) = setup(
        "tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
basic_auth_users:
  prometheus: HASH
",
    );
    let agent = start(dir.path(), &[]);
    let both = Client {
        pki: Some(&pki),
        client_cert: Some("client"),
        basic: Some(("prometheus", PASSWORD)),
        ..Client::default()
    };
    assert_eq!(
        both.request(agent.port, "GET", "/metrics").unwrap().status,
        200
    );
    let cert_only = Client {
        basic: None,
        ..both.clone()
    };
    assert_eq!(
        cert_only
            .request(agent.port, "GET", "/metrics")
            .unwrap()
            .status,
        401
    );
    let password_only = Client {
        client_cert: None,
        ..both.clone()
    };
    assert!(password_only
        .request(agent.port, "GET", "/metrics")
        .is_err());
}

#[test]
fn min_version_tls13_refuses_tls12() {
    let (dir, pki, _) = setup(
        "tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS13}\n",
    );
    let agent = start(dir.path(), &[]);
    let tls13 = Client {
        pki: Some(&pki),
        tls13_only: true,
        ..Client::default()
    };
    assert_eq!(
        tls13.request(agent.port, "GET", "/-/ready").unwrap().status,
        200
    );
    let tls12 = Client {
        pki: Some(&pki),
        tls12_only: true,
        ..Client::default()
    };
    assert!(tls12.request(agent.port, "GET", "/-/ready").is_err());

    // By default both are served.
    let (dir, pki, _) = setup("tls_server_config: {cert_file: server.crt, key_file: server.key}\n");
    let agent = start(dir.path(), &[]);
    let tls12 = Client {
        pki: Some(&pki),
        tls12_only: true,
        ..Client::default()
    };
    assert_eq!(
        tls12.request(agent.port, "GET", "/-/ready").unwrap().status,
        200
    );
}

#[test]
fn reload_over_http_needs_the_lifecycle_flag_sighup_always_works() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mailbeat.yaml");
    write_agent_config(&config, "before");
    let agent = start_agent(&config, dir.path());
    for method in ["POST", "PUT"] {
        let (status, body) = http(agent.port, method, "/-/reload");
        assert_eq!(status, 403, "{method}: {body}");
        assert_eq!(body, "Lifecycle API is not enabled.\n");
    }
    assert_eq!(http(agent.port, "GET", "/-/reload").0, 405);
    write_agent_config(&config, "after-hup");
    let pid = agent.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    scrape_until(&agent, "mailbeat_target_info{target=\"after-hup\"");

    let agent = start_agent_with(&config, dir.path(), &["--web.enable-lifecycle"]);
    write_agent_config(&config, "after-post");
    let (status, body) = http(agent.port, "POST", "/-/reload");
    assert_eq!(status, 200, "{body}");
    let m = http(agent.port, "GET", "/metrics").1;
    assert!(
        m.contains("mailbeat_target_info{target=\"after-post\""),
        "{m}"
    );
}

/// `mailbeat run` with the web config, to the end (it should not start).
fn run_with(dir: &Path, web: &Path) -> std::process::Output {
    command(
        &[
            "run",
            "--web.listen-address",
            &format!("127.0.0.1:{}", free_port()),
            "--web.config.file",
            &web.display().to_string(),
        ],
        &dir.join("mailbeat.yaml"),
    )
    .output()
    .unwrap()
}

#[test]
fn a_bad_web_config_stops_the_agent_and_fails_validate() {
    let dir = tempfile::tempdir().unwrap();
    let _pki = Pki::new(dir.path());
    write_agent_config(&dir.path().join("mailbeat.yaml"), "relay");
    let hash = bcrypt_hash(PASSWORD);
    let cases = [
        (
            "missing-file.yml",
            None,
            "missing-file.yml: no such file",
        ),
        (
            "unknown-key.yml",
            Some("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cipher_suites: [x]\n".to_string()),
            "unknown-key.yml:4:3: unknown field `cipher_suites`",
        ),
        (
            "missing-cert.yml",
            Some("tls_server_config: {cert_file: nope.crt, key_file: server.key}\n".to_string()),
            "missing-cert.yml:1:32: tls_server_config.cert_file: cannot read ",
        ),
        (
            "bad-pem.yml",
            Some("tls_server_config: {cert_file: mailbeat.yaml, key_file: server.key}\n".to_string()),
            "holds no PEM certificate",
        ),
        (
            "wrong-key.yml",
            Some("tls_server_config: {cert_file: server.crt, key_file: client.key}\n".to_string()),
            "tls_server_config: the key_file does not fit the cert_file",
        ),
        (
            "bad-hash.yml",
            Some(format!("basic_auth_users:\n  prometheus: '{}'\n", &hash[..50])),
            "bad-hash.yml:2:15: basic_auth_users.prometheus: not a bcrypt hash",
        ),
        (
            "plain-password.yml",
            Some(format!("basic_auth_users:\n  prometheus: {PASSWORD}\n")),
            "basic_auth_users.prometheus: not a bcrypt hash",
        ),
        (
            "wrong-type.yml",
            Some("basic_auth_users: [prometheus]\n".to_string()),
            "wrong-type.yml:1:19: ",
        ),
        (
            "bad-mode.yml",
            Some("tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: Always}\n".to_string()),
            "unknown variant `Always`",
        ),
    ];
    for (file, text, expected) in cases {
        let web = dir.path().join(file);
        if let Some(text) = &text {
            std::fs::write(&web, text).unwrap();
        }
        let out = run_with(dir.path(), &web);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}: {err}");
        assert!(err.contains(expected), "{file}: {err}");
        assert!(!err.contains("mailbeat started"), "{file}: {err}");

        // validate: the web config alone (no mailbeat.yaml in the working directory) ...
        let out = Command::new(BIN)
            .args(["validate", "--web.config.file"])
            .arg(&web)
            .current_dir(std::env::temp_dir())
            .env_remove("MAILBEAT_CONFIG_FILE")
            .output()
            .unwrap();
        let verr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}: {verr}");
        assert!(
            verr.starts_with("FAILED: ") && verr.contains(expected),
            "{file}: {verr}"
        );
        for secret in [PASSWORD, &hash[..50], &hash[7..50]] {
            assert!(!err.contains(secret), "{file} shows a secret: {err}");
            assert!(!verr.contains(secret), "{file} shows a secret: {verr}");
        }
    }
}

#[test]
fn validate_checks_the_web_config_alone_or_with_the_config() {
    let (dir, _pki, hash) = setup(TLS_AND_AUTH);
    let web = dir.path().join("web.yml");
    // Alone: no config file exists where the default would look.
    let out = Command::new(BIN)
        .args(["validate", "--web.config.file"])
        .arg(&web)
        .current_dir(std::env::temp_dir())
        .env_remove("MAILBEAT_CONFIG_FILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("web.yml is valid: TLS (TLS12..TLS13, client certificates: NoClientCert), basic auth with 1 user(s)"),
        "{stdout}"
    );
    assert!(!stdout.contains(&hash));

    // With --config.file: both are checked, both must be good.
    let config = dir.path().join("mailbeat.yaml");
    let out = mailbeat(
        &["validate", "--web.config.file", &web.display().to_string()],
        &config,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("web.yml is valid") && stdout.contains("mailbeat.yaml is valid"));

    std::fs::write(&config, "targets: [{name: x, protocol: smtp, port: 0}]\n").unwrap();
    let out = mailbeat(
        &["validate", "--web.config.file", &web.display().to_string()],
        &config,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("web.yml is valid"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FAILED: "));

    // Without the flag, validate is as before: the config file only.
    write_agent_config(&config, "relay");
    let out = mailbeat(&["validate"], &config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !stdout.contains("web.yml"),
        "{stdout}"
    );
}
