//! Internal events: every operational log line that matters, with the counter that goes with it,
//! in one place (as Vector's `internal_events`), so a failure is never logged without being
//! counted, nor counted without a line that says what happened.
//!
//! The counters are process-wide and registered into the agent's registry by
//! [`crate::metrics::AgentMetrics`]; `mailbeat check` emits the same events, whose counters then
//! simply go unread.

use mailbeat_sdk::CheckResult;
use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};
use std::sync::LazyLock;

struct Counters {
    checks_failed: IntCounterVec,
    checks_backing_off: IntCounterVec,
    scheduler_skipped: IntCounter,
    state_write_failures: IntCounterVec,
    config_reloads: IntCounterVec,
    webhook_deliveries: IntCounterVec,
    webhook_outbox_pending: IntGaugeVec,
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition")
}

static COUNTERS: LazyLock<Counters> = LazyLock::new(|| {
    Counters {
    checks_failed: counter_vec(
        "mailbeat_checks_failed_total",
        "Checks that ended in a status other than ok, by probe and reason.",
        &["probe", "reason"],
    ),
    checks_backing_off: counter_vec(
        "mailbeat_checks_backing_off_total",
        "Checks answered from the credential guard instead of logging in, while a rejected credential backs off.",
        &["probe"],
    ),
    scheduler_skipped: IntCounter::new(
        "mailbeat_scheduler_skipped_total",
        "Checks skipped because the previous run of the same probe on the same target was still running.",
    )
    .expect("static metric definition"),
    state_write_failures: counter_vec(
        "mailbeat_state_write_failures_total",
        "Writes to the state database that failed, by what was written.",
        &["table"],
    ),
    config_reloads: counter_vec(
        "mailbeat_config_reloads_total",
        "Configuration reloads, by result (success, failure).",
        &["result"],
    ),
    webhook_deliveries: counter_vec(
        "mailbeat_webhook_deliveries_total",
        "Webhook delivery attempts, by webhook and result (delivered, retried, failed).",
        &["webhook", "result"],
    ),
    webhook_outbox_pending: IntGaugeVec::new(
        Opts::new(
            "mailbeat_webhook_outbox_pending",
            "Webhook deliveries waiting in the outbox, by webhook.",
        ),
        &["webhook"],
    )
    .expect("static metric definition"),
}
});

/// Registers the event counters in `registry` (once per registry) and returns their names,
/// which no probe observation may take.
pub fn register(registry: &Registry) -> prometheus::Result<Vec<String>> {
    let c = &*COUNTERS;
    // Both outcomes exist from the start, so `increase()` sees the first reload.
    for result in ["success", "failure"] {
        c.config_reloads.with_label_values(&[result]);
    }
    let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
        Box::new(c.checks_failed.clone()),
        Box::new(c.checks_backing_off.clone()),
        Box::new(c.scheduler_skipped.clone()),
        Box::new(c.state_write_failures.clone()),
        Box::new(c.config_reloads.clone()),
        Box::new(c.webhook_deliveries.clone()),
        Box::new(c.webhook_outbox_pending.clone()),
    ];
    let mut names = Vec::new();
    for collector in collectors {
        names.extend(collector.desc().iter().map(|d| d.fq_name.clone()));
        registry.register(collector)?;
    }
    Ok(names)
}

/// The log target of [`check_finished`]'s lines, so a command can leave them out (`check`
/// reports its results on stdout; repeating each on stderr is noise unless asked for).
pub const CHECK_RESULTS: &str = "mailbeat::check_results";

/// A check finished: one line per failed check with target, probe, status, reason and the
/// server's words (ok checks at debug).
pub fn check_finished(target: &str, probe: &str, result: &CheckResult) {
    match result.reason {
        None => {
            tracing::debug!(target: CHECK_RESULTS, target = %target, probe = %probe, duration_seconds = result.duration_seconds, "check ok")
        }
        Some(reason) => {
            COUNTERS
                .checks_failed
                .with_label_values(&[probe, reason.as_str()])
                .inc();
            // `server_said` only when there are words to quote: an empty key reads as if the
            // server had answered with nothing.
            if result.message.trim().is_empty() {
                tracing::warn!(
                    target: CHECK_RESULTS,
                    target = %target,
                    probe = %probe,
                    status = %result.status,
                    reason = %reason,
                    "check failed"
                )
            } else {
                tracing::warn!(
                    target: CHECK_RESULTS,
                    target = %target,
                    probe = %probe,
                    status = %result.status,
                    reason = %reason,
                    server_said = %result.message,
                    "check failed"
                )
            }
        }
    }
}

/// The credential guard answered instead of running the check.
pub fn check_backing_off(target: &str, probe: &str) {
    COUNTERS
        .checks_backing_off
        .with_label_values(&[probe])
        .inc();
    tracing::debug!(target = %target, probe = %probe, "credential backing off; check answered from the last result");
}

