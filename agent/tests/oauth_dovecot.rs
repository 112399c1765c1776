//! XOAUTH2 and OAUTHBEARER against a real server: `mailbeat check` logs in to Dovecot C of the
//! harness (passdb oauth2, RFC 7662 introspection at the loopback IdP of `support/idp.rs`) with
//! an access token the IdP issued, over IMAP and submission; once the IdP says the token is
//! dead (expired or revoked), the same check is critical: the credential rejected, with Dovecot's
//! error challenge. The agent reads the
//! token from `account.oauth.access_token_file` (what exists before the token store of #9).
//!
//! The IdP's introspection listens on the harness's fixed `MAILBEAT_IDP_INTROSPECT_PORT`, so the
//! tests of this file take turns (`PORT`).

mod support;

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::idp::{Flavor, Idp};
use support::{command, harness};

/// The reasons that say "the server refused this credential".
const REFUSED: &[&str] = &[
    "auth_bad_credentials",
    "oauth_refresh_token_revoked",
    "oauth_refresh_token_expired",
];

/// One IdP at a time on the fixed introspection port.
static PORT: Mutex<()> = Mutex::new(());

fn env_port(var: &str) -> u16 {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} unset: start the harness (tests/harness/start.sh)"))
        .parse()
        .unwrap()
}

fn start_idp(flavor: Flavor) -> Idp {
    let t = Instant::now();
    let idp = Idp::start_with_introspection(flavor, env_port("MAILBEAT_IDP_INTROSPECT_PORT"));
    eprintln!("IdP up in {:?}", t.elapsed());
    idp
}

/// A target of Dovecot C: `(name, protocol, port env var, tls, mechanism)`.
type Target = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

fn config(dir: &Path, ca: &str, user: &str, targets: &[Target]) -> std::path::PathBuf {
    let mut yaml = format!(
        "global: {{timeout: 15s, state_dir: {}}}\ntargets:\n",
        dir.join("state").display()
    );
    for (name, proto, var, tls, mechanism) in targets {
        yaml.push_str(&format!(
            "  - {{name: {name}, protocol: {proto}, host: 127.0.0.1, tls_server_name: mail.test, port: {}, tls: {tls}, ca_file: {ca}, account: {{username: \"{user}\", mechanism: {mechanism}, oauth: {{access_token_file: token}}}}, probes: [auth]}}\n",
            env_port(var)
        ));
    }
    let path = dir.join("mailbeat.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// `mailbeat check --output json`: the report and how long it took.
fn check(config: &Path) -> (Value, Duration, Option<i32>) {
    let t = Instant::now();
    let out = command(&["check", "--output", "json"], config)
        .output()
        .unwrap();
    let took = t.elapsed();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, took, out.status.code())
}

fn result<'a>(report: &'a Value, target: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == target)
        .unwrap_or_else(|| panic!("no result for {target}: {report:#}"))
}

