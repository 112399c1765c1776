//! `token`: does the refresh token still mint access tokens, and when will the account need to
//! be re-authorized? Refreshes when the access token is about to expire and at least once per
//! `refresh_interval` (so an unused refresh token never dies of inactivity), stores the
//! rotation, and exports the access token's expiry, the refresh token's predicted end and whether
//! the last refresh worked. Warns `oauth_token_expiring` ahead of the predicted end.

use super::tokens::{RefreshPolicy, Report, Tokens, DEFAULT_MARGIN};
use async_trait::async_trait;
use mailbeat_sdk::{
    parse_options, Check, CheckResult, MetricDesc, OptionsError, Probe, ProbeContext, Reason,
    Status, Target,
};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Options of the `token` probe.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenOptions {
    /// Replace the access token this long before it expires (default 5m; clamped to a third of
    /// the token's lifetime).
    pub refresh_margin: Option<String>,
    /// Refresh at least this often even when nothing used the token (default 24h).
    pub refresh_interval: Option<String>,
    /// Warn this long before the predicted end of the refresh token (default 14d).
    pub warn_before: Option<String>,
    /// Critical this long before it (default 3d).
    pub critical_before: Option<String>,
}

/// The `token` probe.
pub struct TokenProbe {
    tokens: Arc<Tokens>,
}

impl TokenProbe {
    pub fn new(tokens: Arc<Tokens>) -> Self {
        TokenProbe { tokens }
    }
}

const METRICS: [(&str, &str); 3] = [
    (
        "oauth_access_token_expiry_timestamp_seconds",
        "When the stored OAuth2 access token expires (Unix time).",
    ),
    (
        "oauth_refresh_token_expiry_timestamp_seconds",
        "When the refresh token is predicted to stop working, from the provider's policy and what it returned (Unix time).",
    ),
    (
        "oauth_refresh_success",
        "1 if the last refresh of the OAuth2 access token worked, else 0.",
    ),
];

impl Probe for TokenProbe {
    fn name(&self) -> &str {
        "token"
    }

    fn is_default_for(&self, target: &Target) -> bool {
        target.account.as_ref().is_some_and(|a| a.token_store)
    }

    fn metrics(&self) -> Vec<MetricDesc> {
        METRICS
            .iter()
            .map(|(name, help)| MetricDesc::new(name, help))
            .collect()
    }

