//! Executes one check: resolves the secret for a probe that logs in, passes it through the
//! credential guard, builds the probe's context, enforces the hard timeout, survives a panicking
//! probe, and completes the result (duration, remediation, invariants, redaction).
//!
//! Locking, the concurrency limit, logging and recording are the runner's ([`crate::runner`]).

use crate::config::{ProbeConfig, TargetConfig};
use crate::guard::CredentialGuard;
use crate::redact::redact;
use mailbeat_sdk::remediation::{remediation, TARGET_PLACEHOLDER};
use mailbeat_sdk::{CheckResult, Credentials, Locale, ProbeContext, Reason, SecretKind, Status};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Extra time the executor allows past a check's deadline before cutting it off, so a probe that
/// watches its deadline can report which step hung rather than a generic time-out.
pub const DEADLINE_GRACE: Duration = Duration::from_millis(500);

/// Executes checks of one configuration.
pub struct Executor {
    locale: Locale,
    ehlo_name: String,
    guard: Arc<CredentialGuard>,
}

impl Executor {
    pub fn new(locale: Locale, ehlo_name: String, guard: Arc<CredentialGuard>) -> Self {
        Executor {
            locale,
            ehlo_name,
            guard,
        }
    }

    /// The credential guard checks go through.
    pub fn guard(&self) -> &Arc<CredentialGuard> {
        &self.guard
    }

    /// Runs `probe` on `target` once and returns the completed result and whether the guard
    /// answered it instead of the probe. Never panics.
    pub async fn run(&self, target: &TargetConfig, probe: &ProbeConfig) -> Executed {
        let started = Instant::now();
        // Read the secret now, not at load time: a rotated secret file counts from the next
        // check. Only a probe that logs in gets it.
        let secret = match (probe.uses_credentials, &target.secret) {
            (true, Some(source)) => Some(source.read()),
            _ => None,
        };
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
        let mut backing_off = false;
        let mut result = match (&secret, &credentials) {
            (Some(Err(e)), _) => CheckResult::unknown(Reason::ConfigError, e.to_string()),
            (_, Some(creds)) => match self.guard.gate(
                &crate::guard::realm_of(&target.target),
                creds,
                &target.target.name,
            ) {
                Ok(attempt) => {
                    let result = self.run_probe(target, probe, credentials.clone()).await;
                    attempt.record(result, &probe.backoff)
                }
                Err(answer) => {
                    backing_off = true;
                    *answer
                }
            },
            _ => self.run_probe(target, probe, None).await,
        };
        result.duration_seconds = started.elapsed().as_secs_f64();
        if let Some(Ok(secret)) = &secret {
            // Defence in depth: a server may echo what it was sent, a probe may format too much.
            let username = target.target.account.as_ref().map(|a| a.username.as_str());
            redact(&mut result, secret.expose(), username);
        }
        Executed {
            result: self.complete(target, result),
            backing_off,
        }
    }

    async fn run_probe(
        &self,
        tc: &TargetConfig,
        pc: &ProbeConfig,
        credentials: Option<Credentials>,
    ) -> CheckResult {
        let ctx = ProbeContext {
            deadline: Instant::now() + tc.timeout,
            roots: tc.roots.clone(),
            credentials,
            ehlo_name: self.ehlo_name.clone(),
            locale: self.locale,
        };
        let target = tc.target.clone();
        let check = pc.check.clone();
        // A task of its own: a panic in the probe ends that task, not the agent.
        let mut task = tokio::spawn(async move { check.run(&target, &ctx).await });
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

/// A check's completed result.
#[derive(Debug)]
pub struct Executed {
    pub result: CheckResult,
    /// True when the credential guard answered from the last result instead of running it.
    pub backing_off: bool,
}
