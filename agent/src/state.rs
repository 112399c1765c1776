//! The embedded state under `state_dir`: one SQLite file, `mailbeat.db`.
//!
//! For now it holds the `auth` probe's back-off ([`BackoffJournal`]), so a restart of the agent,
//! or `mailbeat check` run from cron, does not retry a rejected password before its time. Reads
//! happen once, at start; writes go to one writer thread through a channel, so a check never waits
//! on the disk and the async runtime is never blocked.
//!
//! The file is created `0600`: it holds salted fingerprints of credentials, never the secrets.

use mailbeat_probes::auth::backoff::{Fingerprint, Journal, SavedEntry};
use mailbeat_sdk::CheckResult;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The state file's name inside `state_dir`.
pub const DB_FILE: &str = "mailbeat.db";

/// Why the state could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot create the state directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the state database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot move the damaged state database aside to {path}: {source}")]
    MoveAside {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the system gave no random bytes for the state's salt")]
    Random,
    #[error("cannot start the state writer thread: {0}")]
    Thread(std::io::Error),
}

enum Write {
    Save(Box<SavedEntry>),
    Forget(Fingerprint),
}

/// The `auth` back-off kept in `state_dir/mailbeat.db`.
pub struct BackoffJournal {
    path: PathBuf,
    salt: [u8; 32],
    loaded: Mutex<Vec<SavedEntry>>,
    writer: Mutex<Option<(mpsc::Sender<Write>, JoinHandle<()>)>>,
}

impl std::fmt::Debug for BackoffJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackoffJournal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl BackoffJournal {
    /// Opens (creating if needed) the state database in `state_dir` and reads the back-off
    /// entries. Blocking: call it at start, before checks run.
    pub fn open(state_dir: &Path) -> Result<BackoffJournal, StateError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StateError::CreateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = state_dir.join(DB_FILE);
        let open_err = |source| StateError::Open {
            path: path.clone(),
            source,
        };
        let mut fresh = [0u8; 32];
        rustls::crypto::ring::default_provider()
            .secure_random
            .fill(&mut fresh)
            .map_err(|_| StateError::Random)?;
        let (conn, salt, loaded) = match open_and_read(&path, fresh) {
            Err(e) if is_corrupt(&e) => {
                // Losing the back-off costs one early retry per credential; refusing to start
                // until someone deletes the file costs every check.
                let aside =
                    path.with_extension(format!("db.corrupt-{}", to_unix_ms(SystemTime::now())));
                tracing::warn!(path = %path.display(), aside = %aside.display(), error = %e,
                    "the state database is damaged; moving it aside and starting afresh");
                std::fs::rename(&path, &aside).map_err(|source| StateError::MoveAside {
                    path: aside.clone(),
                    source,
                })?;
                open_and_read(&path, fresh).map_err(open_err)?
            }
            other => other.map_err(open_err)?,
        };
        let (tx, rx) = mpsc::channel();
        let writer_path = path.clone();
        let handle = std::thread::Builder::new()
            .name("mailbeat-state".into())
            .spawn(move || write_loop(conn, rx, &writer_path))
            .map_err(StateError::Thread)?;
        Ok(BackoffJournal {
            path,
            salt,
            loaded: Mutex::new(loaded),
            writer: Mutex::new(Some((tx, handle))),
        })
    }

    /// Where the state lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes what is pending and stops the writer thread (blocking). Later saves are dropped.
    pub fn close(&self) {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((tx, handle)) = writer {
            drop(tx);
            let _ = handle.join();
        }
    }

    fn send(&self, write: Write) -> bool {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        match writer.as_ref() {
            Some((tx, _)) => tx.send(write).is_ok(),
            None => false,
        }
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
        self.send(Write::Save(Box::new(entry)));
    }

    fn forget(&self, fingerprint: Fingerprint) {
        self.send(Write::Forget(fingerprint));
    }
}

/// Opens the database and reads its salt and entries.
fn open_and_read(
    path: &Path,
    fresh: [u8; 32],
) -> rusqlite::Result<(Connection, [u8; 32], Vec<SavedEntry>)> {
    let conn = open_db(path)?;
    let salt = salt(&conn, fresh)?;
    let loaded = load(&conn)?;
    Ok((conn, salt, loaded))
}

