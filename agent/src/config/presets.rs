//! Provider presets: the endpoints and TLS modes of well-known mail services, so a config needs only
//! `provider: gmail` and a protocol.

use mailbeat_sdk::{Protocol, Provider, TlsMode};

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

/// Known provider names (after [`canonical`]), in the order messages list them.
pub const PROVIDERS: &[&str] = &{
    let mut names = [""; Provider::PRESETS.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Provider::PRESETS[i].name;
        i += 1;
    }
    names
};

/// The canonical preset name for what a user may write. The spellings are the SDK's
/// ([`Provider::preset`]), so the config accepts exactly what the classifier and the
/// remediation texts understand.
pub fn canonical(name: &str) -> Option<&'static str> {
    Provider::preset(name).map(|p| p.name)
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

    /// The config keeps the canonical name in `Target::provider`; the classifier and the
    /// remediation texts read that. Whatever a user wrote, they must see the provider the
    /// spelling meant.
    #[test]
    fn every_alias_the_config_accepts_means_the_provider_remediation_uses() {
        for preset in Provider::PRESETS {
            for alias in std::iter::once(&preset.name).chain(preset.aliases) {
                for spelling in [
                    alias.to_string(),
                    alias.to_ascii_uppercase(),
                    alias.replace('_', "-"),
                ] {
                    let stored =
                        canonical(&spelling).unwrap_or_else(|| panic!("{spelling} rejected"));
                    assert_eq!(stored, preset.name, "{spelling}");
                    assert_eq!(
                        Provider::from_preset(Some(stored)),
                        Provider::from_preset(Some(&spelling)),
                        "{spelling}"
                    );
                    assert_eq!(
                        Provider::from_preset(Some(stored)),
                        preset.provider,
                        "{spelling}"
                    );
                }
            }
        }
        // Presets whose names differ, and that the remediation treats as one provider.
        assert_eq!(canonical("hotmail"), Some("outlook"));
        assert_eq!(Provider::from_preset(Some("outlook")), Provider::Microsoft);
        assert_eq!(canonical("m365"), Some("office365"));
    }
}
