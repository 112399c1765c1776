//! The deliverer: a task that empties the outbox. It sends each due delivery with its exact
//! body and signature, records the outcome, and retries with exponential back-off and jitter
//! until the delivery is older than its webhook's `max_age`. 2xx is delivered; a 4xx other than
//! 408 and 429 is the receiver refusing this payload, so it fails at once; anything else (5xx,
//! 408, 429, timeouts, refused connections) is retried. It runs apart from the checks: a slow or
//! hanging receiver delays only its own deliveries.

use super::sign::signature;
use crate::config::{Config, Webhook};
use crate::events;
use crate::state::outbox::{Due, Outbox, Outcome};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::sync::{watch, Notify, Semaphore};

/// The first retry waits about this long; each next one twice as long.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// No retry waits longer than this.
pub const MAX_RETRY: Duration = Duration::from_secs(300);
/// How many deliveries are in flight at once.
const IN_FLIGHT: usize = 8;
/// Delivered and failed rows are kept this long, for inspection.
const KEEP_DONE: Duration = Duration::from_secs(7 * 86400);

/// The deliverer's inputs.
pub struct Deliverer {
    pub outbox: Outbox,
    /// The configuration in force (webhooks may change on reload).
    pub config: Arc<RwLock<Arc<Config>>>,
    pub wake: Arc<Notify>,
    /// For a Microsoft account's `reauth_required`: the device flow whose code the payload
    /// carries, polled by the status page's re-authorization (the person may use either).
    pub tokens: Arc<crate::oauth::Tokens>,
    pub reauth: Arc<crate::oauth::reauth::web::WebAttempts>,
}

/// The wait before retry number `attempt` (1-based): exponential, capped, with up to half of it
/// taken off at random so receivers that come back are not hit by every agent at once.
pub fn backoff(attempt: u32, random: f64) -> Duration {
    let exp = FIRST_RETRY.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(MAX_RETRY);
    capped.mul_f64(1.0 - 0.5 * random.clamp(0.0, 1.0))
}

fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    let _ = rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

