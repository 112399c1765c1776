//! What the status page shows, built from the configuration, the result store and the alert
//! engine, before any HTML: targets with their checks, the worst first, and the counts.

use super::words::{reason_words, scrub};
use crate::alerts::engine::{Alert, Phase};
use crate::config::Config;
use crate::jobs::JobKey;
use crate::store::{Entry, ResultStore};
use mailbeat_sdk::{Reason, Status};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

const DAY: f64 = 86_400.0;

/// The whole page.
#[derive(Debug)]
pub struct Page {
    pub generated_at: SystemTime,
    /// When the most recent check finished.
    pub last_check: Option<SystemTime>,
    pub summary: Summary,
    /// Checks configured, and how many have a result.
    pub checks: (usize, usize),
    /// Alerts firing and pending, over all targets.
    pub alerts: (usize, usize),
    /// Worst first, then in config order.
    pub targets: Vec<TargetView>,
    pub config_path: String,
}

/// Targets by their worst status; `waiting` have no result yet.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub ok: usize,
    pub warning: usize,
    pub critical: usize,
    pub unknown: usize,
    pub waiting: usize,
}

/// One target and its checks.
#[derive(Debug)]
pub struct TargetView {
    pub name: String,
    /// `imap · 127.0.0.1:993 · implicit TLS`.
    pub endpoint: String,
    /// The login name (never a secret).
    pub account: Option<String>,
    pub provider: Option<String>,
    /// The worst status of its checks; `None` before any has run.
    pub status: Option<Status>,
    pub checks: Vec<CheckView>,
    /// Alerts pending or firing on it, firing first.
    pub alerts: Vec<AlertView>,
    /// Days until the earliest certificate the tls probe saw ends (negative once ended).
    pub cert_days: Option<i64>,
    /// How the tls probe judged that date: its status when its reason is about expiry (so the
    /// target's own `warn_days`/`critical_days` decide), ok otherwise.
    pub cert_status: Option<Status>,
    /// For accounts whose OAuth2 tokens the agent keeps.
    pub oauth: Option<OauthView>,
}

/// One check's latest result.
#[derive(Debug)]
pub struct CheckView {
    pub probe: String,
    /// `None` before it has run.
    pub status: Option<Status>,
    pub reason: Option<Reason>,
    /// The reason in plain words.
    pub headline: Option<String>,
    /// The server's words (or the probe's), secrets hidden.
    pub message: String,
    pub remediation: Option<String>,
    /// Where a multi-hop check (delivery: auth, mail, rcpt, data, receive) failed.
    pub hop: Option<String>,
    pub checked_at: Option<SystemTime>,
    pub duration_seconds: f64,
}

/// An alert on a target.
#[derive(Debug)]
pub struct AlertView {
    pub name: String,
    pub severity: String,
    pub firing: bool,
    /// Pending since, or firing since.
    pub since: SystemTime,
    pub probe: String,
}

/// An OAuth2 account: where to re-authorize, and when that will be needed.
#[derive(Debug)]
pub struct OauthView {
    pub href: String,
    /// The predicted end of the refresh token (RFC 3339, as the token probe gave it).
    pub reauth_by: Option<String>,
    pub days_left: Option<i64>,
}

