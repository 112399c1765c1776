//! The OAuth token store: per token set (a target's, or one shared by several targets) the
//! refresh token, the access token and its expiry, the scopes, the provider, when the grant was
//! made, when the refresh token last rotated, the last refresh and use, and the last error.
//!
//! Every write is one transaction that is committed (`synchronous = FULL`) before it returns, so
//! a rotated refresh token is on disk before the access token that came with it is used, and a
//! crash at any point leaves either the old pair or the new one. Token values are sealed by the
//! [`Sealer`] when `global.state_key_file` is set; with a key, plaintext rows written before it
//! are sealed at open.

use super::{from_unix_ms, to_unix_ms, StateDb, StateError};
use crate::oauth::seal::{SealError, Sealer};
use mailbeat_sdk::Secret;
use rusqlite::{params, OptionalExtension, Row};
use std::sync::Arc;
use std::time::SystemTime;

/// Why the token store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum TokenStoreError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("token set {name}: {source}")]
    Seal { name: String, source: SealError },
}

/// A token set as stored, tokens opened.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub name: String,
    pub provider: String,
    pub account: String,
    pub refresh_token: Option<Secret>,
    pub access_token: Option<Secret>,
    pub access_obtained: Option<SystemTime>,
    pub access_expires: Option<SystemTime>,
    pub refresh_announced_end: Option<SystemTime>,
    pub scopes: String,
    pub issued_at: SystemTime,
    pub rotated_at: SystemTime,
    pub last_refresh: Option<SystemTime>,
    pub last_used: Option<SystemTime>,
    pub last_error: Option<StoredError>,
    /// Bumped whenever the refresh token changes: an error belongs to the token it was seen with.
    pub generation: i64,
}

/// The last failed refresh of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredError {
    /// A reason name (`oauth_refresh_token_revoked`).
    pub reason: String,
    pub message: String,
    pub at: SystemTime,
    /// A person must act; the same refresh token will not work again.
    pub terminal: bool,
}

/// A new grant (reauth, import, seed).
#[derive(Debug, Clone)]
pub struct Grant {
    pub provider: String,
    pub account: String,
    pub refresh_token: Secret,
    pub access_token: Option<Secret>,
    pub access_expires: Option<SystemTime>,
    pub refresh_announced_end: Option<SystemTime>,
    pub scopes: String,
}

/// A successful refresh.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub access_token: Secret,
    pub access_expires: Option<SystemTime>,
    /// The rotated refresh token, when the server sent one.
    pub refresh_token: Option<Secret>,
    pub refresh_announced_end: Option<SystemTime>,
    pub scopes: Option<String>,
}

/// The token store on the state database.
pub struct TokenStore {
    db: Arc<StateDb>,
    sealer: Arc<Sealer>,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("db", &self.db)
            .field("sealer", &self.sealer)
            .finish()
    }
}

fn context(name: &str, column: &str) -> String {
    format!("{name}\u{0}{column}")
}

impl TokenStore {
    /// The store in `db`. With a sealing key, seals the rows stored in plaintext before it was
    /// set; fails when a sealed row does not open with the key. Blocking: call it at start.
    pub fn open(db: Arc<StateDb>, sealer: Sealer) -> Result<TokenStore, TokenStoreError> {
        let sealer = Arc::new(sealer);
        let s = sealer.clone();
        let outcome = db
            .transaction(move |t| {
                let mut rows = Vec::new();
                {
                    let mut q =
                        t.prepare("SELECT name, refresh_token, access_token FROM oauth_tokens")?;
                    let mut r = q.query([])?;
                    while let Some(row) = r.next()? {
                        let name: String = row.get(0)?;
                        let refresh: Option<Vec<u8>> = row.get(1)?;
                        let access: Option<Vec<u8>> = row.get(2)?;
                        rows.push((name, refresh, access));
                    }
                }
                for (name, refresh, access) in rows {
                    for (column, blob) in [("refresh_token", refresh), ("access_token", access)] {
                        let Some(blob) = blob else { continue };
                        let value = match s.open(&blob, &context(&name, column)) {
                            Ok(v) => v,
                            Err(e) => return Ok(Err((name, e))),
                        };
                        if s.is_sealing() && Sealer::is_plain(&blob) {
                            let sealed = match s.seal(&value, &context(&name, column)) {
                                Ok(b) => b,
                                Err(e) => return Ok(Err((name, e))),
                            };
                            t.execute(
                                &format!("UPDATE oauth_tokens SET {column} = ?1 WHERE name = ?2"),
                                params![sealed, name],
                            )?;
                        }
                    }
                }
                Ok(Ok(()))
            })
            .wait_blocking()?;
        match outcome {
            Ok(()) => Ok(TokenStore { db, sealer }),
            Err((name, source)) => Err(TokenStoreError::Seal { name, source }),
        }
    }

