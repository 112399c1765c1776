//! `auth`: can this account still log in? And when it cannot, why, in the server's own words.
//!
//! One login per check over the target's own TLS settings: IMAP (`LOGIN`, `AUTHENTICATE PLAIN`,
//! `XOAUTH2`, `OAUTHBEARER`), POP3 (`USER`/`PASS`, `AUTH PLAIN`/`XOAUTH2`/`OAUTHBEARER`) and SMTP
//! (`AUTH PLAIN`/`LOGIN`/`XOAUTH2`/`OAUTHBEARER`). The mechanism comes from the configuration or
//! from what the server advertises ([`mechanism`]). After a successful login the session is
//! confirmed with a cheap command (a Microsoft 365 mailbox with IMAP turned off accepts the login
//! and refuses everything after it), then closed politely.
//!
//! A refusal is classified by [`crate::classify`] from the exact reply (SMTP enhanced codes, IMAP
//! response codes and `[ALERT]` texts, POP3 `-ERR` texts, OAuth error JSON) and the target's
//! provider. A credential rejection starts a back-off ([`backoff`]) so that a wrong password is
//! not retried fast enough to lock the account.
//!
//! Secrets never leave this module in a result: every message is scrubbed of the secret and its
//! encodings, and the back-off keeps only a fingerprint.
//!
//! `mailbeat_auth_success{mechanism}` (observation and sample `auth_success`) is reported once
//! the check got as far as the login decision; a check that could not even connect says nothing
//! about the credential and leaves it out.

pub mod backoff;
mod imap;
pub mod mechanism;
mod pop3;
mod smtp;

use crate::classify::{classify, Reply};
use crate::{dialogue, Failure};
use async_trait::async_trait;
use backoff::{Backoff, Fingerprint, Policy};
use mailbeat_sdk::{
    CheckResult, Credentials, Probe, ProbeContext, Protocol, Reason, Status, Target,
};
use mechanism::{Mechanism, Scrubber};
use serde::{Deserialize, Deserializer};
use std::time::{Duration, Instant};

/// Options of the `auth` probe.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthOptions {
    /// SASL mechanism to use (`plain`, `login`, `xoauth2`, `oauthbearer`; `user` for POP3
    /// USER/PASS), overriding the account's `mechanism:` and the server's offer.
    pub mechanism: Option<String>,
    /// After logging in, prove the session works: IMAP `EXAMINE INBOX`, POP3 `STAT`, SMTP
    /// `NOOP`. Default: on.
    pub confirm: bool,
    /// How long to wait before retrying a credential the server rejected.
    pub backoff: BackoffOptions,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            mechanism: None,
            confirm: true,
            backoff: BackoffOptions::default(),
        }
    }
}

/// Back-off after a rejected credential: `initial`, then times `factor` per further failure, up
/// to `max`.
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

fn default_backoff_initial() -> Duration {
    Duration::from_secs(15 * 60)
}

fn default_backoff_max() -> Duration {
    Duration::from_secs(24 * 60 * 60)
}

fn default_backoff_factor() -> f64 {
    2.0
}

impl Default for BackoffOptions {
    fn default() -> Self {
        BackoffOptions {
            initial: default_backoff_initial(),
            max: default_backoff_max(),
            factor: default_backoff_factor(),
        }
    }
}

impl BackoffOptions {
    fn policy(&self) -> Policy {
        Policy {
            initial: self.initial,
            max: self.max,
            factor: self.factor,
        }
    }
}

fn humantime_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

impl AuthOptions {
    /// Parses and checks the options; the error names the problem for `mailbeat validate`.
    pub fn from_json(options: &serde_json::Value) -> Result<AuthOptions, String> {
        let parsed: AuthOptions = if options.is_null() {
            AuthOptions::default()
        } else {
            serde_json::from_value(options.clone()).map_err(|e| e.to_string())?
        };
        if let Some(m) = &parsed.mechanism {
            parse_mechanism(m)?;
        }
        let b = &parsed.backoff;
        if b.initial.is_zero() {
            return Err(
                "backoff.initial must be more than zero: retrying a rejected password at once can lock the account"
                    .to_string(),
            );
        }
        if b.max < b.initial {
            return Err("backoff.max must not be less than backoff.initial".to_string());
        }
        if !(b.factor.is_finite() && b.factor >= 1.0) {
            return Err("backoff.factor must be a number of at least 1".to_string());
        }
        Ok(parsed)
    }
}

fn parse_mechanism(name: &str) -> Result<Mechanism, String> {
    Mechanism::parse(name).ok_or_else(|| {
        format!("unknown mechanism {name:?} (expected plain, login, xoauth2 or oauthbearer)")
    })
}

/// The `auth` probe. One instance serves all targets; it remembers the back-off per target.
#[derive(Debug, Default)]
pub struct AuthProbe {
    backoff: Backoff,
}

impl AuthProbe {
    /// A probe with no back-off state.
    pub fn new() -> Self {
        AuthProbe::default()
    }
}

