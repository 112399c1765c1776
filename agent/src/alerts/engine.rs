//! The alert engine: for every (rule, target) it keeps a state (inactive, pending, firing),
//! moved by each result the runner records and by a tick for what only time changes (`for`
//! elapsed, `keep_firing_for` over). Every change is written to the state database together
//! with the webhook deliveries it causes, in one transaction, before the deliverer is woken.
//!
//! An incident is one firing period of one rule on one target: it makes one `alert_firing`, one
//! `alert_resolved` and (for re-authorization rules) one `reauth_required` per webhook, however
//! many checks of the target fail and however often a flapping check flaps within
//! `keep_firing_for`.

use super::rule::AlertRule;
use crate::config::{Config, Webhook, WebhookFormat};
use crate::state::alerts::{AlertChange, AlertJournal, StoredAlert};
use crate::state::outbox::NewDelivery;
use crate::webhooks::payload::{self, Event};
use mailbeat_sdk::{CheckResult, Status, Target};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;

/// The result that put an alert in its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    pub probe: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: String,
    pub remediation: Option<String>,
}

impl Cause {
    fn of(probe: &str, r: &CheckResult) -> Cause {
        Cause {
            probe: probe.to_string(),
            status: r.status.as_str().to_string(),
            reason: r.reason.map(|r| r.as_str().to_string()),
            message: r.message.clone(),
            remediation: r.remediation.clone(),
        }
    }
}

/// Where an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Firing,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Firing => "firing",
        }
    }
}

/// One alert that is pending or firing.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub rule: String,
    pub target: String,
    pub severity: String,
    pub phase: Phase,
    /// Since when its condition holds.
    pub active_since: SystemTime,
    pub fired_at: Option<SystemTime>,
    /// Since when a firing alert's condition no longer holds (`keep_firing_for` counts from it).
    pub inactive_since: Option<SystemTime>,
    pub incident: String,
    /// Shared with the engine's latest result and its published view (its words and the
    /// remediation are most of an alert's size).
    pub cause: Arc<Cause>,
}

/// What a payload says about an incident.
#[derive(Debug, Clone)]
pub struct Incident {
    pub id: String,
    pub rule: String,
    pub severity: String,
    pub target: Target,
    pub cause: Arc<Cause>,
    pub started_at: SystemTime,
    pub resolved_at: Option<SystemTime>,
    pub reauth_url: Option<String>,
}

/// The latest result of one probe of a target, as the rules read it.
///
/// Its [`Cause`] (the server's words and the remediation) is kept only when a configured rule
/// matches the result: the rules read no other, and at 100,000 targets a copy of every ok
/// result's words in here was the largest part of the agent's memory.
#[derive(Debug)]
struct Latest {
    probe: Box<str>,
    status: Status,
    reason: Option<mailbeat_sdk::Reason>,
    cause: Option<Arc<Cause>>,
}

impl Latest {
    /// The cause of an alert this result puts in its state: the one kept, or (for a result
    /// recorded before a reload brought the rule that matches it) its status and reason alone
    /// until the probe reports again.
    fn cause(&self) -> Arc<Cause> {
        match &self.cause {
            Some(c) => c.clone(),
            None => Arc::new(Cause {
                probe: self.probe.to_string(),
                status: self.status.as_str().to_string(),
                reason: self.reason.map(|r| r.as_str().to_string()),
                message: String::new(),
                remediation: None,
            }),
        }
    }
}

/// The latest result of each probe of one target, in probe-name order (a target has a few).
type TargetLatest = Vec<Latest>;

struct Inner {
    config: Option<Arc<Config>>,
    /// The latest result of every probe, by target (a rule looks at one target's at a time).
    latest: HashMap<String, TargetLatest>,
    alerts: BTreeMap<(String, String), Alert>,
    /// The alerts changed since the view was last published, to update just those in it: a
    /// copy of every alert per change made an outage of 100,000 targets quadratic.
    changed: Vec<(String, String)>,
    /// Every alert may have changed (a reload): the view is built again.
    rebuild_view: bool,
    /// Index of every configured target in `config.targets`, by name: a result is looked up in
    /// it (a scan of 100,000 targets per result, under this lock, took a core at start-up).
    by_name: HashMap<String, usize>,
}

