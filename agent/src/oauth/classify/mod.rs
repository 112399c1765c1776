//! What a token endpoint's answer means when it is not a token: the reason, whether trying the
//! same refresh token again can help, and what a person must do.
//!
//! Read top to bottom: [`classify`] reads the answer ([`body`]), finds the [`Case`] it is (a 5xx
//! or 429 status first, then the `error_codes`, then `error_subtype`/`suberror`, then `error`,
//! then what else the status and the body's shape say), and
//! turns the case into a [`Classified`]: the reason and its status ([`Case::reason`]), the one
//! line for people and logs ([`message`]), and the case's own remediation when it has a better
//! one than the reason's ([`advice`]).
//!
//! Microsoft documents that clients act on `error` and `error_codes`, never on the description,
//! whose wording changes; the description is read only for the message, and for an `AADSTSnnnn`
//! when a body carries no `error_codes` (older v1 endpoints, libraries that re-wrap the body).
//! Google's `invalid_grant` says the same words ("Token has been expired or revoked.") for a
//! token that died of its policy lifetime and for one that was revoked: what the agent knows of
//! the token's predicted end ([`Hint`]) tells them apart.
//!
//! Every AADSTS row, and nearly every other case, is hit by a real body gathered from public
//! reports (`fixtures.rs`, each with where it was published); the few cases no report showed
//! with its body are built in `tests.rs`.

mod advice;
mod body;
mod message;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use super::ProviderKind;
use body::Body;
use mailbeat_sdk::{Locale, Reason, Status};
use std::time::Duration;

/// What the token endpoint did when it did not hand out a token.
#[derive(Debug, Clone)]
pub enum TokenFailure {
    /// An HTTP answer that is not a token: a status outside 2xx, or a 2xx whose body is not a
    /// token. `body` is already capped (64 KiB) by the client.
    Http {
        status: u16,
        content_type: Option<String>,
        body: String,
    },
    /// No answer within the client's timeout.
    Timeout { after: Duration },
    /// DNS failure, connection refused, TLS failure...: a one-line description.
    Unreachable { detail: String },
}

/// What the agent knows beyond the answer, to tell look-alike answers apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hint {
    /// The refresh token's predicted end (the provider's policy, `refresh_token_expires_in`, or
    /// the configured `refresh_token_lifetime`) has passed.
    pub predicted_expiry_passed: bool,
    /// The configured `refresh_token_lifetime` is 7 days or shorter: the lifetime Google gives the
    /// refresh tokens of an app whose publishing status is "Testing".
    pub short_lifetime: bool,
}

/// A token endpoint's refusal, understood.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub reason: Reason,
    pub status: Status,
    /// One line for people and logs: what the endpoint said (error, subtype, AADSTS code and the
    /// first sentence of the description), without trace/correlation ids, timestamps or body
    /// dumps, and never a token or secret. At most [`MESSAGE_MAX`] characters.
    pub message: String,
    /// The specific remediation in `locale` when this case has a better one than the reason's
    /// text (`mailbeat_sdk::remediation::remediation`); else `None`. Names the target as
    /// [`mailbeat_sdk::remediation::TARGET_PLACEHOLDER`], like the reason's texts.
    pub remediation: Option<String>,
    /// True when trying the same refresh token again cannot help: a person must act
    /// (re-authorize, fix the client secret, consent, change the configuration...).
    pub terminal: bool,
    /// The body's `error`, as sent (cleaned and capped).
    pub error: Option<String>,
    /// Google's `error_subtype` or Microsoft's `suberror`.
    pub error_subtype: Option<String>,
    /// Microsoft's `error_codes` (or, without them, the code of `error_uri` or the `AADSTSnnnn`s
    /// of the description).
    pub error_codes: Vec<u64>,
}

/// The longest [`Classified::message`], in characters.
pub const MESSAGE_MAX: usize = 300;

