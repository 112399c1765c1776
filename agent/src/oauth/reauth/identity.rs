//! Whose grant is it? After the code (or device) exchange, the new tokens must belong to the
//! configured account (`account.username`), or a person who signed in with the wrong account
//! (a personal Gmail instead of the NAS's, an admin instead of the mailbox) would replace the
//! working grant with one that cannot log in, and nothing would say why.
//!
//! The OpenID Connect ID token names the account: `email` (Google, Microsoft with the `email`
//! scope), `preferred_username` (Microsoft v2.0, usually the UPN), `upn` (Microsoft v1 tokens).

use super::super::ProviderKind;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use mailbeat_sdk::Secret;

/// The largest ID token read (they are 1–2 KiB; the whole token answer is capped at 64 KiB).
const MAX_ID_TOKEN: usize = 16 * 1024;

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The ID token names the configured account (the claim's value as sent).
    Confirmed(String),
    /// No ID token, which a generic server may not issue: accepted with a warning.
    Unchecked,
}

/// Why a new grant is refused (nothing is stored then).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("the sign-in was as {got}, but this target's account is {expected}: refused, nothing stored (sign in as {expected}; in a browser already signed in to another account, use a private window or the provider's account chooser)")]
    OtherAccount { got: String, expected: String },
    #[error("the token endpoint returned no id_token, so the account the grant belongs to cannot be checked: refused, nothing stored (the request must include the {scope} scope{})", if *.scope == "openid" { "" } else { "s" })]
    NoIdToken { scope: &'static str },
    #[error(
        "the id_token is not readable (not a JWT with a JSON payload): refused, nothing stored"
    )]
    Unreadable,
    #[error("the id_token names no account (no email, preferred_username or upn claim): refused, nothing stored (the request must include the {scope} scope{})", if *.scope == "openid" { "" } else { "s" })]
    NoClaim { scope: &'static str },
}

/// The scopes that make `provider` name the account in its ID token.
fn needed_scope(provider: ProviderKind) -> &'static str {
    match provider {
        ProviderKind::Google => "openid email",
        ProviderKind::Microsoft => "openid profile email",
        ProviderKind::Generic => "openid",
    }
}

/// Checks that `id_token` names `expected` (case-insensitively). A generic provider without an
/// ID token is accepted as [`Verdict::Unchecked`]; Google and Microsoft always issue one for the
/// scopes this agent asks for, so its absence is refused.
pub fn check(
    provider: ProviderKind,
    expected: &str,
    id_token: Option<&Secret>,
) -> Result<Verdict, Mismatch> {
    let Some(id_token) = id_token.filter(|t| !t.expose().is_empty()) else {
        return match provider {
            ProviderKind::Generic => Ok(Verdict::Unchecked),
            p => Err(Mismatch::NoIdToken {
                scope: needed_scope(p),
            }),
        };
    };
    // No signature check: the ID token came straight from the token endpoint, over TLS that
    // verified the server, in answer to this client's own request, so the TLS server
    // authentication stands in for the signature (OpenID Connect Core 1.0 §3.1.3.7, step 6).
    let claims = payload(id_token.expose()).ok_or(Mismatch::Unreadable)?;
    let mut names = Vec::new();
    // An address the provider says is unverified names nobody.
    let email_unverified = claims.get("email_verified").and_then(truthy) == Some(false);
    if !email_unverified {
        names.extend(claims.get("email").and_then(|v| v.as_str()));
    }
    names.extend(claims.get("preferred_username").and_then(|v| v.as_str()));
    names.extend(claims.get("upn").and_then(|v| v.as_str()));
    let names: Vec<&str> = names
        .into_iter()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let expected = expected.trim();
    let wanted = expected.to_lowercase();
    if let Some(hit) = names.iter().find(|n| n.to_lowercase() == wanted) {
        return Ok(Verdict::Confirmed((*hit).to_string()));
    }
    match names.first() {
        Some(got) => Err(Mismatch::OtherAccount {
            got: printable(got),
            expected: expected.to_string(),
        }),
        None => Err(Mismatch::NoClaim {
            scope: needed_scope(provider),
        }),
    }
}

