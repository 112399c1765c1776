//! Failure reasons: stable snake_case names used in metric labels, JSON and webhooks.
//!
//! The names are a public contract (docs/architecture.md §5): add new ones, never rename. Policy that depends on
//! a reason (does a person have to re-authorize? is it worth retrying soon?) is decided here, once.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The layer a reason belongs to, from the wire up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Network,
    Protocol,
    Tls,
    Auth,
    Oauth,
    Server,
    Delivery,
    Agent,
}

macro_rules! reasons {
    ($( $layer:ident { $( $variant:ident => $name:literal ),+ $(,)? } )+) => {
        /// Why a check is not ok.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Reason {
            $( $( $variant, )+ )+
        }

        impl Reason {
            /// Every reason, in table order.
            pub const ALL: &'static [Reason] = &[ $( $( Reason::$variant, )+ )+ ];

            /// The stable snake_case name.
            pub fn as_str(self) -> &'static str {
                match self { $( $( Reason::$variant => $name, )+ )+ }
            }

            /// The layer this reason belongs to.
            pub fn layer(self) -> Layer {
                match self { $( $( Reason::$variant => Layer::$layer, )+ )+ }
            }
        }
    };
}

reasons! {
    Network {
        DnsFailure => "dns_failure",
        ConnectionRefused => "connection_refused",
        ConnectionTimeout => "connection_timeout",
        NetworkUnreachable => "network_unreachable",
    }
    Protocol {
        BadGreeting => "bad_greeting",
        ProtocolError => "protocol_error",
        ServerTimeout => "server_timeout",
        StarttlsNotOffered => "starttls_not_offered",
        StarttlsRequired => "starttls_required",
    }
    Tls {
        TlsHandshakeFailed => "tls_handshake_failed",
        TlsCertExpired => "tls_cert_expired",
        TlsCertNotYetValid => "tls_cert_not_yet_valid",
        TlsCertExpiring => "tls_cert_expiring",
        TlsHostnameMismatch => "tls_hostname_mismatch",
        TlsChainIncomplete => "tls_chain_incomplete",
        TlsUntrustedRoot => "tls_untrusted_root",
        TlsSelfSigned => "tls_self_signed",
        TlsWeak => "tls_weak",
    }
    Auth {
        AuthBadCredentials => "auth_bad_credentials",
        AuthAppPasswordRequired => "auth_app_password_required",
        AuthWebLoginRequired => "auth_web_login_required",
        AuthProtocolDisabled => "auth_protocol_disabled",
        AuthBasicAuthDisabled => "auth_basic_auth_disabled",
        AuthMechanismUnsupported => "auth_mechanism_unsupported",
        AuthTooManyAttempts => "auth_too_many_attempts",
        AuthAccountLocked => "auth_account_locked",
        AuthMfaRequired => "auth_mfa_required",
        AuthConditionalAccessBlocked => "auth_conditional_access_blocked",
    }
    Oauth {
        OauthRefreshTokenExpired => "oauth_refresh_token_expired",
        OauthRefreshTokenRevoked => "oauth_refresh_token_revoked",
        OauthConsentRequired => "oauth_consent_required",
        OauthClientSecretExpired => "oauth_client_secret_expired",
        OauthInvalidClient => "oauth_invalid_client",
        OauthTokenExpiring => "oauth_token_expiring",
        OauthEndpointError => "oauth_endpoint_error",
    }
    Server {
        ServerUnavailable => "server_unavailable",
        RateLimited => "rate_limited",
    }
    Delivery {
        DeliveryRejected => "delivery_rejected",
        DeliveryTimeout => "delivery_timeout",
        DeliveryJunk => "delivery_junk",
    }
    Agent {
        PluginError => "plugin_error",
        ConfigError => "config_error",
        InternalError => "internal_error",
        Unknown => "unknown",
    }
}

impl Reason {
    /// True when only a person can fix it by re-authorizing the account (new consent, new refresh
    /// token, new password or app password). These fire the `reauth_required` webhook.
    pub fn needs_reauth(self) -> bool {
        matches!(
            self,
            Reason::OauthRefreshTokenExpired
                | Reason::OauthRefreshTokenRevoked
                | Reason::OauthConsentRequired
                | Reason::OauthClientSecretExpired
                | Reason::AuthBadCredentials
                | Reason::AuthWebLoginRequired
                | Reason::AuthAppPasswordRequired
                | Reason::AuthMfaRequired
                | Reason::AuthConditionalAccessBlocked
        )
    }

    /// True for reasons that are a rejection of the credential itself: retrying the same secret
    /// soon only counts toward a lockout, so the auth probe backs off after these.
    pub fn is_credential_rejection(self) -> bool {
        self.layer() == Layer::Auth && self != Reason::AuthMechanismUnsupported
            || matches!(
                self,
                Reason::OauthRefreshTokenExpired
                    | Reason::OauthRefreshTokenRevoked
                    | Reason::OauthInvalidClient
                    | Reason::OauthClientSecretExpired
            )
    }

    /// True for reasons that often clear by themselves (timeouts, rate limits, a server down for a
    /// moment).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Reason::ConnectionTimeout
                | Reason::ServerTimeout
                | Reason::ServerUnavailable
                | Reason::RateLimited
                | Reason::OauthEndpointError
                | Reason::NetworkUnreachable
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a reason name that is not in the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown reason {0:?}")]
pub struct UnknownReason(pub String);

impl FromStr for Reason {
    type Err = UnknownReason;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownReason(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for r in Reason::ALL {
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(r.as_str().parse::<Reason>().unwrap(), *r);
        }
        assert_eq!(Reason::ALL.len(), 44);
    }

    #[test]
    fn policy_helpers() {
        assert!(Reason::OauthRefreshTokenExpired.needs_reauth());
        assert!(!Reason::TlsChainIncomplete.needs_reauth());
        assert!(Reason::AuthBadCredentials.is_credential_rejection());
        assert!(!Reason::AuthMechanismUnsupported.is_credential_rejection());
        assert!(Reason::RateLimited.is_transient());
    }
}
