//! The OAuth token lifecycle, black-box: the built `mailbeat` against the test IdP
//! (support/idp.rs, HTTPS with its own CA) answering like Google and like Microsoft.
//! Token health in `check` and `/metrics`, every token-endpoint failure mapped to its reason,
//! rotation across restarts and a `kill -9` between "issued" and "stored", and no token in any
//! output.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::idp::{Answer, Flavor, Idp, CLIENT_ID};
use support::*;

/// A config with one OAuth target `nas` whose tokens come from `idp`, seeded with `refresh`.
fn config(dir: &Path, idp: &Idp, refresh: &str, token_options: &str, extra: &str) -> PathBuf {
    std::fs::write(dir.join("seed.rt"), refresh).unwrap();
    let provider = match idp.flavor() {
        Flavor::Google => "google",
        Flavor::Microsoft => "microsoft",
    };
    let yaml = format!(
        "global: {{state_dir: {state}, timeout: 3s{extra}}}
targets:
  - name: nas
    protocol: smtp
    host: 127.0.0.1
    port: {port}
    tls: implicit
    account:
      username: nas@example.com
      oauth:
        provider: {provider}
        client_id: {CLIENT_ID}
        refresh_token_file: seed.rt
        token_url: {token_url}
        ca_file: {ca}
{lifetime}    probes: [{{token: {{{token_options}}}}}]
",
        state = dir.join("state").display(),
        port = closed_port(),
        token_url = idp.token_url(),
        ca = idp.ca_file().display(),
        lifetime = match idp.flavor() {
            Flavor::Google => "        refresh_token_lifetime: 7d\n",
            Flavor::Microsoft => "",
        },
    );
    let path = dir.join("mailbeat.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn check_json(config: &Path) -> (Value, String) {
    let out = mailbeat(
        &["check", "--output", "json", "--log.level", "trace"],
        config,
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let v: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("check printed no JSON ({e}):\n{stdout}\n{stderr}"));
    (v, format!("{stdout}\n{stderr}"))
}

fn token_result(v: &Value) -> &Value {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["probe"] == "token")
        .expect("a token result")
}

fn sample(r: &Value, name: &str) -> Option<f64> {
    r["samples"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["value"].as_f64())
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn gmail_and_microsoft_style_accounts_show_token_health_and_predicted_expiry() {
    for flavor in [Flavor::Google, Flavor::Microsoft] {
        let idp = Idp::start(flavor);
        let grant = idp.grant("nas@example.com");
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), &idp, &grant.refresh_token, "", "");
        let (v, _) = check_json(&cfg);
        let r = token_result(&v);
        match flavor {
            // Seven days of life is inside the default 14-day warning: the person is told now.
            Flavor::Google => {
                assert_eq!(r["status"], "warning", "{r}");
                assert_eq!(r["reason"], "oauth_token_expiring", "{r}");
                assert!(r["remediation"]
                    .as_str()
                    .unwrap()
                    .contains("mailbeat reauth nas"));
            }
            Flavor::Microsoft => assert_eq!(r["status"], "ok", "{r}"),
        }
        assert_eq!(sample(r, "oauth_refresh_success"), Some(1.0));
        let access = sample(r, "oauth_access_token_expiry_timestamp_seconds").unwrap();
        assert!((access - now() - 3600.0).abs() < 60.0, "{r}");
        let end = sample(r, "oauth_refresh_token_expiry_timestamp_seconds").unwrap();
        let (days, basis) = match flavor {
            // A Google app in Testing: 7 days from the grant.
            Flavor::Google => (7.0, "configured_lifetime"),
            // Microsoft: 90 days after the last rotation.
            Flavor::Microsoft => (90.0, "inactivity"),
        };
        assert!(
            (end - now() - days * 86400.0).abs() < 120.0,
            "{flavor:?}: {r}"
        );
        assert_eq!(r["details"]["refresh_token_expiry_basis"], basis);
        assert_eq!(idp.refreshes(), 1);

        // The agent exports the same in /metrics, labelled with the provider.
        let agent = start_agent(&cfg, dir.path());
        let (status, _) = http(agent.port, "GET", "/probe?target=nas&probe=token");
        assert_eq!(status, 200);
        let metrics = scrape_until(&agent, "mailbeat_oauth_refresh_success");
        let provider = match flavor {
            Flavor::Google => "google",
            Flavor::Microsoft => "microsoft",
        };
        for name in [
            "mailbeat_oauth_refresh_success",
            "mailbeat_oauth_access_token_expiry_timestamp_seconds",
            "mailbeat_oauth_refresh_token_expiry_timestamp_seconds",
        ] {
            let series = format!("{name}{{target=\"nas\",provider=\"{provider}\"}}");
            assert!(
                value(&metrics, &series).is_some(),
                "{series} missing:\n{metrics}"
            );
        }
        // The access token was still fresh: the agent did not refresh again.
        assert_eq!(idp.refreshes(), 1, "{flavor:?}");
    }
}