    /// True when tokens are sealed at rest.
    pub fn is_sealing(&self) -> bool {
        self.sealer.is_sealing()
    }

    /// The set `name`, if stored.
    pub async fn get(&self, name: &str) -> Result<Option<TokenSet>, TokenStoreError> {
        let n = name.to_string();
        let row = self
            .db
            .transaction(move |t| {
                t.query_row(
                    &format!("SELECT {COLUMNS} FROM oauth_tokens WHERE name = ?1"),
                    params![n],
                    raw_row,
                )
                .optional()
            })
            .wait()
            .await?;
        row.map(|r| self.open_row(r)).transpose()
    }

    /// Every stored set, by name.
    pub async fn list(&self) -> Result<Vec<TokenSet>, TokenStoreError> {
        let rows = self
            .db
            .transaction(|t| {
                let mut q =
                    t.prepare(&format!("SELECT {COLUMNS} FROM oauth_tokens ORDER BY name"))?;
                let rows = q
                    .query_map([], raw_row)?
                    .collect::<rusqlite::Result<Vec<_>>>();
                rows
            })
            .wait()
            .await?;
        rows.into_iter().map(|r| self.open_row(r)).collect()
    }

    /// Stores a new grant for `name`, replacing whatever was there (durable on return).
    pub async fn put_grant(
        &self,
        name: &str,
        grant: Grant,
        now: SystemTime,
    ) -> Result<(), TokenStoreError> {
        let refresh = self.seal(name, "refresh_token", Some(&grant.refresh_token))?;
        let access = self.seal(name, "access_token", grant.access_token.as_ref())?;
        let n = name.to_string();
        let now = to_unix_ms(now);
        self.db
            .transaction(move |t| {
                t.execute(
                    "INSERT INTO oauth_tokens (name, provider, account, refresh_token, access_token,
                         access_obtained_unix_ms, access_expires_unix_ms,
                         refresh_announced_end_unix_ms, scopes, issued_unix_ms, rotated_unix_ms,
                         generation)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 1)
                     ON CONFLICT(name) DO UPDATE SET provider = ?2, account = ?3,
                         refresh_token = ?4, access_token = ?5, access_obtained_unix_ms = ?6,
                         access_expires_unix_ms = ?7, refresh_announced_end_unix_ms = ?8,
                         scopes = ?9, issued_unix_ms = ?10, rotated_unix_ms = ?10,
                         last_refresh_unix_ms = NULL, last_error_reason = NULL,
                         last_error_message = NULL, last_error_unix_ms = NULL,
                         last_error_terminal = 0, generation = generation + 1",
                    params![
                        n,
                        grant.provider,
                        grant.account,
                        refresh,
                        access,
                        access.as_ref().map(|_| now),
                        grant.access_expires.map(to_unix_ms),
                        grant.refresh_announced_end.map(to_unix_ms),
                        grant.scopes,
                        now,
                    ],
                )
                .map(drop)
            })
            .wait()
            .await?;
        Ok(())
    }

    /// Stores a successful refresh of `name` (durable on return): the new access token and, when
    /// the server rotated it, the new refresh token, in one transaction. `false` when the set is
    /// gone or its refresh token changed since `generation` (a reauth or another process won):
    /// nothing is written then, and the caller reads the set again.
    pub async fn record_refresh(
        &self,
        name: &str,
        generation: i64,
        refreshed: Refreshed,
        now: SystemTime,
    ) -> Result<bool, TokenStoreError> {
        let access = self.seal(name, "access_token", Some(&refreshed.access_token))?;
        let rotated = self.seal(name, "refresh_token", refreshed.refresh_token.as_ref())?;
        let n = name.to_string();
        let now = to_unix_ms(now);
        let changed = self
            .db
            .transaction(move |t| {
                let bump = i64::from(rotated.is_some());
                t.execute(
                    "UPDATE oauth_tokens SET access_token = ?3, access_obtained_unix_ms = ?4,
                         access_expires_unix_ms = ?5,
                         refresh_token = COALESCE(?6, refresh_token),
                         rotated_unix_ms = CASE WHEN ?6 IS NULL THEN rotated_unix_ms ELSE ?4 END,
                         refresh_announced_end_unix_ms = COALESCE(?7, refresh_announced_end_unix_ms),
                         scopes = COALESCE(?8, scopes),
                         last_refresh_unix_ms = ?4, last_error_reason = NULL,
                         last_error_message = NULL, last_error_unix_ms = NULL,
                         last_error_terminal = 0, generation = generation + ?9
                     WHERE name = ?1 AND generation = ?2",
                    params![
                        n,
                        generation,
                        access,
                        now,
                        refreshed.access_expires.map(to_unix_ms),
                        rotated,
                        refreshed.refresh_announced_end.map(to_unix_ms),
                        refreshed.scopes,
                        bump,
                    ],
                )
            })
            .wait()
            .await?;
        Ok(changed == 1)
    }

    /// Stores a failed refresh of `name` at `generation` (durable on return).
    pub async fn record_error(
        &self,
        name: &str,
        generation: i64,
        error: StoredError,
    ) -> Result<(), TokenStoreError> {
        let n = name.to_string();
        self.db
            .transaction(move |t| {
                t.execute(
                    "UPDATE oauth_tokens SET last_error_reason = ?3, last_error_message = ?4,
                         last_error_unix_ms = ?5, last_error_terminal = ?6
                     WHERE name = ?1 AND generation = ?2",
                    params![
                        n,
                        generation,
                        error.reason,
                        error.message,
                        to_unix_ms(error.at),
                        error.terminal,
                    ],
                )
                .map(drop)
            })
            .wait()
            .await?;
        Ok(())
    }

    /// Forgets the access token of `name` (a server refused it): the next use refreshes.
    pub fn invalidate_access(&self, name: &str) {
        let n = name.to_string();
        self.db.submit("oauth_tokens", move |t| {
            t.execute(
                "UPDATE oauth_tokens SET access_token = NULL, access_expires_unix_ms = NULL
                 WHERE name = ?1",
                params![n],
            )
            .map(drop)
        });
    }

    /// Notes that an access token of `name` was handed to a login (not waited for).
    pub fn mark_used(&self, name: &str, now: SystemTime) {
        let n = name.to_string();
        let now = to_unix_ms(now);
        self.db.submit("oauth_tokens", move |t| {
            t.execute(
                "UPDATE oauth_tokens SET last_used_unix_ms = ?2 WHERE name = ?1",
                params![n, now],
            )
            .map(drop)
        });
    }

    fn seal(
        &self,
        name: &str,
        column: &str,
        value: Option<&Secret>,
    ) -> Result<Option<Vec<u8>>, TokenStoreError> {
        value
            .map(|v| self.sealer.seal(v.expose(), &context(name, column)))
            .transpose()
            .map_err(|source| TokenStoreError::Seal {
                name: name.to_string(),
                source,
            })
    }

    fn open_row(&self, r: RawRow) -> Result<TokenSet, TokenStoreError> {
        let open = |column: &str, blob: Option<Vec<u8>>| {
            blob.map(|b| {
                self.sealer
                    .open(&b, &context(&r.name, column))
                    .map(Secret::new)
            })
            .transpose()
            .map_err(|source| TokenStoreError::Seal {
                name: r.name.clone(),
                source,
            })
        };
        let refresh_token = open("refresh_token", r.refresh_token.clone())?;
        let access_token = open("access_token", r.access_token.clone())?;
        let time = |ms: Option<i64>| ms.map(from_unix_ms);
        Ok(TokenSet {
            refresh_token,
            access_token,
            access_obtained: time(r.access_obtained),
            access_expires: time(r.access_expires),
            refresh_announced_end: time(r.refresh_announced_end),
            issued_at: from_unix_ms(r.issued),
            rotated_at: from_unix_ms(r.rotated),
            last_refresh: time(r.last_refresh),
            last_used: time(r.last_used),
            last_error: match (r.error_reason, r.error_at) {
                (Some(reason), Some(at)) => Some(StoredError {
                    reason,
                    message: r.error_message.unwrap_or_default(),
                    at: from_unix_ms(at),
                    terminal: r.error_terminal,
                }),
                _ => None,
            },
            generation: r.generation,
            name: r.name,
            provider: r.provider,
            account: r.account,
            scopes: r.scopes,
        })
    }
}

