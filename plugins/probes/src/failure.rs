//! A failed probe step: the reason and the words that explain it.

use mailbeat_sdk::{CheckResult, Reason, Status};
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

impl From<Failure> for CheckResult {
    fn from(f: Failure) -> Self {
        CheckResult::fail(f.status, f.reason, f.message)
    }
}
