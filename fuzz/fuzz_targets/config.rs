//! The config loader: YAML text → validated `Config`, or the errors a person reads; and, for a
//! config that loads, the first things the agent computes from it (jobs, each check's deadline,
//! the scheduler's first slots). A config that loads must be one the agent can run.
//!
//! Relative paths resolve in `fuzz/config-base/` (a password file, a token file, a CA file), so
//! configs that name them get past the file checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailbeat::schedule::stable_fraction;
use mailbeat_sdk::{Probe, ProbeContext};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

fn probes() -> &'static [Arc<dyn Probe>] {
    static PROBES: OnceLock<Vec<Arc<dyn Probe>>> = OnceLock::new();
    PROBES.get_or_init(mailbeat_probes::builtin)
}

fn base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("config-base"))
}

fuzz_target!(|text: &str| {
    let config = match mailbeat::config::parse(text, "fuzz.yml", base(), probes()) {
        Ok(config) => config,
        // The error as a person reads it (positions, key paths, masked snippets).
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = format!("{config:?}");
    let now = chrono::Utc::now();
    for job in mailbeat::jobs::jobs_of(&config) {
        let tc = &config.targets[job.target];
        // Every check starts with a context whose deadline is its timeout from now.
        let _ = ProbeContext::new(tc.timeout, tc.roots.clone());
        // The scheduler: the start-up run, then the first regular slot half an interval later.
        let fraction = stable_fraction(&job.key.to_string());
        let half = tc.schedule.interval(now) / 2;
        let after = now + chrono::Duration::from_std(half).unwrap_or_default();
        let _ = tc.schedule.next_run(after, fraction, config.global.spread);
    }
});