/// Classifies what the token endpoint of `provider` answered to a refresh. Never panics, whatever
/// the bytes.
pub fn classify(
    provider: ProviderKind,
    failure: &TokenFailure,
    hint: Hint,
    locale: Locale,
) -> Classified {
    let (case, parsed) = understand(provider, failure, hint);
    let (reason, terminal) = case.reason();
    let (error, error_subtype, error_codes) = match &parsed {
        Some(Body::OAuth(e)) => (e.error.clone(), e.subtype.clone(), e.codes.clone()),
        _ => (None, None, Vec::new()),
    };
    Classified {
        reason,
        status: status_of(reason),
        message: message::of(failure, parsed.as_ref()),
        remediation: advice::of(case, locale).map(str::to_string),
        terminal,
        error,
        error_subtype,
        error_codes,
    }
}

/// The case of a failure, and its body read.
fn understand(provider: ProviderKind, failure: &TokenFailure, hint: Hint) -> (Case, Option<Body>) {
    match failure {
        TokenFailure::Timeout { .. } => (Case::Timeout, None),
        TokenFailure::Unreachable { .. } => (Case::Unreachable, None),
        TokenFailure::Http {
            status,
            content_type,
            body,
        } => {
            let parsed = Body::parse(body, content_type.as_deref());
            (case_of(provider, *status, &parsed, hint), Some(parsed))
        }
    }
}

/// How serious a reason is, the way the probes judge it: a dead grant (or a policy that refuses
/// it) is critical; the endpoint's own trouble and its throttling are warnings, as a mail server's
/// temporary failure is (they clear by themselves, and the access token in hand may well outlive
/// them); what mailbeat cannot judge, or a configuration it cannot use, is unknown, as the
/// probes' `config_error` is.
fn status_of(reason: Reason) -> Status {
    match reason {
        Reason::OauthEndpointError | Reason::RateLimited => Status::Warning,
        Reason::ConfigError | Reason::Unknown => Status::Unknown,
        _ => Status::Critical,
    }
}

/// One kind of refusal: what decides its reason, its terminal flag and its remediation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Case {
    // ---- the refresh token died of a lifetime ----
    /// Google `invalid_grant` while the configured lifetime is a Testing-mode one.
    GoogleTesting,
    /// Google `invalid_grant` after the predicted end (6 months unused, or the configured
    /// lifetime).
    GooglePredicted,
    /// Google `invalid_grant` / `invalid_rapt`: a Workspace session-control policy wants the
    /// user to sign in again.
    GoogleSessionControl,
    /// AADSTS700082: unused for 90 days.
    MsInactive,
    /// AADSTS70008: the grant expired (inactivity or age).
    MsExpired,
    /// AADSTS700084: a refresh token of a single-page-app registration (24 h, fixed).
    MsSpaLifetime,
    /// AADSTS70043: a Conditional Access sign-in frequency.
    MsSignInFrequency,
    /// Any other `invalid_grant` after the predicted end.
    Expired,

    // ---- the refresh token was revoked or is no longer accepted ----
    /// Google `invalid_grant` before the predicted end: revoked (password change, removed
    /// access, the 100-token limit).
    GoogleRevoked,
    /// AADSTS50173: revoked by a password change or reset, or sessions revoked.
    MsRevoked,
    /// AADSTS70000, or a Microsoft `invalid_grant` without a code we know.
    MsGrantInvalid,
    /// `interaction_required` / `login_required` without a code we know.
    InteractionRequired,
    /// Any other `invalid_grant`.
    Revoked,

    // ---- consent ----
    /// Google `admin_policy_enforced` / `policy_enforced`.
    GoogleAdminPolicy,
    /// AADSTS65001, or `suberror: consent_required`.
    MsConsent,
    /// `consent_required` / `access_denied` elsewhere.
    Consent,

    // ---- the client ----
    /// AADSTS7000222.
    MsSecretExpired,
    /// AADSTS7000215.
    MsSecretInvalid,
    /// AADSTS700016.
    MsAppNotFound,
    /// Google `invalid_client` ("The OAuth client was not found.").
    GoogleClientNotFound,
    /// Google `deleted_client`.
    GoogleClientDeleted,
    /// Google `unauthorized_client`: the refresh token belongs to another client.
    GoogleWrongClient,
    /// `invalid_client` / `unauthorized_client` elsewhere.
    InvalidClient,

    // ---- sign-in policies ----
    /// AADSTS50076, AADSTS50078: MFA (again) required.
    MsMfa,
    /// AADSTS50079: the user must register for MFA.
    MsMfaEnroll,
    /// AADSTS53003: a Conditional Access policy blocks token issuance.
    MsConditionalAccess,
    /// AADSTS53000: Conditional Access wants a compliant (managed) device.
    MsDeviceState,
    /// AADSTS50126: wrong user name or password (a password grant).
    MsBadPassword,

    // ---- the request, that is the configuration ----
    /// AADSTS7000218: the app registration wants a client secret and none is configured.
    MsSecretMissing,
    /// AADSTS90130 / AADSTS9001023: this app or grant is not allowed on `/common` or
    /// `/consumers`.
    MsTenant,
    /// `invalid_scope`, AADSTS70011.
    BadScope,
    /// `unsupported_grant_type`.
    BadGrantType,
    /// `invalid_request`, AADSTS900144.
    BadRequest,

    // ---- the endpoint ----
    /// 429, AADSTS50196.
    RateLimited,
    /// 5xx, `temporarily_unavailable`, `server_error`, Google's `internal_failure`.
    ServerError,
    /// An HTML page or other text where JSON was due.
    NotJson,
    /// JSON that is neither a token nor an OAuth error.
    NotOAuth,
    /// A 2xx without an access token.
    NoToken,
    Timeout,
    Unreachable,
    /// An OAuth error mailbeat does not know.
    Unknown,
}

