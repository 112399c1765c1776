//! `/metrics` and `/probe` with real TLS and login results, from `mailbeat run` against the
//! Dovecot and Postfix of the test harness: the certificate series exist also (above all) when the
//! chain does not verify, `mailbeat_auth_success` always carries its mechanism, blackbox's names
//! are right, and `promtool check metrics` accepts every scrape.

mod support;

use support::*;

fn port(var: &str) -> String {
    std::env::var(var).unwrap()
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn tls_and_auth_series_from_real_servers_pass_promtool() {
    let (ca, user) = harness("MAILBEAT_TEST_USER", "alice@mail.test");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good"), "alicepass\n").unwrap();
    std::fs::write(dir.path().join("bad"), "not-alices-password\n").unwrap();
    let common = format!("host: 127.0.0.1, tls_server_name: mail.test, ca_file: {ca}");
    let yaml = format!(
        "global: {{every: 1h, timeout: 10s}}
targets:
  - {{name: full-chain, protocol: imap, port: {a}, tls: implicit, {common}, account: {{username: \"{user}\", password_file: good}}, probes: [tls, auth]}}
  - {{name: leaf-only, protocol: imap, port: {b}, tls: implicit, {common}, probes: [tls]}}
  - {{name: wrong-password, protocol: smtp, port: {s}, tls: starttls, {common}, account: {{username: \"{user}\", password_file: bad}}, probes: [auth]}}
",
        a = port("MAILBEAT_A_IMAPS_PORT"),
        b = port("MAILBEAT_B_IMAPS_PORT"),
        s = port("MAILBEAT_POSTFIX_SUBMISSION_PORT"),
    );
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(&config, yaml).unwrap();
    let agent = start_agent(&config, dir.path());
    // Every check runs once within the first seconds; wait for the four results.
    let mut m = String::new();
    let all_in = wait_until(std::time::Duration::from_secs(40), || {
        m = http(agent.port, "GET", "/metrics").1;
        m.matches("mailbeat_probe_success{").count() == 4
    });
    assert!(all_in, "{m}");
    promtool_check_metrics(&m);

    let ok = |t: &str, p: &str| {
        value(
            &m,
            &format!("mailbeat_probe_success{{target=\"{t}\",probe=\"{p}\"}}"),
        )
    };
    assert_eq!(ok("full-chain", "tls"), Some(1.0), "{m}");
    assert_eq!(ok("full-chain", "auth"), Some(1.0), "{m}");
    assert_eq!(ok("leaf-only", "tls"), Some(0.0), "{m}");
    assert_eq!(ok("wrong-password", "auth"), Some(0.0), "{m}");

    assert_eq!(
        value(&m, "mailbeat_tls_chain_verified{target=\"full-chain\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&m, "mailbeat_tls_chain_verified{target=\"leaf-only\"}"),
        Some(0.0)
    );
    // Certificate facts of the chain that failed are there, leaf at depth 0.
    assert_eq!(
        value(&m, "mailbeat_tls_presented_certs{target=\"leaf-only\"}"),
        Some(1.0)
    );
    assert!(
        value(&m, "mailbeat_tls_cert_not_after_timestamp_seconds{target=\"leaf-only\",depth=\"0\",subject_cn=\"mail.test\"}")
            .is_some_and(|v| v > 1.7e9),
        "{m}"
    );
    assert!(m.contains("mailbeat_probe_status{target=\"leaf-only\",probe=\"tls\",status=\"critical\",reason=\"tls_chain_incomplete\"} 1"), "{m}");
    assert!(
        m.contains("mailbeat_tls_version_info{target=\"full-chain\",cipher=\"TLS13_"),
        "{m}"
    );
    // Logins by mechanism: a success and a refusal.
    assert!(
        m.contains("mailbeat_auth_success{target=\"full-chain\",mechanism=\"PLAIN\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("mailbeat_auth_success{target=\"wrong-password\",mechanism=\"PLAIN\"} 0"),
        "{m}"
    );

    // /probe in blackbox_exporter's names; the last chain expiry only for a chain that verified.
    let (status, good) = http(agent.port, "GET", "/probe?target=full-chain&probe=tls");
    assert_eq!(status, 200, "{good}");
    promtool_check_metrics(&good);
    assert_eq!(value(&good, "probe_success"), Some(1.0), "{good}");
    let earliest = value(&good, "probe_ssl_earliest_cert_expiry").unwrap();
    let chain = value(&good, "probe_ssl_last_chain_expiry_timestamp_seconds").unwrap();
    assert!(chain >= earliest && chain > 1.7e9, "{good}");
    assert!(
        good.contains("probe_tls_version_info{version=\"TLS 1."),
        "{good}"
    );

    let (status, bad) = http(agent.port, "GET", "/probe?target=leaf-only");
    assert_eq!(status, 200, "{bad}");
    promtool_check_metrics(&bad);
    assert_eq!(value(&bad, "probe_success"), Some(0.0), "{bad}");
    assert!(
        value(&bad, "probe_ssl_earliest_cert_expiry").is_some(),
        "{bad}"
    );
    assert!(
        !bad.contains("probe_ssl_last_chain_expiry_timestamp_seconds "),
        "no verified chain, no chain expiry: {bad}"
    );
}
