//! Talking to an authorization server: the token endpoint (refresh, code exchange, device
//! polling) and the device authorization endpoint, through one reqwest client per trust store,
//! over rustls with the account's roots, never following redirects, each request bounded.

use super::classify::TokenFailure;
use crate::config::OauthAccount;
use mailbeat_sdk::Secret;
use serde::Deserialize;
use std::time::Duration;

/// The most of a body that is read; a token answer is a few KiB.
pub const MAX_BODY: usize = 64 * 1024;
/// The longest lifetime believed from a token answer (ten years).
pub const MAX_LIFETIME: u64 = 10 * 365 * 86400;
/// The longest device-code lifetime and poll interval believed from a device answer.
pub const MAX_DEVICE_LIFETIME: u64 = 86400;
pub const MAX_DEVICE_INTERVAL: u64 = 300;

/// A token endpoint's successful answer (RFC 6749 §5.1).
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: Secret,
    /// Present when the server issued (or rotated) a refresh token.
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<u64>,
    /// Some servers say how long the refresh token lives (Google for time-limited grants).
    pub refresh_token_expires_in: Option<u64>,
    pub scope: Option<String>,
    /// The OpenID Connect ID token, when `openid` was asked for.
    pub id_token: Option<Secret>,
}

#[derive(Deserialize)]
struct RawToken {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<NumberOrString>,
    refresh_token_expires_in: Option<NumberOrString>,
    scope: Option<String>,
    id_token: Option<String>,
}

/// Some servers (older Azure AD v1, a few generic ones) send numbers as strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    N(u64),
    S(String),
}

impl NumberOrString {
    fn get(&self) -> Option<u64> {
        match self {
            NumberOrString::N(n) => Some(*n),
            NumberOrString::S(s) => s.trim().parse().ok(),
        }
    }
}

/// A device authorization answer (RFC 8628 §3.2).
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    pub interval: u64,
    /// Microsoft's ready-made sentence for the person.
    pub message: Option<String>,
}

#[derive(Deserialize)]
struct RawDevice {
    device_code: Option<String>,
    user_code: Option<String>,
    verification_uri: Option<String>,
    // Google's name for it.
    verification_url: Option<String>,
    verification_uri_complete: Option<String>,
    expires_in: Option<NumberOrString>,
    interval: Option<NumberOrString>,
    message: Option<String>,
}

/// A client for one account's authorization server.
pub struct Endpoint<'a> {
    account: &'a OauthAccount,
    http: reqwest::Client,
    timeout: Duration,
}

impl<'a> Endpoint<'a> {
    /// A client trusting the account's roots, each request bounded by `timeout`.
    pub fn new(account: &'a OauthAccount, timeout: Duration) -> Result<Self, TokenFailure> {
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(account.roots.clone())
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("mailbeat/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TokenFailure::Unreachable {
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Endpoint {
            account,
            http,
            timeout,
        })
    }

