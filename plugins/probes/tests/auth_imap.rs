//! `auth` over IMAP against scripted servers replaying what Dovecot, Gmail and Microsoft say.

mod auth_support;

use auth_support::*;
use mailbeat_sdk::{CheckResult, Credentials, Layer, Protocol, Reason, Status, TlsMode};
use std::time::{Duration, Instant};

const DOVECOT_GREETING: &str =
    "S: * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.";

const GMAIL_CAPS: &str = "
    S: * OK Gimap ready for requests from 203.0.113.5 a1mb12345
    C: CAPABILITY
    S: * CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 XYZZY SASL-IR AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER AUTH=XOAUTH
    S: {tag} OK Thats all she wrote! a1mb12345";

const EXAMINE_OK: &str = "
    C: EXAMINE INBOX
    S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
    S: * OK [PERMANENTFLAGS ()] Read-only mailbox.
    S: * 3 EXISTS
    S: * 0 RECENT
    S: * OK [UIDVALIDITY 1700000000] UIDs valid
    S: * OK [UIDNEXT 4] Predicted next UID
    S: {tag} OK [READ-ONLY] Examine completed (0.001 + 0.000 secs).";

async fn run(script: &str, provider: Option<&str>, creds: Credentials) -> (Scripted, CheckResult) {
    let server = serve(script, ServerTls::Plain).await;
    let oauth = creds.kind == mailbeat_sdk::SecretKind::AccessToken;
    let mut t = target(Protocol::Imap, &server, TlsMode::None, oauth);
    t.provider = provider.map(str::to_string);
    let result = check(&t, &ctx(creds)).await;
    (server, result)
}

/// Waits a moment for the server to record the client's last words.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn dovecot_authenticate_plain_with_sasl_ir() {
    let script = format!(
        "{DOVECOT_GREETING}
        C: AUTHENTICATE PLAIN
        S: {{tag}} OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE] Logged in
        {EXAMINE_OK}"
    );
    let (server, r) = run(&script, None, password()).await;
    settle().await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(
        r.message,
        format!("logged in as {USER} with PLAIN over plaintext; EXAMINE INBOX ok")
    );
    assert_eq!(r.observations["auth_success"], 1.0);
    assert_eq!(r.samples[0].labels["mechanism"], "PLAIN");
    let received = server.received();
    let blob = received[0]
        .split(' ')
        .nth(3)
        .expect("SASL-IR initial response");
    assert_eq!(b64(blob), format!("\0{USER}\0{PASSWORD}").into_bytes());
    assert!(
        received.last().unwrap().ends_with(" LOGOUT"),
        "{received:?}"
    );
}

#[tokio::test]
async fn authenticate_plain_waits_for_the_continuation_without_sasl_ir() {
    let script = format!(
        "S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready
        C: AUTHENTICATE PLAIN
        S: + 
        C:
        S: {{tag}} OK Logged in
        {EXAMINE_OK}"
    );
    let (server, r) = run(&script, None, password()).await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let received = server.received();
    assert!(received[0].ends_with("AUTHENTICATE PLAIN"), "{received:?}");
    assert_eq!(
        b64(&received[1]),
        format!("\0{USER}\0{PASSWORD}").into_bytes()
    );
}

#[tokio::test]
async fn login_command_when_no_sasl_is_offered() {
    let script = format!(
        "S: * OK IMAP4rev1 Service Ready
        C: CAPABILITY
        S: * CAPABILITY IMAP4rev1 IDLE
        S: {{tag}} OK CAPABILITY completed
        C: LOGIN
        S: {{tag}} OK LOGIN completed
        {EXAMINE_OK}"
    );
    let (server, r) = run(&script, None, password()).await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(r.samples[0].labels["mechanism"], "LOGIN");
    let login = &server.received()[1];
    assert!(
        login.ends_with(&format!(" LOGIN \"{USER}\" \"{PASSWORD}\"")),
        "{login}"
    );
}

