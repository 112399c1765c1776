//! The delivery probe against relays that refuse the message, black-box through `mailbeat check
//! --output json`: an in-process SMTP server (no real server produces these providers' texts)
//! logs the account in and then answers MAIL FROM, RCPT TO or DATA with a provider's real
//! refusal. Each must come out as `delivery_rejected` with the hop that failed, the cause and
//! the cause's remediation, the login counted as working, and nothing secret in the output.
//!
//! Sources of the reply texts:
//! - Microsoft SendAsDenied: the 554 5.2.252 / STOREDRV.Submission.Exception:SendAsDeniedException
//!   texts of Exchange Online, e.g. https://www.kouhan.cn/en/article/00038744 (quoting the reply
//!   an Office 365 SMTP AUTH client got) and Microsoft's "Continuous error throttling for SMTP
//!   AUTH submissions" (https://learn.microsoft.com/en-us/Exchange/mail-flow-best-practices/continuous-error-throttling-smtp-auth-submissions).
//! - Gmail's daily limit: `550 5.4.5 Daily user sending limit exceeded.` with its support link
//!   (https://www.simplefastwebsites.com/errors/email/smtp-550-5-4-5-daily-sending-quota-exceeded-gmail/).
//! - Microsoft's quota: `554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException`
//!   (https://learn.microsoft.com/en-us/exchange/troubleshoot/send-emails/smtp-submission-improvements).
//! - Unknown recipient: Postfix's own `550 5.1.1 <…>: Recipient address rejected: User unknown in
//!   virtual mailbox table` (the harness Postfix answers exactly this; tests/harness/README.md).
//! - Mailbox full: `552 5.2.2 Mailbox full` (https://email-knowledge.com/bouncecodes/5-2-2) and
//!   Microsoft's `554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException…`
//!   (the smtp-submission-improvements page above).
//! - Content refused as spam: `554 5.7.1 Content rejected - suspected spam`
//!   (https://verifyrhq.com/blog/debugging-554-571-content-rejected-suspected-spam-for-verification).

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use support::*;

/// Where the scripted relay refuses.
#[derive(Clone, Copy, PartialEq)]
enum At {
    Mail,
    Rcpt,
    Data,
    /// After the message's final dot.
    End,
}

