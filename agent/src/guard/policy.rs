//! How long a rejected credential waits: the policy, and the `backoff:` option that sets it for
//! a probe that logs in.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// The longest wait a configuration may ask for (30 days). Longer ones are refused by the
/// option check; the arithmetic here clamps to it as well, so no setting can overflow a clock.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How fast the interval grows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Wait after the first failure.
    pub initial: Duration,
    /// The interval never grows beyond this (nor beyond [`MAX_BACKOFF`]).
    pub max: Duration,
    /// Each further failure multiplies the wait by this.
    pub factor: f64,
}

impl Policy {
    /// The wait after the `failures`-th consecutive rejection (1-based).
    pub fn delay(&self, failures: u32) -> Duration {
        let max = self.max.min(MAX_BACKOFF);
        let exponent = failures.saturating_sub(1).min(64) as i32;
        let secs = self.initial.as_secs_f64() * self.factor.max(1.0).powi(exponent);
        if !secs.is_finite() || secs >= max.as_secs_f64() {
            max
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

/// `backoff:` in the options of a probe that logs in: `initial`, then times `factor` per further
/// rejection, up to `max`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackoffOptions {
    /// Wait after the first rejection (`15m`).
    #[serde(deserialize_with = "humantime_duration")]
    pub initial: Duration,
    /// Longest wait (`24h`).
    #[serde(deserialize_with = "humantime_duration")]
    pub max: Duration,
    /// Growth per further rejection (`2`).
    pub factor: f64,
}

impl Default for BackoffOptions {
    fn default() -> Self {
        BackoffOptions {
            initial: Duration::from_secs(15 * 60),
            max: Duration::from_secs(24 * 60 * 60),
            factor: 2.0,
        }
    }
}

fn humantime_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

impl BackoffOptions {
    /// Takes `backoff` out of a probe's options (the rest are the probe's own) and checks it;
    /// the error names the problem for `mailbeat validate`.
    pub fn take_from(options: &mut serde_json::Value) -> Result<BackoffOptions, String> {
        let given = options
            .as_object_mut()
            .and_then(|map| map.remove("backoff"));
        if options.as_object().is_some_and(|m| m.is_empty()) {
            *options = serde_json::Value::Null;
        }
        let parsed: BackoffOptions = match given {
            None | Some(serde_json::Value::Null) => BackoffOptions::default(),
            Some(v) => serde_json::from_value(v).map_err(|e| format!("backoff: {e}"))?,
        };
        parsed.check()?;
        Ok(parsed)
    }

    fn check(&self) -> Result<(), String> {
        if self.initial.is_zero() {
            return Err(
                "backoff.initial must be more than zero: retrying a rejected password at once can lock the account"
                    .to_string(),
            );
        }
        if self.max < self.initial {
            return Err("backoff.max must not be less than backoff.initial".to_string());
        }
        if self.max > MAX_BACKOFF {
            return Err(format!(
                "backoff.max must be at most {}",
                humantime::format_duration(MAX_BACKOFF)
            ));
        }
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            return Err("backoff.factor must be a number of at least 1".to_string());
        }
        Ok(())
    }

    /// The policy these options describe.
    pub fn policy(&self) -> Policy {
        Policy {
            initial: self.initial,
            max: self.max,
            factor: self.factor,
        }
    }
}
