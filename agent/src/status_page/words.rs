//! What the page says in words: each reason as a person would put it, and the server's words
//! with anything shaped like a secret taken out.

use mailbeat_sdk::Reason;

/// A reason in plain words, for the headline of a failing check. The snake_case name is shown
/// beside it (it is what alerts and scripts use).
pub fn reason_words(reason: Reason) -> String {
    use Reason::*;
    let words = match reason {
        DnsFailure => "The host name does not resolve",
        ConnectionRefused => "Nothing accepts connections on this port",
        ConnectionTimeout => "The connection attempt timed out",
        NetworkUnreachable => "The network is unreachable",
        BadGreeting => "The server's greeting is not what this protocol sends",
        ProtocolError => "The server broke off or answered out of protocol",
        ServerTimeout => "The server accepted the connection but did not answer",
        StarttlsNotOffered => "The server does not offer STARTTLS",
        StarttlsRequired => "The server wants STARTTLS before anything else",
        TlsHandshakeFailed => "The TLS handshake failed",
        TlsCertExpired => "The certificate has expired",
        TlsCertNotYetValid => "The certificate is not valid yet",
        TlsCertExpiring => "The certificate expires soon",
        TlsHostnameMismatch => "The certificate is made out for another name",
        TlsChainIncomplete => "The server does not send its intermediate certificate",
        TlsUntrustedRoot => "The certificate comes from a CA this agent does not trust",
        TlsSelfSigned => "The certificate is self-signed",
        TlsWeak => "The certificate or TLS setup is weak",
        AuthBadCredentials => "The user name or password was refused",
        AuthAppPasswordRequired => "The account needs an app password",
        AuthWebLoginRequired => "The provider wants a sign-in in a web browser first",
        AuthProtocolDisabled => "Logins over this protocol are turned off for the account",
        AuthBasicAuthDisabled => "Password logins are turned off; the account needs OAuth2",
        AuthMechanismUnsupported => "The server offers no login method mailbeat can use",
        AuthTooManyAttempts => "Too many login attempts; the server is holding off",
        AuthAccountLocked => "The account is locked or disabled",
        AuthMfaRequired => "The account needs multi-factor authentication",
        AuthConditionalAccessBlocked => "A conditional-access policy blocks this login",
        OauthRefreshTokenExpired => "The OAuth2 authorization has expired",
        OauthRefreshTokenRevoked => "The OAuth2 authorization was revoked",
        OauthConsentRequired => "The account must consent to mail access again",
        OauthClientSecretExpired => "The OAuth2 client secret has expired",
        OauthInvalidClient => "The OAuth2 client is not known to the provider",
        OauthTokenExpiring => "The OAuth2 authorization ends soon",
        OauthEndpointError => "The provider's token endpoint failed",
        ServerUnavailable => "The server is temporarily unavailable",
        RateLimited => "The server is rate-limiting this client",
        PluginError => "The plugin failed",
        ConfigError => "The configuration of this check is wrong",
        InternalError => "mailbeat failed internally",
        other => return sentence_of(other.as_str()),
    };
    words.to_string()
}

/// `delivery_timeout` → "Delivery timeout": for reasons without words of their own.
fn sentence_of(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

/// What replaces a secret-shaped word.
pub const HIDDEN: &str = "[hidden]";

/// Keys whose value is a secret when a server echoes a form or JSON (`password=…`,
/// `"access_token": "…"`).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "authorization",
];

/// The server's words as the page shows them: the agent already removed the secrets it used;
/// this also hides what has the shape of a credential (a bearer token, a JWT, a Google or
/// Microsoft token, a long opaque string, `password=…`), in case a server echoed one it was
/// never sent by us.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut hide_next = false;
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        let gap = &piece[word.len()..];
        if hide_next && !word.is_empty() {
            out.push_str(HIDDEN);
            out.push_str(gap);
            hide_next = false;
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if lower == "bearer" || lower.ends_with("bearer") {
            hide_next = true;
            out.push_str(piece);
            continue;
        }
        out.push_str(&scrub_word(word));
        out.push_str(gap);
    }
    out
}

/// One whitespace-free word: `key=value` / `"key":"value"` with a secret key keeps the key;
/// a token-shaped word goes whole.
fn scrub_word(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    for sep in ['=', ':'] {
        if let Some(at) = lower.find(sep) {
            let key = lower[..at].trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
            let key = key.rsplit(['&', '?', '{', ',']).next().unwrap_or(key);
            if SECRET_KEYS.contains(&key) && word.len() > at + 1 {
                return format!("{}{HIDDEN}", &word[..=at]);
            }
        }
    }
    let core = word.trim_matches(|c: char| "\"'()[]{}<>,;".contains(c));
    if token_like(core) {
        return word.replace(core, HIDDEN);
    }
    word.to_string()
}

/// True for what looks like a credential rather than a word, a host name or a URL.
fn token_like(w: &str) -> bool {
    let known_prefix = [
        "ya29.", "1//", "eyJ", "GOCSPX-", "ghp_", "gho_", "xox", "EwB", "M.C5",
    ]
    .iter()
    .any(|p| w.starts_with(p) && w.len() >= 16);
    if known_prefix {
        return true;
    }
    // A long run of base64/base64url characters with letters and digits mixed: no host name
    // (dots), no path or URL (slashes) and no sentence looks like that.
    let opaque = w
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '='));
    let digits = w.chars().filter(|c| c.is_ascii_digit()).count();
    let letters = w.chars().filter(|c| c.is_ascii_alphabetic()).count();
    opaque && w.len() >= 32 && digits >= 4 && letters >= 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_hidden_and_server_words_stay() {
        let said = "535 5.7.8 Error: token ya29.a0AfH6SMBx3kq9dV2 rejected; Authorization: Bearer abc.def.ghi password=hunter22 {\"access_token\":\"zz9\"} 0123456789abcdefABCDEF0123456789xyz";
        let out = scrub(said);
        for gone in [
            "ya29.a0AfH6SMBx3kq9dV2",
            "abc.def.ghi",
            "hunter22",
            "zz9",
            "0123456789abcdefABCDEF0123456789xyz",
        ] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert!(
            out.starts_with("535 5.7.8 Error: token [hidden] rejected"),
            "{out}"
        );
        let words = "534-5.7.9 Application-specific password required. Learn more at 534 5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor d75a77b69052e-4a5b3c1f2e1sm1234567qtb.7 - gsmtp [DM6PR02CA0061.namprd02.prod.outlook.com]";
        assert_eq!(scrub(words), words);
    }

    #[test]
    fn every_reason_has_words() {
        for r in Reason::ALL {
            let w = reason_words(*r);
            assert!(w.len() > 5 && !w.contains('_'), "{r:?}: {w}");
        }
    }
}
