//! The running agent: holds the current configuration, its jobs and the runner that runs them,
//! and swaps them together on reload. A bad config keeps the running one.

use crate::alerts::engine::{AlertEngine, TICK};
use crate::check_thread::CheckThread;
use crate::config::{self, Config};
use crate::events;
use crate::executor::Executor;
use crate::guard::CredentialGuard;
use crate::jobs::{jobs_of, Job, JobLocks};
use crate::metrics::AgentMetrics;
use crate::oauth::reauth::web::WebAttempts;
use crate::oauth::Tokens;
use crate::runner::{HostLimits, Runner};
use crate::scheduler;
use crate::shard::Shard;
use crate::store::ResultStore;
use mailbeat_sdk::Probe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;
use tokio::sync::{watch, Semaphore};

/// What every configuration's checks share, kept across reloads: the credential guard (a reload
/// must not forget which credentials are backing off) and the token service.
#[derive(Clone, Default)]
pub struct Services {
    pub guard: Arc<CredentialGuard>,
    pub tokens: Arc<Tokens>,
    pub alerts: Arc<AlertEngine>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("guard", &self.guard)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

/// A configuration with what was derived from it once: its jobs and the runner for them.
pub struct Loaded {
    pub config: Arc<Config>,
    /// Every job of the config: what `/probe` and `check` may run.
    pub jobs: Arc<Vec<Job>>,
    /// The jobs of this instance's shard: what the scheduler runs and `/metrics` exports.
    pub scheduled: Arc<Vec<Job>>,
    /// The shard in force (`None`: all targets).
    pub shard: Option<Shard>,
    pub runner: Arc<Runner>,
}

/// The agent while `mailbeat run` runs.
pub struct App {
    pub config_path: PathBuf,
    pub probes: Vec<Arc<dyn Probe>>,
    pub store: Arc<ResultStore>,
    pub metrics: Arc<AgentMetrics>,
    /// Kept across reloads.
    pub services: Services,
    /// The re-authorizations the status page runs (`/reauth/TARGET`), kept across reloads.
    pub reauth: Arc<WebAttempts>,
    /// The next slot of every job, kept across reloads so unchanged jobs keep their schedule.
    plan: Arc<scheduler::DuePlan>,
    /// The last good version of every target file: what a refused version falls back to.
    target_files: Arc<config::TargetFileMemory>,
    loaded: RwLock<Arc<Loaded>>,
    locks: Arc<JobLocks>,
    stop_scheduler: StopSlot,
    /// Stops the alert ticker and the webhook deliverer.
    stop_background: StopSlot,
    /// The configuration the deliverer reads its webhooks from.
    delivery_config: Arc<RwLock<Arc<Config>>>,
    reload_lock: tokio::sync::Mutex<()>,
    /// `--shard.total/--shard.index`: wins over `global.shards` at every load.
    shard_override: Option<Shard>,
    /// Where the scheduler and its checks run (`None`: the thread could not start, and they
    /// run on the runtime that started them).
    check_thread: Option<CheckThread>,
}

impl App {
    /// Loads the config (a bad one is an error here: there is nothing to keep running).
    pub fn new(
        config_path: PathBuf,
        probes: Vec<Arc<dyn Probe>>,
        services: Services,
    ) -> Result<Arc<Self>, config::ConfigError> {
        Self::with_shard(config_path, probes, services, None)
    }

