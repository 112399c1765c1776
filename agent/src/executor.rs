//! Runs one check: resolves the secret, builds the probe's context, enforces the hard timeout,
//! survives a panicking probe, and completes the result (duration, remediation, invariants).

use crate::config::{ProbeConfig, TargetConfig};
use mailbeat_sdk::remediation::remediation;
use mailbeat_sdk::{
    CheckResult, Credentials, Locale, Probe, ProbeContext, Reason, SecretKind, Status,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Extra time the executor allows past a check's deadline before cutting it off, so a probe that
/// watches its deadline can report which step hung rather than a generic time-out.
pub const DEADLINE_GRACE: Duration = Duration::from_millis(500);

/// Runs checks with the known probes.
pub struct Executor {
    probes: HashMap<&'static str, Arc<dyn Probe>>,
    locale: Locale,
    ehlo_name: String,
}

impl Executor {
    pub fn new(probes: &[Arc<dyn Probe>], locale: Locale, ehlo_name: String) -> Self {
        Executor {
            probes: probes.iter().map(|p| (p.name(), p.clone())).collect(),
            locale,
            ehlo_name,
        }
    }

    /// Runs `probe` on `target` once and returns the completed result. Never panics.
    pub async fn run(&self, target: &TargetConfig, probe: &ProbeConfig) -> CheckResult {
        let started = Instant::now();
        // Read the secret now, not at load time: a rotated secret file counts from the next check.
        let secret = target.secret.as_ref().map(|s| s.read());
        let mut result = match &secret {
            Some(Err(e)) if probe.name == "auth" => {
                CheckResult::unknown(Reason::ConfigError, e.to_string())
            }
            _ => {
                let credentials = match (&target.target.account, &secret) {
                    (Some(account), Some(Ok(secret))) => Some(Credentials {
                        username: account.username.clone(),
                        secret: secret.clone(),
                        kind: if account.oauth {
                            SecretKind::AccessToken
                        } else {
                            SecretKind::Password
                        },
                    }),
                    _ => None,
                };
                self.run_probe(target, probe, credentials).await
            }
        };
        result.duration_seconds = started.elapsed().as_secs_f64();
        if let Some(Ok(secret)) = &secret {
            // Defence in depth: a server may echo what it was sent, a probe may format too much.
            redact(&mut result, secret.expose());
        }
        self.complete(target, result)
    }

    async fn run_probe(
        &self,
        tc: &TargetConfig,
        pc: &ProbeConfig,
        credentials: Option<Credentials>,
    ) -> CheckResult {
        let Some(probe) = self.probes.get(pc.name.as_str()).cloned() else {
            return CheckResult::unknown(
                Reason::ConfigError,
                format!("unknown probe {:?}", pc.name),
            );
        };
        let ctx = ProbeContext {
            deadline: Instant::now() + tc.timeout,
            options: pc.options.clone(),
            roots: tc.roots.clone(),
            credentials,
            ehlo_name: self.ehlo_name.clone(),
            locale: self.locale,
        };
        let target = tc.target.clone();
        // A task of its own: a panic in the probe ends that task, not the agent.
        let mut task = tokio::spawn(async move { probe.check(&target, &ctx).await });
        match tokio::time::timeout(tc.timeout + DEADLINE_GRACE, &mut task).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) if e.is_panic() => CheckResult::unknown(
                Reason::InternalError,
                format!("probe {} panicked; this is a bug in the probe", pc.name),
            ),
            Ok(Err(_)) => CheckResult::unknown(Reason::InternalError, "check was cancelled"),
            Err(_) => {
                task.abort();
                CheckResult::critical(
                    Reason::ServerTimeout,
                    format!(
                        "check did not finish within its timeout of {}",
                        humantime::format_duration(tc.timeout)
                    ),
                )
            }
        }
    }

    /// Enforces the result invariants and fills what the probe left to the agent.
    fn complete(&self, tc: &TargetConfig, mut result: CheckResult) -> CheckResult {
        match (result.status, result.reason) {
            (Status::Ok, Some(_)) => result.reason = None,
            (s, None) if s != Status::Ok => result.reason = Some(Reason::Unknown),
            _ => {}
        }
        if let Some(reason) = result.reason {
            if result.remediation.is_none() {
                result.remediation = Some(remediation(
                    reason,
                    tc.target.provider.as_deref(),
                    self.locale,
                ));
            }
        } else {
            result.remediation = None;
        }
        result
    }
}

/// Replaces every occurrence of `secret` in the result's texts.
pub fn redact(result: &mut CheckResult, secret: &str) {
    if secret.len() < 4 {
        return;
    }
    const MASK: &str = "<redacted>";
    if result.message.contains(secret) {
        result.message = result.message.replace(secret, MASK);
    }
    let details = result.details.to_string();
    if details.contains(secret) {
        result.details =
            serde_json::from_str(&details.replace(secret, MASK)).unwrap_or(serde_json::Value::Null);
    }
}
