//! The check request in its serialisable form: what a dynamic or exec plugin receives for one
//! run, beside the same [`crate::CheckResult`] shape it answers with.

use crate::{Credentials, Locale, ProbeContext, SecretKind, Target};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The version of the request shape; a plugin refuses one it does not know.
pub const REQUEST_VERSION: u32 = 1;

/// One check, as a plugin receives it. Not `Serialize`: it carries the secret, so the one way
/// to write it is [`CheckRequest::to_wire`], on purpose, for the plugin and nowhere else.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckRequest {
    pub version: u32,
    pub target: Target,
    /// The probe's options for this target, as configured.
    #[serde(default)]
    pub options: serde_json::Value,
    /// The account's credentials, for a plugin that declares it uses them.
    #[serde(default)]
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

impl CheckRequest {
    /// The JSON a plugin receives, the secret in the clear in `credentials.secret`.
    pub fn to_wire(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct Wire<'a> {
            version: u32,
            target: &'a Target,
            options: &'a serde_json::Value,
            #[serde(skip_serializing_if = "Option::is_none")]
            credentials: Option<Exposed<'a>>,
            timeout_ms: u64,
            locale: Locale,
            ehlo_name: &'a str,
        }
        #[derive(Serialize)]
        struct Exposed<'a> {
            username: &'a str,
            secret: &'a str,
            kind: SecretKind,
        }
        let wire = Wire {
            version: self.version,
            target: &self.target,
            options: &self.options,
            credentials: self.credentials.as_ref().map(|c| Exposed {
                username: &c.username,
                secret: c.secret.expose(),
                kind: c.kind,
            }),
            timeout_ms: self.timeout_ms,
            locale: self.locale,
            ehlo_name: &self.ehlo_name,
        };
        serde_json::to_value(wire).unwrap_or(serde_json::Value::Null)
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
            migration_domain: None,
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
        let json = req.to_wire();
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
