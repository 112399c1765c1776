//! An alert rule: which results of which targets it watches, how long they must last before it
//! fires (`for`), how long it keeps firing once they stop (`keep_firing_for`, so a flapping check
//! does not page on every flap), and how bad it is. The built-in rules cover what every mail
//! account needs; `alerts:` adds rules or replaces a built-in one of the same name.

use mailbeat_sdk::{Reason, Status, Target};
use std::collections::BTreeMap;
use std::time::Duration;

/// Which targets a rule or a webhook applies to; empty lists mean all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFilter {
    pub names: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

impl TargetFilter {
    /// True when `target` is named (or no names are given) and carries every label.
    pub fn matches(&self, target: &Target) -> bool {
        (self.names.is_empty() || self.names.contains(&target.name))
            && self
                .labels
                .iter()
                .all(|(k, v)| target.labels.get(k) == Some(v))
    }
}

/// One alert rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub name: String,
    /// Probes whose results count (empty: all).
    pub probes: Vec<String>,
    /// Statuses that count (empty: any but ok).
    pub statuses: Vec<Status>,
    /// Reasons that count (empty: any).
    pub reasons: Vec<Reason>,
    pub targets: TargetFilter,
    pub for_: Duration,
    pub keep_firing_for: Duration,
    pub severity: String,
    /// Its incidents need a person to re-authorize: they also send `reauth_required`.
    pub reauth: bool,
}

impl AlertRule {
    /// True when a result of `probe` with `status` and `reason` counts toward this rule.
    pub fn matches(&self, probe: &str, status: Status, reason: Option<Reason>) -> bool {
        let status_ok = if self.statuses.is_empty() {
            status != Status::Ok
        } else {
            self.statuses.contains(&status)
        };
        status_ok
            && (self.probes.is_empty() || self.probes.iter().any(|p| p == probe))
            && (self.reasons.is_empty() || reason.is_some_and(|r| self.reasons.contains(&r)))
    }
}

/// The reasons only a person can fix (a new consent, a new refresh token, a new password or app
/// password, a web login, MFA, conditional access): [`Reason::needs_reauth`]. Their incidents
/// send `reauth_required`.
pub fn reauth_reasons() -> Vec<Reason> {
    Reason::ALL
        .iter()
        .copied()
        .filter(|r| r.needs_reauth())
        .collect()
}

/// How long a built-in alert keeps firing after its checks recover: a check that flaps does not
/// resolve and re-fire the incident on every flap.
pub const DEFAULT_KEEP_FIRING_FOR: Duration = Duration::from_secs(10 * 60);

/// The rules every agent has unless `alerts:` replaces one by name.
pub fn builtin_rules() -> Vec<AlertRule> {
    let min = |m: u64| Duration::from_secs(m * 60);
    let rule = |name: &str,
                probes: &[&str],
                statuses: &[Status],
                reasons: &[Reason],
                for_,
                severity: &str| AlertRule {
        name: name.to_string(),
        probes: probes.iter().map(|p| p.to_string()).collect(),
        statuses: statuses.to_vec(),
        reasons: reasons.to_vec(),
        targets: TargetFilter::default(),
        for_,
        keep_firing_for: DEFAULT_KEEP_FIRING_FOR,
        severity: severity.to_string(),
        reauth: false,
    };
    vec![
        AlertRule {
            reauth: true,
            ..rule(
                "MailReauthRequired",
                &[],
                &[],
                &reauth_reasons(),
                min(0),
                "critical",
            )
        },
        rule(
            "MailAuthFailing",
            &["auth"],
            &[Status::Critical],
            &[],
            min(10),
            "critical",
        ),
        rule(
            "MailOAuthTokenExpiring",
            &["token"],
            &[Status::Warning, Status::Critical],
            &[Reason::OauthTokenExpiring],
            min(0),
            "warning",
        ),
        rule(
            "MailOAuthRefreshFailing",
            &["token"],
            &[Status::Critical, Status::Warning],
            &[
                Reason::OauthEndpointError,
                Reason::OauthInvalidClient,
                Reason::RateLimited,
            ],
            min(30),
            "warning",
        ),
        rule(
            "MailCertificateInvalid",
            &["tls"],
            &[Status::Critical],
            &[
                Reason::TlsCertExpired,
                Reason::TlsCertNotYetValid,
                Reason::TlsHostnameMismatch,
                Reason::TlsChainIncomplete,
                Reason::TlsUntrustedRoot,
                Reason::TlsSelfSigned,
                Reason::TlsWeak,
            ],
            min(5),
            "critical",
        ),
        rule(
            "MailCertificateExpiring",
            &["tls"],
            &[Status::Warning, Status::Critical],
            &[Reason::TlsCertExpiring],
            min(0),
            "warning",
        ),
        rule(
            "MailTargetUnreachable",
            &["port"],
            &[Status::Critical],
            &[],
            min(5),
            "critical",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_matches_on_every_list_it_has() {
        let rules = builtin_rules();
        let reauth = &rules[0];
        assert!(reauth.matches(
            "token",
            Status::Critical,
            Some(Reason::OauthRefreshTokenRevoked)
        ));
        assert!(reauth.matches(
            "auth",
            Status::Critical,
            Some(Reason::AuthAppPasswordRequired)
        ));
        assert!(!reauth.matches("auth", Status::Critical, Some(Reason::ServerTimeout)));
        let auth = rules.iter().find(|r| r.name == "MailAuthFailing").unwrap();
        assert!(auth.matches("auth", Status::Critical, Some(Reason::ServerTimeout)));
        assert!(!auth.matches("tls", Status::Critical, Some(Reason::ServerTimeout)));
        assert!(!auth.matches("auth", Status::Ok, None));
    }
}
