//! The bodies webhooks receive: mailbeat's own (DESIGN §7) and Alertmanager's webhook payload
//! (version 4), so receivers written for Alertmanager work unchanged. Built once, when the
//! delivery is queued, and sent byte for byte on every attempt.

use crate::alerts::engine::Incident;
use serde_json::{json, Value};
use std::time::SystemTime;

/// A webhook event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    ReauthRequired,
    AlertFiring,
    AlertResolved,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::ReauthRequired => "reauth_required",
            Event::AlertFiring => "alert_firing",
            Event::AlertResolved => "alert_resolved",
        }
    }
}

pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// mailbeat's payload.
pub fn mailbeat(event: Event, delivery_id: &str, incident: &Incident, now: SystemTime) -> String {
    let t = &incident.target;
    let mut body = json!({
        "version": 1,
        "event": event.as_str(),
        "delivery_id": delivery_id,
        "occurred_at": rfc3339(now),
        "target": {
            "name": t.name,
            "protocol": t.protocol.map(|p| p.as_str()),
            "host": t.host,
            "port": t.port,
            "provider": t.provider,
            "account": t.account.as_ref().map(|a| a.username.clone()),
        },
        "probe": incident.cause.probe,
        "status": incident.cause.status,
        "reason": incident.cause.reason,
        "message": incident.cause.message,
        "remediation": incident.cause.remediation,
        "alert": alert_json(incident),
    });
    if let Some(url) = &incident.reauth_url {
        body["reauth_url"] = Value::String(url.clone());
    }
    body.to_string()
}

fn alert_json(incident: &Incident) -> Value {
    json!({
        "name": incident.rule,
        "severity": incident.severity,
        "state": if incident.resolved_at.is_some() { "resolved" } else { "firing" },
        "incident": incident.id,
        "started_at": rfc3339(incident.started_at),
        "ended_at": incident.resolved_at.map(rfc3339),
    })
}

/// Alertmanager's webhook payload (version 4) for one alert of `receiver`.
pub fn alertmanager(receiver: &str, incident: &Incident, external_url: &str) -> String {
    let t = &incident.target;
    let status = if incident.resolved_at.is_some() {
        "resolved"
    } else {
        "firing"
    };
    let mut labels = serde_json::Map::new();
    labels.insert("alertname".into(), incident.rule.clone().into());
    labels.insert("target".into(), t.name.clone().into());
    labels.insert("severity".into(), incident.severity.clone().into());
    labels.insert("probe".into(), incident.cause.probe.clone().into());
    if let Some(r) = &incident.cause.reason {
        labels.insert("reason".into(), r.clone().into());
    }
    for (k, v) in &t.labels {
        labels.entry(k.clone()).or_insert_with(|| v.clone().into());
    }
    let mut annotations = serde_json::Map::new();
    annotations.insert(
        "summary".into(),
        format!(
            "{}: {} {} ({})",
            t.name,
            incident.cause.probe,
            incident.cause.status,
            incident.cause.reason.as_deref().unwrap_or("ok")
        )
        .into(),
    );
    annotations.insert("description".into(), incident.cause.message.clone().into());
    if let Some(r) = &incident.cause.remediation {
        annotations.insert("remediation".into(), r.clone().into());
    }
    if let Some(u) = &incident.reauth_url {
        annotations.insert("reauth_url".into(), u.clone().into());
    }
    let labels = Value::Object(labels);
    let annotations = Value::Object(annotations);
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{}\", target=\"{}\"}}", incident.rule, t.name),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": incident.rule, "target": t.name},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": [{
            "status": status,
            "labels": labels,
            "annotations": annotations,
            "startsAt": rfc3339(incident.started_at),
            "endsAt": incident.resolved_at.map(rfc3339).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            "generatorURL": external_url,
            "fingerprint": incident.id.chars().take(16).collect::<String>(),
        }],
    })
    .to_string()
}
