//! Reporting a bad config: every problem of the file at once (parse and validation), each with
//! its snippet, and the snippet masking what could be a secret and nothing else.

use super::snippet::mask_secret_values;
use super::tests::{error_of, probes};
use super::*;
use std::path::Path;

#[test]
fn all_problems_are_reported_at_once() {
    let err = error_of("invalid-many.yml");
    let headers = err
        .lines()
        .filter(|l| l.starts_with("invalid-many.yml:"))
        .count();
    assert_eq!(headers, 3, "{err}");
}

/// Typos in three targets (unknown keys: the parser's), a bad duration, an unknown probe and a
/// missing file (the validator's): all six, in line order, each with its snippet, the targets
/// named by their place in the file even after one that did not parse.
#[test]
fn parse_and_validation_errors_of_the_whole_file_come_together() {
    let err = error_of("invalid-many-typos.yml");
    let headers: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("invalid-many-typos.yml:"))
        .collect();
    let want = [
        "invalid-many-typos.yml:4:10: global.every: invalid duration \"5x\"",
        "invalid-many-typos.yml:10:7: targets[0].account.pasword: unknown field `pasword`",
        "invalid-many-typos.yml:17:14: targets[1].ca_file: cannot read ca_file ",
        "invalid-many-typos.yml:18:20: targets[1].probes[1]: unknown probe \"tsl\"",
        "invalid-many-typos.yml:21:5: targets[2].hots: unknown field `hots`",
        "invalid-many-typos.yml:28:5: targets[3].tiemout: unknown field `tiemout`",
    ];
    assert_eq!(headers.len(), want.len(), "{err}");
    for (got, want) in headers.iter().zip(want) {
        assert!(got.starts_with(want), "got  {got}\nwant {want}\n{err}");
    }
    assert!(err.contains("certs/x.pem: no such file"), "{err}");
    // Each with its snippet: the line, and a caret under the column.
    assert_eq!(
        err.matches("--> invalid-many-typos.yml:").count(),
        6,
        "{err}"
    );
    assert!(
        err.contains("4 |   every: 5x               # not a duration"),
        "{err}"
    );
    assert!(err.contains("3 |   timeout: 15s"), "{err}");
    assert!(err.contains("      username: nas@example.com"), "{err}");
    assert!(err.contains("pasword: <redacted>"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn a_file_that_cannot_be_cut_gives_its_one_parse_error() {
    // A flow-style file, and a key given twice: read whole, as before.
    for text in [
        "{targets: [{name: a, hots: x}, {name: b, hots: y}]}\n",
        "targets:\n  - name: a\n    hots: x\ntargets:\n  - name: b\n    hots: y\n",
    ] {
        let err = parse(text, "c.yml", Path::new("."), &probes())
            .unwrap_err()
            .to_string();
        let headers = err.lines().filter(|l| l.starts_with("c.yml:")).count();
        assert_eq!(headers, 1, "{err}");
    }
    // A target with a syntax error and one with a typo: both.
    let text = "targets:\n  - name: a\n    probes: [port\n  - name: b\n    hots: y\n";
    let err = parse(text, "c.yml", Path::new("."), &probes())
        .unwrap_err()
        .to_string();
    assert!(err.contains("c.yml:5:5: targets[1].hots"), "{err}");
}

#[test]
fn secrets_never_appear_in_errors() {
    let err = error_of("invalid-inline-secret.yml");
    assert!(!err.contains("correct-horse"), "{err}");
}

#[test]
fn secrets_near_a_yaml_error_are_masked_in_the_snippet() {
    let text = "global:\n  allow_inline_secrets: true\ntargets:\n  - name: a\n    protocol: imap\n    host: x\n    account: {username: u, password: correct-horse-battery}\n    port: [1\n";
    let err = parse(text, "inline.yml", Path::new("."), &probes())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("inline.yml:"), "{err}");
    assert!(!err.contains("correct-horse-battery"), "{err}");
}

#[test]
fn a_secret_under_a_misspelt_key_is_masked_in_the_snippet() {
    for account in [
        "    account:\n      username: u\n      pasword: hunter2-tr0ub4dor\n",
        "    account: {username: u, passwd: hunter2-tr0ub4dor}\n",
    ] {
        let text = format!(
            "targets:\n  - name: a\n    protocol: imap\n    host: x\n{account}    probes: [port]\n"
        );
        let err = parse(&text, "typo.yml", Path::new("."), &probes())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("typo.yml:"), "{err}");
        assert!(err.contains("unknown field"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        // What is not secret stays readable.
        assert!(err.contains("username: u"), "{err}");
    }
}

#[test]
fn masking_keeps_harmless_lines_and_cuts_at_the_first_unknown_key() {
    let cases = [
        (
            " 4 |     host: mail.example.com",
            " 4 |     host: mail.example.com",
        ),
        (" 4 |   - name: a", " 4 |   - name: a"),
        (
            " 4 |     probes: [port, tls]",
            " 4 |     probes: [port, tls]",
        ),
        (" 4 |       - tls", " 4 |       - tls"),
        // The name of a variable is no secret.
        (
            " 4 |     password: ${MAIL_PW}",
            " 4 |     password: ${MAIL_PW}",
        ),
        (
            " 4 |     password: ${MAIL_PW}x",
            " 4 |     password: <redacted>",
        ),
        // Harmless values and comments stay readable.
        (" 4 |     timeout: 15s", " 4 |     timeout: 15s"),
        (
            " 4 |     provider: gmail  # preset: imap.gmail.com:993, password: app",
            " 4 |     provider: gmail  # preset: imap.gmail.com:993, password: app",
        ),
        (" 4 |     protocl: imap", " 4 |     protocl: imap"),
        (
            " 4 |     passwrod: hunter2",
            " 4 |     passwrod: <redacted>",
        ),
        (" 4 |     secert: hunter2", " 4 |     secert: <redacted>"),
        (
            " 4 |     state_key: hunter2",
            " 4 |     state_key: <redacted>",
        ),
        (
            " 4 |     access_token: hunter2",
            " 4 |     access_token: <redacted>",
        ),
        (
            " 4 |     refresh_token_file: tok.json",
            " 4 |     refresh_token_file: tok.json",
        ),
        (
            " 4 |     \"password\": hunter2",
            " 4 |     \"password\": <redacted>",
        ),
        (
            " 4 |     'client_secret': hunter2",
            " 4 |     'client_secret': <redacted>",
        ),
        (
            " 4 |     pasword : hunter2",
            " 4 |     pasword : <redacted>",
        ),
        (" 4 |     password:hunter2", " 4 |     password: <redacted>"),
        (
            " 4 |   - password: hunter2",
            " 4 |   - password: <redacted>",
        ),
        (
            " 4 |     account: {username: u, client_secret: hunter2}",
            " 4 |     account: {username: u, client_secret: <redacted>",
        ),
        (
            " 4 |     account: {\"username\":\"u\",\"password\":\"hunter2\"}",
            " 4 |     account: {\"username\":\"u\",\"password\": <redacted>",
        ),
        (" 4 |     labels: {team: a}", " 4 |     labels: {team: a}"),
        // Webhook URLs carry tokens (Slack, Teams, user:password@).
        (
            " 4 |     url: https://u:pw@hooks.example/x",
            " 4 |     url: <redacted>",
        ),
        // Continuation lines of block and multi-line scalars.
        (" 8 |         hunter2", " 8 |         <redacted>"),
        (" 7 |       password: |", " 7 |       password: <redacted>"),
        // Not source: kept.
        ("  --> c.yaml:9:7", "  --> c.yaml:9:7"),
        (
            "   |       ^ unknown field `pasword`",
            "   |       ^ unknown field `pasword`",
        ),
    ];
    for (line, want) in cases {
        assert_eq!(mask_secret_values(line), want, "{line}");
    }
}

#[test]
fn a_block_scalar_secret_under_a_quoted_key_is_masked() {
    let text = "targets:\n  - name: a\n    protocol: imap\n    host: x\n    account:\n      username: u\n      \"password\": |\n        hunter2-block\n      pasword : hunter3-spaced\n    probes: [port]\n";
    let err = parse(text, "c.yaml", Path::new("."), &probes())
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `pasword`"), "{err}");
    assert!(
        !err.contains("hunter2") && !err.contains("hunter3"),
        "{err}"
    );
    assert!(err.contains("probes: [port]"), "{err}");
}
