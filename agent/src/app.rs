//! The running agent: holds the current configuration and the scheduler generation that runs it,
//! and swaps both on reload. A bad config keeps the running one.

use crate::config::{self, Config};
use crate::executor::Executor;
use crate::jobs::JobLocks;
use crate::metrics::AgentMetrics;
use crate::scheduler::{self, Shared};
use crate::store::ResultStore;
use mailbeat_sdk::Probe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;
use tokio::sync::{watch, Semaphore};

/// The agent while `mailbeat run` runs.
pub struct App {
    pub config_path: PathBuf,
    pub probes: Vec<Arc<dyn Probe>>,
    pub store: Arc<ResultStore>,
    pub metrics: Arc<AgentMetrics>,
    config: RwLock<Arc<Config>>,
    shared: RwLock<Arc<Shared>>,
    locks: Arc<JobLocks>,
    stop_scheduler: Mutex<Option<watch::Sender<bool>>>,
    reload_lock: tokio::sync::Mutex<()>,
}

impl App {
    /// Loads the config (a bad one is an error here: there is nothing to keep running).
    pub fn new(
        config_path: PathBuf,
        probes: Vec<Arc<dyn Probe>>,
    ) -> Result<Arc<Self>, config::ConfigError> {
        let config = Arc::new(config::load(&config_path, &probes)?);
        let store = Arc::new(ResultStore::new());
        store.set_config(&config);
        let metrics = Arc::new(AgentMetrics::new(store.clone()));
        metrics.config_last_reload_successful.set(1);
        metrics.config_last_reload_success_timestamp.set(unix_now());
        let locks = Arc::new(JobLocks::default());
        let limit = Arc::new(Semaphore::new(config.global.concurrency));
        let shared = Arc::new(make_shared(
            &config, &probes, &store, &metrics, &locks, limit,
        ));
        Ok(Arc::new(App {
            config_path,
            probes,
            store,
            metrics,
            config: RwLock::new(config),
            shared: RwLock::new(shared),
            locks,
            stop_scheduler: Mutex::new(None),
            reload_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The executor and limits in force.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Starts (or restarts) the scheduler on the current configuration.
    pub fn start_scheduler(&self) {
        let (tx, rx) = watch::channel(false);
        if let Some(old) = self
            .stop_scheduler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(tx)
        {
            let _ = old.send(true);
        }
        tokio::spawn(scheduler::run(self.config(), self.shared(), rx));
    }

    /// Stops the scheduler (checks in flight finish on their own).
    pub fn stop(&self) {
        if let Some(tx) = self
            .stop_scheduler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = tx.send(true);
        }
    }

    /// Reloads the config file. On error the running configuration stays and
    /// `mailbeat_config_last_reload_successful` drops to 0.
    pub async fn reload(&self) -> Result<(), String> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let path = self.config_path.clone();
        let probes = self.probes.clone();
        let loaded = tokio::task::spawn_blocking(move || config::load(&path, &probes))
            .await
            .map_err(|e| format!("reload task failed: {e}"))?;
        match loaded {
            Ok(config) => {
                let config = Arc::new(config);
                self.store.set_config(&config);
                // The same limit across a reload, so the checks of the old schedule still running
                // and those of the new one share `concurrency` instead of getting it twice.
                let previous = self.shared();
                let limit = if self.config().global.concurrency == config.global.concurrency {
                    previous.semaphore.clone()
                } else {
                    Arc::new(Semaphore::new(config.global.concurrency))
                };
                let shared = make_shared(
                    &config,
                    &self.probes,
                    &self.store,
                    &self.metrics,
                    &self.locks,
                    limit,
                );
                let keep: std::collections::HashSet<(&str, &str)> = config
                    .targets
                    .iter()
                    .flat_map(|t| {
                        t.probes
                            .iter()
                            .map(move |p| (t.target.name.as_str(), p.name.as_str()))
                    })
                    .collect();
                self.locks
                    .retain(|(t, p)| keep.contains(&(t.as_str(), p.as_str())));
                *self.shared.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(shared);
                *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
                self.metrics.config_last_reload_successful.set(1);
                self.metrics
                    .config_last_reload_success_timestamp
                    .set(unix_now());
                self.start_scheduler();
                tracing::info!(path = %self.config_path.display(), "configuration reloaded");
                Ok(())
            }
            Err(e) => {
                self.metrics.config_last_reload_successful.set(0);
                tracing::error!(error = %e, "configuration reload failed; keeping the running configuration");
                Err(e.to_string())
            }
        }
    }
}

fn make_shared(
    config: &Config,
    probes: &[Arc<dyn Probe>],
    store: &Arc<ResultStore>,
    metrics: &Arc<AgentMetrics>,
    locks: &Arc<JobLocks>,
    semaphore: Arc<Semaphore>,
) -> Shared {
    Shared {
        executor: Arc::new(Executor::new(
            probes,
            config.global.locale,
            config.global.ehlo_name.clone(),
        )),
        store: store.clone(),
        metrics: metrics.clone(),
        semaphore,
        locks: locks.clone(),
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
        let app = App::new(path.clone(), mailbeat_probes::builtin()).unwrap();
        let before = app.shared().semaphore.clone();
        app.reload().await.unwrap();
        assert!(
            Arc::ptr_eq(&before, &app.shared().semaphore),
            "old and new checks share one limit"
        );
        write(&path, 8);
        app.reload().await.unwrap();
        let after = app.shared().semaphore.clone();
        assert!(!Arc::ptr_eq(&before, &after));
        assert_eq!(after.available_permits(), 8);
        app.stop();
    }
}