fn dovecot_log_tail() -> String {
    let dir = std::env::var("MAILBEAT_HARNESS_DIR").unwrap_or_default();
    let log = std::fs::read_to_string(format!("{dir}/logs/dovecot-C.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Logs in with a live token (ok), kills it with `kill`, logs in again (critical, auth reason).
fn live_then_dead(flavor: Flavor, targets: &[Target], kill: impl Fn(&Idp, &str)) {
    let _turn = PORT.lock().unwrap_or_else(|e| e.into_inner());
    let (ca, user) = harness("MAILBEAT_TEST_USER", "alice@mail.test");
    let idp = start_idp(flavor);
    let dir = tempfile::tempdir().unwrap();
    let seeded = idp.grant(&user);
    std::fs::write(
        dir.path().join("token"),
        format!("{}\n", seeded.access_token),
    )
    .unwrap();
    let config = config(dir.path(), &ca, &user, targets);

    let (report, took, code) = check(&config);
    for (name, ..) in targets {
        let r = result(&report, name);
        assert_eq!(
            r["status"],
            "ok",
            "{name} with a live token: {r:#}\nDovecot C log:\n{}",
            dovecot_log_tail()
        );
        eprintln!(
            "{name}: ok in {}s (check duration_seconds)",
            r["duration_seconds"]
        );
    }
    assert_eq!(code, Some(0), "{report:#}");
    eprintln!(
        "check (live token, {} targets) took {took:?}",
        targets.len()
    );
    let asked = idp.introspections();
    assert!(
        asked >= targets.len() as u64,
        "Dovecot asked the IdP {asked} times"
    );

    kill(&idp, &user);
    assert!(!idp.access_token_active(&seeded.access_token));
    let (report, took, code) = check(&config);
    for (name, ..) in targets {
        let r = result(&report, name);
        assert_eq!(r["status"], "critical", "{name} with a dead token: {r:#}");
        // The server refused the credential: today's auth probe names a refused bearer token
        // `oauth_refresh_token_revoked` (it cannot tell an expired access token from a dead
        // grant); `auth_bad_credentials` would say the same.
        let reason = r["reason"].as_str().unwrap_or_default();
        assert!(
            REFUSED.contains(&reason),
            "{name}: reason {reason:?}: {r:#}"
        );
        assert_eq!(r["credential"], "rejected", "{name}: {r:#}");
        let challenge = r["details"]["oauth_error"].as_str().unwrap_or_default();
        assert!(
            challenge.contains("401") || challenge.contains("invalid_token"),
            "{name}: Dovecot's error challenge: {r:#}"
        );
        eprintln!(
            "{name}: critical ({reason}) in {}s (check duration_seconds)",
            r["duration_seconds"]
        );
    }
    assert_eq!(code, Some(2), "{report:#}");
    eprintln!(
        "check (dead token, {} targets) took {took:?}",
        targets.len()
    );
    assert!(
        idp.introspections() >= asked + targets.len() as u64,
        "no cached answer: Dovecot asked again"
    );
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn imap_xoauth2_logs_in_with_a_live_token_and_not_after_it_expired() {
    live_then_dead(
        Flavor::Google,
        &[(
            "imaps-xoauth2",
            "imap",
            "MAILBEAT_C_IMAPS_PORT",
            "implicit",
            "xoauth2",
        )],
        |idp, _| idp.expire_access_tokens(),
    );
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn imap_oauthbearer_logs_in_with_a_live_token_and_not_after_it_expired() {
    live_then_dead(
        Flavor::Microsoft,
        &[(
            "imap-starttls-oauthbearer",
            "imap",
            "MAILBEAT_C_IMAP_PORT",
            "starttls",
            "oauthbearer",
        )],
        |idp, _| idp.expire_access_tokens(),
    );
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn submission_xoauth2_logs_in_with_a_live_token_and_not_after_it_expired() {
    live_then_dead(
        Flavor::Microsoft,
        &[(
            "submission-xoauth2",
            "smtp",
            "MAILBEAT_C_SUBMISSION_PORT",
            "starttls",
            "xoauth2",
        )],
        |idp, _| idp.expire_access_tokens(),
    );
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn every_mechanism_and_port_refuses_a_token_of_a_revoked_grant() {
    live_then_dead(
        Flavor::Google,
        &[
            (
                "imaps-oauthbearer",
                "imap",
                "MAILBEAT_C_IMAPS_PORT",
                "implicit",
                "oauthbearer",
            ),
            (
                "imap-xoauth2",
                "imap",
                "MAILBEAT_C_IMAP_PORT",
                "starttls",
                "xoauth2",
            ),
            (
                "submissions-oauthbearer",
                "smtp",
                "MAILBEAT_C_SUBMISSIONS_PORT",
                "implicit",
                "oauthbearer",
            ),
            (
                "submission-oauthbearer",
                "smtp",
                "MAILBEAT_C_SUBMISSION_PORT",
                "starttls",
                "oauthbearer",
            ),
        ],
        |idp, user| idp.revoke(user),
    );
}

/// A config whose targets share one token set `acct` that mailbeat keeps, seeded with
/// `refresh`; the first target also runs the `token` probe, refreshing on every check.
fn managed_config(
    dir: &Path,
    idp: &Idp,
    ca: &str,
    user: &str,
    refresh: &str,
    targets: &[Target],
) -> std::path::PathBuf {
    std::fs::write(dir.join("seed.rt"), refresh).unwrap();
    let provider = match idp.flavor() {
        Flavor::Google => "google",
        Flavor::Microsoft => "microsoft",
    };
    let mut yaml = format!(
        "global: {{timeout: 15s, state_dir: {}}}\ntargets:\n",
        dir.join("state").display()
    );
    for (i, (name, proto, var, tls, mechanism)) in targets.iter().enumerate() {
        let probes = if i == 0 {
            "[auth, {token: {refresh_interval: 1s}}]"
        } else {
            "[auth]"
        };
        yaml.push_str(&format!(
            "  - {{name: {name}, protocol: {proto}, host: 127.0.0.1, tls_server_name: mail.test, port: {port}, tls: {tls}, ca_file: {ca}, account: {{username: \"{user}\", mechanism: {mechanism}, oauth: {{provider: {provider}, client_id: {client}, token: acct, refresh_token_file: seed.rt, token_url: \"{token_url}\", ca_file: {idp_ca}}}}}, probes: {probes}}}\n",
            port = env_port(var),
            client = support::idp::CLIENT_ID,
            token_url = idp.token_url(),
            idp_ca = idp.ca_file().display(),
        ));
    }
    let path = dir.join("mailbeat.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Tokens mailbeat keeps, against real Dovecot: every login works with a stored access token;
/// when it expires the next check refreshes once for every target of the account and passes;
/// when the IdP kills it early the refused login refreshes and passes; when the grant is
/// revoked the `token` probe says so and `auth` stops presenting tokens to the server.
fn managed_lifecycle(flavor: Flavor, targets: &[Target]) {
    let _turn = PORT.lock().unwrap_or_else(|e| e.into_inner());
    let (ca, user) = harness("MAILBEAT_TEST_USER", "alice@mail.test");
    let idp = start_idp(flavor);
    idp.set_access_token_lifetime(Duration::from_secs(3));
    let seeded = idp.grant(&user);
    let dir = tempfile::tempdir().unwrap();
    let config = managed_config(dir.path(), &idp, &ca, &user, &seeded.refresh_token, targets);
    let all_ok = |report: &Value, when: &str| {
        for (name, ..) in targets {
            let r = result(report, name);
            assert_eq!(
                r["status"],
                "ok",
                "{when}: {name}: {r:#}\nDovecot C log:\n{}",
                dovecot_log_tail()
            );
        }
    };
    let token_of = |report: &Value| -> Value {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["probe"] == "token")
            .cloned()
            .unwrap()
    };

    let (report, took, _) = check(&config);
    all_ok(&report, "seeded");
    assert_eq!(token_of(&report)["status"], "ok");
    eprintln!(
        "{flavor:?}: first check, {} targets, {took:?}",
        targets.len()
    );
    // The token probe and every login shared one refresh.
    assert_eq!(idp.refreshes(), 1, "one refresh serves the account");
    let t = token_of(&report);
    assert!(
        t["details"]["refresh_token_expires_at"].as_str().is_some(),
        "predicted expiry in check: {t:#}"
    );

    // The running agent shows the same in /metrics: token health, predicted expiry, logins.
    {
        let agent = support::start_agent(&config, dir.path());
        let (first, ..) = targets[0];
        let (status, _) = support::http(agent.port, "GET", &format!("/probe?target={first}"));
        assert_eq!(status, 200);
        let provider = match flavor {
            Flavor::Google => "google",
            Flavor::Microsoft => "microsoft",
        };
        let m = support::scrape_until(
            &agent,
            "mailbeat_oauth_refresh_token_expiry_timestamp_seconds",
        );
        for name in [
            "mailbeat_oauth_refresh_success",
            "mailbeat_oauth_access_token_expiry_timestamp_seconds",
            "mailbeat_oauth_refresh_token_expiry_timestamp_seconds",
        ] {
            let series = format!("{name}{{target=\"{first}\",provider=\"{provider}\"}}");
            assert!(support::value(&m, &series).is_some(), "{series}:\n{m}");
        }
        assert!(
            m.lines().any(
                |l| l.starts_with(&format!("mailbeat_auth_success{{target=\"{first}\""))
                    && l.ends_with(" 1")
            ),
            "{m}"
        );
    }

    // The access token expires (3 s): the next check refreshes once and passes.
    std::thread::sleep(Duration::from_millis(3200));
    let before = idp.refreshes();
    let (report, _, _) = check(&config);
    all_ok(&report, "after the access token expired");
    assert_eq!(idp.refreshes(), before + 1, "one refresh for all targets");

    // The IdP kills the access token before its time: the refused login refreshes and passes.
    std::thread::sleep(Duration::from_millis(1100));
    idp.expire_access_tokens();
    let (report, _, _) = check(&config);
    all_ok(&report, "after the IdP killed the access token early");

    // The grant is revoked: the token probe says so; logins end with the token's reason.
    idp.revoke(&user);
    std::thread::sleep(Duration::from_millis(1100));
    let (report, _, code) = check(&config);
    assert_eq!(code, Some(2));
    let t = token_of(&report);
    assert_eq!(t["reason"], "oauth_refresh_token_revoked", "{t:#}");
    assert!(
        t["remediation"]
            .as_str()
            .unwrap()
            .contains("mailbeat reauth"),
        "{t:#}"
    );
    // Next check: no login reaches Dovecot (it would ask the IdP) and no login refreshes.
    let (asked, attempts) = (idp.introspections(), idp.refresh_attempts());
    let (report, _, _) = check(&config);
    for (name, ..) in targets {
        let r = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"] == *name && r["probe"] == "auth")
            .unwrap();
        assert_eq!(r["reason"], "oauth_refresh_token_revoked", "{name}: {r:#}");
    }
    assert_eq!(
        idp.introspections(),
        asked,
        "a login was tried with a dead grant"
    );
    assert_eq!(
        idp.refresh_attempts(),
        attempts + 1,
        "only the token probe asks the IdP again"
    );
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn a_gmail_style_account_kept_by_mailbeat_over_imap_and_submission() {
    managed_lifecycle(
        Flavor::Google,
        &[
            (
                "g-imap",
                "imap",
                "MAILBEAT_C_IMAPS_PORT",
                "implicit",
                "xoauth2",
            ),
            (
                "g-submission",
                "smtp",
                "MAILBEAT_C_SUBMISSION_PORT",
                "starttls",
                "xoauth2",
            ),
        ],
    );
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn a_microsoft_style_account_kept_by_mailbeat_over_imap_and_submission() {
    managed_lifecycle(
        Flavor::Microsoft,
        &[
            (
                "m-imap",
                "imap",
                "MAILBEAT_C_IMAP_PORT",
                "starttls",
                "oauthbearer",
            ),
            (
                "m-submission",
                "smtp",
                "MAILBEAT_C_SUBMISSIONS_PORT",
                "implicit",
                "xoauth2",
            ),
        ],
    );
}
