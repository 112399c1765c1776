//! Prometheus metrics: the agent's own (build, reload, scheduler, process) and the per-check
//! series, which are rendered at scrape time from the result store.
//!
//! Rendering from the store instead of keeping labelled vectors up to date means a series exists
//! exactly while its (target, probe) is configured and has a result: a removed target's series
//! disappear on reload with no bookkeeping, and certificate series follow the chain actually
//! presented at the last check.

use crate::exposition::Families;
use crate::jobs::JobKey;
use crate::store::{Entry, ResultStore};
use mailbeat_sdk::{CheckResult, MetricDesc, Probe, Status, Target};
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{Encoder, Histogram, HistogramOpts, IntGauge, Registry, TextEncoder};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// What the probes declared about their metrics, and the names no observation may take.
#[derive(Debug, Default)]
pub struct Declared {
    /// By name without the `mailbeat_` prefix; the first probe to declare a name defines it.
    metrics: HashMap<String, MetricDesc>,
    /// The agent's own metric names (its registry and the per-check series).
    reserved: HashSet<String>,
}

impl Declared {
    /// The declarations of `probes`, reserving the agent's own metric names (`agent`, the
    /// per-check series and blackbox_exporter's two that `/probe` always writes).
    pub fn new(probes: &[Arc<dyn Probe>], agent: impl IntoIterator<Item = String>) -> Self {
        let mut metrics = HashMap::new();
        for desc in probes.iter().flat_map(|p| p.metrics()) {
            metrics.entry(desc.name.clone()).or_insert(desc);
        }
        let mut reserved: HashSet<String> = agent.into_iter().collect();
        reserved.extend(PER_CHECK.iter().map(|(n, _, _)| n.to_string()));
        reserved.extend(["probe_success", "probe_duration_seconds"].map(String::from));
        Declared { metrics, reserved }
    }

    fn get(&self, name: &str) -> Option<&MetricDesc> {
        self.metrics.get(name)
    }
}

/// The agent's own metrics, registered in its registry together with the store collector.
pub struct AgentMetrics {
    pub registry: Registry,
    pub config_last_reload_successful: IntGauge,
    pub config_last_reload_success_timestamp: prometheus::Gauge,
    pub scheduler_lag: Histogram,
    /// What each target file gave at the last load.
    pub target_files: crate::target_watch::TargetFileGauges,
    /// The shard in force and how many targets it owns.
    pub shard: crate::shard::ShardGauges,
    store: Arc<ResultStore>,
    declared: Declared,
    /// The alert engine, whose alerts are `mailbeat_alert`.
    pub alerts: Option<Arc<crate::alerts::engine::AlertEngine>>,
}

