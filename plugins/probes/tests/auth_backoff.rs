//! Account safety and secrecy: the `auth` probe backs off after a rejected credential (counted
//! at the server), and never lets a secret into a result or a Debug print.

mod auth_support;

use auth_support::*;
use base64::Engine;
use mailbeat_probes::auth::AuthProbe;
use mailbeat_sdk::{Credentials, Probe, ProbeContext, Protocol, Reason, Secret, Status, TlsMode};
use serde_json::json;
use std::time::Duration;

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
    ctx(creds).with_options(json!({"backoff": {"initial": "200ms", "max": "1s", "factor": 2}}))
}

#[tokio::test]
async fn repeated_failures_do_not_hammer_the_server() {
    let server = serve(REJECT, ServerTls::Plain).await;
    let t = target(Protocol::Smtp, &server, TlsMode::None, false);
    let probe = AuthProbe::new();

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
            r.message.contains(", failure 1; last answer: 535 5.7.8"),
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
    let probe = AuthProbe::new();
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
    // One target name (the back-off key) pointed at either server.
    let mut t = target(Protocol::Smtp, &bad, TlsMode::None, false);
    let probe = AuthProbe::new();
    probe.check(&t, &fast_backoff(password())).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    probe.check(&t, &fast_backoff(password())).await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    t.port = good.addr.port();
    let ok = probe.check(&t, &fast_backoff(password())).await;
    assert_eq!(ok.status, Status::Ok, "{ok:?}");
    t.port = bad.addr.port();
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
    let probe = AuthProbe::new();
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
    let probe = AuthProbe::new();
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
    let r = AuthProbe::new().check(&t, &ctx).await;
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(r.reason, Some(Reason::ConfigError));
    assert_eq!(r.message, "no credentials");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn validate_names_config_mistakes() {
    let server = serve(REJECT, ServerTls::Plain).await;
    let probe = AuthProbe::new();
    let mut t = target(Protocol::Smtp, &server, TlsMode::None, false);
    assert!(probe.validate(&t, &serde_json::Value::Null).is_ok());
    assert!(probe
        .validate(&t, &json!({"backoff": {"initial": "1m", "max": "1h"}}))
        .is_ok());
    let e = probe.validate(&t, &json!({"confrim": true})).unwrap_err();
    assert!(e.contains("confrim"), "{e}");
    let e = probe
        .validate(&t, &json!({"mechanism": "xoauth2"}))
        .unwrap_err();
    assert!(e.contains("OAuth"), "{e}");
    t.account = None;
    let e = probe.validate(&t, &serde_json::Value::Null).unwrap_err();
    assert!(e.contains("account"), "{e}");
}
