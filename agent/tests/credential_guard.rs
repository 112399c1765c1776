//! Account safety and secrecy: the agent's credential guard backs the `auth` probe off after a
//! rejected credential (counted at the server), across every target that uses it, and neither
//! lets a secret into a result or a Debug print.
//!
//! The scripted servers are the probe crate's (`auth_support`); the guard is driven the way the
//! executor drives it: gate, run the configured check, record.

#[path = "../../plugins/probes/tests/auth_support/mod.rs"]
mod auth_support;

use auth_support::*;
use base64::Engine;
use mailbeat::guard::{realm_of, BackoffOptions, CredentialGuard, Policy};
use mailbeat_probes::auth::AuthProbe;
use mailbeat_sdk::{
    check_once, CheckResult, Credentials, Probe, ProbeContext, Protocol, Reason, Secret, Status,
    Target, TlsMode,
};
use serde_json::json;
use std::time::Duration;

/// The auth probe behind a credential guard, run as the executor runs a check.
#[derive(Debug)]
struct Guarded {
    guard: CredentialGuard,
    policy: Policy,
    options: serde_json::Value,
}

impl Guarded {
    /// `options` as a target would write them, `backoff` included.
    fn new(options: serde_json::Value) -> Result<Guarded, String> {
        let mut options = options;
        let policy = BackoffOptions::take_from(&mut options)?.policy();
        Ok(Guarded {
            guard: CredentialGuard::default(),
            policy,
            options,
        })
    }

    /// A short back-off, so tests can wait it out.
    fn fast() -> Guarded {
        Guarded::new(json!({"backoff": {"initial": "200ms", "max": "1s", "factor": 2}})).unwrap()
    }

    /// What `mailbeat validate` says of these options on `t`.
    fn validate(t: &Target, options: &serde_json::Value) -> Result<(), String> {
        let mut options = options.clone();
        BackoffOptions::take_from(&mut options)?;
        AuthProbe.configure(t, &options).map(drop).map_err(|e| e.0)
    }

    async fn check(&self, t: &Target, ctx: &ProbeContext) -> CheckResult {
        let run = || check_once(&AuthProbe, t, &self.options, ctx);
        match &ctx.credentials {
            None => run().await,
            Some(creds) => match self.guard.gate(&realm_of(t), creds, &t.name) {
                Ok(attempt) => attempt.record(run().await, &self.policy),
                Err(answer) => *answer,
            },
        }
    }
}

const REJECT: &str = "
    S: 220 mail.test ESMTP Postfix
    C: EHLO
    S: 250-mail.test
    S: 250 AUTH PLAIN LOGIN
    C: AUTH PLAIN
    S: 535 5.7.8 Error: authentication failed: (reason unavailable)";

const ACCEPT: &str = "
    S: 220 mail.test ESMTP Postfix
    C: EHLO
    S: 250-mail.test
    S: 250 AUTH PLAIN LOGIN
    C: AUTH PLAIN
    S: 235 2.7.0 Authentication successful
    C: NOOP
    S: 250 2.0.0 Ok";

fn fast_backoff(creds: Credentials) -> ProbeContext {
    ctx(creds)
}

