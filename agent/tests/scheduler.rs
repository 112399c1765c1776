//! Scheduler behaviour under paused tokio time: spreading, no overlap, hard timeout, concurrency
//! limit. Hours of schedule run in milliseconds; nothing here sleeps for real.

use async_trait::async_trait;
use mailbeat::config::{self, Config};
use mailbeat::jobs::{JobKey, JobLocks};
use mailbeat::metrics::AgentMetrics;
use mailbeat::scheduler;
use mailbeat::store::ResultStore;
use mailbeat_sdk::{Check, CheckResult, OptionsError, Probe, ProbeContext, Reason, Target};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

/// A probe that takes `delay` (or never finishes) and records what the scheduler did.
#[derive(Default)]
struct RecordingProbe(Arc<Recorder>);

impl std::ops::Deref for RecordingProbe {
    type Target = Recorder;
    fn deref(&self) -> &Recorder {
        &self.0
    }
}

impl RecordingProbe {
    fn new(recorder: Recorder) -> Self {
        RecordingProbe(Arc::new(recorder))
    }
}

#[derive(Default)]
struct Recorder {
    delay: Option<Duration>,
    /// The probe says it logs in (`Probe::uses_credentials`).
    logs_in: bool,
    /// Checks of targets on this host never finish (a provider that accepts and says nothing).
    hung_host: Option<String>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    per_target_in_flight: Mutex<HashMap<String, usize>>,
    max_per_target: AtomicUsize,
    starts: Mutex<Vec<(String, Instant)>>,
}

impl Probe for RecordingProbe {
    fn name(&self) -> &str {
        "recording"
    }

    fn uses_credentials(&self) -> bool {
        self.logs_in
    }

