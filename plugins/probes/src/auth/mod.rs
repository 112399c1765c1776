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
//! provider. A credential rejection, or any other lasting refusal of the login command, starts a
//! back-off ([`backoff`]) shared by every target that uses the same credential, so that a wrong
//! password is not retried fast enough to lock the account.
//!
//! Secrets never leave this module in a result: server text is scrubbed of the secret and its
//! encodings before it is shortened for a message, every message is scrubbed again at the end,
//! and the back-off keeps only a fingerprint.
//!
//! `mailbeat_auth_success{mechanism}` (observation and sample `auth_success`) is reported when
//! there is a verdict on the credential: the server refused the login (or the session after it),
//! or the check found before sending it that the login cannot work here (STARTTLS required, no
//! usable mechanism). A check that could not connect, timed out, or lost the connection mid-login
//! says nothing about the credential and leaves it out.

pub mod backoff;
mod imap;
pub mod mechanism;
mod pop3;
mod smtp;

use crate::classify::{classify, Reply};
use crate::{dialogue, Failure};
use async_trait::async_trait;
use backoff::{Backoff, Policy, MAX_BACKOFF};
use mailbeat_sdk::{
    CheckResult, Credentials, Probe, ProbeContext, Protocol, Reason, SaslMechanism, Status, Target,
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
        if b.max > MAX_BACKOFF {
            return Err(format!(
                "backoff.max must be at most {}",
                humantime::format_duration(MAX_BACKOFF)
            ));
        }
        if !(b.factor.is_finite() && b.factor >= 1.0) {
            return Err("backoff.factor must be a number of at least 1".to_string());
        }
        Ok(parsed)
    }
}

fn parse_mechanism(name: &str) -> Result<Mechanism, String> {
    SaslMechanism::parse(name)
        .map(Mechanism::from)
        .map_err(|e| e.to_string())
}

/// The `auth` probe. One instance serves all targets; it remembers the back-off per credential
/// (user name, kind and secret), whichever targets use it.
#[derive(Debug, Default)]
pub struct AuthProbe {
    backoff: Backoff,
}

impl AuthProbe {
    /// A probe with no back-off state.
    pub fn new() -> Self {
        AuthProbe::default()
    }

    /// Keeps the back-off state in `journal` (see [`Backoff::attach`]); `false` if one was
    /// attached already.
    pub fn persist_backoff(&self, journal: std::sync::Arc<dyn backoff::Journal>) -> bool {
        self.backoff.attach(journal)
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
        let attempt = match self.backoff.gate(
            self.backoff.fingerprint(creds),
            &target.name,
            Instant::now(),
        ) {
            Ok(attempt) => attempt,
            Err(backing_off) => return *backing_off,
        };
        let scrubber = Scrubber::new(creds, target.verify_name(), target.port);
        let plan = Plan {
            target,
            ctx,
            creds,
            configured,
            confirm: options.confirm,
            scrubber: &scrubber,
        };
        let mut outcome = match target.protocol {
            Protocol::Imap => imap::login(&plan).await,
            Protocol::Pop3 => pop3::login(&plan).await,
            Protocol::Smtp => smtp::login(&plan).await,
        };
        if let Err(e) = &mut outcome {
            oauth_meaning(e);
        }
        let refused_at_login = matches!(&outcome, Err(e) if e.refused && e.step == Step::Auth);
        let result = to_result(target, &plan, outcome, &scrubber);
        attempt.record(
            result,
            refused_at_login,
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
    /// Every form of this check's secret.
    pub scrubber: &'a Scrubber,
}

impl Plan<'_> {
    /// Server text as a message may show it: scrubbed of the secret first, then shortened and
    /// made printable (scrubbing after shortening would miss a secret cut in two).
    pub fn shown(&self, text: &str) -> String {
        dialogue::printable(&self.scrubber.scrub(text))
    }
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
    /// True when `failure` is the server's answer (a refusal it sent, classified by
    /// [`refusal`]); false when the dialogue broke, timed out, or the check gave up on its own.
    pub refused: bool,
}

impl NotLoggedIn {
    /// A failure at `step` before a mechanism was chosen.
    pub fn at(step: Step) -> impl FnOnce(Failure) -> NotLoggedIn {
        move |failure| NotLoggedIn {
            failure,
            step,
            mechanism: None,
            oauth_error: None,
            refused: false,
        }
    }