/// What one evaluation pass writes, in one transaction.
#[derive(Default)]
struct Batch {
    changes: Vec<AlertChange>,
    deliveries: Vec<NewDelivery>,
}

/// The engine; one per agent, kept across reloads.
pub struct AlertEngine {
    inner: tokio::sync::Mutex<Inner>,
    journal: RwLock<Option<AlertJournal>>,
    /// The alerts as last committed, for `/metrics` and the status page.
    view: RwLock<BTreeMap<(String, String), Alert>>,
    /// Woken after deliveries are committed.
    pub deliveries_queued: Arc<Notify>,
    /// The agent's URL as people reach it (`--web.external-url`), for `reauth_url`.
    external_url: RwLock<String>,
}

impl Default for AlertEngine {
    fn default() -> Self {
        AlertEngine {
            inner: tokio::sync::Mutex::new(Inner {
                config: None,
                latest: HashMap::new(),
                by_name: HashMap::new(),
                alerts: BTreeMap::new(),
                changed: Vec::new(),
                rebuild_view: false,
            }),
            journal: RwLock::new(None),
            view: RwLock::new(BTreeMap::new()),
            deliveries_queued: Arc::new(Notify::new()),
            external_url: RwLock::new("http://127.0.0.1:9725".into()),
        }
    }
}

