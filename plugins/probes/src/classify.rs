//! What a server's refusal to authenticate means: from the reply to a [`Classification`].
//!
//! The knowledge lives in one table, `RULES`: each row says which replies it covers (protocol,
//! reply code or response code, words in the text, provider) and what they mean (status, reason).
//! Rows for the target's provider are tried first, then the generic rows; within each group the
//! first row that matches wins, so more specific rows come first. Adding a server's new wording is
//! adding a row, and a test with the real reply string (the tests check that every row is hit).
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

/// The first row that covers the reply: the provider's rows first, then the generic ones.
fn matching_rule(reply: &Reply<'_>, provider: Option<&str>) -> Option<&'static Rule> {
    let provider = Provider::from_preset(provider);
    let facts = Facts::read(reply);
    let own = RULES.iter().filter(|r| r.provider == Some(provider));
    let generic = RULES.iter().filter(|r| r.provider.is_none());
    own.chain(generic).find(|r| r.matches(&facts))
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/// Which replies a row looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    Smtp,
    /// IMAP, NO or BAD.
    Imap,
    /// IMAP BAD only.
    ImapBad,
    Pop3,
    /// IMAP or POP3.
    Mailbox,
    /// Any text reply: SMTP, IMAP or POP3 (OAuth challenges have rows of their own).
    Text,
    Oauth,
}

/// The code part of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    Any,
    /// SMTP basic reply code.
    Smtp(u16),
    /// SMTP reply class: 4 for every 4xx, 5 for every 5xx.
    SmtpClass(u16),
    /// SMTP basic code and the enhanced status code (RFC 3463) that starts the reply text.
    SmtpEnhanced(u16, &'static str),
    /// IMAP response code (RFC 5530) or POP3 extended response code (RFC 2449, 3206): the first
    /// word in the brackets that open the text, in capitals.
    Resp(&'static str),
    /// The `status` of an OAuth challenge, in lower case.
    Oauth(&'static str),
}

/// One row: replies it covers → what they mean.
#[derive(Debug)]
struct Rule {
    on: On,
    code: Code,
    /// Matches when the reply's text contains any of these (lower case); empty matches any text.
    text: &'static [&'static str],
    /// Only for targets with this provider preset; `None` for every target.
    provider: Option<Provider>,
    status: Status,
    reason: Reason,
}

const fn r(
    on: On,
    code: Code,
    text: &'static [&'static str],
    provider: Option<Provider>,
    status: Status,
    reason: Reason,
) -> Rule {
    Rule {
        on,
        code,
        text,
        provider,
        status,
        reason,
    }
}

const ANY: &[&str] = &[];
const CRIT: Status = Status::Critical;
const WARN: Status = Status::Warning;
const UNKN: Status = Status::Unknown;

const GMAIL: Option<Provider> = Some(Provider::Gmail);
const MICROSOFT: Option<Provider> = Some(Provider::Microsoft);
const NETEASE: Option<Provider> = Some(Provider::Netease);
const ALL: Option<Provider> = None;

use Code::{Oauth, Resp, SmtpClass, SmtpEnhanced};
use On::{Imap, ImapBad, Mailbox, Pop3, Smtp, Text};
use Reason::*;

#[rustfmt::skip]
static RULES: &[Rule] = &[
    // ---- Provider rows: the same words mean something else at this provider ----------------
    // NetEase (163/126): a plain 535 means the web password was sent instead of the 授权码.
    r(Smtp,    Code::Smtp(535), &["authentication failed"],          NETEASE,   CRIT, AuthAppPasswordRequired),
    // NetEase: the SMTP service is switched off for the mailbox.
    r(Smtp,    Code::Any,       &["user has no permission"],         NETEASE,   CRIT, AuthProtocolDisabled),
    // Exchange Online accepts the login but refuses the session after it: IMAP/POP is switched
    // off for the mailbox, or the app's token carries application permissions without access to
    // this mailbox.
    r(Mailbox, Code::Any,       &["user is authenticated but not connected"], MICROSOFT, CRIT, AuthProtocolDisabled),
    // Exchange Online answers every refused IMAP/POP login with these bare words; with basic auth
    // retired there, that is the usual cause. A refused OAuth token reads the same; the auth
    // probe, which knows the mechanism, turns that into oauth_consent_required.
    r(Mailbox, Code::Any,       &["authenticate failed", "login failed"], MICROSOFT, CRIT, AuthBasicAuthDisabled),
    // Gmail's own throttle wording on 421 (a connection limit, not a lockout).
    r(Smtp,    Code::Smtp(421), &["try again later"],                GMAIL,     WARN, RateLimited),

    // ---- Words that name the cause, whatever the protocol -------------------------------------
    r(Text,    Code::Any, &["application-specific password required"],   ALL, CRIT, AuthAppPasswordRequired),
    r(Text,    Code::Any, &["authorization code", "授权码"],             ALL, CRIT, AuthAppPasswordRequired),
    r(Mailbox, Resp("WEBALERT"), ANY,                                    ALL, CRIT, AuthWebLoginRequired),
    r(Text,    Code::Any, &["log in via your web browser", "log in with your web browser",
                            "web login required"],                       ALL, CRIT, AuthWebLoginRequired),
    r(Text,    Code::Any, &["smtpclientauthentication is disabled"],     ALL, CRIT, AuthProtocolDisabled),
    r(Text,    Code::Any, &["imap access is disabled", "not enabled for imap use",
                            "yet to enable imap"],                       ALL, CRIT, AuthProtocolDisabled),
    r(Text,    Code::Any, &["basic authentication is disabled"],         ALL, CRIT, AuthBasicAuthDisabled),
    r(Text,    Code::Any, &["security defaults policy"],                 ALL, CRIT, AuthMfaRequired),
    r(Text,    Code::Any, &["did not meet the criteria to be authenticated"], ALL, CRIT, AuthConditionalAccessBlocked),
    r(Text,    Code::Any, &["too many simultaneous connections", "too many connections"],
                                                                         ALL, WARN, RateLimited),
    r(Text,    Code::Any, &["too many login attempts", "too many bad auth attempts",
                            "too many failed", "authenticate too many times",
                            "too many authentication attempts"],         ALL, CRIT, AuthTooManyAttempts),
    r(Text,    Code::Any, &["rate limit", "rate-limit", "throttl"],      ALL, WARN, RateLimited),
    r(Text,    Code::Any, &["temporary system problem", "temporary authentication failure"],
                                                                         ALL, WARN, ServerUnavailable),
    r(Text,    Code::Any, &["plaintext authentication disallowed", "plaintext authentication not allowed",
                            "plaintext authentication disabled", "must issue a starttls command first"],
                                                                         ALL, CRIT, StarttlsRequired),
    r(Text,    Code::Any, &["unsafe login"],                             ALL, UNKN, ProtocolError),
    r(Text,    Code::Any, &["invalid authentication mechanism", "unsupported authentication mechanism",
                            "unrecognized authentication type", "authentication not enabled"],
                                                                         ALL, CRIT, AuthMechanismUnsupported),
    r(Text,    Code::Any, &["administratively locked", "account is locked", "account has been locked",
                            "account locked", "account is disabled", "account has been disabled",
                            "account disabled", "account is suspended", "account has been suspended",
                            "password expired", "password has expired"],
                                                                         ALL, CRIT, AuthAccountLocked),

    // ---- IMAP response codes (RFC 5530) and POP3 extended codes (RFC 2449, 3206) -------------
    r(Imap,    Resp("PRIVACYREQUIRED"),     ANY, ALL, CRIT, StarttlsRequired),
    r(Imap,    Resp("UNAVAILABLE"),         ANY, ALL, WARN, ServerUnavailable),
    // EXPIRED: the passphrase is no longer valid; someone must set a new one. Same action as a
    // locked account, so the same reason.
    r(Imap,    Resp("EXPIRED"),             ANY, ALL, CRIT, AuthAccountLocked),
    // CONTACTADMIN: Dovecot's answer for a disabled login ("nologin"), and others' for a locked one.
    r(Imap,    Resp("CONTACTADMIN"),        ANY, ALL, CRIT, AuthAccountLocked),
    // LIMIT at login is a connection or implementation limit, not a lockout.
    r(Imap,    Resp("LIMIT"),               ANY, ALL, WARN, RateLimited),
    // AUTHORIZATIONFAILED: the credentials are fine but not for this user name.
    r(Imap,    Resp("AUTHORIZATIONFAILED"), ANY, ALL, CRIT, AuthBadCredentials),
    r(Imap,    Resp("AUTHENTICATIONFAILED"), ANY, ALL, CRIT, AuthBadCredentials),
    r(Pop3,    Resp("SYS/TEMP"),            ANY, ALL, WARN, ServerUnavailable),
    r(Pop3,    Resp("IN-USE"),              ANY, ALL, WARN, ServerUnavailable),
    r(Pop3,    Resp("LOGIN-DELAY"),         ANY, ALL, WARN, RateLimited),
    r(Pop3,    Resp("AUTH"),                ANY, ALL, CRIT, AuthBadCredentials),
    r(Mailbox, Code::Any, &["invalid credentials", "authentication failed", "authenticate failed",
                            "login failed", "invalid login", "incorrect password",
                            "invalid username or password"],
                                                 ALL, CRIT, AuthBadCredentials),
    // Older servers' own words for a refused password (qmail-popup's "authorization failed").
    r(Mailbox, Code::Any, &["authorization failed", "invalid password", "bad password",
                            "password incorrect"],
                                                 ALL, CRIT, AuthBadCredentials),
    // A BAD to our own LOGIN/AUTHENTICATE: we and the server disagree on the protocol.
    r(ImapBad, Code::Any,                   ANY, ALL, UNKN, ProtocolError),

    // ---- SMTP codes (RFC 3463, 4954, 7372) -----------------------------------------------------
    r(Smtp,    Code::Smtp(538),             ANY, ALL, CRIT, StarttlsRequired),
    // We did not authenticate but the server wants it (no credentials, or AUTH never offered).
    r(Smtp,    Code::Smtp(530), &["authentication required"], ALL, UNKN, ConfigError),
    r(Smtp,    Code::Smtp(504),             ANY, ALL, CRIT, AuthMechanismUnsupported),
    // RFC 4954: "Authentication mechanism is too weak" (Gmail's 534 5.7.9 is caught by its words).
    r(Smtp,    SmtpEnhanced(534, "5.7.9"),  ANY, ALL, CRIT, AuthMechanismUnsupported),
    // No AUTH command at all (e.g. Sendmail without SASL).
    r(Smtp,    SmtpClass(5), &["command unrecognized", "unrecognized command",
                               "command not implemented"], ALL, CRIT, AuthMechanismUnsupported),
    // Sendmail and ZMailer name the mechanism they lack, under 503 in older versions.
    r(Smtp,    Code::Smtp(503), &["auth mechanism"], ALL, CRIT, AuthMechanismUnsupported),
    r(Smtp,    Code::Smtp(503),             ANY, ALL, UNKN, ProtocolError),
    r(Smtp,    Code::Smtp(421), &["too many errors"], ALL, CRIT, AuthTooManyAttempts),
    r(Smtp,    Code::Smtp(535),             ANY, ALL, CRIT, AuthBadCredentials),
    r(Smtp,    Code::Smtp(454),             ANY, ALL, WARN, ServerUnavailable),
    r(Smtp,    Code::Smtp(421),             ANY, ALL, WARN, ServerUnavailable),
    r(Smtp,    SmtpClass(4),                ANY, ALL, WARN, ServerUnavailable),

    // ---- XOAUTH2 / OAUTHBEARER challenges (RFC 7628) -------------------------------------------
    r(On::Oauth, Oauth("400"),              ANY, ALL, CRIT, OauthConsentRequired),
    r(On::Oauth, Oauth("insufficient_scope"), ANY, ALL, CRIT, OauthConsentRequired),
    r(On::Oauth, Oauth("401"),              ANY, ALL, CRIT, OauthRefreshTokenRevoked),
    r(On::Oauth, Oauth("invalid_token"),    ANY, ALL, CRIT, OauthRefreshTokenRevoked),
    r(On::Oauth, Oauth("invalid_request"),  ANY, ALL, UNKN, ProtocolError),
];

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
            && (self.text.is_empty() || self.text.iter().any(|needle| f.text.contains(needle)))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(code: u16, text: &str) -> Reply<'_> {
        Reply::Smtp { code, text }
    }
    fn imap(text: &str) -> Reply<'_> {
        Reply::Imap { bad: false, text }
    }
    fn imap_bad(text: &str) -> Reply<'_> {
        Reply::Imap { bad: true, text }
    }
    fn pop3(text: &str) -> Reply<'_> {
        Reply::Pop3 { text }
    }
    fn oauth(json: &str) -> Reply<'_> {
        Reply::OauthChallenge { json }
    }

    /// (reply, provider, reason, status). Every string is what a real server sent, from the public
    /// report named above it (GitHub issues unless said otherwise), with only the per-session
    /// tails (server ids, timestamps, tokens) as they were.
    #[rustfmt::skip]
    fn cases() -> Vec<(Reply<'static>, Option<&'static str>, Reason, Status)> {
        vec![
            // ---- Gmail ----
            // gophish/gophish#1869
            (smtp(535, "5.7.8 Username and Password not accepted. Learn more at\n5.7.8 https://support.google.com/mail/?p=BadCredentials d4sm5441686pgf.9 - gsmtp"),
                Some("gmail"), AuthBadCredentials, CRIT),
            // iiuni/projektzapisy#727 (Python's smtplib shows the lines joined with "\n")
            (smtp(534, "5.7.9 Application-specific password required. Learn more at\n5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor n18sm8811765wru.2 - gsmtp"),
                Some("gmail"), AuthAppPasswordRequired, CRIT),
            // firebase/functions-samples#39
            (smtp(534, "5.7.14 <https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=AKgnsbs7\n5.7.14 UF7mumzUwFIZrMDWiiimSdrlEvZIp8kRC3QRkzqwfOM94wkvVFys_Yjllj6KGuBubi6SwF\n5.7.14 x1DeI0bGyNqNHRRUuucw0k95Ph-CY> Please log in via your web browser and\n5.7.14 then try again.\n5.7.14  Learn more at\n5.7.14  https://support.google.com/mail/answer/78754 100sm8943270iot.39 - gsmtp"),
                Some("gmail"), AuthWebLoginRequired, CRIT),
            // samdiefenbacher in AnalogJ/justvanish#13
            (smtp(454, "4.7.0 Too many login attempts, please try again later. Learn more at\n4.7.0  https://support.google.com/mail/answer/7126229 h6-20020a0561220b6600b0049d21a8f4b6sm1103848vkf.11 - gsmtp"),
                Some("gmail"), AuthTooManyAttempts, CRIT),
            // bfosberry/GameSocial#179
            (smtp(454, "4.7.0 Cannot authenticate due to temporary system problem. Try again later. d69sm2322627qhc.3 - gsmtp"),
                Some("gmail"), ServerUnavailable, WARN),
                    // Gmail closing a throttled connection (quoted in a public workflow tool's FAQ)
            (smtp(421, "4.7.0 Try again later, closing connection. (EHLO)\n4.7.0 For more information, go to\n4.7.0 About SMTP error messages - Google Workspace Admin Help 3f1490d57ef6-e7f7352f44csm831688276"),
                Some("gmail"), RateLimited, WARN),
            // LukeSmithxyz/mutt-wizard#831
            (imap("[ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)"),
                Some("gmail"), AuthAppPasswordRequired, CRIT),
            // mailcow/mailcow-dockerized#4277, byt3bl33d3r/gcat#2
            (imap("[ALERT] Please log in via your web browser: https://support.google.com/mail/accounts/answer/78754 (Failure)"),
                Some("gmail"), AuthWebLoginRequired, CRIT),
            // fetchmail log quoted in a public README (untagged, before the tagged NO above)
            (imap("[WEBALERT https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=...] Web login required."),
                Some("gmail"), AuthWebLoginRequired, CRIT),
            // A gmail-backup tool's list of Gmail login errors
            (imap("[ALERT] Web login required: http://support.google.com/mail/bin/answer.py?answer=78754 (Failure)"),
                Some("gmail"), AuthWebLoginRequired, CRIT),
            (imap("[ALERT] Invalid credentials (Failure)"), Some("gmail"), AuthBadCredentials, CRIT),
            // getmail6/getmail6#236, pulb/mailnag#190
            (imap("[AUTHENTICATIONFAILED] Invalid credentials (Failure)"), Some("gmail"), AuthBadCredentials, CRIT),
            // Gmail IMAP disabled by a Workspace admin (quoted in client test suites)
            (imap("[ALERT] IMAP access is disabled for your domain. Please contact your domain administrator for questions about this feature. (Failure)"),
                Some("gmail"), AuthProtocolDisabled, CRIT),
            (imap("[ALERT] Your account is not enabled for IMAP use. Please visit your Gmail settings page and enable your account for IMAP access. (Failure)"),
                Some("gmail"), AuthProtocolDisabled, CRIT),
            // zone-eu/wildduck#35, jstedfast/MailKit#377
            (imap("[ALERT] Too many simultaneous connections. (Failure)"), Some("gmail"), RateLimited, WARN),
            // mailman/mailman#50
            (pop3("[AUTH] Application-specific password required: http://support.google.com/accounts/bin/answer.py?answer=185833"),
                Some("gmail"), AuthAppPasswordRequired, CRIT),
            // Gmail POP3 (the IMAP [ALERT] wording, under POP3's [AUTH] code)
            (pop3("[AUTH] Web login required: https://support.google.com/mail/answer/78754"),
                Some("gmail"), AuthWebLoginRequired, CRIT),
            // jstedfast/MailKit#377 (decoded from "eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==")
            (oauth(r#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#),
                Some("gmail"), OauthConsentRequired, CRIT),
            (oauth("eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ=="),
                Some("gmail"), OauthConsentRequired, CRIT),
            // Google's XOAUTH2 documentation example
            (oauth(r#"{"status":"401","schemes":"bearer mac","scope":"https://mail.google.com/"}"#),
                Some("gmail"), OauthRefreshTokenRevoked, CRIT),

            // ---- Microsoft 365 / Outlook.com ----
            // simonrob/email-oauth2-proxy#193
            (smtp(535, "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [MN2PR05CA0004.namprd05.prod.outlook.com 2023-09-12T20:59:57.214Z 08DBB276B7E699C4]"),
                Some("office365"), AuthProtocolDisabled, CRIT),
            // Microsoft's Dynamics 365 email troubleshooting article (MicrosoftDocs)
            (smtp(535, "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information."),
                None, AuthProtocolDisabled, CRIT),
            // nodemailer/nodemailer#1714
            (smtp(535, "5.7.139 Authentication unsuccessful, basic authentication is disabled. [PN0PR01CA0024.INDPRD01.PROD.OUTLOOK.COM 2025-01-26T18:54:30.055Z 08DD3DD7D75D7743]"),
                Some("outlook"), AuthBasicAuthDisabled, CRIT),
            // Microsoft's Dynamics 365 article; gophish/gophish#3220 (Portuguese rendering)
            (smtp(535, "5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully. Contact your administrator. [BN9PR03CA0716.namprd03.prod.outlook.com 2026-07-01T01:57:31.695Z 08DED6A3FAA75B29]"),
                Some("office365"), AuthConditionalAccessBlocked, CRIT),
            // Quoted in a public Microsoft 365 SMTP setup guide
            (smtp(535, "5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator."),
                Some("office365"), AuthMfaRequired, CRIT),
            // codassassin/email-bomber-v2.0#1
            (smtp(535, "5.7.139 Authentication unsuccessful, the user credentials were incorrect. [PH0PR07CA0004.namprd07.prod.outlook.com]"),
                Some("office365"), AuthBadCredentials, CRIT),
            // jstedfast/MailKit#700 (also Microsoft's answer to a refused XOAUTH2 token)
            (smtp(535, "5.7.3 Authentication unsuccessful [BN3PR03CA0067.namprd03.prod.outlook.com]"),
                Some("office365"), AuthBadCredentials, CRIT),
            // Exchange (and OVH) refusing AUTH PLAIN
            (smtp(504, "5.7.4 Unrecognized authentication type"), Some("office365"), AuthMechanismUnsupported, CRIT),
            // imapsync/imapsync#317, mjs/imapclient#602
            (imap("LOGIN failed."), Some("office365"), AuthBasicAuthDisabled, CRIT),
            // barbushin/php-imap#681
            (imap("AUTHENTICATE failed."), Some("m365"), AuthBasicAuthDisabled, CRIT),
            // holon-run/uxc#445 (Outlook.com, LOGIN)
            (imap("Basic authentication is disabled."), Some("outlook"), AuthBasicAuthDisabled, CRIT),
            // Exchange Online after a successful login, to the first mailbox command (IMAP
            // switched off for the mailbox, or an app token without mailbox access)
            (imap_bad("User is authenticated but not connected."), Some("office365"), AuthProtocolDisabled, CRIT),
            (pop3("User is authenticated but not connected."), Some("outlook"), AuthProtocolDisabled, CRIT),

            // ---- Yahoo ----
            // PHPMailer/PHPMailer#2034, nodemailer/nodemailer#1112
            (smtp(535, "5.7.0 (#AUTH005) Too many bad auth attempts."), Some("yahoo"), AuthTooManyAttempts, CRIT),
            // Enough-Software/enough_mail#245
            (imap("[AUTHENTICATIONFAILED] LOGIN Invalid credentials"), Some("yahoo"), AuthBadCredentials, CRIT),

            // ---- Zoho ----
            // nodemailer/nodemailer#456
            (smtp(535, "Authentication Failed"), Some("zoho"), AuthBadCredentials, CRIT),
            // Foundry376/Mailspring#1334
            (imap("[AUTHENTICATIONFAILED] Invalid credentials(Failure)"), Some("zoho"), AuthBadCredentials, CRIT),
            // Zoho with IMAP switched off for the mailbox (quoted in several client test suites)
            (imap("[ALERT] You are yet to enable IMAP for your account. Please contact your administrator (Failure)"),
                Some("zoho"), AuthProtocolDisabled, CRIT),
            // nodemailer/nodemailer#1082 (after MAIL FROM without AUTH)
            (smtp(530, "5.5.1 Authentication Required."), Some("zoho"), ConfigError, UNKN),

            // ---- iCloud ----
            // lefcha/imapfilter#125
            (imap("[AUTHENTICATIONFAILED] Authentication failed"), Some("icloud"), AuthBadCredentials, CRIT),
            // Ryan0204/cursor-auto-icloud#12
            (imap("[AUTHENTICATIONFAILED] Authentication Failed"), Some("icloud"), AuthBadCredentials, CRIT),

            // ---- NetEase / Tencent-style authorization codes ----
            // hongrunhui/node_12306#1 (163.com: the 授权码 was needed)
            (smtp(535, "Error: authentication failed"), Some("netease"), AuthAppPasswordRequired, CRIT),
            // ... while at an ordinary Postfix the same words are just a wrong password
            (smtp(535, "Error: authentication failed"), None, AuthBadCredentials, CRIT),
            // KeithTt in open-falcon/mail-provider#6
            (smtp(550, "User has no permission"), Some("163"), AuthProtocolDisabled, CRIT),
            // YMFE/yapi#2219 (QQ Mail)
            (smtp(535, "Login Fail. Please enter your authorization code to login. More information in http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=28&&no=1001256"),
                None, AuthAppPasswordRequired, CRIT),
            // OfflineIMAP/offlineimap#696 (no IMAP ID sent)
            (imap("SELECT Unsafe Login. Please contact kefu@188.com for help"), Some("netease"), ProtocolError, UNKN),
            // gudulangzi07 in nodemailer/nodemailer#1350
            (smtp(535, "auth failed (this user authenticate too many times)"), None, AuthTooManyAttempts, CRIT),

            // ---- Dovecot, Postfix and other servers of your own ----
            // Dovecot login-common.h AUTH_FAILED_MSG; velo#204
            (imap("[AUTHENTICATIONFAILED] Authentication failed."), None, AuthBadCredentials, CRIT),
            // docker-mailserver/docker-mailserver#1026
            (imap("[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."),
                None, StarttlsRequired, CRIT),
            // Dovecot's untagged warning (r-raymond/nixos-mailserver#63)
            (imap_bad("[ALERT] Plaintext authentication not allowed without SSL/TLS, but your client did it anyway. If anyone was listening, the password was exposed."),
                None, StarttlsRequired, CRIT),
            // Dovecot 1.x imap-login and pop3-login
            (imap("Plaintext authentication disabled."), None, StarttlsRequired, CRIT),
            // Dovecot imap-login (proxy and temporary auth failure)
            (imap("[UNAVAILABLE] Temporary authentication failure. [mail.example.org:2024-05-01 10:00:00]"),
                None, ServerUnavailable, WARN),
            // RFC 5530 examples
            (imap("[UNAVAILABLE] User's backend down for maintenance"), None, ServerUnavailable, WARN),
            (imap("[AUTHORIZATIONFAILED] No such authorization-ID"), None, AuthBadCredentials, CRIT),
            (imap("[EXPIRED] That password isn't valid any more"), None, AuthAccountLocked, CRIT),
            (imap("[PRIVACYREQUIRED] Connection offers no privacy"), None, StarttlsRequired, CRIT),
            (imap("[CONTACTADMIN]"), None, AuthAccountLocked, CRIT),
            (imap("[LIMIT] At most 32 flags in one mailbox supported"), None, RateLimited, WARN),
            // Magma mail server
            (imap("[CONTACTADMIN] This account has been administratively locked."), None, AuthAccountLocked, CRIT),
            // Exchange on-premises (no provider preset)
            (imap("LOGIN failed."), None, AuthBadCredentials, CRIT),
            (imap("AUTHENTICATE failed."), Some("custom"), AuthBadCredentials, CRIT),
            // Gmail's BAD to a malformed XOAUTH2 exchange (quoted in client test suites)
            (imap_bad("Invalid SASL argument."), Some("gmail"), ProtocolError, UNKN),
            // Dovecot pop3-login (TryHackMe write-up)
            (pop3("[AUTH] Authentication failed."), None, AuthBadCredentials, CRIT),
            (pop3("Plaintext authentication disallowed on non-secure (SSL/TLS) connections."), None, StarttlsRequired, CRIT),
            // Dovecot pop3 (client.c), Cyrus pop3d
            (pop3("[SYS/TEMP] Temporary authentication failure. [mail.example.org:2024-05-01 10:00:00]"), None, ServerUnavailable, WARN),
            (pop3("[SYS/TEMP] Backend server temporarily unavailable"), None, ServerUnavailable, WARN),
            (pop3("[IN-USE] Unable to lock maildrop"), None, ServerUnavailable, WARN),
            (pop3("[LOGIN-DELAY] Logins must be at least 5 minutes apart"), None, RateLimited, WARN),
            // Mailu's nginx mail proxy; a Go POP3 server's brute-force guard
            (pop3("[LOGIN-DELAY] Retry later"), None, RateLimited, WARN),
            (pop3("[LOGIN-DELAY] Too many authentication attempts. Please try again later."), None, AuthTooManyAttempts, CRIT),
            (smtp(451, "4.3.2 Temporary authentication failure (rate-limit)"), None, RateLimited, WARN),
            // Cyrus pop3d
            (pop3("Invalid login"), None, AuthBadCredentials, CRIT),
            // qmail-popup (die_badauth), in front of checkpassword / vpopmail
            (pop3("authorization failed"), None, AuthBadCredentials, CRIT),
            // The RFC 1939-era wordings many small POP3/IMAP servers still send
            (pop3("invalid password"), None, AuthBadCredentials, CRIT),
            (pop3("Bad password"), None, AuthBadCredentials, CRIT),
            (imap("Password incorrect"), None, AuthBadCredentials, CRIT),
            // rainloop/rainloop-webmail#1629 (Postfix + Cyrus SASL)
            (smtp(535, "5.7.8 Error: authentication failed: authentication failure"), None, AuthBadCredentials, CRIT),
            // Postfix xsasl_cyrus_server.c
            (smtp(535, "5.7.8 Error: authentication failed: Invalid authentication mechanism"), None, AuthMechanismUnsupported, CRIT),
            // Postfix without SASL on the port (mail-in-a-box/mailinabox#2284)
            (smtp(503, "5.5.1 Error: authentication not enabled"), None, AuthMechanismUnsupported, CRIT),
            (smtp(503, "5.5.1 Error: send HELO/EHLO first"), None, ProtocolError, UNKN),
            // RFC 4954 §6 reply texts
            (smtp(538, "5.7.11 Encryption required for requested authentication mechanism"), None, StarttlsRequired, CRIT),
            (smtp(534, "5.7.9 Authentication mechanism is too weak"), None, AuthMechanismUnsupported, CRIT),
            (smtp(454, "4.7.0 Temporary authentication failure"), None, ServerUnavailable, WARN),
            // gophish/gophish#1815
            (smtp(454, "4.7.0 auth service unavailable"), None, ServerUnavailable, WARN),
            (smtp(535, "5.7.8 Authentication credentials invalid"), None, AuthBadCredentials, CRIT),
            (smtp(432, "4.7.12 A password transition is needed"), None, ServerUnavailable, WARN),
            // nodemailer smtp-server / Gmail before STARTTLS
            (smtp(530, "5.7.0 Must issue a STARTTLS command first."), None, StarttlsRequired, CRIT),
            (smtp(530, "5.7.0 Authentication Required. Learn more at\n5.7.0  https://support.google.com/mail/?p=WantAuthError - gsmtp"),
                None, ConfigError, UNKN),
            // Sendmail without SASL (Foundry376/Mailspring#811; the line echoes our command)
            (smtp(500, "5.5.1 Command unrecognized: \"AUTH PLAIN c2VkZ2hpAHNXXXXXQBzYWRvaGFzaHRhZG84QA==\""),
                None, AuthMechanismUnsupported, CRIT),
            // The RFC 3463 wording used by many servers' AUTH
            (smtp(504, "5.5.4 Unrecognized authentication type"), None, AuthMechanismUnsupported, CRIT),
            // Sendmail srvrsmtp.c ("504 5.3.3 AUTH mechanism %.32s not available"); ZMailer and
            // older Sendmail send the same under 503
            (smtp(504, "5.3.3 AUTH mechanism XOAUTH2 not available"), None, AuthMechanismUnsupported, CRIT),
            (smtp(503, "5.3.3 AUTH mechanism XOAUTH2 not available"), None, AuthMechanismUnsupported, CRIT),
            // Postfix smtpd.c after too many errors in one session ("421 4.7.0 %s Error: too many errors")
            (smtp(421, "4.7.0 mail.example.org Error: too many errors"), None, AuthTooManyAttempts, CRIT),
            // RFC 5321 §4.2.2 wording
            (smtp(421, "4.3.2 Service not available, closing transmission channel"), None, ServerUnavailable, WARN),
            // Dovecot with an expired password (quoted in several client test suites)
            (imap("[EXPIRED] Password expired."), None, AuthAccountLocked, CRIT),
            // Dovecot XOAUTH2 and OAUTHBEARER failures (src/auth/mech-oauth2.c)
            (oauth(r#"{"status":"401","schemes":"bearer","scope":"mail"}"#), None, OauthRefreshTokenRevoked, CRIT),
            (oauth(r#"{"status":"invalid_token"}"#), None, OauthRefreshTokenRevoked, CRIT),
            // RFC 7628 §3.2.2 values
            (oauth(r#"{"status":"insufficient_scope","scope":"https://mail.google.com/"}"#), None, OauthConsentRequired, CRIT),
            (oauth(r#"{"status":"invalid_request"}"#), None, ProtocolError, UNKN),
        ]
    }

    #[test]
    fn real_replies_are_classified() {
        let mut failures = Vec::new();
        for (reply, provider, reason, status) in cases() {
            let got = classify(&reply, provider);
            let want = Classification { status, reason };
            if got != want {
                failures.push(format!(
                    "{reply:?} @ {provider:?}: got {got:?}, want {want:?}"
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "misclassified:\n{}",
            failures.join("\n")
        );
    }

    #[test]
    fn every_row_has_a_real_reply() {
        let mut hit = vec![false; RULES.len()];
        for (reply, provider, _, _) in cases() {
            if let Some(rule) = matching_rule(&reply, provider) {
                let index = RULES.iter().position(|r| std::ptr::eq(r, rule)).unwrap();
                hit[index] = true;
            }
        }
        let missed: Vec<_> = RULES
            .iter()
            .zip(&hit)
            .filter(|(_, hit)| !**hit)
            .map(|(r, _)| r)
            .collect();
        assert!(missed.is_empty(), "rows without a test reply: {missed:#?}");
    }

    #[test]
    fn rows_are_written_the_way_they_are_compared() {
        for rule in RULES {
            for needle in rule.text {
                assert!(!needle.is_empty(), "{rule:?}");
                assert_eq!(
                    *needle,
                    needle.to_lowercase(),
                    "text must be lower case: {rule:?}"
                );
            }
            match rule.code {
                Code::Resp(code) => assert_eq!(code, code.to_ascii_uppercase(), "{rule:?}"),
                Code::Oauth(status) => assert_eq!(status, status.to_ascii_lowercase(), "{rule:?}"),
                Code::SmtpEnhanced(_, e) => assert!(is_enhanced(e), "{rule:?}"),
                _ => {}
            }
            assert_ne!(rule.provider, Some(Provider::Custom), "{rule:?}");
            assert!(
                rule.on != On::Oauth || rule.text.is_empty(),
                "OAuth challenges have no text to match: {rule:?}"
            );
        }
    }

    #[test]
    fn provider_rows_win_over_generic_ones_and_stay_at_their_provider() {
        let reply = imap("LOGIN failed.");
        assert_eq!(
            classify(&reply, Some("office365")).reason,
            AuthBasicAuthDisabled
        );
        assert_eq!(
            classify(&reply, Some("outlook")).reason,
            AuthBasicAuthDisabled
        );
        assert_eq!(classify(&reply, Some("gmail")).reason, AuthBadCredentials);
        assert_eq!(classify(&reply, None).reason, AuthBadCredentials);
        let reply = imap_bad("User is authenticated but not connected.");
        assert_eq!(
            classify(&reply, Some("office365")).reason,
            AuthProtocolDisabled
        );
        assert_eq!(classify(&reply, None).reason, ProtocolError);
        let reply = smtp(535, "Error: authentication failed");
        assert_eq!(
            classify(&reply, Some("126")).reason,
            AuthAppPasswordRequired
        );
        assert_eq!(classify(&reply, Some("zoho")).reason, AuthBadCredentials);
    }

    #[test]
    fn unknown_replies_are_unknown() {
        let unknown = Classification {
            status: UNKN,
            reason: Reason::Unknown,
        };
        for reply in [
            smtp(
                550,
                "5.7.1 Service unavailable, Client host [203.0.113.9] blocked using Spamhaus",
            ),
            smtp(250, "2.0.0 OK"),
            smtp(0, ""),
            imap("Something went wrong"),
            imap(""),
            pop3("nope"),
            oauth(r#"{"status":"418"}"#),
            oauth("not json, not base64"),
            oauth(""),
        ] {
            assert_eq!(classify(&reply, None), unknown, "{reply:?}");
        }
    }

    #[test]
    fn reading_the_codes() {
        assert_eq!(
            enhanced_code("5.7.139 Authentication unsuccessful"),
            Some("5.7.139")
        );
        assert_eq!(enhanced_code("535-5.7.8 Username"), Some("5.7.8"));
        assert_eq!(enhanced_code("535 5.7.8 Username"), Some("5.7.8"));
        assert_eq!(enhanced_code("  4.7.0\nmore"), Some("4.7.0"));
        for text in [
            "",
            "5.",
            "3.1.1 x",
            "5.7.1234 x",
            "5.7 x",
            "Authentication failed",
            "535",
            "535-",
        ] {
            assert_eq!(enhanced_code(text), None, "{text:?}");
        }
        assert_eq!(
            response_code("[WEBALERT https://x] Web login required."),
            "WEBALERT"
        );
        assert_eq!(
            response_code("NO [authenticationfailed] x"),
            "AUTHENTICATIONFAILED"
        );
        assert_eq!(response_code("-ERR [SYS/TEMP] x"), "SYS/TEMP");
        assert_eq!(response_code("[unclosed"), "UNCLOSED");
        assert_eq!(response_code("no code"), "");
        assert_eq!(oauth_status(r#"{"status":401}"#), "401");
        assert_eq!(
            oauth_status(r#"{"status":" Invalid_Token "}"#),
            "invalid_token"
        );
        assert_eq!(oauth_status(r#"{"schemes":"bearer"}"#), "");
    }

    #[test]
    fn garbage_never_panics() {
        let huge = format!("[AUTHENTICATIONFAILED] {}", "é".repeat(1 << 20));
        let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let fixed: Vec<String> = vec![
            String::new(),
            " ".into(),
            "[".into(),
            "]".into(),
            "[]".into(),
            "[ ]".into(),
            "NO ".into(),
            "-ERR".into(),
            "5.".into(),
            "5.7.".into(),
            "535-".into(),
            "\u{0}\u{1}\u{7f}".into(),
            "認証に失敗しました".into(),
            "认证失败，请使用授权码登录".into(),
            "🦀🦀🦀".into(),
            "é5.7.8 x".into(),
            "NOé".into(),
            "\u{301}[AUTH]".into(),
            huge.clone(),
            nested.clone(),
            format!("{{\"status\":{}}}", "[".repeat(100_000)),
            "eyJzdGF0dXMiOj".into(),
            "=====".into(),
        ];
        // And a deterministic pseudo-random spray over characters that matter to the parsers.
        let alphabet: Vec<char> = "[]{}\":.-0123456789 NOBADERR-érr授🦀\n\tabcxyz/="
            .chars()
            .collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut sprayed = Vec::new();
        for _ in 0..2_000 {
            let mut s = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for _ in 0..(state % 40) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            sprayed.push(s);
        }
        for text in fixed.iter().chain(&sprayed) {
            for provider in [
                None,
                Some("gmail"),
                Some("office365"),
                Some("netease"),
                Some(text.as_str()),
            ] {
                for code in [0, 250, 421, 454, 530, 535, 999, u16::MAX] {
                    classify(&smtp(code, text), provider);
                }
                classify(&imap(text), provider);
                classify(&imap_bad(text), provider);
                classify(&pop3(text), provider);
                classify(&oauth(text), provider);
            }
        }
        // A huge reply is still read from its start.
        assert_eq!(classify(&imap(&huge), None).reason, AuthBadCredentials);
    }
}
