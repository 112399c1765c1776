//! The result store: the latest result of every (target, probe) and its run counters.
//!
//! It is the single source of truth: metrics, the status page, `check` output and (later) alerts
//! read from it. A result for a (target, probe) that is no longer configured is dropped, so a
//! removed target's series vanish on reload.

use crate::config::Config;
use mailbeat_sdk::{CheckResult, Status, Target};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// The latest result of one probe on one target.
#[derive(Debug, Clone)]
pub struct Entry {
    pub result: CheckResult,
    pub finished_at: SystemTime,
    /// Runs so far, by status (index = position in [`Status::ALL`]).
    pub runs: [u64; 4],
}

/// A (target, probe) key.
pub type Key = (String, String);

#[derive(Default)]
struct Inner {
    /// Configured targets in config order, for `mailbeat_target_info` and ordering.
    targets: Arc<Vec<Target>>,
    /// Configured (target, probe) pairs, in config order.
    configured: Vec<Key>,
    allowed: HashSet<Key>,
    results: HashMap<Key, Entry>,
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

    /// Adopts a (new) configuration: results of pairs no longer configured are dropped.
    pub fn set_config(&self, config: &Config) {
        let configured: Vec<Key> = config
            .targets
            .iter()
            .flat_map(|t| {
                t.probes
                    .iter()
                    .map(move |p| (t.target.name.clone(), p.name.clone()))
            })
            .collect();
        let allowed: HashSet<Key> = configured.iter().cloned().collect();
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.results.retain(|k, _| allowed.contains(k));
        inner.targets = Arc::new(config.targets.iter().map(|t| t.target.clone()).collect());
        inner.configured = configured;
        inner.allowed = allowed;
    }

    /// Records a result. Ignored when the pair is no longer configured (a check that was still
    /// running when its target was removed).
    pub fn record(&self, target: &str, probe: &str, result: CheckResult, at: SystemTime) {
        let key = (target.to_string(), probe.to_string());
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if !inner.allowed.contains(&key) {
            return;
        }
        let idx = status_index(result.status);
        let entry = inner.results.entry(key).or_insert_with(|| Entry {
            result: result.clone(),
            finished_at: at,
            runs: [0; 4],
        });
        entry.runs[idx] += 1;
        entry.result = result;
        entry.finished_at = at;
    }

    /// The latest entry of a pair.
    pub fn get(&self, target: &str, probe: &str) -> Option<Entry> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner
            .results
            .get(&(target.to_string(), probe.to_string()))
            .cloned()
    }

    /// Calls `f` with the configured targets and every entry in config order, under one read
    /// lock (no copy of the results is made, which matters at 10,000 targets).
    pub fn read<R>(
        &self,
        f: impl FnOnce(&[Target], &mut dyn Iterator<Item = (&Key, &Entry)>) -> R,
    ) -> R {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut iter = inner
            .configured
            .iter()
            .filter_map(|k| inner.results.get_key_value(k));
        f(&inner.targets, &mut iter)
    }

    /// Number of configured pairs and how many have a result.
    pub fn coverage(&self) -> (usize, usize) {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        (inner.configured.len(), inner.results.len())
    }
}
