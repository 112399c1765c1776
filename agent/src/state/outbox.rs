//! The webhook outbox: every delivery owed, with its exact body, until it is delivered, fails
//! for good, or grows older than its webhook's `max_age`. Rows are written with the alert state
//! change that caused them (state/alerts.rs); the deliverer (webhooks/deliver.rs) reads the due
//! ones and records each attempt.

use super::{from_unix_ms, to_unix_ms, StateDb, StateError};
use rusqlite::{params, Connection};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

/// A delivery to add.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub delivery_id: String,
    pub webhook: String,
    pub event: String,
    pub incident: String,
    pub target: String,
    /// The exact body sent (and signed) on every attempt.
    pub body: String,
    pub created: SystemTime,
}

/// A delivery that is due.
#[derive(Debug, Clone)]
pub struct Due {
    pub delivery_id: String,
    pub webhook: String,
    pub event: String,
    pub target: String,
    pub body: String,
    pub created: SystemTime,
    pub attempts: u32,
}

/// What an attempt came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    Delivered,
    /// Try again at this time.
    Retry {
        at: SystemTime,
        error: String,
    },
    /// Given up.
    Failed {
        error: String,
    },
}

pub(super) fn insert(t: &Connection, d: &NewDelivery) -> rusqlite::Result<()> {
    t.execute(
        "INSERT OR IGNORE INTO webhook_outbox (delivery_id, webhook, event, incident, target, body,
             created_unix_ms, next_attempt_unix_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            d.delivery_id,
            d.webhook,
            d.event,
            d.incident,
            d.target,
            d.body,
            to_unix_ms(d.created)
        ],
    )
    .map(drop)
}

/// The outbox on the state database.
#[derive(Debug, Clone)]
pub struct Outbox {
    db: Arc<StateDb>,
}

impl Outbox {
    pub fn new(db: Arc<StateDb>) -> Self {
        Outbox { db }
    }

    /// Up to `limit` pending deliveries due at `now`, oldest first.
    pub async fn due(&self, now: SystemTime, limit: usize) -> Result<Vec<Due>, StateError> {
        let now = to_unix_ms(now);
        self.db
            .transaction(move |t| {
                let mut q = t.prepare(
                    "SELECT delivery_id, webhook, event, target, body, created_unix_ms, attempts
                     FROM webhook_outbox
                     WHERE status = 'pending' AND next_attempt_unix_ms <= ?1
                     ORDER BY next_attempt_unix_ms, created_unix_ms LIMIT ?2",
                )?;
                let rows = q
                    .query_map(params![now, limit as i64], |r| {
                        Ok(Due {
                            delivery_id: r.get(0)?,
                            webhook: r.get(1)?,
                            event: r.get(2)?,
                            target: r.get(3)?,
                            body: r.get(4)?,
                            created: from_unix_ms(r.get(5)?),
                            attempts: r.get(6)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>();
                rows
            })
            .wait()
            .await
    }

    /// When the next pending delivery is due, if any.
    pub async fn next_due(&self) -> Result<Option<SystemTime>, StateError> {
        self.db
            .transaction(|t| {
                t.query_row(
                    "SELECT MIN(next_attempt_unix_ms) FROM webhook_outbox WHERE status = 'pending'",
                    [],
                    |r| r.get::<_, Option<i64>>(0),
                )
            })
            .wait()
            .await
            .map(|ms| ms.map(from_unix_ms))
    }

    /// Pending deliveries per webhook.
    pub async fn pending(&self) -> Result<BTreeMap<String, u64>, StateError> {
        self.db
            .transaction(|t| {
                let mut q = t.prepare(
                    "SELECT webhook, COUNT(*) FROM webhook_outbox WHERE status = 'pending'
                     GROUP BY webhook",
                )?;
                let rows = q
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>();
                rows.map(|v| v.into_iter().map(|(w, n)| (w, n as u64)).collect())
            })
            .wait()
            .await
    }

    /// Records an attempt.
    pub async fn record(&self, delivery_id: &str, outcome: Outcome) -> Result<(), StateError> {
        let id = delivery_id.to_string();
        self.db
            .transaction(move |t| {
                match outcome {
                    Outcome::Delivered => t.execute(
                        "UPDATE webhook_outbox SET status = 'delivered', attempts = attempts + 1,
                             last_error = NULL WHERE delivery_id = ?1",
                        params![id],
                    ),
                    Outcome::Retry { at, error } => t.execute(
                        "UPDATE webhook_outbox SET attempts = attempts + 1,
                             next_attempt_unix_ms = ?2, last_error = ?3 WHERE delivery_id = ?1",
                        params![id, to_unix_ms(at), error],
                    ),
                    Outcome::Failed { error } => t.execute(
                        "UPDATE webhook_outbox SET status = 'failed', attempts = attempts + 1,
                             last_error = ?2 WHERE delivery_id = ?1",
                        params![id, error],
                    ),
                }
                .map(drop)
            })
            .wait()
            .await
    }

    /// Forgets delivered and failed rows older than `before` (the outbox does not grow forever).
    pub async fn prune(&self, before: SystemTime) -> Result<(), StateError> {
        let before = to_unix_ms(before);
        self.db
            .transaction(move |t| {
                t.execute(
                    "DELETE FROM webhook_outbox WHERE status != 'pending' AND created_unix_ms < ?1",
                    params![before],
                )
                .map(drop)
            })
            .wait()
            .await
    }
}