    fn configure(
        &self,
        _target: &Target,
        _options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError> {
        Ok(self.0.clone())
    }
}

#[async_trait]
impl Check for Recorder {
    async fn run(&self, target: &Target, _ctx: &ProbeContext) -> CheckResult {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        {
            let mut per = self.per_target_in_flight.lock().unwrap();
            let n = per.entry(target.name.clone()).or_default();
            *n += 1;
            self.max_per_target.fetch_max(*n, Ordering::SeqCst);
        }
        self.starts
            .lock()
            .unwrap()
            .push((target.name.clone(), Instant::now()));
        let hangs = self.hung_host.as_deref() == Some(target.host.as_str());
        match self.delay {
            Some(d) if !hangs => tokio::time::sleep(d).await,
            _ => std::future::pending::<()>().await,
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        *self
            .per_target_in_flight
            .lock()
            .unwrap()
            .get_mut(&target.name)
            .unwrap() -= 1;
        CheckResult::ok("done")
    }
}

fn config_for(
    probe: &Arc<RecordingProbe>,
    yaml_global: &str,
    targets: usize,
    every: &str,
) -> Config {
    let mut yaml = format!("global:\n{yaml_global}\ntargets:\n");
    for i in 0..targets {
        yaml.push_str(&format!(
            "  - {{name: t{i}, protocol: imap, host: 127.0.0.1, tls: none, every: {every}, probes: [recording]}}\n"
        ));
    }
    let probes: Vec<Arc<dyn Probe>> = vec![probe.clone()];
    config::parse(&yaml, "test.yml", Path::new("."), &probes).unwrap()
}

struct Running {
    store: Arc<ResultStore>,
    metrics: Arc<AgentMetrics>,
    stop: watch::Sender<bool>,
}

fn start(config: Config, probe: &Arc<RecordingProbe>) -> Running {
    start_with_plan(config, probe, Default::default())
}

/// [`start`] carrying on from the slots an earlier generation planned (a reload).
fn start_with_plan(
    config: Config,
    probe: &Arc<RecordingProbe>,
    plan: Arc<scheduler::DuePlan>,
) -> Running {
    let (store, metrics, loaded) = load(config, probe);
    let (stop, rx) = watch::channel(false);
    tokio::spawn(scheduler::run(
        loaded.config.clone(),
        loaded.jobs.clone(),
        loaded.runner.clone(),
        plan,
        metrics.scheduler_lag.clone(),
        rx,
    ));
    Running {
        store,
        metrics,
        stop,
    }
}

/// The agent's pieces for `config`, nothing started.
fn load(
    config: Config,
    probe: &Arc<RecordingProbe>,
) -> (Arc<ResultStore>, Arc<AgentMetrics>, mailbeat::app::Loaded) {
    let probes: Vec<Arc<dyn Probe>> = vec![probe.clone()];
    let store = Arc::new(ResultStore::new());
    let metrics = Arc::new(AgentMetrics::new(store.clone(), &probes));
    let limit = Arc::new(Semaphore::new(config.global.concurrency));
    let hosts = Arc::new(mailbeat::runner::HostLimits::new(
        config.global.per_host_concurrency,
    ));
    let loaded = mailbeat::app::load(
        Arc::new(config),
        None,
        &store,
        &Arc::new(JobLocks::default()),
        &Default::default(),
        limit,
        hosts,
    );
    (store, metrics, loaded)
}

#[tokio::test(start_paused = true)]
async fn checks_of_many_targets_are_spread_over_the_interval() {
    let probe = Arc::new(RecordingProbe::new(Recorder {
        delay: Some(Duration::from_millis(10)),
        ..Default::default()
    }));
    let config = config_for(&probe, "  concurrency: 1000", 200, "60s");
    let t0 = Instant::now();
    let run = start(config, &probe);
    tokio::time::sleep(Duration::from_secs(200)).await;
    let _ = run.stop.send(true);

    let starts = probe.starts.lock().unwrap().clone();
    let first: Vec<f64> = starts
        .iter()
        .filter(|(_, at)| *at - t0 < Duration::from_secs(10))
        .map(|(_, at)| (*at - t0).as_secs_f64())
        .collect();
    assert_eq!(
        first.len(),
        200,
        "every job runs once within the startup window"
    );
    // Second round: offsets spread over the 60 s interval, not bunched in one second.
    let mut per_second = HashMap::new();
    for (_, at) in starts
        .iter()
        .filter(|(_, at)| *at - t0 >= Duration::from_secs(10))
    {
        *per_second.entry((*at - t0).as_secs()).or_insert(0) += 1;
    }
    let busiest = per_second.values().max().copied().unwrap_or(0);
    assert!(
        busiest <= 15,
        "at most 15 of 200 checks start in the same second, got {busiest}"
    );
    assert!(
        per_second.len() >= 60,
        "checks start in at least 60 distinct seconds, got {}",
        per_second.len()
    );
    // Each target keeps its slot: consecutive runs are one interval apart.
    let t5: Vec<Instant> = starts
        .iter()
        .filter(|(n, _)| n == "t5")
        .map(|(_, at)| *at)
        .collect();
    assert!(t5.len() >= 3);
    for pair in t5[1..].windows(2) {
        assert_eq!((pair[1] - pair[0]).as_secs(), 60);
    }
}

#[tokio::test(start_paused = true)]
async fn a_probe_never_overlaps_itself_on_a_target() {
    // Each check takes 25 s (under the 30 s timeout); the schedule asks every 10 s.
    let probe = Arc::new(RecordingProbe::new(Recorder {
        delay: Some(Duration::from_secs(25)),
        ..Default::default()
    }));
    let config = config_for(&probe, "  timeout: 30s", 3, "10s");
    let skipped_before = mailbeat::events::skipped_checks();
    let run = start(config, &probe);
    tokio::time::sleep(Duration::from_secs(200)).await;
    let _ = run.stop.send(true);
    assert_eq!(probe.max_per_target.load(Ordering::SeqCst), 1);
    assert!(
        mailbeat::events::skipped_checks() - skipped_before > 10,
        "skipped slots are counted"
    );
    let runs = probe
        .starts
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| n == "t0")
        .count();
    assert!((6..=9).contains(&runs), "about 200/30 runs, got {runs}");
}

#[tokio::test(start_paused = true)]
async fn a_check_run_now_waits_for_a_running_login_of_its_job_but_not_for_a_running_handshake() {
    // Three `/probe` scrapes of one target at once: a handshake-only probe runs three times
    // together; a probe that logs in runs one at a time (the credential guard counts logins).
    for (logs_in, together) in [(false, 3), (true, 1)] {
        let probe = Arc::new(RecordingProbe::new(Recorder {
            delay: Some(Duration::from_secs(5)),
            logs_in,
            ..Default::default()
        }));
        let (_store, _metrics, loaded) =
            load(config_for(&probe, "  timeout: 30s", 1, "1h"), &probe);
        let (target, probe_config) = (
            &loaded.config.targets[0],
            &loaded.config.targets[0].probes[0],
        );
        let t0 = Instant::now();
        let runs = (0..3).map(|_| loaded.runner.run_now(target, probe_config));
        let ran = futures::future::join_all(runs).await;
        assert!(ran
            .iter()
            .all(|r| r.result.status == mailbeat_sdk::Status::Ok));
        assert_eq!(
            probe.max_per_target.load(Ordering::SeqCst),
            together,
            "logs in: {logs_in}"
        );
        assert_eq!(
            t0.elapsed().as_secs(),
            5 * 3 / together as u64,
            "logs in: {logs_in}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_check_is_cut_off_at_its_timeout() {
    let probe = Arc::new(RecordingProbe::default()); // never finishes
    let config = config_for(&probe, "  timeout: 2s", 1, "1m");
    let run = start(config, &probe);
    tokio::time::sleep(Duration::from_secs(15)).await;
    let _ = run.stop.send(true);
    let entry = run
        .store
        .get(&JobKey::new("t0", "recording"))
        .expect("a result was recorded");
    assert_eq!(entry.result.reason, Some(Reason::ServerTimeout));
    assert!(
        entry.result.message.contains("within its timeout of 2s"),
        "{}",
        entry.result.message
    );
    assert!(entry.result.remediation.is_some());
}

#[tokio::test(start_paused = true)]
async fn at_most_concurrency_checks_run_at_once() {
    let probe = Arc::new(RecordingProbe::new(Recorder {
        delay: Some(Duration::from_secs(3)),
        ..Default::default()
    }));
    let config = config_for(
        &probe,
        "  concurrency: 3\n  per_host_concurrency: 3\n  timeout: 10s",
        20,
        "1m",
    );
    let run = start(config, &probe);
    // 20 checks of 3 s, three at a time, take 21 s; the next slot is at least 30 s away.
    tokio::time::sleep(Duration::from_secs(29)).await;
    let _ = run.stop.send(true);
    assert_eq!(probe.max_in_flight.load(Ordering::SeqCst), 3);
    assert_eq!(
        probe.starts.lock().unwrap().len(),
        20,
        "all 20 ran, three at a time"
    );
    let lag = run.metrics.scheduler_lag.get_sample_sum();
    assert!(lag > 10.0, "queued checks show up as scheduler lag ({lag})");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_provider_does_not_starve_the_other_hosts() {
    // 1,000 targets at a host whose checks never finish, 20 healthy ones elsewhere, every 10 s
    // with a 5 s timeout and the default limits (64 at once, 16 per host).
    let probe = Arc::new(RecordingProbe::new(Recorder {
        delay: Some(Duration::from_millis(50)),
        hung_host: Some("127.0.0.1".into()),
        ..Default::default()
    }));
    let mut yaml = "global:\n  timeout: 5s\ntargets:\n".to_string();
    for i in 0..1000 {
        yaml.push_str(&format!(
            "  - {{name: hung{i}, protocol: imap, host: 127.0.0.1, tls: none, every: 10s, probes: [recording]}}\n"
        ));
    }
    for i in 0..20 {
        yaml.push_str(&format!(
            "  - {{name: ok{i}, protocol: imap, host: 127.0.0.2, tls: none, every: 10s, probes: [recording]}}\n"
        ));
    }
    let probes: Vec<Arc<dyn Probe>> = vec![probe.clone()];
    let config = config::parse(&yaml, "test.yml", Path::new("."), &probes).unwrap();
    assert_eq!(config.global.per_host_concurrency, 16);
    let t0 = Instant::now();
    let run = start(config, &probe);
    tokio::time::sleep(Duration::from_secs(45)).await;
    let _ = run.stop.send(true);

    let starts = probe.starts.lock().unwrap().clone();
    for i in 0..20 {
        let name = format!("ok{i}");
        let times: Vec<Duration> = starts
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, at)| *at - t0)
            .collect();
        // The start-up run within 10 s, its first regular slot at most one and a half
        // intervals later (never twice in a row), then one every 10 s: none late.
        assert!(
            times.len() >= 4,
            "{name} ran {} times: {times:?}",
            times.len()
        );
        assert!(times[0] <= Duration::from_secs(10), "{name}: {times:?}");
        assert!(
            times[1] - times[0] <= Duration::from_secs(15),
            "{name}: {times:?}"
        );
        for pair in times[1..].windows(2) {
            assert!(
                pair[1] - pair[0] <= Duration::from_millis(10_500),
                "{name} was late: {times:?}"
            );
        }
    }
    // The hung host is still checked, 16 at a time, each cut off after 5 s (and its grace).
    let hung = starts.iter().filter(|(n, _)| n.starts_with("hung")).count();
    assert!((16..=16 * 10).contains(&hung), "{hung} hung checks started");
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_the_schedule_of_unchanged_jobs() {
    let probe = Arc::new(RecordingProbe::new(Recorder {
        delay: Some(Duration::from_millis(10)),
        ..Default::default()
    }));
    let plan = Arc::new(scheduler::DuePlan::default());
    let config = config_for(&probe, "  timeout: 10s", 5, "1h");
    let first = start_with_plan(config, &probe, plan.clone());
    tokio::time::sleep(Duration::from_secs(20)).await;
    let _ = first.stop.send(true);
    assert_eq!(probe.starts.lock().unwrap().len(), 5, "the start-up round");

    // The same file reloaded, except that t4's timeout changed.
    let mut changed = config_for(&probe, "  timeout: 10s", 5, "1h");
    changed.targets[4].timeout = Duration::from_secs(3);
    let second = start_with_plan(changed, &probe, plan);
    tokio::time::sleep(Duration::from_secs(20)).await;
    let _ = second.stop.send(true);
    let starts = probe.starts.lock().unwrap().clone();
    let runs = |name: &str| starts.iter().filter(|(n, _)| n == name).count();
    for unchanged in ["t0", "t1", "t2", "t3"] {
        assert_eq!(runs(unchanged), 1, "{unchanged} kept its slot: {starts:?}");
    }
    assert_eq!(runs("t4"), 2, "a changed job runs soon");
}

/// A probe's own `every:` overrides its target's: here the target says every minute, the probe
/// every hour, and in three hours it runs about three times (plus the start-up run), not 180.
#[tokio::test(start_paused = true)]
async fn a_probe_with_its_own_every_runs_on_it() {
    let probe = Arc::new(RecordingProbe::new(Recorder {
        delay: Some(Duration::from_millis(10)),
        ..Default::default()
    }));
    let yaml = "global:\n  concurrency: 10\ntargets:\n  - {name: own, protocol: imap, host: 127.0.0.1, tls: none, every: 1m, probes: [{recording: {every: 1h}}]}\n  - {name: target, protocol: imap, host: 127.0.0.1, tls: none, every: 1m, probes: [recording]}\n";
    let probes: Vec<Arc<dyn Probe>> = vec![probe.clone()];
    let config = config::parse(yaml, "test.yml", Path::new("."), &probes).unwrap();
    let run = start(config, &probe);
    tokio::time::sleep(Duration::from_secs(3 * 3600)).await;
    let _ = run.stop.send(true);
    let starts = probe.starts.lock().unwrap().clone();
    let count = |name: &str| starts.iter().filter(|(n, _)| n == name).count();
    assert!((3..=5).contains(&count("own")), "own: {}", count("own"));
    assert!(count("target") >= 170, "target: {}", count("target"));
}
