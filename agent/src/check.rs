//! `mailbeat check`: run the configured probes once and report, for people (a table), scripts
//! (`--output json`, DESIGN.md §6) and Nagios (the exit code).

use crate::config::{Config, ProbeConfig, TargetConfig};
use crate::executor::Executor;
use mailbeat_sdk::{CheckResult, Probe, Status};
use serde::Serialize;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::Semaphore;

/// One line of the report.
#[derive(Debug, Serialize)]
pub struct Row {
    pub target: String,
    pub probe: String,
    #[serde(flatten)]
    pub result: CheckResult,
}

/// The `--output json` document.
#[derive(Debug, Serialize)]
pub struct Report {
    pub version: u32,
    pub checked_at: String,
    pub results: Vec<Row>,
    pub summary: Summary,
}

/// Counts by status.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub ok: usize,
    pub warning: usize,
    pub critical: usize,
    pub unknown: usize,
}

impl Report {
    /// Nagios exit code of the worst result: 0 ok, 1 warning, 2 critical, 3 unknown. Critical
    /// outranks unknown (a known failure is the one to act on).
    pub fn exit_code(&self) -> i32 {
        self.results
            .iter()
            .map(|r| r.result.status)
            .max_by_key(|s| s.severity())
            .unwrap_or(Status::Ok)
            .exit_code()
    }
}

/// The (target, probe) pairs that `--target` and `--probe` select, in config order.
pub fn select<'a>(
    config: &'a Config,
    target: Option<&'a str>,
    probe: Option<&'a str>,
) -> impl Iterator<Item = (&'a TargetConfig, &'a ProbeConfig)> + 'a {
    config
        .targets
        .iter()
        .filter(move |t| target.is_none_or(|n| n == t.target.name))
        .flat_map(move |t| {
            t.probes
                .iter()
                .filter(move |p| probe.is_none_or(|n| n == p.name))
                .map(move |p| (t, p))
        })
}

/// Runs every selected (target, probe) once, at most `concurrency` at a time, in config order.
pub async fn run(
    config: &Config,
    probes: &[Arc<dyn Probe>],
    target: Option<&str>,
    probe: Option<&str>,
) -> Report {
    let executor = Executor::new(
        probes,
        config.global.locale,
        config.global.ehlo_name.clone(),
    );
    let semaphore = Semaphore::new(config.global.concurrency);
    let jobs = select(config, target, probe).map(|(t, p)| {
        let executor = &executor;
        let semaphore = &semaphore;
        async move {
            let _permit = semaphore.acquire().await;
            let result = executor.run(t, p).await;
            crate::scheduler::log_result(&t.target.name, &p.name, &result);
            Row {
                target: t.target.name.clone(),
                probe: p.name.clone(),
                result,
            }
        }
    });
    let results = futures::future::join_all(jobs).await;
    let mut summary = Summary::default();
    for r in &results {
        match r.result.status {
            Status::Ok => summary.ok += 1,
            Status::Warning => summary.warning += 1,
            Status::Critical => summary.critical += 1,
            Status::Unknown => summary.unknown += 1,
        }
    }
    Report {
        version: 1,
        checked_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        results,
        summary,
    }
}

/// The human table: one line per check, then what to do for each failure.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let width = |f: &dyn Fn(&Row) -> usize, min: usize| {
        report.results.iter().map(f).max().unwrap_or(0).max(min)
    };
    let wt = width(&|r| r.target.chars().count(), 6);
    let wp = width(&|r| r.probe.len(), 5);
    let wr = width(
        &|r| r.result.reason.map(|x| x.as_str().len()).unwrap_or(1),
        6,
    );
    out.push_str(&format!(
        "{:wt$}  {:wp$}  {:8}  {:wr$}  {:>8}  MESSAGE\n",
        "TARGET", "PROBE", "STATUS", "REASON", "TIME"
    ));
    for r in &report.results {
        out.push_str(&format!(
            "{:wt$}  {:wp$}  {:8}  {:wr$}  {:>7.3}s  {}\n",
            r.target,
            r.probe,
            r.result.status.as_str().to_uppercase(),
            r.result.reason.map(|x| x.as_str()).unwrap_or("-"),
            r.result.duration_seconds,
            one_line(&r.result.message),
        ));
    }
    let failures: Vec<&Row> = report
        .results
        .iter()
        .filter(|r| r.result.remediation.is_some())
        .collect();
    if !failures.is_empty() {
        out.push_str("\nWhat to do:\n");
        for r in failures {
            out.push_str(&format!(
                "  {}/{}: {}\n",
                r.target,
                r.probe,
                one_line(r.result.remediation.as_deref().unwrap_or(""))
            ));
        }
    }
    let s = &report.summary;
    out.push_str(&format!(
        "\n{} ok, {} warning, {} critical, {} unknown\n",
        s.ok, s.warning, s.critical, s.unknown
    ));
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
