//! Provider presets: the endpoints and TLS modes of well-known mail services, so a config needs only
//! `provider: gmail` and a protocol.

use mailbeat_sdk::{Protocol, TlsMode};

/// An endpoint of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub host: &'static str,
    pub port: u16,
    pub tls: TlsMode,
}

const fn ep(host: &'static str, port: u16, tls: TlsMode) -> Option<Endpoint> {
    Some(Endpoint { host, port, tls })
}

/// Known provider names (after [`canonical`]).
pub const PROVIDERS: &[&str] = &[
    "gmail",
    "office365",
    "outlook",
    "yahoo",
    "zoho",
    "icloud",
    "netease",
    "custom",
];

/// The canonical preset name for what a user may write.
pub fn canonical(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    Some(match lower.as_str() {
        "gmail" | "google" | "google_workspace" | "gsuite" => "gmail",
        "office365" | "microsoft365" | "m365" | "exchange_online" => "office365",
        "outlook" | "outlook.com" | "hotmail" => "outlook",
        "yahoo" => "yahoo",
        "zoho" => "zoho",
        "icloud" | "apple" => "icloud",
        "netease" | "163" | "126" => "netease",
        "custom" => "custom",
        _ => return None,
    })
}

/// The provider's endpoint for a protocol, or `None` when it has none (or for `custom`).
pub fn endpoint(provider: &str, protocol: Protocol) -> Option<Endpoint> {
    use Protocol::*;
    use TlsMode::*;
    match (provider, protocol) {
        ("gmail", Imap) => ep("imap.gmail.com", 993, Implicit),
        ("gmail", Smtp) => ep("smtp.gmail.com", 465, Implicit),
        ("gmail", Pop3) => ep("pop.gmail.com", 995, Implicit),
        ("office365", Imap) => ep("outlook.office365.com", 993, Implicit),
        ("office365", Smtp) => ep("smtp.office365.com", 587, Starttls),
        ("office365", Pop3) => ep("outlook.office365.com", 995, Implicit),
        ("outlook", Imap) => ep("outlook.office365.com", 993, Implicit),
        ("outlook", Smtp) => ep("smtp-mail.outlook.com", 587, Starttls),
        ("outlook", Pop3) => ep("outlook.office365.com", 995, Implicit),
        ("yahoo", Imap) => ep("imap.mail.yahoo.com", 993, Implicit),
        ("yahoo", Smtp) => ep("smtp.mail.yahoo.com", 465, Implicit),
        ("yahoo", Pop3) => ep("pop.mail.yahoo.com", 995, Implicit),
        ("zoho", Imap) => ep("imap.zoho.com", 993, Implicit),
        ("zoho", Smtp) => ep("smtp.zoho.com", 465, Implicit),
        ("zoho", Pop3) => ep("pop.zoho.com", 995, Implicit),
        ("icloud", Imap) => ep("imap.mail.me.com", 993, Implicit),
        ("icloud", Smtp) => ep("smtp.mail.me.com", 587, Starttls),
        ("netease", Imap) => ep("imap.163.com", 993, Implicit),
        ("netease", Smtp) => ep("smtp.163.com", 465, Implicit),
        ("netease", Pop3) => ep("pop.163.com", 995, Implicit),
        _ => Option::None,
    }
}

/// The usual port of a protocol in a TLS mode.
pub fn default_port(protocol: Protocol, tls: TlsMode) -> u16 {
    match (protocol, tls) {
        (Protocol::Imap, TlsMode::Implicit) => 993,
        (Protocol::Imap, _) => 143,
        (Protocol::Pop3, TlsMode::Implicit) => 995,
        (Protocol::Pop3, _) => 110,
        (Protocol::Smtp, TlsMode::Implicit) => 465,
        (Protocol::Smtp, TlsMode::Starttls) => 587,
        (Protocol::Smtp, TlsMode::None) => 25,
    }
}

/// The TLS mode a well-known port implies, when `tls:` is not given.
pub fn tls_for_port(port: u16) -> Option<TlsMode> {
    match port {
        993 | 995 | 465 => Some(TlsMode::Implicit),
        143 | 110 | 587 | 25 => Some(TlsMode::Starttls),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_fill_known_endpoints() {
        let gmail = endpoint("gmail", Protocol::Smtp).unwrap();
        assert_eq!(
            (gmail.host, gmail.port, gmail.tls),
            ("smtp.gmail.com", 465, TlsMode::Implicit)
        );
        let o365 = endpoint(canonical("Microsoft365").unwrap(), Protocol::Smtp).unwrap();
        assert_eq!(
            (o365.host, o365.port, o365.tls),
            ("smtp.office365.com", 587, TlsMode::Starttls)
        );
        assert_eq!(endpoint("icloud", Protocol::Pop3), None);
        assert_eq!(endpoint("custom", Protocol::Imap), None);
        assert_eq!(canonical("nope"), None);
        for p in PROVIDERS {
            assert_eq!(canonical(p), Some(*p));
        }
    }
}
