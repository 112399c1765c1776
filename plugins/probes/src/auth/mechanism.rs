//! Which way to log in, and the bytes each way sends.
//!
//! The mechanism comes from the configuration when it insists on one (probe option, then the
//! account's `mechanism:`), otherwise from what the server advertises and the kind of secret we
//! hold. The SASL responses are built once per check and kept as [`Secret`]s, so they cannot leak
//! through a `Debug` print, and so the probe knows every form of the secret it must scrub from
//! server text.

use crate::Failure;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use mailbeat_sdk::{Credentials, Protocol, Reason, SaslMechanism, Secret, SecretKind, Status};
use std::fmt;

/// Most server challenges (IMAP/POP3 `+`, SMTP `334`) answered in one login before it is
/// cancelled as a protocol error: every mechanism here needs at most two (LOGIN's user name and
/// password), plus one error challenge for the OAuth ones.
pub const MAX_CHALLENGES: usize = 4;

/// A way to log in. `Login` is the protocol's own password command where one exists (IMAP
/// `LOGIN`, POP3 `USER`/`PASS`) and SASL `LOGIN` on SMTP, which has no other.
///
/// The configurable names are the SDK's [`SaslMechanism`] (one to one with this type); what this
/// type adds is the wire: SASL names, POP3's `USER` label, which ones need advertising.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
    Xoauth2,
    Oauthbearer,
}

impl Mechanism {
    /// Every mechanism, in the order the configuration documents them.
    pub const ALL: [Mechanism; 4] = [
        Mechanism::from_sdk(SaslMechanism::ALL[0]),
        Mechanism::from_sdk(SaslMechanism::ALL[1]),
        Mechanism::from_sdk(SaslMechanism::ALL[2]),
        Mechanism::from_sdk(SaslMechanism::ALL[3]),
    ];

    /// Reads a configured name the SDK's way ([`SaslMechanism::parse`]): case-insensitively, and
    /// `user` for `login` because that is what POP3 calls it.
    pub fn parse(name: &str) -> Option<Mechanism> {
        SaslMechanism::parse(name).ok().map(Mechanism::from)
    }

    /// The SASL name as servers advertise it.
    pub fn sasl_name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::Xoauth2 => "XOAUTH2",
            Mechanism::Oauthbearer => "OAUTHBEARER",
        }
    }

    /// The name shown in messages and in the `mechanism` label: the SASL name, except POP3's
    /// password command, which is `USER`.
    pub fn label(self, protocol: Protocol) -> &'static str {
        match (self, protocol) {
            (Mechanism::Login, Protocol::Pop3) => "USER",
            _ => self.sasl_name(),
        }
    }

    /// True for the mechanisms that carry an OAuth2 access token instead of a password.
    pub fn is_oauth(self) -> bool {
        SaslMechanism::from(self).is_oauth()
    }

    /// True when the mechanism is a SASL mechanism the server must advertise on this protocol
    /// (IMAP `LOGIN` and POP3 `USER` are commands, not SASL, and are governed differently).
    fn is_sasl_on(self, protocol: Protocol) -> bool {
        !(self == Mechanism::Login && protocol != Protocol::Smtp)
    }
}

impl Mechanism {
    const fn from_sdk(m: SaslMechanism) -> Mechanism {
        match m {
            SaslMechanism::Plain => Mechanism::Plain,
            SaslMechanism::Login => Mechanism::Login,
            SaslMechanism::Xoauth2 => Mechanism::Xoauth2,
            SaslMechanism::Oauthbearer => Mechanism::Oauthbearer,
        }
    }
}

impl From<SaslMechanism> for Mechanism {
    fn from(m: SaslMechanism) -> Mechanism {
        Mechanism::from_sdk(m)
    }
}

impl From<Mechanism> for SaslMechanism {
    fn from(m: Mechanism) -> SaslMechanism {
        match m {
            Mechanism::Plain => SaslMechanism::Plain,
            Mechanism::Login => SaslMechanism::Login,
            Mechanism::Xoauth2 => SaslMechanism::Xoauth2,
            Mechanism::Oauthbearer => SaslMechanism::Oauthbearer,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sasl_name())
    }
}

/// What the server said it accepts, as far as we know.
#[derive(Debug, Clone, Default)]
pub struct Offer {
    /// False when the server did not tell (a POP3 server without CAPA): then we try.
    pub known: bool,
    /// Advertised SASL mechanisms, upper case.
    pub sasl: Vec<String>,
    /// True when the protocol's own password command is available (IMAP: no `LOGINDISABLED`;
    /// POP3: `USER` in CAPA). Ignored on SMTP, where `LOGIN` is SASL.
    pub password_command: bool,
}

