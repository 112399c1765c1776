//! The page built from a real config and store: order, counts, escaping, and no secret.

use super::{html, model};
use crate::jobs::{jobs_of, JobKey};
use crate::store::ResultStore;
use mailbeat_sdk::{CheckResult, Reason};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const PASSWORD: &str = "hunter2-correct-horse-battery";
const SAID: &str = "535 5.7.8 <script>alert('x')</script> token ya29.a0AfH6SMBsecretSecret123 rejected; Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl password=letmein-now";

fn page() -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), PASSWORD).unwrap();
    std::fs::write(dir.path().join("rt"), "1//refresh-token-seed-value").unwrap();
    let yaml = format!(
        "global: {{state_dir: {state:?}}}\ntargets:\n\
         - {{name: healthy, protocol: imap, host: 127.0.0.1, port: 993, tls: implicit, account: {{username: a@x.test, password_file: {pw:?}}}, probes: [port, auth]}}\n\
         - {{name: \"broken<b>\", protocol: smtp, host: 127.0.0.1, port: 587, tls: starttls, account: {{username: b@x.test, password_file: {pw:?}}}, probes: [port, auth]}}\n\
         - name: oauth\n  protocol: imap\n  host: 127.0.0.1\n  port: 993\n  tls: implicit\n  account:\n    username: c@x.test\n    oauth: {{provider: generic, client_id: x, scopes: [mail], token_url: \"http://127.0.0.1:1/token\", refresh_token_file: {rt:?}}}\n  probes: [token]\n\
         - {{name: later, protocol: smtp, host: 127.0.0.1, port: 25, tls: none, probes: [port]}}\n",
        state = dir.path().join("state"),
        pw = dir.path().join("pw"),
        rt = dir.path().join("rt"),
    );
    let path = dir.path().join("mailbeat.yaml");
    std::fs::write(&path, yaml).unwrap();
    let mut probes = mailbeat_probes::builtin();
    probes.push(Arc::new(crate::oauth::probe::TokenProbe::new(
        Arc::default(),
    )));
    let config = crate::config::load(&path, &probes).unwrap();
    let store = ResultStore::new();
    let targets: Vec<_> = config.targets.iter().map(|t| t.target.clone()).collect();
    store.set_jobs(targets, &jobs_of(&config));
    let now = SystemTime::now();
    let record = |t: &str, p: &str, r: CheckResult| {
        store.record(&JobKey::new(t, p), r, now - Duration::from_secs(5));
    };
    record("healthy", "port", CheckResult::ok("connected"));
    record("healthy", "auth", CheckResult::ok("logged in"));
    record("broken<b>", "port", CheckResult::ok("connected"));
    // A multi-hop check names the hop it stopped at (delivery does; any result may).
    let mut refused = CheckResult::critical(Reason::AuthBadCredentials, SAID).detail("hop", "rcpt");
    refused.remediation = Some("Put the right password in `password_file` & retry.".into());
    record("broken<b>", "auth", refused);
    let ends = now + Duration::from_secs(5 * 86_400 + 3600);
    let ends = chrono::DateTime::<chrono::Utc>::from(ends)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    record(
        "oauth",
        "token",
        CheckResult::fail(
            mailbeat_sdk::Status::Warning,
            Reason::OauthTokenExpiring,
            "the refresh token is predicted to stop working",
        )
        .detail("refresh_token_expires_at", ends.as_str()),
    );
    let page = model::build(&config, &store, Vec::new(), now);
    assert_eq!(
        page.summary,
        model::Summary {
            ok: 1,
            warning: 1,
            critical: 1,
            unknown: 0,
            waiting: 1
        }
    );
    let order: Vec<&str> = page.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        order,
        ["broken<b>", "oauth", "healthy", "later"],
        "worst first"
    );
    assert_eq!(page.targets[1].oauth.as_ref().unwrap().days_left, Some(5));
    html::render(&page)
}

#[test]
fn the_page_escapes_everything_and_shows_no_secret() {
    let page = page();
    for secret in [
        PASSWORD,
        "1//refresh-token-seed-value",
        "ya29.a0AfH6SMBsecretSecret123",
        "eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl",
        "letmein-now",
    ] {
        assert!(!page.contains(secret), "{secret} is on the page");
    }
    assert!(!page.contains("<script>"), "a server's markup is escaped");
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(
        page.contains(">broken&lt;b&gt;<"),
        "target names are escaped"
    );
    assert!(page.contains("535 5.7.8"), "the server's own words stay");
}

#[test]
fn the_page_has_what_a_status_page_needs() {
    let page = page();
    for want in [
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<meta http-equiv=\"refresh\" content=\"30\">",
        "<title>mailbeat: 1 critical, 1 warning</title>",
        "<span class=\"n\">1</span> <span class=\"w\">Critical</span>",
        "<span class=\"n\">1</span> <span class=\"w\">Waiting</span>",
        "The user name or password was refused",
        "<code class=\"reason\">auth_bad_credentials</code>",
        "<details class=\"fix\"><summary>What to do</summary>",
        "Put the right password in <code>password_file</code> &amp; retry.",
        "Re-authorization needed by",
        "(in 5 days)",
        "<a class=\"reauth\" href=\"/reauth/oauth\">Re-authorize</a>",
        "not checked yet",
        "<span class=\"label\">Failed at hop:</span> rcpt",
    ] {
        assert!(page.contains(want), "{want:?} not in:\n{page}");
    }
    assert!(!page.contains("<script"), "no scripts");
}
