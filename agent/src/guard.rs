//! The credential guard: never retry a rejected secret faster than a growing interval.
//!
//! Providers lock accounts (or an IP) after a run of failed logins; a monitor that retries a bad
//! password every minute is the thing that locks it. After a rejection the agent remembers, per
//! credential, when it may try again, and until then answers with the last result instead of
//! running the check. It guards every probe that declares it uses credentials (`auth`, `token`,
//! plugins alike), gated before the check and fed after it by the check's own
//! [`CredentialVerdict`]: no probe name is special, and no probe keeps this state itself.
//!
//! The state is keyed by a fingerprint of the credential (user name, kind of secret, secret),
//! not by target: the `imap` and `smtp` targets of one mailbox share its password, and a stale
//! password must cost one failed login per interval, not one per target. A different secret
//! (the person fixed it) is a different fingerprint and so starts afresh; a successful login
//! with the credential clears its state. While one target retries a credential that is backing
//! off, the others wait for its answer rather than try alongside it.
//!
//! OAuth access tokens are fingerprinted with the token too. A token source hands out a new
//! token every hour or so; the refusal of one token must not hold back the next, and need not:
//! a refused bearer token does not count toward a lockout the way a wrong password does. A token
//! source that keeps handing out the same refused token is backed off like a password.
//!
//! Only a SHA-256 fingerprint of the secret is kept, and it is never printed. Entries idle for
//! more than twice the longest wait are dropped, so rotated secrets do not pile up.
//!
//! The state outlives the process when a [`Journal`] is attached (`crate::state::backoff`, in
//! `state_dir`): without it, a restart, or `mailbeat check` run from cron every five minutes, would
//! retry a rejected password every time. A journal gets a random salt of its own, mixed into every
//! fingerprint, so what lies on disk is no plain hash of a password.

use mailbeat_sdk::{CheckResult, CredentialVerdict, Credentials, SecretKind};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The longest wait a configuration may ask for (30 days). Longer ones are refused by the
/// option check; the arithmetic here clamps to it as well, so no setting can overflow a clock.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How fast the interval grows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Wait after the first failure.
    pub initial: Duration,
    /// The interval never grows beyond this (nor beyond [`MAX_BACKOFF`]).
    pub max: Duration,
    /// Each further failure multiplies the wait by this.
    pub factor: f64,
}

impl Policy {
    /// The wait after the `failures`-th consecutive rejection (1-based).
    pub fn delay(&self, failures: u32) -> Duration {
        let max = self.max.min(MAX_BACKOFF);
        let exponent = failures.saturating_sub(1).min(64) as i32;
        let secs = self.initial.as_secs_f64() * self.factor.max(1.0).powi(exponent);
        if !secs.is_finite() || secs >= max.as_secs_f64() {
            max
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

/// `backoff:` in the options of a probe that logs in: `initial`, then times `factor` per further
/// rejection, up to `max`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackoffOptions {
    /// Wait after the first rejection (`15m`).
    #[serde(deserialize_with = "humantime_duration")]
    pub initial: Duration,
    /// Longest wait (`24h`).
    #[serde(deserialize_with = "humantime_duration")]
    pub max: Duration,
    /// Growth per further rejection (`2`).
    pub factor: f64,
}

impl Default for BackoffOptions {
    fn default() -> Self {
        BackoffOptions {
            initial: Duration::from_secs(15 * 60),
            max: Duration::from_secs(24 * 60 * 60),
            factor: 2.0,
        }
    }
}

fn humantime_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

impl BackoffOptions {
    /// Takes `backoff` out of a probe's options (the rest are the probe's own) and checks it;
    /// the error names the problem for `mailbeat validate`.
    pub fn take_from(options: &mut serde_json::Value) -> Result<BackoffOptions, String> {
        let given = options
            .as_object_mut()
            .and_then(|map| map.remove("backoff"));
        if options.as_object().is_some_and(|m| m.is_empty()) {
            *options = serde_json::Value::Null;
        }
        let parsed: BackoffOptions = match given {
            None | Some(serde_json::Value::Null) => BackoffOptions::default(),
            Some(v) => serde_json::from_value(v).map_err(|e| format!("backoff: {e}"))?,
        };
        parsed.check()?;
        Ok(parsed)
    }

    fn check(&self) -> Result<(), String> {
        if self.initial.is_zero() {
            return Err(
                "backoff.initial must be more than zero: retrying a rejected password at once can lock the account"
                    .to_string(),
            );
        }
        if self.max < self.initial {
            return Err("backoff.max must not be less than backoff.initial".to_string());
        }
        if self.max > MAX_BACKOFF {
            return Err(format!(
                "backoff.max must be at most {}",
                humantime::format_duration(MAX_BACKOFF)
            ));
        }
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            return Err("backoff.factor must be a number of at least 1".to_string());
        }
        Ok(())
    }

    /// The policy these options describe.
    pub fn policy(&self) -> Policy {
        Policy {
            initial: self.initial,
            max: self.max,
            factor: self.factor,
        }
    }
}

/// Where the guard reads the time: the monotonic clock for waits, the wall clock for what is
/// saved and shown. Injected, so tests can move time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
    fn wall(&self) -> SystemTime;
}