/// The JSON payload of a JWT (`header.payload.signature`), or `None`.
fn payload(jwt: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    if jwt.len() > MAX_ID_TOKEN {
        return None;
    }
    let mut parts = jwt.split('.');
    let (_header, body) = (parts.next()?, parts.next()?);
    let bytes = URL_SAFE_NO_PAD.decode(body.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// `email_verified` as a boolean (some servers send `"true"`).
fn truthy(v: &serde_json::Value) -> Option<bool> {
    match v {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A claim for a message: printable, at most 254 characters (the longest address).
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(254).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An unsigned JWT with `claims` as its payload.
    pub(crate) fn jwt(claims: serde_json::Value) -> Secret {
        let enc = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        Secret::new(format!(
            "{}.{}.c2ln",
            enc(&serde_json::json!({"alg": "RS256", "typ": "JWT"})),
            enc(&claims)
        ))
    }

    const ME: &str = "NAS-Alerts@example.com";

    #[test]
    fn the_configured_account_is_confirmed_whatever_the_case() {
        let t = jwt(serde_json::json!({"email": "nas-alerts@EXAMPLE.com", "email_verified": true}));
        assert_eq!(
            check(ProviderKind::Google, ME, Some(&t)),
            Ok(Verdict::Confirmed("nas-alerts@EXAMPLE.com".into()))
        );
        // Microsoft: the UPN in preferred_username, an alias in email.
        let t = jwt(
            serde_json::json!({"email": "alias@example.com", "preferred_username": "nas-alerts@example.com"}),
        );
        assert!(check(ProviderKind::Microsoft, ME, Some(&t)).is_ok());
        let t = jwt(serde_json::json!({"upn": "nas-alerts@example.com"}));
        assert!(check(ProviderKind::Microsoft, ME, Some(&t)).is_ok());
    }

    #[test]
    fn another_account_is_refused_and_named() {
        let t = jwt(serde_json::json!({"email": "someone.else@gmail.com"}));
        let e = check(ProviderKind::Google, ME, Some(&t)).unwrap_err();
        assert_eq!(
            e,
            Mismatch::OtherAccount {
                got: "someone.else@gmail.com".into(),
                expected: ME.into()
            }
        );
        assert!(e.to_string().starts_with(
            "the sign-in was as someone.else@gmail.com, but this target's account is NAS-Alerts@example.com: refused, nothing stored"
        ));
        // An unverified address that happens to match is not the account.
        let t = jwt(
            serde_json::json!({"email": "nas-alerts@example.com", "email_verified": "false", "preferred_username": "x@example.com"}),
        );
        assert!(matches!(
            check(ProviderKind::Generic, ME, Some(&t)),
            Err(Mismatch::OtherAccount { .. })
        ));
    }

    #[test]
    fn without_an_id_token_only_generic_is_accepted() {
        assert_eq!(
            check(ProviderKind::Generic, ME, None),
            Ok(Verdict::Unchecked)
        );
        let e = check(ProviderKind::Google, ME, None).unwrap_err();
        assert_eq!(e.to_string(), "the token endpoint returned no id_token, so the account the grant belongs to cannot be checked: refused, nothing stored (the request must include the openid email scopes)");
        assert!(check(ProviderKind::Microsoft, ME, Some(&Secret::new(""))).is_err());
    }

    #[test]
    fn unreadable_tokens_and_claimless_payloads_are_refused_without_panicking() {
        for junk in [
            "x",
            "a.b.c",
            "...",
            "a.%%%.c",
            "e30",
            "a.W10.c",
            "a.bnVsbA.c",
        ] {
            assert!(
                check(ProviderKind::Google, ME, Some(&Secret::new(junk))).is_err(),
                "{junk}"
            );
        }
        let t = jwt(serde_json::json!({"sub": "1234", "email": 5}));
        assert_eq!(
            check(ProviderKind::Microsoft, ME, Some(&t)),
            Err(Mismatch::NoClaim {
                scope: "openid profile email"
            })
        );
        assert_eq!(
            check(
                ProviderKind::Google,
                ME,
                Some(&Secret::new("a".repeat(MAX_ID_TOKEN + 1)))
            ),
            Err(Mismatch::Unreadable)
        );
    }
}
