//! The gathered rows and the greeting rows against the gathered refusals
//! (`tests/fixtures/refusals.tsv`): every row is hit by a real text, every text classifies as
//! the table says. (`tests.rs` holds the tests of the table before them, unchanged.)

use super::fixtures::{self, Fixture, Kind};
use super::greeting::{matching_greeting_rule, GREETING};
use super::*;

/// The reply a non-greeting fixture is.
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
        _ => unreachable!("a greeting is not a reply"),
    }
}

/// The refusal a greeting fixture is; `None` when it is an accepted greeting.
fn greeting<'a>(f: &'a Fixture, smtp_text: &'a str) -> Option<Greeting<'a>> {
    let text = f.text.as_str();
    match f.kind {
        Kind::GreetingSmtp => {
            let code = f.smtp().0;
            (code != 220).then_some(Greeting::Smtp {
                code,
                text: smtp_text,
            })
        }
        Kind::GreetingImap => {
            if let Some(rest) = text.strip_prefix("* BYE ") {
                Some(Greeting::ImapBye { text: rest })
            } else {
                text.strip_prefix("* NO ")
                    .map(|rest| Greeting::ImapNo { text: rest })
            }
        }
        Kind::GreetingPop3 => text
            .strip_prefix("-ERR ")
            .map(|rest| Greeting::Pop3 { text: rest }),
        _ => unreachable!("not a greeting"),
    }
}

fn smtp_text(f: &Fixture) -> String {
    match f.kind {
        Kind::Smtp | Kind::GreetingSmtp => f.smtp().1,
        _ => String::new(),
    }
}

#[test]
fn every_gathered_and_greeting_row_has_a_real_text() {
    let mut hit_gathered = vec![false; GATHERED.len()];
    let mut hit_greeting = vec![false; GREETING.len()];
    for f in fixtures::load().into_iter().filter(Fixture::is_refusal) {
        let smtp = smtp_text(&f);
        let rule = if f.kind.is_greeting() {
            greeting(&f, &smtp).and_then(|g| matching_greeting_rule(&g))
        } else {
            matching_rule(&reply(&f, &smtp), f.provider.as_deref())
        };
        let Some(rule) = rule else { continue };
        if let Some(i) = GATHERED.iter().position(|r| std::ptr::eq(r, rule)) {
            hit_gathered[i] = true;
        }
        if let Some(i) = GREETING.iter().position(|r| std::ptr::eq(r, rule)) {
            hit_greeting[i] = true;
        }
    }
    let missed: Vec<_> = GATHERED
        .iter()
        .zip(&hit_gathered)
        .chain(GREETING.iter().zip(&hit_greeting))
        .filter(|(_, hit)| !**hit)
        .map(|(r, _)| r)
        .collect();
    assert!(missed.is_empty(), "rows without a real text: {missed:#?}");
}

#[test]
fn every_gathered_text_classifies_as_the_table_says() {
    let mut failures = Vec::new();
    for f in fixtures::load() {
        let smtp = smtp_text(&f);
        let got = if f.kind.is_greeting() {
            greeting(&f, &smtp).map(|g| classify_greeting(&g))
        } else {
            Some(classify(&reply(&f, &smtp), f.provider.as_deref()))
        };
        let want = f.reason.map(|reason| Classification {
            status: f.status,
            reason,
        });
        if got != want {
            failures.push(format!(
                "line {} ({}, {}): {:?} @ {:?}: got {got:?}, want {want:?}",
                f.line, f.who, f.source, f.text, f.provider
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "misclassified:\n{}",
        failures.join("\n")
    );
}

#[test]
fn gathered_and_greeting_rows_are_written_the_way_they_are_compared() {
    for rule in GATHERED.iter().chain(GREETING) {
        for needle in rule.text {
            assert!(!needle.is_empty() && !needle.starts_with('*'), "{rule:?}");
            assert_eq!(*needle, needle.to_lowercase(), "{rule:?}");
        }
        if let Code::Resp(code) = rule.code {
            assert_eq!(code, code.to_ascii_uppercase(), "{rule:?}");
        }
        assert_ne!(rule.provider, Some(Provider::Custom), "{rule:?}");
        assert!(rule.on != On::Oauth, "{rule:?}");
    }
    // Greetings come before any login: no provider (the dialogue does not know it), and only
    // the reasons a refusal to greet can have.
    for rule in GREETING {
        assert_eq!(rule.provider, None, "{rule:?}");
        assert!(
            matches!(rule.reason, RateLimited | ServerUnavailable | BadGreeting),
            "{rule:?}"
        );
    }
}

#[test]
fn a_star_stands_for_any_text() {
    assert!(contains("user x@pm.me not found", "user * not found"));
    assert!(contains("user  not found", "user * not found"));
    assert!(!contains("not found: user", "user * not found"));
    assert!(contains("abc", "a*b*c"));
    assert!(!contains("acb", "a*b*c"));
}

#[test]
fn the_same_words_mean_a_full_server_at_connect_and_a_limit_after_login() {
    // Purelymail relaying a remote MX at connect, and the login table for the same words.
    let at_connect = classify_greeting(&Greeting::Smtp {
        code: 421,
        text: "4.3.2 too many connections, please try again later",
    });
    assert_eq!(at_connect.reason, ServerUnavailable);
    assert_eq!(at_connect.status, CRIT);
    let at_login = classify(
        &Reply::Smtp {
            code: 421,
            text: "4.3.2 too many connections, please try again later",
        },
        None,
    );
    assert_eq!(at_login.reason, RateLimited);
    // A limit on this address is this client's limit at connect too.
    let per_ip = classify_greeting(&Greeting::Smtp {
        code: 421,
        text: "4.7.0 host.domain.tld Error: too many connections from 111.44.222.33",
    });
    assert_eq!((per_ip.reason, per_ip.status), (RateLimited, WARN));
}

#[test]
fn unknown_refusals_to_greet_keep_their_kind_default() {
    for (greeting, reason) in [
        (
            Greeting::Smtp {
                code: 554,
                text: "5.3.2 mail.test no service for you",
            },
            ServerUnavailable,
        ),
        (Greeting::ImapBye { text: "see you" }, ServerUnavailable),
        (Greeting::Pop3 { text: "no" }, ServerUnavailable),
        (Greeting::ImapNo { text: "hello" }, BadGreeting),
        (Greeting::ImapNo { text: "" }, BadGreeting),
    ] {
        let got = classify_greeting(&greeting);
        assert_eq!((got.reason, got.status), (reason, CRIT), "{greeting:?}");
    }
}

#[test]
fn greeting_garbage_never_panics() {
    for text in ["", "[", "[UNAVAILABLE", "\u{0}", "認証", "*", "**", "* * *"] {
        for code in [0, 421, 554, u16::MAX] {
            classify_greeting(&Greeting::Smtp { code, text });
        }
        classify_greeting(&Greeting::ImapBye { text });
        classify_greeting(&Greeting::ImapNo { text });
        classify_greeting(&Greeting::Pop3 { text });
    }
}