    /// A failure at `step` with `mechanism`.
    pub fn with(step: Step, mechanism: Mechanism) -> impl FnOnce(Failure) -> NotLoggedIn {
        move |failure| NotLoggedIn {
            failure,
            step,
            mechanism: Some(mechanism),
            oauth_error: None,
            refused: false,
        }
    }

    /// The server refused at `step` (the login or the confirming command): `failure` comes from
    /// [`refusal`].
    pub fn refused(
        step: Step,
        mechanism: Mechanism,
        failure: Failure,
        oauth_error: Option<String>,
    ) -> NotLoggedIn {
        NotLoggedIn {
            failure,
            step,
            mechanism: Some(mechanism),
            oauth_error,
            refused: true,
        }
    }
}

/// What a refused OAuth login means when the server's words were written for passwords.
///
/// With XOAUTH2/OAUTHBEARER there is no password to be wrong and no basic auth in play, yet
/// servers answer a refused token with their password wording: Microsoft 365 with the bare
/// `AUTHENTICATE failed.` / `LOGIN failed.` that the classifier reads as
/// `auth_basic_auth_disabled` there, others with `[AUTHENTICATIONFAILED]` or `535 5.7.8`
/// (`auth_bad_credentials`). The token source has just issued the token, so the refusal means
/// the grant does not cover this mailbox and protocol: at Microsoft, no
/// `IMAP.AccessAsUser.All` / `POP.AccessAsUser.All` / `SMTP.Send` permission or no admin
/// consent; elsewhere, a token without the mail scope or for another account. Only a person
/// re-consenting fixes that, which is what `oauth_consent_required` says (and it fires the
/// re-auth webhook). The classifier cannot make this call: it sees the reply, not the mechanism.
/// An OAuth error challenge that named its own reason has already decided, and is left alone.
fn oauth_meaning(e: &mut NotLoggedIn) {
    let oauth = e.mechanism.is_some_and(Mechanism::is_oauth);
    if oauth
        && e.refused
        && e.step == Step::Auth
        && matches!(
            e.failure.reason,
            Reason::AuthBasicAuthDisabled | Reason::AuthBadCredentials
        )
    {
        e.failure.reason = Reason::OauthConsentRequired;
    }
}

/// The verdict on a server's refusal. `message` is the server's words as the person should read
/// them, already scrubbed ([`Plan::shown`]). An OAuth error challenge, when there was one, is
/// what the classifier reads first: it names the real reason, the final `535`/`NO` is generic.
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

/// Whether a failed check is a verdict on the credential, and so moves the `auth_success` gauge
/// to 0. The server's own refusal of the login or of the session after it is one, unless it
/// says "later" (transient), "we talk past each other" (protocol error) or points at our
/// configuration. So is finding before the login that it cannot work here (STARTTLS required,
/// no usable mechanism). A refused EHLO, a dead network, a timeout or a connection dropped
/// mid-login says nothing about the credential (probe_success covers those).
fn says_no_to_the_credential(e: &NotLoggedIn) -> bool {
    let reason = e.failure.reason;
    match e.step {
        Step::Auth | Step::Confirm => {
            e.refused
                && !reason.is_transient()
                && !matches!(
                    reason,
                    Reason::ProtocolError | Reason::ServerTimeout | Reason::ConfigError
                )
        }
        Step::Capabilities => matches!(
            reason,
            Reason::StarttlsRequired | Reason::AuthMechanismUnsupported
        ),
        Step::Connect => false,
    }
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
            if says_no_to_the_credential(&e) {
                // `none`: the check found before choosing a mechanism that the login cannot work
                // (STARTTLS required, nothing usable offered); the series keeps its labels.
                let label = label.unwrap_or("none");
                result = result.observe("auth_success", 0.0).sample(
                    "auth_success",
                    &[("mechanism", label)],
                    0.0,
                );
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

    #[test]
    fn backoff_max_is_at_most_thirty_days() {
        let e = AuthOptions::from_json(&json!({"backoff": {"max": "500000000000y"}})).unwrap_err();
        assert!(e.contains("backoff.max must be at most 30days"), "{e}");
        let e = AuthOptions::from_json(&json!({"backoff": {"max": "31d"}})).unwrap_err();
        assert!(e.contains("backoff.max"), "{e}");
        let o = AuthOptions::from_json(&json!({"backoff": {"max": "30d"}})).unwrap();
        assert_eq!(o.backoff.max, MAX_BACKOFF);
    }

    fn failed(step: Step, reason: Reason, refused: bool) -> NotLoggedIn {
        NotLoggedIn {
            failure: Failure::critical(reason, "x"),
            step,
            mechanism: Some(Mechanism::Plain),
            oauth_error: None,
            refused,
        }
    }

    #[test]
    fn only_a_refusal_says_no_to_the_credential() {
        use Reason::*;
        for (step, reason, refused) in [
            (Step::Auth, AuthBadCredentials, true),
            (Step::Auth, Unknown, true),
            (Step::Confirm, AuthProtocolDisabled, true),
            (Step::Capabilities, StarttlsRequired, false),
        ] {
            assert!(
                says_no_to_the_credential(&failed(step, reason, refused)),
                "{step:?} {reason:?} refused={refused}"
            );
        }
        for (step, reason, refused) in [
            (Step::Auth, ServerTimeout, false),
            (Step::Auth, ProtocolError, false),
            (Step::Auth, Unknown, false),
            (Step::Auth, ConfigError, false),
            (Step::Auth, ProtocolError, true),
            (Step::Auth, ServerUnavailable, true),
            (Step::Auth, RateLimited, true),
            (Step::Confirm, ServerTimeout, false),
            (Step::Capabilities, ProtocolError, false),
            (Step::Connect, TlsUntrustedRoot, false),
        ] {
            assert!(
                !says_no_to_the_credential(&failed(step, reason, refused)),
                "{step:?} {reason:?} refused={refused}"
            );
        }
    }

    #[test]
    fn oauth_refusals_in_password_words_mean_consent() {
        let mut e = failed(Step::Auth, Reason::AuthBasicAuthDisabled, true);
        e.mechanism = Some(Mechanism::Xoauth2);
        oauth_meaning(&mut e);
        assert_eq!(e.failure.reason, Reason::OauthConsentRequired);
        let mut e = failed(Step::Auth, Reason::AuthBadCredentials, true);
        e.mechanism = Some(Mechanism::Oauthbearer);
        oauth_meaning(&mut e);
        assert_eq!(e.failure.reason, Reason::OauthConsentRequired);
        // Passwords, other reasons and other steps keep their verdict.
        let mut e = failed(Step::Auth, Reason::AuthBasicAuthDisabled, true);
        oauth_meaning(&mut e);
        assert_eq!(e.failure.reason, Reason::AuthBasicAuthDisabled);
        let mut e = failed(Step::Auth, Reason::AuthTooManyAttempts, true);
        e.mechanism = Some(Mechanism::Xoauth2);
        oauth_meaning(&mut e);
        assert_eq!(e.failure.reason, Reason::AuthTooManyAttempts);
        let mut e = failed(Step::Confirm, Reason::AuthBadCredentials, true);
        e.mechanism = Some(Mechanism::Xoauth2);
        oauth_meaning(&mut e);
        assert_eq!(e.failure.reason, Reason::AuthBadCredentials);
    }
}