impl AgentMetrics {
    /// Creates the registry with the agent metrics, the event counters and the process
    /// collector; the per-check series of `store` are rendered with what `probes` declared.
    pub fn new(store: Arc<ResultStore>, probes: &[Arc<dyn Probe>]) -> Self {
        let registry = Registry::new();
        let build = prometheus::IntGaugeVec::new(
            prometheus::Opts::new(
                "mailbeat_build_info",
                "Build information of the running mailbeat; always 1.",
            ),
            &["version", "revision"],
        )
        .expect("static metric definition");
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), crate::REVISION])
            .set(1);
        let config_last_reload_successful = IntGauge::new(
            "mailbeat_config_last_reload_successful",
            "1 if the last configuration load succeeded, else 0.",
        )
        .expect("static metric definition");
        let config_last_reload_success_timestamp = prometheus::Gauge::new(
            "mailbeat_config_last_reload_success_timestamp_seconds",
            "Time of the last successful configuration load.",
        )
        .expect("static metric definition");
        let scheduler_lag = Histogram::with_opts(
            HistogramOpts::new(
                "mailbeat_scheduler_lag_seconds",
                "Delay between a check's scheduled time and its start.",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0,
            ]),
        )
        .expect("static metric definition");
        let regs: Vec<Box<dyn Collector>> = vec![
            Box::new(build),
            Box::new(config_last_reload_successful.clone()),
            Box::new(config_last_reload_success_timestamp.clone()),
            Box::new(scheduler_lag.clone()),
        ];
        let mut names: Vec<String> = Vec::new();
        for c in regs {
            names.extend(c.desc().iter().map(|d| d.fq_name.clone()));
            registry.register(c).expect("metric names are unique");
        }
        names.extend(crate::events::register(&registry).expect("event counter names are unique"));
        let (target_files, file_names) = crate::target_watch::TargetFileGauges::register(&registry)
            .expect("target file gauge names are unique");
        names.extend(file_names);
        let (shard, shard_names) =
            crate::shard::ShardGauges::register(&registry).expect("shard gauge names are unique");
        names.extend(shard_names);
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("process collector registers once");
        let declared = Declared::new(probes, names);
        AgentMetrics {
            registry,
            config_last_reload_successful,
            config_last_reload_success_timestamp,
            scheduler_lag,
            target_files,
            shard,
            store,
            declared,
            alerts: None,
        }
    }

    /// `mailbeat_plugin_info{name,kind,version}` 1 for every probe the agent has.
    pub fn plugins(&self, infos: &[crate::plugins::PluginInfo]) {
        let gauge = prometheus::IntGaugeVec::new(
            prometheus::Opts::new(
                "mailbeat_plugin_info",
                "1 for every probe the agent has: built-in, dynamic and exec plugins.",
            ),
            &["name", "kind", "version"],
        );
        let Ok(gauge) = gauge else { return };
        for i in infos {
            gauge
                .with_label_values(&[&i.name, i.kind, &i.version])
                .set(1);
        }
        if let Err(e) = self.registry.register(Box::new(gauge)) {
            tracing::warn!(error = %e, "cannot register mailbeat_plugin_info");
        }
    }

    /// The text exposition of everything (the agent's own metrics, then the per-check series,
    /// then the alerts) as the chunks it is made of, one per metric family, to be sent as they
    /// are: at 100,000 targets the exposition is 75 MiB, and joining it into one buffer (then
    /// copying that into the response) held three copies of it at each scrape.
    pub fn render_chunks(&self) -> Vec<bytes::Bytes> {
        let mut chunks = vec![bytes::Bytes::from(encode(&self.registry.gather()))];
        chunks.extend(store_families(&self.store, &self.declared).into_chunks());
        if let Some(engine) = &self.alerts {
            chunks.push(render_alerts(&engine.alerts()).into());
        }
        chunks
    }

    /// `/probe`'s answer for on-demand results of `target`: see [`render_probe`].
    pub fn render_probe(&self, target: &str, results: &[(String, Arc<CheckResult>)]) -> String {
        render_probe(target, results, &self.declared)
    }
}