/// Builds the page. `alerts` are the engine's current ones.
pub fn build(
    config: &Config,
    store: &ResultStore,
    mut alerts: Vec<Alert>,
    now: SystemTime,
) -> Page {
    alerts.sort_by_key(|a| (a.phase != Phase::Firing, a.rule.clone()));
    let mut last_check = None;
    let (configured, with_result) = store.coverage();
    let mut targets = store.read(|_, entries| {
        let entries: HashMap<&JobKey, &Entry> = entries.collect();
        config
            .targets
            .iter()
            .map(|tc| {
                let t = &tc.target;
                let checks: Vec<CheckView> = tc
                    .probes
                    .iter()
                    .map(|p| {
                        let entry = entries.get(&JobKey::new(&t.name, &p.name)).copied();
                        if let Some(e) = entry {
                            last_check = last_check.max(Some(e.finished_at));
                        }
                        check_view(&p.name, entry)
                    })
                    .collect();
                let tls = entries.get(&JobKey::new(&t.name, "tls")).copied();
                let token = entries.get(&JobKey::new(&t.name, "token")).copied();
                TargetView {
                    name: t.name.clone(),
                    endpoint: endpoint(t),
                    account: t.account.as_ref().map(|a| a.username.clone()),
                    provider: t.provider.clone(),
                    status: checks
                        .iter()
                        .filter_map(|c| c.status)
                        .max_by_key(|s| s.severity()),
                    checks,
                    alerts: alerts
                        .iter()
                        .filter(|a| a.target == t.name)
                        .map(|a| AlertView {
                            name: a.rule.clone(),
                            severity: a.severity.clone(),
                            firing: a.phase == Phase::Firing,
                            since: a.fired_at.unwrap_or(a.active_since),
                            probe: a.cause.probe.clone(),
                        })
                        .collect(),
                    cert_days: tls.and_then(|e| cert_days(e, now)),
                    cert_status: tls.map(|e| match e.result.reason {
                        Some(Reason::TlsCertExpiring | Reason::TlsCertExpired) => e.result.status,
                        _ => Status::Ok,
                    }),
                    oauth: tc.oauth.as_ref().map(|_| oauth_view(&t.name, token, now)),
                }
            })
            .collect::<Vec<_>>()
    });
    // Worst first; a target that has not run yet after those that are ok. Stable: config order
    // within a status.
    targets.sort_by_key(|t| match t.status {
        Some(s) => 4 - s.severity() as i32,
        None => 9,
    });
    let mut summary = Summary::default();
    for t in &targets {
        match t.status {
            Some(Status::Ok) => summary.ok += 1,
            Some(Status::Warning) => summary.warning += 1,
            Some(Status::Critical) => summary.critical += 1,
            Some(Status::Unknown) => summary.unknown += 1,
            None => summary.waiting += 1,
        }
    }
    let firing = alerts.iter().filter(|a| a.phase == Phase::Firing).count();
    Page {
        alerts: (firing, alerts.len() - firing),
        generated_at: now,
        last_check,
        summary,
        checks: (configured, with_result),
        targets,
        config_path: config.path.display().to_string(),
    }
}

fn check_view(probe: &str, entry: Option<&Entry>) -> CheckView {
    let Some(e) = entry else {
        return CheckView {
            probe: probe.to_string(),
            status: None,
            reason: None,
            headline: None,
            message: "not checked yet".into(),
            remediation: None,
            hop: None,
            checked_at: None,
            duration_seconds: 0.0,
        };
    };
    let r = &e.result;
    CheckView {
        probe: probe.to_string(),
        status: Some(r.status),
        reason: r.reason,
        headline: r.reason.map(reason_words),
        message: scrub(&r.message),
        remediation: r.remediation.as_deref().map(scrub),
        hop: crate::check::failed_hop(r).map(str::to_string),
        checked_at: Some(e.finished_at),
        duration_seconds: r.duration_seconds,
    }
}

fn endpoint(t: &mailbeat_sdk::Target) -> String {
    let protocol = t.protocol.map(|p| p.as_str()).unwrap_or("");
    let address = match t.port {
        Some(port) if t.host.contains(':') && !t.host.starts_with('[') => {
            format!("[{}]:{port}", t.host)
        }
        Some(port) => format!("{}:{port}", t.host),
        None => t.host.clone(),
    };
    let tls = match t.tls {
        mailbeat_sdk::TlsMode::Implicit => "implicit TLS",
        mailbeat_sdk::TlsMode::Starttls => "STARTTLS",
        mailbeat_sdk::TlsMode::None => "no TLS",
    };
    [protocol, &address, tls]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Whole days from `now` to `at` (rounded down; negative when past).
fn days_until(at: f64, now: SystemTime) -> i64 {
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64();
    ((at - now) / DAY).floor() as i64
}

fn cert_days(tls: &Entry, now: SystemTime) -> Option<i64> {
    tls.result
        .observations
        .get("tls_earliest_cert_expiry_timestamp_seconds")
        .map(|at| days_until(*at, now))
}

fn oauth_view(name: &str, token: Option<&Entry>, now: SystemTime) -> OauthView {
    let reauth_by = token
        .and_then(|e| e.result.details.get("refresh_token_expires_at"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let days_left = reauth_by
        .as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| days_until(d.timestamp() as f64, now));
    OauthView {
        href: crate::reauth_page::path_of(name),
        reauth_by,
        days_left,
    }
}
