//! A secret that JSON escapes (quotes, backslashes, non-ASCII, control characters), quoted back
//! by a server in its refusal, reaches no output: `check` JSON and table, trace logs (text and
//! JSON), `/metrics`, `/probe` and the status page. Black-box through the binary, against a
//! loopback SMTP server that decodes `AUTH PLAIN` and repeats the password in its `535`.

use base64::Engine;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

mod support;

use support::{free_port, http, wait_until, BIN};

const USER: &str = "alice@example.com";
/// JSON escapes every one of the interesting parts: `"`, `\`, a tab, a control character.
const PASSWORD: &str = "pa\"ss\\wörd\t密码\u{1b}-x";

/// An SMTP server that says which password it refused, in the clear.
fn echoing_smtp_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let mut out = stream.try_clone().unwrap();
                let mut lines = BufReader::new(stream);
                let _ = out.write_all(b"220 mail.test ESMTP echo\r\n");
                let mut line = String::new();
                for _ in 0..16 {
                    line.clear();
                    if lines.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply = if upper.starts_with("EHLO") {
                        "250-mail.test\r\n250 AUTH PLAIN\r\n".to_string()
                    } else if let Some(b64) = line.trim_end().strip_prefix("AUTH PLAIN ") {
                        let decoded = base64::engine::general_purpose::STANDARD
                            .decode(b64)
                            .unwrap_or_default();
                        let text = String::from_utf8_lossy(&decoded).replace('\0', "/");
                        format!("535 5.7.8 Authentication failed for {text}\r\n")
                    } else if upper.starts_with("QUIT") {
                        "221 bye\r\n".to_string()
                    } else {
                        "502 5.5.2 unknown\r\n".to_string()
                    };
                    if out.write_all(reply.as_bytes()).is_err() || upper.starts_with("QUIT") {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn forms() -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let escaped = serde_json::to_string(PASSWORD).unwrap();
    vec![
        PASSWORD.to_string(),
        escaped.trim_matches('"').to_string(),
        format!("{PASSWORD:?}").trim_matches('"').to_string(),
        b64.encode(PASSWORD),
        b64.encode(format!("\0{USER}\0{PASSWORD}")),
        // The part of the secret after its first escape: what a half-redaction would leave.
        "wörd".to_string(),
        "密码".to_string(),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for form in forms() {
        assert!(!text.contains(&form), "{what} holds {form:?}:\n{text}");
    }
}

#[test]
fn a_secret_json_escapes_is_redacted_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), PASSWORD).unwrap();
    let port = echoing_smtp_server();
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(
        &config,
        format!(
            "global: {{every: 1h, timeout: 10s, state_dir: data}}\ntargets:\n  - {{name: relay, protocol: smtp, host: 127.0.0.1, port: {port}, tls: none, account: {{username: \"{USER}\", password_file: pw}}, probes: [auth]}}\n"
        ),
    )
    .unwrap();

    for output in ["json", "table"] {
        // A fresh state each time, so the server is asked (not the back-off).
        let _ = std::fs::remove_dir_all(dir.path().join("data"));
        let out = Command::new(BIN)
            .args(["check", "--log.level", "trace", "--output", output])
            .arg("--config.file")
            .arg(&config)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{stdout}");
        assert!(
            stdout.contains("Authentication failed for"),
            "the server's words stay: {stdout}"
        );
        assert!(stdout.contains("<redacted>"), "{stdout}");
        assert_clean(&format!("check --output {output}"), &stdout);
        assert_clean("check trace logs", &String::from_utf8_lossy(&out.stderr));
    }

    let _ = std::fs::remove_dir_all(dir.path().join("data"));
    let listen = free_port();
    let log = dir.path().join("run.log");
    let mut child = Command::new(BIN)
        .args(["run", "--log.level", "trace", "--log.format", "json"])
        .arg("--config.file")
        .arg(&config)
        .args(["--web.listen-address", &format!("127.0.0.1:{listen}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut metrics = String::new();
    let ready = wait_until(std::time::Duration::from_secs(20), || {
        if std::net::TcpStream::connect(("127.0.0.1", listen)).is_err() {
            return false;
        }
        metrics = http(listen, "GET", "/metrics").1;
        metrics.contains("mailbeat_probe_success{target=\"relay\"")
    });
    let page = http(listen, "GET", "/").1;
    let probe = http(listen, "GET", "/probe?target=relay").1;
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready, "{metrics}");
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("auth_bad_credentials"), "{logs}");
    assert_clean("/metrics", &metrics);
    assert_clean("status page", &page);
    assert_clean("/probe", &probe);
    assert_clean("run logs", &logs);
}