impl Deliverer {
    fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let limit = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut clients = Clients::default();
        let mut clients_for: Option<Arc<Config>> = None;
        let mut last_prune = SystemTime::UNIX_EPOCH;
        loop {
            let config = self.config();
            // A reload brings new trust stores: the clients of the old ones go.
            if !clients_for
                .as_ref()
                .is_some_and(|c| Arc::ptr_eq(c, &config))
            {
                clients = Clients::default();
                clients_for = Some(config.clone());
            }
            let names: Vec<String> = config.webhooks.iter().map(|w| w.name.clone()).collect();
            let now = SystemTime::now();
            match self.outbox.due(now, 64).await {
                Ok(due) => {
                    let mut tasks = Vec::new();
                    for d in due {
                        let permit = limit.clone().acquire_owned().await;
                        let hook = config
                            .webhooks
                            .iter()
                            .find(|w| w.name == d.webhook)
                            .cloned();
                        let http = hook.as_ref().and_then(|h| clients.of(h));
                        let outbox = self.outbox.clone();
                        let device = DeviceCodes {
                            tokens: self.tokens.clone(),
                            reauth: self.reauth.clone(),
                            locale: config.global.locale,
                        };
                        tasks.push(tokio::spawn(async move {
                            let _permit = permit;
                            let d = device.fill(hook.as_ref(), d).await;
                            attempt(&outbox, http.as_ref(), hook.as_ref(), d).await;
                        }));
                    }
                    for t in tasks {
                        let _ = t.await;
                    }
                }
                Err(e) => events::state_write_failed("webhook_outbox", &e),
            }
            if let Ok(pending) = self.outbox.pending().await {
                events::webhook_outbox_pending(&names, &pending);
            }
            if now.duration_since(last_prune).unwrap_or_default() > Duration::from_secs(3600) {
                let _ = self.outbox.prune(now - KEEP_DONE).await;
                last_prune = now;
            }
            let wait = match self.outbox.next_due().await {
                Ok(Some(at)) => at
                    .duration_since(SystemTime::now())
                    .unwrap_or_default()
                    .min(Duration::from_secs(30)),
                _ => Duration::from_secs(30),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}

/// Puts a live device code into a Microsoft account's `reauth_required` at each attempt: the
/// one the status page's device flow is waiting on, or a new one. Not stored: after a restart
/// (whose poller is gone) or once a code expired, a retry carries a code that still works. The
/// delivery id stays the same, and each attempt is signed over exactly what it sends.
struct DeviceCodes {
    tokens: Arc<crate::oauth::Tokens>,
    reauth: Arc<crate::oauth::reauth::web::WebAttempts>,
    locale: mailbeat_sdk::Locale,
}

impl DeviceCodes {
    async fn fill(&self, hook: Option<&Webhook>, mut d: Due) -> Due {
        if d.event != "reauth_required" {
            return d;
        }
        let (Some(hook), Some(account)) = (hook, self.tokens.account_of(&d.target)) else {
            return d;
        };
        // A delivery past max_age is given up by the attempt: no device code is asked for it.
        if SystemTime::now()
            .duration_since(d.created)
            .unwrap_or_default()
            > hook.max_age
        {
            return d;
        }
        if account.provider != crate::oauth::ProviderKind::Microsoft
            || account.endpoints.device_authorization_url.is_none()
        {
            return d;
        }
        let Ok(mut body) = serde_json::from_str::<serde_json::Value>(&d.body) else {
            return d;
        };
        let cx = crate::oauth::reauth::web::Context {
            tokens: self.tokens.clone(),
            target: d.target.clone(),
            account,
            timeout: hook.timeout,
            locale: self.locale,
        };
        match self.reauth.device(&cx, false).await {
            Ok(view) => {
                body["device_code"] = serde_json::json!({
                    "verification_uri": view.verification_uri,
                    "verification_uri_complete": view.verification_uri_complete,
                    "user_code": view.user_code,
                    "message": view.message,
                    "expires_at": super::payload::rfc3339(view.expires_at),
                });
                d.body = body.to_string();
            }
            Err(e) => {
                tracing::warn!(target = %d.target, error = %e, "no device code for the reauth_required webhook; it carries the reauth_url only");
            }
        }
        d
    }
}

/// One HTTP client per webhook trust store (receivers with the same roots share one), built
/// on first use: rustls with the webhook's roots, no redirects followed (a redirect could carry
/// the body elsewhere).
#[derive(Default)]
struct Clients {
    built: Vec<(Arc<rustls::RootCertStore>, reqwest::Client)>,
}

impl Clients {
    fn of(&mut self, hook: &Webhook) -> Option<reqwest::Client> {
        if let Some((_, c)) = self.built.iter().find(|(r, _)| Arc::ptr_eq(r, &hook.roots)) {
            return Some(c.clone());
        }
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(hook.roots.clone())
            .with_no_client_auth();
        match reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mailbeat/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(c) => {
                self.built.push((hook.roots.clone(), c.clone()));
                Some(c)
            }
            Err(e) => {
                tracing::error!(webhook = %hook.name, error = %e, "cannot build the webhook HTTP client");
                None
            }
        }
    }
}

async fn attempt(outbox: &Outbox, http: Option<&reqwest::Client>, hook: Option<&Webhook>, d: Due) {
    let Some(hook) = hook else {
        let error = "the webhook is no longer configured".to_string();
        events::webhook_attempted(&d.webhook, &d.delivery_id, &d.event, "failed", Some(&error));
        let _ = outbox
            .record(&d.delivery_id, Outcome::Failed { error })
            .await;
        return;
    };
    let Some(http) = http else {
        retry(
            outbox,
            &d,
            "no HTTP client for this webhook (see the log)".into(),
        )
        .await;
        return;
    };
    let now = SystemTime::now();
    if now.duration_since(d.created).unwrap_or_default() > hook.max_age {
        let error = format!(
            "older than max_age ({}) after {} attempts",
            humantime::format_duration(hook.max_age),
            d.attempts
        );
        events::webhook_attempted(&d.webhook, &d.delivery_id, &d.event, "failed", Some(&error));
        let _ = outbox
            .record(&d.delivery_id, Outcome::Failed { error })
            .await;
        return;
    }
    let mut request = http
        .post(&hook.url)
        .timeout(hook.timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Mailbeat-Event", &d.event)
        .header("X-Mailbeat-Delivery", &d.delivery_id);
    match hook.secret.as_ref().map(|s| s.read()) {
        Some(Ok(secret)) => {
            request = request.header(
                "X-Mailbeat-Signature",
                signature(secret.expose().as_bytes(), d.body.as_bytes()),
            );
        }
        Some(Err(e)) => {
            // Sending unsigned would teach the receiver to accept unsigned bodies: wait.
            let error = format!("cannot read the webhook secret: {e}");
            retry(outbox, &d, error).await;
            return;
        }
        None => {}
    }
    let sent = tokio::time::timeout(
        hook.timeout + Duration::from_millis(500),
        request.body(d.body.clone()).send(),
    )
    .await;
    match sent {
        Ok(Ok(response)) => {
            let status = response.status().as_u16();
            match status {
                200..=299 => {
                    events::webhook_attempted(
                        &d.webhook,
                        &d.delivery_id,
                        &d.event,
                        "delivered",
                        None,
                    );
                    let _ = outbox.record(&d.delivery_id, Outcome::Delivered).await;
                }
                400..=499 if status != 408 && status != 429 => {
                    let error = format!("the receiver refused the delivery: HTTP {status}");
                    events::webhook_attempted(
                        &d.webhook,
                        &d.delivery_id,
                        &d.event,
                        "failed",
                        Some(&error),
                    );
                    let _ = outbox
                        .record(&d.delivery_id, Outcome::Failed { error })
                        .await;
                }
                _ => retry(outbox, &d, format!("HTTP {status}")).await,
            }
        }
        Ok(Err(e)) => retry(outbox, &d, transport_error(e)).await,
        Err(_) => {
            retry(
                outbox,
                &d,
                format!(
                    "no answer within {}",
                    humantime::format_duration(hook.timeout)
                ),
            )
            .await
        }
    }
}

async fn retry(outbox: &Outbox, d: &Due, error: String) {
    let wait = backoff(d.attempts + 1, random_unit());
    events::webhook_attempted(
        &d.webhook,
        &d.delivery_id,
        &d.event,
        "retried",
        Some(&error),
    );
    let at = SystemTime::now() + wait;
    let _ = outbox
        .record(&d.delivery_id, Outcome::Retry { at, error })
        .await;
}

/// A transport error without the URL (it may carry a token).
fn transport_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(4, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(30, 0.0), MAX_RETRY);
        assert_eq!(backoff(3, 1.0), Duration::from_secs(2));
    }
}
