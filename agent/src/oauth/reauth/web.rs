//! The re-authorizations the status page runs (`/reauth/TARGET`), kept in memory only.
//!
//! - **Redirect with a pasted answer** (Google): each page view makes an attempt (a PKCE pair,
//!   a `state`, a redirect URI `http://127.0.0.1:PORT/` at a port nothing needs to listen on,
//!   since the browser is not on the agent's machine). The person signs in, the browser ends on
//!   that unreachable address, and the person pastes it back. The pasted answer's `state` must
//!   be that of an attempt this page made for this target in the last 10 minutes; each attempt
//!   is used once. That binding is the page's CSRF defence: a forged POST has no valid state.
//! - **Device code** (Microsoft, generic servers with a device endpoint): one attempt per target
//!   at a time, polled by a background task for at most the code's lifetime (capped at 30
//!   minutes); the page shows the user code and, on a later view, how it ended.
//!
//! Verifiers and device codes never leave this module except towards the token endpoint.

use super::device::{self, DeviceError};
use super::{authorize, finish, redirect, Stored};
use crate::config::OauthAccount;
use crate::oauth::classify::{classify, Hint};
use crate::oauth::endpoint::Endpoint;
use crate::oauth::pkce::{self, Pkce};
use crate::oauth::Tokens;
use mailbeat_sdk::{Locale, Secret};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// How long a page's redirect attempt can be completed.
pub const ATTEMPT_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// How long an outcome stays on the page.
pub const OUTCOME_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// A device flow started from the page polls at most this long, whatever the server says.
pub const DEVICE_MAX: Duration = Duration::from_secs(30 * 60);
/// At most this many redirect attempts are pending at once (the oldest go first).
const MAX_PENDING: usize = 64;

/// A redirect attempt made by the page.
struct Pending {
    target: String,
    state: String,
    verifier: Secret,
    redirect_uri: String,
    created: Instant,
}

/// What the page shows of a device flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceView {
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    /// The provider's sentence for the person (Microsoft's `message`).
    pub message: Option<String>,
    pub expires_at: SystemTime,
}

struct DeviceAttempt {
    id: u64,
    view: DeviceView,
    deadline: Instant,
}

/// How the last attempt for a target ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    pub message: String,
    pub at: SystemTime,
    /// Where it was recorded, for expiry.
    recorded: Instant,
}

/// The state of a target's re-authorization, as `/reauth/TARGET?format=json` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    None,
    /// A device flow is waiting for the person.
    Waiting(DeviceView),
    Finished(Outcome),
}

/// A redirect attempt's link, for the page.
#[derive(Debug, Clone)]
pub struct RedirectStart {
    pub url: String,
    pub redirect_uri: String,
}

/// Why a page's attempt could not start or finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Paste(#[from] redirect::PasteError),
    #[error("the pasted answer has no state parameter, so it cannot be matched to an attempt made by this page: paste the whole address")]
    NoState,
    #[error("the pasted answer belongs to no pending attempt of this page for this target (attempts expire after 10 minutes and are used once): open this page again and sign in again")]
    UnknownState,
    #[error("{0}")]
    Failed(String),
}

#[derive(Default)]
struct Inner {
    pending: VecDeque<Pending>,
    devices: HashMap<String, DeviceAttempt>,
    /// Targets whose device flow is being requested right now (two views at once start one).
    starting: HashMap<String, Instant>,
    outcomes: HashMap<String, Outcome>,
    next_id: u64,
}

impl Inner {
    fn purge(&mut self, now: Instant) {
        self.pending
            .retain(|p| now.duration_since(p.created) < ATTEMPT_LIFETIME);
        self.devices.retain(|_, d| now < d.deadline);
        self.starting
            .retain(|_, at| now.duration_since(*at) < Duration::from_secs(120));
        self.outcomes
            .retain(|_, o| now.duration_since(o.recorded) < OUTCOME_LIFETIME);
    }
}

/// The page's attempts; one per agent, kept across reloads.
#[derive(Default)]
pub struct WebAttempts {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for WebAttempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebAttempts").finish_non_exhaustive()
    }
}