/// Encodes metric families in the Prometheus text format 0.0.4.
pub fn encode(families: &[MetricFamily]) -> String {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail; an encoding error would mean an invalid family, which we
    // never build.
    let _ = TextEncoder::new().encode(families, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

const PER_CHECK: &[(&str, &str, &[&str])] = &[
    (
        "mailbeat_probe_success",
        "1 if the last check of this probe on this target was ok, else 0.",
        &["target", "probe"],
    ),
    (
        "mailbeat_probe_status",
        "1 for the current status and reason of this probe on this target.",
        &["target", "probe", "status", "reason"],
    ),
    (
        "mailbeat_probe_duration_seconds",
        "Duration of the last check.",
        &["target", "probe"],
    ),
    (
        "mailbeat_probe_last_run_timestamp_seconds",
        "When the last check finished.",
        &["target", "probe"],
    ),
    (
        "mailbeat_probe_runs_total",
        "Checks run, by resulting status.",
        &["target", "probe", "status"],
    ),
    (
        "mailbeat_target_info",
        "Configured targets; always 1.",
        &[
            "target", "protocol", "host", "port", "tls", "provider", "account",
        ],
    ),
];

/// Jobs rendered per read lock of the store: short enough that a check finishing meanwhile
/// waits microseconds, not the whole scrape.
const RENDER_CHUNK: usize = 512;

/// The per-check series of the latest results, rendered from the store at scrape time.
pub fn render_store(store: &ResultStore, declared: &Declared) -> String {
    store_families(store, declared).into_text()
}

/// The families of [`render_store`], before they are joined.
fn store_families(store: &ResultStore, declared: &Declared) -> Families {
    let mut f = Families::default();
    let (targets, keys) = store.snapshot();
    for t in targets.iter() {
        target_info(&mut f, t);
    }
    // Every series carries its target label, and one target's jobs are adjacent: duplicates
    // (two probes reporting the same observation) can only be within one target.
    f.forget_seen();
    let mut last_target: Option<String> = None;
    for chunk in keys.chunks(RENDER_CHUNK) {
        store.read_keys(chunk, |key, entry| {
            if last_target.as_deref() != Some(key.target.as_str()) {
                f.forget_seen();
                last_target = Some(key.target.clone());
            }
            check_series(&mut f, key, entry, declared);
        });
    }
    f
}

fn target_info(f: &mut Families, t: &Target) {
    let port = t.port.map(|p| p.to_string()).unwrap_or_default();
    let mut labels: Vec<(&str, &str)> = vec![
        ("target", &t.name),
        ("protocol", t.protocol.map(|p| p.as_str()).unwrap_or("")),
        ("host", &t.host),
        ("port", &port),
        ("tls", t.tls.as_str()),
        ("provider", t.provider.as_deref().unwrap_or("")),
        (
            "account",
            t.account
                .as_ref()
                .map(|a| a.username.as_str())
                .unwrap_or(""),
        ),
    ];
    labels.extend(t.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    f.gauge_unique("mailbeat_target_info", PER_CHECK[5].1, &labels, 1.0);
}

fn check_series(f: &mut Families, key: &JobKey, entry: &Entry, declared: &Declared) {
    let (target, probe) = (key.target.as_str(), key.probe.as_str());
    let r = &entry.result;
    let tp: &[(&str, &str)] = &[("target", target), ("probe", probe)];
    f.gauge_unique(
        "mailbeat_probe_success",
        PER_CHECK[0].1,
        tp,
        if r.is_ok() { 1.0 } else { 0.0 },
    );
    let reason = r.reason.map(|x| x.as_str()).unwrap_or("");
    f.gauge_unique(
        "mailbeat_probe_status",
        PER_CHECK[1].1,
        &[
            ("target", target),
            ("probe", probe),
            ("status", r.status.as_str()),
            ("reason", reason),
        ],
        1.0,
    );
    f.gauge_unique(
        "mailbeat_probe_duration_seconds",
        PER_CHECK[2].1,
        tp,
        r.duration_seconds,
    );
    let finished = entry
        .finished_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    f.gauge_unique(
        "mailbeat_probe_last_run_timestamp_seconds",
        PER_CHECK[3].1,
        tp,
        finished,
    );
    for (i, status) in Status::ALL.iter().enumerate() {
        f.counter_unique(
            "mailbeat_probe_runs_total",
            PER_CHECK[4].1,
            &[
                ("target", target),
                ("probe", probe),
                ("status", status.as_str()),
            ],
            entry.runs[i] as f64,
        );
    }
    observation_series(f, target, r, declared);
}

/// A result's observations and samples as `mailbeat_<name>{target, ...}` series, with the help
/// text their probe declared. An observation that also comes as labelled samples is rendered
/// from the samples only; one declared not exported is left out, and so is one named like an
/// agent metric (a plugin's `scheduler_skipped_total`, say), since two families of one name make
/// the whole scrape invalid.
pub fn observation_series(f: &mut Families, target: &str, r: &CheckResult, declared: &Declared) {
    let exported = |key: &str, name: &str| {
        !declared.reserved.contains(name) && declared.get(key).is_none_or(|d| d.exported)
    };
    for s in &r.samples {
        let name = metric_name(&s.name);
        if !exported(&s.name, &name) {
            continue;
        }
        let mut labels: Vec<(&str, &str)> = vec![("target", target)];
        labels.extend(
            s.labels
                .iter()
                .filter(|(k, _)| valid_label(k) && k.as_str() != "target")
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        f.gauge(&name, help_of(declared, &s.name), &labels, s.value);
    }
    for (key, value) in &r.observations {
        let name = metric_name(key);
        if r.samples.iter().any(|s| &s.name == key) || !exported(key, &name) {
            continue;
        }
        f.gauge(&name, help_of(declared, key), &[("target", target)], *value);
    }
}

fn help_of<'a>(declared: &'a Declared, name: &str) -> &'a str {
    declared
        .get(name)
        .map(|d| d.help.as_str())
        .unwrap_or("Observation reported by a probe.")
}

/// `mailbeat_` + the name with anything outside `[a-zA-Z0-9_]` replaced.
fn metric_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("mailbeat_{clean}")
}

fn valid_label(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// Renders on-demand results (`/probe`) the way blackbox_exporter does (`probe_success`,
/// `probe_duration_seconds`, `probe_ssl_*`, `probe_tls_version_info`), followed by the
/// `mailbeat_*` series of those results.
pub fn render_probe(
    target: &str,
    results: &[(String, Arc<CheckResult>)],
    declared: &Declared,
) -> String {
    let mut f = Families::default();
    let success = results.iter().all(|(_, r)| r.is_ok()) && !results.is_empty();
    f.gauge(
        "probe_success",
        "Displays whether or not the probe was a success",
        &[],
        if success { 1.0 } else { 0.0 },
    );
    let duration = results
        .iter()
        .map(|(_, r)| r.duration_seconds)
        .fold(0.0, f64::max);
    f.gauge(
        "probe_duration_seconds",
        "Returns how long the probe took to complete in seconds",
        &[],
        duration,
    );
    // blackbox_exporter's names for the values that have one, as their probes declared.
    for (_, r) in results {
        for (key, value) in &r.observations {
            if let Some(bb) = declared.get(key).and_then(|d| d.blackbox.as_ref()) {
                if !declared.reserved.contains(&bb.name) {
                    f.gauge(&bb.name, &bb.help, &[], *value);
                }
            }
        }
        for s in &r.samples {
            if let Some(bb) = declared
                .get(&s.name)
                .and_then(|d| d.blackbox.as_ref())
                .filter(|bb| !declared.reserved.contains(&bb.name))
            {
                let labels: Vec<(&str, &str)> = bb
                    .labels
                    .iter()
                    .map(|l| {
                        (
                            l.as_str(),
                            s.labels.get(l).map(String::as_str).unwrap_or(""),
                        )
                    })
                    .collect();
                f.gauge(&bb.name, &bb.help, &labels, s.value);
            }
        }
    }
    for (probe, r) in results {
        let tp: &[(&str, &str)] = &[("target", target), ("probe", probe)];
        f.gauge(
            "mailbeat_probe_success",
            PER_CHECK[0].1,
            tp,
            if r.is_ok() { 1.0 } else { 0.0 },
        );
        f.gauge(
            "mailbeat_probe_status",
            PER_CHECK[1].1,
            &[
                ("target", target),
                ("probe", probe),
                ("status", r.status.as_str()),
                ("reason", r.reason.map(|x| x.as_str()).unwrap_or("")),
            ],
            1.0,
        );
        f.gauge(
            "mailbeat_probe_duration_seconds",
            PER_CHECK[2].1,
            tp,
            r.duration_seconds,
        );
        observation_series(&mut f, target, r, declared);
    }
    f.into_text()
}

/// `mailbeat_alert{alertname,target,severity,state}` 1 for every pending or firing alert.
pub fn render_alerts(alerts: &[crate::alerts::engine::Alert]) -> String {
    let mut f = Families::default();
    for a in alerts {
        f.gauge(
            "mailbeat_alert",
            "1 for each alert of the agent's alert engine that is pending or firing.",
            &[
                ("alertname", &a.rule),
                ("target", &a.target),
                ("severity", &a.severity),
                ("state", a.phase.as_str()),
            ],
            1.0,
        );
    }
    f.into_text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailbeat_sdk::Reason;

    #[test]
    fn an_observation_cannot_take_an_agent_metric_name() {
        let mut f = Families::default();
        let r = CheckResult::critical(Reason::PluginError, "x")
            .observe("scheduler_skipped_total", 5.0)
            .observe("probe_success", 1.0)
            .observe("widgets", 3.0);
        let registry = Registry::new();
        let names = crate::events::register(&registry).unwrap();
        let r = r.observe("checks_failed_total", 2.0);
        observation_series(&mut f, "t", &r, &Declared::new(&[], names));
        let text = f.into_text();
        assert!(!text.contains("mailbeat_scheduler_skipped_total"), "{text}");
        assert!(
            !text.contains("mailbeat_checks_failed_total"),
            "reserved before it has a sample: {text}"
        );
        assert!(!text.contains("mailbeat_probe_success"), "{text}");
        assert!(text.contains("mailbeat_widgets{target=\"t\"} 3"), "{text}");
    }
}
