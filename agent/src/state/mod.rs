//! The embedded state under `state_dir`: one SQLite file, `mailbeat.db`, and its one owner.
//!
//! [`StateDb`] opens the file (private, `0600`), moves a damaged one aside, brings the schema to
//! this version through numbered [`MIGRATIONS`], and gives the connection to one writer thread.
//! Every read and write is a job on that thread, so the async runtime never waits on the disk; a
//! job returns a [`Receipt`] that resolves once its transaction is committed, so whoever must know
//! a write is durable before acting (the webhook outbox, a rotated refresh token) waits on it, and
//! whoever need not (the back-off) drops it. The jobs waiting when the writer gets to them are
//! committed together, each in a savepoint of its own (one that fails is rolled back alone):
//! a commit syncs the disk, and at one per job an outage of 100,000 targets queued its alert
//! changes for minutes.
//!
//! Each kind of state is a small module on top that owns its tables: [`backoff`] (the credential
//! guard's journal), [`tokens`] (the OAuth token store); alert state and the webhook outbox add
//! theirs the same way, each with a migration of its own.
//!
//! WAL mode with `synchronous = FULL`: a `mailbeat check` from cron and the running agent share
//! the file, and a committed write survives a power cut, not only a crash of the process.

pub mod alerts;
pub mod backoff;
pub mod outbox;
pub mod tokens;
mod writer;

use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use writer::{Awaited, QueuedJob, Submitted};

/// The state file's name inside `state_dir`.
pub const DB_FILE: &str = "mailbeat.db";

/// The schema, one step per version (`PRAGMA user_version`). Append; never edit a step that has
/// shipped. Version 1 is the schema the back-off journal created before versions were counted,
/// hence `IF NOT EXISTS`.
pub const MIGRATIONS: &[(u32, &str)] = &[
    (
        1,
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
         CREATE TABLE IF NOT EXISTS auth_backoff (
             fingerprint BLOB PRIMARY KEY,
             failures INTEGER NOT NULL,
             next_allowed_unix_ms INTEGER NOT NULL,
             last_attempt_unix_ms INTEGER NOT NULL,
             last_target TEXT NOT NULL,
             last_result TEXT NOT NULL
         );",
    ),
    // Fingerprints now include the account's realm: the old ones can never match again, and
    // dropping them costs at most one early retry per credential that was backing off.
    (2, "DELETE FROM auth_backoff;"),
    // The OAuth token store (state/tokens.rs). Token columns hold sealed or plaintext blobs
    // (oauth/seal.rs); times are Unix milliseconds.
    (
        3,
        "CREATE TABLE oauth_tokens (
             name TEXT PRIMARY KEY,
             provider TEXT NOT NULL,
             account TEXT NOT NULL,
             refresh_token BLOB,
             access_token BLOB,
             access_obtained_unix_ms INTEGER,
             access_expires_unix_ms INTEGER,
             refresh_announced_end_unix_ms INTEGER,
             scopes TEXT NOT NULL DEFAULT '',
             issued_unix_ms INTEGER NOT NULL,
             rotated_unix_ms INTEGER NOT NULL,
             last_refresh_unix_ms INTEGER,
             last_used_unix_ms INTEGER,
             last_error_reason TEXT,
             last_error_message TEXT,
             last_error_unix_ms INTEGER,
             last_error_terminal INTEGER NOT NULL DEFAULT 0,
             generation INTEGER NOT NULL DEFAULT 0
         );",
    ),
    // Alert states (state/alerts.rs) and the webhook outbox (state/outbox.rs), written in one
    // transaction when a state change causes deliveries.
    (
        4,
        "CREATE TABLE alert_state (
             rule TEXT NOT NULL,
             target TEXT NOT NULL,
             state TEXT NOT NULL,
             active_since_unix_ms INTEGER NOT NULL,
             fired_unix_ms INTEGER,
             inactive_since_unix_ms INTEGER,
             incident TEXT NOT NULL,
             cause TEXT NOT NULL,
             PRIMARY KEY (rule, target)
         );
         CREATE TABLE webhook_outbox (
             delivery_id TEXT PRIMARY KEY,
             webhook TEXT NOT NULL,
             event TEXT NOT NULL,
             incident TEXT NOT NULL,
             target TEXT NOT NULL,
             body TEXT NOT NULL,
             created_unix_ms INTEGER NOT NULL,
             next_attempt_unix_ms INTEGER NOT NULL,
             attempts INTEGER NOT NULL DEFAULT 0,
             status TEXT NOT NULL DEFAULT 'pending',
             last_error TEXT
         );
         CREATE INDEX webhook_outbox_due ON webhook_outbox (status, next_attempt_unix_ms);",
    ),
];

