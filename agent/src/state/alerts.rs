//! Alert states in the `alert_state` table, and the one transaction that writes a state change
//! together with the webhook deliveries it causes (`webhook_outbox`), so a crash can lose
//! neither without the other.

use super::outbox::{insert, NewDelivery};
use super::{from_unix_ms, to_unix_ms, Receipt, StateDb, StateError};
use rusqlite::params;
use std::sync::Arc;
use std::time::SystemTime;

/// One stored alert (pending or firing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAlert {
    pub rule: String,
    pub target: String,
    /// `pending` or `firing`.
    pub state: String,
    pub active_since: SystemTime,
    pub fired_at: Option<SystemTime>,
    pub inactive_since: Option<SystemTime>,
    pub incident: String,
    /// The result that caused it, as JSON.
    pub cause: String,
}

/// A change to write.
#[derive(Debug, Clone)]
pub enum AlertChange {
    Upsert(StoredAlert),
    Remove { rule: String, target: String },
}

/// The alert journal.
#[derive(Debug, Clone)]
pub struct AlertJournal {
    db: Arc<StateDb>,
}

impl AlertJournal {
    pub fn new(db: Arc<StateDb>) -> Self {
        AlertJournal { db }
    }

    /// The database it writes to.
    pub fn db(&self) -> &Arc<StateDb> {
        &self.db
    }

    /// Every stored alert. Blocking: call it at start.
    pub fn load_blocking(&self) -> Result<Vec<StoredAlert>, StateError> {
        self.db
            .transaction(|t| {
                let mut q = t.prepare(
                    "SELECT rule, target, state, active_since_unix_ms, fired_unix_ms,
                            inactive_since_unix_ms, incident, cause FROM alert_state",
                )?;
                let rows = q
                    .query_map([], |r| {
                        Ok(StoredAlert {
                            rule: r.get(0)?,
                            target: r.get(1)?,
                            state: r.get(2)?,
                            active_since: from_unix_ms(r.get(3)?),
                            fired_at: r.get::<_, Option<i64>>(4)?.map(from_unix_ms),
                            inactive_since: r.get::<_, Option<i64>>(5)?.map(from_unix_ms),
                            incident: r.get(6)?,
                            cause: r.get(7)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>();
                rows
            })
            .wait_blocking()
    }

    /// Writes `changes` and `deliveries` in one transaction, queued on the writer now; the
    /// receipt resolves after the commit.
    pub fn enqueue(&self, changes: Vec<AlertChange>, deliveries: Vec<NewDelivery>) -> Receipt<()> {
        self.db.transaction(move |t| {
            for c in &changes {
                match c {
                    AlertChange::Upsert(a) => {
                        t.execute(
                            "INSERT INTO alert_state (rule, target, state, active_since_unix_ms,
                                     fired_unix_ms, inactive_since_unix_ms, incident, cause)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                                 ON CONFLICT(rule, target) DO UPDATE SET state = ?3,
                                     active_since_unix_ms = ?4, fired_unix_ms = ?5,
                                     inactive_since_unix_ms = ?6, incident = ?7, cause = ?8",
                            params![
                                a.rule,
                                a.target,
                                a.state,
                                to_unix_ms(a.active_since),
                                a.fired_at.map(to_unix_ms),
                                a.inactive_since.map(to_unix_ms),
                                a.incident,
                                a.cause,
                            ],
                        )?;
                    }
                    AlertChange::Remove { rule, target } => {
                        t.execute(
                            "DELETE FROM alert_state WHERE rule = ?1 AND target = ?2",
                            params![rule, target],
                        )?;
                    }
                }
            }
            for d in &deliveries {
                insert(t, d)?;
            }
            Ok(())
        })
    }
}