#[async_trait]
impl Probe for AuthProbe {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn validate(&self, target: &Target, options: &serde_json::Value) -> Result<(), String> {
        let options = AuthOptions::from_json(options)?;
        let Some(account) = &target.account else {
            return Err("the auth probe needs an account (username and password or oauth)".into());
        };
        let configured = options
            .mechanism
            .as_deref()
            .or(account.mechanism.as_deref());
        if let Some(name) = configured {
            let m = parse_mechanism(name)?;
            if m.is_oauth() != account.oauth {
                return Err(format!(
                    "mechanism {name:?} does not fit an account {} OAuth",
                    if account.oauth { "with" } else { "without" }
                ));
            }
        }
        Ok(())
    }

    async fn check(&self, target: &Target, ctx: &ProbeContext) -> CheckResult {
        let options = match AuthOptions::from_json(&ctx.options) {
            Ok(o) => o,
            Err(e) => return CheckResult::unknown(Reason::ConfigError, e),
        };
        let configured = options
            .mechanism
            .as_deref()
            .or(target.account.as_ref().and_then(|a| a.mechanism.as_deref()));
        let configured = match configured.map(parse_mechanism).transpose() {
            Ok(m) => m,
            Err(e) => return CheckResult::unknown(Reason::ConfigError, e),
        };
        let Some(creds) = &ctx.credentials else {
            return CheckResult::unknown(Reason::ConfigError, "no credentials");
        };
        let fingerprint = Fingerprint::of(creds);
        if let Some(backing_off) = self.backoff.gate(&target.name, fingerprint, Instant::now()) {
            return backing_off;
        }
        let plan = Plan {
            target,
            ctx,
            creds,
            configured,
            confirm: options.confirm,
        };
        let outcome = match target.protocol {
            Protocol::Imap => imap::login(&plan).await,
            Protocol::Pop3 => pop3::login(&plan).await,
            Protocol::Smtp => smtp::login(&plan).await,
        };
        let scrubber = Scrubber::new(creds, target.verify_name(), target.port);
        let result = to_result(target, &plan, outcome, &scrubber);
        self.backoff.record(
            &target.name,
            fingerprint,
            result,
            &options.backoff.policy(),
            Instant::now(),
        )
    }
}

/// What a protocol module needs to log in.
pub(crate) struct Plan<'a> {
    pub target: &'a Target,
    pub ctx: &'a ProbeContext,
    pub creds: &'a Credentials,
    /// The mechanism the configuration insists on, if any.
    pub configured: Option<Mechanism>,
    pub confirm: bool,
}

/// Where in the dialogue a check stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Connect, TLS, greeting.
    Connect,
    /// EHLO / CAPABILITY / CAPA after TLS, and the choice of mechanism.
    Capabilities,
    /// The login itself.
    Auth,
    /// The command after the login.
    Confirm,
}

impl Step {
    fn as_str(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Capabilities => "capabilities",
            Step::Auth => "auth",
            Step::Confirm => "confirm",
        }
    }
}

/// A successful login.
#[derive(Debug)]
pub(crate) struct LoggedIn {
    pub mechanism: Mechanism,
    pub tls: bool,
    /// The confirming command, when one ran.
    pub confirmed_with: Option<&'static str>,
    /// Things the server said on the way that a person may want to read (IMAP `[ALERT]`s).
    pub notes: Vec<String>,
}

/// A login that did not succeed, and how far it got.
#[derive(Debug)]
pub(crate) struct NotLoggedIn {
    pub failure: Failure,
    pub step: Step,
    pub mechanism: Option<Mechanism>,
    /// The decoded OAuth error challenge (XOAUTH2 / OAUTHBEARER), when the server sent one.
    pub oauth_error: Option<String>,
}

impl NotLoggedIn {
    /// A failure at `step` before a mechanism was chosen.
    pub fn at(step: Step) -> impl FnOnce(Failure) -> NotLoggedIn {
        move |failure| NotLoggedIn {
            failure,
            step,
            mechanism: None,
            oauth_error: None,
        }
    }

    /// A failure at `step` with `mechanism`.
    pub fn with(step: Step, mechanism: Mechanism) -> impl FnOnce(Failure) -> NotLoggedIn {
        move |failure| NotLoggedIn {
            failure,
            step,
            mechanism: Some(mechanism),
            oauth_error: None,
        }
    }
}

/// The verdict on a server's refusal. `message` is the server's words as the person should read
/// them. An OAuth error challenge, when there was one, is what the classifier reads first: it
/// names the real reason, the final `535`/`NO` is generic.
pub(crate) fn refusal(
    target: &Target,
    reply: &Reply<'_>,
    oauth_error: Option<&str>,
    message: String,
) -> Failure {
    let provider = target.provider.as_deref();
    let mut verdict = classify(reply, provider);
    if let Some(json) = oauth_error {
        let from_json = classify(&Reply::OauthChallenge { json }, provider);
        if from_json.reason != Reason::Unknown && from_json.status != Status::Ok {
            verdict = from_json;
        }
    }
    if verdict.status == Status::Ok {
        // A refusal is never ok, whatever a table says.
        return Failure::new(Status::Unknown, Reason::Unknown, message);
    }
    Failure::new(verdict.status, verdict.reason, message)
}

