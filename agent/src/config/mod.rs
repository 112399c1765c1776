//! Configuration: load the YAML file, validate every rule, resolve presets and paths.
//!
//! Validation collects every problem in the file (not just the first) and reports each as
//! `FILE:LINE:COLUMN: KEY.PATH: what is wrong`, the way compilers and `promtool check config` do.
//! Relative paths (secret files, CA files, state_dir) are relative to the config file's directory.
//!
//! The parts: `raw.rs` is the file as written; `load.rs` reads and parses it and turns it into a
//! [`Config`] with the checks of `validator.rs` (problems, paths, durations, schedules, secrets),
//! `targets.rs` (a target and its probes), `trust.rs` (root stores) and `presets.rs`;
//! `sections.rs` cuts the file into its sections and targets, so that the parser's errors in
//! each are all reported; `snippet.rs` renders an error's snippet with secrets masked,
//! `keypath.rs` names the key of a parse error's line;
//! `oauth.rs` reads `account.oauth`, `alerting.rs` `alerts:` and `webhooks:`, `plugins.rs`
//! `plugins:` (which the agent reads first, since its plugins are probes the targets use);
//! `target_files.rs` reads `target_files:` (more targets in their own files); `shards.rs` reads `global.shards`; `yaml.rs` holds the parser's resource limits, sized for 100,000+ targets.

mod alerting;
mod keypath;
mod load;
mod oauth;
mod plugins;
mod presets;
mod raw;
pub mod secrets;
mod sections;
mod shards;
mod snippet;
pub mod target_files;
mod targets;
mod trust;
mod validator;
mod yaml;

pub use load::{load, load_with, parse, parse_with};
pub use plugins::{plugins_section, ExecPlugin, ExecSecret, PluginsConfig};
pub use presets::{canonical as canonical_provider, PROVIDERS};
pub use secrets::{SecretError, SecretSource};
pub use target_files::{Mode as TargetFileMode, TargetFileMemory, TargetFileReport};
pub use trust::{system_roots_store, webpki_roots_store};

use crate::alerts::rule::{AlertRule, TargetFilter};
use crate::guard::Policy;
use crate::oauth::{Endpoints, ProviderKind};
use crate::schedule::Schedule;
use mailbeat_sdk::{Check, Locale, Target};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from.
    pub path: PathBuf,
    pub global: Global,
    pub targets: Vec<TargetConfig>,
    /// What each of `target_files:` gave (its targets are in `targets`, after the inline ones).
    pub target_files: Vec<TargetFileReport>,
    /// `target_files:` as written (the watcher expands them again to see new files).
    pub target_file_patterns: Vec<String>,
    /// The alert rules in force: built-in ones (unless replaced by name) and `alerts:`.
    pub alerts: Vec<AlertRule>,
    pub webhooks: Vec<Webhook>,
    /// `plugins:` (the agent loads them from [`plugins_section`] before the rest).
    pub plugins: PluginsConfig,
}

/// `global:` after defaults.
#[derive(Debug, Clone)]
pub struct Global {
    pub state_dir: PathBuf,
    /// Trust the operating system's certificate store as well, unless a target says otherwise.
    pub system_roots: bool,
    pub schedule: Schedule,
    pub timeout: Duration,
    pub concurrency: usize,
    /// How many checks may talk to one host (a target's `host`) at once.
    pub per_host_concurrency: usize,
    pub locale: Locale,
    pub ehlo_name: String,
    /// Longest window a schedule's checks are spread over (`None`: the whole interval).
    pub spread: Option<Duration>,
    /// Key material that seals the OAuth tokens at rest (`state_key_file` / `state_key`).
    pub state_key: Option<SecretSource>,
    /// `global.shards`: this instance schedules and exports only that shard's targets.
    pub shards: Option<crate::shard::Shard>,
}

/// An OAuth2 account whose tokens mailbeat keeps: who it is, which client refreshes it, where.
#[derive(Clone)]
pub struct OauthAccount {
    /// The token set's name in the store (`oauth.token`, default the target's name).
    pub token: String,
    /// The account the grant must belong to (`account.username`).
    pub username: String,
    pub provider: ProviderKind,
    pub client_id: String,
    /// Absent for a public client.
    pub client_secret: Option<SecretSource>,
    pub tenant: Option<String>,
    pub scopes: Vec<String>,
    pub endpoints: Endpoints,
    /// Trust for the OAuth endpoints: webpki roots (and the system's, when configured), plus
    /// `oauth.ca_file`.
    pub roots: Arc<rustls::RootCertStore>,
    /// What the provider's policy says a refresh token lives (a Google app in Testing: 7 days).
    pub refresh_token_lifetime: Option<Duration>,
    /// A refresh token to import when the store has none for this set.
    pub refresh_token_file: Option<SecretSource>,
}

