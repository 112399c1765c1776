//! Tests of the back-off: gating, shared waits across targets, growth, forgetting, the journal.

use super::*;
use mailbeat_sdk::Secret;

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
}

/// Records `result` for `target` as a login that was let through at `now`.
fn attempt(
    b: &Backoff,
    fp: Fingerprint,
    target: &str,
    result: CheckResult,
    now: Instant,
) -> CheckResult {
    b.gate(fp, target, now)
        .expect("allowed")
        .record(result, true, &POLICY, now)
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
    let b = Backoff::default();
    let fp = Fingerprint::of(&creds("pw"));
    let t0 = Instant::now();
    for failures in 1..=70u32 {
        let now = t0 + Duration::from_secs(u64::from(failures) * 40 * 24 * 3600);
        let r = b
            .gate(fp, "t", now)
            .expect("the last wait has passed")
            .record(bad(), true, &huge, now);
        assert_eq!(r.details["backoff"]["failures"], failures);
    }
}

#[test]
fn rejection_gates_until_the_interval_passes() {
    let b = Backoff::default();
    let fp = Fingerprint::of(&creds("pw"));
    let t0 = Instant::now();
    let r = attempt(&b, fp, "t", bad(), t0);
    assert_eq!(r.details["backoff"]["failures"], 1);
    assert_eq!(r.details["backoff"]["last_target"], "t");
    let gated = b
        .gate(fp, "t", t0 + Duration::from_secs(59))
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
    assert!(b.gate(fp, "t", t1 + Duration::from_secs(119)).is_err());
    assert!(b.gate(fp, "t", t1 + Duration::from_secs(120)).is_ok());
}

#[test]
fn targets_sharing_a_credential_share_its_backoff() {
    let b = Backoff::default();
    let fp = Fingerprint::of(&creds("pw"));
    let t0 = Instant::now();
    attempt(&b, fp, "mailbox-imap", bad(), t0);
    let gated = b
        .gate(fp, "mailbox-smtp", t0)
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
    assert!(b.gate(bob, "bob-imap", t0).is_ok());
}

#[test]
fn one_target_retries_while_the_others_wait() {
    let b = Backoff::default();
    let fp = Fingerprint::of(&creds("pw"));
    let t0 = Instant::now();
    attempt(&b, fp, "imap", bad(), t0);
    let t1 = t0 + Duration::from_secs(60);
    let retrying = b.gate(fp, "imap", t1).expect("the wait has passed");
    let waiting = b.gate(fp, "smtp", t1).err().expect("imap is retrying");
    assert!(
        waiting
            .message
            .starts_with("backing off: target imap is retrying this credential now, after failure 1; last answer: 535"),
        "{}",
        waiting.message
    );
    let r = retrying.record(bad(), true, &POLICY, t1);
    assert_eq!(r.details["backoff"]["failures"], 2);
    assert!(
        b.gate(fp, "smtp", t1).is_err(),
        "the new wait applies to all"
    );
    // A check cancelled mid-login (its Attempt dropped) lets the next target try.
    let t2 = t1 + Duration::from_secs(120);
    drop(b.gate(fp, "imap", t2).expect("the wait has passed"));
    assert!(b.gate(fp, "smtp", t2).is_ok());
}

#[test]
fn new_secret_or_success_resets() {
    let b = Backoff::default();
    let fp = Fingerprint::of(&creds("pw"));
    let t0 = Instant::now();
    attempt(&b, fp, "t", bad(), t0);
    assert!(b.gate(fp, "t", t0).is_err());
    assert!(
        b.gate(Fingerprint::of(&creds("pw2")), "t", t0).is_ok(),
        "a changed secret is a new credential"
    );
    let t1 = t0 + Duration::from_secs(60);
    attempt(&b, fp, "t", CheckResult::ok("in"), t1);
    assert!(b.gate(fp, "t", t1).is_ok());
    assert_eq!(b.len(), 0);
}