impl Offer {
    fn offers(&self, m: Mechanism, protocol: Protocol) -> bool {
        if !self.known {
            return true;
        }
        if m.is_sasl_on(protocol) {
            self.sasl
                .iter()
                .any(|s| s.eq_ignore_ascii_case(m.sasl_name()))
        } else {
            self.password_command
        }
    }
}

/// Picks the mechanism. A configured one must suit the secret and be on offer; failing that the
/// check ends before any secret is sent (mechanism_unsupported costs the account nothing).
pub fn choose(
    configured: Option<Mechanism>,
    kind: SecretKind,
    protocol: Protocol,
    offer: &Offer,
) -> Result<Mechanism, Failure> {
    let offered = || {
        if offer.sasl.is_empty() {
            "none".to_string()
        } else {
            offer.sasl.join(" ")
        }
    };
    if let Some(m) = configured {
        if m.is_oauth() != (kind == SecretKind::AccessToken) {
            return Err(Failure::new(
                Status::Unknown,
                Reason::ConfigError,
                format!(
                    "mechanism {} needs {}, but the account has {}",
                    m.label(protocol),
                    if m.is_oauth() {
                        "an OAuth2 access token"
                    } else {
                        "a password"
                    },
                    if kind == SecretKind::AccessToken {
                        "an OAuth2 token"
                    } else {
                        "a password"
                    },
                ),
            ));
        }
        if !offer.offers(m, protocol) {
            return Err(Failure::critical(
                Reason::AuthMechanismUnsupported,
                format!(
                    "the server does not offer {} (SASL mechanisms offered: {})",
                    m.label(protocol),
                    offered()
                ),
            ));
        }
        return Ok(m);
    }
    let preference: &[Mechanism] = match kind {
        SecretKind::AccessToken => &[Mechanism::Xoauth2, Mechanism::Oauthbearer],
        // A POP3 server too old for CAPA knows USER/PASS (RFC 1939) and likely not AUTH.
        SecretKind::Password if protocol == Protocol::Pop3 && !offer.known => {
            &[Mechanism::Login, Mechanism::Plain]
        }
        // PLAIN first: it carries UTF-8 safely and is what every current server offers.
        SecretKind::Password => &[Mechanism::Plain, Mechanism::Login],
    };
    preference
        .iter()
        .copied()
        .find(|m| offer.offers(*m, protocol))
        .ok_or_else(|| {
            Failure::critical(
                Reason::AuthMechanismUnsupported,
                format!(
                    "the server offers no mechanism for {} (SASL mechanisms offered: {})",
                    if kind == SecretKind::AccessToken {
                        "an OAuth2 token"
                    } else {
                        "a password"
                    },
                    offered()
                ),
            )
        })
}

/// The client's side of one login, built once: every wire form of the secret, redacted in Debug.
#[derive(Debug)]
pub struct Sasl {
    pub mechanism: Mechanism,
    /// The base64 initial response (PLAIN, XOAUTH2, OAUTHBEARER); for `Login`, the password step.
    pub response: Secret,
    /// `Login` only: base64 of the user name, the first SASL LOGIN step.
    pub username_b64: String,
    /// The answer to an error challenge: XOAUTH2 wants an empty line, OAUTHBEARER a `%x01`
    /// (RFC 7628 §3.2.3), others cancel with `*`.
    pub error_challenge_answer: &'static str,
}

impl Sasl {
    /// Builds the responses for `mechanism`. `host`/`port` go into the OAUTHBEARER gs2 header
    /// fields, as RFC 7628 asks.
    pub fn new(mechanism: Mechanism, creds: &Credentials, host: &str, port: u16) -> Sasl {
        let user = &creds.username;
        let secret = creds.secret.expose();
        let raw = match mechanism {
            Mechanism::Plain => format!("\0{user}\0{secret}"),
            Mechanism::Login => secret.to_string(),
            Mechanism::Xoauth2 => format!("user={user}\x01auth=Bearer {secret}\x01\x01"),
            Mechanism::Oauthbearer => format!(
                "n,a={},\x01host={host}\x01port={port}\x01auth=Bearer {secret}\x01\x01",
                gs2_escape(user)
            ),
        };
        Sasl {
            mechanism,
            response: Secret::new(B64.encode(raw.as_bytes())),
            username_b64: B64.encode(user.as_bytes()),
            error_challenge_answer: match mechanism {
                Mechanism::Xoauth2 => "",
                Mechanism::Oauthbearer => "AQ==",
                Mechanism::Plain | Mechanism::Login => "*",
            },
        }
    }
}

/// Every form of a secret that could reach output: the raw secret, its base64, its IMAP
/// quoted-string form, and each mechanism's encoded response. A server that echoes what it got
/// (or an I/O error that quotes the line being sent) must not make us publish the password.
///
/// Scrub server text before it is shortened for a message ([`crate::dialogue::printable`]): a
/// cut-off secret no longer matches. For text that was shortened elsewhere first, [`Self::scrub`]
/// also removes the start of a secret form that runs into a `…`.
#[derive(Debug)]
pub struct Scrubber(Vec<Secret>);

