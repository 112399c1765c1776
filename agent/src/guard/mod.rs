//! The credential guard: never retry a rejected secret faster than a growing interval.
//!
//! Providers lock accounts (or an IP) after a run of failed logins; a monitor that retries a bad
//! password every minute is the thing that locks it. After a rejection the agent remembers, per
//! credential, when it may try again, and until then answers with the last result instead of
//! running the check. It guards every probe that declares it uses credentials (`auth` today, and
//! the token probe and plugins that log in alike), gated before the check and fed after it by the check's own
//! [`CredentialVerdict`]: no probe name is special, and no probe keeps this state itself.
//!
//! The state is keyed by a fingerprint of the credential (its realm, user name, kind of secret,
//! secret), not by target: the `imap` and `smtp` targets of one mailbox share its password, and a
//! stale password must cost one failed login per interval, not one per target. The realm
//! ([`realm_of`]) is the account's authentication domain: the provider preset when there is one
//! (IMAP and SMTP of one Gmail account share it), otherwise the server's name. Two unrelated
//! servers that happen to have the same user name and password are two credentials: one's
//! refusal neither holds the other back nor lends it its answer. A different secret
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

mod policy;

pub use policy::{BackoffOptions, Policy, MAX_BACKOFF};

use mailbeat_sdk::{CheckResult, CredentialVerdict, Credentials, Provider, SecretKind, Target};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

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

/// The authentication realm of `target`'s account: its provider preset's canonical name
/// (`gmail`, `office365`, …) when it has a known one, else the server's name (`tls_server_name`,
/// else `host`), without case.
pub fn realm_of(target: &Target) -> String {
    match Provider::from_preset(target.provider.as_deref()) {
        Provider::Custom => {
            mailbeat_sdk::target::bare_host(target.verify_name()).to_ascii_lowercase()
        }
        provider => format!("provider:{}", provider.as_str()),
    }
}

/// A fingerprint of who logs in with what, where. Compared, never shown.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Fingerprints the user name, the kind and the secret together, so changing any of them
    /// counts as "a different credential". Access tokens included: see the module docs.
    pub fn of(realm: &str, creds: &Credentials) -> Fingerprint {
        Fingerprint::salted(&[], realm, creds)
    }

    /// [`Fingerprint::of`] with `salt` hashed in first.
    pub fn salted(salt: &[u8], realm: &str, creds: &Credentials) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(salt);
        h.update(realm.as_bytes());
        h.update([0]);
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
    pub fn gate(
        &self,
        realm: &str,
        creds: &Credentials,
        target: &str,
    ) -> Result<Attempt<'_>, Box<CheckResult>> {
        self.gate_at(self.fingerprint(realm, creds), target, self.clock.now())
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
        // This run observed nothing about the credential; the last one did.
        result.credential = None;
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
    pub fn fingerprint(&self, realm: &str, creds: &Credentials) -> Fingerprint {
        match self.journal.get() {
            Some(j) => Fingerprint::salted(&j.salt(), realm, creds),
            None => Fingerprint::of(realm, creds),
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
mod tests;
