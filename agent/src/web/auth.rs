//! HTTP basic auth against bcrypt hashes, as exporter-toolkit does it.
//!
//! bcrypt is slow by design (cost 10 is tens of milliseconds of CPU). A scrape every 15 s with the
//! same credentials should not pay that each time, so a successful check is remembered: the cache
//! holds SHA-256 digests of (a random per-process key, user, hash, password), never a password.
//! Changing a user's hash in the file changes the digest, so an old password stops working at
//! once. Failed checks are not cached; they are verified one at a time (like exporter-toolkit's
//! mutex), so a flood of wrong passwords costs at most one core. An unknown user is checked
//! against a configured hash too, so the answer takes as long as for a known one.

use base64::Engine as _;
use hyper::header::HeaderValue;
use secrecy::zeroize::Zeroizing;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// The realm of the `WWW-Authenticate` challenge.
pub const REALM: &str = "mailbeat";

/// At most this many remembered successes; when full, the cache starts afresh.
const CACHE_LIMIT: usize = 1024;

/// Whether `hash` is a bcrypt hash we can verify against. The reason never contains the hash.
pub(super) fn check_hash(hash: &str) -> Result<(), &'static str> {
    let parts: bcrypt::HashParts = hash.parse().map_err(|e| match e {
        bcrypt::BcryptError::InvalidHash(why) => why,
        _ => "the hash format is malformed",
    })?;
    if !(4..=31).contains(&parts.get_cost()) {
        return Err("the cost must be between 4 and 31");
    }
    Ok(())
}

/// The users and their bcrypt hashes, with the cache of successful checks.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// A configured hash, checked for an unknown user so that timing does not tell users apart.
    decoy: String,
    key: [u8; 32],
    cache: Arc<Mutex<HashSet<[u8; 32]>>>,
    bcrypt_slot: Arc<Semaphore>,
    verifications: AtomicU64,
}

impl BasicAuth {
    /// `users`: user → bcrypt hash, already checked with [`check_hash`]; at least one.
    pub(super) fn new(users: BTreeMap<String, String>) -> Self {
        let decoy = users.values().next().cloned().unwrap_or_default();
        let mut key = [0u8; 32];
        if rustls::crypto::ring::default_provider()
            .secure_random
            .fill(&mut key)
            .is_err()
        {
            // The digests are still one-way; only the per-process key is lost.
            tracing::warn!("no random bytes for the basic auth cache key");
        }
        BasicAuth {
            users,
            decoy,
            key,
            cache: Arc::new(Mutex::new(HashSet::new())),
            bcrypt_slot: Arc::new(Semaphore::new(1)),
            verifications: AtomicU64::new(0),
        }
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// How many bcrypt verifications ran (the cache's hits are not counted).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Whether the `Authorization` header holds the credentials of a configured user.
    pub async fn check(&self, header: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = header.and_then(parse_basic) else {
            return false;
        };
        let (known, hash) = match self.users.get(&user) {
            Some(h) => (true, h.clone()),
            None => (false, self.decoy.clone()),
        };
        let digest = self.digest(&user, &hash, &password);
        if known && self.lock_cache().contains(&digest) {
            return true;
        }
        let Ok(permit) = self.bcrypt_slot.clone().acquire_owned().await else {
            return false;
        };
        self.verifications.fetch_add(1, Ordering::Relaxed);
        // The result is remembered in the blocking task: a client that gave up waiting (a
        // scrape timeout) still has its success counted for the next scrape.
        let cache = self.cache.clone();
        let verified = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let ok = bcrypt::verify(&*password, &hash).unwrap_or(false);
            if known && ok {
                let mut cache = lock(&cache);
                if cache.len() >= CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(digest);
            }
            ok
        })
        .await
        .unwrap_or(false);
        known && verified
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        lock(&self.cache)
    }

    /// SHA-256 of the process key and the length-prefixed user, hash and password.
    fn digest(&self, user: &str, hash: &str, password: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        for part in [user.as_bytes(), hash.as_bytes(), password] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }
}

fn lock(cache: &Mutex<HashSet<[u8; 32]>>) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
    cache.lock().unwrap_or_else(|e| e.into_inner())
}

