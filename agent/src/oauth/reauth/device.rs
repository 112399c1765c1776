//! The device authorization grant (RFC 8628): after the device authorization request, poll the
//! token endpoint every `interval` until the person has signed in on another device. Keep
//! polling on `authorization_pending`, wait 5 s longer from then on after `slow_down` (§3.5),
//! stop on `expired_token`, `access_denied` (Microsoft: `authorization_declined`) or any other
//! refusal, and never past the code's `expires_in` or the caller's timeout.

use super::super::classify::{classify, Hint, TokenFailure};
use super::super::endpoint::TokenResponse;
use super::super::ProviderKind;
use mailbeat_sdk::Locale;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// What `slow_down` adds to the interval, for this and every later poll (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The shortest interval honoured, whatever the server says.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// One poll, judged.
#[derive(Debug)]
pub enum Poll {
    Granted(Box<TokenResponse>),
    /// `authorization_pending`: the person has not finished yet.
    Pending,
    /// `slow_down`: polling too often.
    SlowDown,
    /// `expired_token`: the device code ran out.
    Expired,
    /// `access_denied` / `authorization_declined`: the person said no.
    Denied,
    /// No answer, or the server's own trouble (5xx): try again at the next interval.
    Transient(String),
    /// Any other refusal: polling again cannot help.
    Failed(String),
}

/// Why a device flow ended without a grant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("the code expired before the sign-in was completed: nothing stored (start again)")]
    Expired,
    #[error("the sign-in was declined at the provider: nothing stored")]
    Denied,
    #[error("no sign-in within {}: nothing stored (a longer --timeout gives more time)", humantime::format_duration(*.0))]
    TimedOut(Duration),
    #[error("the token endpoint refused the device grant: {0}")]
    Refused(String),
}

/// Judges one answer of the token endpoint to a device-code poll.
pub fn judge(
    provider: ProviderKind,
    answer: Result<TokenResponse, TokenFailure>,
    locale: Locale,
) -> Poll {
    let failure = match answer {
        Ok(t) => return Poll::Granted(Box::new(t)),
        Err(f) => f,
    };
    let describe = |f: &TokenFailure| classify(provider, f, Hint::default(), locale).message;
    match &failure {
        TokenFailure::Timeout { .. } | TokenFailure::Unreachable { .. } => {
            Poll::Transient(describe(&failure))
        }
        TokenFailure::Http { status, body, .. } => {
            let error = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("error")?.as_str().map(str::to_string));
            match error.as_deref() {
                Some("authorization_pending") => Poll::Pending,
                Some("slow_down") => Poll::SlowDown,
                Some("expired_token") | Some("code_expired") => Poll::Expired,
                Some("access_denied") | Some("authorization_declined") => Poll::Denied,
                _ if *status >= 500 => Poll::Transient(describe(&failure)),
                _ => Poll::Failed(describe(&failure)),
            }
        }
    }
}

