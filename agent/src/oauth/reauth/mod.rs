//! Re-authorization: getting a new grant for an account whose refresh token died, from the
//! command line (`mailbeat reauth`) or from the status page (`/reauth/TARGET`), and storing it
//! only when it belongs to the configured account.
//!
//! One job per file: `authorize.rs` the authorization URL and its scopes, `redirect.rs` reading
//! the answer on the redirect URI (or a pasted one), `listener.rs` the loopback redirect listener
//! of the command line (RFC 8252 §7.3), `device.rs` the device flow's polling (RFC 8628),
//! `identity.rs` whose grant it is, `web.rs` the attempts the status page keeps in memory. This
//! file holds what every way shares: which flow an account can use, and [`finish`] (identity,
//! scopes, then the store).

pub mod authorize;
pub mod device;
pub mod identity;
pub mod listener;
pub mod redirect;
pub mod web;

use super::endpoint::TokenResponse;
use super::{ProviderKind, Tokens};
use crate::config::OauthAccount;

/// How a person authorizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Authorization code with PKCE, through a browser and a redirect.
    Redirect,
    /// Device code: a code entered on another device (RFC 8628).
    Device,
}

impl Flow {
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Redirect => "redirect",
            Flow::Device => "device",
        }
    }
}

/// Why an account cannot use a flow; said before anything is contacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    #[error("Google does not allow the Gmail scope (https://mail.google.com/) in its device flow (it would answer invalid_scope), so --device cannot authorize a Google mail account: run `mailbeat reauth {target}` without --device and open the printed URL in a browser, or use the status page's /reauth/{target} on a machine without one")]
    GoogleDevice { target: String },
    #[error("no device authorization endpoint is known for this account: set oauth.device_authorization_url, or run without --device")]
    NoDeviceEndpoint,
    #[error("no authorization endpoint is known for this account: set oauth.authorization_url, or use the device flow (--device)")]
    NoAuthorizationEndpoint,
    #[error("neither oauth.authorization_url nor oauth.device_authorization_url is set: one of them is needed to re-authorize")]
    NoEndpoint,
}

/// Checks that `account` can use `flow`.
pub fn check_flow(target: &str, account: &OauthAccount, flow: Flow) -> Result<(), Unsupported> {
    match flow {
        Flow::Device if account.provider == ProviderKind::Google => {
            Err(Unsupported::GoogleDevice {
                target: target.to_string(),
            })
        }
        Flow::Device if account.endpoints.device_authorization_url.is_none() => {
            Err(Unsupported::NoDeviceEndpoint)
        }
        Flow::Redirect if account.endpoints.authorization_url.is_none() => {
            Err(Unsupported::NoAuthorizationEndpoint)
        }
        _ => Ok(()),
    }
}

/// The flow the status page uses for `account`: the device flow where the provider has one that
/// allows mail (Microsoft, a generic server with a device endpoint), else the redirect with a
/// pasted answer (Google).
pub fn page_flow(account: &OauthAccount) -> Result<Flow, Unsupported> {
    let device = account.provider != ProviderKind::Google
        && account.endpoints.device_authorization_url.is_some();
    if device {
        Ok(Flow::Device)
    } else if account.endpoints.authorization_url.is_some() {
        Ok(Flow::Redirect)
    } else {
        Err(Unsupported::NoEndpoint)
    }
}

/// Why a grant was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotStored {
    #[error(transparent)]
    Identity(#[from] identity::Mismatch),
    #[error("the grant lacks the scope {missing} that the target logs in with (was it unticked on the consent screen?): refused, nothing stored; authorize again and allow it")]
    MissingScope { missing: String },
    #[error("{0}")]
    Store(String),
}

/// What [`finish`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The account the ID token named, when there was one.
    pub confirmed: Option<String>,
    /// What a person should know although the grant was stored.
    pub warnings: Vec<String>,
}