impl std::fmt::Debug for OauthAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OauthAccount")
            .field("token", &self.token)
            .field("username", &self.username)
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// A target with everything needed to check it.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub target: Target,
    pub probes: Vec<ProbeConfig>,
    pub schedule: Schedule,
    pub timeout: Duration,
    /// The account's password, or an access token another tool keeps fresh.
    pub secret: Option<SecretSource>,
    /// The OAuth account whose tokens mailbeat keeps (`account.oauth` with a `client_id`).
    pub oauth: Option<Arc<OauthAccount>>,
    /// Trust anchors: webpki roots, plus `ca_file`.
    pub roots: Arc<rustls::RootCertStore>,
}

/// One probe on one target: its options parsed once, into the check that runs.
#[derive(Clone)]
pub struct ProbeConfig {
    pub name: String,
    /// `probe_defaults` merged with the target's own options (without `backoff`), as written.
    pub options: serde_json::Value,
    /// The probe configured for this target.
    pub check: Arc<dyn Check>,
    /// True when the check logs in with the account: it gets the credentials and the guard.
    pub uses_credentials: bool,
    /// The wait before a credential this check saw rejected is tried again.
    pub backoff: Policy,
    /// The probe's own schedule (`every:` in its options, or the probe's default), overriding
    /// the target's.
    pub schedule: Option<Schedule>,
    /// The second target the check works through (the delivery probe's `via`), resolved at
    /// load; its own probes are left out.
    pub via: Option<Arc<TargetConfig>>,
}

impl ProbeConfig {
    /// The schedule this probe runs on: its own, else its target's.
    pub fn schedule_in<'a>(&'a self, target: &'a TargetConfig) -> &'a Schedule {
        self.schedule.as_ref().unwrap_or(&target.schedule)
    }
}

impl std::fmt::Debug for ProbeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeConfig")
            .field("name", &self.name)
            .field("options", &self.options)
            .field("uses_credentials", &self.uses_credentials)
            .field("backoff", &self.backoff)
            .field("schedule", &self.schedule)
            .field("via", &self.via.as_ref().map(|v| &v.target))
            .finish_non_exhaustive()
    }
}

/// A webhook endpoint.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub name: String,
    /// May carry a token (Slack, Teams): never logged or shown.
    pub url: String,
    pub secret: Option<SecretSource>,
    pub events: Vec<String>,
    pub targets: TargetFilter,
    pub format: WebhookFormat,
    pub timeout: Duration,
    /// A delivery older than this is given up.
    pub max_age: Duration,
    /// Trust for the receiver: webpki roots (and the system's when configured), plus `ca_file`.
    pub roots: Arc<rustls::RootCertStore>,
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// mailbeat's own payload (DESIGN §7).
    Mailbeat,
    /// Alertmanager's webhook payload, version 4.
    Alertmanager,
}

/// Webhook events a receiver can subscribe to.
pub const WEBHOOK_EVENTS: &[&str] = &["reauth_required", "alert_firing", "alert_resolved"];

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u64,
    pub column: u64,
    /// Key path, e.g. `targets[2].account.password_file`.
    pub key: String,
    pub message: String,
    /// The lines around it, secrets masked (empty when it has no line).
    pub snippet: String,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {}", crate::files::io_reason(error))]
    Read { path: String, error: std::io::Error },
    #[error("{}", format_problems(path, problems))]
    Invalid {
        path: String,
        problems: Vec<Problem>,
    },
}

fn format_problems(path: &str, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| {
            let key = if p.key.is_empty() {
                String::new()
            } else {
                format!("{}: ", p.key)
            };
            let mut line = if p.line > 0 {
                format!("{path}:{}:{}: {key}{}", p.line, p.column, p.message)
            } else {
                format!("{path}: {key}{}", p.message)
            };
            if !p.snippet.is_empty() {
                line.push('\n');
                line.push_str(&p.snippet);
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod error_tests;
#[cfg(test)]
mod tests;