/// Why the state could not be opened or written.
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
    #[error(
        "the state database {path} has schema version {found}, newer than this mailbeat knows ({known}); run the newer mailbeat or point global.state_dir elsewhere"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("the system gave no random bytes for the state's salt")]
    Random,
    #[error("cannot start the state writer thread: {0}")]
    Thread(std::io::Error),
    #[error("state database {path}: {source}")]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the state database is closed")]
    Closed,
    #[error("state database {path}: the commit failed: {message}")]
    Commit { path: PathBuf, message: String },
}

/// The open state database: one writer thread owns the connection.
pub struct StateDb {
    path: PathBuf,
    writer: Mutex<Option<(mpsc::Sender<QueuedJob>, JoinHandle<()>)>>,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The outcome of one job, once its transaction is committed (or failed).
#[must_use = "wait for the receipt, or drop it on purpose when durability does not matter"]
pub struct Receipt<R> {
    rx: tokio::sync::oneshot::Receiver<Result<R, StateError>>,
}

impl<R> Receipt<R> {
    /// Waits for the commit.
    pub async fn wait(self) -> Result<R, StateError> {
        self.rx.await.unwrap_or(Err(StateError::Closed))
    }

    /// Waits for the commit from a thread that is not running async code (start-up, a
    /// `spawn_blocking` task). Called on an async worker it blocks that worker, but does not
    /// panic as tokio's `blocking_recv` would.
    pub fn wait_blocking(self) -> Result<R, StateError> {
        futures::executor::block_on(self.rx).unwrap_or(Err(StateError::Closed))
    }
}

impl StateDb {
    /// Opens (creating if needed) `state_dir/mailbeat.db` and migrates it. Blocking: call it at
    /// start, before checks run, or from `spawn_blocking`.
    pub fn open(state_dir: &Path) -> Result<StateDb, StateError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StateError::CreateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = state_dir.join(DB_FILE);
        let conn = match open_and_migrate(&path) {
            Err(Opened::Sql(e)) if is_corrupt(&e) => {
                // Losing the state costs one early retry per credential today (and a re-auth or a
                // resent webhook later); refusing to start until someone deletes the file costs
                // every check.
                let aside =
                    path.with_extension(format!("db.corrupt-{}", to_unix_ms(SystemTime::now())));
                tracing::warn!(path = %path.display(), aside = %aside.display(), error = %e,
                    "the state database is damaged; moving it aside and starting afresh");
                std::fs::rename(&path, &aside).map_err(|source| StateError::MoveAside {
                    path: aside.clone(),
                    source,
                })?;
                open_and_migrate(&path).map_err(|e| e.into_error(&path))?
            }
            other => other.map_err(|e| e.into_error(&path))?,
        };
        let (tx, rx) = mpsc::channel::<QueuedJob>();
        let handle = std::thread::Builder::new()
            .name("mailbeat-state".into())
            .spawn(move || writer::run(conn, rx))
            .map_err(StateError::Thread)?;
        Ok(StateDb {
            path,
            writer: Mutex::new(Some((tx, handle))),
        })
    }

