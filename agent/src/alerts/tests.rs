//! The alert state machine with explicit times: pending → firing after `for`, resolved after
//! `keep_firing_for`, no re-fire while a check flaps, one delivery per incident and webhook, and
//! the state across a restart.

use super::engine::{AlertEngine, Phase};
use crate::config::Config;
use crate::state::alerts::AlertJournal;
use crate::state::StateDb;
use mailbeat_sdk::{CheckResult, Reason, Status};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const YAML: &str = "
alerts:
  - {name: MailTargetUnreachable, for: 5m, keep_firing_for: 10m}
targets:
  - {name: box, protocol: imap, host: 127.0.0.1, port: 1, tls: none, probes: [port]}
webhooks:
  - {name: hook, url: \"http://127.0.0.1:9/hook\", events: [alert_firing, alert_resolved]}
";

fn config(dir: &std::path::Path) -> Arc<Config> {
    Arc::new(crate::config::parse(YAML, "a.yml", dir, &mailbeat_probes::builtin()).unwrap())
}

fn t(minutes: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + minutes * 60)
}

fn down() -> CheckResult {
    CheckResult::critical(Reason::ConnectionRefused, "connection refused")
}

fn up() -> CheckResult {
    CheckResult::ok("connected")
}

async fn engine(dir: &std::path::Path) -> (Arc<AlertEngine>, Arc<StateDb>) {
    let db = Arc::new(StateDb::open(&dir.join("state")).unwrap());
    let engine = Arc::new(AlertEngine::default());
    let (e, d) = (engine.clone(), db.clone());
    tokio::task::spawn_blocking(move || e.attach(AlertJournal::new(d)).unwrap())
        .await
        .unwrap();
    engine.configure(config(dir)).await;
    (engine, db)
}

fn phase(engine: &AlertEngine) -> Option<Phase> {
    engine
        .alerts()
        .iter()
        .find(|a| a.rule == "MailTargetUnreachable")
        .map(|a| a.phase)
}

async fn deliveries(db: &StateDb) -> Vec<(String, String)> {
    db.transaction(|t| {
        let mut q = t.prepare(
            "SELECT event, incident FROM webhook_outbox ORDER BY created_unix_ms, event",
        )?;
        let rows = q
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>();
        rows
    })
    .wait()
    .await
    .unwrap()
}

#[tokio::test]
async fn pending_then_firing_after_for_then_resolved_after_keep_firing_for() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, db) = engine(dir.path()).await;
    engine.observe("box", "port", &down(), t(0)).await;
    assert_eq!(phase(&engine), Some(Phase::Pending));
    engine.tick(t(4)).await;
    assert_eq!(
        phase(&engine),
        Some(Phase::Pending),
        "for: 5m has not passed"
    );
    engine.observe("box", "port", &down(), t(5)).await;
    assert_eq!(phase(&engine), Some(Phase::Firing));
    assert_eq!(deliveries(&db).await.len(), 1, "one alert_firing");
    // It recovers: still firing for keep_firing_for, then resolved by the tick.
    engine.observe("box", "port", &up(), t(6)).await;
    assert_eq!(phase(&engine), Some(Phase::Firing));
    engine.tick(t(15)).await;
    assert_eq!(phase(&engine), Some(Phase::Firing));
    engine.tick(t(16)).await;
    assert_eq!(phase(&engine), None);
    let d = deliveries(&db).await;
    assert_eq!(
        d.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(),
        ["alert_firing", "alert_resolved"]
    );
    assert_eq!(d[0].1, d[1].1, "one incident");
    db.close();
}

#[tokio::test]
async fn a_pending_alert_that_clears_never_fires_and_a_flap_does_not_refire() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, db) = engine(dir.path()).await;
    engine.observe("box", "port", &down(), t(0)).await;
    engine.observe("box", "port", &up(), t(1)).await;
    assert_eq!(phase(&engine), None);
    engine.tick(t(10)).await;
    assert!(
        deliveries(&db).await.is_empty(),
        "a blip shorter than for: pages no one"
    );
    // Fires, then flaps every minute for half an hour: one incident, one delivery.
    engine.observe("box", "port", &down(), t(20)).await;
    engine.observe("box", "port", &down(), t(25)).await;
    for m in 26..56 {
        let r = if m % 2 == 0 { up() } else { down() };
        engine.observe("box", "port", &r, t(m)).await;
        engine.tick(t(m)).await;
    }
    assert_eq!(phase(&engine), Some(Phase::Firing));
    assert_eq!(deliveries(&db).await.len(), 1);
    db.close();
}

