//! What a probe declares about the metrics its results carry.
//!
//! The agent's metrics code knows no probe: a probe names each observation or sample it reports,
//! with its help text and, where blackbox_exporter has a metric for the same value, that name
//! too, so `/probe` answers in blackbox's words without the agent knowing which probe says what.

use serde::{Deserialize, Serialize};

/// One metric a probe's results may carry, as an observation (`labels` empty) or as samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricDesc {
    /// The name without the `mailbeat_` prefix (`tls_presented_certs`).
    pub name: String,
    /// The `# HELP` text.
    pub help: String,
    /// Also exported under `mailbeat_<name>` on `/metrics` and `/probe`. False for a value that
    /// only has a blackbox_exporter name.
    #[serde(default = "yes")]
    pub exported: bool,
    /// blackbox_exporter's metric for the same value, in `/probe` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blackbox: Option<BlackboxName>,
}

fn yes() -> bool {
    true
}

/// A blackbox_exporter metric that carries the value of a [`MetricDesc`] in `/probe` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlackboxName {
    /// The metric's name (`probe_ssl_earliest_cert_expiry`), no prefix added.
    pub name: String,
    pub help: String,
    /// The labels of the sample that are kept (blackbox's `probe_tls_version_info` has only
    /// `version`); the rest are dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

impl MetricDesc {
    /// A metric exported as `mailbeat_<name>`.
    pub fn new(name: &str, help: &str) -> Self {
        MetricDesc {
            name: name.to_string(),
            help: help.to_string(),
            exported: true,
            blackbox: None,
        }
    }

    /// Also answered in `/probe` as blackbox_exporter's `name`, keeping `labels`.
    pub fn blackbox(mut self, name: &str, help: &str, labels: &[&str]) -> Self {
        self.blackbox = Some(BlackboxName {
            name: name.to_string(),
            help: help.to_string(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
        });
        self
    }

    /// Not exported under the `mailbeat_` name (only its blackbox name, in `/probe`).
    pub fn blackbox_only(mut self) -> Self {
        self.exported = false;
        self
    }
}