    /// [`App::new`] as shard `shard` of N (the command line's), whatever `global.shards` says.
    pub fn with_shard(
        config_path: PathBuf,
        probes: Vec<Arc<dyn Probe>>,
        services: Services,
        shard_override: Option<Shard>,
    ) -> Result<Arc<Self>, config::ConfigError> {
        // A bad target file does not stop the agent (as in Prometheus): it is reported, and the
        // targets of the other files and the config run. `validate` is where it is an error.
        let target_files = Arc::new(config::TargetFileMemory::default());
        let config = Arc::new(config::load_with(
            &config_path,
            &probes,
            &config::TargetFileMode::KeepLastGood(&target_files),
        )?);
        let store = Arc::new(ResultStore::new());
        let mut metrics = AgentMetrics::new(store.clone(), &probes);
        metrics.alerts = Some(services.alerts.clone());
        let metrics = Arc::new(metrics);
        metrics.config_last_reload_successful.set(1);
        metrics.config_last_reload_success_timestamp.set(unix_now());
        metrics.target_files.set(&config);
        let locks = Arc::new(JobLocks::default());
        let limit = Arc::new(Semaphore::new(config.global.concurrency));
        let hosts = Arc::new(HostLimits::new(config.global.per_host_concurrency));
        let delivery_config = Arc::new(RwLock::new(config.clone()));
        let shard = shard_override.or(config.global.shards);
        let loaded = load(config, shard, &store, &locks, &services, limit, hosts);
        metrics.shard.set(loaded.shard, owned_targets(&loaded));
        let check_thread = match CheckThread::start() {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(error = %e, "no thread of their own for the checks; they share the HTTP runtime");
                None
            }
        };
        Ok(Arc::new(App {
            shard_override,
            check_thread,
            stop_background: Mutex::new(None),
            delivery_config,
            config_path,
            probes,
            store,
            metrics,
            services,
            reauth: Arc::default(),
            plan: Arc::default(),
            target_files,
            loaded: RwLock::new(Arc::new(loaded)),
            locks,
            stop_scheduler: Mutex::new(None),
            reload_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// The configuration, jobs and runner in force.
    pub fn loaded(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The token service.
    pub fn tokens(&self) -> &Arc<Tokens> {
        &self.services.tokens
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.loaded().config.clone()
    }

    /// The runner in force.
    pub fn runner(&self) -> Arc<Runner> {
        self.loaded().runner.clone()
    }

    /// Starts the agent's work: the alert engine on the current configuration, its ticker, the
    /// webhook deliverer (when the state is open) and the scheduler.
    pub async fn start(&self) {
        let config = self.config();
        crate::events::webhooks_configured(
            &config
                .webhooks
                .iter()
                .map(|w| w.name.clone())
                .collect::<Vec<_>>(),
        );
        self.services.alerts.configure(config).await;
        let rx = restart(&self.stop_background);
        let engine = self.services.alerts.clone();
        let mut stop = rx.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(TICK) => engine.tick(SystemTime::now()).await,
                    _ = stop.changed() => return,
                }
            }
        });
        if let Some(db) = self.services.alerts.db() {
            let deliverer = crate::webhooks::deliver::Deliverer {
                outbox: crate::state::outbox::Outbox::new(db),
                config: self.delivery_config.clone(),
                wake: self.services.alerts.deliveries_queued.clone(),
                tokens: self.services.tokens.clone(),
                reauth: self.reauth.clone(),
            };
            tokio::spawn(deliverer.run(rx));
        }
        self.start_scheduler();
    }

    /// Starts (or restarts) the scheduler on the current configuration.
    pub fn start_scheduler(&self) {
        let rx = restart(&self.stop_scheduler);
        let loaded = self.loaded();
        let scheduler = scheduler::run(
            loaded.config.clone(),
            loaded.scheduled.clone(),
            loaded.runner.clone(),
            self.plan.clone(),
            self.metrics.scheduler_lag.clone(),
            rx,
        );
        match &self.check_thread {
            Some(thread) => thread.spawn(scheduler),
            None => drop(tokio::spawn(scheduler)),
        }
    }

    /// Stops the scheduler, the alert ticker and the deliverer (checks in flight finish on their
    /// own; a delivery in flight is retried after the next start).
    pub fn stop(&self) {
        stop(&self.stop_background);
        stop(&self.stop_scheduler);
    }

