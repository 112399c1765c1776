//! Dynamic plugins, black box and in process: the README's example plugin is the crate that is
//! built, loaded and run; its declared metric reaches `/metrics`; deliberately broken plugins
//! (plugins/testing/*) are contained and named: load errors for a wrong ABI, a missing symbol,
//! a file that is not a library and a duplicate name; `plugin_error` results for a panic, an
//! invalid result and an endless loop, while the agent keeps checking the other targets.
//!
//! The libraries are built because the agent's dev-dependencies name their crates; they land in
//! the target dir's `deps/`, next to this test's executable and below the agent binary's dir.

mod support;

use mailbeat::plugins::dynamic::{self, MAX_STUCK};
use mailbeat_sdk::{CheckResult, ProbeContext, Protocol, Reason, Status, Target, TlsMode};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{http, mailbeat, scrape_until, start_agent, wait_until};

/// The built library `lib<name>.so`.
fn library(name: &str) -> PathBuf {
    let bin_dir = Path::new(support::BIN).parent().unwrap();
    let file = format!("lib{name}.so");
    [bin_dir.join(&file), bin_dir.join("deps").join(&file)]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{file} was not built (next to or below {bin_dir:?})"))
}

const HELLO: &str = "mailbeat_plugin_hello";

/// A directory for one test: `plugins/` holding copies of `libs` (as `file name -> library`),
/// and `mailbeat.yaml`: the `plugins:` section, then `global:` with the state dir, continued by
/// `body` (indented lines add to `global:`, then `targets:`).
fn setup(libs: &[(&str, &str)], body: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    for (file, lib) in libs {
        std::fs::copy(library(lib), plugins.join(file)).unwrap();
    }
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(
        &config,
        format!("plugins:\n  dir: ./plugins\nglobal:\n  state_dir: ./data\n{body}"),
    )
    .unwrap();
    (dir, config)
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The fenced block of `lang` in README's "### Dynamic plugins" section.
fn readme_block(lang: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("\n### Dynamic plugins\n")
        .expect("README has a Dynamic plugins section");
    let section = &readme[start + 1..];
    let end = section[4..]
        .find("\n## ")
        .into_iter()
        .chain(section[4..].find("\n### "))
        .min()
        .map_or(section.len(), |e| e + 4);
    let section = &section[..end];
    let fence = format!("\n```{lang}\n");
    let open = section
        .find(&fence)
        .unwrap_or_else(|| panic!("no ```{lang} block"))
        + fence.len();
    let close = section[open..].find("\n```\n").unwrap() + open + 1;
    section[open..close].to_string()
}

#[test]
fn the_readme_shows_the_hello_plugin_crate_in_full() {
    let crate_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/example-hello");
    let manifest = std::fs::read_to_string(format!("{crate_dir}/Cargo.toml")).unwrap();
    let source = std::fs::read_to_string(format!("{crate_dir}/src/lib.rs")).unwrap();
    assert_eq!(
        readme_block("toml"),
        manifest,
        "README's Cargo.toml is not plugins/example-hello/Cargo.toml"
    );
    assert_eq!(
        readme_block("rust"),
        source,
        "README's src/lib.rs is not plugins/example-hello/src/lib.rs"
    );
}

const GREETED: &str = "targets:
  - name: greeted
    host: mail.example.test
    probes: [{plugin: hello, greeting: Hi}]
";

#[test]
fn the_hello_plugin_is_listed_validated_and_checked() {
    let (_dir, config) = setup(&[("hello.so", HELLO)], GREETED);
    let out = mailbeat(&["plugins", "--output", "json"], &config);
    assert!(out.status.success(), "{}", stderr(&out));
    let infos: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hello = infos
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "hello")
        .unwrap_or_else(|| panic!("hello not listed: {infos}"));
    assert_eq!(hello["kind"], "dynamic");
    assert_eq!(hello["version"], "0.1.0");
    assert_eq!(hello["abi"], 1);
    assert!(hello["source"].as_str().unwrap().ends_with("hello.so"));
    assert!(infos
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["kind"] == "builtin"));

    let out = mailbeat(&["validate"], &config);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    let out = mailbeat(&["check", "--output", "json"], &config);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &report["results"][0];
    assert_eq!(r["probe"], "hello");
    assert_eq!(r["status"], "ok");
    assert_eq!(r["message"], "Hi, mail.example.test");
    assert_eq!(r["observations"]["hello_greeting_length"], 21.0);

    // Options are checked by the plugin at load: an unknown key is a config error.
    let (_dir, bad) = setup(
        &[("hello.so", HELLO)],
        "targets:\n  - name: greeted\n    host: mail.example.test\n    probes: [{plugin: hello, greting: Hi}]\n",
    );
    let out = mailbeat(&["validate"], &bad);
    assert!(!out.status.success());
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("greting"), "{said}");
}