#[tokio::test]
async fn xoauth2_and_oauthbearer_succeed() {
    let script = format!(
        "{GMAIL_CAPS}
        C: AUTHENTICATE XOAUTH2
        S: * CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- SPECIAL-USE APPENDLIMIT=35651584
        S: {{tag}} OK {USER} authenticated (Success)
        {EXAMINE_OK}"
    );
    let (server, r) = run(&script, Some("gmail"), token()).await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let blob = server.received()[1].split(' ').nth(3).unwrap().to_string();
    assert_eq!(
        b64(&blob),
        format!("user={USER}\x01auth=Bearer {TOKEN}\x01\x01").into_bytes()
    );

    let script = format!(
        "S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] ready
        C: AUTHENTICATE OAUTHBEARER
        S: {{tag}} OK done
        {EXAMINE_OK}"
    );
    let (server, r) = run(&script, None, token()).await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let blob = server.received()[0].split(' ').nth(3).unwrap().to_string();
    let expected = format!(
        "n,a={USER},\x01host=mail.test\x01port={}\x01auth=Bearer {TOKEN}\x01\x01",
        server.addr.port()
    );
    assert_eq!(b64(&blob), expected.into_bytes());
}

#[tokio::test]
async fn gmail_xoauth2_error_challenge_is_answered_and_kept() {
    let script = format!(
        "{GMAIL_CAPS}
        C: AUTHENTICATE XOAUTH2
        S: + eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==
        C:
        S: {{tag}} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"
    );
    let (server, r) = run(&script, Some("gmail"), token()).await;
    server.assert_followed();
    assert_eq!(
        server.received()[2],
        "",
        "XOAUTH2 error challenge answered with an empty line"
    );
    // Gmail's 400 challenge (token without the mail scope, or for another user) outranks the
    // generic AUTHENTICATIONFAILED that follows it.
    assert_eq!(r.reason, Some(Reason::OauthConsentRequired), "{r:?}");
    assert_eq!(
        r.details["oauth_error"],
        r#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#
    );
    assert!(
        r.message
            .starts_with("NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn gmail_alert_application_specific_password_required() {
    let script = format!(
        "{GMAIL_CAPS}
        C: AUTHENTICATE PLAIN
        S: {{tag}} NO [ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)"
    );
    let (server, r) = run(&script, Some("gmail"), password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::AuthAppPasswordRequired), "{r:?}");
    assert_eq!(
        r.message,
        "NO [ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)"
    );
    assert_eq!(r.details["protocol_step"], "auth");
    assert_eq!(r.observations["auth_success"], 0.0);
}

#[tokio::test]
async fn gmail_alert_log_in_via_web_browser() {
    let script = format!(
        "{GMAIL_CAPS}
        C: AUTHENTICATE PLAIN
        S: * NO [WEBALERT https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=AKgnsbsx] Web login required.
        S: {{tag}} NO [ALERT] Please log in via your web browser: https://support.google.com/mail/accounts/answer/78754 (Failure)"
    );
    let (server, r) = run(&script, Some("gmail"), password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::AuthWebLoginRequired), "{r:?}");
    assert!(
        r.message
            .contains("WEBALERT https://accounts.google.com/signin/continue"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn dovecot_authenticationfailed_is_bad_credentials() {
    let script = format!(
        "{DOVECOT_GREETING}
        C: AUTHENTICATE PLAIN
        S: {{tag}} NO [AUTHENTICATIONFAILED] Authentication failed."
    );
    let (server, r) = run(&script, None, password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::AuthBadCredentials), "{r:?}");
    assert_eq!(
        r.message,
        "NO [AUTHENTICATIONFAILED] Authentication failed."
    );
}

#[tokio::test]
async fn logindisabled_on_plaintext_sends_no_password() {
    let script = "S: * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED] Dovecot ready.";
    let (server, r) = run(script, None, password()).await;
    settle().await;
    assert_eq!(r.reason, Some(Reason::StarttlsRequired), "{r:?}");
    assert!(r.message.contains("LOGINDISABLED"), "{}", r.message);
    let received = server.received();
    assert!(
        received
            .iter()
            .all(|l| !l.contains("LOGIN \"") && !l.contains("AUTHENTICATE")),
        "{received:?}"
    );
}

#[tokio::test]
async fn dovecot_privacyrequired_is_starttls_required() {
    let script = "
        S: * OK Dovecot ready.
        C: CAPABILITY
        S: * CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS
        S: {tag} OK Pre-login capabilities listed, post-login capabilities have more.
        C: LOGIN
        S: {tag} NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";
    let (server, r) = run(script, None, password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::StarttlsRequired), "{r:?}");
}

#[tokio::test]
async fn microsoft_authenticated_but_not_connected_fails_the_confirmation() {
    let script = "
        S: * OK The Microsoft Exchange IMAP4 service is ready. [QgBOADAAUABSADAANABDAEEAMAAwADAAMQA=]
        C: CAPABILITY
        S: * CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+
        S: {tag} OK CAPABILITY completed.
        C: AUTHENTICATE XOAUTH2
        S: {tag} OK AUTHENTICATE completed.
        C: EXAMINE INBOX
        S: {tag} BAD User is authenticated but not connected.";
    let (server, r) = run(script, Some("office365"), token()).await;
    server.assert_followed();
    // IMAP is off for the mailbox (or the app's token has no access to it).
    assert_eq!(r.reason, Some(Reason::AuthProtocolDisabled), "{r:?}");
    assert_eq!(r.status, Status::Critical);
    assert_eq!(r.details["protocol_step"], "confirm");
    assert_eq!(r.message, "BAD User is authenticated but not connected.");
}

#[tokio::test]
async fn microsoft_authenticate_failed_for_a_token_is_consent_not_basic_auth() {
    let script = "
        S: * OK The Microsoft Exchange IMAP4 service is ready. [QgBOADAAUABSADAANABDAEEAMAAwADAAMQA=]
        C: CAPABILITY
        S: * CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+
        S: {tag} OK CAPABILITY completed.
        C: AUTHENTICATE XOAUTH2
        S: {tag} NO AUTHENTICATE failed.";
    let (server, r) = run(script, Some("office365"), token()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::OauthConsentRequired), "{r:?}");
    assert_eq!(r.message, "NO AUTHENTICATE failed.");
    assert_eq!(r.observations["auth_success"], 0.0);
    // The same words for a password keep their meaning there.
    let script = "
        S: * OK The Microsoft Exchange IMAP4 service is ready.
        C: CAPABILITY
        S: * CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR LITERAL+
        S: {tag} OK CAPABILITY completed.
        C: AUTHENTICATE PLAIN
        S: {tag} NO AUTHENTICATE failed.";
    let (_, r) = run(script, Some("office365"), password()).await;
    assert_eq!(r.reason, Some(Reason::AuthBasicAuthDisabled), "{r:?}");
}

