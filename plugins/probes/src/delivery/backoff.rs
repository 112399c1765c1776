//! The wait after a refused send: a relay that refused the probe message (a sending limit, a
//! From it will not take) refuses the next one too, and each try counts against the account.
//! 15 minutes after the first refusal, doubling up to a day; meanwhile the check answers with
//! the last result. It lives in the check, not in the agent's credential guard: it is about
//! sending, and the account's logins (its `auth` check) must go on meanwhile.

use mailbeat_sdk::{CheckResult, Reason};
use std::time::{Duration, Instant, SystemTime};

/// After a refused send, when the next one may go out, and what to answer until then.
#[derive(Debug, Default)]
pub struct SendBackoff {
    failures: u32,
    until: Option<(Instant, SystemTime)>,
    last: Option<CheckResult>,
}

/// The first wait after a refused send; it doubles with each further refusal.
pub const SEND_BACKOFF_FIRST: Duration = Duration::from_secs(15 * 60);
/// The longest wait.
pub const SEND_BACKOFF_MAX: Duration = Duration::from_secs(24 * 3600);

impl SendBackoff {
    /// The wait after `failures` refusals in a row.
    pub fn delay(failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        SEND_BACKOFF_FIRST
            .saturating_mul(1 << doublings)
            .min(SEND_BACKOFF_MAX)
    }

    /// The last result, marked as an answer from the back-off, while it lasts.
    pub(super) fn answer(&self, now: Instant) -> Option<CheckResult> {
        let (until, wall) = self.until?;
        if now >= until {
            return None;
        }
        let mut r = self.last.clone()?;
        r.message = format!(
            "backing off: not sending again until {}, after {} refused send(s); last answer: {}",
            humantime::format_rfc3339_seconds(wall),
            self.failures,
            r.message
        );
        r.credential = None;
        r.via_credential = None;
        Some(r.detail(
            "backoff",
            serde_json::json!({
                "failures": self.failures,
                "until": humantime::format_rfc3339_seconds(wall).to_string(),
            }),
        ))
    }

    /// Records a result: a refused send starts or extends the wait, anything else ends it.
    pub(super) fn record(&mut self, result: &CheckResult) {
        if result.reason != Some(Reason::DeliveryRejected) {
            *self = SendBackoff::default();
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let delay = Self::delay(self.failures);
        self.until = Some((Instant::now() + delay, SystemTime::now() + delay));
        self.last = Some(result.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_sends_back_off_doubling_to_a_day() {
        assert_eq!(SendBackoff::delay(1), SEND_BACKOFF_FIRST);
        assert_eq!(SendBackoff::delay(2), SEND_BACKOFF_FIRST * 2);
        assert_eq!(SendBackoff::delay(40), SEND_BACKOFF_MAX);
        let mut b = SendBackoff::default();
        let refused = CheckResult::critical(Reason::DeliveryRejected, "550 no");
        b.record(&refused);
        let answer = b.answer(Instant::now()).expect("backing off");
        assert_eq!(answer.reason, Some(Reason::DeliveryRejected));
        assert!(
            answer.message.starts_with("backing off"),
            "{}",
            answer.message
        );
        assert!(b.answer(Instant::now() + SEND_BACKOFF_FIRST).is_none());
        b.record(&CheckResult::ok("fine"));
        assert!(b.answer(Instant::now()).is_none());
    }
}