    fn configure(
        &self,
        target: &Target,
        options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError> {
        let o: TokenOptions = parse_options(options)?;
        if !target.account.as_ref().is_some_and(|a| a.token_store) {
            return Err(OptionsError::new(
                "the token probe needs an account whose tokens mailbeat keeps: account.oauth with a client_id (not access_token_file)",
            ));
        }
        let duration = |v: &Option<String>, key: &str, default: Duration| match v {
            None => Ok(default),
            Some(s) => match humantime::parse_duration(s.trim()) {
                Ok(d) if !d.is_zero() => Ok(d),
                _ => Err(OptionsError::new(format!(
                    "{key}: {s:?} is not a duration like 5m or 14d"
                ))),
            },
        };
        let margin = duration(&o.refresh_margin, "refresh_margin", DEFAULT_MARGIN)?;
        let interval = duration(
            &o.refresh_interval,
            "refresh_interval",
            Duration::from_secs(24 * 3600),
        )?;
        let warn = duration(
            &o.warn_before,
            "warn_before",
            Duration::from_secs(14 * 86400),
        )?;
        let critical = duration(
            &o.critical_before,
            "critical_before",
            Duration::from_secs(3 * 86400),
        )?;
        if critical > warn {
            return Err(OptionsError::new(
                "critical_before must not be longer than warn_before",
            ));
        }
        Ok(Arc::new(TokenCheck {
            tokens: self.tokens.clone(),
            policy: RefreshPolicy { margin, interval },
            warn,
            critical,
        }))
    }
}

struct TokenCheck {
    tokens: Arc<Tokens>,
    policy: RefreshPolicy,
    warn: Duration,
    critical: Duration,
}

#[async_trait]
impl Check for TokenCheck {
    async fn run(&self, target: &Target, ctx: &ProbeContext) -> CheckResult {
        let Some(account) = self.tokens.account_of(&target.name) else {
            return CheckResult::unknown(
                Reason::ConfigError,
                "this target has no OAuth account whose tokens mailbeat keeps",
            );
        };
        let provider = account.provider.as_str();
        let report = match self
            .tokens
            .check(&account, self.policy, ctx.remaining())
            .await
        {
            Ok(report) => report,
            Err(u) => {
                let mut r = CheckResult::fail(u.status, u.reason, u.message).sample(
                    "oauth_refresh_success",
                    &[("provider", provider)],
                    0.0,
                );
                r.remediation = u.remediation;
                return r;
            }
        };
        self.verdict(&report, provider)
    }
}

/// A span as a person reads it: days when it is days, else hours, else minutes.
fn roughly(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 2 * 86400 => format!("{} days", s / 86400),
        s if s >= 2 * 3600 => format!("{} hours", s / 3600),
        s => format!("{} minutes", s / 60),
    }
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl TokenCheck {
    fn verdict(&self, report: &Report, provider: &str) -> CheckResult {
        let set = &report.set;
        let now = SystemTime::now();
        let labels = [("provider", provider)];
        let refresh_ok = report.failure.is_none() && set.last_error.is_none();
        let mut result = match &report.failure {
            Some(u) => {
                let mut r = CheckResult::fail(u.status, u.reason, u.message.clone());
                r.remediation = u.remediation.clone();
                r
            }
            None => self.expiry_verdict(report, now),
        };
        result = result.sample(
            "oauth_refresh_success",
            &labels,
            if refresh_ok { 1.0 } else { 0.0 },
        );
        if let (Some(_), Some(expires)) = (&set.access_token, set.access_expires) {
            result = result
                .sample(
                    "oauth_access_token_expiry_timestamp_seconds",
                    &labels,
                    unix(expires),
                )
                .detail("access_token_expires_at", rfc3339(expires));
        }
        if let Some(p) = report.predicted_end {
            result = result
                .sample(
                    "oauth_refresh_token_expiry_timestamp_seconds",
                    &labels,
                    unix(p.at),
                )
                .detail("refresh_token_expires_at", rfc3339(p.at))
                .detail("refresh_token_expiry_basis", p.basis);
        }
        result = result
            .detail("provider", provider)
            .detail("token_set", &set.name)
            .detail("refreshed", report.refreshed)
            .detail("authorized_at", rfc3339(set.issued_at))
            .detail("refresh_token_rotated_at", rfc3339(set.rotated_at));
        if let Some(t) = set.last_refresh {
            result = result.detail("last_refresh_at", rfc3339(t));
        }
        if !set.scopes.is_empty() {
            result = result.detail("scopes", &set.scopes);
        }
        result
    }

    /// Ok, or `oauth_token_expiring` as the predicted end comes near.
    fn expiry_verdict(&self, report: &Report, now: SystemTime) -> CheckResult {
        let fresh = match report.refreshed {
            true => "refreshed the access token",
            false => "access token still fresh",
        };
        let Some(p) = report.predicted_end else {
            return CheckResult::ok(format!("{fresh}; no known end of the refresh token"));
        };
        let left = p.at.duration_since(now).unwrap_or_default();
        let when = format!(
            "the refresh token is predicted to stop working at {} (in {}, by {})",
            rfc3339(p.at),
            roughly(left),
            p.basis.replace('_', " ")
        );
        let status = if left <= self.critical {
            Status::Critical
        } else if left <= self.warn {
            Status::Warning
        } else {
            return CheckResult::ok(format!("{fresh}; {when}"));
        };
        CheckResult::fail(
            status,
            Reason::OauthTokenExpiring,
            format!("{fresh}; {when}"),
        )
    }
}
