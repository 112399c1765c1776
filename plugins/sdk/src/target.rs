//! What a probe checks: one endpoint of one account.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The mail protocol spoken on a target's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Imap,
    Pop3,
    Smtp,
}

impl Protocol {
    /// The configured spelling (`imap`, `pop3`, `smtp`), also used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Smtp => "smtp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How TLS is negotiated on the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (993, 995, 465).
    Implicit,
    /// Plain greeting, then STARTTLS / STLS (143, 110, 587).
    Starttls,
    /// No TLS at all.
    None,
}

impl TlsMode {
    /// The configured spelling, also used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Implicit => "implicit",
            TlsMode::Starttls => "starttls",
            TlsMode::None => "none",
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The public side of an account: who logs in and how. Secrets are never part of it; they reach a
/// probe as [`crate::Credentials`] in its context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The login name (often the mail address; `DOMAIN\user` style names are kept verbatim).
    pub username: String,
    /// A SASL mechanism the configuration insists on (`plain`, `login`, `xoauth2`, `oauthbearer`),
    /// or `None` to choose from what the server offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    /// True when the account authenticates with an OAuth2 access token rather than a password.
    #[serde(default)]
    pub oauth: bool,
    /// True when the agent keeps the account's OAuth tokens (refreshes them, stores rotations);
    /// false for a password, or an access token another tool keeps fresh.
    #[serde(default)]
    pub token_store: bool,
}

/// One endpoint of one account, fully resolved (presets applied, defaults filled).
///
/// A mail target has a protocol and a port; a target checked only by plugins (an EWS URL, a
/// Nagios check) may have neither. The built-in probes refuse such a target at load
/// ([`Target::mail`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The configured, unique name; the `target` label of every metric.
    pub name: String,
    /// The mail protocol, when the target is a mail endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// Where to connect: a DNS name or an IP address.
    pub host: String,
    /// The port, when the target has one (always, for a mail protocol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub tls: TlsMode,
    /// The name the certificate must be valid for, when it differs from `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    /// Extra trust anchors (PEM) for this target, e.g. an internal CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The local address to connect from (a multi-homed host, or a server that treats some
    /// sources differently), like blackbox_exporter's `source_ip_address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<std::net::IpAddr>,
    /// Provider preset (`gmail`, `office365`, `yahoo`, …) that refines classification and advice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Account>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The mail domain a migration target moves (`migration_domain:`): its admin or migration
    /// accounts must be in it (see [`crate::login`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_domain: Option<String>,
}

/// A host name or address without the brackets of an IPv6 literal (`[::1]` → `::1`), as resolvers,
/// TLS server names and certificate SANs want it.
pub fn bare_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The mail side of a [`Target`]: its protocol and port, both present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailEndpoint {
    pub protocol: Protocol,
    pub port: u16,
}

impl Target {
    /// The protocol and port of a mail target, or `None` for a target without a mail protocol.
    pub fn mail(&self) -> Option<MailEndpoint> {
        Some(MailEndpoint {
            protocol: self.protocol?,
            port: self.port?,
        })
    }

    /// The name certificates are verified against: `tls_server_name`, else `host`.
    pub fn verify_name(&self) -> &str {
        self.tls_server_name.as_deref().unwrap_or(&self.host)
    }

    /// `host:port` (just `host` without a port), with brackets around an IPv6 literal.
    pub fn address(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }
    }
}
