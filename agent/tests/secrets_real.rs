//! Secrets never reach logs (at trace level, text and JSON), metrics, the status page, `/probe`
//! or `check` output — checked through the binary against the real Dovecot and Postfix of the
//! test harness, with wrong passwords the servers refuse and a token they cannot use.

use base64::Engine;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{harness, BIN};
const PASSWORD: &str = "Zq9-Wrong-Secret-Pw";
const TOKEN: &str = "ya29.Leak-Check-Token-7731";

fn port(var: &str) -> u16 {
    std::env::var(var).unwrap().parse().unwrap()
}

fn forms(user: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        PASSWORD.to_string(),
        TOKEN.to_string(),
        b64.encode(PASSWORD),
        b64.encode(TOKEN),
        b64.encode(format!("\0{user}\0{PASSWORD}")),
        b64.encode(format!("user={user}\x01auth=Bearer {TOKEN}\x01\x01")),
    ]
}

fn assert_clean(what: &str, text: &str, user: &str) {
    for f in forms(user) {
        assert!(!text.contains(&f), "{what} contains a secret form {f:?}");
    }
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn secrets_stay_out_of_every_output() {
    let (ca, user) = harness("MAILBEAT_TEST_USER2", "bob@mail.test");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), format!("{PASSWORD}\n")).unwrap();
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    let mut yaml = String::from("global: {every: 1h, timeout: 10s}\ntargets:\n");
    for (name, proto, var, tls) in [
        ("imap", "imap", "MAILBEAT_A_IMAP_PORT", "starttls"),
        ("pop3", "pop3", "MAILBEAT_A_POP3S_PORT", "implicit"),
        (
            "smtp",
            "smtp",
            "MAILBEAT_POSTFIX_SUBMISSION_PORT",
            "starttls",
        ),
    ] {
        yaml.push_str(&format!(
            "  - {{name: {name}, protocol: {proto}, host: 127.0.0.1, tls_server_name: mail.test, port: {}, tls: {tls}, ca_file: {ca}, account: {{username: \"{user}\", password_file: pw}}, probes: [auth]}}\n",
            port(var)
        ));
    }
    // A token the server cannot use (Dovecot A offers no XOAUTH2) and one sent to Postfix.
    for (name, var, tls) in [
        ("imap-oauth", "MAILBEAT_A_IMAPS_PORT", "implicit"),
        (
            "smtp-oauth",
            "MAILBEAT_POSTFIX_SUBMISSIONS_PORT",
            "implicit",
        ),
    ] {
        let proto = if name.starts_with("imap") {
            "imap"
        } else {
            "smtp"
        };
        yaml.push_str(&format!(
            "  - {{name: {name}, protocol: {proto}, host: 127.0.0.1, tls_server_name: mail.test, port: {}, tls: {tls}, ca_file: {ca}, account: {{username: \"{user}\", oauth: {{access_token_file: token}}}}, probes: [auth]}}\n",
            port(var)
        ));
    }
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(&config, yaml).unwrap();

    // check, table and JSON, with trace logs.
    for output in ["table", "json"] {
        let out = Command::new(BIN)
            .args([
                "check",
                "--log.level",
                "trace",
                "--output",
                output,
                "--config.file",
            ])
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "wrong passwords are critical");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("auth_bad_credentials"), "{stdout}");
        assert_clean(&format!("check --output {output}"), &stdout, &user);
        assert_clean("check logs", &String::from_utf8_lossy(&out.stderr), &user);
    }

    // run: JSON trace logs, /metrics, status page, /probe.
    let listen = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("run.log");
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--log.level",
            "trace",
            "--log.format",
            "json",
            "--config.file",
        ])
        .arg(&config)
        .args(["--web.listen-address", &format!("127.0.0.1:{listen}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut metrics = String::new();
    while start.elapsed() < Duration::from_secs(30) {
        if TcpStream::connect(("127.0.0.1", listen)).is_ok() {
            metrics = http_get(listen, "/metrics");
            if metrics.matches("mailbeat_probe_success{").count() >= 5 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        metrics.matches("mailbeat_probe_success{").count() >= 5,
        "{metrics}"
    );
    let page = http_get(listen, "/");
    let probe = http_get(listen, "/probe?target=smtp");
    let _ = child.kill();
    let _ = child.wait();
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("\"reason\":\"auth_bad_credentials\""),
        "{logs}"
    );
    assert_clean("/metrics", &metrics, &user);
    assert_clean("status page", &page, &user);
    assert_clean("/probe", &probe, &user);
    assert_clean("run logs", &logs, &user);
    // The back-off state the refusals left behind.
    let data = dir.path().join("data");
    let db = std::fs::read(data.join("mailbeat.db")).expect("the refusals were recorded");
    let wal = std::fs::read(data.join("mailbeat.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert_clean("state database", &String::from_utf8_lossy(&bytes), &user);
    }
}