/// Scopes that never appear in a granted `scope` list for a resource (Microsoft leaves them out).
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Checks that `response` belongs to `account` and carries its mail scopes, then stores it as the
/// account's new grant (durable when this returns). Nothing is stored on any refusal.
pub async fn finish(
    tokens: &Tokens,
    account: &OauthAccount,
    response: &TokenResponse,
) -> Result<Stored, NotStored> {
    let mut warnings = Vec::new();
    let confirmed = match identity::check(
        account.provider,
        &account.username,
        response.id_token.as_ref(),
    )? {
        identity::Verdict::Confirmed(who) => Some(who),
        identity::Verdict::Unchecked => {
            warnings.push(format!(
                "the server returned no id_token, so it is not known whether the grant belongs to {}; add `openid` to oauth.scopes to have it checked",
                account.username
            ));
            None
        }
    };
    if let Some(granted) = &response.scope {
        let granted: Vec<String> = granted.split_whitespace().map(str::to_lowercase).collect();
        let missing = account
            .scopes
            .iter()
            .filter(|s| !OIDC_SCOPES.contains(&s.as_str()))
            .find(|s| !granted.contains(&s.to_lowercase()));
        if let Some(missing) = missing {
            if account.provider == ProviderKind::Generic {
                warnings.push(format!(
                    "the server did not list the scope {missing} as granted"
                ));
            } else {
                return Err(NotStored::MissingScope {
                    missing: missing.clone(),
                });
            }
        }
    }
    tokens
        .store_grant(account, response)
        .await
        .map_err(|e| NotStored::Store(e.message))?;
    Ok(Stored {
        confirmed,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::seal::Sealer;
    use crate::state::tokens::TokenStore;
    use crate::state::StateDb;
    use authorize::tests::account;
    use identity::tests::jwt;
    use mailbeat_sdk::Secret;
    use std::sync::Arc;

    fn response(id_token: Option<Secret>, scope: Option<&str>) -> TokenResponse {
        TokenResponse {
            access_token: Secret::new("at-new"),
            refresh_token: Some(Secret::new("rt-new")),
            expires_in: Some(3600),
            refresh_token_expires_in: None,
            scope: scope.map(str::to_string),
            id_token,
        }
    }

    #[tokio::test]
    async fn only_a_grant_of_the_account_with_its_mail_scope_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(StateDb::open(dir.path()).unwrap());
        let tokens = Tokens::default();
        tokens.attach(Arc::new(
            TokenStore::open(db.clone(), Sealer::plaintext()).unwrap(),
        ));
        let a = account(ProviderKind::Google, Some("https://a.example/auth"));
        let stored = || async { tokens.store().unwrap().get("nas").await.unwrap() };
        let other = jwt(serde_json::json!({"email": "other@example.com"}));
        let e = finish(&tokens, &a, &response(Some(other), None))
            .await
            .unwrap_err();
        assert!(matches!(
            e,
            NotStored::Identity(identity::Mismatch::OtherAccount { .. })
        ));
        assert!(stored().await.is_none());
        let me = jwt(serde_json::json!({"email": "nas-alerts@example.com"}));
        let e = finish(
            &tokens,
            &a,
            &response(Some(me.clone()), Some("openid email")),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e,
            NotStored::MissingScope {
                missing: "https://mail.google.com/".into()
            }
        );
        assert!(stored().await.is_none());
        let e = finish(&tokens, &a, &response(None, None))
            .await
            .unwrap_err();
        assert!(matches!(
            e,
            NotStored::Identity(identity::Mismatch::NoIdToken { .. })
        ));
        let ok = finish(
            &tokens,
            &a,
            &response(Some(me), Some("https://mail.google.com/ openid email")),
        )
        .await
        .unwrap();
        assert_eq!(ok.confirmed.as_deref(), Some("nas-alerts@example.com"));
        let set = stored().await.unwrap();
        assert_eq!(set.refresh_token.unwrap().expose(), "rt-new");
        assert_eq!(set.account, "nas-alerts@example.com");
        // A generic server without an id_token: stored, with a warning saying what to add.
        let mut g = account(ProviderKind::Generic, Some("https://a.example/auth"));
        g.scopes = vec!["mail".into()];
        let ok = finish(&tokens, &g, &response(None, Some("other")))
            .await
            .unwrap();
        assert_eq!(ok.confirmed, None);
        assert_eq!(ok.warnings.len(), 2, "{:?}", ok.warnings);
        db.close();
    }

    #[test]
    fn google_never_gets_the_device_flow() {
        let g = account(ProviderKind::Google, Some("https://a.example/auth"));
        let e = check_flow("nas-gmail", &g, Flow::Device).unwrap_err();
        assert!(e.to_string().starts_with(
            "Google does not allow the Gmail scope (https://mail.google.com/) in its device flow"
        ));
        assert!(e.to_string().contains("/reauth/nas-gmail"));
        assert_eq!(page_flow(&g), Ok(Flow::Redirect));
        assert!(check_flow("nas-gmail", &g, Flow::Redirect).is_ok());
    }

    #[test]
    fn microsoft_uses_the_device_flow_on_the_page_and_flows_need_their_endpoint() {
        let mut m = account(ProviderKind::Microsoft, None);
        assert_eq!(page_flow(&m), Ok(Flow::Device));
        assert_eq!(
            check_flow("m", &m, Flow::Redirect),
            Err(Unsupported::NoAuthorizationEndpoint)
        );
        m.endpoints.device_authorization_url = None;
        assert_eq!(
            check_flow("m", &m, Flow::Device),
            Err(Unsupported::NoDeviceEndpoint)
        );
        assert_eq!(page_flow(&m), Err(Unsupported::NoEndpoint));
    }
}