/// What a page's attempt needs of the agent.
#[derive(Clone)]
pub struct Context {
    pub tokens: Arc<Tokens>,
    pub target: String,
    pub account: Arc<OauthAccount>,
    /// Each request to the authorization server is bounded by this (`global.timeout`).
    pub timeout: Duration,
    pub locale: Locale,
}

impl WebAttempts {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.purge(Instant::now());
        g
    }

    /// Where the target's re-authorization stands.
    pub fn status(&self, target: &str) -> Status {
        let g = self.lock();
        if let Some(d) = g.devices.get(target) {
            return Status::Waiting(d.view.clone());
        }
        match g.outcomes.get(target) {
            Some(o) => Status::Finished(o.clone()),
            None => Status::None,
        }
    }

    fn record(&self, target: &str, ok: bool, message: String) {
        self.lock().outcomes.insert(
            target.to_string(),
            Outcome {
                ok,
                message,
                at: SystemTime::now(),
                recorded: Instant::now(),
            },
        );
    }

    /// A new redirect attempt for `cx.target`: the link to open.
    pub fn start_redirect(&self, cx: &Context) -> Result<RedirectStart, PageError> {
        let pkce = Pkce::new().map_err(|e| PageError::Failed(e.to_string()))?;
        let state = pkce::new_state().map_err(|e| PageError::Failed(e.to_string()))?;
        let redirect_uri = format!("http://127.0.0.1:{}/", unused_port()?);
        let url = authorize::url(
            &cx.account,
            authorize::Request {
                redirect_uri: &redirect_uri,
                state: &state,
                challenge: &pkce.challenge,
            },
        )
        .map_err(|e| PageError::Failed(e.to_string()))?;
        let mut g = self.lock();
        while g.pending.len() >= MAX_PENDING {
            g.pending.pop_front();
        }
        g.pending.push_back(Pending {
            target: cx.target.clone(),
            state,
            verifier: pkce.verifier,
            redirect_uri: redirect_uri.clone(),
            created: Instant::now(),
        });
        Ok(RedirectStart { url, redirect_uri })
    }

    /// Completes a redirect attempt with the address a person pasted: finds the attempt by the
    /// answer's state (used once), exchanges the code with its verifier, checks whose grant it
    /// is, and stores it.
    pub async fn complete_redirect(&self, cx: &Context, pasted: &str) -> Result<Stored, PageError> {
        let answer = redirect::Answer::from_pasted(pasted)?;
        let state = answer.state.clone().ok_or(PageError::NoState)?;
        let attempt = {
            let mut g = self.lock();
            let at = g
                .pending
                .iter()
                .position(|p| p.target == cx.target && pkce::same(&p.state, &state));
            at.and_then(|i| g.pending.remove(i))
        };
        let Some(attempt) = attempt else {
            return Err(PageError::UnknownState);
        };
        let outcome = async {
            let code = answer
                .verify(&attempt.state)
                .map_err(|e| PageError::Failed(e.to_string()))?;
            let secret = client_secret(&cx.account)?;
            let endpoint = Endpoint::new(&cx.account, cx.timeout)
                .map_err(|f| PageError::Failed(describe(cx, &f)))?;
            let response = endpoint
                .exchange_code(
                    code.expose(),
                    attempt.verifier.expose(),
                    &attempt.redirect_uri,
                    secret.as_ref(),
                )
                .await
                .map_err(|f| {
                    PageError::Failed(format!(
                        "the code could not be exchanged: {}: nothing stored",
                        describe(cx, &f)
                    ))
                })?;
            finish(&cx.tokens, &cx.account, &response)
                .await
                .map_err(|e| PageError::Failed(e.to_string()))
        }
        .await;
        self.settle(cx, "redirect", &outcome);
        outcome
    }

    /// The target's device flow: the one waiting, or a new one (requested from the device
    /// authorization endpoint, then polled in the background). `restart` replaces a waiting one.
    pub async fn device(
        self: &Arc<Self>,
        cx: &Context,
        restart: bool,
    ) -> Result<DeviceView, PageError> {
        {
            let mut g = self.lock();
            if restart {
                g.devices.remove(&cx.target);
            }
            if let Some(d) = g.devices.get(&cx.target) {
                return Ok(d.view.clone());
            }
            if g.starting.contains_key(&cx.target) {
                return Err(PageError::Failed(
                    "a device code is being requested for this target: reload this page in a few seconds".into(),
                ));
            }
            g.starting.insert(cx.target.clone(), Instant::now());
        }
        let started = self.request_device(cx).await;
        let mut g = self.lock();
        g.starting.remove(&cx.target);
        let auth = match started {
            Ok(auth) => auth,
            Err(e) => {
                drop(g);
                self.record(&cx.target, false, e.to_string());
                return Err(e);
            }
        };
        let lifetime = Duration::from_secs(auth.expires_in).min(DEVICE_MAX);
        let view = DeviceView {
            user_code: auth.user_code.clone(),
            verification_uri: auth.verification_uri.clone(),
            verification_uri_complete: auth.verification_uri_complete.clone(),
            message: auth.message.clone(),
            expires_at: SystemTime::now() + lifetime,
        };
        g.next_id += 1;
        let id = g.next_id;
        g.devices.insert(
            cx.target.clone(),
            DeviceAttempt {
                id,
                view: view.clone(),
                // Kept a little past the poller's end so the poller's outcome is what shows.
                deadline: Instant::now() + lifetime + Duration::from_secs(60),
            },
        );
        g.outcomes.remove(&cx.target);
        drop(g);
        let me = self.clone();
        let cx = cx.clone();
        tokio::spawn(async move {
            let outcome = poll_device(&cx, auth, lifetime).await;
            let mut g = me.lock();
            // Only the attempt this task polls for may be settled by it.
            if g.devices.get(&cx.target).is_some_and(|d| d.id == id) {
                g.devices.remove(&cx.target);
                drop(g);
                me.settle(&cx, "device", &outcome);
            }
        });
        Ok(view)
    }

    async fn request_device(
        &self,
        cx: &Context,
    ) -> Result<crate::oauth::endpoint::DeviceAuthorization, PageError> {
        let secret = client_secret(&cx.account)?;
        let endpoint = Endpoint::new(&cx.account, cx.timeout)
            .map_err(|f| PageError::Failed(describe(cx, &f)))?;
        endpoint
            .device_authorization(&authorize::scopes(&cx.account), secret.as_ref())
            .await
            .map_err(|f| {
                PageError::Failed(format!(
                    "the device authorization endpoint refused: {}",
                    describe(cx, &f)
                ))
            })
    }

    fn settle(&self, cx: &Context, flow: &str, outcome: &Result<Stored, PageError>) {
        match outcome {
            Ok(stored) => {
                let who = stored
                    .confirmed
                    .clone()
                    .unwrap_or_else(|| cx.account.username.clone());
                let mut line = format!("new tokens stored for {} ({who})", cx.target);
                for w in &stored.warnings {
                    line.push_str("; ");
                    line.push_str(w);
                }
                tracing::info!(target_name = %cx.target, account = %who, flow, "re-authorized from the status page");
                self.record(&cx.target, true, line);
            }
            Err(e) => {
                tracing::warn!(target_name = %cx.target, flow, error = %e, "re-authorization from the status page failed");
                self.record(&cx.target, false, e.to_string());
            }
        }
    }
}

