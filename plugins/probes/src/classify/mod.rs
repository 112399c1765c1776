//! What a server's refusal to authenticate means: from the reply to a [`Classification`].
//!
//! The knowledge lives in tables of rows: each row says which replies it covers (protocol, reply
//! code or response code, words in the text, provider) and what they mean (status, reason).
//! `gathered.rs` holds the rows written from the replies collected in
//! `tests/fixtures/refusals.tsv` (each with its source); `table.rs` (`RULES`) the rows before
//! them. Rows for the target's provider are tried first, then the generic rows; within each group
//! the gathered rows come before `RULES`, and the first row that matches wins, so more specific
//! rows come first. A `*` in a row's words stands for any text ("user * not found"). Adding a
//! server's new wording is adding a row, and a test with the real reply string (the tests check
//! that every row is hit).
//!
//! A server can also refuse before any login, in place of its greeting (SMTP 4xx/5xx, IMAP
//! `* BYE` or `* NO`, POP3 `-ERR` at connect): [`classify_greeting`] reads those, with a table of
//! its own (`greeting.rs`).
//!
//! Statuses, chosen for the person on call:
//! - a refusal of the credential or of the account (bad password, app password needed, protocol
//!   or basic auth switched off, policy, lockout) is **critical**: mail through this account is
//!   failing now and it will not fix itself. `auth_too_many_attempts` is critical too: the account
//!   cannot log in until the lockout ends, and the usual cause (a stale password somewhere) needs a
//!   person.
//! - `server_unavailable` (454, 421, other 4xx, `[UNAVAILABLE]`, `[SYS/TEMP]`, `[IN-USE]`) and
//!   `rate_limited` (`[LIMIT]`, `[LOGIN-DELAY]`, too many connections) are **warning**: the server
//!   says "later", and an alert rule's `for:` turns a lasting one into a page.
//! - a reply that shows mailbeat and the server talking past each other (an IMAP `BAD`, NetEase's
//!   "Unsafe Login", a 530 "authentication required" after we did not authenticate) is
//!   **unknown**: it says nothing about the account's health.
//! - anything no row knows is `unknown`/[`Reason::Unknown`]; the caller keeps the server's text in
//!   the result's message, and that text is what the next row is written from.
//!
//! XOAUTH2/OAUTHBEARER: the token source had just given the probe an access token, so a rejection
//! is not "refresh and retry". `400` (Gmail's answer, which public reports tie to a token without
//! the mail scope or for another account) and `insufficient_scope` mean the grant does not cover this mailbox →
//! `oauth_consent_required`; `401`/`invalid_token` (Dovecot's only answers) mean the token is no
//! longer accepted → `oauth_refresh_token_revoked`. Both make a person re-authorize (both fire the
//! re-auth webhook), which is the only fix once a freshly issued token is refused. Microsoft
//! refuses tokens in plain words instead ("535 5.7.3 Authentication unsuccessful", IMAP
//! "AUTHENTICATE failed."), the same words it uses for a refused password. The table sees only
//! the reply, so those rows say `auth_bad_credentials` / `auth_basic_auth_disabled`; the auth
//! probe, which knows the login used a token, reads them as `oauth_consent_required`.

use mailbeat_sdk::remediation::Provider;
use mailbeat_sdk::{Reason, Status};