#[test]
fn a_new_access_token_is_a_new_attempt() {
    let token = |t: &str| Credentials {
        kind: SecretKind::AccessToken,
        ..creds(t)
    };
    let b = Backoff::default();
    let t0 = Instant::now();
    let refused = CheckResult::critical(Reason::OauthConsentRequired, "NO AUTHENTICATE failed.");
    attempt(&b, Fingerprint::of(&token("ya29.first")), "t", refused, t0);
    assert!(b
        .gate(Fingerprint::of(&token("ya29.first")), "t", t0)
        .is_err());
    assert!(b
        .gate(Fingerprint::of(&token("ya29.second")), "t", t0)
        .is_ok());
    assert_ne!(
        Fingerprint::of(&token("same")),
        Fingerprint::of(&creds("same")),
        "the kind is part of the credential"
    );
}

#[test]
fn idle_entries_are_dropped() {
    let b = Backoff::default();
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
    let b = Backoff::default();
    let fp = Fingerprint::of(&creds("pw"));
    let t0 = Instant::now();
    for (result, refused) in [
        (
            CheckResult::critical(Reason::ServerTimeout, "timed out"),
            false,
        ),
        (
            CheckResult::critical(Reason::ProtocolError, "connection closed"),
            false,
        ),
        (
            CheckResult::unknown(Reason::Unknown, "connection reset"),
            false,
        ),
        (
            CheckResult::fail(
                mailbeat_sdk::Status::Warning,
                Reason::ServerUnavailable,
                "454 4.7.0",
            ),
            true,
        ),
        (
            CheckResult::critical(Reason::AuthMechanismUnsupported, "504"),
            true,
        ),
        (CheckResult::critical(Reason::StarttlsRequired, "538"), true),
        (
            CheckResult::unknown(Reason::ProtocolError, "BAD Invalid SASL argument."),
            true,
        ),
    ] {
        let r = b
            .gate(fp, "t", t0)
            .expect("allowed")
            .record(result, refused, &POLICY, t0);
        assert!(r.details.get("backoff").is_none(), "{r:?}");
        assert!(b.gate(fp, "t", t0).is_ok(), "{r:?}");
    }
}

#[test]
fn any_lasting_refusal_of_the_login_backs_off() {
    // qmail: "-ERR authorization failed", which no row knew.
    assert!(backs_off(Reason::Unknown, true));
    assert!(backs_off(Reason::OauthConsentRequired, true));
    assert!(backs_off(Reason::AuthBadCredentials, false));
    assert!(!backs_off(Reason::Unknown, false));
    assert!(
        backs_off(Reason::RateLimited, true),
        "slow down means slow down"
    );
    assert!(!backs_off(Reason::RateLimited, false));
    assert!(!backs_off(Reason::ServerUnavailable, true));
    let b = Backoff::default();
    let fp = Fingerprint::of(&creds("pw"));
    let t0 = Instant::now();
    let r = attempt(
        &b,
        fp,
        "t",
        CheckResult::unknown(Reason::Unknown, "-ERR nope"),
        t0,
    );
    assert_eq!(r.details["backoff"]["failures"], 1);
    assert!(b.gate(fp, "t", t0).is_err());
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
    let first = Backoff::default();
    assert!(first.attach(journal.clone()));
    assert!(!first.attach(journal.clone()), "one journal per back-off");
    let fp = first.fingerprint(&creds("pw"));
    assert_ne!(fp, Fingerprint::of(&creds("pw")), "salted by the journal");
    let t0 = Instant::now();
    attempt(&first, fp, "imap", bad(), t0);
    assert_eq!(journal.saved.lock().unwrap().len(), 1);

    // The next process: the same secret waits, another one goes through.
    let next = Backoff::default();
    next.attach(journal.clone());
    let fp = next.fingerprint(&creds("pw"));
    let waiting = next
        .gate(fp, "smtp", Instant::now())
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
        .gate(other, "smtp", Instant::now())
        .expect("a new secret is tried");
    // A success with a credential that was backing off clears it on disk too.
    drop(go);
    let later = Instant::now() + Duration::from_secs(3600);
    let ok = CheckResult::ok("logged in");
    let retry = next.gate(fp, "smtp", later).expect("the wait is over");
    retry.record(ok, false, &POLICY, later);
    assert_eq!(journal.forgotten.lock().unwrap().as_slice(), &[fp]);
}
