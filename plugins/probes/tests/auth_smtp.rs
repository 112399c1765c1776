//! `auth` over SMTP against scripted servers replaying what real servers say.

mod auth_support;

use auth_support::*;
use mailbeat_sdk::remediation::remediation;
use mailbeat_sdk::{Locale, Protocol, Reason, Status, TlsMode};
use std::time::{Duration, Instant};

const EHLO_POSTFIX: &str = "
    S: 220 mail.test ESMTP Postfix (Debian/GNU)
    C: EHLO
    S: 250-mail.test
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250-AUTH PLAIN LOGIN
    S: 250-ENHANCEDSTATUSCODES
    S: 250 8BITMIME";

const EHLO_GMAIL: &str = "
    S: 220 smtp.gmail.com ESMTP d2sm1234567qkb.12 - gsmtp
    C: EHLO
    S: 250-smtp.gmail.com at your service, [203.0.113.5]
    S: 250-SIZE 35882577
    S: 250-8BITMIME
    S: 250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH
    S: 250-ENHANCEDSTATUSCODES
    S: 250 SMTPUTF8";

async fn run(
    script: &str,
    provider: Option<&str>,
    creds: mailbeat_sdk::Credentials,
) -> (Scripted, mailbeat_sdk::CheckResult) {
    let server = serve(script, ServerTls::Plain).await;
    let mut t = target(
        Protocol::Smtp,
        &server,
        TlsMode::None,
        creds.kind == mailbeat_sdk::SecretKind::AccessToken,
    );
    t.provider = provider.map(str::to_string);
    let result = check(&t, &ctx(creds)).await;
    (server, result)
}

#[tokio::test]
async fn plain_login_succeeds_and_sends_the_rfc4616_blob() {
    let script = format!(
        "{EHLO_POSTFIX}
        C: AUTH PLAIN
        S: 235 2.7.0 Authentication successful
        C: NOOP
        S: 250 2.0.0 Ok"
    );
    let (server, r) = run(&script, None, password()).await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(
        r.message,
        format!("logged in as {USER} with PLAIN over plaintext; NOOP ok")
    );
    assert_eq!(r.observations["auth_success"], 1.0);
    assert_eq!(r.samples[0].labels["mechanism"], "PLAIN");
    let received = server.received();
    let blob = received[1]
        .strip_prefix("AUTH PLAIN ")
        .expect("initial response sent");
    assert_eq!(b64(blob), format!("\0{USER}\0{PASSWORD}").into_bytes());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.count("QUIT"), 1, "logs out politely");
}

#[tokio::test]
async fn login_mechanism_answers_both_challenges() {
    let script = "
        S: 220 legacy.test ESMTP
        C: EHLO
        S: 250-legacy.test
        S: 250 AUTH LOGIN
        C: AUTH LOGIN
        S: 334 VXNlcm5hbWU6
        C:
        S: 334 UGFzc3dvcmQ6
        C:
        S: 235 2.7.0 Authentication successful
        C: NOOP
        S: 250 2.0.0 Ok";
    let (server, r) = run(script, None, password()).await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let received = server.received();
    assert_eq!(b64(&received[2]), USER.as_bytes());
    assert_eq!(b64(&received[3]), PASSWORD.as_bytes());
}

#[tokio::test]
async fn xoauth2_success_over_starttls_with_the_targets_ca() {
    let (acceptor, roots) = pki();
    let script = "
        S: 220 mail.test ESMTP
        C: EHLO
        S: 250-mail.test
        S: 250 STARTTLS
        C: STARTTLS
        S: 220 2.0.0 Ready to start TLS
        TLS
        C: EHLO
        S: 250-mail.test
        S: 250 AUTH PLAIN XOAUTH2
        C: AUTH XOAUTH2
        S: 235 2.7.0 Accepted
        C: NOOP
        S: 250 2.0.0 OK";
    let server = serve(script, ServerTls::Starttls(acceptor)).await;
    let t = target(Protocol::Smtp, &server, TlsMode::Starttls, true);
    let ctx = ctx_with(token(), Duration::from_secs(5), roots);
    let r = check(&t, &ctx).await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(
        r.message,
        format!("logged in as {USER} with XOAUTH2 over TLS; NOOP ok")
    );
    let auth = &server.received()[3];
    let blob = auth.strip_prefix("AUTH XOAUTH2 ").unwrap();
    assert_eq!(
        b64(blob),
        format!("user={USER}\x01auth=Bearer {TOKEN}\x01\x01").into_bytes()
    );
}

