//! `delivery`: does a message sent through this SMTP account arrive? Sends a small message with
//! a unique probe id through the target exactly as a device would (its TLS mode, authenticated),
//! then looks for it through the `via` target (an IMAP mailbox) in the inbox and the junk
//! folder, measures the time from handing it over to seeing it, reads its
//! `Authentication-Results`, and deletes it (unless `keep: true`).
//!
//! The parts: [`message`] builds the message (lettre's builder), `send` speaks MAIL/RCPT/DATA
//! after the auth probe's SMTP login, [`receive`] polls the mailbox after the auth probe's IMAP
//! login, [`authres`] reads SPF/DKIM/DMARC. A refusal at MAIL, RCPT or DATA is classified by
//! [`crate::classify::delivery`] into `delivery_rejected` with a cause and its remediation.
//!
//! The probe lives here, beside the dialogue code it extends, and gets the `via` target from the
//! agent: the check names it ([`Check::companion`]), the agent checks at load that it exists and
//! speaks IMAP, and hands it over with its credentials in [`ProbeContext::via`], read, refreshed
//! (OAuth) and guarded by the same credential guard and token service as any login of that
//! account. The verdict on the `via` login comes back as [`CheckResult::via_credential`].
//!
//! Sending is slower than checking a login: a message counts against the account's sending
//! limit. The probe runs every hour unless its `every:` says otherwise ([`Probe::default_every`]),
//! and after a refused send it waits longer before the next one (15 minutes, doubling up to a
//! day; `backoff.rs`), answering with the last result meanwhile. POP3 `via` targets are not
//! supported (a POP3 mailbox has no junk folder to tell apart, and no header search).

pub mod authres;
mod backoff;
pub mod message;
pub mod receive;
mod send;

use crate::auth::mechanism::{Mechanism, Scrubber};
use crate::auth::smtp::wire_text;
use crate::auth::Plan;
use crate::classify::delivery::{classify_delivery, Hop};
use crate::dialogue::printable;
use async_trait::async_trait;
pub use backoff::{SendBackoff, SEND_BACKOFF_FIRST, SEND_BACKOFF_MAX};
use mailbeat_sdk::{
    Check, CheckResult, Companion, CredentialVerdict, MetricDesc, OptionsError, Probe,
    ProbeContext, Protocol, Reason, SaslMechanism, Status, Target,
};
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long to wait for the message by default.
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(5 * 60);
/// How often the probe sends by default.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(3600);
/// The longest `within` accepted: a message later than this is lost for an alert's purposes.
pub const MAX_WITHIN: Duration = Duration::from_secs(3600);

/// Options of the `delivery` probe. (`every:`, its own schedule, and `backoff:` are the agent's.)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryOptions {
    /// The recipient: the address of the mailbox `via` reads.
    pub to: String,
    /// The name of the IMAP target that reads the recipient's mailbox.
    pub via: String,
    /// How long to wait for the message (default 5m).
    #[serde(default)]
    pub within: Option<String>,
    /// The sender (default: the account's user name).
    #[serde(default)]
    pub from: Option<String>,
    /// Leave the message in the mailbox (default: delete it once seen).
    #[serde(default)]
    pub keep: bool,
}

/// The `delivery` probe.
#[derive(Debug, Default)]
pub struct DeliveryProbe;

const METRICS: [(&str, &str); 3] = [
    (
        "delivery_success",
        "1 if the last probe message reached the inbox of the via mailbox, else 0.",
    ),
    (
        "delivery_duration_seconds",
        "Seconds from the relay accepting the last probe message to seeing it in the mailbox.",
    ),
    (
        "delivery_auth_result",
        "1 for the SPF, DKIM and DMARC results in the last probe message's Authentication-Results, by method and result.",
    ),
];

impl Probe for DeliveryProbe {
    fn name(&self) -> &str {
        "delivery"
    }

    fn uses_credentials(&self) -> bool {
        true
    }

    fn default_every(&self) -> Option<Duration> {
        Some(DEFAULT_EVERY)
    }

    fn metrics(&self) -> Vec<MetricDesc> {
        METRICS
            .iter()
            .map(|(name, help)| MetricDesc::new(name, help))
            .collect()
    }