#[tokio::test]
async fn repeated_failures_do_not_hammer_the_server() {
    let server = serve(REJECT, ServerTls::Plain).await;
    let t = target(Protocol::Smtp, &server, TlsMode::None, false);
    let probe = Guarded::fast();

    let first = probe.check(&t, &fast_backoff(password())).await;
    assert_eq!(first.reason, Some(Reason::AuthBadCredentials), "{first:?}");
    assert_eq!(first.details["backoff"]["failures"], 1);
    assert_eq!(server.count("AUTH"), 1);

    // Checks inside the interval answer from memory, with the same verdict.
    for _ in 0..3 {
        let r = probe.check(&t, &fast_backoff(password())).await;
        assert_eq!(r.reason, Some(Reason::AuthBadCredentials));
        assert_eq!(r.status, Status::Critical);
        assert!(
            r.message
                .starts_with("backing off: not retrying this credential until "),
            "{}",
            r.message
        );
        assert!(
            r.message
                .contains(", failure 1, last tried by target test-smtp; last answer: 535 5.7.8"),
            "{}",
            r.message
        );
        assert_eq!(r.details["backoff"]["failures"], 1);
        assert_eq!(r.observations["auth_success"], 0.0);
    }
    assert_eq!(server.connections(), 1, "no connection while backing off");

    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = probe.check(&t, &fast_backoff(password())).await;
    assert_eq!(server.count("AUTH"), 2);
    assert_eq!(second.details["backoff"]["failures"], 2);
    assert_eq!(
        second.details["backoff"]["retry_in_seconds"], 0.4,
        "the interval doubled"
    );

    // 250 ms is past the first interval but not the doubled one.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let r = probe.check(&t, &fast_backoff(password())).await;
    assert!(r.message.contains("failure 2"), "{}", r.message);
    assert_eq!(server.count("AUTH"), 2);
}

#[tokio::test]
async fn a_changed_secret_is_tried_at_once() {
    let server = serve(REJECT, ServerTls::Plain).await;
    let t = target(Protocol::Smtp, &server, TlsMode::None, false);
    let probe = Guarded::fast();
    probe.check(&t, &fast_backoff(password())).await;
    let fixed = Credentials {
        secret: Secret::new("the-new-password"),
        ..password()
    };
    let r = probe.check(&t, &fast_backoff(fixed)).await;
    assert_eq!(server.count("AUTH"), 2, "new secret, new attempt");
    assert_eq!(r.details["backoff"]["failures"], 1, "count restarted");
}

#[tokio::test]
async fn a_success_resets_the_count() {
    let bad = serve(REJECT, ServerTls::Plain).await;
    let good = serve(ACCEPT, ServerTls::Plain).await;
    // One credential (the back-off key) tried at either server.
    let mut t = target(Protocol::Smtp, &bad, TlsMode::None, false);
    let probe = Guarded::fast();
    probe.check(&t, &fast_backoff(password())).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    probe.check(&t, &fast_backoff(password())).await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    t.port = Some(good.addr.port());
    let ok = probe.check(&t, &fast_backoff(password())).await;
    assert_eq!(ok.status, Status::Ok, "{ok:?}");
    t.port = Some(bad.addr.port());
    let r = probe.check(&t, &fast_backoff(password())).await;
    assert_eq!(r.details["backoff"]["failures"], 1, "{r:?}");
    assert_eq!(bad.count("AUTH"), 3);
}