#[tokio::test]
async fn gmail_534_5_7_9_is_app_password_required() {
    let script = format!(
        "{EHLO_GMAIL}
        C: AUTH PLAIN
        S: 534-5.7.9 Application-specific password required. For more information, go to
        S: 534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor d2sm1234567qkb.12 - gsmtp"
    );
    let (server, r) = run(&script, Some("gmail"), password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::AuthAppPasswordRequired), "{r:?}");
    assert_eq!(r.status, Status::Critical);
    assert!(
        r.message
            .starts_with("534-5.7.9 Application-specific password required."),
        "{}",
        r.message
    );
    assert!(r
        .message
        .contains("https://support.google.com/mail/?p=InvalidSecondFactor"));
    assert_eq!(r.details["mechanism"], "PLAIN");
    assert_eq!(r.details["protocol_step"], "auth");
    assert_eq!(r.observations["auth_success"], 0.0);
    assert!(r.remediation.is_none(), "the agent fills remediation");
    // ... from the reason and the provider: where to make a Google app password.
    let reason = r.reason.unwrap();
    let en = remediation(reason, Some("gmail"), Locale::En);
    assert!(
        en.contains("https://myaccount.google.com/apppasswords"),
        "{en}"
    );
    let ja = remediation(reason, Some("gmail"), Locale::Ja);
    assert!(
        ja.contains("アプリ パスワード") && ja.contains("apppasswords"),
        "{ja}"
    );
}

#[tokio::test]
async fn microsoft_535_5_7_139_is_protocol_disabled() {
    let script = "
        S: 220 BN0PR04CA0001.outlook.office365.com Microsoft ESMTP MAIL Service ready
        C: EHLO
        S: 250-BN0PR04CA0001.outlook.office365.com Hello [203.0.113.5]
        S: 250-SIZE 157286400
        S: 250-AUTH LOGIN XOAUTH2
        S: 250 SMTPUTF8
        C: AUTH LOGIN
        S: 334 VXNlcm5hbWU6
        C:
        S: 334 UGFzc3dvcmQ6
        C:
        S: 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [BN0PR04CA0001.namprd04.prod.outlook.com]";
    let (server, r) = run(script, Some("office365"), password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::AuthProtocolDisabled), "{r:?}");
    assert!(r.message.starts_with(
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled"
    ));
    assert_eq!(r.details["mechanism"], "LOGIN");
    // The Microsoft 365 setting that turns SMTP AUTH back on, in both languages.
    let en = remediation(Reason::AuthProtocolDisabled, Some("office365"), Locale::En);
    assert!(en.contains("Authenticated SMTP"), "{en}");
    assert!(
        en.contains("SmtpClientAuthenticationDisabled $false"),
        "{en}"
    );
    let ja = remediation(Reason::AuthProtocolDisabled, Some("office365"), Locale::Ja);
    assert!(ja.contains("認証済み SMTP"), "{ja}");
}

#[tokio::test]
async fn gmail_xoauth2_challenge_json_is_answered_and_classified() {
    let script = format!(
        "{EHLO_GMAIL}
        C: AUTH XOAUTH2
        S: 334 eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==
        C:
        S: 535-5.7.8 Username and Password not accepted. For more information, go to
        S: 535 5.7.8  https://support.google.com/mail/?p=BadCredentials d2sm1234567qkb.12 - gsmtp"
    );
    let (server, r) = run(&script, Some("gmail"), token()).await;
    server.assert_followed();
    assert_eq!(
        server.received()[2],
        "",
        "XOAUTH2 error challenge is answered with an empty line"
    );
    // The challenge's 400 names the cause (token without the mail scope); the 535 is generic.
    assert_eq!(r.reason, Some(Reason::OauthConsentRequired), "{r:?}");
    assert_eq!(
        r.details["oauth_error"],
        r#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#
    );
    assert!(
        r.message
            .starts_with("535-5.7.8 Username and Password not accepted."),
        "{}",
        r.message
    );
    assert_eq!(r.details["mechanism"], "XOAUTH2");
}

