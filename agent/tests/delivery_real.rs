//! The delivery probe end to end against the real servers of the harness, black-box through the
//! built binary: a message sent through Postfix submission (587 with STARTTLS, 465 with implicit
//! TLS) as alice arrives in alice's Dovecot mailbox, is found over IMAP and deleted, and the time
//! it took is in `check --output json` and on `/metrics`; a recipient Postfix accepts and throws
//! away (`discard@mail.test`) is `delivery_timeout` after `within`; one Postfix files into
//! alice's `\Junk` folder (`junk@mail.test`) is `delivery_junk`; an unknown one is refused at
//! RCPT. Nothing secret is in the sent message or in any output.
//!
//! The mailbox is read on disk too (the Maildir under the harness directory, what Dovecot FETCHes
//! byte for byte), to see that the probe deleted its message and what the message carried.
//! Each test uses target names of its own, so their probe ids (and cleanups) never meet.

mod support;

use base64::Engine;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::*;

fn env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} unset: source the harness's env.sh"))
}

/// alice's Maildir, and the Junk folder inside it.
fn maildir() -> PathBuf {
    Path::new(&env("MAILBEAT_HARNESS_DIR")).join("mail/mail.test/alice/Maildir")
}

/// Every message file in alice's INBOX and Junk that contains `needle`.
fn messages_with(needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for folder in ["", ".Junk"] {
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(maildir().join(folder).join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                if std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(needle)) {
                    found.push(e.path());
                }
            }
        }
    }
    found
}

/// A config of relays (name, port, tls, delivery options) with alice's IMAPS mailbox as `via`.
fn config(dir: &Path, relays: &[(&str, &str, &str, &str)]) -> PathBuf {
    let (ca, user) = harness("MAILBEAT_TEST_USER", "alice@mail.test");
    std::fs::write(
        dir.join("pw"),
        format!(
            "{}\n",
            std::env::var("MAILBEAT_TEST_PASSWORD").unwrap_or("alicepass".into())
        ),
    )
    .unwrap();
    let common = format!("host: 127.0.0.1, tls_server_name: mail.test, ca_file: {ca}");
    let mut yaml = String::from("global: {every: 1h, timeout: 10s}\ntargets:\n");
    let inbox = relays[0].0.to_string() + "-inbox";
    for (name, port, tls, options) in relays {
        yaml.push_str(&format!(
            "  - {{name: {name}, protocol: smtp, port: {}, tls: {tls}, {common}, account: {{username: \"{user}\", password_file: pw}}, probes: [{{delivery: {{via: {inbox}, {options}}}}}]}}\n",
            env(port)
        ));
    }
    yaml.push_str(&format!(
        "  - {{name: {inbox}, protocol: imap, port: {}, tls: implicit, {common}, account: {{username: \"{user}\", password_file: pw}}, probes: [auth]}}\n",
        env("MAILBEAT_A_IMAPS_PORT")
    ));
    let path = dir.join("mailbeat.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// `mailbeat check --output json --probe delivery`: the exit code, the report and all output.
fn check(config: &Path) -> (Option<i32>, Value, String) {
    let out = mailbeat(
        &["check", "--output", "json", "--probe", "delivery"],
        config,
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {all}"));
    (out.status.code(), report, all)
}

fn result<'a>(report: &'a Value, target: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == target)
        .unwrap_or_else(|| panic!("no result for {target}: {report}"))
}

/// What must never appear: the password and the forms AUTH sends it in.
fn secrets() -> Vec<String> {
    let user = std::env::var("MAILBEAT_TEST_USER").unwrap_or("alice@mail.test".into());
    let pw = std::env::var("MAILBEAT_TEST_PASSWORD").unwrap_or("alicepass".into());
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        pw.clone(),
        b64.encode(format!("\0{user}\0{pw}")),
        b64.encode(&pw),
    ]
}