/// The real clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A fingerprint of who logs in with what. Compared, never shown.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Fingerprints the user name, the kind and the secret together, so changing any of them
    /// counts as "a different credential". Access tokens included: see the module docs.
    pub fn of(creds: &Credentials) -> Fingerprint {
        Fingerprint::salted(&[], creds)
    }

    /// [`Fingerprint::of`] with `salt` hashed in first.
    pub fn salted(salt: &[u8], creds: &Credentials) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(salt);
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

impl Fingerprint {
    /// The fingerprint's bytes, for a [`Journal`] to store.
    pub fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// A fingerprint a [`Journal`] stored.
    pub fn from_bytes(bytes: [u8; 32]) -> Fingerprint {
        Fingerprint(bytes)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprint(<redacted>)")
    }
}

struct Entry {
    failures: u32,
    next_allowed: Instant,
    next_allowed_wall: SystemTime,
    /// When the last real login with this credential ended.
    last_attempt: Instant,
    /// The target that made it.
    last_target: String,
    last: CheckResult,
    /// The target retrying this credential right now, if one is.
    in_flight: Option<String>,
}

/// `details.backoff` of a result.
fn detail(
    failures: u32,
    until: SystemTime,
    retry_in: Duration,
    last_target: &str,
) -> serde_json::Value {
    serde_json::json!({
        "failures": failures,
        "next_attempt_at": humantime::format_rfc3339_seconds(until).to_string(),
        "retry_in_seconds": retry_in.as_secs_f64(),
        "last_target": last_target,
    })
}

/// A credential's back-off as a [`Journal`] keeps it: wall-clock times, since the monotonic
/// clock of one process means nothing to the next.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedEntry {
    pub fingerprint: Fingerprint,
    pub failures: u32,
    pub next_allowed: SystemTime,
    pub last_attempt: SystemTime,
    pub last_target: String,
    /// The result answered while backing off (secrets already scrubbed from it).
    pub last: CheckResult,
}

/// Durable storage of back-off state. [`CredentialGuard`] calls it with its lock held, so `save` and
/// `forget` must only hand the work off (to a writer thread, say), never block on a disk.
pub trait Journal: Send + Sync {
    /// The salt mixed into every fingerprint of this journal's entries.
    fn salt(&self) -> [u8; 32];
    /// Every saved entry.
    fn load(&self) -> Vec<SavedEntry>;
    /// Stores (or replaces) an entry.
    fn save(&self, entry: SavedEntry);
    /// Drops an entry: the credential logged in, or went unused for long.
    fn forget(&self, fingerprint: Fingerprint);
}

/// Back-off state of every credential the agent has seen rejected.
pub struct CredentialGuard {
    entries: Mutex<HashMap<Fingerprint, Entry>>,
    journal: std::sync::OnceLock<Arc<dyn Journal>>,
    clock: Arc<dyn Clock>,
}

impl Default for CredentialGuard {
    fn default() -> Self {
        CredentialGuard::with_clock(Arc::new(SystemClock))
    }
}

impl fmt::Debug for CredentialGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("CredentialGuard")
            .field("credentials_backing_off", &n)
            .finish()
    }
}

/// Permission for `target` to log in with a credential, from [`CredentialGuard::gate`]. Hand the
/// result to [`Attempt::record`]; dropping it unrecorded (the check was cancelled) lets the next
/// target try.
#[must_use = "record the result of the attempt"]
pub struct Attempt<'a> {
    backoff: &'a CredentialGuard,
    fingerprint: Fingerprint,
    target: String,
    /// Whether the fingerprint was made with the journal's salt: one made before the journal was
    /// attached is unsalted and must never reach the disk.
    salted: bool,
}