    /// Trades `refresh_token` for a new access token (and maybe a new refresh token).
    pub async fn refresh(
        &self,
        refresh_token: &Secret,
        client_secret: Option<&Secret>,
    ) -> Result<TokenResponse, TokenFailure> {
        let scope = self.account.scopes.join(" ");
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("client_id", self.account.client_id.as_str()),
        ];
        if !scope.is_empty() {
            form.push(("scope", scope.as_str()));
        }
        if let Some(s) = client_secret {
            form.push(("client_secret", s.expose()));
        }
        self.token_request(&form).await
    }

    /// Trades an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        client_secret: Option<&Secret>,
    ) -> Result<TokenResponse, TokenFailure> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", redirect_uri),
            ("client_id", self.account.client_id.as_str()),
        ];
        if let Some(s) = client_secret {
            form.push(("client_secret", s.expose()));
        }
        self.token_request(&form).await
    }

    /// Polls the token endpoint once for a device grant. `authorization_pending`, `slow_down`
    /// and the rest come back as [`TokenFailure::Http`] for the caller to read.
    pub async fn poll_device(
        &self,
        device_code: &Secret,
        client_secret: Option<&Secret>,
    ) -> Result<TokenResponse, TokenFailure> {
        let mut form = vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code.expose()),
            ("client_id", self.account.client_id.as_str()),
        ];
        if let Some(s) = client_secret {
            form.push(("client_secret", s.expose()));
        }
        self.token_request(&form).await
    }

    /// Starts a device grant with `scopes`.
    pub async fn device_authorization(
        &self,
        scopes: &[String],
        client_secret: Option<&Secret>,
    ) -> Result<DeviceAuthorization, TokenFailure> {
        let Some(url) = &self.account.endpoints.device_authorization_url else {
            return Err(TokenFailure::Unreachable {
                detail: "no device_authorization_url is configured".into(),
            });
        };
        let scope = scopes.join(" ");
        let mut form = vec![
            ("client_id", self.account.client_id.as_str()),
            ("scope", scope.as_str()),
        ];
        if let Some(s) = client_secret {
            form.push(("client_secret", s.expose()));
        }
        let (status, content_type, body) = self.post(url, &form).await?;
        let failure = || TokenFailure::Http {
            status,
            content_type: content_type.clone(),
            body: body.clone(),
        };
        if !(200..300).contains(&status) {
            return Err(failure());
        }
        let raw: RawDevice = serde_json::from_str(&body).map_err(|_| failure())?;
        match (
            raw.device_code,
            raw.user_code,
            raw.verification_uri.or(raw.verification_url),
        ) {
            (Some(device_code), Some(user_code), Some(verification_uri)) => {
                Ok(DeviceAuthorization {
                    device_code: Secret::new(device_code),
                    user_code,
                    verification_uri,
                    verification_uri_complete: raw.verification_uri_complete,
                    expires_in: raw
                        .expires_in
                        .and_then(|n| n.get())
                        .unwrap_or(900)
                        .min(MAX_DEVICE_LIFETIME),
                    // RFC 8628 §3.2: 5 seconds when the server does not say.
                    interval: raw
                        .interval
                        .and_then(|n| n.get())
                        .unwrap_or(5)
                        .clamp(1, MAX_DEVICE_INTERVAL),
                    message: raw.message,
                })
            }
            _ => Err(failure()),
        }
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenResponse, TokenFailure> {
        let (status, content_type, body) =
            self.post(&self.account.endpoints.token_url, form).await?;
        let failure = || TokenFailure::Http {
            status,
            content_type: content_type.clone(),
            body: body.clone(),
        };
        if !(200..300).contains(&status) {
            return Err(failure());
        }
        let raw: RawToken = serde_json::from_str(&body).map_err(|_| failure())?;
        let Some(access_token) = raw.access_token.filter(|t| !t.is_empty()) else {
            return Err(failure());
        };
        Ok(TokenResponse {
            access_token: Secret::new(access_token),
            refresh_token: raw.refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
            // Bounded, so adding them to a time can never overflow, whatever the server said.
            expires_in: raw
                .expires_in
                .and_then(|n| n.get())
                .map(|s| s.min(MAX_LIFETIME)),
            refresh_token_expires_in: raw
                .refresh_token_expires_in
                .and_then(|n| n.get())
                .map(|s| s.min(MAX_LIFETIME)),
            scope: raw.scope,
            id_token: raw.id_token.map(Secret::new),
        })
    }

    /// POSTs a form and reads at most [`MAX_BODY`] of the answer.
    async fn post(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, Option<String>, String), TokenFailure> {
        let sent = self
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send();
        let timeout = self.timeout;
        let answer = async {
            let mut response = sent.await.map_err(|e| failure_of(&e, timeout))?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| failure_of(&e, timeout))?
            {
                let room = MAX_BODY.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_BODY {
                    break;
                }
            }
            Ok((
                status,
                content_type,
                String::from_utf8_lossy(&body).into_owned(),
            ))
        };
        // reqwest's own timeout covers the whole request; this one is the last word.
        match tokio::time::timeout(timeout + Duration::from_millis(200), answer).await {
            Ok(r) => r,
            Err(_) => Err(TokenFailure::Timeout { after: timeout }),
        }
    }
}

/// A transport error in one line, without the URL's query (none is sent) or any form field.
fn failure_of(e: &reqwest::Error, timeout: Duration) -> TokenFailure {
    if e.is_timeout() {
        return TokenFailure::Timeout { after: timeout };
    }
    let mut detail = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !detail.contains(&text) {
            if !detail.is_empty() {
                detail.push_str(": ");
            }
            detail.push_str(&text);
        }
        source = s.source();
    }
    TokenFailure::Unreachable { detail }
}