    /// Reloads the config file. On error the running configuration stays and
    /// `mailbeat_config_last_reload_successful` drops to 0.
    pub async fn reload(&self) -> Result<(), String> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let path = self.config_path.clone();
        let probes = self.probes.clone();
        let memory = self.target_files.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            config::load_with(
                &path,
                &probes,
                &config::TargetFileMode::KeepLastGood(&memory),
            )
        })
        .await
        .map_err(|e| format!("reload task failed: {e}"))?;
        match loaded {
            Ok(config) => {
                let config = Arc::new(config);
                self.metrics.target_files.set(&config);
                // The same limit across a reload, so the checks of the old schedule still running
                // and those of the new one share `concurrency` instead of getting it twice.
                let previous = self.loaded();
                let limit = if previous.config.global.concurrency == config.global.concurrency {
                    previous.runner.semaphore.clone()
                } else {
                    Arc::new(Semaphore::new(config.global.concurrency))
                };
                let hosts = if previous.runner.hosts.limit() == config.global.per_host_concurrency {
                    previous.runner.hosts.retain_hosts(&config);
                    previous.runner.hosts.clone()
                } else {
                    Arc::new(HostLimits::new(config.global.per_host_concurrency))
                };
                crate::events::webhooks_configured(
                    &config
                        .webhooks
                        .iter()
                        .map(|w| w.name.clone())
                        .collect::<Vec<_>>(),
                );
                self.services.alerts.configure(config.clone()).await;
                *self
                    .delivery_config
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = config.clone();
                let shard = self.shard_override.or(config.global.shards);
                let next = load(
                    config,
                    shard,
                    &self.store,
                    &self.locks,
                    &self.services,
                    limit,
                    hosts,
                );
                let keep: std::collections::HashSet<_> =
                    next.jobs.iter().map(|j| j.key.clone()).collect();
                self.locks.retain(|k| keep.contains(k));
                self.metrics.shard.set(next.shard, owned_targets(&next));
                *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
                self.metrics.config_last_reload_successful.set(1);
                self.metrics
                    .config_last_reload_success_timestamp
                    .set(unix_now());
                self.start_scheduler();
                events::config_reloaded(&self.config_path);
                Ok(())
            }
            Err(e) => {
                self.metrics.config_last_reload_successful.set(0);
                events::config_reload_failed(&self.config_path, &e);
                Err(e.to_string())
            }
        }
    }
}

/// Derives the jobs and the runner of `config`, and points the store at the jobs of `shard`.
pub fn load(
    config: Arc<Config>,
    shard: Option<Shard>,
    store: &Arc<ResultStore>,
    locks: &Arc<JobLocks>,
    services: &Services,
    semaphore: Arc<Semaphore>,
    hosts: Arc<HostLimits>,
) -> Loaded {
    services.tokens.configure(&config);
    let jobs = Arc::new(jobs_of(&config));
    let owns = |name: &str| shard.is_none_or(|s| s.owns(name));
    let scheduled = if shard.is_some() {
        Arc::new(
            jobs.iter()
                .filter(|j| owns(&j.key.target))
                .cloned()
                .collect(),
        )
    } else {
        jobs.clone()
    };
    let targets: Vec<_> = config
        .targets
        .iter()
        .filter(|t| owns(&t.target.name))
        .map(|t| t.target.clone())
        .collect();
    store.set_jobs(targets, &scheduled);
    let executor = Executor::new(
        config.global.locale,
        config.global.ehlo_name.clone(),
        services.clone(),
    );
    let runner = Runner {
        alerts: services.alerts.clone(),
        executor: Arc::new(executor),
        store: store.clone(),
        semaphore,
        locks: locks.clone(),
        hosts,
        shard,
    };
    Loaded {
        config,
        jobs,
        scheduled,
        shard,
        runner: Arc::new(runner),
    }
}

