//! The OAuth2 providers mailbeat knows: their endpoints, their mail scopes, and the name a user
//! writes in `account.oauth.provider`.

use mailbeat_sdk::Protocol;

/// Whose authorization server issues the account's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// Google accounts and Workspace (Gmail).
    Google,
    /// Microsoft Entra ID (Microsoft 365, Outlook.com), v2.0 endpoints.
    Microsoft,
    /// Any RFC 6749 server, known only by its URLs.
    Generic,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [
        ProviderKind::Google,
        ProviderKind::Microsoft,
        ProviderKind::Generic,
    ];

    /// The name in the config and in the `provider` label.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Google => "google",
            ProviderKind::Microsoft => "microsoft",
            ProviderKind::Generic => "generic",
        }
    }

    /// Reads a config value (`google`, `microsoft`, `generic`).
    pub fn parse(name: &str) -> Option<ProviderKind> {
        ProviderKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The OAuth provider of a mail preset (`gmail` → Google, `office365`/`outlook` → Microsoft).
    pub fn of_preset(preset: &str) -> Option<ProviderKind> {
        match preset {
            "gmail" | "google" | "google_workspace" => Some(ProviderKind::Google),
            "office365" | "outlook" | "microsoft" | "microsoft365" | "exchange_online" => {
                Some(ProviderKind::Microsoft)
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a provider's authorization server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub token_url: String,
    /// For the authorization-code flow (`mailbeat reauth`).
    pub authorization_url: Option<String>,
    /// For the device flow (`mailbeat reauth --device`).
    pub device_authorization_url: Option<String>,
}

impl Endpoints {
    /// The provider's published endpoints (`tenant` is Microsoft's; `common` when absent).
    /// `None` for [`ProviderKind::Generic`], which has none.
    pub fn of(kind: ProviderKind, tenant: Option<&str>) -> Option<Endpoints> {
        match kind {
            ProviderKind::Google => Some(Endpoints {
                token_url: "https://oauth2.googleapis.com/token".into(),
                authorization_url: Some("https://accounts.google.com/o/oauth2/v2/auth".into()),
                device_authorization_url: Some("https://oauth2.googleapis.com/device/code".into()),
            }),
            ProviderKind::Microsoft => {
                let base = format!(
                    "https://login.microsoftonline.com/{}/oauth2/v2.0",
                    tenant.unwrap_or("common")
                );
                Some(Endpoints {
                    token_url: format!("{base}/token"),
                    authorization_url: Some(format!("{base}/authorize")),
                    device_authorization_url: Some(format!("{base}/devicecode")),
                })
            }
            ProviderKind::Generic => None,
        }
    }
}

/// The scopes that let a token log in to `protocol` (and, where the provider needs it asked,
/// keep a refresh token).
pub fn default_scopes(kind: ProviderKind, protocol: Option<Protocol>) -> Vec<String> {
    match kind {
        ProviderKind::Google => vec!["https://mail.google.com/".into()],
        ProviderKind::Microsoft => {
            let mail = match protocol {
                Some(Protocol::Smtp) => "https://outlook.office.com/SMTP.Send",
                Some(Protocol::Pop3) => "https://outlook.office.com/POP.AccessAsUser.All",
                _ => "https://outlook.office.com/IMAP.AccessAsUser.All",
            };
            vec![mail.into(), "offline_access".into()]
        }
        ProviderKind::Generic => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_presets_map() {
        for k in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ProviderKind::of_preset("gmail"), Some(ProviderKind::Google));
        assert_eq!(
            ProviderKind::of_preset("office365"),
            Some(ProviderKind::Microsoft)
        );
        assert_eq!(ProviderKind::of_preset("icloud"), None);
    }

    #[test]
    fn microsoft_endpoints_name_the_tenant() {
        let e = Endpoints::of(ProviderKind::Microsoft, Some("organizations")).unwrap();
        assert_eq!(
            e.token_url,
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
        );
        assert!(
            default_scopes(ProviderKind::Microsoft, Some(Protocol::Smtp))
                .contains(&"offline_access".to_string())
        );
    }
}