fn open_db(path: &Path) -> rusqlite::Result<Connection> {
    create_private(path);
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // WAL: a `mailbeat check` from cron and a running agent can share the file.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
         CREATE TABLE IF NOT EXISTS auth_backoff (
             fingerprint BLOB PRIMARY KEY,
             failures INTEGER NOT NULL,
             next_allowed_unix_ms INTEGER NOT NULL,
             last_attempt_unix_ms INTEGER NOT NULL,
             last_target TEXT NOT NULL,
             last_result TEXT NOT NULL
         );",
    )?;
    Ok(conn)
}

/// Creates the file readable by its owner only, before SQLite opens it, so it is never readable
/// by others, not even for a moment. An existing file is made private too.
#[cfg(unix)]
fn create_private(path: &Path) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path);
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn create_private(_path: &Path) {}

fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// The database's fingerprint salt: `fresh` the first time (or when the stored one is unusable),
/// the stored one ever after.
fn salt(conn: &Connection, fresh: [u8; 32]) -> rusqlite::Result<[u8; 32]> {
    let stored: Option<rusqlite::types::Value> = conn
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
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('backoff_salt', ?1)",
        params![fresh.to_vec()],
    )?;
    // Entries salted otherwise can never match again.
    conn.execute("DELETE FROM auth_backoff", [])?;
    Ok(fresh)
}

fn load(conn: &Connection) -> rusqlite::Result<Vec<SavedEntry>> {
    use rusqlite::types::Value;
    let mut stmt = conn.prepare(
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

fn write_loop(conn: Connection, rx: mpsc::Receiver<Write>, path: &Path) {
    for write in rx {
        let outcome = match write {
            Write::Save(e) => save(&conn, &e),
            Write::Forget(fp) => conn
                .execute(
                    "DELETE FROM auth_backoff WHERE fingerprint = ?1",
                    params![fp.to_bytes().to_vec()],
                )
                .map(drop),
        };
        if let Err(e) = outcome {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the auth back-off state");
        }
    }
}

fn save(conn: &Connection, e: &SavedEntry) -> rusqlite::Result<()> {
    let last = serde_json::to_string(&e.last).unwrap_or_else(|_| "{}".into());
    conn.execute(
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

fn to_unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn from_unix_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let j = BackoffJournal::open(dir.path()).unwrap();
        assert!(j.load().is_empty());
        let salt = j.salt();
        j.save(entry(1, 1));
        j.save(entry(2, 1));
        j.save(entry(1, 2)); // replaces the first
        j.forget(Fingerprint::from_bytes([2; 32]));
        j.close();

        let j = BackoffJournal::open(dir.path()).unwrap();
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
        let (ja, jb) = (
            BackoffJournal::open(a.path()).unwrap(),
            BackoffJournal::open(b.path()).unwrap(),
        );
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
        let e = BackoffJournal::open(&file.join("sub")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot create the state directory"),
            "{e}"
        );
    }

    #[test]
    fn two_processes_never_shorten_each_others_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let (agent, cron) = (
            BackoffJournal::open(dir.path()).unwrap(),
            BackoffJournal::open(dir.path()).unwrap(),
        );
        agent.save(entry(1, 3));
        agent.close(); // written before the other process saves
        let mut older = entry(1, 1);
        older.next_allowed = SystemTime::now() + Duration::from_secs(60);
        cron.save(older);
        cron.close();
        let e = &BackoffJournal::open(dir.path()).unwrap().load()[0];
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
        let j = BackoffJournal::open(dir.path()).unwrap();
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
        let loaded = BackoffJournal::open(dir.path()).unwrap().load();
        assert_eq!(loaded.len(), 1, "{loaded:?}");
    }

    #[test]
    fn an_unusable_salt_is_replaced_and_its_entries_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let j = BackoffJournal::open(dir.path()).unwrap();
        j.save(entry(1, 1));
        j.close();
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute(
            "UPDATE meta SET value = x'0102' WHERE key = 'backoff_salt'",
            [],
        )
        .unwrap();
        drop(conn);
        let first = BackoffJournal::open(dir.path()).unwrap();
        assert!(first.load().is_empty());
        let salt = first.salt();
        first.close();
        assert_eq!(
            BackoffJournal::open(dir.path()).unwrap().salt(),
            salt,
            "stored this time"
        );
    }
}
