//! `account.oauth:` of a target: a token set mailbeat keeps (provider, client, endpoints, trust,
//! policy), or an access token another tool keeps fresh.

use super::raw::RawOauth;
use super::validator::{loc, Validator};
use super::{Global, OauthAccount, SecretSource};
use crate::oauth::{default_scopes, Endpoints, ProviderKind};
use mailbeat_sdk::Protocol;
use serde_saphyr::Spanned;
use std::sync::Arc;

/// What `account.oauth` resolved to.
pub(super) enum OauthSource {
    /// mailbeat keeps the tokens.
    Managed(Arc<OauthAccount>),
    /// Another tool keeps the access token fresh in a file or variable.
    External(Option<SecretSource>),
}

/// The facts of the target an OAuth account depends on.
pub(super) struct OauthContext<'a> {
    pub target: &'a str,
    pub username: &'a Spanned<String>,
    pub preset: Option<&'a str>,
    pub protocol: Option<Protocol>,
    pub global: &'a Global,
    pub allow_inline: bool,
}

impl Validator<'_> {
    pub(super) fn oauth(&mut self, o: &RawOauth, okey: &str, cx: &OauthContext) -> OauthSource {
        let external = o.access_token_file.is_some() || o.access_token.is_some();
        if external {
            // client_id (and its secret) are accepted here, as they were before mailbeat kept
            // tokens: configs written then still load. A refresh token next to a token kept by
            // another tool is a contradiction.
            if let Some(f) = &o.refresh_token_file {
                self.problem(
                    loc(f),
                    format!("{okey}.refresh_token_file"),
                    "access_token_file/access_token (a token another tool keeps fresh) and refresh_token_file (tokens mailbeat keeps) exclude each other",
                );
            }
            return OauthSource::External(match (&o.access_token_file, &o.access_token) {
                (Some(f), _) => self.secret_file(f, &format!("{okey}.access_token_file")),
                (None, Some(s)) => self.secret(s, &format!("{okey}.access_token"), cx.allow_inline),
                (None, None) => None,
            });
        }
        let before = self.problems.len();
        let provider = match &o.provider {
            Some(p) => ProviderKind::parse(p.value.trim()).or_else(|| {
                self.problem(
                    loc(p),
                    format!("{okey}.provider"),
                    format!("unknown OAuth provider {:?}; one of google, microsoft, generic", p.value),
                );
                None
            }),
            None => cx.preset.and_then(ProviderKind::of_preset).or_else(|| {
                self.problem(
                    loc(cx.username),
                    format!("{okey}.provider"),
                    "missing: google, microsoft or generic (only gmail, office365 and outlook presets imply one)",
                );
                None
            }),
        };
        let client_id = match &o.client_id {
            Some(c) if !c.value.trim().is_empty() => Some(c.value.trim().to_string()),
            Some(c) => {
                self.problem(loc(c), format!("{okey}.client_id"), "must not be empty");
                None
            }
            None => {
                self.problem(
                    loc(cx.username),
                    format!("{okey}.client_id"),
                    "missing: the OAuth client (application) id that mailbeat refreshes tokens with, or access_token_file for a token another tool keeps fresh",
                );
                None
            }
        };
        let client_secret = match (&o.client_secret_file, &o.client_secret) {
            (Some(f), Some(_)) => {
                self.problem(
                    loc(f),
                    okey,
                    "set only one of client_secret_file, client_secret",
                );
                None
            }
            (Some(f), None) => self.secret_file(f, &format!("{okey}.client_secret_file")),
            (None, Some(s)) => self.secret(s, &format!("{okey}.client_secret"), cx.allow_inline),
            (None, None) => None,
        };
        let tenant = o.tenant.as_ref().and_then(|t| {
            let v = t.value.trim();
            let ok = !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
            if !ok {
                self.problem(
                    loc(t),
                    format!("{okey}.tenant"),
                    "must be a tenant id, a domain, `common`, `organizations` or `consumers`",
                );
            }
            ok.then(|| v.to_string())
        });
        if tenant.is_some() && provider != Some(ProviderKind::Microsoft) {
            if let Some(t) = &o.tenant {
                self.problem(
                    loc(t),
                    format!("{okey}.tenant"),
                    "only for provider microsoft",
                );
            }
        }
        let scopes = match &o.scopes {
            Some(list) if list.is_empty() => {
                self.problem(
                    loc(cx.username),
                    format!("{okey}.scopes"),
                    "must not be empty",
                );
                Vec::new()
            }
            Some(list) => list.iter().map(|s| s.value.trim().to_string()).collect(),
            None => provider
                .map(|p| default_scopes(p, cx.protocol))
                .unwrap_or_default(),
        };
        if scopes.is_empty() && provider == Some(ProviderKind::Generic) {
            self.problem(
                loc(cx.username),
                format!("{okey}.scopes"),
                "missing: a generic provider has no default mail scope",
            );
        }
        let published = provider.and_then(|p| Endpoints::of(p, tenant.as_deref()));
        let url = |v: &mut Self, value: &Option<Spanned<String>>, name: &str| {
            value
                .as_ref()
                .and_then(|u| v.https_url(u, &format!("{okey}.{name}")))
        };
        let token_url = url(self, &o.token_url, "token_url")
            .or_else(|| published.as_ref().map(|e| e.token_url.clone()));
        if token_url.is_none() && provider == Some(ProviderKind::Generic) {
            self.problem(
                loc(cx.username),
                format!("{okey}.token_url"),
                "missing: a generic provider is known only by its URLs",
            );
        }
        let authorization_url = url(self, &o.authorization_url, "authorization_url")
            .or_else(|| published.as_ref().and_then(|e| e.authorization_url.clone()));
        let device_authorization_url = url(
            self,
            &o.device_authorization_url,
            "device_authorization_url",
        )
        .or_else(|| {
            published
                .as_ref()
                .and_then(|e| e.device_authorization_url.clone())
        });
        let ca = o.ca_file.as_ref().and_then(|f| self.ca_file(f, okey));
        let roots = self.roots(None, okey, cx.global, ca.map(|(_, certs)| certs));
        let refresh_token_lifetime = o
            .refresh_token_lifetime
            .as_ref()
            .and_then(|d| self.duration(d, &format!("{okey}.refresh_token_lifetime")));
        let refresh_token_file = o
            .refresh_token_file
            .as_ref()
            .and_then(|f| self.secret_file(f, &format!("{okey}.refresh_token_file")));
        let token = match &o.token {
            Some(t) if t.value.trim().is_empty() || t.value.chars().any(char::is_control) => {
                self.problem(
                    loc(t),
                    format!("{okey}.token"),
                    "must be a non-empty name without control characters",
                );
                None
            }
            Some(t) => Some(t.value.trim().to_string()),
            None => Some(cx.target.to_string()),
        };
        if self.problems.len() > before {
            return OauthSource::External(None);
        }
        match (provider, client_id, token_url, token) {
            (Some(provider), Some(client_id), Some(token_url), Some(token)) => {
                OauthSource::Managed(Arc::new(OauthAccount {
                    token,
                    username: cx.username.value.clone(),
                    provider,
                    client_id,
                    client_secret,
                    tenant,
                    scopes,
                    endpoints: Endpoints {
                        token_url,
                        authorization_url,
                        device_authorization_url,
                    },
                    roots,
                    refresh_token_lifetime,
                    refresh_token_file,
                }))
            }
            _ => OauthSource::External(None),
        }
    }

    /// An endpoint URL: `https://` (or `http://` to a loopback address, for a local IdP).
    fn https_url(&mut self, u: &Spanned<String>, key: &str) -> Option<String> {
        let v = u.value.trim();
        let loopback = ["http://127.0.0.1", "http://[::1]", "http://localhost"]
            .iter()
            .any(|p| v.starts_with(p));
        match reqwest::Url::parse(v) {
            Ok(url) if url.scheme() == "https" || loopback => Some(url.to_string()),
            Ok(_) => {
                self.problem(loc(u), key, "must be an https:// URL");
                None
            }
            Err(e) => {
                self.problem(loc(u), key, format!("not a URL: {e}"));
                None
            }
        }
    }
}
