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
//! provider. Every result says what it learned about the credential ([`CredentialVerdict`]):
//! the agent's credential guard backs off a rejected one, across every target that uses it, so
//! that a wrong password is not retried fast enough to lock the account.
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

#[doc(hidden)] // public for the fuzz target `fuzz/fuzz_targets/replies.rs`
pub mod imap;
pub mod mechanism;
mod pop3;
pub(crate) mod smtp;

use crate::classify::{classify, Reply};
use crate::{dialogue, require_mail, Failure};
use async_trait::async_trait;
use mailbeat_sdk::{
    parse_options, Check, CheckResult, CredentialVerdict, Credentials, MetricDesc, OptionsError,
    Probe, ProbeContext, Protocol, Reason, SaslMechanism, Status, Target,
};
use mechanism::{Mechanism, Scrubber};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// Options of the `auth` probe. (`backoff:`, the wait before a rejected credential is tried
/// again, is the agent's: it guards every probe that logs in.)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthOptions {
    /// SASL mechanism to use (`plain`, `login`, `xoauth2`, `oauthbearer`; `user` for POP3
    /// USER/PASS), overriding the account's `mechanism:` and the server's offer.
    pub mechanism: Option<String>,
    /// After logging in, prove the session works: IMAP `EXAMINE INBOX`, POP3 `STAT`, SMTP
    /// `NOOP`. Default: on.
    pub confirm: bool,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            mechanism: None,
            confirm: true,
        }
    }
}

impl AuthOptions {
    /// Parses and checks the options; the error names the problem for `mailbeat validate`.
    pub fn from_json(options: &serde_json::Value) -> Result<AuthOptions, OptionsError> {
        let parsed: AuthOptions = parse_options(options)?;
        if let Some(m) = &parsed.mechanism {
            parse_mechanism(m)?;
        }
        Ok(parsed)
    }
}

fn parse_mechanism(name: &str) -> Result<Mechanism, OptionsError> {
    SaslMechanism::parse(name)
        .map(Mechanism::from)
        .map_err(|e| OptionsError(e.to_string()))
}

/// The `auth` probe.
#[derive(Debug, Default)]
pub struct AuthProbe;

impl AuthProbe {
    pub fn new() -> Self {
        AuthProbe
    }
}

impl Probe for AuthProbe {
    fn name(&self) -> &str {
        "auth"
    }

    fn uses_credentials(&self) -> bool {
        true
    }

    fn is_default_for(&self, target: &Target) -> bool {
        target.mail().is_some() && target.account.is_some()
    }

    fn metrics(&self) -> Vec<MetricDesc> {
        vec![MetricDesc::new(
            "auth_success",
            "1 if the last login succeeded, else 0, by SASL mechanism.",
        )]
    }

