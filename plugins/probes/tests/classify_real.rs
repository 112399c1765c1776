//! The gathered refusals (`tests/fixtures/refusals.tsv`) through the public API: every login
//! reply through `classify`, every greeting through `dialogue::greeting` over a stream, as the
//! port, tls and auth probes read it. Each line of the table names where its text was published.

#[path = "../src/classify/fixtures.rs"]
mod fixtures;

use fixtures::{Fixture, Kind};
use mailbeat_probes::classify::{classify, Classification, Reply};
use mailbeat_probes::dialogue::{self, Dialogue};
use mailbeat_sdk::{ProbeContext, Protocol, Reason, Status};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

fn ctx() -> ProbeContext {
    ProbeContext::new(
        Duration::from_secs(2),
        Arc::new(rustls::RootCertStore::empty()),
    )
}

fn reply<'a>(f: &'a Fixture, smtp_text: &'a str) -> Reply<'a> {
    match f.kind {
        Kind::Smtp => Reply::Smtp {
            code: f.smtp().0,
            text: smtp_text,
        },
        Kind::Imap => Reply::Imap {
            bad: false,
            text: &f.text,
        },
        Kind::ImapBad => Reply::Imap {
            bad: true,
            text: &f.text,
        },
        Kind::Pop3 => Reply::Pop3 { text: &f.text },
        _ => unreachable!("a greeting is not a login reply"),
    }
}

#[test]
fn the_table_holds_at_least_150_refusals_each_with_its_source() {
    let all = fixtures::load();
    let refusals: Vec<_> = all.iter().filter(|f| f.is_refusal()).collect();
    assert!(refusals.len() >= 150, "only {} refusals", refusals.len());
    let mut by_who: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &refusals {
        *by_who.entry(f.who.as_str()).or_default() += 1;
    }
    // Printed with --nocapture: the count by provider and server.
    for (who, n) in &by_who {
        println!("{n:4}  {who}");
    }
    println!("{:4}  refusals in all", refusals.len());
    for who in [
        "Gmail",
        "Microsoft 365",
        "Outlook.com",
        "Yahoo/AOL",
        "Zoho",
        "iCloud",
        "Fastmail",
        "GMX/Web.de",
        "Yandex",
        "Mail.ru",
        "QQ",
        "NetEase",
        "Proton Bridge",
        "Dovecot",
        "Postfix",
        "Exim",
        "Courier",
        "Cyrus",
        "Exchange on-premises",
    ] {
        assert!(by_who.contains_key(who), "no refusal from {who}");
    }
}

