//! The authorization request (RFC 6749 §4.1.1 with PKCE, RFC 7636 §4.3): the URL a person opens
//! to sign in and consent, and the scopes asked for.

use super::super::ProviderKind;
use crate::config::OauthAccount;
use reqwest::Url;

/// The scopes a re-authorization asks for: the account's (mail) scopes, plus what lets the agent
/// check whose grant it got and keep a refresh token.
///
/// - google: `openid email` (the id_token then names the account). Google keeps a refresh token
///   through `access_type=offline`, not a scope.
/// - microsoft: `openid profile email offline_access` (`profile` brings `preferred_username`,
///   `offline_access` the refresh token).
/// - generic: the configured scopes as written. An arbitrary server may refuse scopes it does
///   not know (`invalid_scope`), so nothing is added: write `openid email` into `oauth.scopes`
///   to have the account checked, and whatever the server needs for a refresh token.
pub fn scopes(account: &OauthAccount) -> Vec<String> {
    let extra: &[&str] = match account.provider {
        ProviderKind::Google => &["openid", "email"],
        ProviderKind::Microsoft => &["openid", "profile", "email", "offline_access"],
        ProviderKind::Generic => &[],
    };
    let mut all = account.scopes.clone();
    for s in extra {
        if !all.iter().any(|have| have == s) {
            all.push((*s).to_string());
        }
    }
    all
}

/// Why no authorization URL could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("no authorization URL is known for this account: set oauth.authorization_url (or use the device flow, --device)")]
    NotConfigured,
    #[error("oauth.authorization_url is not a URL")]
    Invalid,
}

/// What one authorization request carries besides the account.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    /// The S256 challenge of the attempt's verifier.
    pub challenge: &'a str,
}

/// The URL to open: `account.endpoints.authorization_url` with the request's parameters (any
/// query the configured URL already has is kept, except for the names set here).
pub fn url(account: &OauthAccount, request: Request<'_>) -> Result<String, UrlError> {
    let base = account
        .endpoints
        .authorization_url
        .as_deref()
        .ok_or(UrlError::NotConfigured)?;
    let mut url = Url::parse(base).map_err(|_| UrlError::Invalid)?;
    let scope = scopes(account).join(" ");
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &account.client_id),
        ("redirect_uri", request.redirect_uri),
        ("scope", &scope),
        ("state", request.state),
        ("code_challenge", request.challenge),
        ("code_challenge_method", "S256"),
    ];
    if !account.username.is_empty() {
        params.push(("login_hint", &account.username));
    }
    if account.provider == ProviderKind::Google {
        // Without both, Google hands out a refresh token only at the first consent ever, and a
        // re-authorization would come back with an access token alone.
        params.push(("access_type", "offline"));
        params.push(("prompt", "consent"));
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !params.iter().any(|(p, _)| p == k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = url.query_pairs_mut();
        q.clear();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        for (k, v) in &params {
            q.append_pair(k, v);
        }
    }
    Ok(url.to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::oauth::Endpoints;
    use std::collections::HashMap;
    use std::sync::Arc;

    pub(crate) fn account(provider: ProviderKind, authorization_url: Option<&str>) -> OauthAccount {
        OauthAccount {
            token: "nas".into(),
            username: "nas-alerts@example.com".into(),
            provider,
            client_id: "client-1.apps.example".into(),
            client_secret: None,
            tenant: None,
            scopes: crate::oauth::default_scopes(provider, None),
            endpoints: Endpoints {
                // Loopback at a port nothing serves: a test that reaches the exchange contacts nothing.
                token_url: "http://127.0.0.1:9/token".into(),
                authorization_url: authorization_url.map(str::to_string),
                device_authorization_url: Some("http://127.0.0.1:9/device".into()),
            },
            roots: Arc::new(rustls::RootCertStore::empty()),
            refresh_token_lifetime: None,
            refresh_token_file: None,
        }
    }

    fn query(url: &str) -> HashMap<String, String> {
        Url::parse(url)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    const REQ: Request<'static> = Request {
        redirect_uri: "http://127.0.0.1:5555/",
        state: "st-1",
        challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    };

    #[test]
    fn google_asks_for_offline_access_consent_and_the_email() {
        let a = account(ProviderKind::Google, Some("https://accounts.example/auth"));
        let u = url(&a, REQ).unwrap();
        assert!(u.starts_with("https://accounts.example/auth?"), "{u}");
        let q = query(&u);
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "client-1.apps.example");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:5555/");
        assert_eq!(q["scope"], "https://mail.google.com/ openid email");
        assert_eq!(q["state"], "st-1");
        assert_eq!(q["code_challenge"], REQ.challenge);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["login_hint"], "nas-alerts@example.com");
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["prompt"], "consent");
    }

    #[test]
    fn microsoft_adds_the_oidc_scopes_once_and_no_google_parameters() {
        let a = account(
            ProviderKind::Microsoft,
            Some("https://login.example/authorize"),
        );
        let q = query(&url(&a, REQ).unwrap());
        assert_eq!(
            q["scope"],
            "https://outlook.office.com/IMAP.AccessAsUser.All offline_access openid profile email"
        );
        assert!(!q.contains_key("access_type") && !q.contains_key("prompt"));
    }

    #[test]
    fn generic_keeps_its_scopes_and_its_own_query_but_not_a_planted_state() {
        let mut a = account(
            ProviderKind::Generic,
            Some("http://127.0.0.1:9/authorize?audience=mail&state=evil"),
        );
        a.scopes = vec!["mail".into()];
        let u = url(&a, REQ).unwrap();
        let q = query(&u);
        assert_eq!(q["scope"], "mail");
        assert_eq!(q["audience"], "mail");
        assert_eq!(q["state"], "st-1");
        assert_eq!(u.matches("state=").count(), 1, "{u}");
    }

    #[test]
    fn no_authorization_url_is_a_clear_error() {
        let a = account(ProviderKind::Generic, None);
        assert_eq!(url(&a, REQ), Err(UrlError::NotConfigured));
    }
}