#[tokio::test]
async fn yahoo_too_many_attempts() {
    let script = "
        S: 220 smtp.mail.yahoo.com ESMTP ready
        C: EHLO
        S: 250-smtp.mail.yahoo.com
        S: 250-PIPELINING
        S: 250 AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER
        C: AUTH PLAIN
        S: 535 5.7.0 (#AUTH005) Too many bad auth attempts.";
    let (server, r) = run(script, Some("yahoo"), password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::AuthTooManyAttempts), "{r:?}");
}

#[tokio::test]
async fn postfix_535_5_7_8_is_bad_credentials() {
    let script = format!(
        "{EHLO_POSTFIX}
        C: AUTH PLAIN
        S: 535 5.7.8 Error: authentication failed: (reason unavailable)"
    );
    let (server, r) = run(&script, None, password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::AuthBadCredentials), "{r:?}");
    assert_eq!(
        r.message,
        "535 5.7.8 Error: authentication failed: (reason unavailable)"
    );
}

#[tokio::test]
async fn postfix_530_before_starttls_is_starttls_required() {
    // A server that advertises AUTH on plaintext but refuses it (smtpd_tls_auth_only with a
    // forced mechanism, or a middlebox rewriting EHLO).
    let script = format!(
        "{EHLO_POSTFIX}
        C: AUTH PLAIN
        S: 530 5.7.0 Must issue a STARTTLS command first"
    );
    let (server, r) = run(&script, None, password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::StarttlsRequired), "{r:?}");
}

#[tokio::test]
async fn auth_only_after_starttls_sends_no_password_in_plaintext() {
    let script = "
        S: 220 mail.test ESMTP Postfix
        C: EHLO
        S: 250-mail.test
        S: 250-PIPELINING
        S: 250-STARTTLS
        S: 250 8BITMIME";
    let (server, r) = run(script, None, password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::StarttlsRequired), "{r:?}");
    assert!(r.message.contains("not sent"), "{}", r.message);
    assert_eq!(server.count("AUTH"), 0);
}

#[tokio::test]
async fn no_usable_mechanism_sends_nothing() {
    let script = "
        S: 220 mail.test ESMTP
        C: EHLO
        S: 250-mail.test
        S: 250 AUTH CRAM-MD5 GSSAPI";
    let (server, r) = run(script, None, password()).await;
    assert_eq!(r.reason, Some(Reason::AuthMechanismUnsupported), "{r:?}");
    assert!(r.message.contains("CRAM-MD5"), "{}", r.message);
    assert_eq!(server.count("AUTH"), 0);
}

#[tokio::test]
async fn server_hanging_after_auth_is_server_timeout_within_the_deadline() {
    let script = format!(
        "{EHLO_POSTFIX}
        C: AUTH PLAIN
        HANG"
    );
    let server = serve(&script, ServerTls::Plain).await;
    let t = target(Protocol::Smtp, &server, TlsMode::None, false);
    let ctx = ctx_with(
        password(),
        Duration::from_millis(500),
        std::sync::Arc::new(rustls::RootCertStore::empty()),
    );
    let started = Instant::now();
    let r = check(&t, &ctx).await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.reason, Some(Reason::ServerTimeout), "{r:?}");
    assert_eq!(r.details["protocol_step"], "auth");
    assert!(
        !r.observations.contains_key("auth_success") && r.samples.is_empty(),
        "a timeout says nothing about the credential: {r:?}"
    );
}

#[tokio::test]
async fn a_connection_dropped_during_auth_leaves_the_gauge_alone() {
    let script = format!(
        "{EHLO_POSTFIX}
        C: AUTH PLAIN
        CLOSE"
    );
    let (server, r) = run(&script, None, password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::ProtocolError), "{r:?}");
    assert_eq!(r.details["protocol_step"], "auth");
    assert!(
        !r.observations.contains_key("auth_success") && r.samples.is_empty(),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_plain_login_challenged_after_its_initial_response_records_no_oauth_error() {
    let script = format!(
        "{EHLO_POSTFIX}
        C: AUTH PLAIN
        S: 334 eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIn0=
        C: *
        S: 501 5.7.0 Authentication aborted"
    );
    let (server, r) = run(&script, None, password()).await;
    server.assert_followed();
    assert!(r.details.get("oauth_error").is_none(), "{r:?}");
}