    fn configure(
        &self,
        target: &Target,
        options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError> {
        if options.is_null() {
            return Err(OptionsError::new(
                "the delivery probe needs options: {to: ADDRESS, via: IMAP_TARGET}",
            ));
        }
        let o: DeliveryOptions = serde_json::from_value(options.clone())?;
        if target.protocol != Some(Protocol::Smtp) {
            return Err(OptionsError::new(
                "the delivery probe sends through an smtp target; put it on the relay the device uses",
            ));
        }
        let Some(account) = &target.account else {
            return Err(OptionsError::new(
                "the delivery probe needs the target's account (it sends authenticated)",
            ));
        };
        message::check_address(&o.to).map_err(|e| OptionsError::new(format!("to: {e}")))?;
        let from = o.from.clone().unwrap_or_else(|| account.username.clone());
        message::check_address(&from).map_err(|e| {
            OptionsError::new(format!(
                "from: {e} (it defaults to the account's user name; set from: to an address)"
            ))
        })?;
        if o.via.trim().is_empty() || o.via == target.name {
            return Err(OptionsError::new(
                "via: must name another target, the IMAP mailbox of the recipient",
            ));
        }
        let within = match &o.within {
            None => DEFAULT_WITHIN,
            Some(s) => match humantime::parse_duration(s.trim()) {
                Ok(d) if !d.is_zero() && d <= MAX_WITHIN => d,
                _ => {
                    return Err(OptionsError::new(format!(
                        "within: {s:?} is not a duration between 1s and 1h, like 5m"
                    )))
                }
            },
        };
        let mechanism = account
            .mechanism
            .as_deref()
            .and_then(|m| SaslMechanism::parse(m).ok())
            .map(Mechanism::from);
        Ok(Arc::new(DeliveryCheck {
            to: o.to,
            from,
            via: o.via,
            within,
            keep: o.keep,
            mechanism,
            backoff: Mutex::default(),
        }))
    }
}

/// The `delivery` probe configured for one target.
#[derive(Debug)]
struct DeliveryCheck {
    to: String,
    from: String,
    via: String,
    within: Duration,
    keep: bool,
    mechanism: Option<Mechanism>,
    backoff: Mutex<SendBackoff>,
}

#[async_trait]
impl Check for DeliveryCheck {
    async fn run(&self, target: &Target, ctx: &ProbeContext) -> CheckResult {
        if let Some(answer) = lock(&self.backoff).answer(Instant::now()) {
            return answer;
        }
        let result = self.deliver(target, ctx).await;
        lock(&self.backoff).record(&result);
        result
    }

    fn companion(&self) -> Option<Companion> {
        Some(Companion {
            option: "via",
            target: self.via.clone(),
            protocols: &[Protocol::Imap],
        })
    }