const COLUMNS: &str = "name, provider, account, refresh_token, access_token,
    access_obtained_unix_ms, access_expires_unix_ms, refresh_announced_end_unix_ms, scopes,
    issued_unix_ms, rotated_unix_ms, last_refresh_unix_ms, last_used_unix_ms, last_error_reason,
    last_error_message, last_error_unix_ms, last_error_terminal, generation";

struct RawRow {
    name: String,
    provider: String,
    account: String,
    refresh_token: Option<Vec<u8>>,
    access_token: Option<Vec<u8>>,
    access_obtained: Option<i64>,
    access_expires: Option<i64>,
    refresh_announced_end: Option<i64>,
    scopes: String,
    issued: i64,
    rotated: i64,
    last_refresh: Option<i64>,
    last_used: Option<i64>,
    error_reason: Option<String>,
    error_message: Option<String>,
    error_at: Option<i64>,
    error_terminal: bool,
    generation: i64,
}

fn raw_row(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        name: r.get(0)?,
        provider: r.get(1)?,
        account: r.get(2)?,
        refresh_token: r.get(3)?,
        access_token: r.get(4)?,
        access_obtained: r.get(5)?,
        access_expires: r.get(6)?,
        refresh_announced_end: r.get(7)?,
        scopes: r.get(8)?,
        issued: r.get(9)?,
        rotated: r.get(10)?,
        last_refresh: r.get(11)?,
        last_used: r.get(12)?,
        error_reason: r.get(13)?,
        error_message: r.get(14)?,
        error_at: r.get(15)?,
        error_terminal: r.get(16)?,
        generation: r.get(17)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn grant(rt: &str) -> Grant {
        Grant {
            provider: "microsoft".into(),
            account: "nas@example.com".into(),
            refresh_token: Secret::new(rt),
            access_token: Some(Secret::new("at-0")),
            access_expires: Some(SystemTime::now() + Duration::from_secs(3600)),
            refresh_announced_end: None,
            scopes: "offline_access".into(),
        }
    }

    fn refreshed(at: &str, rt: Option<&str>) -> Refreshed {
        Refreshed {
            access_token: Secret::new(at),
            access_expires: Some(SystemTime::now() + Duration::from_secs(60)),
            refresh_token: rt.map(Secret::new),
            refresh_announced_end: None,
            scopes: None,
        }
    }

    #[tokio::test]
    async fn a_rotation_replaces_the_refresh_token_and_bumps_the_generation() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(StateDb::open(dir.path()).unwrap());
        let store = TokenStore::open(db.clone(), Sealer::plaintext()).unwrap();
        store
            .put_grant("nas", grant("rt-1"), SystemTime::now())
            .await
            .unwrap();
        let set = store.get("nas").await.unwrap().unwrap();
        assert_eq!(set.generation, 1);
        assert!(store
            .record_refresh("nas", 1, refreshed("at-1", Some("rt-2")), SystemTime::now())
            .await
            .unwrap());
        let set = store.get("nas").await.unwrap().unwrap();
        assert_eq!(set.refresh_token.unwrap().expose(), "rt-2");
        assert_eq!(set.access_token.unwrap().expose(), "at-1");
        assert_eq!(set.generation, 2);
        // A writer that read generation 1 lost the race: nothing is written.
        assert!(!store
            .record_refresh("nas", 1, refreshed("at-x", Some("rt-x")), SystemTime::now())
            .await
            .unwrap());
        // A refresh without rotation keeps the refresh token and the generation.
        assert!(store
            .record_refresh("nas", 2, refreshed("at-2", None), SystemTime::now())
            .await
            .unwrap());
        let set = store.get("nas").await.unwrap().unwrap();
        assert_eq!(
            (set.refresh_token.unwrap().expose(), set.generation),
            ("rt-2", 2)
        );
        db.close();
    }

    #[tokio::test]
    async fn with_a_key_no_token_is_in_the_file_in_plaintext_and_old_rows_get_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let key = b"0123456789abcdef0123456789abcdef-key";
        {
            let db = Arc::new(StateDb::open(dir.path()).unwrap());
            let store = TokenStore::open(db.clone(), Sealer::plaintext()).unwrap();
            store
                .put_grant("old", grant("plain-refresh-token-1"), SystemTime::now())
                .await
                .unwrap();
            db.close();
        }
        let db = Arc::new(StateDb::open(dir.path()).unwrap());
        let store = TokenStore::open(db.clone(), Sealer::with_key(key)).unwrap();
        store
            .put_grant("new", grant("plain-refresh-token-2"), SystemTime::now())
            .await
            .unwrap();
        assert_eq!(
            store
                .get("old")
                .await
                .unwrap()
                .unwrap()
                .refresh_token
                .unwrap()
                .expose(),
            "plain-refresh-token-1"
        );
        db.close();
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        // secure_delete (StateDb::open) overwrites the replaced plaintext instead of freeing it.
        for needle in [&b"plain-refresh-token"[..], b"at-0"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} found in the state files",
                String::from_utf8_lossy(needle)
            );
        }
        // Without the key the store refuses to open rather than misread.
        let db = Arc::new(StateDb::open(dir.path()).unwrap());
        assert!(TokenStore::open(db.clone(), Sealer::plaintext()).is_err());
        db.close();
    }
}
