//! The check request in its serialisable form: what a dynamic or exec plugin receives for one
//! run, beside the same [`crate::CheckResult`] shape it answers with.

use crate::{Credentials, Locale, ProbeContext, SecretKind, Target};
use serde::{Deserialize, Serialize, Serializer};
use std::time::Duration;

/// The version of the request shape; a plugin refuses one it does not know.
pub const REQUEST_VERSION: u32 = 1;

/// One check, as a plugin receives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckRequest {
    pub version: u32,
    pub target: Target,
    /// The probe's options for this target, as configured.
    #[serde(default)]
    pub options: serde_json::Value,
    /// The account's credentials, for a plugin that declares it uses them. This is the one
    /// place a secret is serialised: the request goes to the plugin and nowhere else.
    #[serde(
        default,
        serialize_with = "expose_credentials",
        skip_serializing_if = "Option::is_none"
    )]
    pub credentials: Option<Credentials>,
    /// Time left for the whole check, in milliseconds.
    pub timeout_ms: u64,
    pub locale: Locale,
    pub ehlo_name: String,
}

impl CheckRequest {
    /// The request for running `target` with `options` in `ctx`.
    pub fn new(target: &Target, options: &serde_json::Value, ctx: &ProbeContext) -> Self {
        CheckRequest {
            version: REQUEST_VERSION,
            target: target.clone(),
            options: options.clone(),
            credentials: ctx.credentials.clone(),
            timeout_ms: u64::try_from(ctx.remaining().as_millis()).unwrap_or(u64::MAX),
            locale: ctx.locale,
            ehlo_name: ctx.ehlo_name.clone(),
        }
    }

    /// The time left as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

fn expose_credentials<S: Serializer>(creds: &Option<Credentials>, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Exposed<'a> {
        username: &'a str,
        secret: &'a str,
        kind: SecretKind,
    }
    match creds {
        Some(c) => s.serialize_some(&Exposed {
            username: &c.username,
            secret: c.secret.expose(),
            kind: c.kind,
        }),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Protocol, Secret, TlsMode};
    use std::sync::Arc;

    #[test]
    fn a_request_round_trips_and_carries_the_secret_only_in_its_field() {
        let target = Target {
            name: "t".into(),
            protocol: Some(Protocol::Imap),
            host: "mail.test".into(),
            port: Some(993),
            tls: TlsMode::Implicit,
            tls_server_name: None,
            ca_file: None,
            source_address: None,
            provider: None,
            account: None,
            labels: Default::default(),
        };
        let ctx = ProbeContext::new(
            Duration::from_secs(5),
            Arc::new(rustls::RootCertStore::empty()),
        )
        .with_credentials(Credentials {
            username: "alice".into(),
            secret: Secret::new("hunter2"),
            kind: SecretKind::Password,
        });
        let req = CheckRequest::new(&target, &serde_json::json!({"x": 1}), &ctx);
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["credentials"]["secret"], "hunter2");
        assert_eq!(json["credentials"]["kind"], "password");
        assert!(json["timeout_ms"].as_u64().unwrap() <= 5000);
        let back: CheckRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back.credentials.unwrap().secret.expose(), "hunter2");
        assert!(
            !format!("{req:?}").contains("hunter2"),
            "Debug stays redacted"
        );
    }
}
