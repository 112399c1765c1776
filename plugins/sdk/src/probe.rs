//! The probe traits and the context a check runs in.
//!
//! A probe comes in two parts, the way a component is its config: a [`Probe`] is the kind (its
//! name, what it declares, how it reads options), and [`Probe::configure`] turns one target's
//! options into a [`Check`], parsed and validated once at load. The agent runs that check on a
//! schedule; nothing is parsed again per run.

use crate::{CheckResult, MetricDesc, Target};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A secret value (password, token). Its `Debug` and `Display` never show the value, so it cannot
/// leak through a log line or an error message by accident; [`Secret::expose`] is the only way in.
/// It is not `Serialize` either: only the plugin wire format ([`crate::CheckRequest`]) writes it,
/// deliberately.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: only for writing it to the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What kind of secret a [`Credentials`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// A password or app password, for LOGIN / PLAIN / USER+PASS.
    Password,
    /// An OAuth2 access token, for XOAUTH2 / OAUTHBEARER.
    AccessToken,
}

/// The credentials of a target's account, resolved by the agent just before a check (so a changed
/// secret file is picked up without a reload). Only probes that declare
/// [`Probe::uses_credentials`] receive them.
#[derive(Debug, Clone, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub secret: Secret,
    pub kind: SecretKind,
}

/// Language of remediation texts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    Ja,
}

/// Everything a check may use besides the target and its own options. Built by the agent for
/// each run.
#[derive(Clone)]
pub struct ProbeContext {
    /// The whole check must finish by this instant; the agent enforces it as a hard limit, and
    /// probes use it to give each network step its share so they can name the step that hung.
    pub deadline: Instant,
    /// Trust anchors for this target (webpki roots, plus its `ca_file` if any).
    pub roots: Arc<rustls::RootCertStore>,
    /// The account's credentials, when the probe uses them, the target has an account and the
    /// secret could be read.
    pub credentials: Option<Credentials>,
    /// Name sent in EHLO; a real FQDN, because some servers reject bare host names.
    pub ehlo_name: String,
    pub locale: Locale,
    /// The second target a check works through, when it names one ([`Check::companion`]): the
    /// `delivery` probe sends through its own target and reads the mailbox of this one.
    pub via: Option<Via>,
}

/// The companion target of a check ([`Check::companion`]), resolved by the agent: the target as
/// configured and its account's credentials (read, refreshed and guarded like the check's own).
#[derive(Clone)]
pub struct Via {
    pub target: crate::Target,
    pub credentials: Option<Credentials>,
    /// Trust anchors for the companion target (webpki roots, plus its `ca_file`).
    pub roots: Arc<rustls::RootCertStore>,
}

impl fmt::Debug for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Via")
            .field("target", &self.target.name)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// What a check says about the second target it needs ([`Check::companion`]): its name and the
/// protocols it may speak. The agent refuses a configuration where the target is missing or
/// speaks another protocol, and hands the resolved target to the check as [`ProbeContext::via`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Companion {
    /// The option that named it (for error messages), e.g. `via`.
    pub option: &'static str,
    pub target: String,
    pub protocols: &'static [crate::Protocol],
}

impl ProbeContext {
    /// A context with a deadline `timeout` from now, the given roots and no credentials; chain
    /// the `with_*` methods for the rest.
    pub fn new(timeout: Duration, roots: Arc<rustls::RootCertStore>) -> Self {
        ProbeContext {
            deadline: Instant::now() + timeout,
            roots,
            credentials: None,
            ehlo_name: "mailbeat.localdomain".to_string(),
            locale: Locale::En,
            via: None,
        }
    }

    /// Sets the credentials.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Time left until the deadline (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

impl fmt::Debug for ProbeContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeContext")
            .field("remaining", &self.remaining())
            .field("credentials", &self.credentials)
            .field("ehlo_name", &self.ehlo_name)
            .field("locale", &self.locale)
            .field("via", &self.via)
            .finish_non_exhaustive()
    }
}

