//! The reply table: which replies a row covers (protocol, reply code or response code, words in
//! the text, provider) and what they mean (status, reason). See the module documentation of
//! [`super`] for the order rows are tried in; `gathered.rs` holds the rows written from the
//! replies collected in `tests/fixtures/refusals.tsv`, tried before these.

use mailbeat_sdk::remediation::Provider;
use mailbeat_sdk::{Reason, Status};
/// Which replies a row looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum On {
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
pub(super) enum Code {
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
pub(super) struct Rule {
    pub(super) on: On,
    pub(super) code: Code,
    /// Matches when the reply's text contains any of these (lower case); empty matches any text.
    pub(super) text: &'static [&'static str],
    /// Only for targets with this provider preset; `None` for every target.
    pub(super) provider: Option<Provider>,
    pub(super) status: Status,
    pub(super) reason: Reason,
}

pub(super) const fn r(
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

pub(super) const ANY: &[&str] = &[];
pub(super) const CRIT: Status = Status::Critical;
pub(super) const WARN: Status = Status::Warning;
pub(super) const UNKN: Status = Status::Unknown;

pub(super) const GMAIL: Option<Provider> = Some(Provider::Gmail);
pub(super) const MICROSOFT: Option<Provider> = Some(Provider::Microsoft);
pub(super) const NETEASE: Option<Provider> = Some(Provider::Netease);
pub(super) const ALL: Option<Provider> = None;

pub(super) use Code::{Oauth, Resp, SmtpClass, SmtpEnhanced};
pub(super) use On::{Imap, ImapBad, Mailbox, Pop3, Smtp, Text};
pub(super) use Reason::*;

#[rustfmt::skip]
pub(super) static RULES: &[Rule] = &[
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
