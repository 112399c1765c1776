//! The `tls` probe against real Dovecot and Postfix: full chain vs leaf only (what
//! `openssl s_client` shows as verify code 0 vs 21), implicit TLS and STARTTLS for IMAP, POP3 and
//! SMTP, and the name and trust failures an admin meets.

use mailbeat_itest::{check_yaml, result, Harness};

fn target(name: &str, protocol: &str, port_var: &str, tls: &str, ca: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    protocol: {protocol}\n    host: 127.0.0.1\n    tls_server_name: mail.test\n    port: {}\n    tls: {tls}\n    ca_file: {ca}\n    probes: [tls]\n{extra}",
        Harness::port(port_var)
    )
}

#[tokio::test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
async fn full_chain_verifies_and_leaf_only_is_an_incomplete_chain() {
    let h = Harness::get();
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("global: {timeout: 10s}\ntargets:\n");
    for (name, proto, var, tls) in [
        ("a-imaps", "imap", "MAILBEAT_A_IMAPS_PORT", "implicit"),
        (
            "a-imap-starttls",
            "imap",
            "MAILBEAT_A_IMAP_PORT",
            "starttls",
        ),
        ("a-pop3s", "pop3", "MAILBEAT_A_POP3S_PORT", "implicit"),
        ("a-pop3-stls", "pop3", "MAILBEAT_A_POP3_PORT", "starttls"),
        (
            "postfix-465",
            "smtp",
            "MAILBEAT_POSTFIX_SUBMISSIONS_PORT",
            "implicit",
        ),
        (
            "postfix-587",
            "smtp",
            "MAILBEAT_POSTFIX_SUBMISSION_PORT",
            "starttls",
        ),
        ("b-imaps", "imap", "MAILBEAT_B_IMAPS_PORT", "implicit"),
        (
            "b-imap-starttls",
            "imap",
            "MAILBEAT_B_IMAP_PORT",
            "starttls",
        ),
        (
            "b-submission-starttls",
            "smtp",
            "MAILBEAT_B_SUBMISSION_PORT",
            "starttls",
        ),
    ] {
        yaml.push_str(&target(name, proto, var, tls, &h.ca, ""));
    }
    let report = check_yaml(dir.path(), &yaml).await;

    for ok in [
        "a-imaps",
        "a-imap-starttls",
        "a-pop3s",
        "a-pop3-stls",
        "postfix-465",
        "postfix-587",
    ] {
        let r = result(&report, ok, "tls");
        assert_eq!(r["status"], "ok", "{ok}: {r:#}");
        assert_eq!(r["observations"]["tls_chain_verified"], 1.0, "{ok}");
        assert_eq!(
            r["observations"]["tls_presented_certs"], 2.0,
            "{ok}: leaf + intermediate"
        );
        assert_eq!(r["details"]["verify"]["code"], 0, "{ok}");
    }
    for incomplete in ["b-imaps", "b-imap-starttls", "b-submission-starttls"] {
        let r = result(&report, incomplete, "tls");
        assert_eq!(r["status"], "critical", "{incomplete}: {r:#}");
        assert_eq!(r["reason"], "tls_chain_incomplete", "{incomplete}: {r:#}");
        assert_eq!(
            r["details"]["verify"]["code"], 21,
            "{incomplete}: openssl's verify code"
        );
        // Certificate facts are reported even though verification failed.
        assert_eq!(r["observations"]["tls_chain_verified"], 0.0);
        assert_eq!(r["observations"]["tls_presented_certs"], 1.0);
        assert!(
            r["observations"]["tls_earliest_cert_expiry_timestamp_seconds"]
                .as_f64()
                .unwrap()
                > 1.7e9
        );
        assert!(
            r["remediation"].as_str().unwrap().contains("intermediate"),
            "{r:#}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
async fn wrong_name_and_unknown_ca_are_told_apart() {
    let h = Harness::get();
    let dir = tempfile::tempdir().unwrap();
    let port = Harness::port("MAILBEAT_A_IMAPS_PORT");
    let yaml = format!(
        "targets:\n  - {{name: wrong-name, protocol: imap, host: 127.0.0.1, tls_server_name: imap.example.org, port: {port}, tls: implicit, ca_file: {ca}, probes: [tls]}}\n  - {{name: public-roots-only, protocol: imap, host: 127.0.0.1, tls_server_name: mail.test, port: {port}, tls: implicit, probes: [tls]}}\n",
        ca = h.ca
    );
    let report = check_yaml(dir.path(), &yaml).await;
    assert_eq!(
        result(&report, "wrong-name", "tls")["reason"],
        "tls_hostname_mismatch"
    );
    assert_eq!(
        result(&report, "public-roots-only", "tls")["reason"],
        "tls_untrusted_root"
    );
}
