//! `auth` over POP3 against scripted servers.

mod auth_support;

use auth_support::*;
use mailbeat_sdk::{CheckResult, Credentials, Protocol, Reason, Secret, Status, TlsMode};

const DOVECOT_CAPA: &str = "
    S: +OK Dovecot ready.
    C: CAPA
    S: +OK
    S: CAPA
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: PIPELINING
    S: AUTH-RESP-CODE
    S: USER
    S: SASL PLAIN
    S: .";

const STAT_OK: &str = "
    C: STAT
    S: +OK 3 4096";

async fn run(script: &str, creds: Credentials) -> (Scripted, CheckResult) {
    let server = serve(script, ServerTls::Plain).await;
    let oauth = creds.kind == mailbeat_sdk::SecretKind::AccessToken;
    let t = target(Protocol::Pop3, &server, TlsMode::None, oauth);
    let result = check(&t, &ctx(creds)).await;
    (server, result)
}

#[tokio::test]
async fn auth_plain_with_initial_response() {
    let script = format!(
        "{DOVECOT_CAPA}
        C: AUTH PLAIN
        S: +OK Logged in.
        {STAT_OK}"
    );
    let (server, r) = run(&script, password()).await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(
        r.message,
        format!("logged in as {USER} with PLAIN over plaintext; STAT ok")
    );
    let blob = server.received()[1]
        .strip_prefix("AUTH PLAIN ")
        .unwrap()
        .to_string();
    assert_eq!(b64(&blob), format!("\0{USER}\0{PASSWORD}").into_bytes());
}

#[tokio::test]
async fn user_pass_when_the_server_has_no_capa() {
    let script = format!(
        "S: +OK POP3 server ready
        C: CAPA
        S: -ERR unknown command
        C: USER {USER}
        S: +OK
        C: PASS
        S: +OK maildrop locked and ready
        {STAT_OK}"
    );
    let (server, r) = run(&script, password()).await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(r.samples[0].labels["mechanism"], "USER");
    assert_eq!(server.received()[2], format!("PASS {PASSWORD}"));
}

#[tokio::test]
async fn dovecot_err_auth_is_bad_credentials() {
    let script = format!(
        "{DOVECOT_CAPA}
        C: AUTH PLAIN
        S: -ERR [AUTH] Authentication failed."
    );
    let (server, r) = run(&script, password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::AuthBadCredentials), "{r:?}");
    assert_eq!(r.message, "-ERR [AUTH] Authentication failed.");
    assert_eq!(r.details["mechanism"], "PLAIN");
}

#[tokio::test]
async fn long_xoauth2_response_goes_after_the_continuation() {
    let long = Credentials {
        secret: Secret::new("t".repeat(400)),
        ..token()
    };
    let script = "
        S: +OK The Microsoft Exchange POP3 service is ready.
        C: CAPA
        S: +OK
        S: TOP
        S: UIDL
        S: SASL PLAIN XOAUTH2
        S: USER
        S: .
        C: AUTH XOAUTH2
        S: + 
        C:
        S: +OK User successfully authenticated.
        C: STAT
        S: +OK 0 0";
    let (server, r) = run(script, long).await;
    server.assert_followed();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let received = server.received();
    assert_eq!(
        received[1], "AUTH XOAUTH2",
        "RFC 5034: no initial response beyond 255 octets"
    );
    let expected = format!("user={USER}\x01auth=Bearer {}\x01\x01", "t".repeat(400));
    assert_eq!(b64(&received[2]), expected.into_bytes());
}

#[tokio::test]
async fn xoauth2_error_challenge_json_decides_the_reason() {
    let script = "
        S: +OK ready
        C: CAPA
        S: +OK
        S: SASL XOAUTH2
        S: .
        C: AUTH XOAUTH2
        S: + eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=
        C:
        S: -ERR [AUTH] Authentication failed.";
    let (server, r) = run(script, token()).await;
    server.assert_followed();
    assert_eq!(
        server.received()[2],
        "",
        "XOAUTH2 error challenge answered with an empty line"
    );
    // Dovecot's 401: a freshly issued token refused, so the grant is gone.
    assert_eq!(r.reason, Some(Reason::OauthRefreshTokenRevoked), "{r:?}");
    assert_eq!(
        r.details["oauth_error"],
        r#"{"status":"401","schemes":"bearer"}"#
    );
}

#[tokio::test]
async fn plaintext_with_only_stls_sends_no_password() {
    let script = "
        S: +OK Dovecot ready.
        C: CAPA
        S: +OK
        S: CAPA
        S: TOP
        S: UIDL
        S: RESP-CODES
        S: PIPELINING
        S: AUTH-RESP-CODE
        S: STLS
        S: SASL
        S: .";
    let (server, r) = run(script, password()).await;
    assert_eq!(r.reason, Some(Reason::StarttlsRequired), "{r:?}");
    assert!(server
        .received()
        .iter()
        .all(|l| !l.starts_with("USER") && !l.starts_with("AUTH")));
}

#[tokio::test]
async fn qmail_authorization_failed_is_bad_credentials() {
    let script = format!(
        "S: +OK <12345.1700000000@mail.test>
        C: CAPA
        S: -ERR authorization first
        C: USER {USER}
        S: +OK 
        C: PASS
        S: -ERR authorization failed"
    );
    let (server, r) = run(&script, password()).await;
    server.assert_followed();
    assert_eq!(r.reason, Some(Reason::AuthBadCredentials), "{r:?}");
    assert_eq!(r.message, "-ERR authorization failed");
    // The verdict the agent's credential guard backs off on (agent/tests/credential_guard.rs).
    assert_eq!(
        r.credential,
        Some(mailbeat_sdk::CredentialVerdict::Rejected),
        "{r:?}"
    );
    assert_eq!(r.observations["auth_success"], 0.0);
}

#[tokio::test]
async fn a_continuation_after_plain_is_not_an_oauth_error() {
    let script = format!(
        "{DOVECOT_CAPA}
        C: AUTH PLAIN
        S: + eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIn0=
        C: *
        S: -ERR [AUTH] Authentication failed."
    );
    let (server, r) = run(&script, password()).await;
    server.assert_followed();
    assert!(r.details.get("oauth_error").is_none(), "{r:?}");
    assert_eq!(r.reason, Some(Reason::AuthBadCredentials), "{r:?}");
}