/// `Basic base64(user:password)` → (user, password). The password is wiped when dropped.
fn parse_basic(header: &HeaderValue) -> Option<(String, Zeroizing<Vec<u8>>)> {
    let value = header.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?,
    );
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = std::str::from_utf8(&decoded[..colon]).ok()?.to_string();
    Some((user, Zeroizing::new(decoded[colon + 1..].to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> HeaderValue {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {b}")).unwrap()
    }

    fn auth() -> BasicAuth {
        let mut users = BTreeMap::new();
        users.insert("alice".to_string(), bcrypt::hash("s3cret:x", 4).unwrap());
        users.insert("bob".to_string(), bcrypt::hash("hunter2", 4).unwrap());
        BasicAuth::new(users)
    }

    #[test]
    fn basic_credentials_parse() {
        let (u, p) = parse_basic(&header("alice", "pa:ss")).unwrap();
        assert_eq!((u.as_str(), p.as_slice()), ("alice", &b"pa:ss"[..]));
        let (u, p) = parse_basic(&HeaderValue::from_static("basic  Ym9iOg== ")).unwrap();
        assert_eq!((u.as_str(), p.as_slice()), ("bob", &b""[..]));
        assert!(parse_basic(&HeaderValue::from_static("Bearer abc")).is_none());
        assert!(parse_basic(&HeaderValue::from_static("Basic !!!")).is_none());
        // No colon: not basic credentials.
        assert!(parse_basic(&HeaderValue::from_static("Basic YWxpY2U=")).is_none());
    }

    #[test]
    fn hashes_are_checked_without_showing_them() {
        let good = bcrypt::hash("x", 4).unwrap();
        assert!(check_hash(&good).is_ok());
        assert!(check_hash("$2y$04$tooshort").is_err());
        assert!(check_hash("plaintext-password").is_err());
        let mut bad_cost = good.clone();
        bad_cost.replace_range(4..6, "03");
        assert_eq!(
            check_hash(&bad_cost),
            Err("the cost must be between 4 and 31")
        );
        let sha = format!("$5${}", "a".repeat(56));
        assert!(!check_hash(&sha).unwrap_err().contains("aaaa"));
    }

    #[tokio::test]
    async fn good_bad_and_missing_credentials() {
        let a = auth();
        assert!(a.check(Some(&header("alice", "s3cret:x"))).await);
        assert!(a.check(Some(&header("bob", "hunter2"))).await);
        assert!(!a.check(Some(&header("alice", "hunter2"))).await);
        assert!(!a.check(Some(&header("mallory", "hunter2"))).await);
        assert!(!a.check(Some(&header("", ""))).await);
        assert!(!a.check(None).await);
    }

    #[tokio::test]
    async fn a_success_is_verified_once_then_remembered() {
        let a = auth();
        for _ in 0..5 {
            assert!(a.check(Some(&header("alice", "s3cret:x"))).await);
        }
        assert_eq!(a.verifications(), 1, "bcrypt ran once for five good checks");
        // Failures are never remembered: each one costs a verification.
        for _ in 0..3 {
            assert!(!a.check(Some(&header("alice", "wrong"))).await);
        }
        assert_eq!(a.verifications(), 4);
        // An unknown user is verified too (against a configured hash), and never let in.
        assert!(!a.check(Some(&header("mallory", "s3cret:x"))).await);
        assert_eq!(a.verifications(), 5);
        // The remembered success is for alice's password only.
        assert!(a.check(Some(&header("alice", "s3cret:x"))).await);
        assert_eq!(a.verifications(), 5);
    }

    #[tokio::test]
    async fn the_cache_holds_digests_not_passwords() {
        let a = auth();
        assert!(a.check(Some(&header("bob", "hunter2"))).await);
        let cache = a.lock_cache();
        assert_eq!(cache.len(), 1);
        let entry = cache.iter().next().unwrap();
        assert!(!entry.windows(7).any(|w| w == b"hunter2"));
        // Keyed per process: the same credentials give another digest in another instance.
        let other = auth();
        let hash = &a.users["bob"];
        assert_ne!(
            a.digest("bob", hash, b"hunter2"),
            other.digest("bob", hash, b"hunter2")
        );
    }

    #[tokio::test]
    async fn a_changed_hash_is_not_served_from_the_cache() {
        let a = auth();
        assert!(a.check(Some(&header("bob", "hunter2"))).await);
        let mut users = a.users.clone();
        users.insert("bob".into(), bcrypt::hash("new-password", 4).unwrap());
        // Same key, as if the file were read again in this process.
        let b = BasicAuth {
            users,
            decoy: a.decoy.clone(),
            key: a.key,
            cache: Arc::new(Mutex::new(a.lock_cache().clone())),
            bcrypt_slot: Arc::new(Semaphore::new(1)),
            verifications: AtomicU64::new(0),
        };
        assert!(!b.check(Some(&header("bob", "hunter2"))).await);
        assert!(b.check(Some(&header("bob", "new-password"))).await);
    }
}