/// Polls one device grant to its end and stores what it yields.
async fn poll_device(
    cx: &Context,
    auth: crate::oauth::endpoint::DeviceAuthorization,
    lifetime: Duration,
) -> Result<Stored, PageError> {
    let secret = client_secret(&cx.account)?;
    let endpoint =
        Endpoint::new(&cx.account, cx.timeout).map_err(|f| PageError::Failed(describe(cx, &f)))?;
    let provider = cx.account.provider;
    let locale = cx.locale;
    let response = device::poll_until(
        Duration::from_secs(auth.interval),
        lifetime,
        lifetime,
        || async {
            let answer = endpoint
                .poll_device(&auth.device_code, secret.as_ref())
                .await;
            device::judge(provider, answer, locale)
        },
    )
    .await
    .map_err(|e: DeviceError| PageError::Failed(e.to_string()))?;
    finish(&cx.tokens, &cx.account, &response)
        .await
        .map_err(|e| PageError::Failed(e.to_string()))
}

fn client_secret(account: &OauthAccount) -> Result<Option<Secret>, PageError> {
    account
        .client_secret
        .as_ref()
        .map(|s| s.read())
        .transpose()
        .map_err(|e| PageError::Failed(format!("cannot read the client secret: {e}")))
}

fn describe(cx: &Context, f: &crate::oauth::classify::TokenFailure) -> String {
    classify(cx.account.provider, f, Hint::default(), cx.locale).message
}

