//! The scheduler: one dispatcher loop over a time-ordered heap of (target, probe) jobs.
//!
//! - Each job's next run follows its schedule shifted by a stable per-job offset, so 10,000 targets
//!   on `*/5 * * * *` are spread over the five minutes instead of starting in the same second.
//! - At start every job runs once soon, spread over the first few seconds (longer for more than
//!   20,000 jobs: [`startup_window`]), so metrics are filled without waiting for the first slot. After a reload only new or changed jobs do: a job whose
//!   configuration is the same keeps its next slot ([`DuePlan`]), so a reload is no login storm.
//! - A global semaphore bounds how many checks run at once; lag (due time → start) is measured.
//! - The same probe never overlaps itself on the same target: a due job that is still running is
//!   skipped and counted.
//!
//! Time comes from tokio's clock, mapped onto wall time once per scheduler start, so tests can run
//! hours of schedule in milliseconds with paused time.

use crate::config::Config;
use crate::jobs::{Job, JobKey};
use crate::runner::Runner;
use crate::schedule::stable_fraction;
use chrono::{DateTime, Utc};
use prometheus::Histogram;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Window over which the first runs after a start are spread, for up to
/// `STARTUP_SPREAD × STARTUP_RATE` jobs; more jobs get a longer window (never beyond their
/// interval), so the start-up round of 100,000 targets is not 10,000 checks a second.
pub const STARTUP_SPREAD: Duration = Duration::from_secs(10);

/// Start-up checks per second the spread aims at once there are many jobs.
pub const STARTUP_RATE: u32 = 2_000;

/// The window the start-up round of `jobs` jobs is spread over (before capping at an interval).
pub fn startup_window(jobs: usize) -> Duration {
    let needed = Duration::from_secs_f64(jobs as f64 / f64::from(STARTUP_RATE));
    needed.max(STARTUP_SPREAD)
}

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

/// The next slot of every scheduled job, by key, with the identity of the job it was computed
/// for. Kept by the agent across scheduler generations (reloads).
#[derive(Debug, Default)]
pub struct DuePlan {
    next: Mutex<HashMap<JobKey, (u64, DateTime<Utc>)>>,
}

impl DuePlan {
    /// The next slot of `job` as an earlier generation planned it, if the job is unchanged.
    fn carried(&self, job: &Job) -> Option<DateTime<Utc>> {
        let next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        next.get(&job.key)
            .filter(|(identity, _)| *identity == job.identity)
            .map(|(_, due)| *due)
    }

    fn plan(&self, job: &Job, due: DateTime<Utc>) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        // In place when the job is planned already (every run but its first): no copy of its
        // key, made and dropped, per check.
        match next.get_mut(&job.key) {
            Some(slot) => *slot = (job.identity, due),
            None => {
                next.insert(job.key.clone(), (job.identity, due));
            }
        }
    }

    /// Forgets jobs that are no longer configured.
    fn retain(&self, jobs: &[Job]) {
        let keep: HashSet<&JobKey> = jobs.iter().map(|j| &j.key).collect();
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        next.retain(|k, _| keep.contains(k));
    }
}

/// A job on the schedule: its place in the config and its stable offset within an interval.
struct Scheduled<'a> {
    job: &'a Job,
    fraction: f64,
}

/// Runs `config`'s schedule until `stop` turns true. In-flight checks finish on their own.
pub async fn run(
    config: Arc<Config>,
    jobs: Arc<Vec<Job>>,
    runner: Arc<Runner>,
    plan: Arc<DuePlan>,
    lag: Histogram,
    mut stop: watch::Receiver<bool>,
) {
    let clock = Clock::start();
    plan.retain(&jobs);
    let jobs: Vec<Scheduled<'_>> = jobs
        .iter()
        .map(|job| Scheduled {
            job,
            fraction: stable_fraction(&job.key.to_string()),
        })
        .collect();
    let start = clock.now();
    let startup = startup_window(jobs.len());
    let mut heap: BinaryHeap<Reverse<(DateTime<Utc>, usize, bool)>> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            if let Some(due) = plan.carried(job.job) {
                return Reverse((due, i, false));
            }
            let tc = &config.targets[job.job.target];
            let window = tc.probes[job.job.probe]
                .schedule_in(tc)
                .interval(start)
                .min(startup);
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
        let tc = &config.targets[job.job.target];
        let schedule = tc.probes[job.job.probe].schedule_in(tc);
        // Next slot after the later of due and now: a scheduler that fell behind skips the slots
        // it missed instead of bursting through them. After the start-up run, the first regular
        // slot is at least half an interval away, so a check does not run twice in a row.
        let mut after = due.max(now);
        if startup {
            let half = schedule.interval(now) / 2;
            after += chrono::Duration::from_std(half).unwrap_or_default();
        }
        if let Some(next) = schedule.next_run(after, job.fraction, config.global.spread) {
            plan.plan(job.job, next);
            heap.push(Reverse((next, idx, false)));
        }
        let Some(claim) = runner.try_claim(&job.job.key) else {
            continue;
        };
        let config = config.clone();
        let runner = runner.clone();
        let lag = lag.clone();
        let (ti, pi) = (job.job.target, job.job.probe);
        tokio::spawn(async move {
            let tc = &config.targets[ti];
            let pc = &tc.probes[pi];
            let measure = || {
                let late = (clock.now() - due).to_std().unwrap_or_default();
                lag.observe(late.as_secs_f64());
            };
            runner.run(claim, tc, pc, measure).await;
        });
    }
}