/// Polls with `poll` every `interval` (at least 1 s; 5 s longer after each `slow_down`) until a
/// grant or a final answer, for at most the code's lifetime `expires_in` and `timeout`,
/// whichever ends first. Every wait is a tokio timer, so a test with a paused clock runs it in
/// no time.
pub async fn poll_until<F, Fut>(
    interval: Duration,
    expires_in: Duration,
    timeout: Duration,
    mut poll: F,
) -> Result<TokenResponse, DeviceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Poll>,
{
    let start = Instant::now();
    let (limit, ends_by_expiry) = if expires_in <= timeout {
        (expires_in, true)
    } else {
        (timeout, false)
    };
    let deadline = start + limit;
    let ended = || {
        if ends_by_expiry {
            DeviceError::Expired
        } else {
            DeviceError::TimedOut(timeout)
        }
    };
    let mut interval = interval.max(MIN_INTERVAL);
    loop {
        let next = Instant::now() + interval;
        if next > deadline {
            return Err(ended());
        }
        tokio::time::sleep_until(next).await;
        // The poll's own request is bounded by the endpoint's timeout; the deadline bounds the
        // whole.
        let answer = match tokio::time::timeout_at(deadline, poll()).await {
            Ok(a) => a,
            Err(_) => return Err(ended()),
        };
        match answer {
            Poll::Granted(t) => return Ok(*t),
            Poll::Pending => {}
            Poll::Transient(why) => {
                tracing::debug!(error = %why, "device poll failed; polling again");
            }
            Poll::SlowDown => interval += SLOW_DOWN_STEP,
            Poll::Expired => return Err(DeviceError::Expired),
            Poll::Denied => return Err(DeviceError::Denied),
            Poll::Failed(why) => return Err(DeviceError::Refused(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailbeat_sdk::Secret;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    fn token() -> TokenResponse {
        TokenResponse {
            access_token: Secret::new("at"),
            refresh_token: Some(Secret::new("rt")),
            expires_in: Some(3600),
            refresh_token_expires_in: None,
            scope: None,
            id_token: None,
        }
    }

    fn http(status: u16, body: &str) -> Result<TokenResponse, TokenFailure> {
        Err(TokenFailure::Http {
            status,
            content_type: Some("application/json".into()),
            body: body.into(),
        })
    }

    /// Runs the scripted polls; returns the outcome and the second at which each poll came.
    async fn run(
        script: Vec<Poll>,
        interval: u64,
        expires_in: u64,
        timeout: u64,
    ) -> (Result<TokenResponse, DeviceError>, Vec<u64>) {
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let at = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let outcome = poll_until(
            Duration::from_secs(interval),
            Duration::from_secs(expires_in),
            Duration::from_secs(timeout),
            || {
                let (script, at) = (script.clone(), at.clone());
                async move {
                    at.lock().unwrap().push(start.elapsed().as_secs());
                    script.lock().unwrap().pop_front().unwrap_or(Poll::Pending)
                }
            },
        )
        .await;
        let at = at.lock().unwrap().clone();
        (outcome, at)
    }

    #[tokio::test(start_paused = true)]
    async fn pending_then_slow_down_then_success_honours_the_intervals() {
        let (outcome, at) = run(
            vec![
                Poll::Pending,
                Poll::SlowDown,
                Poll::Pending,
                Poll::Granted(Box::new(token())),
            ],
            5,
            900,
            300,
        )
        .await;
        assert_eq!(outcome.unwrap().access_token.expose(), "at");
        // 5 s apart, then 10 s apart for good after the slow_down.
        assert_eq!(at, vec![5, 10, 20, 30]);
    }

    #[tokio::test(start_paused = true)]
    async fn two_slow_downs_add_ten_seconds_and_transient_errors_keep_polling() {
        let (outcome, at) = run(
            vec![
                Poll::SlowDown,
                Poll::SlowDown,
                Poll::Transient("timeout".into()),
                Poll::Granted(Box::new(token())),
            ],
            1,
            900,
            300,
        )
        .await;
        assert!(outcome.is_ok());
        assert_eq!(at, vec![1, 7, 18, 29]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_flow_ends_at_expiry_or_timeout_whichever_is_first() {
        let (outcome, at) = run(vec![], 5, 20, 300).await;
        assert_eq!(outcome.unwrap_err(), DeviceError::Expired);
        assert_eq!(at, vec![5, 10, 15, 20]);
        let (outcome, at) = run(vec![], 5, 900, 12).await;
        assert_eq!(
            outcome.unwrap_err(),
            DeviceError::TimedOut(Duration::from_secs(12))
        );
        assert_eq!(at, vec![5, 10]);
        // A zero interval is taken as 1 s: the loop is bounded whatever the server says.
        let (_, at) = run(vec![], 0, 3, 300).await;
        assert_eq!(at, vec![1, 2, 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn final_answers_end_the_flow_at_once() {
        for (poll, want) in [
            (Poll::Expired, DeviceError::Expired),
            (Poll::Denied, DeviceError::Denied),
            (
                Poll::Failed("invalid_client".into()),
                DeviceError::Refused("invalid_client".into()),
            ),
        ] {
            let (outcome, at) = run(vec![Poll::Pending, poll], 2, 900, 300).await;
            assert_eq!(outcome.unwrap_err(), want);
            assert_eq!(at, vec![2, 4]);
        }
    }

    #[test]
    fn answers_are_judged_by_their_error() {
        let p = ProviderKind::Microsoft;
        let j = |a| judge(p, a, Locale::En);
        assert!(matches!(
            j(http(400, r#"{"error":"authorization_pending"}"#)),
            Poll::Pending
        ));
        assert!(matches!(
            j(http(400, r#"{"error":"slow_down"}"#)),
            Poll::SlowDown
        ));
        assert!(matches!(
            j(http(400, r#"{"error":"expired_token"}"#)),
            Poll::Expired
        ));
        assert!(matches!(
            j(http(
                400,
                r#"{"error":"authorization_declined","error_codes":[70000]}"#
            )),
            Poll::Denied
        ));
        assert!(matches!(
            j(http(400, r#"{"error":"access_denied"}"#)),
            Poll::Denied
        ));
        assert!(matches!(
            j(http(503, "<html>busy</html>")),
            Poll::Transient(_)
        ));
        assert!(matches!(
            j(http(401, r#"{"error":"invalid_client"}"#)),
            Poll::Failed(_)
        ));
        assert!(matches!(j(http(400, "\u{0}garbage")), Poll::Failed(_)));
        assert!(matches!(
            j(Err(TokenFailure::Timeout {
                after: Duration::from_secs(1)
            })),
            Poll::Transient(_)
        ));
        assert!(matches!(j(Ok(token())), Poll::Granted(_)));
    }
}
