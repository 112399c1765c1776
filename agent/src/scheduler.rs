//! The scheduler: one dispatcher loop over a time-ordered heap of (target, probe) jobs.
//!
//! - Each job's next run follows its schedule shifted by a stable per-job offset, so 10,000 targets
//!   on `*/5 * * * *` are spread over the five minutes instead of starting in the same second.
//! - At start (and after a reload) every job runs once soon, spread over the first few seconds,
//!   so metrics are filled without waiting for the first slot.
//! - A global semaphore bounds how many checks run at once; lag (due time → start) is measured.
//! - The same probe never overlaps itself on the same target: a due job that is still running is
//!   skipped and counted.
//!
//! Time comes from tokio's clock, mapped onto wall time once per scheduler start, so tests can run
//! hours of schedule in milliseconds with paused time.

use crate::config::Config;
use crate::executor::Executor;
use crate::jobs::JobLocks;
use crate::metrics::AgentMetrics;
use crate::schedule::stable_fraction;
use crate::store::ResultStore;
use chrono::{DateTime, Utc};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

/// Longest window over which the first runs after a start are spread.
pub const STARTUP_SPREAD: Duration = Duration::from_secs(10);

/// Wall time derived from tokio's monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    anchor: Instant,
    anchor_wall: DateTime<Utc>,
}

impl Clock {
    pub fn start() -> Self {
        Clock {
            anchor: Instant::now(),
            anchor_wall: Utc::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.wall(Instant::now())
    }

    fn wall(&self, at: Instant) -> DateTime<Utc> {
        self.anchor_wall + chrono::Duration::from_std(at - self.anchor).unwrap_or_default()
    }

    fn instant(&self, wall: DateTime<Utc>) -> Instant {
        let offset = (wall - self.anchor_wall).to_std().unwrap_or_default();
        self.anchor + offset
    }
}

/// What the scheduler shares with the rest of the agent.
pub struct Shared {
    pub executor: Arc<Executor>,
    pub store: Arc<ResultStore>,
    pub metrics: Arc<AgentMetrics>,
    pub semaphore: Arc<Semaphore>,
    /// Per-job locks, kept across reloads so a reload cannot make a job overlap itself.
    pub locks: Arc<JobLocks>,
}

struct Job {
    target: usize,
    probe: usize,
    fraction: f64,
}

/// Runs `config`'s schedule until `stop` turns true. In-flight checks finish on their own.
pub async fn run(config: Arc<Config>, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let clock = Clock::start();
    let mut jobs = Vec::new();
    for (ti, t) in config.targets.iter().enumerate() {
        for (pi, p) in t.probes.iter().enumerate() {
            jobs.push(Job {
                target: ti,
                probe: pi,
                fraction: stable_fraction(&format!("{}/{}", t.target.name, p.name)),
            });
        }
    }
    let start = clock.now();
    let mut heap: BinaryHeap<Reverse<(DateTime<Utc>, usize, bool)>> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let window = config.targets[job.target]
                .schedule
                .interval(start)
                .min(STARTUP_SPREAD);
            let first = start
                + chrono::Duration::from_std(window.mul_f64(job.fraction)).unwrap_or_default();
            Reverse((first, i, true))
        })
        .collect();

    loop {
        if *stop.borrow() {
            return;
        }
        let Some(Reverse((due, idx, startup))) = heap.peek().copied() else {
            let _ = stop.changed().await;
            return;
        };
        let now = clock.now();
        if due > now {
            tokio::select! {
                _ = tokio::time::sleep_until(clock.instant(due)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        heap.pop();
        let job = &jobs[idx];
        let tc = &config.targets[job.target];
        // Next slot after the later of due and now: a scheduler that fell behind skips the slots
        // it missed instead of bursting through them. After the start-up run, the first regular
        // slot is at least half an interval away, so a check does not run twice in a row.
        let mut after = due.max(now);
        if startup {
            let half = tc.schedule.interval(now) / 2;
            after += chrono::Duration::from_std(half).unwrap_or_default();
        }
        if let Some(next) = tc
            .schedule
            .next_run(after, job.fraction, config.global.spread)
        {
            heap.push(Reverse((next, idx, false)));
        }
        let key = (tc.target.name.clone(), tc.probes[job.probe].name.clone());
        let Some(job_lock) = shared.locks.try_acquire(&key) else {
            shared.metrics.scheduler_skipped.inc();
            tracing::debug!(target = %key.0, probe = %key.1, "still running from its last slot; skipped");
            continue;
        };
        let config = config.clone();
        let shared = shared.clone();
        let (ti, pi) = (job.target, job.probe);
        tokio::spawn(async move {
            let _permit = shared.semaphore.clone().acquire_owned().await;
            let lag = (clock.now() - due).to_std().unwrap_or_default();
            shared.metrics.scheduler_lag.observe(lag.as_secs_f64());
            let tc = &config.targets[ti];
            let pc = &tc.probes[pi];
            let result = shared.executor.run(tc, pc).await;
            log_result(&tc.target.name, &pc.name, &result);
            shared
                .store
                .record(&tc.target.name, &pc.name, result, SystemTime::now());
            drop(job_lock);
        });
    }
}

/// One log line per failed check: target, probe, status, reason, the server's words.
pub fn log_result(target: &str, probe: &str, result: &mailbeat_sdk::CheckResult) {
    match result.reason {
        None => {
            tracing::debug!(target = %target, probe = %probe, duration_seconds = result.duration_seconds, "check ok")
        }
        Some(reason) => tracing::warn!(
            target = %target,
            probe = %probe,
            status = %result.status,
            reason = %reason,
            server_said = %result.message,
            "check failed"
        ),
    }
}
