//! Runs one check: resolves the secret, builds the probe's context, enforces the hard timeout,
//! survives a panicking probe, and completes the result (duration, remediation, invariants).

use crate::config::{ProbeConfig, TargetConfig};
use base64::Engine;
use mailbeat_sdk::remediation::{remediation, TARGET_PLACEHOLDER};
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
            let username = target.target.account.as_ref().map(|a| a.username.as_str());
            redact(&mut result, secret.expose(), username);
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
                let text = remediation(reason, tc.target.provider.as_deref(), self.locale);
                result.remediation = Some(text.replace(TARGET_PLACEHOLDER, &tc.target.name));
            }
        } else {
            result.remediation = None;
        }
        result
    }
}

/// Replaces every occurrence of `secret` in the result's texts, also in the base64 forms a
/// server may echo back (some answer an unknown `AUTH PLAIN <base64>` line by quoting it).
pub fn redact(result: &mut CheckResult, secret: &str, username: Option<&str>) {
    if secret.len() < 4 {
        return;
    }
    const MASK: &str = "<redacted>";
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut forms = vec![secret.to_string(), b64.encode(secret)];
    if let Some(user) = username {
        forms.push(b64.encode(format!("\0{user}\0{secret}")));
        forms.push(b64.encode(format!("user={user}\x01auth=Bearer {secret}\x01\x01")));
    }
    for form in &forms {
        if result.message.contains(form.as_str()) {
            result.message = result.message.replace(form.as_str(), MASK);
        }
        let details = result.details.to_string();
        if details.contains(form.as_str()) {
            result.details = serde_json::from_str(&details.replace(form.as_str(), MASK))
                .unwrap_or(serde_json::Value::Null);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_their_base64_echoes_are_redacted() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let plain = b64.encode("\0alice@example.com\0hunter2-secret");
        let mut r = CheckResult::unknown(
            Reason::Unknown,
            format!("500 5.5.1 Command unrecognized: \"AUTH PLAIN {plain}\" (hunter2-secret)"),
        )
        .detail(
            "reply",
            format!("{} / {plain}", b64.encode("hunter2-secret")),
        );
        redact(&mut r, "hunter2-secret", Some("alice@example.com"));
        let all = serde_json::to_string(&r).unwrap();
        assert!(!all.contains("hunter2-secret"), "{all}");
        assert!(!all.contains(&plain), "{all}");
        assert!(!all.contains(&b64.encode("hunter2-secret")), "{all}");
        assert!(r.message.contains("<redacted>"));
    }
}
