//! Provider presets, normalized: which mail provider a target's `provider:` names.

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

    /// Normalizes a target's `provider:` value: case, surrounding blanks, `-` and spaces do not
    /// matter, and common aliases are accepted (`outlook`, `office365`, `microsoft365`, `m365` are
    /// all [`Provider::Microsoft`]). Anything else, and no preset at all, is [`Provider::Custom`].
    pub fn from_preset(name: Option<&str>) -> Provider {
        let Some(name) = name else {
            return Provider::Custom;
        };
        let name = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        match name.as_str() {
            "gmail" | "google" | "googlemail" | "google_workspace" | "gsuite" | "workspace" => {
                Provider::Gmail
            }
            "office365" | "office_365" | "o365" | "microsoft365" | "microsoft_365" | "m365"
            | "microsoft" | "exchange_online" | "exchangeonline" | "outlook" | "outlook.com"
            | "hotmail" | "live" => Provider::Microsoft,
            "yahoo" | "ymail" => Provider::Yahoo,
            "zoho" | "zohomail" | "zoho_mail" => Provider::Zoho,
            "icloud" | "apple" | "me.com" | "icloud.com" => Provider::Icloud,
            "netease" | "163" | "126" | "yeah" | "163.com" | "126.com" | "yeah.net" => {
                Provider::Netease
            }
            _ => Provider::Custom,
        }
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