    /// Where the state lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `job` in a transaction on the writer thread; the receipt resolves after the commit.
    /// A job that fails is rolled back and its error comes back in the receipt. Jobs waiting
    /// together share one commit, each in a savepoint of its own.
    pub fn transaction<R: Send + 'static>(
        &self,
        job: impl FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Receipt<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let run = Box::new(Awaited {
            job,
            tx,
            path: self.path.clone(),
        });
        if !self.send(run) {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let _ = tx.send(Err(StateError::Closed));
            return Receipt { rx };
        }
        Receipt { rx }
    }

    /// Runs `job` in one transaction on the writer thread without waiting for it; a failure is
    /// logged and counted as a failed write of `table`.
    pub fn submit(
        &self,
        table: &'static str,
        job: impl FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static,
    ) {
        let run = Box::new(Submitted {
            job,
            table,
            path: self.path.clone(),
        });
        if !self.send(run) {
            crate::events::state_write_failed(table, &StateError::Closed);
        }
    }

    fn send(&self, job: QueuedJob) -> bool {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        match writer.as_ref() {
            Some((sender, _)) => sender.send(job).is_ok(),
            None => false,
        }
    }

    /// Finishes the jobs already submitted and stops the writer thread (blocking). Later jobs
    /// fail with [`StateError::Closed`].
    pub fn close(&self) {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((tx, handle)) = writer {
            drop(tx);
            let _ = handle.join();
        }
    }
}

impl Drop for StateDb {
    fn drop(&mut self) {
        self.close();
    }
}

/// Why opening failed before the file could be called damaged or not.
enum Opened {
    Sql(rusqlite::Error),
    TooNew(u32),
}

impl Opened {
    fn into_error(self, path: &Path) -> StateError {
        match self {
            Opened::Sql(source) => StateError::Open {
                path: path.to_path_buf(),
                source,
            },
            Opened::TooNew(found) => StateError::TooNew {
                path: path.to_path_buf(),
                found,
                known: schema_version(),
            },
        }
    }
}

impl From<rusqlite::Error> for Opened {
    fn from(e: rusqlite::Error) -> Self {
        Opened::Sql(e)
    }
}

/// The schema version this build writes.
pub fn schema_version() -> u32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

fn open_and_migrate(path: &Path) -> Result<Connection, Opened> {
    create_private(path);
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // A newer mailbeat's file is left exactly as it is.
    let found: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > schema_version() {
        return Err(Opened::TooNew(found));
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // A replaced token is overwritten, not left in a free page of the file.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // Reads every page: damage anywhere is found now, when the file can still be moved aside,
    // not at the first query of some table.
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(Opened::Sql(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(check),
        )));
    }
    // One process migrates; one starting beside it (a cron `check`) waits, then finds the
    // version already current.
    let t = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: u32 = t.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > schema_version() {
        return Err(Opened::TooNew(found));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        t.execute_batch(sql)?;
        t.pragma_update(None, "user_version", version)?;
    }
    t.commit()?;
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