/// Each failure the token endpoint can give, and the reason it must become.
#[test]
fn every_token_endpoint_failure_gets_its_reason_and_a_remediation() {
    // The Google target has `refresh_token_lifetime: 7d` (an app in Testing): Google's one text
    // for "expired or revoked" then means the 7 days are up.
    #[rustfmt::skip]
    let cases: Vec<(Flavor, &str, Answer, &str)> = vec![
        (Flavor::Google, "expired or revoked", Answer::google_expired_or_revoked(), "oauth_refresh_token_expired"),
        (Flavor::Google, "invalid_rapt", Answer::google_invalid_rapt(), "oauth_refresh_token_expired"),
        (Flavor::Google, "admin_policy_enforced", Answer::google_admin_policy_enforced(), "oauth_consent_required"),
        (Flavor::Google, "invalid_client", Answer::google_invalid_client(), "oauth_invalid_client"),
        (Flavor::Microsoft, "700082 inactivity", Answer::microsoft_aadsts(700082), "oauth_refresh_token_expired"),
        (Flavor::Microsoft, "70008 expired", Answer::microsoft_aadsts(70008), "oauth_refresh_token_expired"),
        (Flavor::Microsoft, "50173 password change", Answer::microsoft_aadsts(50173), "oauth_refresh_token_revoked"),
        (Flavor::Microsoft, "700084 fixed lifetime", Answer::microsoft_aadsts(700084), "oauth_refresh_token_expired"),
        (Flavor::Microsoft, "70043 sign-in frequency", Answer::microsoft_aadsts(70043), "oauth_refresh_token_expired"),
        (Flavor::Microsoft, "7000222 secret expired", Answer::microsoft_aadsts(7000222), "oauth_client_secret_expired"),
        (Flavor::Microsoft, "7000215 bad secret", Answer::microsoft_aadsts(7000215), "oauth_invalid_client"),
        (Flavor::Microsoft, "65001 consent", Answer::microsoft_aadsts(65001), "oauth_consent_required"),
        (Flavor::Microsoft, "50076 MFA", Answer::microsoft_aadsts(50076), "auth_mfa_required"),
        (Flavor::Microsoft, "50079 MFA enrolment", Answer::microsoft_aadsts(50079), "auth_mfa_required"),
        (Flavor::Microsoft, "53003 conditional access", Answer::microsoft_aadsts(53003), "auth_conditional_access_blocked"),
        (Flavor::Google, "HTML 500", Answer::server_error_html_500(), "oauth_endpoint_error"),
        (Flavor::Microsoft, "HTML 401", Answer::unauthorized_401_html(), "oauth_endpoint_error"),
        (Flavor::Google, "non-JSON 200", Answer::non_json_200(), "oauth_endpoint_error"),
        (Flavor::Microsoft, "429", Answer::rate_limited_429(), "rate_limited"),
        (Flavor::Microsoft, "a hang", Answer::Hang, "oauth_endpoint_error"),
    ];
    let mut wrong = Vec::new();
    for (flavor, what, answer, want) in cases {
        let idp = Idp::start(flavor);
        let grant = idp.grant("nas@example.com");
        idp.respond_next(answer);
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), &idp, &grant.refresh_token, "", "");
        let (v, all) = check_json(&cfg);
        let r = token_result(&v);
        if r["reason"] != want {
            wrong.push(format!(
                "{what}: want {want}, got {} ({})",
                r["reason"], r["message"]
            ));
        }
        assert!(
            r["remediation"].as_str().is_some_and(|t| !t.is_empty()),
            "{what}: no remediation: {r}"
        );
        assert_eq!(sample(r, "oauth_refresh_success"), Some(0.0), "{what}: {r}");
        assert!(
            !all.contains(&grant.refresh_token),
            "{what}: refresh token in the output"
        );
        let message = r["message"].as_str().unwrap();
        assert!(
            !message.contains("Trace ID") && !message.contains("Correlation ID"),
            "{what}: {message}"
        );
    }
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
}