    /// The target's timeout for sending, the same again for logging in at `via`, and `within`.
    fn budget(&self, timeout: Duration) -> Duration {
        timeout.saturating_mul(2).saturating_add(self.within)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DeliveryCheck {
    async fn deliver(&self, target: &Target, ctx: &ProbeContext) -> CheckResult {
        let (Some(creds), Some(via)) = (&ctx.credentials, &ctx.via) else {
            return CheckResult::unknown(
                Reason::ConfigError,
                format!(
                    "the delivery probe needs the account's credentials and the via target {:?}",
                    self.via
                ),
            );
        };
        let Some(via_creds) = &via.credentials else {
            return CheckResult::unknown(
                Reason::ConfigError,
                format!("the via target {} has no credentials", via.target.name),
            );
        };
        let (Some(mail), Some(via_mail)) = (target.mail(), via.target.mail()) else {
            return CheckResult::unknown(
                Reason::ConfigError,
                "the delivery probe needs an smtp target and an imap via target",
            );
        };
        // The deadline is the budget: twice the target's timeout plus `within`. Sending gets one
        // timeout's worth, so a relay that hangs is named as such well before `within` runs out.
        // A caller that gave less than the budget (`check_once` with a plain timeout) still
        // gets half of what it gave for sending.
        let remaining = ctx.remaining();
        let step = match remaining.checked_sub(self.within) {
            Some(beyond) if !beyond.is_zero() => beyond / 2,
            _ => remaining / 2,
        };
        let mut send_ctx = ctx.clone();
        send_ctx.deadline = Instant::now() + step;

        let id = message::new_id(&target.name);
        let msg = match message::build(&self.from, &self.to, &id, &target.name) {
            Ok(m) => m,
            Err(e) => return CheckResult::unknown(Reason::ConfigError, e),
        };
        let scrubber = Scrubber::new(creds, target.verify_name(), mail.port);
        let plan = Plan {
            target,
            protocol: Protocol::Smtp,
            port: mail.port,
            ctx: &send_ctx,
            creds,
            configured: self.mechanism,
            confirm: false,
            scrubber: &scrubber,
        };
        let sent = match send::send(&plan, &self.from, &self.to, &msg.formatted()).await {
            Ok(sent) => sent,
            Err(not_sent) => return self.not_sent(not_sent, &plan, &id),
        };
        let sent_at = Instant::now();
        let accepted = scrubber.scrub(&wire_text(&sent.reply, printable));

        let mut via_ctx = ctx.clone();
        via_ctx.roots = via.roots.clone();
        via_ctx.credentials = Some(via_creds.clone());
        let via_scrubber = Scrubber::new(via_creds, via.target.verify_name(), via_mail.port);
        let via_mechanism = via
            .target
            .account
            .as_ref()
            .and_then(|a| a.mechanism.as_deref())
            .and_then(|m| SaslMechanism::parse(m).ok())
            .map(Mechanism::from);
        let via_plan = Plan {
            target: &via.target,
            protocol: via_mail.protocol,
            port: via_mail.port,
            ctx: &via_ctx,
            creds: via_creds,
            configured: via_mechanism,
            confirm: false,
            scrubber: &via_scrubber,
        };
        // Leave the cleanup and the goodbye a moment after the wait.
        let goodbye = step.min(Duration::from_secs(2));
        let until =
            (sent_at + self.within).min(ctx.deadline.checked_sub(goodbye).unwrap_or(ctx.deadline));
        let prefix = message::id_prefix(&target.name);
        let base = |r: CheckResult| {
            r.with_credential(CredentialVerdict::Accepted)
                .detail("probe_id", &id)
                .detail("via", &via.target.name)
                .detail("to", &self.to)
                .detail("from", &self.from)
                .detail("accepted", &accepted)
                .detail("tls", sent.tls)
        };
        let outcome = match receive::find(&via_plan, &id, &prefix, until, self.keep).await {
            Ok(outcome) => outcome,
            Err(receive::NotSearched::Login(r)) => {
                let mut r = *r;
                r.via_credential = r.credential.take();
                // What to do is about the mailbox's account, so the text names `via`'s values
                // (the agent fills in the placeholders a text still has with the relay's).
                if let Some(reason) = r.reason {
                    let text = mailbeat_sdk::remediation::remediation(
                        reason,
                        via.target.provider.as_deref(),
                        ctx.locale,
                    );
                    r.remediation = Some(mailbeat_sdk::remediation::for_target_values(
                        &text,
                        &via.target,
                    ));
                }
                r.message = format!(
                    "the relay accepted the message, but logging in to via target {} failed: {}",
                    via.target.name, r.message
                );
                r.observations.remove("auth_success");
                r.samples.retain(|s| s.name != "auth_success");
                return base(r.observe("delivery_success", 0.0)).detail("hop", "receive");
            }
            Err(receive::NotSearched::Failed(f)) => {
                let r = CheckResult::fail(
                    f.status,
                    f.reason,
                    format!(
                        "the relay accepted the message, but searching via target {} failed: {}",
                        via.target.name,
                        via_scrubber.scrub(&f.message)
                    ),
                );
                return base(r.observe("delivery_success", 0.0))
                    .detail("hop", "receive")
                    .with_via_credential(CredentialVerdict::Accepted);
            }
        };
        let searched = outcome.searched.join(" and ");
        let common = |r: CheckResult| {
            base(r)
                .with_via_credential(CredentialVerdict::Accepted)
                .detail("searched", &outcome.searched)
                .detail("junk_folder", &outcome.junk)
                .detail("deleted", outcome.deleted)
                .detail("polls", outcome.polls)
                .detail("kept", self.keep)
        };
        let Some(found) = outcome.found.as_ref() else {
            let r = CheckResult::critical(
                Reason::DeliveryTimeout,
                format!(
                    "the relay accepted the message ({accepted}), but it was not in {searched} of via target {} within {}",
                    via.target.name,
                    humantime::format_duration(self.within)
                ),
            );
            return common(r.observe("delivery_success", 0.0)).detail("hop", "receive");
        };
        let took = found.seen_at.saturating_duration_since(sent_at);
        let auth = authres::results(&found.header);
        // Loopback and good relays deliver in milliseconds: "0.0s" would read as "not measured".
        let took_text = if took < Duration::from_secs(1) {
            format!("{} ms", took.as_millis())
        } else {
            format!("{:.1} s", took.as_secs_f64())
        };
        let mut r = if found.in_junk {
            CheckResult::fail(
                Status::Warning,
                Reason::DeliveryJunk,
                format!(
                    "the message arrived in {took_text}, but in the junk folder {} of via target {}",
                    found.mailbox, via.target.name
                ),
            )
            .observe("delivery_success", 0.0)
            .detail("hop", "receive")
        } else {
            CheckResult::ok(format!(
                "delivered to {} of via target {} in {took_text}",
                found.mailbox, via.target.name
            ))
            .observe("delivery_success", 1.0)
        };
        r = r
            .observe("delivery_duration_seconds", took.as_secs_f64())
            .detail("mailbox", &found.mailbox)
            .detail("authentication_results", &auth);
        for (method, result) in &auth {
            r = r.sample(
                "delivery_auth_result",
                &[("method", method), ("result", result.as_str())],
                1.0,
            );
        }
        common(r)
    }

    /// The result of a send that did not go through.
    fn not_sent(&self, not_sent: send::NotSent, plan: &Plan<'_>, id: &str) -> CheckResult {
        let r = match not_sent {
            send::NotSent::Login(r) => {
                let mut r = *r;
                r.message = format!("logging in to send failed: {}", r.message);
                r.observations.remove("auth_success");
                r.samples.retain(|s| s.name != "auth_success");
                r.detail("hop", "auth")
            }
            send::NotSent::Refused { hop, reply } => {
                let verdict = classify_delivery(hop, reply.code, &reply.text());
                let words = wire_text(&reply, |l| plan.shown(l));
                let mut r = CheckResult::fail(
                    verdict.status,
                    verdict.reason,
                    format!(
                        "the relay refused the message at {}: {words}",
                        hop_name(hop)
                    ),
                )
                .with_credential(CredentialVerdict::Accepted)
                .detail("hop", hop.as_str())
                .detail("cause", verdict.cause.as_str())
                .detail("smtp_code", reply.code);
                r.remediation = verdict
                    .cause
                    .remediation(plan.ctx.locale)
                    .map(str::to_string);
                r
            }
            send::NotSent::Broken { hop, failure } => CheckResult::fail(
                failure.status,
                failure.reason,
                format!(
                    "sending failed at {}: {}",
                    hop_name(hop),
                    plan.scrubber.scrub(&failure.message)
                ),
            )
            .with_credential(CredentialVerdict::Accepted)
            .detail("hop", hop.as_str()),
        };
        r.observe("delivery_success", 0.0)
            .detail("probe_id", id)
            .detail("to", &self.to)
            .detail("from", &self.from)
            .detail("via", &self.via)
    }
}

fn hop_name(hop: Hop) -> &'static str {
    match hop {
        Hop::Mail => "MAIL FROM",
        Hop::Rcpt => "RCPT TO",
        Hop::Data => "DATA",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smtp_target() -> Target {
        serde_json::from_value(json!({
            "name": "relay", "protocol": "smtp", "host": "127.0.0.1", "port": 587,
            "tls": "starttls", "account": {"username": "alice@mail.test"}
        }))
        .unwrap()
    }

    #[test]
    fn options_are_checked_at_load() {
        let p = DeliveryProbe;
        let t = smtp_target();
        let ok = p.configure(&t, &json!({"to": "bob@mail.test", "via": "inbox"}));
        let check = ok.unwrap();
        assert_eq!(check.companion().unwrap().target, "inbox");
        assert_eq!(
            check.budget(Duration::from_secs(10)),
            Duration::from_secs(320)
        );
        for (options, words) in [
            (serde_json::Value::Null, "needs options"),
            (json!({"to": "bob@mail.test"}), "via"),
            (json!({"to": "not an address", "via": "inbox"}), "to:"),
            (
                json!({"to": "b@mail.test", "via": "relay"}),
                "another target",
            ),
            (
                json!({"to": "b@mail.test", "via": "i", "within": "0s"}),
                "within",
            ),
            (
                json!({"to": "b@mail.test", "via": "i", "within": "2h"}),
                "within",
            ),
            (
                json!({"to": "b@mail.test", "via": "i", "from": "x"}),
                "from:",
            ),
            (
                json!({"to": "b@mail.test", "via": "i", "wihtin": "1m"}),
                "wihtin",
            ),
        ] {
            let e = p.configure(&t, &options).err().expect("refused");
            assert!(e.0.contains(words), "{options}: {e}");
        }
        let mut imap = t.clone();
        imap.protocol = Some(Protocol::Imap);
        let e = p
            .configure(&imap, &json!({"to": "b@mail.test", "via": "i"}))
            .err()
            .unwrap();
        assert!(e.0.contains("smtp"), "{e}");
    }
}