/// Milliseconds since the Unix epoch (0 before it), as the tables store time.
pub fn to_unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The inverse of [`to_unix_ms`].
pub fn from_unix_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_is_migrated_private_and_acknowledges_commits() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path()).unwrap();
        let version = db
            .transaction(|t| t.pragma_query_value(None, "user_version", |r| r.get::<_, u32>(0)))
            .wait_blocking()
            .unwrap();
        assert_eq!(version, schema_version());
        db.transaction(|t| {
            t.execute("INSERT INTO meta (key, value) VALUES ('k', x'01')", [])
                .map(drop)
        })
        .wait_blocking()
        .unwrap();
        // A failing job rolls back and says why.
        let e = db
            .transaction(|t| {
                t.execute("INSERT INTO meta (key, value) VALUES ('k2', x'02')", [])?;
                t.execute("INSERT INTO no_such_table VALUES (1)", [])
                    .map(drop)
            })
            .wait_blocking()
            .unwrap_err();
        assert!(e.to_string().contains("no_such_table"), "{e}");
        let keys: i64 = db
            .transaction(|t| t.query_row("SELECT count(*) FROM meta", [], |r| r.get(0)))
            .wait_blocking()
            .unwrap();
        assert_eq!(keys, 1, "the failed job left nothing behind");
        db.close();
        assert!(matches!(
            db.transaction(|_| Ok(())).wait_blocking(),
            Err(StateError::Closed)
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(db.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_database_from_a_newer_mailbeat_is_refused_not_clobbered() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        let e = StateDb::open(dir.path()).unwrap_err();
        assert!(e.to_string().contains("schema version 999"), "{e}");
    }

    #[test]
    fn an_unversioned_database_of_the_first_release_is_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        // The schema the back-off journal of the first release wrote, frozen here.
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
        )
        .unwrap();
        conn.execute("INSERT INTO meta (key, value) VALUES ('kept', x'01')", [])
            .unwrap();
        drop(conn);
        let db = StateDb::open(dir.path()).unwrap();
        let kept: i64 = db
            .transaction(|t| t.query_row("SELECT count(*) FROM meta", [], |r| r.get(0)))
            .wait_blocking()
            .unwrap();
        assert_eq!(kept, 1);
    }

    #[test]
    fn damage_inside_the_tables_is_found_at_open_and_the_file_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path()).unwrap();
        db.transaction(|t| {
            for i in 0..200 {
                t.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, randomblob(500))",
                    [format!("k{i}")],
                )?;
            }
            Ok(())
        })
        .wait_blocking()
        .unwrap();
        db.close();
        drop(db);
        // Checkpointed into the main file by the close; now garbage over its later pages,
        // the header left intact.
        let path = dir.path().join(DB_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 16_384, "{}", bytes.len());
        for b in &mut bytes[8_192..] {
            *b = 0xA5;
        }
        std::fs::write(&path, bytes).unwrap();
        let _ = std::fs::remove_file(dir.path().join("mailbeat.db-wal"));
        let db = StateDb::open(dir.path()).expect("a damaged file is moved aside, not fatal");
        let n: i64 = db
            .transaction(|t| t.query_row("SELECT count(*) FROM meta", [], |r| r.get(0)))
            .wait_blocking()
            .unwrap();
        assert_eq!(n, 0, "a fresh database");
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("mailbeat.db.corrupt-")
            });
        assert!(aside);
    }

    #[test]
    fn wait_blocking_on_an_async_worker_does_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let n = rt.block_on(async {
            db.transaction(|t| t.query_row("SELECT 7", [], |r| r.get::<_, i64>(0)))
                .wait_blocking()
        });
        assert_eq!(n.unwrap(), 7);
    }

    #[test]
    fn an_async_caller_waits_for_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let n = rt
            .block_on(
                db.transaction(|t| t.query_row("SELECT 41 + 1", [], |r| r.get::<_, i64>(0)))
                    .wait(),
            )
            .unwrap();
        assert_eq!(n, 42);
    }

    #[test]
    fn jobs_waiting_together_share_a_commit_and_a_failing_one_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path()).unwrap();
        // The first job holds the writer while ten more queue up behind it: those ten are
        // committed together.
        let first = db.transaction(|t| {
            std::thread::sleep(Duration::from_millis(300));
            t.execute("INSERT INTO meta (key, value) VALUES ('first', x'00')", [])
                .map(drop)
        });
        let queued: Vec<_> = (0..10)
            .map(|i| {
                db.transaction(move |t| {
                    t.execute(
                        "INSERT INTO meta (key, value) VALUES (?1, x'01')",
                        [format!("k{i}")],
                    )?;
                    if i == 4 {
                        t.execute("INSERT INTO no_such_table VALUES (1)", [])?;
                    }
                    Ok(i)
                })
            })
            .collect();
        first.wait_blocking().unwrap();
        for (i, r) in queued.into_iter().enumerate() {
            match r.wait_blocking() {
                Ok(n) => assert_eq!(n, i),
                Err(e) => {
                    assert_eq!(i, 4, "only the failing job fails: {e}");
                    assert!(e.to_string().contains("no_such_table"), "{e}");
                }
            }
        }
        let keys: Vec<String> = db
            .transaction(|t| {
                let mut q = t.prepare("SELECT key FROM meta WHERE key LIKE 'k%' ORDER BY key")?;
                let keys = q.query_map([], |r| r.get(0))?.collect();
                keys
            })
            .wait_blocking()
            .unwrap();
        assert_eq!(
            keys,
            ["k0", "k1", "k2", "k3", "k5", "k6", "k7", "k8", "k9"],
            "the failed job's own insert was rolled back, the others' kept"
        );
        db.close();
    }
}
