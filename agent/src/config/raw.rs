//! The YAML file as written: serde structs with source spans where validation needs to point.
//!
//! Nothing here is trusted yet; `super::load` turns it into a [`super::Config`].

use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub global: RawGlobal,
    /// Options per probe name, merged under each target's own options.
    pub probe_defaults: BTreeMap<String, serde_json::Value>,
    pub targets: Vec<RawTarget>,
    /// Files of more targets (`targets/*.yaml`), relative to this file's directory.
    pub target_files: Vec<Spanned<String>>,
    pub alerts: Vec<RawAlert>,
    pub webhooks: Vec<RawWebhook>,
    pub plugins: RawPlugins,
    /// Where each of `targets` is in the file's `targets:` list, when targets that did not parse
    /// were left out (empty: they are all there, in order).
    #[serde(skip)]
    pub target_index: Vec<usize>,
}

impl RawConfig {
    /// Takes the section `key` from `piece`, a parse of that section alone.
    pub fn take_section(&mut self, key: &str, piece: RawConfig) {
        match key {
            "global" => self.global = piece.global,
            "probe_defaults" => self.probe_defaults = piece.probe_defaults,
            "targets" => self.targets = piece.targets,
            "target_files" => self.target_files = piece.target_files,
            "alerts" => self.alerts = piece.alerts,
            "webhooks" => self.webhooks = piece.webhooks,
            "plugins" => self.plugins = piece.plugins,
            // Any other key is refused by the parser (`deny_unknown_fields`).
            _ => {}
        }
    }
}

/// `plugins:`: where dynamic plugins are, and the exec (Nagios-API) plugins.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPlugins {
    /// Every `*.so` in this directory is loaded at start.
    pub dir: Option<Spanned<String>>,
    pub exec: Vec<RawExecPlugin>,
}

/// One entry of `plugins.exec`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExecPlugin {
    pub name: Spanned<String>,
    /// The program and its arguments; `{host}`, `{port}`, `{target}`, `{username}`,
    /// `{protocol}` are substituted.
    pub command: Vec<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    /// Environment variables for the program (values may be `${ENV}` of the agent).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How the account's secret reaches the program: `env` (as `MAILBEAT_SECRET`), `stdin`, or
    /// `none` (default).
    pub secret: Option<Spanned<String>>,
    /// What `mailbeat plugins` shows as its version (default `unknown`).
    pub version: Option<String>,
}

/// `global:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGlobal {
    /// Directory for the embedded state (tokens, webhook outbox, alert state).
    pub state_dir: Option<String>,
    /// Trust the operating system's certificate store too (default: only webpki-roots and
    /// `ca_file`).
    pub system_roots: Option<Spanned<bool>>,
    /// Standard 5-field cron expression for every target without its own.
    pub schedule: Option<Spanned<String>>,
    /// Fixed interval instead of `schedule`, e.g. `5m`.
    pub every: Option<Spanned<String>>,
    /// Hard limit for one check, e.g. `15s`.
    pub timeout: Option<Spanned<String>>,
    /// How many checks may run at once.
    pub concurrency: Option<Spanned<u32>>,
    /// How many of them may talk to one host at once.
    pub per_host_concurrency: Option<Spanned<u32>>,
    /// Language of remediation texts: `en` or `ja`.
    pub locale: Option<mailbeat_sdk::Locale>,
    /// Name sent in SMTP EHLO.
    pub ehlo_name: Option<String>,
    /// Window over which a schedule's checks are spread, e.g. `1m`; default the whole interval.
    pub spread: Option<Spanned<String>>,
    /// Accept secrets written inline in this file (off by default).
    pub allow_inline_secrets: Option<bool>,
    /// Key material (at least 32 bytes) that seals the OAuth tokens in the state database.
    pub state_key_file: Option<Spanned<String>>,
    /// `${ENV_VAR}` holding the same, instead of a file.
    pub state_key: Option<Spanned<String>>,
    /// This instance's shard when N replicas share the config.
    pub shards: Option<RawShards>,
}

/// `global.shards`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShards {
    pub total: Spanned<u32>,
    pub index: Spanned<u32>,
}

