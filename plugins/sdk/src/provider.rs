//! Provider presets, normalized: which mail provider a target's `provider:` names.
//!
//! This is the one place that knows how people spell a provider. The configuration accepts
//! exactly the spellings of [`Provider::PRESETS`] (and fills host, port and TLS mode from the
//! preset it finds); the classifier and the remediation texts read the same table through
//! [`Provider::from_preset`].

/// A provider preset, normalized: the several spellings people use for one provider map to one
/// value ([`Provider::from_preset`]). The classifier and the remediation texts both key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Gmail and Google Workspace.
    Gmail,
    /// Microsoft 365 / Exchange Online, and Outlook.com consumer accounts.
    Microsoft,
    Yahoo,
    Zoho,
    Icloud,
    /// NetEase (163.com, 126.com, yeah.net) and servers like it that want an authorization code
    /// (授权码) instead of the account password.
    Netease,
    /// No preset, `custom`, or a name we do not know: your own server.
    Custom,
}

/// A preset a configuration may name: its canonical name, the provider behind it, and the other
/// spellings that mean it. Two presets may share a provider: `office365` and `outlook`
/// (Outlook.com consumer accounts) have different SMTP hosts but the same advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// The canonical name, as a resolved target carries it (`Target::provider`).
    pub name: &'static str,
    pub provider: Provider,
    /// Other spellings, normalized (lower case, `_` for `-` and blanks).
    pub aliases: &'static [&'static str],
}

const fn preset(
    name: &'static str,
    provider: Provider,
    aliases: &'static [&'static str],
) -> Preset {
    Preset {
        name,
        provider,
        aliases,
    }
}

impl Provider {
    /// Every provider, `Custom` last.
    pub const ALL: [Provider; 7] = [
        Provider::Gmail,
        Provider::Microsoft,
        Provider::Yahoo,
        Provider::Zoho,
        Provider::Icloud,
        Provider::Netease,
        Provider::Custom,
    ];

    /// Every preset, in the order messages and documentation list them.
    pub const PRESETS: &'static [Preset] = &[
        preset(
            "gmail",
            Provider::Gmail,
            &[
                "google",
                "googlemail",
                "google_workspace",
                "gsuite",
                "workspace",
            ],
        ),
        preset(
            "office365",
            Provider::Microsoft,
            &[
                "office_365",
                "o365",
                "microsoft365",
                "microsoft_365",
                "m365",
                "microsoft",
                "exchange_online",
                "exchangeonline",
            ],
        ),
        preset(
            "outlook",
            Provider::Microsoft,
            &["outlook.com", "hotmail", "live"],
        ),
        preset("yahoo", Provider::Yahoo, &["ymail"]),
        preset("zoho", Provider::Zoho, &["zohomail", "zoho_mail"]),
        preset(
            "icloud",
            Provider::Icloud,
            &["apple", "me.com", "icloud.com"],
        ),
        preset(
            "netease",
            Provider::Netease,
            &["163", "126", "yeah", "163.com", "126.com", "yeah.net"],
        ),
        preset("custom", Provider::Custom, &[]),
    ];

    /// The preset a `provider:` value names, or `None` for a name we do not know. Case,
    /// surrounding blanks, `-` and spaces do not matter (`Microsoft-365` is `microsoft_365`).
    pub fn preset(name: &str) -> Option<&'static Preset> {
        let name = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Provider::PRESETS
            .iter()
            .find(|p| p.name == name || p.aliases.contains(&name.as_str()))
    }

    /// Normalizes a target's `provider:` value: case, surrounding blanks, `-` and spaces do not
    /// matter, and common aliases are accepted (`outlook`, `office365`, `microsoft365`, `m365` are
    /// all [`Provider::Microsoft`]). Anything else, and no preset at all, is [`Provider::Custom`].
    pub fn from_preset(name: Option<&str>) -> Provider {
        name.and_then(Provider::preset)
            .map_or(Provider::Custom, |p| p.provider)
    }

    /// The canonical preset name.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Gmail => "gmail",
            Provider::Microsoft => "office365",
            Provider::Yahoo => "yahoo",
            Provider::Zoho => "zoho",
            Provider::Icloud => "icloud",
            Provider::Netease => "netease",
            Provider::Custom => "custom",
        }
    }

    /// True for the public mail providers (everything but [`Provider::Custom`]).
    pub fn is_public(self) -> bool {
        self != Provider::Custom
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_names_one_preset() {
        let mut seen = std::collections::HashSet::new();
        for p in Provider::PRESETS {
            for name in std::iter::once(&p.name).chain(p.aliases) {
                assert!(seen.insert(*name), "{name} names two presets");
                assert_eq!(Provider::preset(name), Some(p), "{name}");
                assert_eq!(
                    Provider::preset(&format!(" {} ", name.to_ascii_uppercase())),
                    Some(p)
                );
            }
        }
        assert_eq!(Provider::preset("Google-Workspace").unwrap().name, "gmail");
        assert_eq!(Provider::preset("hotmale"), None);
        assert_eq!(Provider::preset(""), None);
    }

    #[test]
    fn every_provider_has_a_preset_of_its_canonical_name() {
        for provider in Provider::ALL {
            let p = Provider::preset(provider.as_str()).unwrap();
            assert_eq!((p.name, p.provider), (provider.as_str(), provider));
        }
    }
}
