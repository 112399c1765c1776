//! `target_files:` through the built binary: the running agent picks up an edited target file by
//! itself (no SIGHUP), keeps the last good targets of a file that breaks and says so in
//! `/metrics`, and `validate` refuses the broken file.

mod support;

use std::time::Duration;
use support::*;

fn entry(name: &str, port: u16) -> String {
    format!("- {{name: {name}, protocol: smtp, host: 127.0.0.1, port: {port}, tls: none, probes: [port]}}\n")
}

/// Scrapes until `ok` holds, for longer than the watcher's poll (5 s) plus a reload.
fn scrape_while(agent: &Agent, what: &str, mut ok: impl FnMut(&str) -> bool) -> String {
    let mut last = String::new();
    let found = wait_until(Duration::from_secs(30), || {
        last = http(agent.port, "GET", "/metrics").1;
        ok(&last)
    });
    assert!(found, "{what}; last scrape:\n{last}");
    last
}

fn info(target: &str) -> String {
    format!("mailbeat_target_info{{target=\"{target}\"")
}

#[test]
fn an_edited_target_file_is_picked_up_and_a_broken_one_keeps_its_targets() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    std::fs::create_dir(dir.path().join("targets")).unwrap();
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(
        &config,
        format!(
            "global: {{every: 1h, state_dir: {}}}\ntarget_files: [targets/*.yaml]\n",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let file = dir.path().join("targets/a.yaml");
    std::fs::write(&file, entry("t1", port)).unwrap();
    let agent = start_agent(&config, dir.path());
    scrape_until(&agent, &info("t1"));

    // An edit: a new target, with no signal sent.
    std::fs::write(&file, entry("t1", port) + &entry("t2", port)).unwrap();
    let m = scrape_while(&agent, "t2 never appeared", |m| m.contains(&info("t2")));
    assert_eq!(
        value(&m, r#"mailbeat_target_file_targets{file="targets/a.yaml"}"#),
        Some(2.0)
    );
    assert_eq!(
        value(&m, r#"mailbeat_target_file_valid{file="targets/a.yaml"}"#),
        Some(1.0)
    );

    // A broken edit: both targets stay, the file is reported invalid.
    std::fs::write(&file, entry("t1", port) + "- {name: t3, port: [").unwrap();
    let m = scrape_while(&agent, "the file was never reported invalid", |m| {
        value(m, r#"mailbeat_target_file_valid{file="targets/a.yaml"}"#) == Some(0.0)
    });
    assert!(m.contains(&info("t1")) && m.contains(&info("t2")), "{m}");
    assert!(!m.contains(&info("t3")));
    assert_eq!(
        value(&m, r#"mailbeat_target_file_targets{file="targets/a.yaml"}"#),
        Some(2.0)
    );
    let log = std::fs::read_to_string(&agent.log).unwrap();
    assert!(
        log.contains("target file refused; keeping its last good version"),
        "{log}"
    );

    // `validate` is strict: the broken file is an error naming it.
    let out = mailbeat(&["validate"], &config);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("targets/a.yaml:2:"), "{err}");

    // Fixed again, and a file removed: its targets go.
    std::fs::write(dir.path().join("targets/b.yaml"), entry("t9", port)).unwrap();
    std::fs::write(&file, entry("t1", port)).unwrap();
    let m = scrape_while(&agent, "the fixed file was never read", |m| {
        m.contains(&info("t9")) && !m.contains(&info("t2"))
    });
    assert_eq!(
        value(&m, r#"mailbeat_target_file_valid{file="targets/a.yaml"}"#),
        Some(1.0)
    );
    std::fs::remove_file(dir.path().join("targets/b.yaml")).unwrap();
    scrape_while(&agent, "a removed file's targets stayed", |m| {
        !m.contains(&info("t9")) && !m.contains("targets/b.yaml")
    });
}
