//! `mailbeat check`: run the configured probes once and report, for people (a table), scripts
//! (`--output json`, docs/architecture.md §5) and Nagios (the exit code).

use crate::app::{Loaded, Services};
use crate::config::Config;
use crate::jobs::{self, JobLocks};
use crate::runner::HostLimits;
use crate::store::ResultStore;
use mailbeat_sdk::{CheckResult, Status};
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

/// `config` made ready for one run: its jobs, and a runner of its own over a fresh store and
/// `concurrency` slots (`services` hold the credential guard and the token service).
pub fn prepare(config: Arc<Config>, services: &Services) -> Loaded {
    let store = Arc::new(ResultStore::new());
    let locks = Arc::new(JobLocks::default());
    let limit = Arc::new(Semaphore::new(config.global.concurrency));
    let hosts = Arc::new(HostLimits::new(config.global.per_host_concurrency));
    // `check` runs what it is asked for, whatever the shard.
    crate::app::load(config, None, &store, &locks, services, limit, hosts)
}

/// Runs every selected job once, at most `concurrency` at a time, in config order, through the
/// same runner as the agent.
pub async fn run(loaded: &Loaded, target: Option<&str>, probe: Option<&str>) -> Report {
    let runs = jobs::select(&loaded.jobs, target, probe).filter_map(|job| {
        let (t, p) = job.in_config(&loaded.config)?;
        let runner = &loaded.runner;
        Some(async move {
            Row {
                target: t.target.name.clone(),
                probe: p.name.clone(),
                result: Arc::unwrap_or_clone(runner.run_now(t, p).await.result),
            }
        })
    });
    let results = futures::future::join_all(runs).await;
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
        // A check with several hops (delivery: auth, mail, rcpt, data, receive) names the one
        // that failed on a line of its own.
        if let Some(hop) = failed_hop(&r.result) {
            out.push_str(&format!("{:wt$}  failed at hop: {hop}\n", ""));
        }
    }
    let failures: Vec<&Row> = report
        .results
        .iter()
        .filter(|r| r.result.remediation.is_some())
        .collect();
    if !failures.is_empty() {
        // Each distinct text once, after every check it is for, in the order they came.
        let mut advice: Vec<(String, Vec<String>)> = Vec::new();
        for r in failures {
            let text = one_line(r.result.remediation.as_deref().unwrap_or(""));
            let who = format!("{}/{}", r.target, r.probe);
            match advice.iter_mut().find(|(t, _)| *t == text) {
                Some((_, whom)) => whom.push(who),
                None => advice.push((text, vec![who])),
            }
        }
        out.push_str("\nWhat to do:\n");
        for (text, whom) in advice {
            out.push_str(&format!("  {}: {}\n", whom.join(", "), text));
        }
    }
    let s = &report.summary;
    out.push_str(&format!(
        "\n{} ok, {} warning, {} critical, {} unknown\n",
        s.ok, s.warning, s.critical, s.unknown
    ));
    out
}

/// The Nagios plugin API's format: `MAILBEAT STATUS - summary | perfdata`, then one line per
/// failing check (the long output). The exit code goes with it ([`Report::exit_code`]).
pub fn nagios(report: &Report) -> String {
    let worst = report
        .results
        .iter()
        .map(|r| r.result.status)
        .max_by_key(|s| s.severity())
        .unwrap_or(Status::Ok);
    let total = report.results.len();
    let failing: Vec<&Row> = report
        .results
        .iter()
        .filter(|r| r.result.status != Status::Ok)
        .collect();
    let summary = if failing.is_empty() {
        format!("{total} of {total} checks ok")
    } else {
        let named: Vec<String> = failing
            .iter()
            .map(|r| {
                format!(
                    "{}/{} {}",
                    r.target,
                    r.probe,
                    r.result.reason.map(|x| x.as_str()).unwrap_or("unknown")
                )
            })
            .collect();
        format!(
            "{} of {total} checks failing: {}",
            failing.len(),
            named.join(", ")
        )
    };
    let s = &report.summary;
    // `|` separates perfdata: it must not appear in the text.
    let mut out = format!(
        "MAILBEAT {} - {} | ok={};;;0 warning={};;;0 critical={};;;0 unknown={};;;0\n",
        worst.as_str().to_uppercase(),
        summary.replace('|', "/"),
        s.ok,
        s.warning,
        s.critical,
        s.unknown
    );
    for r in failing {
        out.push_str(&format!(
            "{}/{}: {} {}: {}\n",
            r.target,
            r.probe,
            r.result.status.as_str().to_uppercase(),
            r.result.reason.map(|x| x.as_str()).unwrap_or("unknown"),
            one_line(&r.result.message).replace('|', "/"),
        ));
    }
    out
}

/// The hop a failed check stopped at (`details.hop`), when it names one.
/// The hop a failed multi-hop check (delivery) stopped at, for `check` and the status page.
pub(crate) fn failed_hop(r: &mailbeat_sdk::CheckResult) -> Option<&str> {
    if r.is_ok() {
        return None;
    }
    r.details.get("hop")?.as_str()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
