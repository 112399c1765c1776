//! The login mechanisms a configuration may insist on (an account's `mechanism:`, the auth
//! probe's `mechanism` option): the one list of their names, read by the config validation and
//! by the auth probe alike.

use std::fmt;

/// A configurable login mechanism. `Login` is SASL `LOGIN`, or the protocol's own password
/// command where one exists (IMAP `LOGIN`, POP3 `USER`/`PASS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    Plain,
    Login,
    Xoauth2,
    Oauthbearer,
}

impl SaslMechanism {
    /// Every mechanism, in the order the configuration documents them.
    pub const ALL: [SaslMechanism; 4] = [
        SaslMechanism::Plain,
        SaslMechanism::Login,
        SaslMechanism::Xoauth2,
        SaslMechanism::Oauthbearer,
    ];

    /// Reads a configured name. Case and surrounding blanks do not matter, and `user` is
    /// accepted for `login` because that is what POP3 calls it.
    pub fn parse(name: &str) -> Result<SaslMechanism, UnknownMechanism> {
        let lower = name.trim().to_ascii_lowercase();
        if lower == "user" {
            return Ok(SaslMechanism::Login);
        }
        SaslMechanism::ALL
            .into_iter()
            .find(|m| m.as_str() == lower)
            .ok_or_else(|| UnknownMechanism {
                name: name.to_string(),
            })
    }

    /// The configured spelling (`plain`, `login`, `xoauth2`, `oauthbearer`).
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "plain",
            SaslMechanism::Login => "login",
            SaslMechanism::Xoauth2 => "xoauth2",
            SaslMechanism::Oauthbearer => "oauthbearer",
        }
    }

    /// True for the mechanisms that carry an OAuth2 access token instead of a password.
    pub fn is_oauth(self) -> bool {
        matches!(self, SaslMechanism::Xoauth2 | SaslMechanism::Oauthbearer)
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mechanism name that is none of [`SaslMechanism::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mechanism {name:?} (expected {})", expected())]
pub struct UnknownMechanism {
    /// The name as written.
    pub name: String,
}

/// `plain, login, xoauth2 or oauthbearer`.
fn expected() -> String {
    let names = SaslMechanism::ALL.map(SaslMechanism::as_str);
    let (last, rest) = names.split_last().expect("at least one mechanism");
    format!("{} or {last}", rest.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_round_trip() {
        for m in SaslMechanism::ALL {
            assert_eq!(SaslMechanism::parse(m.as_str()), Ok(m));
            assert_eq!(
                SaslMechanism::parse(&format!(" {} ", m.as_str().to_ascii_uppercase())),
                Ok(m)
            );
        }
        assert_eq!(SaslMechanism::parse("USER"), Ok(SaslMechanism::Login));
        assert!(SaslMechanism::Oauthbearer.is_oauth());
        assert!(!SaslMechanism::Login.is_oauth());
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let e = SaslMechanism::parse("cram-md5").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown mechanism \"cram-md5\" (expected plain, login, xoauth2 or oauthbearer)"
        );
    }
}
