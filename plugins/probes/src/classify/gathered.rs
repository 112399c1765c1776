//! Rows written from the refusals gathered from public reports, mail clients' and servers' bug
//! trackers and the servers' own sources: each text, with where it was published, is a line of
//! `tests/fixtures/refusals.tsv`, and every row here is hit by at least one of them.
//!
//! They are tried before [`super::table::RULES`] in each group (the provider's rows, then the
//! generic ones), which is how a row here can correct a wider one there: Gmail's 421 "Temporary
//! System Problem", Dovecot's `[UNAVAILABLE]` per-user+IP connection limit, Postfix's 504
//! "Encryption required".

use super::table::*;

#[rustfmt::skip]
pub(super) static GATHERED: &[Rule] = &[
    // ---- Provider rows ---------------------------------------------------------------------------
    // Gmail's 421 says "try again later" for its throttle and for its own faults; when it names a
    // temporary system problem, the server is at fault, not this client's pace.
    r(Smtp,    Code::Smtp(421), &["temporary system problem"], GMAIL, WARN, ServerUnavailable),

    // ---- Words that name the cause --------------------------------------------------------------
    // Mail.ru: "NEOBHODIM parol prilozheniya … / Application password is REQUIRED" (its IMAP
    // spells it "Aplication"; the transliterated Russian is the same in both).
    r(Text,    Code::Any, &["application password is required", "parol prilozheniya"],
                                                                        ALL, CRIT, AuthAppPasswordRequired),
    // QQ: "Please using authorized code to login", and its "Error: 请使用授权码登录。详情请看: <the
    // help page on 授权码>", whose Chinese arrives as GBK, which a UTF-8 reader cannot see.
    r(Text,    Code::Any, &["authorized code", "error: *id=28&&no=1001256"],
                                                                        ALL, CRIT, AuthAppPasswordRequired),
    // Yandex: "You need to use web for sending or prove you are not a robot".
    r(Text,    Code::Any, &["prove you are not a robot", "use web for sending"],
                                                                        ALL, CRIT, AuthWebLoginRequired),
    // TLS first: Postfix's 504 (smtpd_tls_auth_only; RFC 4954 gives these words to 538),
    // Microsoft's 451 5.7.3, Yandex's 530, Dovecot's.
    r(Smtp,    Code::Smtp(504), &["encryption required"],                ALL, CRIT, StarttlsRequired),
    r(Text,    Code::Any, &["without ssl/tls encryption is not allowed", "starttls is required",
                            "until ssl/tls is enabled", "plaintext authentication is disabled"],
                                                                        ALL, CRIT, StarttlsRequired),
    // No AUTH at all: Exim refuses an AUTH it did not advertise, small servers do not know it.
    // (Exim's "STARTTLS command used when not advertised" answers STARTTLS, not AUTH.)
    r(Smtp,    SmtpClass(5), &["auth command used when not advertised", "not recognized"],
                                                                        ALL, CRIT, AuthMechanismUnsupported),
    // Per-user+IP connection limits and bandwidth quotas: nothing is down, this client must
    // slow down (Dovecot sends its limit under [UNAVAILABLE]).
    r(Text,    Code::Any, &["maximum number of connections from", "mail_max_userip_connections",
                            "exceeded command or bandwidth limits"],    ALL, WARN, RateLimited),
    // The server's own trouble, in plain words (Exchange "Server Unavailable. 15", Cyrus, Dovecot,
    // Courier and Stalwart going down).
    r(Mailbox, Code::Any, &["server unavailable", "unavailable to complete", "account is temporarily unavailable",
                            "temporarily not available", "shutting down", "internal error",
                            "internal login failure", "internal server error", "system error",
                            "i/o error"],                               ALL, WARN, ServerUnavailable),
    // Gmail's daily sending quota: the account may log in, it may not send until the quota
    // resets.
    r(Smtp,    Code::Any, &["sending quota exceeded", "sending limit exceeded"],
                                                                        ALL, WARN, RateLimited),
    // RFC 5530 SERVERBUG: the server says the fault is its own.
    r(Imap,    Resp("SERVERBUG"),  ANY,                                 ALL, WARN, ServerUnavailable),
    // Cyrus "Protocol error during authentication": we and the server disagree.
    r(Mailbox, Code::Any, &["protocol error"],                          ALL, UNKN, ProtocolError),
    // The user name or password is not known (Cyrus, Fastmail, NetEase's "Login error or
    // password error", Proton Bridge's "no such user" and its older "user … not found",
    // Exchange's "Logon failure: unknown user name or bad password").
    r(Mailbox, Code::Any, &["login incorrect", "incorrect username or password", "invalid user",
                            "password error", "no such user", "user * not found", "logon failure"],
                                                                        ALL, CRIT, AuthBadCredentials),
    // We did not authenticate, in Microsoft's and hMailServer's words.
    r(Smtp,    Code::Smtp(530), &["not authenticated", "authentication is required"],
                                                                        ALL, UNKN, ConfigError),
    // A relay refusal answers RCPT/DATA, not a login: it says nothing about the account, even
    // under 454.
    r(Smtp,    Code::Any, &["relay access denied", "relaying disallowed", "relaying denied"],
                                                                        ALL, UNKN, Unknown),
];