/// Peak resident memory of this test process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test]
async fn a_huge_literal_announced_during_login_is_refused_before_it_is_allocated() {
    let before = peak_rss();
    for (script, creds) in [
        (
            // 34 bytes that would make async-imap zero-fill ~490 MB.
            "S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready
            C: AUTHENTICATE PLAIN
            S: * 1 FETCH (BODY[] {500000000}",
            password(),
        ),
        (
            "S: * OK [CAPABILITY IMAP4rev1] ready
            C: LOGIN
            S: * 1 FETCH (BODY[] {500000000+}",
            password(),
        ),
        (
            "S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready
            C: AUTHENTICATE XOAUTH2
            S: * OK [ALERT] {500000000}",
            token(),
        ),
    ] {
        let started = Instant::now();
        let (server, r) = run(script, None, creds).await;
        server.assert_followed();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(r.reason, Some(Reason::ProtocolError), "{r:?}");
        assert_eq!(
            r.message,
            "server announced a 500000000-byte literal during login"
        );
        assert_eq!(r.details["protocol_step"], "auth");
        assert!(!r.observations.contains_key("auth_success"), "{r:?}");
    }
    let grown = peak_rss().saturating_sub(before);
    assert!(
        grown < 50 * 1024 * 1024,
        "peak RSS grew by {} MB",
        grown / (1024 * 1024)
    );
}

#[tokio::test]
async fn a_small_literal_during_login_is_read_as_data() {
    // The literal's 14 bytes ("x{500000000}" CR LF) are data, not a line announcing one.
    let script = format!(
        "S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready
        C: AUTHENTICATE PLAIN
        S: * 1 FETCH (BODY[] {{14}}
        S: x{{500000000}}
        S: )
        S: {{tag}} OK Logged in
        {EXAMINE_OK}"
    );
    let (server, r) = run(&script, None, password()).await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
}

#[tokio::test]
async fn a_continuation_after_sasl_ir_plain_is_not_an_oauth_error() {
    let script = format!(
        "{DOVECOT_GREETING}
        C: AUTHENTICATE PLAIN
        S: + eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIn0=
        C: *
        S: {{tag}} BAD Authentication aborted by client."
    );
    let (server, r) = run(&script, None, password()).await;
    server.assert_followed();
    assert!(r.details.get("oauth_error").is_none(), "{r:?}");
    assert!(!r.message.contains("OAuth"), "{}", r.message);
    assert_eq!(r.reason, Some(Reason::ProtocolError), "{r:?}");
}

#[tokio::test]
async fn endless_challenges_are_cancelled() {
    let challenge = "S: + eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIn0=\n        C:";
    let script = format!(
        "S: * OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] ready
        C: AUTHENTICATE XOAUTH2
        S: + 
        C:
        {challenge}
        {challenge}
        {challenge}
        S: + eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIn0=
        C: *"
    );
    let started = Instant::now();
    let (server, r) = run(&script, None, token()).await;
    settle().await;
    server.assert_followed();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.reason, Some(Reason::ProtocolError), "{r:?}");
    assert_eq!(
        r.message,
        "the server kept challenging AUTHENTICATE XOAUTH2; cancelled"
    );
    // Initial response, three empty answers to error challenges, then the cancellation.
    let received = server.received();
    assert_eq!(&received[2..], ["", "", "", "*"], "{received:?}");
    assert!(!r.observations.contains_key("auth_success"), "{r:?}");
}

#[tokio::test]
async fn bye_before_the_tagged_reply_is_the_servers_word() {
    let script = format!(
        "{DOVECOT_GREETING}
        C: AUTHENTICATE PLAIN
        S: * BYE Too many invalid IMAP commands.
        CLOSE"
    );
    let (server, r) = run(&script, None, password()).await;
    server.assert_followed();
    assert_ne!(r.status, Status::Ok, "{r:?}");
    assert_eq!(r.message, "BYE Too many invalid IMAP commands.");
    assert_eq!(r.details["protocol_step"], "auth");
}

#[tokio::test]
async fn login_over_implicit_tls_with_the_targets_ca() {
    let (acceptor, roots) = pki();
    let script = format!(
        "{DOVECOT_GREETING}
        C: AUTHENTICATE PLAIN
        S: {{tag}} OK Logged in
        {EXAMINE_OK}"
    );
    let server = serve(&script, ServerTls::Implicit(acceptor)).await;
    let t = target(Protocol::Imap, &server, TlsMode::Implicit, false);
    let r = check(&t, &ctx_with(password(), Duration::from_secs(5), roots)).await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(
        r.message,
        format!("logged in as {USER} with PLAIN over TLS; EXAMINE INBOX ok")
    );
}

#[tokio::test]
async fn untrusted_certificate_fails_before_any_secret_is_sent() {
    let (acceptor, _roots) = pki();
    let server = serve(DOVECOT_GREETING, ServerTls::Implicit(acceptor)).await;
    let t = target(Protocol::Imap, &server, TlsMode::Implicit, false);
    let r = check(&t, &ctx(password())).await;
    // Which certificate reason is the tls code's to say (untrusted root, self-signed, …).
    assert_eq!(r.reason.map(Reason::layer), Some(Layer::Tls), "{r:?}");
    assert_eq!(r.details["protocol_step"], "connect");
    assert!(
        !r.observations.contains_key("auth_success"),
        "no verdict on the credential"
    );
    assert!(server.received().is_empty());
}
