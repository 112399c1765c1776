//! The credential guard's journal: its back-off per credential, in the `auth_backoff` table, so a
//! restart of the agent, or `mailbeat check` run from cron, does not retry a rejected password
//! before its time.
//!
//! Entries are read once, at start; writes are handed to the state writer and not waited for (a
//! lost write costs one early retry at worst), but a failed one is logged and counted. Only
//! salted fingerprints of credentials are stored, never the secrets.

use super::{from_unix_ms, to_unix_ms, StateDb, StateError};
use crate::guard::{Fingerprint, Journal, SavedEntry};
use mailbeat_sdk::CheckResult;
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::{Arc, Mutex};

/// The guard's back-off kept in the state database.
pub struct BackoffJournal {
    db: Arc<StateDb>,
    salt: [u8; 32],
    loaded: Mutex<Vec<SavedEntry>>,
}

impl std::fmt::Debug for BackoffJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackoffJournal")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl BackoffJournal {
    /// Reads the salt and the saved entries. Blocking: call it at start.
    pub fn open(db: Arc<StateDb>) -> Result<BackoffJournal, StateError> {
        let mut fresh = [0u8; 32];
        rustls::crypto::ring::default_provider()
            .secure_random
            .fill(&mut fresh)
            .map_err(|_| StateError::Random)?;
        let (salt, loaded) = db
            .transaction(move |t| Ok((salt(t, fresh)?, load(t)?)))
            .wait_blocking()?;
        Ok(BackoffJournal {
            db,
            salt,
            loaded: Mutex::new(loaded),
        })
    }

    /// The database it lives in.
    pub fn db(&self) -> &Arc<StateDb> {
        &self.db
    }
}

impl Journal for BackoffJournal {
    fn salt(&self) -> [u8; 32] {
        self.salt
    }

