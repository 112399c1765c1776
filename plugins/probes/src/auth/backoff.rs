//! Account safety: never retry a rejected secret faster than a growing interval.
//!
//! Providers lock accounts (or an IP) after a run of failed logins; a monitor that retries a bad
//! password every minute is the thing that locks it. After a credential rejection the probe
//! remembers, per target, a fingerprint of the secret and when it may try again, and until then
//! answers with the last result instead of logging in. A different secret (the person fixed it)
//! or a successful login clears the state.
//!
//! Only a SHA-256 fingerprint of the secret is kept, in memory, and it is never printed.

use mailbeat_sdk::{CheckResult, Credentials, SecretKind};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// How fast the interval grows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Wait after the first failure.
    pub initial: Duration,
    /// The interval never grows beyond this.
    pub max: Duration,
    /// Each further failure multiplies the wait by this.
    pub factor: f64,
}

impl Policy {
    /// The wait after the `failures`-th consecutive rejection (1-based).
    pub fn delay(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(64) as i32;
        let secs = self.initial.as_secs_f64() * self.factor.max(1.0).powi(exponent);
        if !secs.is_finite() || secs >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

/// A fingerprint of who logs in with what. Compared, never shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Fingerprints the user name, the kind and the secret together, so changing any of them
    /// counts as "a different credential".
    pub fn of(creds: &Credentials) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(creds.username.as_bytes());
        h.update([0]);
        h.update(match creds.kind {
            SecretKind::Password => b"password".as_slice(),
            SecretKind::AccessToken => b"token".as_slice(),
        });
        h.update([0]);
        h.update(creds.secret.expose().as_bytes());
        Fingerprint(h.finalize().into())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprint(<redacted>)")
    }
}

struct Entry {
    fingerprint: Fingerprint,
    failures: u32,
    next_allowed: Instant,
    next_allowed_wall: SystemTime,
    last: CheckResult,
}

/// Back-off state of every target this probe instance has seen.
#[derive(Default)]
pub struct Backoff {
    entries: Mutex<HashMap<String, Entry>>,
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("Backoff")
            .field("targets_backing_off", &n)
            .finish()
    }
}

