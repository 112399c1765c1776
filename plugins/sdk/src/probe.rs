//! The probe trait and the context a check runs in.

use crate::{CheckResult, Target};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A secret value (password, token). Its `Debug` and `Display` never show the value, so it cannot
/// leak through a log line or an error message by accident; [`Secret::expose`] is the only way in.
#[derive(Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// A password or app password, for LOGIN / PLAIN / USER+PASS.
    Password,
    /// An OAuth2 access token, for XOAUTH2 / OAUTHBEARER.
    AccessToken,
}

/// The credentials of a target's account, resolved by the agent just before a check (so a changed
/// secret file is picked up without a reload).
#[derive(Debug, Clone)]
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

/// Everything a probe may use besides the target. Built by the agent's executor for each check.
#[derive(Clone)]
pub struct ProbeContext {
    /// The whole check must finish by this instant; the executor enforces it as a hard limit, and
    /// probes use it to give each network step its share so they can name the step that hung.
    pub deadline: Instant,
    /// This probe's options for this target (probe defaults merged with per-target options).
    pub options: serde_json::Value,
    /// Trust anchors for this target (webpki roots, plus its `ca_file` if any).
    pub roots: Arc<rustls::RootCertStore>,
    /// The account's credentials, when the target has an account and the secret could be read.
    pub credentials: Option<Credentials>,
    /// Name sent in EHLO; a real FQDN, because some servers reject bare host names.
    pub ehlo_name: String,
    pub locale: Locale,
}

impl ProbeContext {
    /// A context with a deadline `timeout` from now, the given roots and no options or
    /// credentials; chain the `with_*` methods for the rest.
    pub fn new(timeout: Duration, roots: Arc<rustls::RootCertStore>) -> Self {
        ProbeContext {
            deadline: Instant::now() + timeout,
            options: serde_json::Value::Null,
            roots,
            credentials: None,
            ehlo_name: "mailbeat.localdomain".to_string(),
            locale: Locale::En,
        }
    }

    /// Sets the probe options.
    pub fn with_options(mut self, options: serde_json::Value) -> Self {
        self.options = options;
        self
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

    /// Deserializes this probe's options into its own typed struct.
    pub fn options<T: serde::de::DeserializeOwned + Default>(&self) -> Result<T, String> {
        if self.options.is_null() {
            return Ok(T::default());
        }
        serde_json::from_value(self.options.clone()).map_err(|e| e.to_string())
    }
}

impl fmt::Debug for ProbeContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeContext")
            .field("remaining", &self.remaining())
            .field("options", &self.options)
            .field("credentials", &self.credentials)
            .field("ehlo_name", &self.ehlo_name)
            .field("locale", &self.locale)
            .finish_non_exhaustive()
    }
}

/// A check of one aspect of a target. Implementations are stateless or keep their own state behind
/// a lock (the auth probe remembers back-off per target); the agent shares one instance per probe
/// name across all targets and calls `check` concurrently.
#[async_trait]
pub trait Probe: Send + Sync {
    /// The probe's name as written in `probes:` (`port`, `tls`, `auth`).
    fn name(&self) -> &'static str;

    /// Checks this probe's options for a target at config load time, so a typo is a config error
    /// and not a failing check. The default accepts anything.
    fn validate(&self, _target: &Target, _options: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }

    /// Runs the check. Never panics on bad server input; a failure is a result, not an error.
    /// The executor fills in `duration_seconds` and the remediation text.
    async fn check(&self, target: &Target, ctx: &ProbeContext) -> CheckResult;
}