impl Case {
    /// Every case, for the tests that check each has its body and its texts.
    #[cfg(test)]
    pub(crate) const ALL: &'static [Case] = &[
        Case::GoogleTesting,
        Case::GooglePredicted,
        Case::GoogleSessionControl,
        Case::MsInactive,
        Case::MsExpired,
        Case::MsSpaLifetime,
        Case::MsSignInFrequency,
        Case::Expired,
        Case::GoogleRevoked,
        Case::MsRevoked,
        Case::MsGrantInvalid,
        Case::InteractionRequired,
        Case::Revoked,
        Case::GoogleAdminPolicy,
        Case::MsConsent,
        Case::Consent,
        Case::MsSecretExpired,
        Case::MsSecretInvalid,
        Case::MsAppNotFound,
        Case::GoogleClientNotFound,
        Case::GoogleClientDeleted,
        Case::GoogleWrongClient,
        Case::InvalidClient,
        Case::MsMfa,
        Case::MsMfaEnroll,
        Case::MsConditionalAccess,
        Case::MsDeviceState,
        Case::MsBadPassword,
        Case::MsSecretMissing,
        Case::MsTenant,
        Case::BadScope,
        Case::BadGrantType,
        Case::BadRequest,
        Case::RateLimited,
        Case::ServerError,
        Case::NotJson,
        Case::NotOAuth,
        Case::NoToken,
        Case::Timeout,
        Case::Unreachable,
        Case::Unknown,
    ];

    /// The reason, and whether the refusal is terminal.
    fn reason(self) -> (Reason, bool) {
        use Case::*;
        use Reason::*;
        match self {
            GoogleTesting | GooglePredicted | GoogleSessionControl | MsInactive | MsExpired
            | MsSpaLifetime | MsSignInFrequency | Expired => (OauthRefreshTokenExpired, true),
            GoogleRevoked | MsRevoked | MsGrantInvalid | InteractionRequired | Revoked => {
                (OauthRefreshTokenRevoked, true)
            }
            GoogleAdminPolicy | MsConsent | Consent => (OauthConsentRequired, true),
            MsSecretExpired => (OauthClientSecretExpired, true),
            MsSecretInvalid | MsAppNotFound | GoogleClientNotFound | GoogleClientDeleted
            | GoogleWrongClient | InvalidClient => (OauthInvalidClient, true),
            MsMfa | MsMfaEnroll => (AuthMfaRequired, true),
            MsConditionalAccess | MsDeviceState => (AuthConditionalAccessBlocked, true),
            MsBadPassword => (AuthBadCredentials, true),
            MsSecretMissing | MsTenant | BadScope | BadGrantType | BadRequest => {
                (ConfigError, true)
            }
            Case::RateLimited => (Reason::RateLimited, false),
            ServerError | NotJson | NotOAuth | NoToken | Timeout | Unreachable => {
                (OauthEndpointError, false)
            }
            Case::Unknown => (Reason::Unknown, false),
        }
    }
}