    fn load(&self) -> Vec<SavedEntry> {
        std::mem::take(&mut *self.loaded.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn save(&self, entry: SavedEntry) {
        // Not waited for: the guard calls with its lock held, and a lost write costs one early
        // retry at worst. A failure is still logged and counted by the writer.
        self.db.submit("auth_backoff", move |t| save(t, &entry));
    }

    fn forget(&self, fingerprint: Fingerprint) {
        self.db.submit("auth_backoff", move |t| {
            t.execute(
                "DELETE FROM auth_backoff WHERE fingerprint = ?1",
                params![fingerprint.to_bytes().to_vec()],
            )
            .map(drop)
        });
    }
}

/// The fingerprint salt: `fresh` the first time (or when the stored one is unusable), the
/// stored one ever after.
fn salt(t: &Connection, fresh: [u8; 32]) -> rusqlite::Result<[u8; 32]> {
    let stored: Option<rusqlite::types::Value> = t
        .query_row(
            "SELECT value FROM meta WHERE key = 'backoff_salt'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(rusqlite::types::Value::Blob(bytes)) = stored {
        if let Ok(salt) = <[u8; 32]>::try_from(bytes) {
            return Ok(salt);
        }
    }
    t.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('backoff_salt', ?1)",
        params![fresh.to_vec()],
    )?;
    // Entries salted otherwise can never match again.
    t.execute("DELETE FROM auth_backoff", [])?;
    Ok(fresh)
}

fn load(t: &Connection) -> rusqlite::Result<Vec<SavedEntry>> {
    use rusqlite::types::Value;
    let mut stmt = t.prepare(
        "SELECT fingerprint, failures, next_allowed_unix_ms, last_attempt_unix_ms, last_target, last_result
         FROM auth_backoff",
    )?;
    let rows = stmt.query_map([], |r| {
        (0..6)
            .map(|i| r.get::<_, Value>(i))
            .collect::<rusqlite::Result<Vec<Value>>>()
    })?;
    let mut entries = Vec::new();
    for row in rows {
        // A row this version cannot read is skipped, not fatal: the worst outcome is one early
        // retry of that credential.
        match saved_entry(row?) {
            Some(e) => entries.push(e),
            None => {
                tracing::warn!("skipping an unreadable auth back-off entry in the state database")
            }
        }
    }
    Ok(entries)
}

/// One `auth_backoff` row, if it has the shape this version writes.
fn saved_entry(row: Vec<rusqlite::types::Value>) -> Option<SavedEntry> {
    use rusqlite::types::Value;
    let [Value::Blob(fp), Value::Integer(failures), Value::Integer(next_ms), Value::Integer(last_ms), Value::Text(last_target), Value::Text(last)] =
        <[Value; 6]>::try_from(row).ok()?
    else {
        return None;
    };
    Some(SavedEntry {
        fingerprint: Fingerprint::from_bytes(<[u8; 32]>::try_from(fp).ok()?),
        failures: u32::try_from(failures).ok()?,
        next_allowed: from_unix_ms(next_ms),
        last_attempt: from_unix_ms(last_ms),
        last_target,
        last: serde_json::from_str::<CheckResult>(&last).ok()?,
    })
}

fn save(t: &Connection, e: &SavedEntry) -> rusqlite::Result<()> {
    let last = serde_json::to_string(&e.last).unwrap_or_else(|_| "{}".into());
    t.execute(
        // Another process (a `mailbeat check` from cron beside the agent) may have saved the same
        // credential meanwhile: keep the longer wait and the higher count, never go back.
        "INSERT INTO auth_backoff
             (fingerprint, failures, next_allowed_unix_ms, last_attempt_unix_ms, last_target, last_result)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (fingerprint) DO UPDATE SET
             failures = max(failures, excluded.failures),
             next_allowed_unix_ms = max(next_allowed_unix_ms, excluded.next_allowed_unix_ms),
             last_attempt_unix_ms = max(last_attempt_unix_ms, excluded.last_attempt_unix_ms),
             last_target = excluded.last_target,
             last_result = excluded.last_result",
        params![
            e.fingerprint.to_bytes().to_vec(),
            i64::from(e.failures),
            to_unix_ms(e.next_allowed),
            to_unix_ms(e.last_attempt),
            e.last_target,
            last,
        ],
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::DB_FILE;
    use rusqlite::Connection;
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    fn open_in(dir: &Path) -> Result<BackoffJournal, StateError> {
        BackoffJournal::open(Arc::new(StateDb::open(dir)?))
    }

    impl BackoffJournal {
        /// Writes what is pending (blocking).
        fn close(&self) {
            self.db.close();
        }
        fn path(&self) -> &Path {
            self.db.path()
        }
    }
    use mailbeat_sdk::{Reason, Status};

    fn entry(byte: u8, failures: u32) -> SavedEntry {
        let now = SystemTime::now();
        SavedEntry {
            fingerprint: Fingerprint::from_bytes([byte; 32]),
            failures,
            next_allowed: now + Duration::from_secs(900),
            last_attempt: now,
            last_target: "mailbox-imap".into(),
            last: CheckResult::critical(Reason::AuthBadCredentials, "NO [AUTHENTICATIONFAILED]"),
        }
    }

    #[test]
    fn entries_and_salt_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let j = open_in(dir.path()).unwrap();
        assert!(j.load().is_empty());
        let salt = j.salt();
        j.save(entry(1, 1));
        j.save(entry(2, 1));
        j.save(entry(1, 2)); // replaces the first
        j.forget(Fingerprint::from_bytes([2; 32]));
        j.close();

        let j = open_in(dir.path()).unwrap();
        assert_eq!(j.salt(), salt, "the salt is kept");
        let loaded = j.load();
        assert_eq!(loaded.len(), 1, "{loaded:?}");
        let e = &loaded[0];
        assert_eq!(e.fingerprint, Fingerprint::from_bytes([1; 32]));
        assert_eq!(e.failures, 2);
        assert_eq!(e.last.status, Status::Critical);
        assert_eq!(e.last.reason, Some(Reason::AuthBadCredentials));
        assert_eq!(e.last_target, "mailbox-imap");
        let wait = e.next_allowed.duration_since(SystemTime::now()).unwrap();
        assert!(wait > Duration::from_secs(890), "{wait:?}");
    }

    #[test]
    fn a_new_database_gets_its_own_salt_and_is_private() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (ja, jb) = (open_in(a.path()).unwrap(), open_in(b.path()).unwrap());
        assert_ne!(ja.salt(), jb.salt());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(ja.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn an_unwritable_state_dir_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let e = open_in(&file.join("sub")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot create the state directory"),
            "{e}"
        );
    }

    #[test]
    fn two_processes_never_shorten_each_others_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let (agent, cron) = (open_in(dir.path()).unwrap(), open_in(dir.path()).unwrap());
        agent.save(entry(1, 3));
        agent.close(); // written before the other process saves
        let mut older = entry(1, 1);
        older.next_allowed = SystemTime::now() + Duration::from_secs(60);
        cron.save(older);
        cron.close();
        let e = &open_in(dir.path()).unwrap().load()[0];
        assert_eq!(e.failures, 3);
        let wait = e.next_allowed.duration_since(SystemTime::now()).unwrap();
        assert!(wait > Duration::from_secs(890), "{wait:?}");
    }

    #[test]
    fn a_damaged_file_is_moved_aside_and_bad_rows_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(DB_FILE),
            b"this is not an SQLite database at all, not even close....",
        )
        .unwrap();
        let j = open_in(dir.path()).unwrap();
        assert!(j.load().is_empty());
        j.save(entry(1, 1));
        j.close();
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("mailbeat.db.corrupt-")
            });
        assert!(aside, "the damaged file is kept for a person to look at");

        // A row of the wrong shape (another version wrote it) is skipped, the rest load.
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute(
            "INSERT INTO auth_backoff VALUES (x'00', 'many', 0, 0, 't', '{}')",
            [],
        )
        .unwrap();
        drop(conn);
        let loaded = open_in(dir.path()).unwrap().load();
        assert_eq!(loaded.len(), 1, "{loaded:?}");
    }

    #[test]
    fn an_unusable_salt_is_replaced_and_its_entries_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let j = open_in(dir.path()).unwrap();
        j.save(entry(1, 1));
        j.close();
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute(
            "UPDATE meta SET value = x'0102' WHERE key = 'backoff_salt'",
            [],
        )
        .unwrap();
        drop(conn);
        let first = open_in(dir.path()).unwrap();
        assert!(first.load().is_empty());
        let salt = first.salt();
        first.close();
        assert_eq!(
            open_in(dir.path()).unwrap().salt(),
            salt,
            "stored this time"
        );
    }
}
