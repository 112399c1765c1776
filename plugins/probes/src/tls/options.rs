//! The `tls` probe's options: when an expiry warns or is critical, and whether the service is
//! spoken to over TLS after the handshake.

use mailbeat_sdk::{parse_options, OptionsError};
use serde::Deserialize;

/// Options of the `tls` probe.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsOptions {
    /// Warn when a certificate that matters (the leaf or an intermediate it chains through)
    /// expires in fewer than this many days.
    pub warn_days: u32,
    /// Critical when it expires in fewer than this many days.
    pub critical_days: u32,
    /// After the handshake, check the service answers over TLS: the greeting on implicit-TLS ports,
    /// the capabilities again (EHLO / CAPABILITY / CAPA) after STARTTLS.
    pub check_service: bool,
}

fn default_warn_days() -> u32 {
    21
}

fn default_critical_days() -> u32 {
    7
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            warn_days: default_warn_days(),
            critical_days: default_critical_days(),
            check_service: true,
        }
    }
}

impl TlsOptions {
    pub(super) fn from_json(value: &serde_json::Value) -> Result<Self, OptionsError> {
        let options: TlsOptions = parse_options(value)?;
        if options.critical_days > options.warn_days {
            return Err(OptionsError(format!(
                "critical_days ({}) is more than warn_days ({})",
                options.critical_days, options.warn_days
            )));
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_default_and_reject_typos() {
        let o = TlsOptions::from_json(&serde_json::Value::Null).unwrap();
        assert_eq!(
            (o.warn_days, o.critical_days, o.check_service),
            (21, 7, true)
        );
        let o = TlsOptions::from_json(&json!({"warn_days": 30})).unwrap();
        assert_eq!((o.warn_days, o.critical_days), (30, 7));
        assert!(TlsOptions::from_json(&json!({"warn_dayz": 30})).is_err());
        assert!(TlsOptions::from_json(&json!({"warn_days": 3, "critical_days": 7})).is_err());
    }
}
