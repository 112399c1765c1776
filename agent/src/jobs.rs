//! One lock per (target, probe): the same probe never runs twice at once on the same target,
//! whether the scheduler or `/probe` started it. The scheduler skips a slot when the job is busy;
//! `/probe` waits for the running check to finish, then runs its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

/// A (target, probe) key.
pub type JobKey = (String, String);

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
        let key = ("t".to_string(), "auth".to_string());
        let held = locks.try_acquire(&key).expect("free");
        assert!(locks.try_acquire(&key).is_none());
        assert!(locks.try_acquire(&("t".into(), "tls".into())).is_some());
        drop(held);
        let _again = locks.acquire(&key).await;
        locks.retain(|_| false);
        assert!(
            locks.try_acquire(&key).is_none(),
            "a held lock survives retain"
        );
    }
}