/// A plaintext SMTP server that accepts AUTH PLAIN and refuses at `at` with `reply` (CR LF
/// separated lines, as on the wire). Serves connections until the test ends.
fn scripted_relay(at: At, reply: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                let _ = w.write_all(b"220 relay.test ESMTP\r\n");
                let mut line = String::new();
                let mut in_data = false;
                // Bounded: a dialogue here is a dozen lines.
                for _ in 0..200 {
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    let answer = if in_data {
                        if cmd != "." {
                            continue;
                        }
                        in_data = false;
                        if at == At::End {
                            reply
                        } else {
                            "250 2.0.0 Ok: queued"
                        }
                    } else if cmd.starts_with("EHLO") {
                        "250-relay.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME"
                    } else if cmd.starts_with("AUTH PLAIN") {
                        "235 2.7.0 Authentication successful"
                    } else if cmd.starts_with("MAIL FROM") {
                        if at == At::Mail {
                            reply
                        } else {
                            "250 2.1.0 Ok"
                        }
                    } else if cmd.starts_with("RCPT TO") {
                        if at == At::Rcpt {
                            reply
                        } else {
                            "250 2.1.5 Ok"
                        }
                    } else if cmd == "DATA" {
                        if at == At::Data {
                            reply
                        } else {
                            in_data = true;
                            "354 End data with <CR><LF>.<CR><LF>"
                        }
                    } else if cmd == "QUIT" {
                        let _ = w.write_all(b"221 2.0.0 Bye\r\n");
                        return;
                    } else {
                        "250 2.0.0 Ok"
                    };
                    if w.write_all(format!("{answer}\r\n").as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

struct Case {
    name: &'static str,
    at: At,
    reply: &'static str,
    provider: Option<&'static str>,
    status: &'static str,
    hop: &'static str,
    cause: &'static str,
    /// Words the remediation must contain.
    advice: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "send-as",
        at: At::Data,
        reply: "554 5.2.252 SendAsDenied; alerts@contoso.example not allowed to send as boss@contoso.example; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message.",
        provider: Some("office365"),
        status: "critical",
        hop: "data",
        cause: "send_as_denied",
        advice: "Send As",
    },
    Case {
        name: "gmail-limit",
        at: At::Mail,
        reply: "550-5.4.5 Daily user sending limit exceeded. For more information on Gmail\r\n550-5.4.5 sending limits go to\r\n550 5.4.5  https://support.google.com/mail/?p=DailyLimitExceeded",
        provider: Some("gmail"),
        status: "critical",
        hop: "mail",
        cause: "sending_limit",
        advice: "sending limit",
    },
    Case {
        name: "m365-quota",
        at: At::End,
        reply: "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message.",
        provider: Some("office365"),
        status: "critical",
        hop: "data",
        cause: "sending_limit",
        advice: "sending limit",
    },
    Case {
        name: "unknown-recipient",
        at: At::Rcpt,
        reply: "550 5.1.1 <nobody@mail.test>: Recipient address rejected: User unknown in virtual mailbox table",
        provider: None,
        status: "critical",
        hop: "rcpt",
        cause: "unknown_recipient",
        advice: "does not exist",
    },
    Case {
        name: "mailbox-full",
        at: At::Rcpt,
        reply: "552 5.2.2 Mailbox full",
        provider: None,
        status: "critical",
        hop: "rcpt",
        cause: "mailbox_full",
        advice: "full",
    },
    Case {
        name: "mailbox-full-later",
        at: At::Rcpt,
        reply: "452 4.2.2 The email account that you tried to reach is over quota.",
        provider: None,
        status: "warning",
        hop: "rcpt",
        cause: "mailbox_full",
        advice: "full",
    },
    Case {
        name: "spam",
        at: At::End,
        reply: "554 5.7.1 Content rejected - suspected spam",
        provider: None,
        status: "critical",
        hop: "data",
        cause: "content_refused",
        advice: "spam",
    },
];

#[test]
fn refusals_at_mail_rcpt_and_data_are_delivery_rejected_with_their_remediation() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret-Relay-pw\n").unwrap();
    std::fs::write(dir.path().join("inbox-pw"), "s3cret-Inbox-pw\n").unwrap();
    let mut yaml = String::from("global: {timeout: 5s}\ntargets:\n");
    for c in CASES {
        let port = scripted_relay(c.at, c.reply);
        let provider = c
            .provider
            .map(|p| format!("provider: {p}, "))
            .unwrap_or_default();
        yaml.push_str(&format!(
            "  - {{name: {n}, protocol: smtp, {provider}host: 127.0.0.1, port: {port}, tls: none, account: {{username: alerts@mail.test, password_file: pw}}, probes: [{{delivery: {{to: oncall@mail.test, via: inbox, within: 5s}}}}]}}\n",
            n = c.name
        ));
    }
    // Never reached: every relay refuses before the message is accepted.
    yaml.push_str(&format!(
        "  - {{name: inbox, protocol: imap, host: 127.0.0.1, port: {}, tls: none, account: {{username: oncall@mail.test, password_file: inbox-pw}}, probes: [port]}}\n",
        closed_port()
    ));
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(&config, &yaml).unwrap();
    let started = Instant::now();
    let out = mailbeat(
        &["check", "--output", "json", "--probe", "delivery"],
        &config,
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a refusal does not wait for `within`"
    );
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), CASES.len(), "{stdout}");
    for c in CASES {
        let r = results
            .iter()
            .find(|r| r["target"] == c.name)
            .unwrap_or_else(|| panic!("{} missing: {stdout}", c.name));
        assert_eq!(r["reason"], "delivery_rejected", "{}: {r}", c.name);
        assert_eq!(r["status"], c.status, "{}: {r}", c.name);
        assert_eq!(r["details"]["hop"], c.hop, "{}: {r}", c.name);
        assert_eq!(r["details"]["cause"], c.cause, "{}: {r}", c.name);
        let remediation = r["remediation"].as_str().unwrap_or_default();
        assert!(remediation.contains(c.advice), "{}: {remediation}", c.name);
        // The server's own words, every line of them.
        let first_line = c.reply.split("\r\n").next().unwrap();
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .contains(&first_line[4..40.min(first_line.len())]),
            "{}: {r}",
            c.name
        );
        assert_eq!(
            r["observations"]["delivery_success"], 0.0,
            "{}: {r}",
            c.name
        );
    }
    for secret in ["s3cret-Relay-pw", "s3cret-Inbox-pw"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }

    // The human table names the hop that failed.
    let table = mailbeat(
        &[
            "check",
            "--probe",
            "delivery",
            "--target",
            "unknown-recipient",
        ],
        &config,
    );
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("failed at hop: rcpt"), "{text}");
}

#[test]
fn a_via_that_is_not_an_imap_target_is_a_config_error_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "pw\n").unwrap();
    let yaml = "targets:
  - {name: relay, protocol: smtp, host: 127.0.0.1, port: 2525, tls: none, account: {username: a@mail.test, password_file: pw}, probes: [{delivery: {to: b@mail.test, via: other-relay}}]}
  - {name: other-relay, protocol: smtp, host: 127.0.0.1, port: 2526, tls: none, account: {username: b@mail.test, password_file: pw}, probes: [port]}
  - {name: typo, protocol: smtp, host: 127.0.0.1, port: 2527, tls: none, account: {username: a@mail.test, password_file: pw}, probes: [{delivery: {to: b@mail.test, via: inbx, every: 2h}}]}
  - {name: bad-to, protocol: smtp, host: 127.0.0.1, port: 2527, tls: none, account: {username: a@mail.test, password_file: pw}, probes: [{delivery: {to: not-an-address, via: relay}}]}
";
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(&config, yaml).unwrap();
    let out = mailbeat(&["validate"], &config);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("targets[0].probes[0].delivery.via: target \"other-relay\" speaks smtp; it must be a mailbox target (imap)"),
        "{text}"
    );
    assert!(
        text.contains("targets[2].probes[0].delivery.via: no target named \"inbx\""),
        "{text}"
    );
    assert!(
        text.contains("targets[3].probes[0].delivery: to:"),
        "{text}"
    );
}