/// The shortest start of a secret form that is redacted when text was cut off right after it.
const MIN_CUT_PREFIX: usize = 8;

impl Scrubber {
    /// Collects the forms for these credentials on `host`/`port` (OAUTHBEARER includes them).
    pub fn new(creds: &Credentials, host: &str, port: u16) -> Scrubber {
        let secret = creds.secret.expose();
        let mut forms = vec![
            creds.secret.clone(),
            Secret::new(B64.encode(secret.as_bytes())),
            // IMAP LOGIN sends the password as a quoted string: `pa"ss` travels as `pa\"ss`.
            Secret::new(imap_quoted_body(secret)),
        ];
        forms.extend(
            Mechanism::ALL
                .iter()
                .map(|m| Sasl::new(*m, creds, host, port).response),
        );
        // Longest first, so a short form inside a longer one cannot break the longer one's match.
        forms.sort_by_key(|f| std::cmp::Reverse(f.expose().len()));
        forms.dedup_by(|a, b| a.expose() == b.expose());
        Scrubber(forms)
    }

    /// `text` with every form of the secret replaced by `<redacted>`, and the start of a form
    /// that ends in a `…` (text shortened before it was scrubbed) as well.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.forms() {
            if out.contains(s) {
                out = out.replace(s, "<redacted>");
            }
        }
        self.scrub_cut_prefixes(out)
    }

    /// The forms long enough to be worth replacing: one- and two-character "secrets" would
    /// shred ordinary words and hide nothing.
    fn forms(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(Secret::expose).filter(|s| s.len() >= 3)
    }

    fn scrub_cut_prefixes(&self, mut out: String) -> String {
        let mut from = 0;
        while let Some(at) = out[from..].find('…').map(|i| i + from) {
            let before = &out[..at];
            let longest = self
                .forms()
                .filter_map(|f| cut_prefix_len(before, f))
                .max()
                .unwrap_or(0);
            if longest > 0 {
                out.replace_range(at - longest..at, "<redacted>");
                from = at - longest + "<redacted>".len() + '…'.len_utf8();
            } else {
                from = at + '…'.len_utf8();
            }
        }
        out
    }
}

/// The length of the longest start of `form` (at least [`MIN_CUT_PREFIX`] bytes, shorter than
/// `form`) that `before` ends with.
fn cut_prefix_len(before: &str, form: &str) -> Option<usize> {
    let (b, f) = (before.as_bytes(), form.as_bytes());
    let max = f.len().saturating_sub(1).min(b.len());
    (MIN_CUT_PREFIX..=max)
        .rev()
        .find(|&k| b[b.len() - k] == f[0] && form.is_char_boundary(k) && b.ends_with(&f[..k]))
}