fn random_id() -> String {
    let mut b = [0u8; 16];
    let _ = rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn stored(a: &Alert) -> StoredAlert {
    StoredAlert {
        rule: a.rule.clone(),
        target: a.target.clone(),
        state: a.phase.as_str().to_string(),
        active_since: a.active_since,
        fired_at: a.fired_at,
        inactive_since: a.inactive_since,
        incident: a.incident.clone(),
        cause: serde_json::to_string(&*a.cause).unwrap_or_default(),
    }
}

impl AlertEngine {
    /// Attaches the journal and restores the stored alerts. Blocking: call it at start.
    pub fn attach(&self, journal: AlertJournal) -> Result<(), crate::state::StateError> {
        let stored = journal.load_blocking()?;
        let mut inner = self.inner.blocking_lock();
        for s in stored {
            let Ok(cause) = serde_json::from_str::<Cause>(&s.cause).map(Arc::new) else {
                continue;
            };
            let phase = if s.state == "firing" {
                Phase::Firing
            } else {
                Phase::Pending
            };
            inner.alerts.insert(
                (s.rule.clone(), s.target.clone()),
                Alert {
                    severity: String::new(),
                    rule: s.rule,
                    target: s.target,
                    phase,
                    active_since: s.active_since,
                    fired_at: s.fired_at,
                    inactive_since: s.inactive_since,
                    incident: s.incident,
                    cause,
                },
            );
        }
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = inner.alerts.clone();
        drop(inner);
        *self.journal.write().unwrap_or_else(|e| e.into_inner()) = Some(journal);
        Ok(())
    }

    /// The state database, once attached (the deliverer reads the outbox from it).
    pub fn db(&self) -> Option<Arc<crate::state::StateDb>> {
        self.journal
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|j| j.db().clone())
    }

    /// Sets the URL people reach the agent at.
    pub fn set_external_url(&self, url: &str) {
        *self.external_url.write().unwrap_or_else(|e| e.into_inner()) =
            url.trim_end_matches('/').to_string();
    }

    /// Takes the rules, targets and webhooks of `config`; alerts of rules or targets that are
    /// gone are dropped without an event (the configuration, not the account, changed).
    pub async fn configure(&self, config: Arc<Config>) {
        let mut inner = self.inner.lock().await;
        let by_name: HashMap<String, usize> = config
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| (t.target.name.clone(), i))
            .collect();
        let keep = |rule: &str, target: &str| {
            config.alerts.iter().any(|r| {
                r.name == rule
                    && by_name
                        .get(target)
                        .is_some_and(|i| r.targets.matches(&config.targets[*i].target))
            })
        };
        let gone: Vec<_> = inner
            .alerts
            .keys()
            .filter(|(r, t)| !keep(r, t))
            .cloned()
            .collect();
        for key in &gone {
            inner.alerts.remove(key);
        }
        for a in inner.alerts.values_mut() {
            if let Some(r) = config.alerts.iter().find(|r| r.name == a.rule) {
                a.severity = r.severity.clone();
            }
        }
        inner.rebuild_view = true;
        inner.latest.retain(|t, _| by_name.contains_key(t));
        inner.by_name = by_name;
        inner.config = Some(config);
        let changes = gone
            .into_iter()
            .map(|(rule, target)| AlertChange::Remove { rule, target })
            .collect();
        let batch = Batch {
            changes,
            deliveries: Vec::new(),
        };
        let staged = self.stage(&mut inner, batch);
        drop(inner);
        self.finish(staged).await;
    }

    /// The alerts pending or firing now.
    pub fn alerts(&self) -> Vec<Alert> {
        let view = self.view.read().unwrap_or_else(|e| e.into_inner());
        view.values().cloned().collect()
    }

    /// A result of `probe` on `target` was recorded at `now`.
    pub async fn observe(&self, target: &str, probe: &str, result: &CheckResult, now: SystemTime) {
        let mut inner = self.inner.lock().await;
        let Some(config) = inner.config.clone() else {
            return;
        };
        let Some(tc) = inner.by_name.get(target).map(|i| &config.targets[*i]) else {
            return;
        };
        let matched = config
            .alerts
            .iter()
            .any(|r| r.matches(probe, result.status, result.reason));
        let latest = Latest {
            probe: probe.into(),
            status: result.status,
            reason: result.reason,
            cause: matched.then(|| Arc::new(Cause::of(probe, result))),
        };
        let of_target = match inner.latest.get_mut(target) {
            Some(v) => v,
            None => inner.latest.entry(target.to_string()).or_default(),
        };
        match of_target.binary_search_by(|l| (*l.probe).cmp(probe)) {
            Ok(i) => of_target[i] = latest,
            Err(i) => of_target.insert(i, latest),
        }
        let mut batch = Batch::default();
        for rule in &config.alerts {
            let watches = rule.probes.is_empty() || rule.probes.iter().any(|p| p == probe);
            if watches && rule.targets.matches(&tc.target) {
                self.evaluate(&mut inner, &config, rule, &tc.target, now, &mut batch);
            }
        }
        let staged = self.stage(&mut inner, batch);
        drop(inner);
        self.finish(staged).await;
    }

    /// Moves what time alone moves: pending past `for`, firing past `keep_firing_for`.
    pub async fn tick(&self, now: SystemTime) {
        let mut inner = self.inner.lock().await;
        let Some(config) = inner.config.clone() else {
            return;
        };
        // Only alerts time moves now: a pending one past its `for`, a firing one whose condition
        // ended past its `keep_firing_for`. In an outage of 100,000 targets, evaluating every
        // alert every second was a core's work.
        let due = |(rule, _): &(String, String), a: &Alert| {
            let since = |t: SystemTime| now.duration_since(t).unwrap_or_default();
            let Some(rule) = config.alerts.iter().find(|r| r.name == *rule) else {
                return false;
            };
            match (a.phase, a.inactive_since) {
                (Phase::Pending, _) => since(a.active_since) >= rule.for_,
                (Phase::Firing, Some(off)) => since(off) >= rule.keep_firing_for,
                (Phase::Firing, None) => false,
            }
        };
        let keys: Vec<_> = inner
            .alerts
            .iter()
            .filter(|(k, a)| due(k, a))
            .map(|(k, _)| k.clone())
            .collect();
        if keys.is_empty() {
            return;
        }
        let mut batch = Batch::default();
        for (rule, target) in keys {
            let (Some(rule), Some(target)) = (
                config.alerts.iter().find(|r| r.name == rule),
                inner
                    .by_name
                    .get(&target)
                    .map(|i| &config.targets[*i].target),
            ) else {
                continue;
            };
            self.evaluate(&mut inner, &config, rule, target, now, &mut batch);
        }
        let staged = self.stage(&mut inner, batch);
        drop(inner);
        self.finish(staged).await;
    }

    fn evaluate(
        &self,
        inner: &mut Inner,
        config: &Config,
        rule: &AlertRule,
        target: &Target,
        now: SystemTime,
        batch: &mut Batch,
    ) {
        let key = (rule.name.clone(), target.name.clone());
        // The first result of the target's probes that meets the rule, in probe order.
        let results = inner.latest.get(&target.name);
        let active = results.and_then(|r| {
            r.iter()
                .find(|l| rule.matches(&l.probe, l.status, l.reason))
                .map(Latest::cause)
        });
        // Whether the probe that caused the alert has reported since start: a restored alert
        // waits for it (another probe's ok says nothing about the cause).
        let current_cause = inner.alerts.get(&key).map(|a| a.cause.probe.clone());
        let seen = results.is_some_and(|r| match &current_cause {
            Some(probe) => r.iter().any(|l| *l.probe == **probe),
            None => r
                .iter()
                .any(|l| rule.probes.is_empty() || rule.probes.iter().any(|p| *p == *l.probe)),
        });
        let since = |t: SystemTime| now.duration_since(t).unwrap_or_default();
        let current = inner.alerts.get(&key).cloned();
        let next = match (current, active) {
            (None, None) => return,
            (None, Some(cause)) => Alert {
                rule: rule.name.clone(),
                target: target.name.clone(),
                severity: rule.severity.clone(),
                phase: Phase::Pending,
                active_since: now,
                fired_at: None,
                inactive_since: None,
                incident: random_id(),
                cause,
            },
            (Some(a), Some(cause)) => Alert {
                cause,
                inactive_since: None,
                ..a
            },
            (Some(a), None) if !seen => {
                let _ = a;
                return;
            }
            (Some(a), None) if a.phase == Phase::Pending => {
                inner.alerts.remove(&key);
                inner.changed.push(key.clone());
                batch.changes.push(AlertChange::Remove {
                    rule: key.0,
                    target: key.1,
                });
                return;
            }
            (Some(a), None) => Alert {
                inactive_since: Some(a.inactive_since.unwrap_or(now)),
                ..a
            },
        };
        let mut next = next;
        next.severity = rule.severity.clone();
        if next.phase == Phase::Pending && since(next.active_since) >= rule.for_ {
            next.phase = Phase::Firing;
            next.fired_at = Some(now);
            self.queue(config, rule, target, &next, Event::AlertFiring, now, batch);
            if rule.reauth {
                self.queue(
                    config,
                    rule,
                    target,
                    &next,
                    Event::ReauthRequired,
                    now,
                    batch,
                );
            }
        }
        if let (Phase::Firing, Some(off)) = (next.phase, next.inactive_since) {
            if since(off) >= rule.keep_firing_for {
                self.queue(
                    config,
                    rule,
                    target,
                    &next,
                    Event::AlertResolved,
                    now,
                    batch,
                );
                inner.alerts.remove(&key);
                inner.changed.push(key.clone());
                batch.changes.push(AlertChange::Remove {
                    rule: key.0,
                    target: key.1,
                });
                return;
            }
        }
        let before = inner.alerts.get(&key);
        let persist = before.is_none_or(|b| {
            b.phase != next.phase
                || b.inactive_since.is_some() != next.inactive_since.is_some()
                || b.cause.reason != next.cause.reason
        });
        if persist {
            batch.changes.push(AlertChange::Upsert(stored(&next)));
        }
        if before != Some(&next) {
            inner.changed.push(key.clone());
            inner.alerts.insert(key, next);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn queue(
        &self,
        config: &Config,
        rule: &AlertRule,
        target: &Target,
        alert: &Alert,
        event: Event,
        now: SystemTime,
        batch: &mut Batch,
    ) {
        let external = self
            .external_url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let oauth = target.account.as_ref().is_some_and(|a| a.token_store);
        let incident = Incident {
            id: alert.incident.clone(),
            rule: rule.name.clone(),
            severity: rule.severity.clone(),
            target: target.clone(),
            cause: alert.cause.clone(),
            started_at: alert.fired_at.unwrap_or(alert.active_since),
            resolved_at: (event == Event::AlertResolved).then_some(now),
            reauth_url: oauth
                .then(|| format!("{external}{}", crate::reauth_page::path_of(&target.name))),
        };
        for w in config.webhooks.iter().filter(|w| wants(w, event, target)) {
            // reauth_required is mailbeat's own event: Alertmanager receivers get the alert.
            if w.format == WebhookFormat::Alertmanager && event == Event::ReauthRequired {
                continue;
            }
            let delivery_id = random_id();
            let body = match w.format {
                WebhookFormat::Mailbeat => payload::mailbeat(event, &delivery_id, &incident, now),
                WebhookFormat::Alertmanager => payload::alertmanager(&w.name, &incident, &external),
            };
            batch.deliveries.push(NewDelivery {
                delivery_id,
                webhook: w.name.clone(),
                event: event.as_str().to_string(),
                incident: alert.incident.clone(),
                target: target.name.clone(),
                body,
                created: now,
            });
        }
    }

    /// Hands `batch` to the state writer (its place in the writer's queue is taken now, under
    /// the engine's lock, so changes commit in the order they were made) and publishes the view;
    /// the caller waits for the commit after letting the lock go.
    fn stage(&self, inner: &mut Inner, batch: Batch) -> Staged {
        let changed = std::mem::take(&mut inner.changed);
        if std::mem::take(&mut inner.rebuild_view) {
            *self.view.write().unwrap_or_else(|e| e.into_inner()) = inner.alerts.clone();
        } else if !changed.is_empty() {
            let mut view = self.view.write().unwrap_or_else(|e| e.into_inner());
            for key in changed {
                match inner.alerts.get(&key) {
                    Some(a) => view.insert(key, a.clone()),
                    None => view.remove(&key),
                };
            }
        }
        let Batch {
            changes,
            deliveries,
        } = batch;
        if changes.is_empty() && deliveries.is_empty() {
            return Staged::Nothing;
        }
        let queued = !deliveries.is_empty();
        let journal = self
            .journal
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match journal {
            Some(j) => Staged::Commit {
                receipt: j.enqueue(changes, deliveries),
                queued,
            },
            None => {
                if queued {
                    tracing::warn!("webhook deliveries dropped: the state database is not open");
                }
                Staged::Nothing
            }
        }
    }

    /// Waits for a staged commit; wakes the deliverer when it queued deliveries.
    async fn finish(&self, staged: Staged) {
        if let Staged::Commit { receipt, queued } = staged {
            match receipt.wait().await {
                Ok(()) if queued => self.deliveries_queued.notify_one(),
                Ok(()) => {}
                Err(e) => crate::events::state_write_failed("alert_state", &e),
            }
        }
    }
}

/// A batch handed to the state writer, or nothing to wait for.
enum Staged {
    Nothing,
    Commit {
        receipt: crate::state::Receipt<()>,
        queued: bool,
    },
}

/// True when webhook `w` takes `event` for `target`.
fn wants(w: &Webhook, event: Event, target: &Target) -> bool {
    w.events.iter().any(|e| e == event.as_str()) && w.targets.matches(target)
}

/// How long an engine tick waits.
pub const TICK: Duration = Duration::from_secs(1);
