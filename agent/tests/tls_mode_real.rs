//! A `tls:` mode wrong for the port, against the harness's Postfix and Dovecot: the `auth` probe
//! says what to change as the `tls` probe does (one explanation for both), instead of rustls's
//! "received corrupt message of type InvalidContentType" or a bare timeout.

mod support;

fn port(var: &str) -> String {
    std::env::var(var).unwrap()
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn a_wrong_tls_mode_for_the_port_is_named_with_the_mode_to_use() {
    let (ca, user) = support::harness("MAILBEAT_TEST_USER", "alice@mail.test");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "alicepass\n").unwrap();
    let common = format!(
        "host: 127.0.0.1, tls_server_name: mail.test, ca_file: {ca}, account: {{username: \"{user}\", password_file: pw}}"
    );
    let submission = port("MAILBEAT_POSTFIX_SUBMISSION_PORT");
    let submissions = port("MAILBEAT_POSTFIX_SUBMISSIONS_PORT");
    let imaps = port("MAILBEAT_A_IMAPS_PORT");
    let yaml = format!(
        "global: {{timeout: 3s}}
targets:
  - {{name: implicit-on-submission, protocol: smtp, port: {submission}, tls: implicit, {common}, probes: [auth, tls]}}
  - {{name: starttls-on-submissions, protocol: smtp, port: {submissions}, tls: starttls, {common}, probes: [auth]}}
  - {{name: starttls-on-imaps, protocol: imap, port: {imaps}, tls: starttls, {common}, probes: [auth]}}
"
    );
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(&config, yaml).unwrap();
    let out = support::mailbeat(&["check", "--output", "json"], &config);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = |target: &str, probe: &str| {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"] == target && r["probe"] == probe)
            .unwrap_or_else(|| panic!("no {target}/{probe} in {report}"))
            .clone()
    };

    // TLS spoken to a plain-text port: what it said, and the mode to use; the same words from
    // both probes.
    for probe in ["auth", "tls"] {
        let r = result("implicit-on-submission", probe);
        assert_eq!(r["reason"], "tls_handshake_failed", "{r}");
        let message = r["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "port {submission} speaks plain text, not TLS (it said '220 "
            )),
            "{probe}: {message}"
        );
        assert!(message.ends_with("): use tls: starttls"), "{message}");
        assert!(!message.contains("InvalidContentType"), "{message}");
    }

    // A greeting awaited on an implicit-TLS port: silence, and the mode to use.
    for (target, port) in [
        ("starttls-on-submissions", &submissions),
        ("starttls-on-imaps", &imaps),
    ] {
        let r = result(target, "auth");
        assert_eq!(r["reason"], "server_timeout", "{r}");
        let message = r["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("if port {port} speaks implicit TLS")),
            "{message}"
        );
        assert!(message.ends_with("use tls: implicit"), "{message}");
    }
}