#[test]
fn every_login_reply_classifies_as_the_table_says() {
    let mut failures = Vec::new();
    for f in fixtures::load().iter().filter(|f| !f.kind.is_greeting()) {
        let smtp = if f.kind == Kind::Smtp {
            f.smtp().1
        } else {
            String::new()
        };
        let got = classify(&reply(f, &smtp), f.provider.as_deref());
        let want = Classification {
            status: f.status,
            reason: f.reason.expect("a login reply is a refusal"),
        };
        if got != want {
            failures.push(format!(
                "line {} ({}, {}): {:?}: got {got:?}, want {want:?}",
                f.line, f.who, f.source, f.text
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "misclassified:\n{}",
        failures.join("\n")
    );
}

/// Reads `f` as the greeting of a server that sends it and keeps the connection open.
async fn greet(f: &Fixture) -> Result<String, mailbeat_probes::Failure> {
    let protocol = match f.kind {
        Kind::GreetingSmtp => Protocol::Smtp,
        Kind::GreetingImap => Protocol::Imap,
        Kind::GreetingPop3 => Protocol::Pop3,
        _ => unreachable!("not a greeting"),
    };
    let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
    let wire: String = f.text.split('\n').map(|l| format!("{l}\r\n")).collect();
    theirs.write_all(wire.as_bytes()).await.unwrap();
    let mut d = Dialogue::new(ours);
    let result = dialogue::greeting(&mut d, protocol, &ctx()).await;
    drop(theirs);
    result
}

#[tokio::test]
async fn every_greeting_reads_as_the_table_says_in_the_servers_words() {
    let mut failures = Vec::new();
    for f in fixtures::load().iter().filter(|f| f.kind.is_greeting()) {
        let first_line = f.text.split('\n').next().unwrap();
        match (greet(f).await, f.reason) {
            (Ok(_), None) => {}
            (Err(e), Some(reason)) => {
                let words = first_line.trim_start_matches(|c: char| !c.is_alphabetic());
                let words: String = words.chars().take(20).collect();
                if e.reason != reason || e.status != f.status || !e.message.contains(&words) {
                    failures.push(format!(
                        "line {} ({}): got {:?} {:?} {:?}, want {reason:?} {:?} with {words:?}",
                        f.line, f.who, e.status, e.reason, e.message, f.status
                    ));
                }
            }
            (got, want) => failures.push(format!(
                "line {} ({}): {:?}: got {got:?}, want {want:?}",
                f.line, f.who, f.text
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "greetings read wrong:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_connection_limit_on_this_client_is_a_warning_a_full_server_is_critical() {
    // Postfix smtpd_client_connection_count_limit (testssl/testssl.sh#2089) against Exim's
    // smtp_accept_max (in2code-de/luxletter#247), and Dovecot's user+IP limit at login
    // (mscdex/node-imap#606).
    let line = |text: &str| Fixture {
        line: 0,
        who: String::new(),
        kind: Kind::GreetingSmtp,
        provider: None,
        reason: None,
        status: Status::Ok,
        text: text.to_string(),
        source: String::new(),
    };
    let e = greet(&line(
        "421 4.7.0 is-comm2.is-ol.de Error: too many connections from [my_server_ip]",
    ))
    .await
    .unwrap_err();
    assert_eq!((e.status, e.reason), (Status::Warning, Reason::RateLimited));
    let e = greet(&line("421 Too many concurrent SMTP connections"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.status, e.reason),
        (Status::Critical, Reason::ServerUnavailable)
    );
    let login = classify(
        &Reply::Imap {
            bad: false,
            text: "[UNAVAILABLE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=16)",
        },
        None,
    );
    assert_eq!(
        (login.status, login.reason),
        (Status::Warning, Reason::RateLimited)
    );
}

#[test]
fn texts_no_row_knows_stay_unknown_with_nothing_claimed() {
    // Real replies that say nothing about the login (relay refusals, a logout, an idle timeout,
    // our own syntax), and made-up near misses of the gathered words.
    let unknown = Classification {
        status: Status::Unknown,
        reason: Reason::Unknown,
    };
    for reply in [
        Reply::Smtp {
            code: 454,
            text: "4.7.1 <*@cnpd.pt>: Relay access denied",
        },
        Reply::Smtp {
            code: 553,
            text: "Relaying disallowed",
        },
        Reply::Smtp {
            code: 501,
            text: "Syntactically invalid EHLO argument(s)",
        },
        Reply::Smtp {
            code: 550,
            text: "5.7.1 Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137",
        },
        Reply::Imap {
            bad: false,
            text: "IMAP4rev1 Server logging out",
        },
        Reply::Imap {
            bad: false,
            text: "Autologout; idle for too long",
        },
        Reply::Imap {
            bad: false,
            text: "Connection closed. 14",
        },
        Reply::Pop3 {
            text: "Command is not valid in this state.",
        },
        // Near misses: the words in the wrong order, or on the wrong protocol.
        Reply::Imap {
            bad: false,
            text: "not found: user",
        },
        Reply::Smtp {
            code: 550,
            text: "5.1.1 No such user here",
        },
        Reply::Smtp {
            code: 550,
            text: "5.7.1 Service unavailable; shutting down",
        },
        Reply::Imap {
            bad: false,
            text: "Mailbox does not exist",
        },
    ] {
        assert_eq!(classify(&reply, None), unknown, "{reply:?}");
    }
}
