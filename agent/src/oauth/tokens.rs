//! The token service: hands out access tokens fresh enough for a login, refreshes them when
//! needed (one refresh at a time per token set, so one refresh serves every target of an
//! account), stores every rotation before its access token is used, and remembers why a refresh
//! failed so a dead grant is not retried by every login.

use super::classify::{classify, Classified, Hint};
use super::endpoint::{Endpoint, TokenResponse};
use super::predict::{refresh_token_end, History, Prediction};
use crate::config::{Config, OauthAccount};
use crate::state::tokens::{Grant, Refreshed, StoredError, TokenSet, TokenStore};
use mailbeat_sdk::{Locale, Reason, Secret, Status};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

/// How far before its expiry an access token is replaced by default: Exchange and others refuse
/// one that is about to expire.
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Why no access token can be had now, as a check reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unavailable {
    pub reason: Reason,
    pub status: Status,
    pub message: String,
    /// A remediation more precise than the reason's, when there is one.
    pub remediation: Option<String>,
}

impl From<Classified> for Unavailable {
    fn from(c: Classified) -> Self {
        Unavailable {
            reason: c.reason,
            status: c.status,
            message: c.message,
            remediation: c.remediation,
        }
    }
}

impl Unavailable {
    fn internal(message: impl Into<String>) -> Self {
        Unavailable {
            reason: Reason::InternalError,
            status: Status::Unknown,
            message: message.into(),
            remediation: None,
        }
    }

    fn config(message: impl Into<String>) -> Self {
        Unavailable {
            reason: Reason::ConfigError,
            status: Status::Unknown,
            message: message.into(),
            remediation: None,
        }
    }
}

/// What the `token` probe asked for, and learned.
#[derive(Debug, Clone)]
pub struct Report {
    /// The set after the check.
    pub set: TokenSet,
    /// True when this check refreshed.
    pub refreshed: bool,
    /// The failed refresh of this check, if it failed.
    pub failure: Option<Unavailable>,
    pub predicted_end: Option<Prediction>,
}

/// When the token probe refreshes.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    /// Refresh when the access token expires within this (clamped to a third of its lifetime).
    pub margin: Duration,
    /// Refresh at least this often, so an unused refresh token never dies of inactivity and a
    /// revoked grant is noticed.
    pub interval: Duration,
}

/// The token service of the agent: one per process, kept across reloads.
pub struct Tokens {
    store: RwLock<Option<Arc<TokenStore>>>,
    /// The configured accounts by target name.
    accounts: RwLock<HashMap<String, Arc<OauthAccount>>>,
    /// One refresh at a time per token set.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    locale: RwLock<Locale>,
}

