//! The `auth` probe against real Dovecot (IMAP, POP3) and Postfix submission with Dovecot SASL:
//! good and bad passwords over implicit TLS and STARTTLS, AUTH before STARTTLS, and secrets that
//! never reach the output.

use mailbeat_itest::{check_yaml, result, write, Harness};

#[tokio::test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
async fn good_and_bad_passwords_on_every_protocol() {
    let h = Harness::get();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good", &format!("{}\n", h.password));
    // A distinctive wrong password, to prove it never appears in any output.
    write(dir.path(), "bad", "Wr0ng-Pa55-zq8x\n");
    let mut yaml = String::from("global: {timeout: 15s}\ntargets:\n");
    let cases = [
        ("imaps", "imap", "MAILBEAT_A_IMAPS_PORT", "implicit"),
        ("imap-starttls", "imap", "MAILBEAT_A_IMAP_PORT", "starttls"),
        ("pop3s", "pop3", "MAILBEAT_A_POP3S_PORT", "implicit"),
        ("pop3-stls", "pop3", "MAILBEAT_A_POP3_PORT", "starttls"),
        (
            "postfix-587",
            "smtp",
            "MAILBEAT_POSTFIX_SUBMISSION_PORT",
            "starttls",
        ),
        (
            "postfix-465",
            "smtp",
            "MAILBEAT_POSTFIX_SUBMISSIONS_PORT",
            "implicit",
        ),
    ];
    for (name, proto, var, tls) in cases {
        for (suffix, user, pw) in [("good", &h.user, "good"), ("bad", &h.user2, "bad")] {
            yaml.push_str(&format!(
                "  - name: {name}-{suffix}\n    protocol: {proto}\n    host: 127.0.0.1\n    tls_server_name: mail.test\n    port: {}\n    tls: {tls}\n    ca_file: {}\n    account: {{username: \"{user}\", password_file: {pw}}}\n    probes: [auth]\n",
                Harness::port(var),
                h.ca
            ));
        }
    }
    let report = check_yaml(dir.path(), &yaml).await;
    for (name, ..) in cases {
        let good = result(&report, &format!("{name}-good"), "auth");
        assert_eq!(good["status"], "ok", "{name}: {good:#}");
        assert_eq!(good["observations"]["auth_success"], 1.0);
        let bad = result(&report, &format!("{name}-bad"), "auth");
        assert_eq!(bad["status"], "critical", "{name}: {bad:#}");
        assert_eq!(bad["reason"], "auth_bad_credentials", "{name}: {bad:#}");
        assert_eq!(bad["observations"]["auth_success"], 0.0);
        assert!(!bad["remediation"].as_str().unwrap().is_empty());
    }
    // The server's own words are kept.
    let imap = result(&report, "imaps-bad", "auth");
    assert!(
        imap["message"]
            .as_str()
            .unwrap()
            .contains("AUTHENTICATIONFAILED"),
        "{imap:#}"
    );
    let smtp = result(&report, "postfix-587-bad", "auth");
    assert!(
        smtp["message"].as_str().unwrap().contains("5.7.8"),
        "{smtp:#}"
    );

    let json = serde_json::to_string(&report).unwrap();
    assert!(
        !json.contains("Wr0ng-Pa55-zq8x"),
        "a password reached the check output"
    );
    assert!(
        !json.contains(&h.password),
        "a password reached the check output"
    );
}

#[tokio::test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
async fn auth_before_starttls_is_starttls_required() {
    let h = Harness::get();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good", &format!("{}\n", h.password));
    // Dovecot counts a connection from its own address (127.0.0.1 -> 127.0.0.1) as secure and
    // takes a plaintext password on it; from 127.0.0.2 it behaves as it would for any client.
    let mut yaml = String::from("targets:\n");
    for (name, proto, var, source) in [
        (
            "postfix-plain",
            "smtp",
            "MAILBEAT_POSTFIX_SUBMISSION_PORT",
            None,
        ),
        (
            "dovecot-imap-plain",
            "imap",
            "MAILBEAT_A_IMAP_PORT",
            Some("127.0.0.2"),
        ),
        (
            "dovecot-pop3-plain",
            "pop3",
            "MAILBEAT_A_POP3_PORT",
            Some("127.0.0.2"),
        ),
        (
            "dovecot-submission-plain",
            "smtp",
            "MAILBEAT_A_SUBMISSION_PORT",
            Some("127.0.0.2"),
        ),
    ] {
        let source = source
            .map(|s| format!("    source_address: {s}\n"))
            .unwrap_or_default();
        yaml.push_str(&format!(
            "  - name: {name}\n    protocol: {proto}\n    host: 127.0.0.1\n    port: {}\n    tls: none\n{source}    account: {{username: \"{}\", password_file: good}}\n    probes: [auth]\n",
            Harness::port(var),
            h.user
        ));
    }
    let report = check_yaml(dir.path(), &yaml).await;
    for name in [
        "postfix-plain",
        "dovecot-imap-plain",
        "dovecot-pop3-plain",
        "dovecot-submission-plain",
    ] {
        let r = result(&report, name, "auth");
        assert_eq!(r["status"], "critical", "{name}: {r:#}");
        assert_eq!(r["reason"], "starttls_required", "{name}: {r:#}");
        assert!(
            r["remediation"].as_str().unwrap().contains("STARTTLS")
                || r["remediation"].as_str().unwrap().contains("starttls"),
            "{name}: {r:#}"
        );
        // The verdict is on the setup, not the password: nothing was sent.
        assert_eq!(r["observations"]["auth_success"], 0.0, "{name}");
    }
}
