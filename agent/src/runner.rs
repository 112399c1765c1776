//! The one way to run a check, for the scheduler, `/probe` and `mailbeat check` alike: claim the
//! job (so a scheduled probe never overlaps itself on a target, and a login or a delivery never
//! runs twice at once), wait for a slot of its host and then a slot under the global concurrency
//! limit, execute, emit the event, record the result and hand back what changed.
//!
//! The host slot comes first and is the fairness rule: a provider that accepts connections and
//! then says nothing holds at most `per_host_concurrency` slots for a timeout each, and its
//! waiting checks wait outside the global limit, so checks of every other host keep their
//! schedule.

use crate::config::{ProbeConfig, TargetConfig};
use crate::events;
use crate::executor::Executor;
use crate::jobs::{JobKey, JobLocks};
use crate::store::{ResultStore, Transition};
use mailbeat_sdk::CheckResult;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::{OwnedMutexGuard, Semaphore};

/// Runs checks of one configuration against shared limits, locks and results.
pub struct Runner {
    pub executor: Arc<Executor>,
    /// Every recorded result goes to the alert engine (a no-op until the agent configures it).
    pub alerts: Arc<crate::alerts::engine::AlertEngine>,
    pub store: Arc<ResultStore>,
    /// Bounds how many checks run at once; kept across reloads while the limit is unchanged.
    pub semaphore: Arc<Semaphore>,
    /// Per-job locks, kept across reloads so a reload cannot make a job overlap itself.
    pub locks: Arc<JobLocks>,
    /// One limit per host; kept across reloads while the limit is unchanged.
    pub hosts: Arc<HostLimits>,
    /// This replica's shard: results of other shards' targets (a `/probe` of one) are answered
    /// but neither stored nor fed to the alert engine, so two replicas never alert on one target.
    pub shard: Option<crate::shard::Shard>,
}

/// The per-host limits: a semaphore of `limit` slots for each host name, made on first use.
#[derive(Debug)]
pub struct HostLimits {
    limit: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostLimits {
    pub fn new(limit: usize) -> Self {
        HostLimits {
            limit: limit.max(1),
            hosts: Mutex::default(),
        }
    }

    /// Slots per host.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Forgets the hosts no target of `config` talks to any more, once nothing holds their slots
    /// (a reload that drops targets must not keep their semaphores forever).
    pub fn retain_hosts(&self, config: &crate::config::Config) {
        let keep: std::collections::HashSet<String> = config
            .targets
            .iter()
            .map(|t| mailbeat_sdk::target::bare_host(&t.target.host).to_ascii_lowercase())
            .collect();
        self.hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|host, sem| keep.contains(host) || Arc::strong_count(sem) > 1);
    }

    /// How many hosts have a semaphore now.
    pub fn host_count(&self) -> usize {
        self.hosts.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The semaphore of `host` (names compare without case and IPv6 brackets).
    fn of(&self, host: &str) -> Arc<Semaphore> {
        let key = mailbeat_sdk::target::bare_host(host).to_ascii_lowercase();
        self.hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
            .clone()
    }
}

/// The right to run one job now: nobody else claims it until this is dropped (an unlocked
/// claim, for a `/probe` of a check that cannot harm by overlapping, holds nothing).
#[must_use = "run the claimed job"]
pub struct Claim {
    key: JobKey,
    _lock: Option<OwnedMutexGuard<()>>,
}

impl Claim {
    pub fn key(&self) -> &JobKey {
        &self.key
    }
}

/// A check that ran.
#[derive(Debug)]
pub struct Ran {
    pub result: Arc<CheckResult>,
    /// What its result changed in the store (`None`: nothing).
    pub transition: Option<Transition>,
}

impl Runner {
    /// Claims `key` if it is not running; `None` (the slot is skipped and counted) when it is.
    pub fn try_claim(&self, key: &JobKey) -> Option<Claim> {
        match self.locks.try_acquire(key) {
            Some(lock) => Some(Claim {
                key: key.clone(),
                _lock: Some(lock),
            }),
            None => {
                events::check_skipped(&key.target, &key.probe);
                None
            }
        }
    }

    /// Claims `key`, waiting for a running check of it to finish (two logins at once would also
    /// step around the credential guard).
    pub async fn claim(&self, key: &JobKey) -> Claim {
        Claim {
            key: key.clone(),
            _lock: Some(self.locks.acquire(key).await),
        }
    }

    /// Runs a claimed job: waits for a slot of its host, then one under the global limit, calls
    /// `started` when it has both (the scheduler measures its lag there), executes, emits the
    /// event and records the result.
    pub async fn run(
        &self,
        claim: Claim,
        target: &TargetConfig,
        probe: &ProbeConfig,
        started: impl FnOnce(),
    ) -> Ran {
        let host = self.hosts.of(&target.target.host);
        let host_permit = host.acquire().await;
        let permit = self.semaphore.acquire().await;
        started();
        let executed = self.executor.run(target, probe).await;
        if executed.backing_off {
            events::check_backing_off(&claim.key.target, &claim.key.probe);
        }
        events::check_finished(&claim.key.target, &claim.key.probe, &executed.result);
        // The slots are for talking to servers: give them back before the bookkeeping, which
        // may wait for the alert engine to commit a state change.
        drop(permit);
        drop(host_permit);
        let now = SystemTime::now();
        // One result, shared by the store and the caller: a copy of it per check (certificate
        // details and all), dropped unread by the scheduler, cost as much as the alert engine.
        let result = Arc::new(executed.result);
        let transition = self.store.record(&claim.key, result.clone(), now);
        if self.shard.is_none_or(|s| s.owns(&claim.key.target)) {
            self.alerts
                .observe(&claim.key.target, &claim.key.probe, &result, now)
                .await;
        }
        Ran { result, transition }
    }

    /// Runs `probe` on `target` now. A check that logs in, sends mail or works with an OAuth
    /// grant first waits for a running one of the same job (two logins at once would step around
    /// the credential guard); any other (`port`, `tls`) runs at once, so concurrent `/probe`
    /// scrapes of one target (two Prometheus replicas, a dashboard) do not queue behind each other.
    pub async fn run_now(&self, target: &TargetConfig, probe: &ProbeConfig) -> Ran {
        let key = JobKey::new(&target.target.name, &probe.name);
        let claim = match runs_exclusively(target, probe) {
            true => self.claim(&key).await,
            false => Claim { key, _lock: None },
        };
        self.run(claim, target, probe, || {}).await
    }
}

/// Whether two runs of this job at once could do harm: a login (the credential guard counts
/// them), a delivery (a second message), a token refresh.
fn runs_exclusively(target: &TargetConfig, probe: &ProbeConfig) -> bool {
    probe.uses_credentials || probe.via.is_some() || target.oauth.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_forgets_the_hosts_no_target_uses_unless_a_check_holds_them() {
        let limits = HostLimits::new(2);
        let _a = limits.of("a.example");
        let held = limits.of("B.example");
        let _c = limits.of("c.example");
        drop(_c);
        let dir = tempfile::tempdir().unwrap();
        let yaml =
            "targets:\n  - {name: a, protocol: imap, host: a.example, tls: none, probes: [port]}\n";
        let config =
            crate::config::parse(yaml, "r.yml", dir.path(), &mailbeat_probes::builtin()).unwrap();
        limits.retain_hosts(&config);
        // a is configured, b is in use by a running check, c is gone.
        assert_eq!(limits.host_count(), 2);
        drop(held);
        limits.retain_hosts(&config);
        assert_eq!(limits.host_count(), 1);
    }
}
