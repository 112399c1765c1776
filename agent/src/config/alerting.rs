//! `alerts:` and `webhooks:`: the alert rules (merged over the built-in ones) and where their
//! events go.

use super::raw::{RawAlert, RawTargetFilter, RawWebhook};
use super::validator::{loc, Validator};
use super::{Webhook, WebhookFormat, WEBHOOK_EVENTS};
use crate::alerts::rule::{builtin_rules, AlertRule, TargetFilter, DEFAULT_KEEP_FIRING_FOR};
use mailbeat_sdk::{Reason, Status};
use std::collections::HashSet;
use std::time::Duration;

const SEVERITIES: &[&str] = &["critical", "warning", "info"];

impl Validator<'_> {
    /// The rules in force: the built-in ones, each replaced by a configured rule of its name,
    /// then the other configured rules in file order.
    pub(super) fn alerts(&mut self, raw: &[RawAlert], probes: &[String]) -> Vec<AlertRule> {
        let mut seen = HashSet::new();
        let mut configured = Vec::new();
        for (i, a) in raw.iter().enumerate() {
            let key = format!("alerts[{i}]");
            let name = a.name.value.trim().to_string();
            let valid_name = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                self.problem(
                    loc(&a.name),
                    format!("{key}.name"),
                    "must be a Prometheus-style alert name (letters, digits, _)",
                );
            }
            if !seen.insert(name.clone()) {
                self.problem(
                    loc(&a.name),
                    format!("{key}.name"),
                    format!("duplicate alert name {name:?}"),
                );
            }
            let m = a.matches.as_ref();
            let mut rule_probes = Vec::new();
            for (j, p) in m
                .map(|m| m.probes.as_slice())
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                if probes.contains(&p.value) {
                    rule_probes.push(p.value.clone());
                } else {
                    self.problem(
                        loc(p),
                        format!("{key}.match.probes[{j}]"),
                        format!("unknown probe {:?}; one of {}", p.value, probes.join(", ")),
                    );
                }
            }
            let mut statuses = Vec::new();
            for (j, s) in m
                .map(|m| m.statuses.as_slice())
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                match Status::ALL.iter().find(|x| x.as_str() == s.value.trim()) {
                    Some(status) => statuses.push(*status),
                    None => self.problem(
                        loc(s),
                        format!("{key}.match.statuses[{j}]"),
                        format!(
                            "unknown status {:?}; one of ok, warning, critical, unknown",
                            s.value
                        ),
                    ),
                }
            }
            let mut reasons = Vec::new();
            for (j, r) in m
                .map(|m| m.reasons.as_slice())
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                match r.value.trim().parse::<Reason>() {
                    Ok(reason) => reasons.push(reason),
                    Err(_) => self.problem(
                        loc(r),
                        format!("{key}.match.reasons[{j}]"),
                        format!(
                            "unknown reason {:?} (see DESIGN §4 / README for the names)",
                            r.value
                        ),
                    ),
                }
            }
            let builtin = builtin_rules().into_iter().find(|b| b.name == name);
            let for_ = a
                .for_
                .as_ref()
                .and_then(|d| self.zero_or_duration(d, &format!("{key}.for")))
                .or(builtin.as_ref().map(|b| b.for_))
                .unwrap_or(Duration::ZERO);
            let keep_firing_for = a
                .keep_firing_for
                .as_ref()
                .and_then(|d| self.zero_or_duration(d, &format!("{key}.keep_firing_for")))
                .unwrap_or(DEFAULT_KEEP_FIRING_FOR);
            let severity = match &a.severity {
                Some(s) if SEVERITIES.contains(&s.value.trim()) => s.value.trim().to_string(),
                Some(s) => {
                    self.problem(
                        loc(s),
                        format!("{key}.severity"),
                        format!(
                            "unknown severity {:?}; one of {}",
                            s.value,
                            SEVERITIES.join(", ")
                        ),
                    );
                    "critical".into()
                }
                None => builtin
                    .as_ref()
                    .map(|b| b.severity.clone())
                    .unwrap_or_else(|| "critical".into()),
            };
            // A rule named like a built-in one tunes it: what it does not say is the built-in's.
            if let (Some(b), None) = (&builtin, &a.matches) {
                rule_probes = b.probes.clone();
                statuses = b.statuses.clone();
                reasons = b.reasons.clone();
            }
            let targets = match (&builtin, &a.targets) {
                (Some(b), None) => b.targets.clone(),
                _ => self.target_filter(a.targets.as_ref(), &format!("{key}.targets")),
            };
            let reauth = builtin.as_ref().is_some_and(|b| b.reauth)
                || (!reasons.is_empty() && reasons.iter().all(|r| r.needs_reauth()));
            configured.push(AlertRule {
                name,
                probes: rule_probes,
                statuses,
                reasons,
                targets,
                for_,
                keep_firing_for,
                severity,
                reauth,
            });
        }
        let mut rules: Vec<AlertRule> = builtin_rules()
            .into_iter()
            .map(|b| match configured.iter().position(|c| c.name == b.name) {
                Some(i) => configured.remove(i),
                None => b,
            })
            .collect();
        rules.extend(configured);
        rules
    }

    pub(super) fn webhooks(
        &mut self,
        raw: &[RawWebhook],
        allow_inline: bool,
        global: &super::Global,
    ) -> Vec<Webhook> {
        let mut webhooks = Vec::new();
        let mut seen = HashSet::new();
        for (i, w) in raw.iter().enumerate() {
            let key = format!("webhooks[{i}]");
            if !seen.insert(w.name.value.clone()) {
                self.problem(
                    loc(&w.name),
                    format!("{key}.name"),
                    format!("duplicate webhook name {:?}", w.name.value),
                );
            }
            let url = w.url.value.trim();
            if reqwest::Url::parse(url)
                .map(|u| !matches!(u.scheme(), "http" | "https"))
                .unwrap_or(true)
            {
                // Never echo the URL: Slack- and Teams-style URLs are secrets.
                self.problem(
                    loc(&w.url),
                    format!("{key}.url"),
                    "must be an http:// or https:// URL",
                );
            }
            let secret = match (&w.secret_file, &w.secret) {
                (Some(f), None) => self.secret_file(f, &format!("{key}.secret_file")),
                (None, Some(s)) => self.secret(s, &format!("{key}.secret"), allow_inline),
                (Some(f), Some(_)) => {
                    self.problem(loc(f), key.clone(), "set only one of secret_file, secret");
                    None
                }
                (None, None) => None,
            };
            let mut events = Vec::new();
            for (j, e) in w.events.iter().enumerate() {
                if WEBHOOK_EVENTS.contains(&e.value.as_str()) {
                    events.push(e.value.clone());
                } else {
                    self.problem(
                        loc(e),
                        format!("{key}.events[{j}]"),
                        format!(
                            "unknown event {:?}; one of {}",
                            e.value,
                            WEBHOOK_EVENTS.join(", ")
                        ),
                    );
                }
            }
            if w.events.is_empty() {
                events = WEBHOOK_EVENTS.iter().map(|s| s.to_string()).collect();
            }
            let format = match &w.format {
                None => WebhookFormat::Mailbeat,
                Some(f) => match f.value.trim() {
                    "mailbeat" => WebhookFormat::Mailbeat,
                    "alertmanager" => WebhookFormat::Alertmanager,
                    other => {
                        self.problem(
                            loc(f),
                            format!("{key}.format"),
                            format!("unknown format {other:?}; one of mailbeat, alertmanager"),
                        );
                        WebhookFormat::Mailbeat
                    }
                },
            };
            let timeout = w
                .timeout
                .as_ref()
                .and_then(|d| self.duration(d, &format!("{key}.timeout")))
                .unwrap_or(Duration::from_secs(10));
            let max_age = w
                .max_age
                .as_ref()
                .and_then(|d| self.duration(d, &format!("{key}.max_age")))
                .unwrap_or(Duration::from_secs(24 * 3600));
            let ca = w.ca_file.as_ref().and_then(|f| self.ca_file(f, &key));
            let roots = self.roots(None, &key, global, ca.map(|(_, certs)| certs));
            webhooks.push(Webhook {
                roots,
                name: w.name.value.clone(),
                url: url.to_string(),
                secret,
                events,
                targets: self.target_filter(w.targets.as_ref(), &format!("{key}.targets")),
                format,
                timeout,
                max_age,
            });
        }
        webhooks
    }

    fn target_filter(&mut self, raw: Option<&RawTargetFilter>, _key: &str) -> TargetFilter {
        raw.map(|f| TargetFilter {
            names: f.names.iter().map(|n| n.value.trim().to_string()).collect(),
            labels: f.labels.clone(),
        })
        .unwrap_or_default()
    }

    /// A duration that may be zero (`for: 0s`).
    fn zero_or_duration(
        &mut self,
        d: &serde_saphyr::Spanned<String>,
        key: &str,
    ) -> Option<Duration> {
        match d.value.trim() {
            "0" | "0s" | "0m" => Some(Duration::ZERO),
            _ => self.duration(d, key),
        }
    }
}
