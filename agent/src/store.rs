//! The result store: the latest result of every job and its run counters.
//!
//! It is the single source of truth: metrics, the status page, `check` output and the alert
//! engine read from it. Recording a result says what changed ([`Transition`]): the alert engine
//! and the webhook outbox hang off that. A result of a job that is no longer configured is
//! dropped, so a removed target's series vanish on reload.

use crate::jobs::{Job, JobKey};
use mailbeat_sdk::{CheckResult, Reason, Status, Target};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// The latest result of one probe on one target.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Shared with whoever ran the check (`/probe` answers from the same result).
    pub result: Arc<CheckResult>,
    pub finished_at: SystemTime,
    /// Runs so far, by status (index = position in [`Status::ALL`]).
    pub runs: [u64; 4],
}

/// A status and its reason: what an alert or a webhook is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct State {
    pub status: Status,
    pub reason: Option<Reason>,
}

impl State {
    pub fn of(result: &CheckResult) -> State {
        State {
            status: result.status,
            reason: result.reason,
        }
    }
}

/// What recording a result changed for its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub key: JobKey,
    /// The state before; `None` for the job's first result.
    pub previous: Option<State>,
    pub current: State,
}

impl Transition {
    /// True for the job's first result.
    pub fn is_first(&self) -> bool {
        self.previous.is_none()
    }

    /// True when the job was failing and is ok now.
    pub fn recovered(&self) -> bool {
        self.current.status == Status::Ok && self.previous.is_some_and(|p| p.status != Status::Ok)
    }
}

#[derive(Default)]
struct Inner {
    /// Configured targets in config order, for `mailbeat_target_info` and ordering.
    targets: Arc<Vec<Target>>,
    /// Configured jobs, in config order (shared, so a scrape can walk it without the lock).
    configured: Arc<Vec<JobKey>>,
    allowed: HashSet<JobKey>,
    results: HashMap<JobKey, Entry>,
}

/// Shared, thread-safe store. Reads never wait on a check; writes are a map insert.
#[derive(Default)]
pub struct ResultStore {
    inner: RwLock<Inner>,
}

fn status_index(s: Status) -> usize {
    Status::ALL.iter().position(|x| *x == s).unwrap_or(3)
}

impl ResultStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adopts a (new) configuration: results of jobs no longer configured are dropped.
    pub fn set_jobs(&self, targets: Vec<Target>, jobs: &[Job]) {
        let configured: Vec<JobKey> = jobs.iter().map(|j| j.key.clone()).collect();
        let allowed: HashSet<JobKey> = configured.iter().cloned().collect();
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.results.retain(|k, _| allowed.contains(k));
        inner.targets = Arc::new(targets);
        inner.configured = Arc::new(configured);
        inner.allowed = allowed;
    }

    /// Records a result and says what changed: `None` when status and reason are as before, or
    /// when the job is no longer configured (a check that was still running when its target was
    /// removed), whose result is dropped.
    pub fn record(
        &self,
        key: &JobKey,
        result: impl Into<Arc<CheckResult>>,
        at: SystemTime,
    ) -> Option<Transition> {
        let result = result.into();
        let current = State::of(&result);
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if !inner.allowed.contains(key) {
            return None;
        }
        let idx = status_index(result.status);
        let previous = match inner.results.get_mut(key) {
            Some(entry) => {
                let previous = State::of(&entry.result);
                entry.runs[idx] += 1;
                entry.result = result;
                entry.finished_at = at;
                Some(previous)
            }
            None => {
                let mut runs = [0; 4];
                runs[idx] = 1;
                let entry = Entry {
                    result,
                    finished_at: at,
                    runs,
                };
                inner.results.insert(key.clone(), entry);
                None
            }
        };
        (previous != Some(current)).then(|| Transition {
            key: key.clone(),
            previous,
            current,
        })
    }

    /// The latest entry of a job.
    pub fn get(&self, key: &JobKey) -> Option<Entry> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.results.get(key).cloned()
    }

    /// Calls `f` with the configured targets and every entry in config order, under one read
    /// lock (no copy of the results is made, which matters at 10,000 targets).
    pub fn read<R>(
        &self,
        f: impl FnOnce(&[Target], &mut dyn Iterator<Item = (&JobKey, &Entry)>) -> R,
    ) -> R {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut iter = inner
            .configured
            .iter()
            .filter_map(|k| inner.results.get_key_value(k));
        f(&inner.targets, &mut iter)
    }

    /// The configured targets and jobs as they are now, to walk in pieces with [`Self::read_keys`]
    /// (a scrape of 100,000 targets under one read lock would hold every finishing check's write
    /// for the whole render, and with it the async workers those checks run on).
    pub fn snapshot(&self) -> (Arc<Vec<Target>>, Arc<Vec<JobKey>>) {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        (inner.targets.clone(), inner.configured.clone())
    }

    /// Calls `f` with the entry of each of `keys` that has one, under one read lock. A key whose
    /// job was removed since the snapshot has no entry.
    pub fn read_keys(&self, keys: &[JobKey], mut f: impl FnMut(&JobKey, &Entry)) {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        for (k, e) in keys.iter().filter_map(|k| inner.results.get_key_value(k)) {
            f(k, e);
        }
    }

    /// Number of configured jobs and how many have a result.
    pub fn coverage(&self) -> (usize, usize) {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        (inner.configured.len(), inner.results.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(key: &JobKey) -> ResultStore {
        let store = ResultStore::new();
        let job = Job {
            key: key.clone(),
            target: 0,
            probe: 0,
            identity: 0,
        };
        store.set_jobs(Vec::new(), &[job]);
        store
    }

    #[test]
    fn recording_says_what_changed() {
        let key = JobKey::new("t", "auth");
        let store = store_with(&key);
        let now = SystemTime::now();
        let first = store.record(&key, CheckResult::ok("in"), now).unwrap();
        assert!(first.is_first() && !first.recovered());
        assert_eq!(store.record(&key, CheckResult::ok("in again"), now), None);
        let bad = CheckResult::critical(Reason::AuthBadCredentials, "535");
        let failed = store.record(&key, bad.clone(), now).unwrap();
        assert_eq!(failed.previous.unwrap().status, Status::Ok);
        assert_eq!(failed.current.reason, Some(Reason::AuthBadCredentials));
        assert_eq!(store.record(&key, bad, now), None, "same reason: no change");
        let other = CheckResult::critical(Reason::AuthAccountLocked, "locked");
        assert!(
            store.record(&key, other, now).is_some(),
            "a new reason is a change"
        );
        assert!(store
            .record(&key, CheckResult::ok("in"), now)
            .unwrap()
            .recovered());
        assert_eq!(store.get(&key).unwrap().runs, [3, 0, 3, 0]);
        let gone = JobKey::new("removed", "auth");
        assert_eq!(store.record(&gone, CheckResult::ok("x"), now), None);
        assert!(store.get(&gone).is_none());
    }
}