/// A port for the redirect URI that nothing needs to listen on: random in the dynamic range, so
/// a stale tab of an earlier attempt is not mistaken for this one's.
fn unused_port() -> Result<u16, PageError> {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 2];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| PageError::Failed("the operating system gave no random bytes".into()))?;
    Ok(49152 + u16::from_be_bytes(b) % (65535 - 49152))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::reauth::authorize::tests::account;
    use crate::oauth::ProviderKind;

    fn cx(target: &str) -> Context {
        Context {
            tokens: Arc::new(Tokens::default()),
            target: target.into(),
            account: Arc::new(account(
                ProviderKind::Google,
                Some("https://accounts.example/auth"),
            )),
            timeout: Duration::from_secs(1),
            locale: Locale::En,
        }
    }

    fn state_of(url: &str) -> String {
        reqwest::Url::parse(url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned()
    }

    #[test]
    fn each_view_makes_an_attempt_with_its_own_state_and_an_unlistened_port() {
        let a = WebAttempts::default();
        let one = a.start_redirect(&cx("g")).unwrap();
        let two = a.start_redirect(&cx("g")).unwrap();
        assert_ne!(state_of(&one.url), state_of(&two.url));
        let port: u16 = one.redirect_uri["http://127.0.0.1:".len()..]
            .trim_end_matches('/')
            .parse()
            .unwrap();
        assert!(port >= 49152);
        assert!(one.url.contains("code_challenge_method=S256"));
        assert!(!format!("{a:?}").contains(&state_of(&one.url)));
    }

    #[tokio::test]
    async fn a_pasted_answer_must_name_a_pending_attempt_of_this_target() {
        let a = WebAttempts::default();
        let start = a.start_redirect(&cx("g")).unwrap();
        let state = state_of(&start.url);
        let pasted = format!("{}?state={state}&code=c", start.redirect_uri);
        // Garbage and a missing state consume nothing.
        assert!(matches!(
            a.complete_redirect(&cx("g"), "not a url").await,
            Err(PageError::Paste(_))
        ));
        assert_eq!(
            a.complete_redirect(&cx("g"), &format!("{}?code=c", start.redirect_uri))
                .await,
            Err(PageError::NoState)
        );
        // Another target's page, another state.
        assert_eq!(
            a.complete_redirect(&cx("other"), &pasted).await,
            Err(PageError::UnknownState)
        );
        assert_eq!(
            a.complete_redirect(&cx("g"), &pasted.replace(&state, "nope"))
                .await,
            Err(PageError::UnknownState)
        );
        // The right one reaches the exchange (no server here: it fails there), and is used up.
        let first = a.complete_redirect(&cx("g"), &pasted).await;
        assert!(
            matches!(&first, Err(PageError::Failed(m)) if m.starts_with("the code could not be exchanged")),
            "{first:?}"
        );
        assert_eq!(
            a.complete_redirect(&cx("g"), &pasted).await,
            Err(PageError::UnknownState)
        );
        assert!(matches!(
            a.status("g"),
            Status::Finished(Outcome { ok: false, .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_expire_after_ten_minutes_and_at_most_64_are_kept() {
        let a = WebAttempts::default();
        let start = a.start_redirect(&cx("g")).unwrap();
        let pasted = format!(
            "{}?state={}&code=c",
            start.redirect_uri,
            state_of(&start.url)
        );
        tokio::time::advance(ATTEMPT_LIFETIME + Duration::from_secs(1)).await;
        assert_eq!(
            a.complete_redirect(&cx("g"), &pasted).await,
            Err(PageError::UnknownState)
        );
        let first = a.start_redirect(&cx("g")).unwrap();
        for _ in 0..MAX_PENDING {
            a.start_redirect(&cx("g")).unwrap();
        }
        assert_eq!(a.lock().pending.len(), MAX_PENDING);
        let pasted = format!(
            "{}?state={}&code=c",
            first.redirect_uri,
            state_of(&first.url)
        );
        assert_eq!(
            a.complete_redirect(&cx("g"), &pasted).await,
            Err(PageError::UnknownState),
            "the oldest gave way"
        );
    }
}
