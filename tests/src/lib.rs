//! Helpers for the integration tests: finding the harness, writing configs, running checks the
//! way `mailbeat check --output json` does.

#![forbid(unsafe_code)]

use mailbeat::check::{self, Report};
use mailbeat::config;
use std::path::{Path, PathBuf};

/// The harness started by `tests/harness/start.sh` (via `tests/run-all.sh`), read from the
/// environment it exports.
pub struct Harness {
    pub ca: String,
    pub user: String,
    pub password: String,
    pub user2: String,
    pub password2: String,
}

impl Harness {
    /// The running harness. Panics when it is not running: every test that calls this is
    /// `#[ignore]`d, so it runs only when asked for (`tests/run-all.sh` passes `--include-ignored`),
    /// and then a missing harness is a failure, not a skip.
    pub fn get() -> Harness {
        let var = |k: &str| std::env::var(k).ok();
        if var("MAILBEAT_HARNESS_DIR").is_none() {
            panic!("the real-server harness is not running (MAILBEAT_HARNESS_DIR unset): run bash tests/run-all.sh");
        }
        Harness {
            ca: var("MAILBEAT_TEST_CA").expect("MAILBEAT_TEST_CA"),
            user: var("MAILBEAT_TEST_USER").unwrap_or_else(|| "alice@mail.test".into()),
            password: var("MAILBEAT_TEST_PASSWORD").unwrap_or_else(|| "alicepass".into()),
            user2: var("MAILBEAT_TEST_USER2").unwrap_or_else(|| "bob@mail.test".into()),
            password2: var("MAILBEAT_TEST_PASSWORD2").unwrap_or_else(|| "bobpass".into()),
        }
    }

    /// A port from env.sh.
    pub fn port(name: &str) -> u16 {
        std::env::var(name)
            .unwrap_or_else(|_| panic!("{name} missing from the harness environment"))
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a port"))
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Loads `yaml` (written into `dir`) and runs every check once, like `mailbeat check`.
pub async fn check_yaml(dir: &Path, yaml: &str) -> Report {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let path = write(dir, "mailbeat.yaml", yaml);
    let probes = mailbeat_probes::builtin();
    let config = config::load(&path, &probes).unwrap_or_else(|e| panic!("{e}"));
    let loaded = check::prepare(std::sync::Arc::new(config), &Default::default());
    check::run(&loaded, None, None).await
}

/// The result of `target`/`probe` in a report, as the JSON `check` prints.
pub fn result(report: &Report, target: &str, probe: &str) -> serde_json::Value {
    let row = report
        .results
        .iter()
        .find(|r| r.target == target && r.probe == probe)
        .unwrap_or_else(|| panic!("no result for {target}/{probe}"));
    serde_json::to_value(row).unwrap()
}