/// Why a probe's options for a target were refused at load. The message names the option and
/// the problem; the agent adds the file, line and key path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OptionsError(pub String);

impl OptionsError {
    pub fn new(message: impl Into<String>) -> Self {
        OptionsError(message.into())
    }
}

impl From<serde_json::Error> for OptionsError {
    fn from(e: serde_json::Error) -> Self {
        OptionsError(e.to_string())
    }
}

impl From<String> for OptionsError {
    fn from(message: String) -> Self {
        OptionsError(message)
    }
}

/// Parses a probe's options into its own typed struct: `null` (no options given) is the
/// default, unknown keys are refused when `T` says `deny_unknown_fields`.
pub fn parse_options<T: serde::de::DeserializeOwned + Default>(
    options: &serde_json::Value,
) -> Result<T, OptionsError> {
    if options.is_null() {
        return Ok(T::default());
    }
    Ok(serde_json::from_value(options.clone())?)
}

/// A kind of probe: built in (`port`, `tls`, `auth`), a dynamic plugin or an exec plugin. The
/// agent keeps one instance per name and asks it, once per target at load, for a [`Check`].
pub trait Probe: Send + Sync {
    /// The name written in `probes:` (`port`, `tls`, `auth`, or a plugin's name).
    fn name(&self) -> &str;

    /// The probe's version, shown by `mailbeat plugins`.
    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    /// True when checks log in with the target's account. Only such checks receive the
    /// credentials, and the agent's credential guard keeps them from retrying a rejected secret
    /// too soon (see [`crate::CredentialVerdict`]).
    fn uses_credentials(&self) -> bool {
        false
    }

    /// True when a target that lists no `probes:` gets this one.
    fn is_default_for(&self, _target: &Target) -> bool {
        false
    }

    /// The metrics this probe's results carry (observations and samples), with their help texts
    /// and any blackbox_exporter name for `/probe`. Undeclared observations are still exported,
    /// with a generic help text.
    fn metrics(&self) -> Vec<MetricDesc> {
        Vec::new()
    }

    /// Parses and checks this probe's `options` for `target` (load time, so a typo is a config
    /// error, not a failing check) and returns the check to run.
    fn configure(
        &self,
        target: &Target,
        options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError>;

    /// How often the probe runs when its options say no `every:` (`None`: the target's schedule).
    /// A probe whose check costs the provider something (the `delivery` probe sends a message)
    /// runs less often than logins are checked.
    fn default_every(&self) -> Option<Duration> {
        None
    }

    /// Whether `options` are good for `target`: [`Probe::configure`] with the check dropped.
    fn validate(&self, target: &Target, options: &serde_json::Value) -> Result<(), OptionsError> {
        self.configure(target, options).map(drop)
    }
}

/// One probe configured for one target: what the agent runs on schedule.
#[async_trait]
pub trait Check: Send + Sync {
    /// Runs the check. Never panics on bad server input; a failure is a result, not an error.
    /// The agent fills in `duration_seconds` and the remediation text.
    async fn run(&self, target: &Target, ctx: &ProbeContext) -> CheckResult;

    /// The second target this check works through, if any (see [`Companion`]).
    fn companion(&self) -> Option<Companion> {
        None
    }

    /// The time this check may take, given its target's `timeout`: a check that waits for
    /// something to happen (a message to arrive) needs the wait on top of its network steps.
    fn budget(&self, timeout: Duration) -> Duration {
        timeout
    }
}

/// Configures `probe` for `target` and runs it once: for tests and one-off callers. Options the
/// probe refuses come back as an `unknown` / `config_error` result.
pub async fn check_once(
    probe: &dyn Probe,
    target: &Target,
    options: &serde_json::Value,
    ctx: &ProbeContext,
) -> CheckResult {
    match probe.configure(target, options) {
        Ok(check) => check.run(target, ctx).await,
        Err(e) => CheckResult::unknown(crate::Reason::ConfigError, e.to_string()),
    }
}
