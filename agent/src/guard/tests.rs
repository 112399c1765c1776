//! The guard on its own, with times given by hand.

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
    let fp = Fingerprint::of("mail.test", &creds("pw"));
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
    let fp = Fingerprint::of("mail.test", &creds("pw"));
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
    let fp = Fingerprint::of("mail.test", &creds("pw"));
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
    let bob = Fingerprint::of(
        "mail.test",
        &Credentials {
            username: "bob".into(),
            ..creds("pw")
        },
    );
    assert!(b.gate_at(bob, "bob-imap", t0).is_ok());
}

#[test]
fn one_target_retries_while_the_others_wait() {
    let b = CredentialGuard::default();
    let fp = Fingerprint::of("mail.test", &creds("pw"));
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
    let fp = Fingerprint::of("mail.test", &creds("pw"));
    let t0 = Instant::now();
    attempt(&b, fp, "t", bad(), t0);
    assert!(b.gate_at(fp, "t", t0).is_err());
    assert!(
        b.gate_at(Fingerprint::of("mail.test", &creds("pw2")), "t", t0)
            .is_ok(),
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
    let refused = CheckResult::critical(Reason::OauthConsentRequired, "NO AUTHENTICATE failed.")
        .with_credential(CredentialVerdict::Rejected);
    attempt(
        &b,
        Fingerprint::of("mail.test", &token("ya29.first")),
        "t",
        refused,
        t0,
    );
    assert!(b
        .gate_at(Fingerprint::of("mail.test", &token("ya29.first")), "t", t0)
        .is_err());
    assert!(b
        .gate_at(Fingerprint::of("mail.test", &token("ya29.second")), "t", t0)
        .is_ok());
    assert_ne!(
        Fingerprint::of("mail.test", &token("same")),
        Fingerprint::of("mail.test", &creds("same")),
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
            Fingerprint::of("mail.test", &creds(&format!("pw{i}"))),
            "t",
            bad(),
            t0,
        );
    }
    assert_eq!(b.len(), 100);
    // Still within twice the longest wait: kept.
    let t1 = t0 + POLICY.max * 2;
    attempt(
        &b,
        Fingerprint::of("mail.test", &creds("new")),
        "t",
        bad(),
        t1,
    );
    assert_eq!(b.len(), 101);
    let t2 = t1 + Duration::from_secs(1);
    attempt(
        &b,
        Fingerprint::of("mail.test", &creds("newer")),
        "t",
        bad(),
        t2,
    );
    assert_eq!(b.len(), 2);
}

#[test]
fn transient_failures_do_not_back_off() {
    let b = CredentialGuard::default();
    let fp = Fingerprint::of("mail.test", &creds("pw"));
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
    let fp = Fingerprint::of("mail.test", &creds("pw"));
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
    let fp = Fingerprint::of("mail.test", &creds("other"));
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
    let fp = Fingerprint::of("mail.test", &creds("pw"));
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
    let fp = first.fingerprint("mail.test", &creds("pw"));
    assert_ne!(
        fp,
        Fingerprint::of("mail.test", &creds("pw")),
        "salted by the journal"
    );
    let t0 = Instant::now();
    attempt(&first, fp, "imap", bad(), t0);
    assert_eq!(journal.saved.lock().unwrap().len(), 1);

    // The next process: the same secret waits, another one goes through.
    let next = CredentialGuard::default();
    next.attach(journal.clone());
    let fp = next.fingerprint("mail.test", &creds("pw"));
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
    let other = next.fingerprint("mail.test", &creds("fixed"));
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