#[tokio::test]
async fn the_state_survives_a_restart_and_is_not_resolved_before_a_new_result() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (engine, db) = engine(dir.path()).await;
        engine.observe("box", "port", &down(), t(0)).await;
        engine.observe("box", "port", &down(), t(5)).await;
        assert_eq!(phase(&engine), Some(Phase::Firing));
        db.close();
    }
    let (engine, db) = engine(dir.path()).await;
    assert_eq!(phase(&engine), Some(Phase::Firing), "restored");
    // No result yet since the restart: time alone resolves nothing.
    engine.tick(t(60)).await;
    assert_eq!(phase(&engine), Some(Phase::Firing));
    engine.observe("box", "port", &down(), t(61)).await;
    assert_eq!(
        deliveries(&db).await.len(),
        1,
        "the same incident: no second firing"
    );
    engine.observe("box", "port", &up(), t(62)).await;
    engine.tick(t(73)).await;
    assert_eq!(phase(&engine), None);
    let d = deliveries(&db).await;
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].1, d[1].1);
    db.close();
}

#[tokio::test]
async fn a_reload_that_removes_the_target_drops_its_alert_without_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, db) = engine(dir.path()).await;
    engine.observe("box", "port", &down(), t(0)).await;
    engine.observe("box", "port", &down(), t(5)).await;
    assert_eq!(phase(&engine), Some(Phase::Firing));
    let other = "targets:\n  - {name: other, protocol: imap, host: 127.0.0.1, port: 1, tls: none, probes: [port]}\n";
    let config = Arc::new(
        crate::config::parse(other, "b.yml", dir.path(), &mailbeat_probes::builtin()).unwrap(),
    );
    engine.configure(config).await;
    assert_eq!(phase(&engine), None);
    // A result of the removed target that was still in flight changes nothing.
    engine.observe("box", "port", &down(), t(6)).await;
    assert!(engine.alerts().is_empty());
    assert_eq!(deliveries(&db).await.len(), 1, "only the firing of before");
    db.close();
}

#[tokio::test]
async fn a_rule_a_reload_brings_alerts_on_a_result_kept_without_its_words_until_it_reports_again() {
    // The engine keeps a result's words only when a rule matches it: a slow port is a warning
    // no rule of YAML matches.
    let dir = tempfile::tempdir().unwrap();
    let (engine, db) = engine(dir.path()).await;
    let slow = CheckResult::fail(Status::Warning, Reason::ServerTimeout, "greeting took 9 s");
    engine.observe("box", "port", &slow, t(0)).await;
    assert!(engine.alerts().is_empty());
    let with_rule = YAML.replace(
        "alerts:\n",
        "alerts:\n  - {name: AnyWarning, match: {statuses: [warning]}, for: 0s}\n",
    );
    let config = Arc::new(
        crate::config::parse(&with_rule, "c.yml", dir.path(), &mailbeat_probes::builtin()).unwrap(),
    );
    assert!(config.alerts.iter().any(|r| r.name == "AnyWarning"));
    engine.configure(config).await;
    // Another probe's result evaluates the rule on the target: the port's warning, recorded
    // before the rule existed, is what it finds.
    engine.observe("box", "tls", &up(), t(1)).await;
    let alert = engine.alerts().into_iter().find(|a| a.rule == "AnyWarning");
    let cause = alert.expect("the kept result alerts").cause;
    assert_eq!(cause.probe, "port");
    assert_eq!(cause.reason.as_deref(), Some("server_timeout"));
    assert_eq!(cause.message, "", "its words were not kept");
    engine.observe("box", "port", &slow, t(2)).await;
    let alert = engine.alerts().into_iter().find(|a| a.rule == "AnyWarning");
    assert_eq!(alert.unwrap().cause.message, "greeting took 9 s");
    db.close();
}