/// `starttls_required` decided before sending anything: the target says `tls: none` and the
/// server will not take a password without TLS.
pub(crate) fn plaintext_refused(why: &str) -> Failure {
    Failure::critical(
        Reason::StarttlsRequired,
        format!("{why}; the password was not sent (set tls: starttls or implicit for this target)"),
    )
}

/// Sends a line that carries a secret. The dialogue's own error names the first word of the
/// line, which for a bare SASL response is the secret itself: replace it.
pub(crate) async fn send_secret(
    d: &mut dialogue::Dialogue<dialogue::BoxStream>,
    ctx: &ProbeContext,
    line: &str,
    what: &str,
) -> Result<(), Failure> {
    d.send(ctx, line).await.map_err(|f| {
        let message = if f.reason == Reason::ServerTimeout {
            format!("timed out sending {what}")
        } else {
            format!("connection failed while sending {what}")
        };
        Failure::new(f.status, f.reason, message)
    })
}

/// Polite closing is best effort and must not eat the time a stuck server would give it.
pub(crate) fn goodbye_budget(ctx: &ProbeContext) -> Duration {
    ctx.remaining().min(Duration::from_secs(2))
}

fn to_result(
    target: &Target,
    plan: &Plan<'_>,
    outcome: Result<LoggedIn, NotLoggedIn>,
    scrubber: &Scrubber,
) -> CheckResult {
    match outcome {
        Ok(ok) => {
            let label = ok.mechanism.label(target.protocol);
            let mut message = format!(
                "logged in as {} with {label} over {}",
                plan.creds.username,
                if ok.tls { "TLS" } else { "plaintext" }
            );
            if let Some(cmd) = ok.confirmed_with {
                message.push_str(&format!("; {cmd} ok"));
            }
            let notes: Vec<String> = ok
                .notes
                .iter()
                .map(|n| dialogue::printable(&scrubber.scrub(n)))
                .collect();
            let mut result = CheckResult::ok(scrubber.scrub(&message))
                .observe("auth_success", 1.0)
                .sample("auth_success", &[("mechanism", label)], 1.0)
                .detail("mechanism", label)
                .detail("protocol", target.protocol.as_str())
                .detail("tls", ok.tls)
                .detail("confirmed_with", ok.confirmed_with);
            if !notes.is_empty() {
                result = result.detail("server_notes", notes);
            }
            result
        }
        Err(e) => {
            let mechanism = e.mechanism.or(plan.configured);
            let label = mechanism.map(|m| m.label(target.protocol));
            let mut result = CheckResult::fail(
                e.failure.status,
                e.failure.reason,
                scrubber.scrub(&e.failure.message),
            )
            .detail("mechanism", label)
            .detail("protocol_step", e.step.as_str());
            if let Some(json) = &e.oauth_error {
                result = result.detail("oauth_error", dialogue::printable(&scrubber.scrub(json)));
            }
            // Only a verdict on the login itself moves the gauge: a refused EHLO or a dead
            // network says nothing about the credential (probe_success covers those).
            let verdict = match e.step {
                Step::Auth | Step::Confirm => e.failure.reason != Reason::ConfigError,
                Step::Capabilities => matches!(
                    e.failure.reason,
                    Reason::StarttlsRequired | Reason::AuthMechanismUnsupported
                ),
                Step::Connect => false,
            };
            if verdict {
                result = result.observe("auth_success", 0.0);
                if let Some(label) = label {
                    result = result.sample("auth_success", &[("mechanism", label)], 0.0);
                }
            }
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_default_and_parse() {
        let o = AuthOptions::from_json(&serde_json::Value::Null).unwrap();
        assert!(o.confirm);
        assert_eq!(o.backoff.initial, Duration::from_secs(900));
        assert_eq!(o.backoff.max, Duration::from_secs(86400));
        let o = AuthOptions::from_json(&json!({
            "mechanism": "XOAUTH2", "confirm": false, "backoff": {"initial": "200ms"}
        }))
        .unwrap();
        assert_eq!(o.backoff.initial, Duration::from_millis(200));
        assert_eq!(o.backoff.factor, 2.0);
        assert!(!o.confirm);
    }

    #[test]
    fn bad_options_are_named() {
        let e = AuthOptions::from_json(&json!({"mechansim": "plain"})).unwrap_err();
        assert!(e.contains("mechansim"), "{e}");
        let e = AuthOptions::from_json(&json!({"mechanism": "cram-md5"})).unwrap_err();
        assert!(e.contains("cram-md5"), "{e}");
        let e = AuthOptions::from_json(&json!({"backoff": {"initial": "0s"}})).unwrap_err();
        assert!(e.contains("initial"), "{e}");
        let e = AuthOptions::from_json(&json!({"backoff": {"initial": "soon"}})).unwrap_err();
        assert!(!e.is_empty());
        let e = AuthOptions::from_json(&json!({"backoff": {"factor": 0.5}})).unwrap_err();
        assert!(e.contains("factor"), "{e}");
        let e = AuthOptions::from_json(&json!({"backoff": {"jitter": 1}})).unwrap_err();
        assert!(e.contains("jitter"), "{e}");
    }
}
