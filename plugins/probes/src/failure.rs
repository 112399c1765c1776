//! A failed probe step: the reason and the words that explain it.

use mailbeat_sdk::{CheckResult, MailEndpoint, OptionsError, Reason, Status, Target};
use std::fmt;

/// Why a step of a check failed. Probes use `?` on steps that return it and turn it into a
/// [`CheckResult`] at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: Status,
    pub reason: Reason,
    pub message: String,
}

impl Failure {
    /// A critical failure.
    pub fn critical(reason: Reason, message: impl Into<String>) -> Self {
        Failure {
            status: Status::Critical,
            reason,
            message: message.into(),
        }
    }

    /// A failure with an explicit status.
    pub fn new(status: Status, reason: Reason, message: impl Into<String>) -> Self {
        Failure {
            status,
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

/// The protocol and port of a mail target, or the `config_error` a built-in probe gives for a
/// target without them (such a target is refused at load; this covers a caller that did not
/// load it).
pub fn mail_endpoint(target: &Target) -> Result<MailEndpoint, Failure> {
    target.mail().ok_or_else(|| {
        Failure::new(
            Status::Unknown,
            Reason::ConfigError,
            format!(
                "target {} has no mail protocol and port; the built-in probes check imap, pop3 and smtp targets",
                target.name
            ),
        )
    })
}

/// [`mail_endpoint`] as a load-time refusal of `probe` on `target`.
pub fn require_mail(probe: &str, target: &Target) -> Result<MailEndpoint, OptionsError> {
    target.mail().ok_or_else(|| {
        OptionsError::new(format!(
            "the {probe} probe needs a mail target: set protocol (imap, pop3 or smtp)"
        ))
    })
}

impl From<Failure> for CheckResult {
    fn from(f: Failure) -> Self {
        CheckResult::fail(f.status, f.reason, f.message)
    }
}
