//! Target files at run time: re-read on change, reported in the log and in `/metrics`.
//!
//! A poll every [`POLL`] looks at what the `target_files:` patterns match and at each file's
//! modification time and size; when any of it differs from the last poll, the agent reloads (the
//! same reload as SIGHUP, which keeps unchanged jobs on their schedule). Polling rather than
//! inotify: it works the same on every file system (NFS, ConfigMap symlink swaps) and costs one
//! `stat` per file every few seconds.

use crate::app::App;
use crate::config::{target_files, Config, TargetFileReport};
use prometheus::{IntGauge, IntGaugeVec, Opts, Registry};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How often the target files are looked at.
pub const POLL: Duration = Duration::from_secs(5);

/// What the patterns match and each file's stamp: equal exactly when nothing was changed.
type Fingerprint = Vec<(PathBuf, target_files::Stamp)>;

/// `mailbeat_target_file_valid{file}` and `mailbeat_target_file_targets{file}`.
#[derive(Clone)]
pub struct TargetFileGauges {
    valid: IntGaugeVec,
    targets: IntGaugeVec,
    /// `mailbeat_targets`: the targets this instance has configured (all files and inline).
    configured: IntGauge,
}

impl TargetFileGauges {
    /// Creates the gauges and registers them in `registry`; returns their names.
    pub fn register(registry: &Registry) -> prometheus::Result<(Self, Vec<String>)> {
        let valid = IntGaugeVec::new(
            Opts::new(
                "mailbeat_target_file_valid",
                "1 if the target file was read and valid at the last load; 0 if it was refused and its last good version is in force.",
            ),
            &["file"],
        )?;
        let targets = IntGaugeVec::new(
            Opts::new(
                "mailbeat_target_file_targets",
                "Targets in force from the target file.",
            ),
            &["file"],
        )?;
        let configured = IntGauge::new(
            "mailbeat_targets",
            "Targets configured (inline and from target files).",
        )?;
        registry.register(Box::new(valid.clone()))?;
        registry.register(Box::new(targets.clone()))?;
        registry.register(Box::new(configured.clone()))?;
        let names = vec![
            "mailbeat_target_file_valid".into(),
            "mailbeat_target_file_targets".into(),
            "mailbeat_targets".into(),
        ];
        Ok((
            TargetFileGauges {
                valid,
                targets,
                configured,
            },
            names,
        ))
    }

    /// Shows what the load of `config` gave, and logs every refused file.
    pub fn set(&self, config: &Config) {
        self.valid.reset();
        self.targets.reset();
        self.configured.set(config.targets.len() as i64);
        for r in &config.target_files {
            self.valid
                .with_label_values(&[&r.shown])
                .set(i64::from(r.error.is_none()));
            self.targets
                .with_label_values(&[&r.shown])
                .set(r.targets as i64);
            if let Some(error) = &r.error {
                crate::events::target_file_refused(&r.shown, r.targets, error);
            }
        }
    }
}

/// The fingerprint of the files `config` was loaded from.
fn loaded(reports: &[TargetFileReport]) -> Fingerprint {
    reports.iter().map(|r| (r.path.clone(), r.stamp)).collect()
}

/// The fingerprint of what the patterns match now (`None` when they cannot be expanded).
fn now(base: &Path, patterns: &[String]) -> Option<Fingerprint> {
    let files = target_files::expand(base, patterns).ok()?;
    Some(
        files
            .into_iter()
            .map(|p| {
                let s = target_files::stamp(&p);
                (p, s)
            })
            .collect(),
    )
}

/// Reloads `app` whenever its target files change. Runs until the process ends.
pub async fn watch(app: Arc<App>) {
    let mut last = loaded(&app.config().target_files);
    loop {
        tokio::time::sleep(POLL).await;
        let config = app.config();
        if config.target_file_patterns.is_empty() {
            last = Vec::new();
            continue;
        }
        let base = config
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let patterns = config.target_file_patterns.clone();
        // Listing directories and stat-ing files is blocking I/O.
        let Ok(Some(current)) = tokio::task::spawn_blocking(move || now(&base, &patterns)).await
        else {
            continue;
        };
        if current != last {
            tracing::info!("target files changed; reloading");
            // A failed reload is logged and counted by `reload` itself; the next change retries.
            let _ = app.reload().await;
            last = current;
        }
    }
}
