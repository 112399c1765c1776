//! Jobs: the configured (target, probe) pairs, computed once per configuration, and one lock per
//! job so the same probe never runs twice at once on the same target, whether the scheduler,
//! `/probe` or `check` started it. The scheduler skips a slot when the job is busy; `/probe`
//! waits for the running check to finish, then runs its own.

use crate::config::{Config, ProbeConfig, TargetConfig};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

/// The identity of one job: a target name and a probe name. Every map of per-job state (results,
/// locks, alert state) is keyed by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey {
    pub target: String,
    pub probe: String,
}

impl JobKey {
    pub fn new(target: &str, probe: &str) -> Self {
        JobKey {
            target: target.to_string(),
            probe: probe.to_string(),
        }
    }
}

impl fmt::Display for JobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.target, self.probe)
    }
}

/// One configured job: its key and where it sits in the configuration.
#[derive(Debug, Clone)]
pub struct Job {
    pub key: JobKey,
    /// Index into `Config::targets`.
    pub target: usize,
    /// Index into that target's `probes`.
    pub probe: usize,
    /// A digest of everything configured about the job (target, probe options, schedule,
    /// timeout, where the secret comes from): equal across a reload exactly when the job did not
    /// change, so its schedule can carry on instead of logging in again at once.
    pub identity: u64,
}

impl Job {
    /// The target and probe configuration of this job in `config` (the one it was made from).
    pub fn in_config<'a>(&self, config: &'a Config) -> Option<(&'a TargetConfig, &'a ProbeConfig)> {
        let t = config.targets.get(self.target)?;
        Some((t, t.probes.get(self.probe)?))
    }
}

/// Every job of `config`, in config order.
pub fn jobs_of(config: &Config) -> Vec<Job> {
    config
        .targets
        .iter()
        .enumerate()
        .flat_map(|(ti, t)| {
            t.probes.iter().enumerate().map(move |(pi, p)| Job {
                key: JobKey::new(&t.target.name, &p.name),
                target: ti,
                probe: pi,
                identity: identity(t, p),
            })
        })
        .collect()
}

fn identity(t: &TargetConfig, p: &ProbeConfig) -> u64 {
    use std::hash::{Hash, Hasher};
    // Debug forms: every part is printable and none prints a secret (SecretSource hides inline
    // values). The hasher's keys are fixed, and the digest never leaves the process.
    let mut h = std::hash::DefaultHasher::new();
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}",
        t.target, p, t.schedule, t.timeout, t.secret
    )
    .hash(&mut h);
    h.finish()
}

/// The jobs that `--target` / `?target=` and `--probe` / `&probe=` select, in config order.
pub fn select<'a>(
    jobs: &'a [Job],
    target: Option<&'a str>,
    probe: Option<&'a str>,
) -> impl Iterator<Item = &'a Job> + 'a {
    jobs.iter().filter(move |j| {
        target.is_none_or(|t| t == j.key.target) && probe.is_none_or(|p| p == j.key.probe)
    })
}

/// The locks, created on first use.
#[derive(Default)]
pub struct JobLocks {
    locks: Mutex<HashMap<JobKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl JobLocks {
    fn lock_of(&self, key: &JobKey) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .clone()
    }

    /// The job's lock if nobody holds it.
    pub fn try_acquire(&self, key: &JobKey) -> Option<OwnedMutexGuard<()>> {
        self.lock_of(key).try_lock_owned().ok()
    }

    /// The job's lock, waiting for a running check to finish.
    pub async fn acquire(&self, key: &JobKey) -> OwnedMutexGuard<()> {
        self.lock_of(key).lock_owned().await
    }

    /// Forgets the locks of jobs no longer configured (that nobody holds).
    pub fn retain(&self, keep: impl Fn(&JobKey) -> bool) {
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, lock| keep(k) || Arc::strong_count(lock) > 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_held_job_cannot_be_taken_twice() {
        let locks = JobLocks::default();
        let key = JobKey::new("t", "auth");
        let held = locks.try_acquire(&key).expect("free");
        assert!(locks.try_acquire(&key).is_none());
        assert!(locks.try_acquire(&JobKey::new("t", "tls")).is_some());
        drop(held);
        let _again = locks.acquire(&key).await;
        locks.retain(|_| false);
        assert!(
            locks.try_acquire(&key).is_none(),
            "a held lock survives retain"
        );
    }
}
