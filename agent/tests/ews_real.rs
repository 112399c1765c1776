//! The `ews` dynamic plugin, black-box: the `libmailbeat_plugin_ews.so` the workspace builds is
//! copied into a `plugins.dir`, `mailbeat plugins` lists it, and `mailbeat check --output json`
//! runs `{plugin: ews, url: ...}` against the harness's nginx (Basic auth, a canned EWS answer);
//! `mailbeat validate` refuses a wrong impersonation format and a wrong migration domain.
//!
//! The library is a dev-dependency of the agent, so building these tests builds it; it is looked
//! up next to the `mailbeat` binary and in `deps/`.

mod support;

use std::path::{Path, PathBuf};
use support::{harness, mailbeat};

const LIB: &str = "libmailbeat_plugin_ews.so";

/// A plugin dir holding a copy of the workspace's ews plugin.
fn plugin_dir(dir: &Path) -> PathBuf {
    // A dev-dependency of the agent, so building its tests builds the library (into deps/).
    let bin_dir = Path::new(support::BIN).parent().unwrap();
    let built = [bin_dir.join(LIB), bin_dir.join("deps").join(LIB)]
        .into_iter()
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| {
            panic!(
                "{LIB} missing below {}: cargo build -p mailbeat-plugin-ews",
                bin_dir.display()
            )
        });
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(&built, plugins.join(LIB)).unwrap();
    plugins
}

fn nginx(path_var: &str) -> String {
    let port = std::env::var("MAILBEAT_NGINX_EWS_PORT").expect("MAILBEAT_NGINX_EWS_PORT");
    let path = std::env::var(path_var).unwrap_or_else(|_| panic!("{path_var}"));
    format!("https://127.0.0.1:{port}{path}")
}

/// One target checked by the ews plugin.
fn target(name: &str, username: &str, password_file: &str, options: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    host: 127.0.0.1\n    ca_file: {ca}\n{extra}    account:\n      \
         username: '{username}'\n      password_file: {password_file}\n    probes: [{{plugin: ews, {options}}}]\n",
        ca = std::env::var("MAILBEAT_TEST_CA").unwrap(),
    )
}

fn config(dir: &Path, targets: &str) -> PathBuf {
    let plugins = plugin_dir(dir);
    std::fs::write(dir.join("good"), "alicepass\n").unwrap();
    std::fs::write(dir.join("bad"), "not-alicepass\n").unwrap();
    let path = dir.join("mailbeat.yml");
    let text = format!(
        "plugins:\n  dir: {}\ntargets:\n{targets}",
        plugins.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn the_ews_plugin_is_listed_and_runs_against_nginx() {
    harness("MAILBEAT_TEST_USER", "alice@mail.test");
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let bad = dir.path().join("bad");
    let (good, bad) = (good.display().to_string(), bad.display().to_string());
    let url = |v| format!("url: \"{}\"", nginx(v));
    let targets = [
        target(
            "ews-good",
            "alice@mail.test",
            &good,
            &url("MAILBEAT_NGINX_EWS_PATH"),
            "",
        ),
        target(
            "ews-bad",
            "alice@mail.test",
            &bad,
            &url("MAILBEAT_NGINX_EWS_PATH"),
            "",
        ),
        target(
            "ews-ntlm",
            "alice@mail.test",
            &good,
            &url("MAILBEAT_NGINX_EWS_NTLM_PATH"),
            "",
        ),
        target(
            "ews-impersonating",
            "alice@mail.test",
            &good,
            &format!(
                "{}, impersonate: 'MAIL\\alice@mail.test'",
                url("MAILBEAT_NGINX_EWS_PATH")
            ),
            "    migration_domain: mail.test\n",
        ),
    ]
    .concat();
    let config = config(dir.path(), &targets);

    let out = mailbeat(&["plugins"], &config);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{listing}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = listing
        .lines()
        .find(|l| l.split_whitespace().next() == Some("ews"));
    let row = row.unwrap_or_else(|| panic!("ews not listed:\n{listing}"));
    assert!(row.contains("dynamic"), "{row}");

    let out = mailbeat(&["check", "--output", "json"], &config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        !stdout.contains("alicepass"),
        "a secret in the report: {stdout}"
    );
    let result = |t: &str| {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"] == t && r["probe"] == "ews")
            .cloned()
            .unwrap_or_else(|| panic!("no ews result for {t}: {stdout}"))
    };
    let r = result("ews-good");
    assert_eq!(r["status"], "ok", "{r}");
    let r = result("ews-bad");
    assert_eq!(r["reason"], "auth_bad_credentials", "{r}");
    let r = result("ews-ntlm");
    assert_eq!(r["reason"], "auth_mechanism_unsupported", "{r}");
    assert!(r["message"].as_str().unwrap().contains("NTLM"), "{r}");
    let r = result("ews-impersonating");
    assert_eq!(r["status"], "ok", "{r}");
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn a_wrong_impersonation_format_or_migration_domain_fails_validate() {
    harness("MAILBEAT_TEST_USER", "alice@mail.test");
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good").display().to_string();
    let url = format!("url: \"{}\"", nginx("MAILBEAT_NGINX_EWS_PATH"));
    let targets = [
        // The login domain MAIL differs from other.test, and it is not written MAIL\alice@other.test.
        target(
            "ews-format",
            "MAIL\\alice",
            &good,
            &format!("{url}, impersonate: alice@other.test"),
            "",
        ),
        // A Microsoft 365 admin of another domain for a migration of mail.test.
        target(
            "ews-domain",
            "admin@contoso.onmicrosoft.com",
            &good,
            &url,
            "    migration_domain: mail.test\n",
        ),
    ]
    .concat();
    let config = config(dir.path(), &targets);
    let out = mailbeat(&["validate"], &config);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(
            "targets[0].probes[0].ews: impersonate \"alice@other.test\": the login domain MAIL"
        ),
        "{text}"
    );
    assert!(
        text.contains("write it as MAIL\\alice@other.test"),
        "{text}"
    );
    assert!(
        text.contains("targets[1].account.username: \"admin@contoso.onmicrosoft.com\" is in domain contoso.onmicrosoft.com, not the migration domain mail.test"),
        "{text}"
    );
    // check says the same and runs nothing.
    let out = mailbeat(&["check", "--output", "json"], &config);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not the migration domain mail.test"), "{err}");
}