impl CredentialGuard {
    /// A guard reading time from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        CredentialGuard {
            entries: Mutex::default(),
            journal: std::sync::OnceLock::new(),
            clock,
        }
    }

    /// Whether `target` may log in with `creds` now: `Err` with the result to answer instead
    /// while the credential is backing off.
    pub fn gate(&self, creds: &Credentials, target: &str) -> Result<Attempt<'_>, Box<CheckResult>> {
        self.gate_at(self.fingerprint(creds), target, self.clock.now())
    }

    /// Whether `target` may log in with this credential at `now`: `Err` with the result to
    /// answer instead while the credential is backing off (after a rejection at any target, or
    /// while another target is retrying it). Boxed: the common answer is `Ok`, and a result is
    /// several times the size of an [`Attempt`].
    pub fn gate_at(
        &self,
        fingerprint: Fingerprint,
        target: &str,
        now: Instant,
    ) -> Result<Attempt<'_>, Box<CheckResult>> {
        // Made only when returned: dropping one takes the lock.
        let attempt = || Attempt {
            backoff: self,
            fingerprint,
            target: target.to_string(),
            salted: self.journal.get().is_some(),
        };
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(&fingerprint) else {
            return Ok(attempt());
        };
        let (message, retry_in) = if let Some(other) = &entry.in_flight {
            (
                format!(
                    "backing off: target {other} is retrying this credential now, after failure {}; last answer: {}",
                    entry.failures, entry.last.message
                ),
                Duration::ZERO,
            )
        } else if now < entry.next_allowed {
            let until = humantime::format_rfc3339_seconds(entry.next_allowed_wall);
            (
                format!(
                    "backing off: not retrying this credential until {until}, failure {}, last tried by target {}; last answer: {}",
                    entry.failures, entry.last_target, entry.last.message
                ),
                entry.next_allowed.saturating_duration_since(now),
            )
        } else {
            entry.in_flight = Some(target.to_string());
            return Ok(attempt());
        };
        let mut result = entry.last.clone();
        result.message = message;
        result.remediation = None;
        result.duration_seconds = 0.0;
        let detail = detail(
            entry.failures,
            entry.next_allowed_wall,
            retry_in,
            &entry.last_target,
        );
        Err(Box::new(result.detail("backoff", detail)))
    }

    /// Keeps the state in `journal` from now on, starting from what it holds. Entries whose wait
    /// is over are loaded too: the next rejection of the same secret then waits longer. Only the
    /// first journal attached counts; `false` for any later one.
    pub fn attach(&self, journal: Arc<dyn Journal>) -> bool {
        let saved = journal.load();
        if self.journal.set(journal).is_err() {
            return false;
        }
        let (now, wall) = (self.clock.now(), self.clock.wall());
        let mut entries = self.lock();
        // Fingerprints made before the salt was known can never match again.
        entries.retain(|_, e| e.in_flight.is_some());
        for saved in saved {
            // A clock that was wrong when the entry was saved must not park a credential for
            // years, nor keep an entry from ever being dropped.
            let wait = saved
                .next_allowed
                .duration_since(wall)
                .unwrap_or_default()
                .min(MAX_BACKOFF);
            let ago = wall.duration_since(saved.last_attempt).unwrap_or_default();
            entries.entry(saved.fingerprint).or_insert(Entry {
                failures: saved.failures,
                next_allowed: now.checked_add(wait).unwrap_or(now),
                next_allowed_wall: wall.checked_add(wait).unwrap_or(wall),
                last_attempt: now.checked_sub(ago).unwrap_or(now),
                last_target: saved.last_target,
                last: saved.last,
                in_flight: None,
            });
        }
        true
    }

    /// The fingerprint of `creds` here (salted by the journal, if one is attached).
    pub fn fingerprint(&self, creds: &Credentials) -> Fingerprint {
        match self.journal.get() {
            Some(j) => Fingerprint::salted(&j.salt(), creds),
            None => Fingerprint::of(creds),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Fingerprint, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl Attempt<'_> {
    /// Records the result of the check that used the credential, now.
    pub fn record(self, result: CheckResult, policy: &Policy) -> CheckResult {
        let now = self.backoff.clock.now();
        self.record_at(result, policy, now)
    }

    /// Records the result, made up to `now`, by its [`CredentialVerdict`]: accepted clears the
    /// credential's state; rejected or throttled starts or extends the back-off (with
    /// `details.backoff` added to the result); anything else (the server was down, the network
    /// failed, no verdict) leaves the state as it was, since it says nothing about the secret.
    pub fn record_at(self, result: CheckResult, policy: &Policy, now: Instant) -> CheckResult {
        // `self` is dropped (and its Drop takes the lock) after this guard is released.
        let mut entries = self.backoff.lock();
        let journal = self.backoff.journal.get().filter(|_| self.salted);
        if result.credential == Some(CredentialVerdict::Accepted) {
            entries.remove(&self.fingerprint);
            // Also when this process knew of no back-off: another one (`mailbeat check` from
            // cron) may have saved one since this one read the state.
            if let Some(j) = journal {
                j.forget(self.fingerprint);
            }
            return result;
        }
        if !result.credential.is_some_and(CredentialVerdict::backs_off) {
            if let Some(e) = entries.get_mut(&self.fingerprint) {
                e.in_flight = None;
            }
            return result;
        }
        // Forget credentials nobody has tried for a long time (rotated tokens, fixed passwords).
        let idle = policy.max.min(MAX_BACKOFF).saturating_mul(2);
        entries.retain(|fp, e| {
            let keep = *fp == self.fingerprint
                || e.in_flight.is_some()
                || now.saturating_duration_since(e.last_attempt) <= idle;
            if let (false, Some(j)) = (keep, journal) {
                j.forget(*fp);
            }
            keep
        });
        let failures = entries
            .get(&self.fingerprint)
            .map_or(1, |e| e.failures.saturating_add(1));
        let delay = policy.delay(failures);
        let next_allowed = now.checked_add(delay).unwrap_or(now);
        let wall = self.backoff.clock.wall();
        let next_allowed_wall = wall.checked_add(delay).unwrap_or(wall);
        let result = result.detail(
            "backoff",
            detail(failures, next_allowed_wall, delay, &self.target),
        );
        if let Some(j) = journal {
            j.save(SavedEntry {
                fingerprint: self.fingerprint,
                failures,
                next_allowed: next_allowed_wall,
                last_attempt: wall,
                last_target: self.target.clone(),
                last: result.clone(),
            });
        }
        entries.insert(
            self.fingerprint,
            Entry {
                failures,
                next_allowed,
                next_allowed_wall,
                last_attempt: now,
                last_target: self.target.clone(),
                last: result.clone(),
                in_flight: None,
            },
        );
        result
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut entries = self.backoff.lock();
        if let Some(e) = entries.get_mut(&self.fingerprint) {
            if e.in_flight.as_deref() == Some(self.target.as_str()) {
                e.in_flight = None;
            }
        }
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

    fn bad() -> CheckResult {
        CheckResult::critical(Reason::AuthBadCredentials, "535 5.7.8 no")
            .with_credential(CredentialVerdict::Rejected)
    }

    /// Records `result` for `target` as a login that was let through at `now`.
    fn attempt(
        b: &CredentialGuard,
        fp: Fingerprint,
        target: &str,
        result: CheckResult,
        now: Instant,
    ) -> CheckResult {
        b.gate_at(fp, target, now)
            .expect("allowed")
            .record_at(result, &POLICY, now)
    }

    #[test]
    fn delay_grows_and_caps() {
        assert_eq!(POLICY.delay(1), Duration::from_secs(60));
        assert_eq!(POLICY.delay(2), Duration::from_secs(120));
        assert_eq!(POLICY.delay(3), Duration::from_secs(240));
        assert_eq!(POLICY.delay(4), Duration::from_secs(300));
        assert_eq!(POLICY.delay(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn a_huge_max_neither_overflows_nor_panics() {
        let huge = Policy {
            initial: Duration::from_secs(1),
            max: Duration::MAX,
            factor: 2.0,
        };
        assert_eq!(huge.delay(u32::MAX), MAX_BACKOFF);
        let b = CredentialGuard::default();
        let fp = Fingerprint::of(&creds("pw"));
        let t0 = Instant::now();
        for failures in 1..=70u32 {
            let now = t0 + Duration::from_secs(u64::from(failures) * 40 * 24 * 3600);
            let r = b
                .gate_at(fp, "t", now)
                .expect("the last wait has passed")
                .record_at(bad(), &huge, now);
            assert_eq!(r.details["backoff"]["failures"], failures);
        }
    }

    #[test]
    fn rejection_gates_until_the_interval_passes() {
        let b = CredentialGuard::default();
        let fp = Fingerprint::of(&creds("pw"));
        let t0 = Instant::now();
        let r = attempt(&b, fp, "t", bad(), t0);
        assert_eq!(r.details["backoff"]["failures"], 1);
        assert_eq!(r.details["backoff"]["last_target"], "t");
        let gated = b
            .gate_at(fp, "t", t0 + Duration::from_secs(59))
            .err()
            .expect("backing off");
        assert_eq!(gated.reason, Some(Reason::AuthBadCredentials));
        assert!(gated
            .message
            .starts_with("backing off: not retrying this credential until "));
        assert!(
            gated
                .message
                .contains(", failure 1, last tried by target t; last answer: 535 5.7.8 no"),
            "{}",
            gated.message
        );
        // Second failure doubles the wait.
        let t1 = t0 + Duration::from_secs(60);
        attempt(&b, fp, "t", bad(), t1);
        assert!(b.gate_at(fp, "t", t1 + Duration::from_secs(119)).is_err());
        assert!(b.gate_at(fp, "t", t1 + Duration::from_secs(120)).is_ok());
    }

    #[test]
    fn targets_sharing_a_credential_share_its_backoff() {
        let b = CredentialGuard::default();
        let fp = Fingerprint::of(&creds("pw"));
        let t0 = Instant::now();
        attempt(&b, fp, "mailbox-imap", bad(), t0);
        let gated = b
            .gate_at(fp, "mailbox-smtp", t0)
            .err()
            .expect("same credential");
        assert!(
            gated.message.contains("last tried by target mailbox-imap"),
            "{}",
            gated.message
        );
        assert_eq!(gated.details["backoff"]["last_target"], "mailbox-imap");
        // Another user with the same password is another credential.
        let bob = Fingerprint::of(&Credentials {
            username: "bob".into(),
            ..creds("pw")
        });
        assert!(b.gate_at(bob, "bob-imap", t0).is_ok());
    }

    #[test]
    fn one_target_retries_while_the_others_wait() {
        let b = CredentialGuard::default();
        let fp = Fingerprint::of(&creds("pw"));
        let t0 = Instant::now();
        attempt(&b, fp, "imap", bad(), t0);
        let t1 = t0 + Duration::from_secs(60);
        let retrying = b.gate_at(fp, "imap", t1).expect("the wait has passed");
        let waiting = b.gate_at(fp, "smtp", t1).err().expect("imap is retrying");
        assert!(
            waiting
                .message
                .starts_with("backing off: target imap is retrying this credential now, after failure 1; last answer: 535"),
            "{}",
            waiting.message
        );
        let r = retrying.record_at(bad(), &POLICY, t1);
        assert_eq!(r.details["backoff"]["failures"], 2);
        assert!(
            b.gate_at(fp, "smtp", t1).is_err(),
            "the new wait applies to all"
        );
        // A check cancelled mid-login (its Attempt dropped) lets the next target try.
        let t2 = t1 + Duration::from_secs(120);
        drop(b.gate_at(fp, "imap", t2).expect("the wait has passed"));
        assert!(b.gate_at(fp, "smtp", t2).is_ok());
    }

    #[test]
    fn new_secret_or_success_resets() {
        let b = CredentialGuard::default();
        let fp = Fingerprint::of(&creds("pw"));
        let t0 = Instant::now();
        attempt(&b, fp, "t", bad(), t0);
        assert!(b.gate_at(fp, "t", t0).is_err());
        assert!(
            b.gate_at(Fingerprint::of(&creds("pw2")), "t", t0).is_ok(),
            "a changed secret is a new credential"
        );
        let t1 = t0 + Duration::from_secs(60);
        attempt(
            &b,
            fp,
            "t",
            CheckResult::ok("in").with_credential(CredentialVerdict::Accepted),
            t1,
        );
        assert!(b.gate_at(fp, "t", t1).is_ok());
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn a_new_access_token_is_a_new_attempt() {
        let token = |t: &str| Credentials {
            kind: SecretKind::AccessToken,
            ..creds(t)
        };
        let b = CredentialGuard::default();
        let t0 = Instant::now();
        let refused =
            CheckResult::critical(Reason::OauthConsentRequired, "NO AUTHENTICATE failed.")
                .with_credential(CredentialVerdict::Rejected);
        attempt(&b, Fingerprint::of(&token("ya29.first")), "t", refused, t0);
        assert!(b
            .gate_at(Fingerprint::of(&token("ya29.first")), "t", t0)
            .is_err());
        assert!(b
            .gate_at(Fingerprint::of(&token("ya29.second")), "t", t0)
            .is_ok());
        assert_ne!(
            Fingerprint::of(&token("same")),
            Fingerprint::of(&creds("same")),
            "the kind is part of the credential"
        );
    }

    #[test]
    fn idle_entries_are_dropped() {
        let b = CredentialGuard::default();
        let t0 = Instant::now();
        for i in 0..100 {
            attempt(
                &b,
                Fingerprint::of(&creds(&format!("pw{i}"))),
                "t",
                bad(),
                t0,
            );
        }
        assert_eq!(b.len(), 100);
        // Still within twice the longest wait: kept.
        let t1 = t0 + POLICY.max * 2;
        attempt(&b, Fingerprint::of(&creds("new")), "t", bad(), t1);
        assert_eq!(b.len(), 101);
        let t2 = t1 + Duration::from_secs(1);
        attempt(&b, Fingerprint::of(&creds("newer")), "t", bad(), t2);
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn transient_failures_do_not_back_off() {
        let b = CredentialGuard::default();
        let fp = Fingerprint::of(&creds("pw"));
        let t0 = Instant::now();
        for result in [
            CheckResult::critical(Reason::ServerTimeout, "timed out"),
            CheckResult::critical(Reason::ProtocolError, "connection closed"),
            CheckResult::unknown(Reason::Unknown, "connection reset"),
            CheckResult::fail(
                mailbeat_sdk::Status::Warning,
                Reason::ServerUnavailable,
                "454 4.7.0",
            ),
            CheckResult::critical(Reason::AuthMechanismUnsupported, "504")
                .with_credential(CredentialVerdict::Unusable),
            CheckResult::critical(Reason::StarttlsRequired, "538")
                .with_credential(CredentialVerdict::Unusable),
            CheckResult::unknown(Reason::ProtocolError, "BAD Invalid SASL argument."),
            // A failed check without a verdict on the credential (say a tls probe) neither.
            CheckResult::critical(Reason::AuthBadCredentials, "not from a login"),
        ] {
            let r = b
                .gate_at(fp, "t", t0)
                .expect("allowed")
                .record_at(result, &POLICY, t0);
            assert!(r.details.get("backoff").is_none(), "{r:?}");
            assert!(b.gate_at(fp, "t", t0).is_ok(), "{r:?}");
        }
    }

    #[test]
    fn the_verdict_decides_not_the_reason() {
        let b = CredentialGuard::default();
        let t0 = Instant::now();
        // qmail: "-ERR authorization failed", which no row knew: the probe said rejected.
        let fp = Fingerprint::of(&creds("pw"));
        let r = attempt(
            &b,
            fp,
            "t",
            CheckResult::unknown(Reason::Unknown, "-ERR nope")
                .with_credential(CredentialVerdict::Rejected),
            t0,
        );
        assert_eq!(r.details["backoff"]["failures"], 1);
        assert!(b.gate_at(fp, "t", t0).is_err());
        // Slow down means slow down.
        let fp = Fingerprint::of(&creds("other"));
        attempt(
            &b,
            fp,
            "t",
            CheckResult::critical(Reason::RateLimited, "454 4.7.0 Too many login attempts")
                .with_credential(CredentialVerdict::Throttled),
            t0,
        );
        assert!(b.gate_at(fp, "t", t0).is_err());
        // An ok result that says nothing of the credential does not clear it.
        let r = b
            .gate_at(fp, "t", t0 + Duration::from_secs(60))
            .expect("the wait is over")
            .record_at(
                CheckResult::ok("fine"),
                &POLICY,
                t0 + Duration::from_secs(60),
            );
        assert!(r.is_ok());
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn backoff_options_are_taken_out_and_checked() {
        let mut o = serde_json::json!({"confirm": false, "backoff": {"initial": "200ms"}});
        let b = BackoffOptions::take_from(&mut o).unwrap();
        assert_eq!(b.initial, Duration::from_millis(200));
        assert_eq!(b.max, Duration::from_secs(86400));
        assert_eq!(b.factor, 2.0);
        assert_eq!(
            o,
            serde_json::json!({"confirm": false}),
            "the rest is the probe's"
        );
        let mut only = serde_json::json!({"backoff": {"max": "1h"}});
        BackoffOptions::take_from(&mut only).unwrap();
        assert!(only.is_null(), "no options left: the probe's defaults");
        let mut none = serde_json::Value::Null;
        assert_eq!(
            BackoffOptions::take_from(&mut none).unwrap().initial,
            Duration::from_secs(900)
        );
        for (options, wanted) in [
            (serde_json::json!({"initial": "0s"}), "initial"),
            (serde_json::json!({"initial": "soon"}), "backoff"),
            (serde_json::json!({"factor": 0.5}), "factor"),
            (serde_json::json!({"jitter": 1}), "jitter"),
            (
                serde_json::json!({"max": "500000000000y"}),
                "backoff.max must be at most 30days",
            ),
            (serde_json::json!({"max": "31d"}), "backoff.max"),
        ] {
            let mut o = serde_json::json!({ "backoff": options });
            let e = BackoffOptions::take_from(&mut o).unwrap_err();
            assert!(e.contains(wanted), "{e}");
        }
        let mut o = serde_json::json!({"backoff": {"max": "30d"}});
        assert_eq!(BackoffOptions::take_from(&mut o).unwrap().max, MAX_BACKOFF);
    }

    #[test]
    fn debug_shows_no_fingerprint() {
        let fp = Fingerprint::of(&creds("pw"));
        assert_eq!(format!("{fp:?}"), "Fingerprint(<redacted>)");
    }

    /// A journal in memory, counting what it is told.
    #[derive(Default)]
    struct MemoryJournal {
        saved: Mutex<Vec<SavedEntry>>,
        forgotten: Mutex<Vec<Fingerprint>>,
    }

    impl Journal for MemoryJournal {
        fn salt(&self) -> [u8; 32] {
            [7; 32]
        }
        fn load(&self) -> Vec<SavedEntry> {
            self.saved.lock().unwrap().clone()
        }
        fn save(&self, entry: SavedEntry) {
            self.saved.lock().unwrap().push(entry);
        }
        fn forget(&self, fingerprint: Fingerprint) {
            self.forgotten.lock().unwrap().push(fingerprint);
        }
    }

    #[test]
    fn a_journal_carries_the_backoff_to_the_next_process() {
        let journal = std::sync::Arc::new(MemoryJournal::default());
        let first = CredentialGuard::default();
        assert!(first.attach(journal.clone()));
        assert!(!first.attach(journal.clone()), "one journal per back-off");
        let fp = first.fingerprint(&creds("pw"));
        assert_ne!(fp, Fingerprint::of(&creds("pw")), "salted by the journal");
        let t0 = Instant::now();
        attempt(&first, fp, "imap", bad(), t0);
        assert_eq!(journal.saved.lock().unwrap().len(), 1);

        // The next process: the same secret waits, another one goes through.
        let next = CredentialGuard::default();
        next.attach(journal.clone());
        let fp = next.fingerprint(&creds("pw"));
        let waiting = next
            .gate_at(fp, "smtp", Instant::now())
            .err()
            .expect("backing off");
        assert!(
            waiting.message.starts_with("backing off"),
            "{}",
            waiting.message
        );
        assert_eq!(waiting.details["backoff"]["last_target"], "imap");
        let other = next.fingerprint(&creds("fixed"));
        let go = next
            .gate_at(other, "smtp", Instant::now())
            .expect("a new secret is tried");
        // A success with a credential that was backing off clears it on disk too.
        drop(go);
        let later = Instant::now() + Duration::from_secs(3600);
        let ok = CheckResult::ok("logged in").with_credential(CredentialVerdict::Accepted);
        let retry = next.gate_at(fp, "smtp", later).expect("the wait is over");
        retry.record_at(ok, &POLICY, later);
        assert_eq!(journal.forgotten.lock().unwrap().as_slice(), &[fp]);
    }
}