#[tokio::test]
async fn failures_that_are_not_about_the_secret_do_not_back_off() {
    let server = serve(
        "S: 421 4.3.2 Service not available, closing transmission channel",
        ServerTls::Plain,
    )
    .await;
    let t = target(Protocol::Smtp, &server, TlsMode::None, false);
    let probe = Guarded::fast();
    for _ in 0..2 {
        let r = probe.check(&t, &fast_backoff(password())).await;
        assert_eq!(r.reason, Some(Reason::ServerUnavailable), "{r:?}");
        assert!(r.details.get("backoff").is_none());
    }
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn secrets_never_reach_results_or_debug_output() {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let plain_blob = b64(&format!("\0{USER}\0{PASSWORD}"));
    let xoauth_blob = b64(&format!("user={USER}\x01auth=Bearer {TOKEN}\x01\x01"));
    let forbidden = [
        PASSWORD.to_string(),
        TOKEN.to_string(),
        plain_blob.clone(),
        xoauth_blob.clone(),
        b64(PASSWORD),
        b64(TOKEN),
    ];
    // A server careless enough to echo what it got, in the reply and in an error challenge.
    let echo_plain = format!(
        "S: 220 mail.test ESMTP
        C: EHLO
        S: 250-mail.test
        S: 250 AUTH PLAIN XOAUTH2
        C: AUTH PLAIN
        S: 535 5.7.8 bad credentials: {plain_blob} (password {PASSWORD})"
    );
    let challenge = b64(&format!("{{\"status\":\"401\",\"token\":\"{TOKEN}\"}}"));
    let echo_token = format!(
        "S: 220 mail.test ESMTP
        C: EHLO
        S: 250-mail.test
        S: 250 AUTH PLAIN XOAUTH2
        C: AUTH XOAUTH2
        S: 334 {challenge}
        C:
        S: 535 5.7.8 rejected {xoauth_blob}"
    );
    let probe = Guarded::fast();
    let mut outputs = Vec::new();
    for (script, creds, name) in [(echo_plain, password(), "pw"), (echo_token, token(), "tok")] {
        let server = serve(&script, ServerTls::Plain).await;
        let mut t = target(
            Protocol::Smtp,
            &server,
            TlsMode::None,
            creds.kind == mailbeat_sdk::SecretKind::AccessToken,
        );
        t.name = name.to_string();
        let ctx = fast_backoff(creds);
        let failed = probe.check(&t, &ctx).await;
        assert_ne!(failed.status, Status::Ok, "{failed:?}");
        let backing_off = probe.check(&t, &ctx).await;
        assert!(
            backing_off.message.starts_with("backing off"),
            "{backing_off:?}"
        );
        for r in [&failed, &backing_off] {
            outputs.push(serde_json::to_string(r).unwrap());
            outputs.push(format!("{r:?}"));
        }
        outputs.push(format!("{ctx:?}"));
    }
    outputs.push(format!("{probe:?}"));
    for out in &outputs {
        for secret in &forbidden {
            assert!(
                !out.contains(secret.as_str()),
                "secret {secret:?} leaked into {out}"
            );
        }
    }
    assert!(outputs[0].contains("<redacted>"), "{}", outputs[0]);
}

#[tokio::test]
async fn no_credentials_is_a_config_error() {
    let server = serve(REJECT, ServerTls::Plain).await;
    let t = target(Protocol::Smtp, &server, TlsMode::None, false);
    let ctx = ProbeContext::new(
        Duration::from_secs(1),
        std::sync::Arc::new(rustls::RootCertStore::empty()),
    );
    let r = Guarded::fast().check(&t, &ctx).await;
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(r.reason, Some(Reason::ConfigError));
    assert_eq!(r.message, "no credentials");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn validate_names_config_mistakes() {
    let server = serve(REJECT, ServerTls::Plain).await;
    let mut t = target(Protocol::Smtp, &server, TlsMode::None, false);
    assert!(Guarded::validate(&t, &serde_json::Value::Null).is_ok());
    assert!(Guarded::validate(&t, &json!({"backoff": {"initial": "1m", "max": "1h"}})).is_ok());
    let e = Guarded::validate(&t, &json!({"confrim": true})).unwrap_err();
    assert!(e.contains("confrim"), "{e}");
    let e = Guarded::validate(&t, &json!({"mechanism": "xoauth2"})).unwrap_err();
    assert!(e.contains("OAuth"), "{e}");
    t.account = None;
    let e = Guarded::validate(&t, &serde_json::Value::Null).unwrap_err();
    assert!(e.contains("account"), "{e}");
}

const IMAP_REJECT: &str = "
    S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] Dovecot ready.
    C: AUTHENTICATE PLAIN
    S: {tag} NO [AUTHENTICATIONFAILED] Authentication failed.";

#[tokio::test]
async fn the_same_password_on_unrelated_servers_is_two_credentials() {
    let refusing = serve(IMAP_REJECT, ServerTls::Plain).await;
    let accepting = serve(ACCEPT, ServerTls::Plain).await;
    let mut at_refusing = target(Protocol::Imap, &refusing, TlsMode::None, false);
    at_refusing.name = "old-host".into();
    at_refusing.tls_server_name = Some("imap.old.example".into());
    let mut at_accepting = target(Protocol::Smtp, &accepting, TlsMode::None, false);
    at_accepting.name = "new-relay".into();
    at_accepting.tls_server_name = Some("smtp.new.example".into());
    let probe = Guarded::fast();

    let refused = probe.check(&at_refusing, &ctx(password())).await;
    assert_eq!(
        refused.reason,
        Some(Reason::AuthBadCredentials),
        "{refused:?}"
    );
    // The other server is asked, and answers for itself.
    let r = probe.check(&at_accepting, &ctx(password())).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(accepting.count("AUTH"), 1);
    // While the first backs off, it reports its own last answer.
    let again = probe.check(&at_refusing, &ctx(password())).await;
    assert!(again.message.starts_with("backing off"), "{again:?}");
    assert!(
        again
            .message
            .contains("last tried by target old-host; last answer: NO [AUTHENTICATIONFAILED]"),
        "{}",
        again.message
    );
    assert_eq!(refusing.count("a1 AUTHENTICATE"), 1);

    // One provider is one realm: the IMAP and SMTP of one Gmail account share the back-off
    // whatever host names they were given.
    let mut gmail_imap = at_refusing.clone();
    gmail_imap.provider = Some("gmail".into());
    let mut gmail_smtp = at_accepting.clone();
    gmail_smtp.provider = Some("google-workspace".into());
    assert_eq!(realm_of(&gmail_imap), realm_of(&gmail_smtp));
    assert_ne!(realm_of(&at_refusing), realm_of(&at_accepting));
}

#[tokio::test]
async fn targets_sharing_a_credential_share_one_backoff() {
    let imap = serve(IMAP_REJECT, ServerTls::Plain).await;
    let smtp = serve(REJECT, ServerTls::Plain).await;
    let imap_target = target(Protocol::Imap, &imap, TlsMode::None, false);
    let smtp_target = target(Protocol::Smtp, &smtp, TlsMode::None, false);
    let probe = Guarded::fast();

    let first = probe.check(&imap_target, &fast_backoff(password())).await;
    assert_eq!(first.reason, Some(Reason::AuthBadCredentials), "{first:?}");
    assert_eq!(first.details["backoff"]["failures"], 1);

    // The same mailbox's SMTP target holds the same stale password: no second failed login.
    let r = probe.check(&smtp_target, &fast_backoff(password())).await;
    assert!(
        r.message.contains(
            "failure 1, last tried by target test-imap; last answer: NO [AUTHENTICATIONFAILED]"
        ),
        "{}",
        r.message
    );
    assert_eq!(r.details["backoff"]["last_target"], "test-imap");
    assert_eq!(smtp.connections(), 0, "the SMTP server was not asked");

    // After the wait, whichever target comes first retries, and the count goes on.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = probe.check(&smtp_target, &fast_backoff(password())).await;
    assert_eq!(second.details["backoff"]["failures"], 2, "{second:?}");
    let r = probe.check(&imap_target, &fast_backoff(password())).await;
    assert!(
        r.message
            .contains("failure 2, last tried by target test-smtp"),
        "{}",
        r.message
    );
    assert_eq!(imap.count("a1 AUTHENTICATE") + smtp.count("AUTH"), 2);

    // A different secret at one target is a different credential: tried at once.
    let fixed = Credentials {
        secret: Secret::new("the-new-password"),
        ..password()
    };
    probe.check(&smtp_target, &fast_backoff(fixed)).await;
    assert_eq!(smtp.count("AUTH"), 2);
}

#[tokio::test]
async fn a_refusal_no_row_knows_still_backs_off() {
    let script = "
        S: +OK POP3 ready
        C: CAPA
        S: -ERR unknown command
        C: USER
        S: +OK
        C: PASS
        S: -ERR you shall not pass";
    let server = serve(script, ServerTls::Plain).await;
    let t = target(Protocol::Pop3, &server, TlsMode::None, false);
    let probe = Guarded::fast();
    let first = probe.check(&t, &fast_backoff(password())).await;
    assert_eq!(first.reason, Some(Reason::Unknown), "{first:?}");
    assert_eq!(first.details["backoff"]["failures"], 1, "{first:?}");
    let r = probe.check(&t, &fast_backoff(password())).await;
    assert!(r.message.starts_with("backing off"), "{}", r.message);
    assert_eq!(server.count("PASS"), 1, "the password was sent once");
}

#[tokio::test]
async fn a_dropped_connection_during_auth_does_not_back_off() {
    let script = "
        S: 220 mail.test ESMTP
        C: EHLO
        S: 250-mail.test
        S: 250 AUTH PLAIN
        C: AUTH PLAIN
        CLOSE";
    let server = serve(script, ServerTls::Plain).await;
    let t = target(Protocol::Smtp, &server, TlsMode::None, false);
    let probe = Guarded::fast();
    for _ in 0..2 {
        let r = probe.check(&t, &fast_backoff(password())).await;
        assert_eq!(r.reason, Some(Reason::ProtocolError), "{r:?}");
        assert!(r.details.get("backoff").is_none(), "{r:?}");
    }
    assert_eq!(server.count("AUTH"), 2);
}

#[tokio::test]
async fn a_backoff_max_beyond_thirty_days_is_refused() {
    let server = serve(REJECT, ServerTls::Plain).await;
    let t = target(Protocol::Smtp, &server, TlsMode::None, false);
    let options = json!({"backoff": {"initial": "1s", "max": "500000000000y"}});
    let e = Guarded::validate(&t, &options).unwrap_err();
    assert!(e.contains("backoff.max must be at most 30days"), "{e}");
    // Refused at load, so no check ever runs with it.
    let e = Guarded::new(options).unwrap_err();
    assert!(e.contains("backoff.max must be at most 30days"), "{e}");
    assert_eq!(server.connections(), 0);
}

/// Every 20-character piece of `secret`.
fn pieces(secret: &str) -> Vec<&str> {
    (0..=secret.len().saturating_sub(20))
        .map(|i| &secret[i..i + 20])
        .collect()
}

fn assert_no_piece_of(secrets: &[&str], outputs: &[String]) {
    for secret in secrets {
        for piece in pieces(secret) {
            for out in outputs {
                assert!(
                    !out.contains(piece),
                    "{piece:?} of a secret leaked into {out}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_long_echoed_sasl_blob_is_scrubbed_before_it_is_cut() {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let long_token =
        format!("ya29.{}", "a0AfB_byC3kLmN9pQrStUvWxYz-0123456789".repeat(7))[..250].to_string();
    let blob = b64(&format!("user={USER}\x01auth=Bearer {long_token}\x01\x01"));
    let creds = || Credentials {
        secret: Secret::new(long_token.clone()),
        ..token()
    };
    let smtp = format!(
        "S: 220 mail.test ESMTP
        C: EHLO
        S: 250-mail.test
        S: 250 AUTH XOAUTH2
        C: AUTH XOAUTH2
        S: 501 5.5.2 Invalid AUTH XOAUTH2 {blob}"
    );
    let imap = format!(
        "S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready
        C: AUTHENTICATE XOAUTH2
        S: {{tag}} NO Invalid AUTHENTICATE XOAUTH2 {blob}"
    );
    let pop3 = format!(
        "S: +OK ready
        C: CAPA
        S: +OK
        S: SASL XOAUTH2
        S: .
        C: AUTH XOAUTH2
        S: + 
        C:
        S: -ERR Invalid AUTH XOAUTH2 {blob}"
    );
    let mut outputs = Vec::new();
    for (protocol, script) in [
        (Protocol::Smtp, smtp),
        (Protocol::Imap, imap),
        (Protocol::Pop3, pop3),
    ] {
        let server = serve(&script, ServerTls::Plain).await;
        let t = target(protocol, &server, TlsMode::None, true);
        let probe = Guarded::fast();
        let failed = probe.check(&t, &fast_backoff(creds())).await;
        server.assert_followed();
        assert_ne!(failed.status, Status::Ok, "{failed:?}");
        assert!(failed.message.contains("<redacted>"), "{}", failed.message);
        let backing_off = probe.check(&t, &fast_backoff(creds())).await;
        for r in [&failed, &backing_off] {
            outputs.push(serde_json::to_string(r).unwrap());
            outputs.push(format!("{r:?}"));
        }
    }
    assert_no_piece_of(&[&blob, &long_token], &outputs);
}

#[tokio::test]
async fn an_echoed_imap_quoted_password_is_scrubbed() {
    let pw = r#"Tr0ub4dor"&\3-horse"#;
    let quoted = r#"Tr0ub4dor\"&\\3-horse"#;
    let script = format!(
        "S: * OK IMAP4rev1 ready
        C: CAPABILITY
        S: * CAPABILITY IMAP4rev1
        S: {{tag}} OK done
        C: LOGIN
        S: {{tag}} NO LOGIN \"{USER}\" \"{quoted}\" rejected"
    );
    let server = serve(&script, ServerTls::Plain).await;
    let t = target(Protocol::Imap, &server, TlsMode::None, false);
    let creds = Credentials {
        secret: Secret::new(pw),
        ..password()
    };
    let r = Guarded::fast().check(&t, &fast_backoff(creds)).await;
    server.assert_followed();
    assert!(
        server.received()[1].ends_with(&format!(" LOGIN \"{USER}\" \"{quoted}\"")),
        "{:?}",
        server.received()
    );
    assert_eq!(
        r.message,
        format!("NO LOGIN \"{USER}\" \"<redacted>\" rejected")
    );
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("Tr0ub4dor"), "{json}");
}

/// A login that takes 300 ms to be refused, counted.
#[derive(Default)]
struct SlowRefusal {
    logins: std::sync::atomic::AtomicUsize,
}

struct SlowRefusalProbe(std::sync::Arc<SlowRefusal>);

impl Probe for SlowRefusalProbe {
    fn name(&self) -> &str {
        "slow-login"
    }
    fn uses_credentials(&self) -> bool {
        true
    }
    fn configure(
        &self,
        _: &Target,
        _: &serde_json::Value,
    ) -> Result<std::sync::Arc<dyn mailbeat_sdk::Check>, mailbeat_sdk::OptionsError> {
        Ok(self.0.clone())
    }
}

#[async_trait::async_trait]
impl mailbeat_sdk::Check for SlowRefusal {
    async fn run(&self, _: &Target, _: &ProbeContext) -> CheckResult {
        self.logins
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        CheckResult::critical(Reason::AuthBadCredentials, "535 no")
            .with_credential(mailbeat_sdk::CredentialVerdict::Rejected)
    }
}

#[tokio::test]
async fn a_caller_that_hangs_up_does_not_lose_the_rejection() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "a-wrong-password").unwrap();
    let probe = std::sync::Arc::new(SlowRefusal::default());
    let probes: Vec<std::sync::Arc<dyn Probe>> =
        vec![std::sync::Arc::new(SlowRefusalProbe(probe.clone()))];
    let yaml = "targets:\n  - {name: box, protocol: imap, host: 127.0.0.1, tls: none, account: {username: alice, password_file: pw}, probes: [slow-login]}\n";
    let config = mailbeat::config::parse(yaml, "t.yml", dir.path(), &probes).unwrap();
    let loaded = mailbeat::check::prepare(std::sync::Arc::new(config), &Default::default());
    let (tc, pc) = loaded.jobs[0].in_config(&loaded.config).unwrap();
    // The caller gives up after 100 ms (a /probe client whose scrape timed out).
    let gave_up =
        tokio::time::timeout(Duration::from_millis(100), loaded.runner.run_now(tc, pc)).await;
    assert!(gave_up.is_err());
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The next ones are answered by the guard, at once.
    for _ in 0..3 {
        let next =
            tokio::time::timeout(Duration::from_millis(100), loaded.runner.run_now(tc, pc)).await;
        let next = next.expect("the guard answers without logging in").result;
        assert!(next.message.starts_with("backing off"), "{next:?}");
        assert_eq!(next.credential, None, "no verdict was observed by this run");
    }
    assert_eq!(
        probe.logins.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one login, its rejection kept although nobody waited for it"
    );
}