/// The scheduler skipped a slot because the job was still running.
pub fn check_skipped(target: &str, probe: &str) {
    COUNTERS.scheduler_skipped.inc();
    tracing::debug!(target = %target, probe = %probe, "still running from its last slot; skipped");
}

/// Slots skipped so far in this process (what `mailbeat_scheduler_skipped_total` shows).
pub fn skipped_checks() -> u64 {
    COUNTERS.scheduler_skipped.get()
}

/// A write to the state database failed.
pub fn state_write_failed(table: &str, error: &dyn std::fmt::Display) {
    COUNTERS
        .state_write_failures
        .with_label_values(&[table])
        .inc();
    tracing::warn!(table = %table, error = %error, "cannot write the state database");
}

/// The configuration was reloaded.
pub fn config_reloaded(path: &std::path::Path) {
    COUNTERS
        .config_reloads
        .with_label_values(&["success"])
        .inc();
    tracing::info!(path = %path.display(), "configuration reloaded");
}

/// A reload failed; the running configuration stays.
pub fn config_reload_failed(path: &std::path::Path, error: &dyn std::fmt::Display) {
    COUNTERS
        .config_reloads
        .with_label_values(&["failure"])
        .inc();
    tracing::error!(path = %path.display(), error = %error, "configuration reload failed; keeping the running configuration");
}

/// A target file was refused at a load; `kept` targets of its last good version stay in force.
pub fn target_file_refused(file: &str, kept: usize, error: &dyn std::fmt::Display) {
    tracing::error!(file = %file, kept_targets = kept, error = %error, "target file refused; keeping its last good version");
}

/// Every configured webhook gets its series at once, so a dashboard shows 0 rather than nothing.
pub fn webhooks_configured(names: &[String]) {
    for name in names {
        for result in ["delivered", "retried", "failed"] {
            COUNTERS
                .webhook_deliveries
                .with_label_values(&[name.as_str(), result]);
        }
        COUNTERS
            .webhook_outbox_pending
            .with_label_values(&[name.as_str()]);
    }
}

/// A webhook delivery was attempted: `delivered`, `retried` or `failed`. Failures and retries
/// are logged with the delivery id and the reason, never the URL (it may carry a token).
pub fn webhook_attempted(
    webhook: &str,
    delivery_id: &str,
    event: &str,
    result: &str,
    error: Option<&str>,
) {
    COUNTERS
        .webhook_deliveries
        .with_label_values(&[webhook, result])
        .inc();
    match (result, error) {
        ("delivered", _) => {
            tracing::info!(webhook = %webhook, delivery_id = %delivery_id, event = %event, "webhook delivered")
        }
        ("retried", e) => {
            tracing::warn!(webhook = %webhook, delivery_id = %delivery_id, event = %event, error = e.unwrap_or_default(), "webhook delivery failed; will retry")
        }
        (_, e) => {
            tracing::error!(webhook = %webhook, delivery_id = %delivery_id, event = %event, error = e.unwrap_or_default(), "webhook delivery given up")
        }
    }
}

/// The outbox's pending deliveries per webhook (all configured webhooks; absent ones are 0).
pub fn webhook_outbox_pending(
    configured: &[String],
    pending: &std::collections::BTreeMap<String, u64>,
) {
    for name in configured {
        let n = pending.get(name).copied().unwrap_or(0);
        COUNTERS
            .webhook_outbox_pending
            .with_label_values(&[name.as_str()])
            .set(n as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailbeat_sdk::Reason;

    #[test]
    fn a_failed_check_is_counted_by_probe_and_reason() {
        let before = COUNTERS
            .checks_failed
            .with_label_values(&["auth", "auth_bad_credentials"])
            .get();
        check_finished(
            "t",
            "auth",
            &CheckResult::critical(Reason::AuthBadCredentials, "535"),
        );
        check_finished("t", "auth", &CheckResult::ok("fine"));
        let after = COUNTERS
            .checks_failed
            .with_label_values(&["auth", "auth_bad_credentials"])
            .get();
        assert_eq!(after, before + 1);
    }

    /// A writer the test reads back: what the logfmt formatter wrote.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn server_said_is_logged_only_when_there_are_words() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_logfmt::builder()
            .subscriber_builder()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            check_finished(
                "quiet",
                "port",
                &CheckResult::critical(Reason::ConnectionTimeout, " "),
            );
            check_finished(
                "talker",
                "auth",
                &CheckResult::critical(Reason::AuthBadCredentials, "535 5.7.8 no"),
            );
        });
        let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert!(!lines[0].contains("server_said"), "{log}");
        assert!(lines[1].contains(r#"server_said="535 5.7.8 no""#), "{log}");
    }
}