/// The case of an HTTP answer.
///
/// The status comes first where it overrides what a body says: a 5xx is the server's own fault
/// even when its body names an OAuth error (Keycloak answers 500 `invalid_grant` when it lost a
/// session it still has on disk, and a retry succeeds), and a 429 is throttling whatever the
/// body. Otherwise an OAuth error body decides, even under 2xx (some servers answer errors with
/// 200), and only then the status.
fn case_of(provider: ProviderKind, status: u16, body: &Body, hint: Hint) -> Case {
    if (500..=599).contains(&status) {
        return Case::ServerError;
    }
    if status == 429 {
        return Case::RateLimited;
    }
    match body {
        Body::OAuth(e) => e
            .codes
            .iter()
            .find_map(|&code| case_of_code(code))
            .or_else(|| {
                e.subtype
                    .as_deref()
                    .and_then(|s| case_of_subtype(provider, s))
            })
            .or_else(|| {
                e.error
                    .as_deref()
                    .and_then(|error| case_of_error(provider, error, hint))
            })
            .unwrap_or(Case::Unknown),
        Body::OtherJson { .. } if (200..=299).contains(&status) => Case::NoToken,
        Body::OtherJson { .. } => Case::NotOAuth,
        Body::Empty if (200..=299).contains(&status) => Case::NoToken,
        Body::Empty | Body::Html { .. } | Body::Text { .. } => Case::NotJson,
    }
}

/// Microsoft's AADSTS codes, the first one the table knows deciding (a body may carry a wrapper
/// code before the specific one: `[70002, 70000]`).
fn case_of_code(code: u64) -> Option<Case> {
    CODES
        .iter()
        .find(|&&(c, _)| c == code)
        .map(|&(_, case)| case)
}

/// The AADSTS codes mailbeat knows, each hit by a gathered body.
///
/// 9002313 ("Invalid request. Request is malformed or invalid.") is left to `error`: as
/// `invalid_grant` it is a refresh token Microsoft cannot read (truncated, pasted wrongly,
/// another client's), as `invalid_request` a request mailbeat built wrongly.
#[rustfmt::skip]
pub(crate) const CODES: &[(u64, Case)] = &[
    (700082,  Case::MsInactive),
    (70008,   Case::MsExpired),
    (700084,  Case::MsSpaLifetime),
    (70043,   Case::MsSignInFrequency),
    (50173,   Case::MsRevoked),
    // "The provided access grant is invalid or malformed", "The provided value for the input
    // parameter 'refresh_token' or 'assertion' is not valid".
    (70000,   Case::MsGrantInvalid),
    (65001,   Case::MsConsent),
    (7000222, Case::MsSecretExpired),
    (7000215, Case::MsSecretInvalid),
    (700016,  Case::MsAppNotFound),
    (50076,   Case::MsMfa),
    (50078,   Case::MsMfa),
    (50079,   Case::MsMfaEnroll),
    (53003,   Case::MsConditionalAccess),
    (53000,   Case::MsDeviceState),
    (50126,   Case::MsBadPassword),
    (7000218, Case::MsSecretMissing),
    (90130,   Case::MsTenant),
    (9001023, Case::MsTenant),
    (70011,   Case::BadScope),
    (900144,  Case::BadRequest),
    (50196,   Case::RateLimited),
];

