//! What a check yields.

use crate::Reason;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Outcome of a check, Nagios-style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Ok,
        Status::Warning,
        Status::Critical,
        Status::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Critical => "critical",
            Status::Unknown => "unknown",
        }
    }

    /// How bad it is, for picking the worst of several results: ok < warning < unknown < critical.
    /// A known failure outranks not knowing, because it is the one a person can act on.
    pub fn severity(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        }
    }

    /// Nagios plugin exit code: 0 ok, 1 warning, 2 critical, 3 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A labelled numeric observation that becomes a metric series (for example one certificate's
/// not-after time, labelled with its depth and subject). The `target` label is added by the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Metric name without the `mailbeat_` prefix, e.g. `tls_cert_not_after_timestamp_seconds`.
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// What a check learned about the account's credential: the agent's credential guard acts on it,
/// whichever probe reported it, and `None` says nothing about the secret (the network failed,
/// the server was down for a moment, the dialogue broke before the login).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialVerdict {
    /// The server accepted the credential: any back-off of it ends.
    Accepted,
    /// The server refused the credential (or the session after the login) in a way that may
    /// count toward a lockout: the secret is not retried until its back-off has passed.
    Rejected,
    /// The login cannot work here, found before or without sending the secret (STARTTLS
    /// required, no usable mechanism): a verdict on the account's setup, not on the secret, so
    /// it does not back off.
    Unusable,
    /// The server refused the login as too frequent (`[LIMIT]`, `[LOGIN-DELAY]`,
    /// `454 4.7.0 Too many login attempts`): slow down, so it backs off, but it says nothing of
    /// whether the secret is right.
    Throttled,
}

impl CredentialVerdict {
    /// True when the secret must wait before it is tried again.
    pub fn backs_off(self) -> bool {
        matches!(
            self,
            CredentialVerdict::Rejected | CredentialVerdict::Throttled
        )
    }

    /// The `auth_success` value it stands for: 1 accepted, 0 refused or unusable, none when the
    /// server only asked to slow down.
    pub fn success_value(self) -> Option<f64> {
        match self {
            CredentialVerdict::Accepted => Some(1.0),
            CredentialVerdict::Rejected | CredentialVerdict::Unusable => Some(0.0),
            CredentialVerdict::Throttled => None,
        }
    }
}

/// The result of one check of one probe on one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub status: Status,
    /// Why it is not ok; `None` exactly when `status` is ok.
    pub reason: Option<Reason>,
    /// The server's own words (or ours when the server said nothing). Never contains a secret.
    pub message: String,
    /// What a person must do. Filled by the agent from the reason, provider and locale when the
    /// probe leaves it empty.
    #[serde(default)]
    pub remediation: Option<String>,
    /// Wall time of the check; filled by the executor.
    #[serde(default)]
    pub duration_seconds: f64,
    /// Unlabelled numbers, keyed by metric name without the `mailbeat_` prefix (e.g. `auth_success`).
    #[serde(default)]
    pub observations: BTreeMap<String, f64>,
    /// Labelled numbers; see [`Sample`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<Sample>,
    /// Structured facts for the status page and JSON output (certificates, capabilities, …).
    /// Never read as metrics: numbers that are metrics go in `observations` or `samples`.
    #[serde(default = "empty_object")]
    pub details: serde_json::Value,
    /// What the check learned about the credential, when it used one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialVerdict>,
    /// What the check learned about the credential of its companion target
    /// ([`crate::ProbeContext::via`]), when it logged in there too: the agent's guard acts on it
    /// for that account, as on [`CheckResult::credential`] for the check's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_credential: Option<CredentialVerdict>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

impl CheckResult {
    /// An ok result.
    pub fn ok(message: impl Into<String>) -> Self {
        Self::new(Status::Ok, None, message)
    }

    /// A failed (or warning) result with a reason.
    pub fn fail(status: Status, reason: Reason, message: impl Into<String>) -> Self {
        Self::new(status, Some(reason), message)
    }

    /// A critical result with a reason.
    pub fn critical(reason: Reason, message: impl Into<String>) -> Self {
        Self::fail(Status::Critical, reason, message)
    }

    /// An unknown result with a reason.
    pub fn unknown(reason: Reason, message: impl Into<String>) -> Self {
        Self::fail(Status::Unknown, reason, message)
    }

    fn new(status: Status, reason: Option<Reason>, message: impl Into<String>) -> Self {
        CheckResult {
            status,
            reason,
            message: message.into(),
            remediation: None,
            duration_seconds: 0.0,
            observations: BTreeMap::new(),
            samples: Vec::new(),
            details: empty_object(),
            credential: None,
            via_credential: None,
        }
    }

    /// Sets what the check learned about the credential.
    pub fn with_credential(mut self, verdict: CredentialVerdict) -> Self {
        self.credential = Some(verdict);
        self
    }

    /// Sets what the check learned about its companion target's credential.
    pub fn with_via_credential(mut self, verdict: CredentialVerdict) -> Self {
        self.via_credential = Some(verdict);
        self
    }

    /// Adds an unlabelled observation.
    pub fn observe(mut self, name: &str, value: f64) -> Self {
        self.observations.insert(name.to_string(), value);
        self
    }

    /// Adds a labelled observation.
    pub fn sample(mut self, name: &str, labels: &[(&str, &str)], value: f64) -> Self {
        self.samples.push(Sample {
            name: name.to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        });
        self
    }

    /// Sets one key of `details`.
    pub fn detail(self, key: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.detail_value(key, value)
    }

    /// Sets one key of `details` to a JSON value built already. [`CheckResult::detail`] with a
    /// `serde_json::Value` would serialize it into a second, equal tree: a deep copy of every
    /// string in it, which for a certificate list is a measurable share of a TLS check.
    pub fn detail_value(mut self, key: &str, value: serde_json::Value) -> Self {
        if !self.details.is_object() {
            self.details = empty_object();
        }
        if let Some(map) = self.details.as_object_mut() {
            map.insert(key.to_string(), value);
        }
        self
    }

    /// True when the status is ok.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detail_value_is_kept_as_a_detail_of_the_same_value() {
        let v = serde_json::json!({"list": [1, "two", {"three": 3.5}], "none": null});
        let by_value = CheckResult::ok("").detail_value("k", v.clone());
        let serialized = CheckResult::ok("").detail("k", &v);
        assert_eq!(by_value.details, serialized.details);
        assert_eq!(by_value.details["k"], v);
    }

    #[test]
    fn json_shape_matches_the_contract() {
        let r = CheckResult::critical(Reason::AuthAppPasswordRequired, "534-5.7.9 ...")
            .observe("auth_success", 0.0);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["status"], "critical");
        assert_eq!(v["reason"], "auth_app_password_required");
        assert_eq!(v["observations"]["auth_success"], 0.0);
        assert!(v["details"].is_object());
        assert!(
            v.get("samples").is_none(),
            "empty samples are not serialized"
        );
        let ok = serde_json::to_value(CheckResult::ok("fine")).unwrap();
        assert!(ok["reason"].is_null());
    }

    #[test]
    fn severity_orders_critical_worst() {
        let worst = Status::ALL.iter().max_by_key(|s| s.severity()).unwrap();
        assert_eq!(*worst, Status::Critical);
    }
}
