//! Which certificates a target trusts, through `mailbeat check` against the real Dovecot of the
//! test harness: the harness root is in no public store, so the chain verifies only where it is
//! trusted: through `ca_file`, or through the system store (`system_roots: true`, here the file
//! `SSL_CERT_FILE` names, as OpenSSL-style stores are overridden).

mod support;

use support::{command, harness};

fn check(dir: &std::path::Path, yaml: &str, cert_file: &str) -> serde_json::Value {
    let config = dir.join("mailbeat.yaml");
    std::fs::write(&config, yaml).unwrap();
    let out = command(&["check", "--output", "json"], &config)
        .env("SSL_CERT_FILE", cert_file)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    })
}

fn reason_of(report: &serde_json::Value, target: &str) -> serde_json::Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == target)
        .map(|r| r["reason"].clone())
        .unwrap_or_else(|| panic!("no result for {target}: {report}"))
}

#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn the_system_store_is_trusted_only_when_asked() {
    let (ca, _) = harness("MAILBEAT_TEST_USER", "alice@mail.test");
    let port = std::env::var("MAILBEAT_A_IMAPS_PORT").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = |name: &str, extra: &str| {
        format!("  - {{name: {name}, protocol: imap, host: 127.0.0.1, tls_server_name: mail.test, port: {port}, tls: implicit, probes: [tls]{extra}}}\n")
    };
    let yaml = format!(
        "targets:\n{}{}{}{}",
        target("public-roots-only", ""),
        target("system", ", system_roots: true"),
        target("ca-file", &format!(", ca_file: {ca}")),
        target("system-off", ", system_roots: false"),
    );
    let report = check(dir.path(), &yaml, &ca);
    assert_eq!(
        reason_of(&report, "public-roots-only"),
        "tls_untrusted_root"
    );
    assert_eq!(
        reason_of(&report, "system"),
        serde_json::Value::Null,
        "{report:#}"
    );
    assert_eq!(reason_of(&report, "ca-file"), serde_json::Value::Null);
    assert_eq!(reason_of(&report, "system-off"), "tls_untrusted_root");

    // Global default, with a target opting out.
    let yaml = format!(
        "global: {{system_roots: true}}\ntargets:\n{}{}",
        target("inherits", ""),
        target("opts-out", ", system_roots: false"),
    );
    let report = check(dir.path(), &yaml, &ca);
    assert_eq!(
        reason_of(&report, "inherits"),
        serde_json::Value::Null,
        "{report:#}"
    );
    assert_eq!(reason_of(&report, "opts-out"), "tls_untrusted_root");
}

#[test]
fn an_empty_system_store_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(
        &config,
        "global:\n  system_roots: true\ntargets:\n  - {name: a, protocol: imap, host: 127.0.0.1, probes: [tls]}\n",
    )
    .unwrap();
    let out = command(&["validate"], &config)
        .env("SSL_CERT_FILE", &empty)
        .env("SSL_CERT_DIR", dir.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mailbeat.yaml:2:17: global.system_roots: no certificate found in the system trust store"),
        "{stderr}"
    );
}
