//! The `ews` probe against a real HTTPS server: the harness's nginx (tests/harness), which wants
//! Basic auth and answers a canned EWS `GetFolder`, an impersonation-denied fault, or a 401
//! offering only NTLM/Negotiate. Run with the harness: `bash tests/run-all.sh`, or start it
//! (`tests/harness/start.sh DIR`), `source DIR/env.sh` and pass `--include-ignored`.

use mailbeat_plugin_ews::EwsProbe;
use mailbeat_sdk::{
    check_once, Account, CheckResult, CredentialVerdict, Credentials, ProbeContext, Reason, Secret,
    SecretKind, Status, Target, TlsMode,
};
use std::sync::Arc;
use std::time::Duration;

const NEEDS: &str = "needs the real-server harness: run bash tests/run-all.sh";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} unset: {NEEDS}"))
}

/// `https://127.0.0.1:PORT/PATH` of the harness's nginx (127.0.0.1 is in the leaf's SANs).
fn url(port_var: &str, path_var: &str) -> String {
    format!("https://127.0.0.1:{}{}", env(port_var), env(path_var))
}

fn target(username: &str, migration_domain: Option<&str>) -> Target {
    Target {
        name: "ews".into(),
        protocol: None,
        host: "127.0.0.1".into(),
        port: None,
        tls: TlsMode::Implicit,
        tls_server_name: None,
        ca_file: None,
        source_address: None,
        provider: None,
        account: Some(Account {
            username: username.into(),
            mechanism: None,
            oauth: false,
            token_store: false,
        }),
        labels: Default::default(),
        migration_domain: migration_domain.map(str::to_string),
    }
}

/// A context trusting the harness root, with `username`/`password`.
fn ctx(username: &str, password: &str) -> ProbeContext {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(env("MAILBEAT_TEST_CA")).unwrap();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    ProbeContext::new(Duration::from_secs(10), Arc::new(roots)).with_credentials(Credentials {
        username: username.into(),
        secret: Secret::new(password),
        kind: SecretKind::Password,
    })
}

async fn run(username: &str, password: &str, options: serde_json::Value) -> CheckResult {
    let r = check_once(
        &EwsProbe,
        &target(username, None),
        &options,
        &ctx(username, password),
    )
    .await;
    assert!(
        !r.message.contains(password) || password.is_empty(),
        "secret in {r:?}"
    );
    assert!(!r.details.to_string().contains(password), "secret in {r:?}");
    r
}

fn ews(extra: serde_json::Value) -> serde_json::Value {
    let mut o =
        serde_json::json!({"url": url("MAILBEAT_NGINX_EWS_PORT", "MAILBEAT_NGINX_EWS_PATH")});
    o.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    o
}

#[tokio::test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
async fn good_credentials_are_ok() {
    let r = run("alice@mail.test", "alicepass", ews(serde_json::json!({}))).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(r.credential, Some(CredentialVerdict::Accepted));
    assert_eq!(r.observations["auth_success"], 1.0);
    assert_eq!(r.details["auth_offered"], serde_json::json!(["Basic"]));
    // From the SOAP header of the authenticated answer.
    assert_eq!(r.details["server_version"], "15.2.1258.12");
}

#[tokio::test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
async fn an_on_premises_login_impersonating_a_mailbox_is_ok() {
    let options = ews(serde_json::json!({"impersonate": "MAIL\\alice@mail.test"}));
    let r = run("MAIL\\alice", "alicepass", options).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert!(r.message.contains("as alice@mail.test"), "{}", r.message);
}

#[tokio::test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
async fn a_wrong_password_is_auth_bad_credentials() {
    let r = run(
        "alice@mail.test",
        "not-alicepass",
        ews(serde_json::json!({})),
    )
    .await;
    assert_eq!(r.reason, Some(Reason::AuthBadCredentials), "{r:?}");
    assert_eq!(r.credential, Some(CredentialVerdict::Rejected));
}

#[tokio::test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
async fn a_server_offering_only_ntlm_is_auth_mechanism_unsupported() {
    let options =
        serde_json::json!({"url": url("MAILBEAT_NGINX_EWS_PORT", "MAILBEAT_NGINX_EWS_NTLM_PATH")});
    let r = run("alice@mail.test", "alicepass", options).await;
    assert_eq!(r.reason, Some(Reason::AuthMechanismUnsupported), "{r:?}");
    assert!(
        r.message.contains("offers only NTLM, Negotiate"),
        "{}",
        r.message
    );
    assert!(r.message.contains("not supported"), "{}", r.message);
}

#[tokio::test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
async fn impersonation_refused_by_exchange_names_the_role_to_grant() {
    let options = serde_json::json!({
        "url": url("MAILBEAT_NGINX_EWS_PORT", "MAILBEAT_NGINX_EWS_DENIED_PATH"),
        "impersonate": "bob@mail.test",
    });
    let r = run("alice@mail.test", "alicepass", options).await;
    assert_eq!(r.reason, Some(Reason::ConfigError), "{r:?}");
    assert!(
        r.message.contains("ErrorImpersonateUserDenied"),
        "{}",
        r.message
    );
    assert!(
        r.message.contains("ApplicationImpersonation"),
        "{}",
        r.message
    );
}

#[tokio::test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
async fn a_wrong_impersonation_format_or_migration_domain_is_config_error() {
    // Login domain MAIL (of MAIL\alice) differs from other.test, and it is not written out.
    let options = ews(serde_json::json!({"impersonate": "alice@other.test"}));
    let r = run("MAIL\\alice", "alicepass", options).await;
    assert_eq!(
        (r.status, r.reason),
        (Status::Unknown, Some(Reason::ConfigError)),
        "{r:?}"
    );
    assert!(
        r.message.contains("write it as MAIL\\alice@other.test"),
        "{}",
        r.message
    );

    let options = ews(serde_json::json!({"impersonate": "MAIL\\alice@mail.test"}));
    let t = target("MAIL\\alice", Some("example.com"));
    let r = check_once(&EwsProbe, &t, &options, &ctx("MAIL\\alice", "alicepass")).await;
    assert_eq!(r.reason, Some(Reason::ConfigError), "{r:?}");
    assert!(
        r.message.contains("not the migration domain example.com"),
        "{}",
        r.message
    );
}

#[tokio::test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
async fn tls_is_judged_by_the_shared_verdict() {
    // The leaf-only server: the same reason the tls probe gives Dovecot B.
    let options = serde_json::json!({
        "url": url("MAILBEAT_NGINX_EWS_LEAF_ONLY_PORT", "MAILBEAT_NGINX_EWS_PATH"),
    });
    let r = run("alice@mail.test", "alicepass", options).await;
    assert_eq!(r.reason, Some(Reason::TlsChainIncomplete), "{r:?}");
    // The chain server, without the harness root: not trusted.
    let options = ews(serde_json::json!({}));
    let mut c = ctx("alice@mail.test", "alicepass");
    c.roots = Arc::new(rustls::RootCertStore::empty());
    let r = check_once(&EwsProbe, &target("alice@mail.test", None), &options, &c).await;
    assert_eq!(r.reason, Some(Reason::TlsUntrustedRoot), "{r:?}");
}

#[tokio::test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
async fn a_closed_port_is_connection_refused() {
    // 10444: next to nginx's port, nothing listens there in the harness.
    let options = serde_json::json!({"url": "https://127.0.0.1:10444/EWS/Exchange.asmx"});
    let r = run("alice@mail.test", "alicepass", options).await;
    assert_eq!(r.reason, Some(Reason::ConnectionRefused), "{r:?}");
}