/// The IdP accepts only the latest refresh token (and the one before it once, when the latest
/// was never presented: a client that died between "issued" and "stored"). Ten checks across
/// three restarts of the agent and one SIGKILL exactly between the IdP issuing a new refresh
/// token and the agent storing it never present a stale token twice, and end with a working one.
#[test]
fn rotation_survives_restarts_and_a_kill_between_issue_and_store() {
    let idp = Idp::start(Flavor::Microsoft);
    idp.set_rotation(true);
    let grant = idp.grant("nas@example.com");
    let dir = tempfile::tempdir().unwrap();
    // Refresh on every check: a refresh interval shorter than the pause between checks.
    let cfg = config(
        dir.path(),
        &idp,
        &grant.refresh_token,
        "refresh_interval: 1s",
        "",
    );
    let probe = |agent: &Agent| {
        let (status, body) = http(agent.port, "GET", "/probe?target=nas&probe=token");
        assert_eq!(status, 200);
        body
    };
    let mut checks = 0;
    let mut killed = false;
    for life in 0..4 {
        let mut agent = start_agent(&cfg, dir.path());
        for _ in 0..3 {
            if checks == 10 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1100));
            if life == 1 && !killed {
                // SIGKILL once the IdP has issued the next token, before it answers.
                let pid = agent.child.id();
                idp.on_next_issue(Box::new(move || {
                    let _ = std::process::Command::new("kill")
                        .args(["-9", &pid.to_string()])
                        .status();
                }));
                let _ = std::panic::catch_unwind(|| probe(&agent));
                let _ = agent.child.wait();
                killed = true;
                checks += 1;
                break;
            }
            let body = probe(&agent);
            assert!(body.contains("probe_success 1"), "check {checks}: {body}");
            checks += 1;
        }
        // A clean stop between lives (the killed one is already gone).
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &agent.child.id().to_string()])
            .status();
        let _ = agent.child.wait();
    }
    assert!(killed);
    assert_eq!(checks, 10);
    let presented = idp.presented("nas@example.com");
    let stale: Vec<_> = presented
        .iter()
        .filter(|p| p.outcome != support::idp::Presented::Latest)
        .collect();
    assert!(
        stale.len() <= 1,
        "a stale refresh token was presented more than once: {stale:?}"
    );
    // The last token the agent stored is the IdP's latest: a final check works.
    let (v, _) = check_json(&cfg);
    assert_eq!(token_result(&v)["status"], "ok", "{v}");
    assert!(idp.refreshes() >= 9);
}

/// Refresh and access tokens never reach a log line (trace level included), `check` JSON,
/// `/metrics`, `/probe`, the status page; with a state key, not the database files either.
#[test]
fn no_token_reaches_any_output_or_the_sealed_database() {
    let idp = Idp::start(Flavor::Microsoft);
    idp.set_rotation(true);
    let grant = idp.grant("nas@example.com");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state.key"), "k".repeat(44)).unwrap();
    let cfg = config(
        dir.path(),
        &idp,
        &grant.refresh_token,
        "refresh_interval: 1s",
        ", state_key_file: state.key",
    );
    let (v, mut seen) = check_json(&cfg);
    assert_eq!(token_result(&v)["status"], "ok", "{v}");
    let agent = start_agent(&cfg, dir.path());
    std::thread::sleep(Duration::from_millis(1100));
    for path in ["/probe?target=nas", "/metrics", "/"] {
        seen.push_str(&http(agent.port, "GET", path).1);
    }
    drop(agent);
    seen.push_str(&std::fs::read_to_string(dir.path().join("agent.log")).unwrap());
    let mut tokens = vec![grant.refresh_token.clone(), grant.access_token.clone()];
    tokens.extend(idp.presented_tokens("nas@example.com"));
    tokens.extend(idp.latest_refresh_token("nas@example.com"));
    tokens.extend(idp.issued_access_tokens());
    assert!(tokens.len() >= 5, "{tokens:?}");
    let mut db = Vec::new();
    for entry in std::fs::read_dir(dir.path().join("state")).unwrap() {
        db.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    for t in &tokens {
        assert!(!seen.contains(t.as_str()), "a token is in the output");
        assert!(
            !db.windows(t.len()).any(|w| w == t.as_bytes()),
            "a token is in the database in plaintext"
        );
    }
}