#[test]
fn the_hello_plugin_runs_on_schedule_into_metrics_and_the_status_page() {
    let (dir, config) = setup(&[("hello.so", HELLO)], &format!("{GREETED}    every: 1s\n"));
    let agent = start_agent(&config, dir.path());
    let text = scrape_until(&agent, "mailbeat_hello_greeting_length{");
    assert!(
        text.contains(
            "# HELP mailbeat_hello_greeting_length Length of the greeting the hello plugin sent, in bytes."
        ),
        "the declared help text: {text}"
    );
    let series = text
        .lines()
        .find(|l| l.starts_with("mailbeat_hello_greeting_length{"))
        .unwrap();
    assert!(
        series.contains("target=\"greeted\"") && series.ends_with(" 21"),
        "{series}"
    );
    assert!(
        text.contains("mailbeat_probe_success{target=\"greeted\",probe=\"hello\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("mailbeat_plugin_info{kind=\"dynamic\",name=\"hello\",version=\"0.1.0\"} 1"),
        "{text}"
    );
    let (status, page) = http(agent.port, "GET", "/");
    assert_eq!(status, 200);
    assert!(
        page.contains("hello") && page.contains("Hi, mail.example.test"),
        "{page}"
    );
}

/// `validate` and `run` both refuse the plugin dir, with a message naming the file.
fn refused(libs: &[(&str, &str)], extra: Option<(&str, &[u8])>, expect: &[&str]) {
    let (dir, config) = setup(libs, GREETED);
    if let Some((file, bytes)) = extra {
        std::fs::write(dir.path().join("plugins").join(file), bytes).unwrap();
    }
    for args in [
        &["validate"][..],
        &["run", "--web.listen-address", "127.0.0.1:0"][..],
    ] {
        let out = support::command(args, &config)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_with_limit(out, Duration::from_secs(20));
        assert!(!out.status.success(), "{args:?} accepted it");
        let said = format!("{}{}", stdout(&out), stderr(&out));
        for e in expect {
            assert!(said.contains(e), "{args:?}: {e:?} not in: {said}");
        }
    }
}

fn wait_with_limit(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_wrong_abi_version_is_a_load_error_naming_the_file_and_both_versions() {
    refused(
        &[
            ("hello.so", HELLO),
            ("future.so", "mailbeat_testplugin_wrong_abi"),
        ],
        None,
        &["future.so", "ABI version 999", "ABI version 1"],
    );
}

#[test]
fn a_library_without_the_entry_symbol_is_a_load_error_naming_the_file() {
    refused(
        &[("other.so", "mailbeat_testplugin_no_symbol")],
        None,
        &["other.so", "mailbeat_plugin"],
    );
}

#[test]
fn a_file_that_is_not_a_library_is_a_load_error_naming_it() {
    refused(
        &[("hello.so", HELLO)],
        Some(("notes.so", b"just some text\n")),
        &["notes.so", "not a loadable library"],
    );
}

#[test]
fn two_plugins_of_one_name_are_a_load_error_naming_both_files() {
    refused(
        &[("a-hello.so", HELLO), ("b-hello.so", HELLO)],
        None,
        &["\"hello\"", "a-hello.so", "b-hello.so"],
    );
}

const BROKEN: &[(&str, &str)] = &[
    ("hello.so", HELLO),
    ("panics.so", "mailbeat_testplugin_panics"),
    ("bad-json.so", "mailbeat_testplugin_bad_json"),
    ("endless.so", "mailbeat_testplugin_endless"),
];

const BROKEN_TARGETS: &str = "  timeout: 1s
targets:
  - name: greeted
    host: mail.example.test
    probes: [{plugin: hello}]
    every: 1s
  - name: panicky
    host: mail.example.test
    probes: [{plugin: panics}]
    every: 1s
  - name: garbled
    host: mail.example.test
    probes: [{plugin: bad-json}]
    every: 1s
  - name: stuck
    host: mail.example.test
    probes: [{plugin: endless}]
    every: 1s
";

#[test]
fn broken_plugins_are_plugin_errors_and_check_still_ends() {
    let (_dir, config) = setup(BROKEN, BROKEN_TARGETS);
    let started = Instant::now();
    let child = support::command(&["check", "--output", "json"], &config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_with_limit(child, Duration::from_secs(20));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "a stuck plugin held `check` for {:?}",
        started.elapsed()
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    let result = |target: &str| {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"] == target)
            .unwrap_or_else(|| panic!("no result for {target}: {report}"))
            .clone()
    };
    assert_eq!(result("greeted")["status"], "ok");
    for (target, says) in [
        ("panicky", "panicked: deliberate panic checking panicky"),
        ("garbled", "plugin bad-json returned a malformed result"),
        (
            "stuck",
            "plugin endless did not return within the check's timeout",
        ),
    ] {
        let r = result(target);
        assert_eq!(r["status"], "unknown", "{r}");
        assert_eq!(r["reason"], "plugin_error", "{r}");
        assert!(r["message"].as_str().unwrap().contains(says), "{r}");
    }
}

#[test]
fn the_agent_keeps_checking_other_targets_beside_broken_plugins() {
    let (dir, config) = setup(BROKEN, BROKEN_TARGETS);
    let agent = start_agent(&config, dir.path());
    let runs = |text: &str| {
        support::value(
            text,
            "mailbeat_probe_runs_total{target=\"greeted\",probe=\"hello\",status=\"ok\"}",
        )
        .unwrap_or(0.0)
    };
    let mut text = String::new();
    let kept_on = wait_until(Duration::from_secs(30), || {
        text = http(agent.port, "GET", "/metrics").1;
        runs(&text) >= 6.0
            && ["panicky", "garbled", "stuck"].iter().all(|t| {
                text.contains(&format!(
                    "mailbeat_probe_status{{target=\"{t}\",probe=\"{}\",status=\"unknown\",reason=\"plugin_error\"}} 1",
                    match *t {
                        "panicky" => "panics",
                        "garbled" => "bad-json",
                        _ => "endless",
                    }
                ))
            })
    });
    assert!(
        kept_on,
        "{text}\n{}",
        std::fs::read_to_string(&agent.log).unwrap_or_default()
    );
    // The status page names each broken plugin's failure, like a built-in probe's.
    let (status, page) = http(agent.port, "GET", "/");
    assert_eq!(status, 200);
    for says in [
        "deliberate panic checking panicky",
        "plugin bad-json returned a malformed result",
        "plugin endless",
    ] {
        assert!(
            page.contains(says),
            "{says:?} not on the status page: {page}"
        );
    }
}

fn target() -> Target {
    Target {
        name: "t".into(),
        protocol: Some(Protocol::Imap),
        host: "mail.example.test".into(),
        port: Some(993),
        tls: TlsMode::Implicit,
        tls_server_name: None,
        ca_file: None,
        source_address: None,
        provider: None,
        account: None,
        labels: Default::default(),
        migration_domain: None,
    }
}

fn ctx(timeout: Duration) -> ProbeContext {
    ProbeContext::new(timeout, Arc::new(rustls::RootCertStore::empty()))
}

/// Loads the one library `lib` from a directory of its own, in this process.
fn load_one(lib: &str) -> (tempfile::TempDir, Arc<dyn mailbeat_sdk::Probe>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(library(lib), dir.path().join("p.so")).unwrap();
    let mut loaded = dynamic::load_dir(dir.path()).unwrap();
    assert_eq!(loaded.len(), 1);
    (dir, loaded.remove(0).0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_costs_little_in_process() {
    let (_dir, probe) = load_one(HELLO);
    let check = probe
        .configure(&target(), &serde_json::Value::Null)
        .unwrap();
    let first = check.run(&target(), &ctx(Duration::from_secs(5))).await;
    assert!(first.is_ok(), "{first:?}");
    const N: u32 = 500;
    let start = Instant::now();
    for _ in 0..N {
        let r: CheckResult = check.run(&target(), &ctx(Duration::from_secs(5))).await;
        assert_eq!(r.message, "Hello, mail.example.test");
    }
    let per_call = start.elapsed() / N;
    println!("dynamic plugin call (thread, JSON both ways, plugin runtime): {per_call:?} per call");
    assert!(
        per_call < Duration::from_millis(20),
        "{per_call:?} per call"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stuck_calls_are_abandoned_and_bounded_per_plugin() {
    let (_dir, probe) = load_one("mailbeat_testplugin_endless");
    let check = probe
        .configure(&target(), &serde_json::Value::Null)
        .unwrap();
    for i in 0..MAX_STUCK {
        let start = Instant::now();
        let r = check.run(&target(), &ctx(Duration::from_millis(100))).await;
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "call {i} was awaited too long"
        );
        assert_eq!(
            (r.status, r.reason),
            (Status::Unknown, Some(Reason::PluginError))
        );
        assert!(r.message.contains("abandoned"), "{r:?}");
    }
    let start = Instant::now();
    let r = check.run(&target(), &ctx(Duration::from_millis(100))).await;
    assert!(
        start.elapsed() < Duration::from_millis(50),
        "refused at once"
    );
    assert_eq!(r.reason, Some(Reason::PluginError));
    assert!(
        r.message.contains(&format!("{MAX_STUCK} calls stuck")),
        "{r:?}"
    );
}

/// A built-in of the same name as the plugin (here a stand-in named `hello`).
struct Builtin;

impl mailbeat_sdk::Probe for Builtin {
    fn name(&self) -> &str {
        "hello"
    }

    fn configure(
        &self,
        _target: &Target,
        _options: &serde_json::Value,
    ) -> Result<Arc<dyn mailbeat_sdk::Check>, mailbeat_sdk::OptionsError> {
        Err(mailbeat_sdk::OptionsError::new("unused"))
    }
}

#[test]
fn a_plugin_may_not_shadow_a_builtin_probe() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(library(HELLO), dir.path().join("hello.so")).unwrap();
    let section = mailbeat::config::PluginsConfig {
        dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let existing: Vec<Arc<dyn mailbeat_sdk::Probe>> = vec![Arc::new(Builtin)];
    let err = mailbeat::plugins::load(&section, &existing)
        .err()
        .expect("shadowing refused")
        .to_string();
    assert!(
        err.contains("\"hello\"") && err.contains("hello.so") && err.contains("builtin"),
        "{err}"
    );
}
