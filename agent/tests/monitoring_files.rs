//! The shipped monitoring files work with the real tools and only use metrics mailbeat exports:
//! `promtool check rules` / `test rules` / `check config`, `amtool check-config`, and every
//! `mailbeat_*` name in the rules and the Grafana dashboard is in the README's metrics table.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(tool: &str, args: &[&str], dir: &Path) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("{tool} not found ({e}): run the README's test command, which installs it")
        });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs promtool and amtool (Debian's prometheus packages): run bash tests/run-all.sh"]
fn rules_and_configs_pass_the_prometheus_tools() {
    let config = root().join("config");
    run("promtool", &["check", "rules", "alerts.yml"], &config);
    run("promtool", &["test", "rules", "alerts_test.yml"], &config);
    run(
        "promtool",
        &["check", "config", "prometheus.example.yml"],
        &config,
    );
    run(
        "amtool",
        &["check-config", "alertmanager.example.yml"],
        &config,
    );
}

/// `mailbeat_*` names in a text, with histogram suffixes folded onto their family.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("mailbeat_") {
        let start = i + pos;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let boundary_ok =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if boundary_ok {
            let name = &text[start..end];
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            names.insert(family.to_string());
        }
        i = end.max(start + 1);
    }
    names
}

#[test]
fn rules_and_dashboard_use_only_documented_metrics() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let documented: BTreeSet<String> = readme
        .lines()
        .filter(|l| l.starts_with("| `mailbeat_"))
        .flat_map(|l| metric_names(l.split('|').nth(1).unwrap_or("")))
        .collect();
    assert!(
        documented.len() >= 15,
        "README metrics table not found: {documented:?}"
    );
    for file in ["config/alerts.yml", "dashboards/mailbeat.json"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let used = metric_names(&text);
        assert!(!used.is_empty(), "{file} uses no mailbeat metric");
        let unknown: Vec<_> = used.difference(&documented).collect();
        assert!(
            unknown.is_empty(),
            "{file} uses metrics that are not exported: {unknown:?}"
        );
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("dashboards/mailbeat.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(dashboard["uid"], "mailbeat");
    assert!(dashboard["panels"].as_array().unwrap().len() >= 10);
}
