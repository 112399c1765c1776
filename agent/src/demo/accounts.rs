//! The demo's accounts and their secrets, made at start: a password for the mailbox and relay
//! accounts, and the OAuth2 tokens the demo's token endpoint issues and its IMAP server accepts.

use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};

/// What the demo servers accept. Random per start, so that nothing a user copies from the demo
/// works anywhere else, and the tests can look for the secrets in what the agent shows.
pub struct Accounts {
    /// The user of the password accounts.
    pub user: String,
    pub password: String,
    /// The user of the OAuth2 account.
    pub oauth_user: String,
    pub refresh_token: String,
    pub access_token: String,
}

impl Accounts {
    /// New random secrets.
    pub fn generate() -> Result<Accounts, ring::error::Unspecified> {
        Ok(Accounts {
            user: "alice@demo.test".into(),
            password: random("pw")?,
            oauth_user: "bob@demo.test".into(),
            refresh_token: random("1//rt")?,
            access_token: random("ya29.at")?,
        })
    }

    /// True for the password account's user and password.
    pub fn password_ok(&self, user: &str, password: &str) -> bool {
        user == self.user && password == self.password
    }

    /// True for the OAuth2 account's user and a current access token.
    pub fn bearer_ok(&self, user: &str, token: &str) -> bool {
        user == self.oauth_user && token == self.access_token
    }
}

/// `prefix-` and 24 random bytes in URL-safe base64.
fn random(prefix: &str) -> Result<String, ring::error::Unspecified> {
    let mut bytes = [0u8; 24];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(format!(
        "{prefix}-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Decodes a SASL PLAIN response (`authzid NUL user NUL password`, base64) into user and password.
pub fn decode_plain(b64: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let mut parts = raw.split(|b| *b == 0);
    let _authzid = parts.next()?;
    let user = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let pass = String::from_utf8(parts.next()?.to_vec()).ok()?;
    Some((user, pass))
}

/// Decodes an XOAUTH2 response (`user=U ^A auth=Bearer T ^A ^A`, base64) into user and token.
pub fn decode_xoauth2(b64: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let mut user = None;
    let mut token = None;
    for field in text.split('\u{1}') {
        if let Some(u) = field.strip_prefix("user=") {
            user = Some(u.to_string());
        } else if let Some(a) = field.strip_prefix("auth=") {
            let t = a
                .strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))?;
            token = Some(t.to_string());
        }
    }
    Some((user?, token?))
}

/// Decodes one base64 line (SMTP AUTH LOGIN's user name and password).
pub fn decode_b64(b64: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    String::from_utf8(raw).ok()
}

/// Base64 of `text`.
pub fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_responses_decode_and_bad_ones_do_not() {
        assert_eq!(
            decode_plain(&b64("\0u@x\0pw")),
            Some(("u@x".into(), "pw".into()))
        );
        assert_eq!(
            decode_xoauth2(&b64("user=u@x\u{1}auth=Bearer tok\u{1}\u{1}")),
            Some(("u@x".into(), "tok".into()))
        );
        assert_eq!(decode_plain("!!!"), None);
        assert_eq!(decode_xoauth2(&b64("user=u@x")), None);
    }
}