/// `error_subtype` (Google) or `suberror` (Microsoft), where it says more than `error`.
fn case_of_subtype(provider: ProviderKind, subtype: &str) -> Option<Case> {
    match subtype {
        // Google sends `invalid_grant` with subtype `invalid_rapt` when a Workspace session
        // control (Admin console → Security → Google Cloud session control, reauthentication
        // frequency) wants the user to prove their identity again: the grant reached the
        // lifetime a policy gives it, as Microsoft's sign-in frequency (70043) does, and the fix
        // is the same: re-authorize now, and have the admin exempt the app (trusted apps are
        // exempt) so it does not recur. That is `oauth_refresh_token_expired`, not a policy
        // block: signing in again does satisfy the policy.
        "invalid_rapt" => Some(Case::GoogleSessionControl),
        "consent_required" if provider == ProviderKind::Microsoft => Some(Case::MsConsent),
        "consent_required" => Some(Case::Consent),
        // Microsoft's other suberrors (`bad_token`, `token_expired`, `basic_action`,
        // `message_only`) come with an AADSTS code that says more; without one, `error` decides.
        _ => None,
    }
}

/// The RFC 6749 §5.2 `error` (and the providers' own values).
fn case_of_error(provider: ProviderKind, error: &str, hint: Hint) -> Option<Case> {
    use Case::*;
    use ProviderKind::*;
    Some(match (error, provider) {
        ("invalid_grant", Google) if hint.short_lifetime => GoogleTesting,
        ("invalid_grant", Google) if hint.predicted_expiry_passed => GooglePredicted,
        // Before the predicted end, "Token has been expired or revoked." means revoked: the
        // password changed (Gmail scopes), access was removed, or the account went past 100
        // refresh tokens for this client and Google dropped the oldest.
        ("invalid_grant", Google) => GoogleRevoked,
        ("invalid_grant", Microsoft) if hint.predicted_expiry_passed => MsExpired,
        ("invalid_grant", Microsoft) => MsGrantInvalid,
        ("invalid_grant", Generic) if hint.predicted_expiry_passed => Expired,
        ("invalid_grant", Generic) => Revoked,
        ("invalid_client", Google) => GoogleClientNotFound,
        ("deleted_client", _) => GoogleClientDeleted,
        ("unauthorized_client", Google) => GoogleWrongClient,
        ("invalid_client" | "unauthorized_client", _) => InvalidClient,
        // A Workspace admin (API controls) or Advanced Protection does not allow this app for
        // this account. The person who acts is the admin, who must trust the app, and then the
        // user, who authorizes again: that is what `oauth_consent_required` says ("where users
        // may not consent themselves, an administrator must grant consent first"), and it fires
        // the reauth webhook. `auth_conditional_access_blocked` would send the admin looking
        // for a sign-in policy; no sign-in happened.
        ("admin_policy_enforced" | "policy_enforced", _) => GoogleAdminPolicy,
        ("consent_required", Microsoft) => MsConsent,
        ("consent_required" | "access_denied", _) => Consent,
        ("interaction_required" | "login_required", _) => InteractionRequired,
        // The request mailbeat sent is what the server refuses: the scopes, the grant or a
        // parameter. Retrying cannot help and re-authorizing would repeat the same request, so
        // these are `config_error` (terminal): the scopes, `token_url` or `tenant` of the
        // account must change, or mailbeat has a bug to report, which the message shows.
        ("invalid_scope", _) => BadScope,
        ("unsupported_grant_type", _) => BadGrantType,
        ("invalid_request", _) => BadRequest,
        ("temporarily_unavailable" | "server_error" | "internal_failure", _) => ServerError,
        _ => return None,
    })
}
