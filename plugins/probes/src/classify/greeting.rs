//! What a refusal in place of the greeting means: SMTP 4xx/5xx at connect, IMAP `* BYE` or
//! `* NO`, POP3 `-ERR`.
//!
//! Nobody has logged in yet, so the only questions are whether the server is turned away from
//! everyone or from this client:
//! - a limit on this client (too many connections *from* its address or user, a rate limit) is
//!   `rate_limited`, **warning**: the server is up, the client must come back slower;
//! - anything else the server says instead of greeting is `server_unavailable`, **critical**: no
//!   one gets a session now (Exim's "Too many concurrent SMTP connections", a server shutting
//!   down, Postfix's or a provider's 554 "no SMTP service", a blocklisted address);
//! - an IMAP `* NO` (no greeting RFC 9051 allows) whose words say nothing known stays
//!   `bad_greeting`, as any other line that is not a greeting.
//!
//! The words are the server's own; `dialogue::greeting` keeps them in the message. A bare "too
//! many connections" at connect means the server is full (the same words after a login, in the
//! reply table, are a per-account limit: `rate_limited`).

use super::table::*;
use super::{Classification, Facts, Reply};

/// A refusal in place of a greeting: what the server sent instead of `220`, `* OK` or `+OK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Greeting<'a> {
    /// An SMTP 4xx or 5xx reply at connect: the code and the text of all lines joined with "\n",
    /// each without the code.
    Smtp { code: u16, text: &'a str },
    /// IMAP `* BYE …`: the text after "* BYE ".
    ImapBye { text: &'a str },
    /// IMAP `* NO …`: the text after "* NO ".
    ImapNo { text: &'a str },
    /// POP3 `-ERR …`: the text after "-ERR ".
    Pop3 { text: &'a str },
}

#[rustfmt::skip]
pub(super) static GREETING: &[Rule] = &[
    // A limit on this client: its address (Postfix "Error: too many connections from 1.2.3.4",
    // VPOP3 "from your IP address", Exim "concurrent SMTP connections from this IP address"), or
    // a user from it (Cyrus, Dovecot).
    r(Text,    Code::Any, &["too many connections from", "connections from your ip",
                            "concurrent smtp connections from", "maximum number of connections from",
                            "mail_max_userip_connections", "rate limit", "throttl"],
                                                                        ALL, WARN, RateLimited),
    // The server is full, loaded or going away: nobody gets in now.
    r(Text,    Code::Any, &["too many connections", "too many concurrent", "too much load", "busy",
                            "shutting down", "not available", "temporarily unavailable"],
                                                                        ALL, CRIT, ServerUnavailable),
    r(Imap,    Resp("UNAVAILABLE"), ANY,                                ALL, CRIT, ServerUnavailable),
];

/// Classifies a refusal in place of a greeting. Never panics, whatever the input.
pub fn classify_greeting(greeting: &Greeting<'_>) -> Classification {
    if let Some(rule) = matching_greeting_rule(greeting) {
        return Classification {
            status: rule.status,
            reason: rule.reason,
        };
    }
    let reason = match greeting {
        Greeting::ImapNo { .. } => BadGreeting,
        Greeting::Smtp { .. } | Greeting::ImapBye { .. } | Greeting::Pop3 { .. } => {
            ServerUnavailable
        }
    };
    Classification {
        status: CRIT,
        reason,
    }
}

/// The first greeting row that covers the refusal.
pub(super) fn matching_greeting_rule(greeting: &Greeting<'_>) -> Option<&'static Rule> {
    let reply = match *greeting {
        Greeting::Smtp { code, text } => Reply::Smtp { code, text },
        Greeting::ImapBye { text } | Greeting::ImapNo { text } => Reply::Imap { bad: false, text },
        Greeting::Pop3 { text } => Reply::Pop3 { text },
    };
    let facts = Facts::read(&reply);
    GREETING.iter().find(|r| r.matches(&facts))
}