/// The inside of an IMAP quoted string carrying `s` (RFC 3501 §4.3): `\` and `"` escaped.
pub fn imap_quoted_body(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// RFC 5801 saslname escaping for the gs2 authzid: `,` and `=` would end the field.
fn gs2_escape(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// Decodes a server challenge (base64) for the classifier and the message; text that is not
/// base64 is kept as it is.
pub fn decode_challenge(text: &str) -> String {
    match B64.decode(text.trim()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(kind: SecretKind) -> Credentials {
        Credentials {
            username: "alice@mail.test".into(),
            secret: Secret::new("s3cret-pw"),
            kind,
        }
    }

    fn offer(sasl: &[&str], password_command: bool) -> Offer {
        Offer {
            known: true,
            sasl: sasl.iter().map(|s| s.to_string()).collect(),
            password_command,
        }
    }

    #[test]
    fn names_parse() {
        assert_eq!(Mechanism::parse("XOAUTH2"), Some(Mechanism::Xoauth2));
        assert_eq!(Mechanism::parse("user"), Some(Mechanism::Login));
        assert_eq!(Mechanism::parse("cram-md5"), None);
        assert_eq!(Mechanism::Login.label(Protocol::Pop3), "USER");
        assert_eq!(Mechanism::Login.label(Protocol::Imap), "LOGIN");
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from(SaslMechanism::from(m)), m);
            assert_eq!(
                SaslMechanism::from(m).as_str(),
                m.sasl_name().to_ascii_lowercase()
            );
        }
    }

    #[test]
    fn choice_follows_config_then_offer() {
        let pw = SecretKind::Password;
        let tok = SecretKind::AccessToken;
        let imap = Protocol::Imap;
        assert_eq!(
            choose(None, pw, imap, &offer(&["PLAIN"], true)),
            Ok(Mechanism::Plain)
        );
        assert_eq!(
            choose(None, pw, imap, &offer(&[], true)),
            Ok(Mechanism::Login)
        );
        assert_eq!(
            choose(None, tok, imap, &offer(&["PLAIN", "OAUTHBEARER"], true)),
            Ok(Mechanism::Oauthbearer)
        );
        assert_eq!(
            choose(None, pw, Protocol::Pop3, &Offer::default()),
            Ok(Mechanism::Login),
            "no CAPA: USER/PASS"
        );
        assert_eq!(
            choose(None, tok, Protocol::Pop3, &Offer::default()),
            Ok(Mechanism::Xoauth2),
            "unknown offer: try"
        );
        let e = choose(None, pw, Protocol::Smtp, &offer(&["XOAUTH2"], false)).unwrap_err();
        assert_eq!(e.reason, Reason::AuthMechanismUnsupported);
        let e = choose(
            Some(Mechanism::Xoauth2),
            pw,
            imap,
            &offer(&["XOAUTH2"], true),
        )
        .unwrap_err();
        assert_eq!(e.reason, Reason::ConfigError);
        let e = choose(Some(Mechanism::Plain), pw, imap, &offer(&["LOGIN"], true)).unwrap_err();
        assert_eq!(e.reason, Reason::AuthMechanismUnsupported);
        assert_eq!(
            choose(Some(Mechanism::Login), pw, imap, &offer(&[], true)),
            Ok(Mechanism::Login)
        );
    }

    #[test]
    fn responses_are_the_rfc_forms() {
        let s = Sasl::new(Mechanism::Plain, &creds(SecretKind::Password), "h", 1);
        assert_eq!(
            B64.decode(s.response.expose()).unwrap(),
            b"\0alice@mail.test\0s3cret-pw"
        );
        let s = Sasl::new(Mechanism::Xoauth2, &creds(SecretKind::AccessToken), "h", 1);
        assert_eq!(
            B64.decode(s.response.expose()).unwrap(),
            b"user=alice@mail.test\x01auth=Bearer s3cret-pw\x01\x01"
        );
        let c = Credentials {
            username: "a,b=c".into(),
            ..creds(SecretKind::AccessToken)
        };
        let s = Sasl::new(Mechanism::Oauthbearer, &c, "imap.test", 993);
        assert_eq!(
            B64.decode(s.response.expose()).unwrap(),
            b"n,a=a=2Cb=3Dc,\x01host=imap.test\x01port=993\x01auth=Bearer s3cret-pw\x01\x01"
        );
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn scrub_removes_every_form() {
        let s = Sasl::new(Mechanism::Plain, &creds(SecretKind::Password), "h", 1);
        let echoed = format!("bad {} and {}", "s3cret-pw", s.response.expose());
        let clean = Scrubber::new(&creds(SecretKind::Password), "h", 1).scrub(&echoed);
        assert!(!clean.contains("s3cret-pw"));
        assert!(!clean.contains(s.response.expose()));
    }

    #[test]
    fn scrub_removes_the_imap_quoted_form() {
        let c = Credentials {
            secret: Secret::new("pa\"ss\\word"),
            ..creds(SecretKind::Password)
        };
        let echoed = "NO LOGIN \"alice@mail.test\" \"pa\\\"ss\\\\word\" rejected";
        let clean = Scrubber::new(&c, "h", 1).scrub(echoed);
        assert_eq!(
            clean,
            "NO LOGIN \"alice@mail.test\" \"<redacted>\" rejected"
        );
    }

    #[test]
    fn scrub_removes_a_secret_cut_off_by_an_ellipsis() {
        let c = creds(SecretKind::AccessToken);
        let s = Sasl::new(Mechanism::Xoauth2, &c, "h", 1);
        let blob = s.response.expose();
        let scrubber = Scrubber::new(&c, "h", 1);
        let cut = format!("501 5.5.2 Invalid AUTH XOAUTH2 {}… (more)", &blob[..20]);
        assert_eq!(
            scrubber.scrub(&cut),
            "501 5.5.2 Invalid AUTH XOAUTH2 <redacted>… (more)"
        );
        // Too short a start to mean anything, and ordinary ellipses, are left alone.
        let short = format!("x {}… and … and…", &blob[..5]);
        assert_eq!(scrubber.scrub(&short), short);
        // Many ellipses cost little and do not panic.
        let many = format!("{}{}…", "…é".repeat(10_000), &blob[..30]);
        assert!(!scrubber.scrub(&many).contains(&blob[..30]));
    }

    #[test]
    fn challenges_decode() {
        assert_eq!(
            decode_challenge("eyJzdGF0dXMiOiI0MDAifQ=="),
            "{\"status\":\"400\"}"
        );
        assert_eq!(decode_challenge("not base64!"), "not base64!");
    }
}