/// How many of the config's targets the shard in force owns.
fn owned_targets(loaded: &Loaded) -> usize {
    match loaded.shard {
        None => loaded.config.targets.len(),
        Some(s) => loaded
            .config
            .targets
            .iter()
            .filter(|t| s.owns(&t.target.name))
            .count(),
    }
}

/// A stop signal slot: the sender that stops what runs now.
type StopSlot = Mutex<Option<watch::Sender<bool>>>;

/// Stops what `slot` holds and puts a fresh signal in its place; returns the new receiver.
fn restart(slot: &StopSlot) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    if let Some(old) = slot.lock().unwrap_or_else(|e| e.into_inner()).replace(tx) {
        let _ = old.send(true);
    }
    rx
}

/// Stops what `slot` holds.
fn stop(slot: &StopSlot) {
    if let Some(tx) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
        let _ = tx.send(true);
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &std::path::Path, concurrency: u32) {
        let yaml = format!(
            "global: {{every: 1h, concurrency: {concurrency}}}\ntargets:\n  - {{name: a, protocol: smtp, host: 127.0.0.1, port: 1, tls: none, probes: [port]}}\n"
        );
        std::fs::write(path, yaml).unwrap();
    }

    #[tokio::test]
    async fn a_reload_keeps_the_concurrency_limit_unless_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailbeat.yaml");
        write(&path, 4);
        let app = App::new(path.clone(), mailbeat_probes::builtin(), Default::default()).unwrap();
        let before = app.runner().semaphore.clone();
        app.reload().await.unwrap();
        assert!(
            Arc::ptr_eq(&before, &app.runner().semaphore),
            "old and new checks share one limit"
        );
        write(&path, 8);
        app.reload().await.unwrap();
        let after = app.runner().semaphore.clone();
        assert!(!Arc::ptr_eq(&before, &after));
        assert_eq!(after.available_permits(), 8);
        app.stop();
    }

    /// Sends the name of the thread each check ran on.
    struct ThreadOfCheck(tokio::sync::mpsc::UnboundedSender<Option<String>>);

    #[async_trait::async_trait]
    impl mailbeat_sdk::Check for ThreadOfCheck {
        async fn run(
            &self,
            _target: &mailbeat_sdk::Target,
            _ctx: &mailbeat_sdk::ProbeContext,
        ) -> mailbeat_sdk::CheckResult {
            let _ = self
                .0
                .send(std::thread::current().name().map(str::to_string));
            mailbeat_sdk::CheckResult::ok("ran")
        }
    }

    struct ThreadProbe(tokio::sync::mpsc::UnboundedSender<Option<String>>);

    impl Probe for ThreadProbe {
        fn name(&self) -> &str {
            "thread"
        }
        fn configure(
            &self,
            _target: &mailbeat_sdk::Target,
            _options: &serde_json::Value,
        ) -> Result<Arc<dyn mailbeat_sdk::Check>, mailbeat_sdk::OptionsError> {
            Ok(Arc::new(ThreadOfCheck(self.0.clone())))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scheduled_checks_run_on_the_check_thread_and_probe_requests_where_they_arrive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailbeat.yaml");
        std::fs::write(
            &path,
            "global: {every: 1h}\ntargets:\n  - {name: t, host: 127.0.0.1, probes: [thread]}\n",
        )
        .unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let app = App::new(path, vec![Arc::new(ThreadProbe(tx))], Default::default()).unwrap();
        app.start_scheduler();
        // The start-up run comes within the first 10 s.
        let scheduled = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
            .await
            .expect("the start-up run of the check")
            .unwrap();
        assert_eq!(scheduled.as_deref(), Some("mailbeat-checks"));

        let loaded = app.loaded();
        let tc = &loaded.config.targets[0];
        loaded.runner.run_now(tc, &tc.probes[0]).await;
        let now = rx.recv().await.unwrap();
        assert_ne!(
            now.as_deref(),
            Some("mailbeat-checks"),
            "/probe runs on the HTTP side"
        );
        app.stop();
    }
}
