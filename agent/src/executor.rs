//! Executes one check: resolves the secret for a probe that logs in, passes it through the
//! credential guard, builds the probe's context, enforces the hard timeout, survives a panicking
//! probe, and completes the result (duration, remediation, invariants, redaction).
//!
//! Locking, the concurrency limit, logging and recording are the runner's ([`crate::runner`]).

use crate::app::Services;
use crate::config::{ProbeConfig, TargetConfig};
use crate::guard::{realm_of, CredentialGuard};
use crate::oauth::tokens::Unavailable;
use crate::redact::redact;
use futures::FutureExt;
use mailbeat_sdk::remediation::{for_target_values, remediation};
use mailbeat_sdk::{
    Check, CheckResult, CredentialVerdict, Credentials, Locale, ProbeContext, Reason, Secret,
    SecretKind, Status, Target, Via,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Extra time the executor allows past a check's deadline before cutting it off, so a probe that
/// watches its deadline can report which step hung rather than a generic time-out.
pub const DEADLINE_GRACE: Duration = Duration::from_millis(500);

/// Executes checks of one configuration.
pub struct Executor {
    locale: Locale,
    ehlo_name: String,
    services: Services,
}

/// Why a check that logs in got no secret.
enum NoSecret {
    /// The file or variable could not be read.
    Read(String),
    /// The token service has no access token to give.
    Token(Unavailable),
}

impl Executor {
    pub fn new(locale: Locale, ehlo_name: String, services: Services) -> Self {
        Executor {
            locale,
            ehlo_name,
            services,
        }
    }

    /// The credential guard checks go through.
    pub fn guard(&self) -> &Arc<CredentialGuard> {
        &self.services.guard
    }

    /// The secret of `target` for a probe that logs in: read now, not at load time, so a
    /// rotated secret file counts from the next check; an OAuth account's access token from the
    /// token service, refreshed first when it would expire too soon.
    async fn secret(&self, target: &TargetConfig) -> Option<Result<Secret, NoSecret>> {
        if let Some(account) = &target.oauth {
            let token = self
                .services
                .tokens
                .access_token(account, target.timeout)
                .await;
            return Some(token.map_err(NoSecret::Token));
        }
        let source = target.secret.as_ref()?;
        Some(source.read().map_err(|e| NoSecret::Read(e.to_string())))
    }

    /// Runs `probe` on `target` once and returns the completed result and whether the guard
    /// answered it instead of the probe. Never panics.
    pub async fn run(&self, target: &TargetConfig, probe: &ProbeConfig) -> Executed {
        let started = Instant::now();
        // Only a probe that logs in gets the secret.
        let secret = match probe.uses_credentials {
            true => self.secret(target).await,
            false => None,
        };
        let presented = match &secret {
            Some(Ok(s)) => Some(s.clone()),
            _ => None,
        };
        // A check that works through a second target (the delivery probe's `via`) gets that
        // account's secret the same way, read or refreshed now.
        let via = match &probe.via {
            Some(via) => match self.secret(via).await {
                Some(Err(e)) => {
                    let mut result = match e {
                        NoSecret::Read(e) => CheckResult::unknown(Reason::ConfigError, e),
                        NoSecret::Token(u) => token_unavailable(u),
                    };
                    result.message = format!("via target {}: {}", via.target.name, result.message);
                    result.duration_seconds = started.elapsed().as_secs_f64();
                    return Executed {
                        result: self.complete(target, result),
                        backing_off: false,
                    };
                }
                secret => Some((via.clone(), secret.and_then(Result::ok))),
            },
            None => None,
        };
        let (mut result, mut backing_off) = self.once(target, probe, secret, via.clone()).await;
        if target.oauth.is_some()
            && !backing_off
            && result.credential == Some(CredentialVerdict::Rejected)
        {
            // The server refused an access token the store thought valid (expired early,
            // revoked): it was just forgotten, so this refreshes. A new token gets one more
            // try, the way mail clients retry once after a refresh; a dead grant ends here with
            // the token endpoint's reason, which says more than the server's refusal.
            match self.secret(target).await {
                Some(Ok(fresh)) if Some(&fresh) != presented.as_ref() => {
                    (result, backing_off) = self.once(target, probe, Some(Ok(fresh)), via).await;
                }
                Some(Err(NoSecret::Token(u))) => result = token_unavailable(u),
                _ => {}
            }
        }
        result.duration_seconds = started.elapsed().as_secs_f64();
        Executed {
            result: self.complete(target, result),
            backing_off,
        }
    }

    /// One try with `secret`: the attempt in a task of its own, or the reason there is none.
    async fn once(
        &self,
        target: &TargetConfig,
        probe: &ProbeConfig,
        secret: Option<Result<Secret, NoSecret>>,
        via: Option<ViaSecret>,
    ) -> (CheckResult, bool) {
        match secret {
            Some(Err(NoSecret::Read(e))) => (CheckResult::unknown(Reason::ConfigError, e), false),
            // No login is tried without a token: the token probe tells the story of the grant.
            Some(Err(NoSecret::Token(u))) => (token_unavailable(u), false),
            secret => {
                // The whole attempt (gate, check, redaction, record) is a task of its own: a
                // panic in the probe ends that task, not the agent, and a caller that goes away
                // (a client hanging up on /probe) cannot keep a rejection from being recorded.
                let attempt = self.attempt(target, probe, secret.and_then(Result::ok), via);
                match tokio::spawn(attempt).await {
                    Ok(done) => done,
                    Err(_) => (
                        CheckResult::unknown(Reason::InternalError, "check was cancelled"),
                        false,
                    ),
                }
            }
        }
    }

    /// One attempt, owning all it needs: gate the credential, run the check within its limits,
    /// redact the secret, record the verdict. `true` when the guard answered instead.
    fn attempt(
        &self,
        tc: &TargetConfig,
        pc: &ProbeConfig,
        secret: Option<Secret>,
        via: Option<ViaSecret>,
    ) -> impl std::future::Future<Output = (CheckResult, bool)> + Send + 'static {
        let username = tc.target.account.as_ref().map(|a| a.username.clone());
        let credentials = credentials_of(&tc.target, secret.as_ref());
        // The check's own steps and any wait it declares (the delivery probe's `within`).
        let timeout = pc.check.budget(tc.timeout);
        let via_ctx = via.as_ref().map(|(v, s)| Via {
            target: v.target.clone(),
            credentials: credentials_of(&v.target, s.as_ref()),
            roots: v.roots.clone(),
        });
        let via_secret = via.as_ref().and_then(|(v, s)| {
            let user = v.target.account.as_ref().map(|a| a.username.clone());
            s.clone().map(|s| (s, user))
        });
        let via_tokens = via
            .as_ref()
            .and_then(|(v, _)| v.oauth.clone())
            .map(|a| (self.services.tokens.clone(), a));
        let ctx = ProbeContext {
            deadline: Instant::now() + timeout,
            roots: tc.roots.clone(),
            credentials,
            ehlo_name: self.ehlo_name.clone(),
            locale: self.locale,
            via: via_ctx,
        };
        let guard = self.services.guard.clone();
        let tokens = tc.oauth.clone().map(|a| (self.services.tokens.clone(), a));
        let target = tc.target.clone();
        let (check, policy, name) = (pc.check.clone(), pc.backoff, pc.name.clone());
        async move {
            let attempt = match &ctx.credentials {
                Some(creds) => match guard.gate(&realm_of(&target), creds, &target.name) {
                    Ok(attempt) => Some(attempt),
                    Err(answer) => return (*answer, true),
                },
                None => None,
            };
            // The companion's login is guarded as its own: a rejected `via` password backs off
            // across every target of that account, the `auth` probe of the mailbox included.
            // When both ends are one credential (a mailbox that sends to itself), the first
            // gate already holds it: a second would see the first as "another target retrying".
            let same_credential = |via: &Target, creds: &Credentials| {
                ctx.credentials.as_ref().is_some_and(|own| {
                    guard.fingerprint(&realm_of(&target), own)
                        == guard.fingerprint(&realm_of(via), creds)
                })
            };
            let via_attempt = match &ctx.via {
                Some(Via {
                    target: via,
                    credentials: Some(creds),
                    ..
                }) if same_credential(via, creds) => None,
                Some(Via {
                    target: via,
                    credentials: Some(creds),
                    ..
                }) => match guard.gate(&realm_of(via), creds, &via.name) {
                    Ok(attempt) => Some(attempt),
                    Err(answer) => {
                        let mut answer = *answer;
                        answer.message = format!("via target {}: {}", via.name, answer.message);
                        return (answer, true);
                    }
                },
                _ => None,
            };
            let mut result = within_limits(check.as_ref(), &target, &ctx, timeout, &name).await;
            if let Some(secret) = &secret {
                // Before the guard keeps it, on disk too: a server may echo what it was sent, a
                // probe or plugin may format too much.
                redact(&mut result, secret.expose(), username.as_deref());
            }
            if let Some((secret, user)) = &via_secret {
                redact(&mut result, secret.expose(), user.as_deref());
            }
            if let (Some((tokens, account)), Some(CredentialVerdict::Rejected)) =
                (&tokens, result.credential)
            {
                // The server refused a token the store thought valid (revoked, or expired
                // early): the next login refreshes instead of presenting it again.
                tokens.invalidate_access(account);
            }
            if let (Some((tokens, account)), Some(CredentialVerdict::Rejected)) =
                (&via_tokens, result.via_credential)
            {
                tokens.invalidate_access(account);
            }
            if let Some(attempt) = via_attempt {
                // The guard keeps what the companion's login showed, as that login's result.
                let mut seen = result.clone();
                seen.credential = result.via_credential;
                drop(attempt.record(seen, &policy));
            }
            match attempt {
                Some(attempt) => (attempt.record(result, &policy), false),
                None => (result, false),
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
            // A probe's own remediation (the token endpoint's case) names the target the same way.
            let text = result
                .remediation
                .take()
                .unwrap_or_else(|| remediation(reason, tc.target.provider.as_deref(), self.locale));
            result.remediation = Some(for_target_values(&text, &tc.target));
        } else {
            result.remediation = None;
        }
        result
    }
}

/// A companion target and its secret, when it could be read.
type ViaSecret = (Arc<TargetConfig>, Option<Secret>);

/// The credentials of `target`'s account with `secret`, when it has both.
fn credentials_of(target: &Target, secret: Option<&Secret>) -> Option<Credentials> {
    let (account, secret) = (target.account.as_ref()?, secret?);
    Some(Credentials {
        username: account.username.clone(),
        secret: secret.clone(),
        kind: if account.oauth {
            SecretKind::AccessToken
        } else {
            SecretKind::Password
        },
    })
}

/// The result of a login that got no access token.
fn token_unavailable(u: Unavailable) -> CheckResult {
    let mut r = CheckResult::fail(u.status, u.reason, u.message);
    r.remediation = u.remediation;
    r
}

/// Runs `check` with its hard timeout (plus [`DEADLINE_GRACE`]), a panic caught and named.
async fn within_limits(
    check: &dyn Check,
    target: &Target,
    ctx: &ProbeContext,
    timeout: Duration,
    probe: &str,
) -> CheckResult {
    let run = std::panic::AssertUnwindSafe(check.run(target, ctx)).catch_unwind();
    match tokio::time::timeout(timeout + DEADLINE_GRACE, run).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => CheckResult::unknown(
            Reason::InternalError,
            format!("probe {probe} panicked; this is a bug in the probe"),
        ),
        Err(_) => CheckResult::critical(
            Reason::ServerTimeout,
            format!(
                "check did not finish within its timeout of {}",
                humantime::format_duration(timeout)
            ),
        ),
    }
}

/// A check's completed result.
#[derive(Debug)]
pub struct Executed {
    pub result: CheckResult,
    /// True when the credential guard answered from the last result instead of running it.
    pub backing_off: bool,
}