/// One entry of `targets:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub name: Spanned<String>,
    pub provider: Option<Spanned<String>>,
    pub protocol: Option<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub port: Option<Spanned<u16>>,
    pub tls: Option<Spanned<String>>,
    pub tls_server_name: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    pub source_address: Option<Spanned<String>>,
    pub system_roots: Option<Spanned<bool>>,
    /// The mail domain a migration moves: the target's account must be in it.
    pub migration_domain: Option<Spanned<String>>,
    /// Boxed, as `oauth` in it: a parsed target is held until it is validated, and at 100,000
    /// targets the unboxed account (1.4 KiB, mostly spans) of each doubled the parse's memory.
    pub account: Option<Box<RawAccount>>,
    /// Each entry spanned as a whole: inside the untagged [`RawProbe`] serde loses the span.
    pub probes: Option<Vec<Spanned<RawProbe>>>,
    pub schedule: Option<Spanned<String>>,
    pub every: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `account:` of a target.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    pub username: Spanned<String>,
    pub password_file: Option<Spanned<String>>,
    /// `${ENV_VAR}` (an inline literal only with `allow_inline_secrets`).
    pub password: Option<Spanned<String>>,
    pub mechanism: Option<Spanned<String>>,
    pub oauth: Option<Box<RawOauth>>,
}

/// `account.oauth:`: either a token set mailbeat keeps (`client_id` and the rest), or an access
/// token another tool keeps fresh (`access_token_file` / `access_token`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOauth {
    /// `google`, `microsoft` or `generic` (default: from the target's provider preset).
    pub provider: Option<Spanned<String>>,
    pub client_id: Option<Spanned<String>>,
    pub client_secret_file: Option<Spanned<String>>,
    /// `${ENV_VAR}` (an inline literal only with `allow_inline_secrets`).
    pub client_secret: Option<Spanned<String>>,
    /// Microsoft's tenant (default `common`).
    pub tenant: Option<Spanned<String>>,
    pub scopes: Option<Vec<Spanned<String>>>,
    /// A refresh token imported when the store has none for this account.
    pub refresh_token_file: Option<Spanned<String>>,
    pub token_url: Option<Spanned<String>>,
    pub authorization_url: Option<Spanned<String>>,
    pub device_authorization_url: Option<Spanned<String>>,
    /// Extra trust for the OAuth endpoints.
    pub ca_file: Option<Spanned<String>>,
    /// Known lifetime of a refresh token (e.g. `7d` for a Google app in Testing).
    pub refresh_token_lifetime: Option<Spanned<String>>,
    /// Name of the token set in the store (default: the target's name); targets that name the
    /// same set share its tokens and its refreshes.
    pub token: Option<Spanned<String>>,
    /// A file holding a current access token (kept fresh by another tool).
    pub access_token_file: Option<Spanned<String>>,
    /// `${ENV_VAR}` holding a current access token.
    pub access_token: Option<Spanned<String>>,
}

/// An entry of `probes:`: a bare name, or a one-key map `{name: options}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawProbe {
    Name(Spanned<String>),
    WithOptions(BTreeMap<String, serde_json::Value>),
}

/// One entry of `webhooks:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    pub secret_file: Option<Spanned<String>>,
    /// `${ENV_VAR}` (an inline literal only with `allow_inline_secrets`).
    pub secret: Option<Spanned<String>>,
    #[serde(default)]
    pub events: Vec<Spanned<String>>,
    pub targets: Option<RawTargetFilter>,
    /// `mailbeat` (default) or `alertmanager`.
    pub format: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub max_age: Option<Spanned<String>>,
    /// Extra trust for a receiver with a private CA.
    pub ca_file: Option<Spanned<String>>,
}

/// `targets:` of an alert rule or a webhook: which targets it applies to (default: all).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTargetFilter {
    pub names: Vec<Spanned<String>>,
    pub labels: BTreeMap<String, String>,
}

/// One entry of `alerts:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlert {
    pub name: Spanned<String>,
    #[serde(rename = "match")]
    pub matches: Option<RawAlertMatch>,
    pub targets: Option<RawTargetFilter>,
    #[serde(rename = "for")]
    pub for_: Option<Spanned<String>>,
    pub keep_firing_for: Option<Spanned<String>>,
    pub severity: Option<Spanned<String>>,
}

/// `match:` of an alert rule: a result matches when it satisfies every list given.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAlertMatch {
    pub probes: Vec<Spanned<String>>,
    pub statuses: Vec<Spanned<String>>,
    pub reasons: Vec<Spanned<String>>,
}