impl Default for Tokens {
    fn default() -> Self {
        Tokens {
            store: RwLock::new(None),
            accounts: RwLock::new(HashMap::new()),
            locks: Mutex::new(HashMap::new()),
            locale: RwLock::new(Locale::En),
        }
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("store", &self.store())
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// Gives the service its store (once the state is open).
    pub fn attach(&self, store: Arc<TokenStore>) {
        *self.store.write().unwrap_or_else(|e| e.into_inner()) = Some(store);
    }

    /// The store, when attached.
    pub fn store(&self) -> Option<Arc<TokenStore>> {
        self.store.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Takes the OAuth accounts of `config` (at load and every reload).
    pub fn configure(&self, config: &Config) {
        let accounts = config
            .targets
            .iter()
            .filter_map(|t| Some((t.target.name.clone(), t.oauth.clone()?)))
            .collect();
        *self.accounts.write().unwrap_or_else(|e| e.into_inner()) = accounts;
        *self.locale.write().unwrap_or_else(|e| e.into_inner()) = config.global.locale;
    }

    /// The OAuth account of target `name`, when mailbeat keeps its tokens.
    pub fn account_of(&self, name: &str) -> Option<Arc<OauthAccount>> {
        self.accounts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    fn locale(&self) -> Locale {
        *self.locale.read().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_of(&self, set: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(set.to_string())
            .or_default()
            .clone()
    }

    fn store_or_err(&self) -> Result<Arc<TokenStore>, Unavailable> {
        self.store().ok_or_else(|| {
            Unavailable::internal("the token store is not open (global.state_dir not usable)")
        })
    }

    /// An access token of `account` valid for at least the margin, refreshing it first when it
    /// is not. Does not call the token endpoint when the last refresh failed in a way only a
    /// person can fix (the token probe keeps trying; logins wait for the fix).
    pub async fn access_token(
        &self,
        account: &OauthAccount,
        timeout: Duration,
    ) -> Result<Secret, Unavailable> {
        let store = self.store_or_err()?;
        let lock = self.lock_of(&account.token);
        let _one = lock.lock().await;
        let set = self.load_or_seed(&store, account).await?;
        let now = SystemTime::now();
        if let (false, Some(token)) = (needs_refresh(&set, now, DEFAULT_MARGIN), &set.access_token)
        {
            store.mark_used(&account.token, now);
            return Ok(token.clone());
        }
        if let Some(e) = set.last_error.as_ref().filter(|e| e.terminal) {
            return Err(Unavailable {
                reason: e.reason.parse().unwrap_or(Reason::OauthRefreshTokenRevoked),
                status: Status::Critical,
                message: format!(
                    "no fresh access token: the last refresh failed ({}); not retried until the account is re-authorized",
                    e.message
                ),
                remediation: None,
            });
        }
        let set = self.refresh(&store, account, set, timeout).await?;
        store.mark_used(&account.token, SystemTime::now());
        set.access_token
            .ok_or_else(|| Unavailable::internal("a refresh stored no access token"))
    }

    /// Forgets the access token of `account` (a server refused it) so the next login refreshes.
    pub fn invalidate_access(&self, account: &OauthAccount) {
        if let Some(store) = self.store() {
            store.invalidate_access(&account.token);
        }
    }

    /// The `token` probe: refreshes when the policy says so and reports the set's health.
    pub async fn check(
        &self,
        account: &OauthAccount,
        policy: RefreshPolicy,
        timeout: Duration,
    ) -> Result<Report, Unavailable> {
        let store = self.store_or_err()?;
        let lock = self.lock_of(&account.token);
        let _one = lock.lock().await;
        let set = self.load_or_seed(&store, account).await?;
        let now = SystemTime::now();
        let last_proof = set.last_refresh.unwrap_or(set.issued_at).max(set.issued_at);
        let due = needs_refresh(&set, now, policy.margin)
            || now.duration_since(last_proof).unwrap_or_default() >= policy.interval;
        let (set, refreshed, failure) = if due {
            match self.refresh(&store, account, set.clone(), timeout).await {
                Ok(after) => (after, true, None),
                Err(e) => {
                    let after = store
                        .get(&account.token)
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or(set);
                    (after, true, Some(e))
                }
            }
        } else {
            (set, false, None)
        };
        let predicted_end = predict(account, &set);
        Ok(Report {
            set,
            refreshed,
            failure,
            predicted_end,
        })
    }

    /// Stores a new grant for `account` (reauth, import).
    pub async fn store_grant(
        &self,
        account: &OauthAccount,
        response: &TokenResponse,
    ) -> Result<(), Unavailable> {
        let store = self.store_or_err()?;
        let Some(refresh_token) = response.refresh_token.clone() else {
            return Err(Unavailable::config(
                "the authorization server issued no refresh token (ask for offline access: the offline_access scope, or access_type=offline)",
            ));
        };
        let now = SystemTime::now();
        let grant = Grant {
            provider: account.provider.as_str().to_string(),
            account: account.username.clone(),
            refresh_token,
            access_token: Some(response.access_token.clone()),
            access_expires: response.expires_in.map(|s| now + Duration::from_secs(s)),
            refresh_announced_end: response
                .refresh_token_expires_in
                .map(|s| now + Duration::from_secs(s)),
            scopes: response
                .scope
                .clone()
                .unwrap_or_else(|| account.scopes.join(" ")),
        };
        self.put_grant(&store, account, grant, now).await
    }

    /// Stores tokens imported from a file (`mailbeat token import`) as `account`'s new grant.
    pub async fn import_grant(
        &self,
        account: &OauthAccount,
        refresh_token: Secret,
        access_token: Option<(Secret, Option<SystemTime>)>,
        scopes: Option<String>,
    ) -> Result<(), Unavailable> {
        let store = self.store_or_err()?;
        let (access_token, access_expires) = match access_token {
            Some((t, e)) => (Some(t), e),
            None => (None, None),
        };
        let grant = Grant {
            provider: account.provider.as_str().to_string(),
            account: account.username.clone(),
            refresh_token,
            access_token,
            access_expires,
            refresh_announced_end: None,
            scopes: scopes.unwrap_or_else(|| account.scopes.join(" ")),
        };
        self.put_grant(&store, account, grant, SystemTime::now())
            .await
    }

    /// Replaces `account`'s token set with `grant` (durable on return), the set's lock held.
    async fn put_grant(
        &self,
        store: &TokenStore,
        account: &OauthAccount,
        grant: Grant,
        now: SystemTime,
    ) -> Result<(), Unavailable> {
        let lock = self.lock_of(&account.token);
        let _one = lock.lock().await;
        store
            .put_grant(&account.token, grant, now)
            .await
            .map_err(|e| Unavailable::internal(e.to_string()))
    }

    /// The stored set, importing `refresh_token_file` when there is none yet.
    async fn load_or_seed(
        &self,
        store: &TokenStore,
        account: &OauthAccount,
    ) -> Result<TokenSet, Unavailable> {
        let stored = store
            .get(&account.token)
            .await
            .map_err(|e| Unavailable::internal(e.to_string()))?;
        if let Some(set) = stored {
            return Ok(set);
        }
        let Some(seed) = &account.refresh_token_file else {
            return Err(Unavailable {
                reason: Reason::OauthConsentRequired,
                status: Status::Critical,
                message: format!(
                    "no refresh token is stored for {} ({}): authorize it with `mailbeat reauth`, `mailbeat token import` or oauth.refresh_token_file",
                    account.token, account.username
                ),
                remediation: None,
            });
        };
        let refresh_token = seed
            .read()
            .map_err(|e| Unavailable::config(e.to_string()))?;
        let grant = Grant {
            provider: account.provider.as_str().to_string(),
            account: account.username.clone(),
            refresh_token,
            access_token: None,
            access_expires: None,
            refresh_announced_end: None,
            scopes: account.scopes.join(" "),
        };
        store
            .put_grant(&account.token, grant, SystemTime::now())
            .await
            .map_err(|e| Unavailable::internal(e.to_string()))?;
        tracing::info!(token = %account.token, "imported the refresh token of oauth.refresh_token_file");
        store
            .get(&account.token)
            .await
            .map_err(|e| Unavailable::internal(e.to_string()))?
            .ok_or_else(|| Unavailable::internal("the imported token set is missing"))
    }

    /// Refreshes `set` (the lock held). A rotated refresh token is durable before this returns.
    async fn refresh(
        &self,
        store: &TokenStore,
        account: &OauthAccount,
        set: TokenSet,
        timeout: Duration,
    ) -> Result<TokenSet, Unavailable> {
        let Some(refresh_token) = &set.refresh_token else {
            return Err(Unavailable::internal("the token set has no refresh token"));
        };
        let client_secret = match &account.client_secret {
            Some(s) => Some(s.read().map_err(|e| Unavailable::config(e.to_string()))?),
            None => None,
        };
        let started = SystemTime::now();
        let answer = match Endpoint::new(account, timeout) {
            Ok(endpoint) => {
                endpoint
                    .refresh(refresh_token, client_secret.as_ref())
                    .await
            }
            Err(e) => Err(e),
        };
        match answer {
            Ok(response) => {
                let refreshed = Refreshed {
                    access_expires: response
                        .expires_in
                        .map(|s| started + Duration::from_secs(s)),
                    refresh_announced_end: response
                        .refresh_token_expires_in
                        .map(|s| started + Duration::from_secs(s)),
                    // A server that sends back the same refresh token did not rotate it.
                    refresh_token: response
                        .refresh_token
                        .filter(|r| r.expose() != refresh_token.expose()),
                    access_token: response.access_token,
                    scopes: response.scope,
                };
                let rotated = refreshed.refresh_token.is_some();
                let written = store
                    .record_refresh(&account.token, set.generation, refreshed, started)
                    .await
                    .map_err(|e| {
                        Unavailable::internal(format!(
                            "the refreshed token could not be stored: {e}"
                        ))
                    })?;
                if !written {
                    // Replaced meanwhile (a reauth, or `mailbeat check` in another process):
                    // what is stored now is newer than what this refresh started from.
                    tracing::info!(token = %account.token, "token set changed during a refresh; using the stored one");
                }
                tracing::debug!(token = %account.token, rotated, "refreshed the access token");
                store
                    .get(&account.token)
                    .await
                    .map_err(|e| Unavailable::internal(e.to_string()))?
                    .ok_or_else(|| Unavailable::internal("the token set vanished during a refresh"))
            }
            Err(failure) => {
                let predicted_passed =
                    predict(account, &set).is_some_and(|p| p.at <= SystemTime::now());
                let hint = Hint {
                    predicted_expiry_passed: predicted_passed,
                    short_lifetime: account
                        .refresh_token_lifetime
                        .is_some_and(|l| l <= Duration::from_secs(7 * 86400)),
                };
                let mut classified = classify(account.provider, &failure, hint, self.locale());
                // The body is the server's and may echo the request: whatever the classifier's
                // pattern-based scrubbing missed, the values themselves never pass.
                for secret in [Some(refresh_token), client_secret.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    if !secret.expose().is_empty() {
                        classified.message =
                            classified.message.replace(secret.expose(), "[redacted]");
                    }
                }
                let stored = StoredError {
                    reason: classified.reason.as_str().to_string(),
                    message: classified.message.clone(),
                    at: SystemTime::now(),
                    terminal: classified.terminal,
                };
                tracing::debug!(token = %account.token, reason = %classified.reason, message = %classified.message, "token refresh failed");
                if let Err(e) = store
                    .record_error(&account.token, set.generation, stored)
                    .await
                {
                    tracing::warn!(token = %account.token, error = %e, "cannot store the refresh failure");
                }
                Err(classified.into())
            }
        }
    }
}

/// The predicted end of `set`'s refresh token under `account`'s provider policy.
pub fn predict(account: &OauthAccount, set: &TokenSet) -> Option<Prediction> {
    refresh_token_end(
        account.provider,
        &History {
            issued_at: set.issued_at,
            rotated_at: set.rotated_at,
            last_refresh: set.last_refresh,
            announced_end: set.refresh_announced_end,
            configured_lifetime: account.refresh_token_lifetime,
        },
    )
}

/// True when `set` has no access token that stays valid past the margin, clamped to a third of
/// the token's lifetime so that tokens living only seconds are not refreshed on every use.
pub fn needs_refresh(set: &TokenSet, now: SystemTime, margin: Duration) -> bool {
    if set.access_token.is_none() {
        return true;
    }
    let Some(expires) = set.access_expires else {
        // No expiry said: treat it as an hour from when it came, RFC 6749's usual lifetime.
        let obtained = set.access_obtained.unwrap_or(set.rotated_at);
        return now >= obtained + Duration::from_secs(3600) - margin;
    };
    let lifetime = set
        .access_obtained
        .and_then(|o| expires.duration_since(o).ok())
        .unwrap_or(margin * 3);
    let margin = margin.min(lifetime / 3);
    match expires.checked_sub(margin) {
        Some(refresh_at) => now >= refresh_at,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(obtained: SystemTime, lifetime: Duration) -> TokenSet {
        TokenSet {
            name: "t".into(),
            provider: "google".into(),
            account: "a@example.com".into(),
            refresh_token: Some(Secret::new("rt")),
            access_token: Some(Secret::new("at")),
            access_obtained: Some(obtained),
            access_expires: Some(obtained + lifetime),
            refresh_announced_end: None,
            scopes: String::new(),
            issued_at: obtained,
            rotated_at: obtained,
            last_refresh: Some(obtained),
            last_used: None,
            last_error: None,
            generation: 1,
        }
    }

    #[test]
    fn the_margin_is_clamped_to_a_third_of_a_short_lifetime() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let s = set(t0, Duration::from_secs(6));
        // A 6 s token: the 5 min margin shrinks to 2 s.
        assert!(!needs_refresh(
            &s,
            t0 + Duration::from_secs(3),
            DEFAULT_MARGIN
        ));
        assert!(needs_refresh(
            &s,
            t0 + Duration::from_secs(4),
            DEFAULT_MARGIN
        ));
        let s = set(t0, Duration::from_secs(3600));
        assert!(!needs_refresh(
            &s,
            t0 + Duration::from_secs(3200),
            DEFAULT_MARGIN
        ));
        assert!(needs_refresh(
            &s,
            t0 + Duration::from_secs(3301),
            DEFAULT_MARGIN
        ));
        let none = TokenSet {
            access_token: None,
            ..s
        };
        assert!(needs_refresh(&none, t0, DEFAULT_MARGIN));
    }
}
