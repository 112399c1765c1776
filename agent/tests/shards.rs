//! Two agents with `--shard.total 2` over one config together schedule and export every target
//! exactly once, and each still answers `/probe` for the other's targets.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;
use support::*;

const TARGETS: usize = 40;

/// The targets with a `mailbeat_probe_success` series in a scrape.
fn exported(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("mailbeat_probe_success{target=\""))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// Scrapes until every target the shard owns has its series; returns the last scrape.
fn settled(agent: &Agent) -> String {
    let mut last = String::new();
    let done = wait_until(Duration::from_secs(30), || {
        last = http(agent.port, "GET", "/metrics").1;
        let owned = value(&last, "mailbeat_shard_targets ");
        owned.is_some_and(|n| n > 0.0 && exported(&last).len() == n as usize)
    });
    assert!(done, "the shard's checks never all reported:\n{last}");
    last
}

#[test]
fn two_shards_export_every_target_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let mut yaml = format!(
        "global: {{every: 1h, state_dir: {}}}\ntargets:\n",
        dir.path().join("state").display()
    );
    for i in 0..TARGETS {
        yaml.push_str(&format!(
            "  - {{name: mbx-{i:03}, protocol: smtp, host: 127.0.0.1, port: {port}, tls: none, probes: [port]}}\n"
        ));
    }
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(&config, yaml).unwrap();
    let dirs = [dir.path().join("a"), dir.path().join("b")];
    for d in &dirs {
        std::fs::create_dir(d).unwrap();
    }
    let a = start_agent_with(
        &config,
        &dirs[0],
        &["--shard.total", "2", "--shard.index", "0"],
    );
    let b = start_agent_with(
        &config,
        &dirs[1],
        &["--shard.total", "2", "--shard.index", "1"],
    );
    let (ma, mb) = (settled(&a), settled(&b));

    assert_eq!(
        value(&ma, r#"mailbeat_shard_info{index="0",total="2"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(&mb, r#"mailbeat_shard_info{index="1",total="2"}"#),
        Some(1.0)
    );
    let (ea, eb) = (exported(&ma), exported(&mb));
    assert!(
        ea.is_disjoint(&eb),
        "exported twice: {:?}",
        ea.intersection(&eb).collect::<Vec<_>>()
    );
    let all: BTreeSet<String> = ea.union(&eb).cloned().collect();
    let want: BTreeSet<String> = (0..TARGETS).map(|i| format!("mbx-{i:03}")).collect();
    assert_eq!(all, want, "every target exactly once");
    assert!(!ea.is_empty() && !eb.is_empty(), "both shards own targets");
    // mailbeat_target_info follows the shard too.
    let info = |m: &str| {
        m.lines()
            .filter(|l| l.starts_with("mailbeat_target_info{"))
            .count()
    };
    assert_eq!(info(&ma) + info(&mb), TARGETS);

    // `/probe` answers for a target of the other shard.
    let theirs = eb.iter().next().unwrap();
    let (status, body) = http(a.port, "GET", &format!("/probe?target={theirs}"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("probe_success"), "{body}");
    // ... and that run does not make it a series of this shard.
    let again = http(a.port, "GET", "/metrics").1;
    assert!(!exported(&again).contains(theirs));
    // Nor is it fed to this shard's alert engine: only the owner alerts on a target (else two
    // replicas would page for one mailbox). The owned failing targets do have alert states.
    let alerting = |m: &str, t: &str| {
        m.lines()
            .any(|l| l.starts_with("mailbeat_alert") && l.contains(&format!("target=\"{t}\"")))
    };
    let ours = ea.iter().next().unwrap();
    assert!(
        alerting(&again, ours),
        "no alert state for {ours}:\n{again}"
    );
    assert!(
        !alerting(&again, theirs),
        "shard 0 keeps an alert state for shard 1's {theirs}"
    );
}

#[test]
fn half_a_shard_setting_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(&config, "targets: []\n").unwrap();
    let out = mailbeat(&["run", "--shard.total", "2"], &config);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--shard.total and --shard.index go together"));
    let out = mailbeat(
        &["run", "--shard.total", "2", "--shard.index", "2"],
        &config,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("out of range"));
}