fn assert_no_secret(what: &str, text: &str) {
    for s in secrets() {
        assert!(!text.contains(&s), "a secret in {what}: {text}");
    }
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn a_message_through_587_and_465_arrives_is_deleted_and_its_time_is_exported() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &[
            (
                "dlv-587",
                "MAILBEAT_POSTFIX_SUBMISSION_PORT",
                "starttls",
                "to: alice@mail.test, within: 30s",
            ),
            (
                "dlv-465",
                "MAILBEAT_POSTFIX_SUBMISSIONS_PORT",
                "implicit",
                "to: alice@mail.test, within: 30s",
            ),
        ],
    );
    let (code, report, all) = check(&config);
    assert_eq!(code, Some(0), "{all}");
    assert_no_secret("check output", &all);
    for target in ["dlv-587", "dlv-465"] {
        let r = result(&report, target);
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["details"]["mailbox"], "INBOX", "{r}");
        assert_eq!(r["details"]["tls"], true, "{r}");
        assert_eq!(
            r["details"]["junk_folder"], "Junk",
            "\\Junk found by SPECIAL-USE: {r}"
        );
        assert!(r["details"]["deleted"].as_u64().unwrap() >= 1, "{r}");
        assert_eq!(r["observations"]["delivery_success"], 1.0, "{r}");
        assert_eq!(
            r["details"]["authentication_results"],
            serde_json::json!({"spf": "pass", "dkim": "none", "dmarc": "fail"}),
            "{r}"
        );
        let took = r["observations"]["delivery_duration_seconds"]
            .as_f64()
            .unwrap();
        assert!(took > 0.0 && took < 30.0, "{r}");
        let id = r["details"]["probe_id"].as_str().unwrap();
        assert!(
            messages_with(id).is_empty(),
            "the probe message {id} is still in the mailbox"
        );
    }

    // The same through the agent: /metrics carries the delivery series, promtool accepts them.
    let agent = start_agent(&config, dir.path());
    let mut m = String::new();
    let both = wait_until(Duration::from_secs(60), || {
        m = http(agent.port, "GET", "/metrics").1;
        m.contains("mailbeat_delivery_duration_seconds{target=\"dlv-587\"}")
            && m.contains("mailbeat_delivery_duration_seconds{target=\"dlv-465\"}")
    });
    assert!(both, "{m}");
    assert_eq!(
        value(&m, "mailbeat_delivery_success{target=\"dlv-587\"}"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        value(
            &m,
            "mailbeat_probe_success{target=\"dlv-465\",probe=\"delivery\"}"
        ),
        Some(1.0),
        "{m}"
    );
    // The harness Postfix adds the Authentication-Results a milter would (tests/harness/README.md).
    assert_eq!(
        value(
            &m,
            "mailbeat_delivery_auth_result{target=\"dlv-587\",method=\"spf\",result=\"pass\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        value(
            &m,
            "mailbeat_delivery_auth_result{target=\"dlv-465\",method=\"dmarc\",result=\"fail\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert_no_secret("/metrics", &m);
    promtool_check_metrics(&m);
    // /probe runs it now (another message), in blackbox_exporter's names and ours.
    let (status, body) = http(agent.port, "GET", "/probe?target=dlv-465&probe=delivery");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("probe_success 1"), "{body}");
    assert!(
        body.contains("mailbeat_delivery_duration_seconds"),
        "{body}"
    );
    assert_no_secret("/probe", &body);
    drop(agent);
    let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
    assert_no_secret("the agent's log", &log);
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn the_sent_message_carries_the_probe_id_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &[(
            "dlv-keep",
            "MAILBEAT_POSTFIX_SUBMISSION_PORT",
            "starttls",
            "to: alice@mail.test, within: 30s, keep: true",
        )],
    );
    let (code, report, all) = check(&config);
    assert_eq!(code, Some(0), "{all}");
    let r = result(&report, "dlv-keep");
    let id = r["details"]["probe_id"].as_str().unwrap().to_string();
    let kept = messages_with(&id);
    assert_eq!(kept.len(), 1, "keep: true leaves the message: {r}");
    let raw = std::fs::read_to_string(&kept[0]).unwrap();
    for header in [
        "Message-ID: <",
        "Date: ",
        "From: ",
        "To: ",
        "Subject: mailbeat probe",
    ] {
        assert!(raw.contains(header), "{header} missing:\n{raw}");
    }
    assert!(raw.contains(&format!("X-Mailbeat-Probe: {id}")), "{raw}");
    assert_no_secret("the sent message", &raw);
    assert_no_secret("check output", &all);

    // The next run cleans up what an earlier one left: the kept message goes with it.
    let yaml = std::fs::read_to_string(&config)
        .unwrap()
        .replace(", keep: true", "");
    std::fs::write(&config, yaml).unwrap();
    let (code, report, all) = check(&config);
    assert_eq!(code, Some(0), "{all}");
    let r = result(&report, "dlv-keep");
    assert!(r["details"]["deleted"].as_u64().unwrap() >= 2, "{r}");
    assert!(
        messages_with(&id).is_empty(),
        "left-over {id} not cleaned up"
    );
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn a_message_the_relay_accepts_and_discards_is_a_timeout_after_within() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &[(
            "dlv-discard",
            "MAILBEAT_POSTFIX_SUBMISSION_PORT",
            "starttls",
            "to: discard@mail.test, within: 4s",
        )],
    );
    // A timeout shorter than `within`: the check's budget (timeout ×2 + within) is its limit,
    // not the target's timeout.
    let yaml = std::fs::read_to_string(&config)
        .unwrap()
        .replace("timeout: 10s", "timeout: 2s");
    std::fs::write(&config, yaml).unwrap();
    let started = Instant::now();
    let (code, report, all) = check(&config);
    let took = started.elapsed();
    assert_eq!(code, Some(2), "{all}");
    let r = result(&report, "dlv-discard");
    assert_eq!(r["reason"], "delivery_timeout", "{r}");
    assert_eq!(r["status"], "critical", "{r}");
    assert_eq!(r["details"]["hop"], "receive", "{r}");
    assert!(r["message"].as_str().unwrap().contains("queued as"), "{r}");
    assert!(r["remediation"].as_str().unwrap().contains("within"), "{r}");
    assert_eq!(r["observations"]["delivery_success"], 0.0, "{r}");
    assert!(took >= Duration::from_secs(4), "waited only {took:?}");
    assert!(took < Duration::from_secs(20), "bounded: {took:?}");
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn a_message_filed_into_junk_is_delivery_junk() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &[(
            "dlv-junk",
            "MAILBEAT_POSTFIX_SUBMISSIONS_PORT",
            "implicit",
            "to: junk@mail.test, within: 30s",
        )],
    );
    let (code, report, all) = check(&config);
    assert_eq!(code, Some(1), "a warning: {all}");
    let r = result(&report, "dlv-junk");
    assert_eq!(r["reason"], "delivery_junk", "{r}");
    assert_eq!(r["details"]["mailbox"], "Junk", "{r}");
    assert!(r["remediation"].as_str().unwrap().contains("SPF"), "{r}");
    assert!(
        r["observations"]["delivery_duration_seconds"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let id = r["details"]["probe_id"].as_str().unwrap();
    assert!(messages_with(id).is_empty(), "deleted from Junk too");
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn an_unknown_recipient_is_refused_at_rcpt() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &[(
            "dlv-nobody",
            "MAILBEAT_POSTFIX_SUBMISSION_PORT",
            "starttls",
            "to: nobody@mail.test, within: 30s",
        )],
    );
    let (code, report, all) = check(&config);
    assert_eq!(code, Some(2), "{all}");
    let r = result(&report, "dlv-nobody");
    assert_eq!(r["reason"], "delivery_rejected", "{r}");
    assert_eq!(r["details"]["hop"], "rcpt", "{r}");
    assert_eq!(r["details"]["cause"], "unknown_recipient", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("550 5.1.1"),
        "Postfix's own words: {r}"
    );
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn a_rejected_via_login_backs_off_that_accounts_other_checks() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &[(
            "dlv-badvia",
            "MAILBEAT_POSTFIX_SUBMISSION_PORT",
            "starttls",
            "to: discard@mail.test, within: 3s",
        )],
    );
    // The mailbox's password is wrong; the relay's is right.
    std::fs::write(dir.path().join("bad"), "not-alices-password\n").unwrap();
    let yaml = std::fs::read_to_string(&config).unwrap();
    let (head, inbox) = yaml.split_at(yaml.find("  - {name: dlv-badvia-inbox").unwrap());
    let yaml = format!(
        "global: {{every: 1h, timeout: 10s, state_dir: {}}}\n{}{}",
        dir.path().join("state").display(),
        head.split_once('\n').unwrap().1,
        inbox.replace("password_file: pw", "password_file: bad")
    );
    std::fs::write(&config, yaml).unwrap();

    let (code, report, all) = check(&config);
    assert_eq!(code, Some(2), "{all}");
    let r = result(&report, "dlv-badvia");
    assert_eq!(r["reason"], "auth_bad_credentials", "{r}");
    assert_eq!(r["details"]["hop"], "receive", "{r}");
    assert_eq!(r["credential"], "accepted", "the relay's login worked: {r}");
    assert_eq!(r["via_credential"], "rejected", "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("via target dlv-badvia-inbox"),
        "{r}"
    );
    // What to do is about the mailbox's account: its values fill the text, not the relay's.
    let remediation = r["remediation"].as_str().unwrap();
    assert!(
        remediation.contains("dlv-badvia-inbox") || !remediation.contains("dlv-badvia"),
        "{remediation}"
    );
    assert!(
        !remediation.contains(&env("MAILBEAT_POSTFIX_SUBMISSION_PORT")),
        "{remediation}"
    );
    assert_no_secret("check output", &all);

    // The mailbox's own auth check shares the credential guard: it backs off instead of trying
    // the rejected password again.
    let out = mailbeat(
        &[
            "check",
            "--output",
            "json",
            "--target",
            "dlv-badvia-inbox",
            "--probe",
            "auth",
        ],
        &config,
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = result(&report, "dlv-badvia-inbox");
    assert!(
        r["message"].as_str().unwrap().starts_with("backing off"),
        "{r}"
    );
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn a_mailbox_that_sends_to_itself_is_gated_once() {
    // Both ends log in with one rejected credential. Once its back-off has passed, the next run
    // must try it again, not answer "another target is retrying it" to itself forever.
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &[(
            "dlv-self",
            "MAILBEAT_POSTFIX_SUBMISSION_PORT",
            "starttls",
            "to: alice@mail.test, within: 3s, backoff: {initial: 1s, max: 1s}",
        )],
    );
    std::fs::write(dir.path().join("pw"), "not-alices-password\n").unwrap();
    let yaml = std::fs::read_to_string(&config).unwrap().replacen(
        "global: {every: 1h, timeout: 10s}",
        &format!(
            "global: {{every: 1h, timeout: 10s, state_dir: {}}}",
            dir.path().join("state").display()
        ),
        1,
    );
    std::fs::write(&config, yaml).unwrap();
    for run in 0..2 {
        let (_, report, all) = check(&config);
        let r = result(&report, "dlv-self");
        assert_eq!(r["reason"], "auth_bad_credentials", "run {run}: {all}");
        assert_eq!(r["details"]["hop"], "auth", "run {run}: {r}");
        assert!(
            !r["message"].as_str().unwrap().contains("backing off"),
            "run {run}: {r}"
        );
        // Past the one-second back-off (and Dovecot's failure delay is in the run itself).
        std::thread::sleep(Duration::from_millis(1500));
    }
}