impl Backoff {
    /// If `target` is backing off with this same credential at `now`, the result to answer with
    /// instead of logging in. A different credential clears the state and returns `None`.
    pub fn gate(
        &self,
        target: &str,
        fingerprint: Fingerprint,
        now: Instant,
    ) -> Option<CheckResult> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(target)?;
        if entry.fingerprint != fingerprint {
            entries.remove(target);
            return None;
        }
        if now >= entry.next_allowed {
            return None;
        }
        let until = humantime::format_rfc3339_seconds(entry.next_allowed_wall).to_string();
        let mut result = entry.last.clone();
        result.message = format!(
            "backing off: not retrying this credential until {until}, failure {}; last answer: {}",
            entry.failures, entry.last.message
        );
        result.remediation = None;
        result.duration_seconds = 0.0;
        Some(result.detail(
            "backoff",
            serde_json::json!({
                "failures": entry.failures,
                "next_attempt_at": until,
                "retry_in_seconds": entry.next_allowed.saturating_duration_since(now).as_secs_f64(),
            }),
        ))
    }

    /// Records the result of a real login attempt made at `now`. A credential rejection starts
    /// or extends the back-off; a success clears it; anything else (the server was down, the
    /// network failed) leaves it as it is, since it says nothing about the secret.
    ///
    /// Returns the result, with `details.backoff` added when a back-off starts.
    pub fn record(
        &self,
        target: &str,
        fingerprint: Fingerprint,
        result: CheckResult,
        policy: &Policy,
        now: Instant,
    ) -> CheckResult {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if result.is_ok() {
            entries.remove(target);
            return result;
        }
        if !result.reason.is_some_and(|r| r.is_credential_rejection()) {
            return result;
        }
        let failures = match entries.get(target) {
            Some(e) if e.fingerprint == fingerprint => e.failures.saturating_add(1),
            _ => 1,
        };
        let delay = policy.delay(failures);
        let next_allowed = now + delay;
        let next_allowed_wall = SystemTime::now() + delay;
        let until = humantime::format_rfc3339_seconds(next_allowed_wall).to_string();
        let result = result.detail(
            "backoff",
            serde_json::json!({
                "failures": failures,
                "next_attempt_at": until,
                "retry_in_seconds": delay.as_secs_f64(),
            }),
        );
        entries.insert(
            target.to_string(),
            Entry {
                fingerprint,
                failures,
                next_allowed,
                next_allowed_wall,
                last: result.clone(),
            },
        );
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailbeat_sdk::{Reason, Secret};

    fn creds(secret: &str) -> Credentials {
        Credentials {
            username: "alice".into(),
            secret: Secret::new(secret),
            kind: SecretKind::Password,
        }
    }

    const POLICY: Policy = Policy {
        initial: Duration::from_secs(60),
        max: Duration::from_secs(300),
        factor: 2.0,
    };

    #[test]
    fn delay_grows_and_caps() {
        assert_eq!(POLICY.delay(1), Duration::from_secs(60));
        assert_eq!(POLICY.delay(2), Duration::from_secs(120));
        assert_eq!(POLICY.delay(3), Duration::from_secs(240));
        assert_eq!(POLICY.delay(4), Duration::from_secs(300));
        assert_eq!(POLICY.delay(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn rejection_gates_until_the_interval_passes() {
        let b = Backoff::default();
        let fp = Fingerprint::of(&creds("pw"));
        let t0 = Instant::now();
        assert!(b.gate("t", fp, t0).is_none());
        let bad = CheckResult::critical(Reason::AuthBadCredentials, "535 5.7.8 no");
        let r = b.record("t", fp, bad.clone(), &POLICY, t0);
        assert_eq!(r.details["backoff"]["failures"], 1);
        let gated = b
            .gate("t", fp, t0 + Duration::from_secs(59))
            .expect("backing off");
        assert_eq!(gated.reason, Some(Reason::AuthBadCredentials));
        assert!(gated
            .message
            .starts_with("backing off: not retrying this credential until "));
        assert!(gated
            .message
            .contains("failure 1; last answer: 535 5.7.8 no"));
        assert!(b.gate("t", fp, t0 + Duration::from_secs(60)).is_none());
        // Second failure doubles the wait.
        let t1 = t0 + Duration::from_secs(60);
        b.record("t", fp, bad, &POLICY, t1);
        assert!(b.gate("t", fp, t1 + Duration::from_secs(119)).is_some());
        assert!(b.gate("t", fp, t1 + Duration::from_secs(120)).is_none());
        // Other targets are independent.
        assert!(b.gate("u", fp, t1).is_none());
    }

    #[test]
    fn new_secret_or_success_resets() {
        let b = Backoff::default();
        let fp = Fingerprint::of(&creds("pw"));
        let t0 = Instant::now();
        let bad = CheckResult::critical(Reason::AuthBadCredentials, "no");
        b.record("t", fp, bad.clone(), &POLICY, t0);
        assert!(b.gate("t", Fingerprint::of(&creds("pw2")), t0).is_none());
        assert!(
            b.gate("t", fp, t0).is_none(),
            "changed secret cleared the state"
        );
        b.record("t", fp, bad, &POLICY, t0);
        b.record("t", fp, CheckResult::ok("in"), &POLICY, t0);
        assert!(b.gate("t", fp, t0).is_none());
    }

    #[test]
    fn transient_failures_do_not_back_off() {
        let b = Backoff::default();
        let fp = Fingerprint::of(&creds("pw"));
        let t0 = Instant::now();
        let r = b.record(
            "t",
            fp,
            CheckResult::critical(Reason::ServerTimeout, "timed out"),
            &POLICY,
            t0,
        );
        assert!(r.details.get("backoff").is_none());
        assert!(b.gate("t", fp, t0).is_none());
        let r = b.record(
            "t",
            fp,
            CheckResult::critical(Reason::AuthMechanismUnsupported, "504"),
            &POLICY,
            t0,
        );
        assert!(r.details.get("backoff").is_none());
    }

    #[test]
    fn debug_shows_no_fingerprint() {
        let fp = Fingerprint::of(&creds("pw"));
        assert_eq!(format!("{fp:?}"), "Fingerprint(<redacted>)");
    }
}