/// What a server answered to an authentication attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// SMTP reply: code (e.g. 535) and the full text of all lines joined with "\n", each line without the code prefix, e.g. "5.7.8 Username and Password not accepted. Learn more at\n5.7.8  https://support.google.com/mail/?p=BadCredentials".
    Smtp { code: u16, text: &'a str },
    /// IMAP tagged NO/BAD text (everything after "tag NO "), e.g. "[AUTHENTICATIONFAILED] Invalid credentials (Failure)", plus whether it was BAD.
    Imap { bad: bool, text: &'a str },
    /// POP3 -ERR text (after "-ERR "), e.g. "[AUTH] Authentication failed."
    Pop3 { text: &'a str },
    /// The decoded JSON from an XOAUTH2/OAUTHBEARER server challenge, e.g. {"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}
    OauthChallenge { json: &'a str },
}

/// What a reply means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub status: mailbeat_sdk::Status,
    pub reason: mailbeat_sdk::Reason,
}

/// Classifies a server's reply to an authentication attempt. `provider` is the target's preset
/// name (`gmail`, `office365`, …; aliases are accepted), which selects the provider's own rows.
/// Never panics, whatever the input.
pub fn classify(reply: &Reply<'_>, provider: Option<&str>) -> Classification {
    match matching_rule(reply, provider) {
        Some(rule) => Classification {
            status: rule.status,
            reason: rule.reason,
        },
        None => Classification {
            status: Status::Unknown,
            reason: Reason::Unknown,
        },
    }
}

/// The first row that covers the reply: the provider's rows first, then the generic ones; in
/// each group the gathered rows before `RULES`.
fn matching_rule(reply: &Reply<'_>, provider: Option<&str>) -> Option<&'static Rule> {
    let provider = Provider::from_preset(provider);
    let facts = Facts::read(reply);
    let rows = || GATHERED.iter().chain(RULES.iter());
    let own = rows().filter(|r| r.provider == Some(provider));
    let generic = rows().filter(|r| r.provider.is_none());
    own.chain(generic).find(|r| r.matches(&facts))
}

pub mod delivery;
mod gathered;
mod greeting;
mod table;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use gathered::GATHERED;
pub use greeting::{classify_greeting, Greeting};
use table::*;

// ---------------------------------------------------------------------------------------------
// Reading a reply
// ---------------------------------------------------------------------------------------------

/// Text beyond this many bytes is ignored: every wording we match sits at the start, and a
/// babbling server must not cost more than this.
const MAX_TEXT: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Smtp,
    ImapNo,
    ImapBad,
    Pop3,
    Oauth,
}

/// What the rows look at, read once from a reply.
#[derive(Debug)]
struct Facts {
    kind: Kind,
    /// SMTP basic code; 0 for other protocols.
    code: u16,
    /// SMTP enhanced status code, e.g. "5.7.139".
    enhanced: Option<String>,
    /// IMAP/POP3 bracketed response code in capitals, or the OAuth status in lower case.
    resp: String,
    /// The reply text in lower case (empty for OAuth challenges).
    text: String,
}

impl Facts {
    fn read(reply: &Reply<'_>) -> Facts {
        match *reply {
            Reply::Smtp { code, text } => {
                let text = capped(text);
                Facts {
                    kind: Kind::Smtp,
                    code,
                    enhanced: enhanced_code(text).map(str::to_string),
                    resp: String::new(),
                    text: text.to_lowercase(),
                }
            }
            Reply::Imap { bad, text } => {
                let text = capped(text);
                Facts {
                    kind: if bad { Kind::ImapBad } else { Kind::ImapNo },
                    code: 0,
                    enhanced: None,
                    resp: response_code(text),
                    text: text.to_lowercase(),
                }
            }
            Reply::Pop3 { text } => {
                let text = capped(text);
                Facts {
                    kind: Kind::Pop3,
                    code: 0,
                    enhanced: None,
                    resp: response_code(text),
                    text: text.to_lowercase(),
                }
            }
            Reply::OauthChallenge { json } => Facts {
                kind: Kind::Oauth,
                code: 0,
                enhanced: None,
                resp: oauth_status(capped(json)),
                text: String::new(),
            },
        }
    }
}

impl On {
    fn covers(self, kind: Kind) -> bool {
        match self {
            On::Smtp => kind == Kind::Smtp,
            On::Imap => matches!(kind, Kind::ImapNo | Kind::ImapBad),
            On::ImapBad => kind == Kind::ImapBad,
            On::Pop3 => kind == Kind::Pop3,
            On::Mailbox => matches!(kind, Kind::ImapNo | Kind::ImapBad | Kind::Pop3),
            On::Text => kind != Kind::Oauth,
            On::Oauth => kind == Kind::Oauth,
        }
    }
}

impl Code {
    fn matches(self, f: &Facts) -> bool {
        let enhanced = f.enhanced.as_deref();
        match self {
            Code::Any => true,
            Code::Smtp(code) => f.kind == Kind::Smtp && f.code == code,
            Code::SmtpClass(class) => f.kind == Kind::Smtp && f.code / 100 == class,
            Code::SmtpEnhanced(code, e) => {
                f.kind == Kind::Smtp && f.code == code && enhanced == Some(e)
            }
            Code::Resp(code) | Code::Oauth(code) => f.resp == code,
        }
    }
}

impl Rule {
    fn matches(&self, f: &Facts) -> bool {
        self.on.covers(f.kind)
            && self.code.matches(f)
            && (self.text.is_empty() || self.text.iter().any(|needle| contains(&f.text, needle)))
    }
}

/// True when `text` contains `needle`, where a `*` in the needle stands for any text (the pieces
/// between the stars must appear in order).
fn contains(text: &str, needle: &str) -> bool {
    let mut rest = text;
    for piece in needle.split('*') {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// At most [`MAX_TEXT`] bytes, cut on a character boundary.
fn capped(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The enhanced status code that starts an SMTP reply's text ("5.7.8 Username and …" → "5.7.8").
/// A leading basic code ("535-5.7.8 …", "535 5.7.8 …") is tolerated.
fn enhanced_code(text: &str) -> Option<&str> {
    let line = text.trim_start();
    let b = line.as_bytes();
    let line =
        if b.len() > 4 && b[..3].iter().all(u8::is_ascii_digit) && matches!(b[3], b'-' | b' ') {
            &line[4..]
        } else {
            line
        };
    let token = line.split(|c: char| c.is_whitespace()).next()?;
    is_enhanced(token).then_some(token)
}

/// `class.subject.detail`: class 2, 4 or 5, then one to three digits twice (RFC 3463).
fn is_enhanced(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let digits = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    matches!(class, "2" | "4" | "5") && digits(subject) && digits(detail)
}

/// The response code in the brackets that open an IMAP or POP3 text, in capitals:
/// "[AUTHENTICATIONFAILED] Invalid …" → "AUTHENTICATIONFAILED", "[WEBALERT https://…] …" →
/// "WEBALERT". A leading "NO ", "BAD " or "-ERR " is tolerated. Empty when there is none.
fn response_code(text: &str) -> String {
    let mut rest = text.trim_start();
    for prefix in ["NO ", "BAD ", "-ERR "] {
        if rest
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        {
            rest = rest[prefix.len()..].trim_start();
            break;
        }
    }
    let Some(inside) = rest.strip_prefix('[') else {
        return String::new();
    };
    let inside = inside.split(']').next().unwrap_or_default();
    inside
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// The `status` member of an OAuth challenge, in lower case (`"400"`, `"invalid_token"`); a number
/// is read as its digits. The challenge is accepted still base64-encoded too. Empty when absent.
fn oauth_status(json: &str) -> String {
    use base64::Engine;
    let json = json.trim();
    let value = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .or_else(|| {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(json)
                .ok()?;
            serde_json::from_slice(&decoded).ok()
        });
    match value.as_ref().and_then(|v| v.get("status")) {
        Some(serde_json::Value::String(s)) => s.trim().to_ascii_lowercase(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}
