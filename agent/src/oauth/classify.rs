//! Classifying what a token endpoint answered when it did not hand out a token.
//! (Placeholder: the full table lands with the classifier branch.)

use super::ProviderKind;
use mailbeat_sdk::{Locale, Reason, Status};
use std::time::Duration;

/// What the token endpoint did when it did not hand out a token.
#[derive(Debug, Clone)]
pub enum TokenFailure {
    /// An HTTP answer that is not a token.
    Http {
        status: u16,
        content_type: Option<String>,
        body: String,
    },
    Timeout {
        after: Duration,
    },
    /// DNS failure, connection refused, TLS failure...
    Unreachable {
        detail: String,
    },
}

/// What the agent knows beyond the answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hint {
    pub predicted_expiry_passed: bool,
}

/// The verdict on a failed token request.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub reason: Reason,
    pub status: Status,
    pub message: String,
    pub remediation: Option<String>,
    pub terminal: bool,
    pub error: Option<String>,
    pub error_subtype: Option<String>,
    pub error_codes: Vec<u64>,
}

/// Classifies `failure`.
pub fn classify(
    _provider: ProviderKind,
    failure: &TokenFailure,
    _hint: Hint,
    _locale: Locale,
) -> Classified {
    let endpoint = |message: String| Classified {
        reason: Reason::OauthEndpointError,
        status: Status::Critical,
        message,
        remediation: None,
        terminal: false,
        error: None,
        error_subtype: None,
        error_codes: Vec::new(),
    };
    match failure {
        TokenFailure::Timeout { after } => endpoint(format!(
            "token endpoint did not answer within {}",
            humantime::format_duration(*after)
        )),
        TokenFailure::Unreachable { detail } => {
            endpoint(format!("token endpoint unreachable: {detail}"))
        }
        TokenFailure::Http { status, body, .. } => {
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let error = v["error"].as_str().map(str::to_string);
            let (reason, terminal) = match error.as_deref() {
                Some("invalid_grant") => (Reason::OauthRefreshTokenRevoked, true),
                Some("invalid_client") => (Reason::OauthInvalidClient, true),
                _ => (Reason::OauthEndpointError, false),
            };
            Classified {
                reason,
                status: Status::Critical,
                message: format!(
                    "token endpoint answered HTTP {status}{}",
                    error
                        .as_deref()
                        .map(|e| format!(" {e}"))
                        .unwrap_or_default()
                ),
                remediation: None,
                terminal,
                error,
                error_subtype: None,
                error_codes: Vec::new(),
            }
        }
    }
}