    fn configure(
        &self,
        target: &Target,
        options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError> {
        let options = AuthOptions::from_json(options)?;
        require_mail(self.name(), target)?;
        let Some(account) = &target.account else {
            return Err(OptionsError::new(
                "the auth probe needs an account (username and password or oauth)",
            ));
        };
        let configured = options
            .mechanism
            .as_deref()
            .or(account.mechanism.as_deref());
        let mechanism = match configured {
            Some(name) => {
                let m = parse_mechanism(name)?;
                if m.is_oauth() != account.oauth {
                    return Err(OptionsError(format!(
                        "mechanism {name:?} does not fit an account {} OAuth",
                        if account.oauth { "with" } else { "without" }
                    )));
                }
                Some(m)
            }
            None => None,
        };
        Ok(Arc::new(AuthCheck {
            mechanism,
            confirm: options.confirm,
        }))
    }
}

/// The `auth` probe configured for one target.
#[derive(Debug)]
struct AuthCheck {
    /// The mechanism the configuration insists on, if any.
    mechanism: Option<Mechanism>,
    confirm: bool,
}

#[async_trait]
impl Check for AuthCheck {
    async fn run(&self, target: &Target, ctx: &ProbeContext) -> CheckResult {
        let Some(creds) = &ctx.credentials else {
            return CheckResult::unknown(Reason::ConfigError, "no credentials");
        };
        let mail = match crate::mail_endpoint(target) {
            Ok(mail) => mail,
            Err(f) => return f.into(),
        };
        let scrubber = Scrubber::new(creds, target.verify_name(), mail.port);
        let plan = Plan {
            target,
            protocol: mail.protocol,
            port: mail.port,
            ctx,
            creds,
            configured: self.mechanism,
            confirm: self.confirm,
            scrubber: &scrubber,
        };
        let mut outcome = match mail.protocol {
            Protocol::Imap => imap::login(&plan).await,
            Protocol::Pop3 => pop3::login(&plan).await,
            Protocol::Smtp => smtp::login(&plan).await,
        };
        if let Err(e) = &mut outcome {
            oauth_meaning(e);
        }
        to_result(&plan, outcome, &scrubber)
    }
}

/// What a protocol module needs to log in.
pub(crate) struct Plan<'a> {
    pub target: &'a Target,
    pub protocol: Protocol,
    pub port: u16,
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

/// What a login that did not succeed says about the credential: the one judgement the agent's
/// credential guard (back-off) and the `auth_success` gauge both follow.
///
/// - `Rejected`: a refusal of the credential (bad password, app password needed, account
///   locked, …) at any step, or any other lasting refusal of the login command or of the session
///   after it, even one the classifier does not know (qmail's `-ERR authorization failed` was
///   `unknown` once): the server looked at the secret and said no, which may count toward a
///   lockout.
/// - `Throttled`: the login was refused as rate-limited (POP3 `[LOGIN-DELAY]`, IMAP `[LIMIT]`,
///   SMTP `454 4.7.0 Too many login attempts`): retrying at the schedule's pace is what keeps the
///   limit in force.
/// - `Unusable`: the login cannot work here, found before the secret was sent or refused for
///   the mechanism (STARTTLS required, nothing usable offered): fixed by a configuration change
///   that leaves the secret as it is, so backing off would hide the fix.
/// - `None`: any other refusal that says "later" (the server is down for a moment), a protocol
///   mismatch (an IMAP `BAD`), our own configuration, a refused EHLO, a dead network, a timeout
///   or a connection dropped mid-login: nothing about the credential.
fn credential_verdict(e: &NotLoggedIn) -> Option<CredentialVerdict> {
    let reason = e.failure.reason;
    if reason.is_credential_rejection() && e.step != Step::Connect {
        return Some(CredentialVerdict::Rejected);
    }
    let beside_the_secret = matches!(
        reason,
        Reason::AuthMechanismUnsupported | Reason::StarttlsRequired
    );
    let refused = e.refused && matches!(e.step, Step::Auth | Step::Confirm);
    if !refused {
        return (e.step == Step::Capabilities && beside_the_secret)
            .then_some(CredentialVerdict::Unusable);
    }
    if reason == Reason::RateLimited {
        return (e.step == Step::Auth).then_some(CredentialVerdict::Throttled);
    }
    if reason.is_transient()
        || matches!(
            reason,
            Reason::ProtocolError | Reason::ServerTimeout | Reason::ConfigError
        )
    {
        return None;
    }
    // The login went through and the session after it was refused: the secret is right.
    if beside_the_secret || e.step == Step::Confirm {
        return Some(CredentialVerdict::Unusable);
    }
    Some(CredentialVerdict::Rejected)
}

/// The result of a login that failed inside another probe's dialogue (the delivery probe logs in
/// at both ends): the same reason, message, details and credential verdict the `auth` probe
/// would report.
pub(crate) fn login_failed(plan: &Plan<'_>, mut e: NotLoggedIn) -> CheckResult {
    oauth_meaning(&mut e);
    to_result(plan, Err(e), plan.scrubber)
}

fn to_result(
    plan: &Plan<'_>,
    outcome: Result<LoggedIn, NotLoggedIn>,
    scrubber: &Scrubber,
) -> CheckResult {
    match outcome {
        Ok(ok) => {
            let label = ok.mechanism.label(plan.protocol);
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
                .with_credential(CredentialVerdict::Accepted)
                .observe("auth_success", 1.0)
                .sample("auth_success", &[("mechanism", label)], 1.0)
                .detail("mechanism", label)
                .detail("protocol", plan.protocol.as_str())
                .detail("tls", ok.tls)
                .detail("confirmed_with", ok.confirmed_with);
            if !notes.is_empty() {
                result = result.detail("server_notes", notes);
            }
            result
        }
        Err(e) => {
            let mechanism = e.mechanism.or(plan.configured);
            let label = mechanism.map(|m| m.label(plan.protocol));
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
            let verdict = credential_verdict(&e);
            if let Some(value) = verdict.and_then(CredentialVerdict::success_value) {
                // `none`: the check found before choosing a mechanism that the login cannot work
                // (STARTTLS required, nothing usable offered); the series keeps its labels.
                let label = label.unwrap_or("none");
                result = result.observe("auth_success", value).sample(
                    "auth_success",
                    &[("mechanism", label)],
                    value,
                );
            }
            if let Some(verdict) = verdict {
                result = result.with_credential(verdict);
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
        let o = AuthOptions::from_json(&json!({"mechanism": "XOAUTH2", "confirm": false})).unwrap();
        assert!(!o.confirm);
        assert_eq!(o.mechanism.as_deref(), Some("XOAUTH2"));
    }

    #[test]
    fn bad_options_are_named() {
        let e = AuthOptions::from_json(&json!({"mechansim": "plain"})).unwrap_err();
        assert!(e.0.contains("mechansim"), "{e}");
        let e = AuthOptions::from_json(&json!({"mechanism": "cram-md5"})).unwrap_err();
        assert!(e.0.contains("cram-md5"), "{e}");
        let e = AuthOptions::from_json(&json!({"backoff": {"initial": "1s"}})).unwrap_err();
        assert!(
            e.0.contains("backoff"),
            "the agent takes backoff out first: {e}"
        );
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
    fn one_verdict_on_the_credential() {
        use CredentialVerdict::*;
        use Reason::*;
        for (step, reason, refused, verdict) in [
            (Step::Auth, AuthBadCredentials, true, Some(Rejected)),
            (Step::Auth, AuthBadCredentials, false, Some(Rejected)),
            (Step::Auth, Unknown, true, Some(Rejected)),
            (Step::Auth, OauthConsentRequired, true, Some(Rejected)),
            (Step::Confirm, AuthProtocolDisabled, true, Some(Rejected)),
            (Step::Confirm, Unknown, true, Some(Unusable)),
            (Step::Capabilities, StarttlsRequired, false, Some(Unusable)),
            (
                Step::Capabilities,
                AuthMechanismUnsupported,
                false,
                Some(Unusable),
            ),
            (Step::Auth, AuthMechanismUnsupported, true, Some(Unusable)),
            (Step::Auth, StarttlsRequired, true, Some(Unusable)),
            (Step::Auth, RateLimited, true, Some(Throttled)),
            (Step::Auth, RateLimited, false, None),
            (Step::Auth, ServerTimeout, false, None),
            (Step::Auth, ProtocolError, false, None),
            (Step::Auth, Unknown, false, None),
            (Step::Auth, ConfigError, false, None),
            (Step::Auth, ProtocolError, true, None),
            (Step::Auth, ServerUnavailable, true, None),
            (Step::Confirm, ServerTimeout, false, None),
            (Step::Capabilities, ProtocolError, false, None),
            (Step::Connect, TlsUntrustedRoot, false, None),
        ] {
            assert_eq!(
                credential_verdict(&failed(step, reason, refused)),
                verdict,
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
