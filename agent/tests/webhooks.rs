//! Webhooks black-box: the built agent, failing targets, and a receiver on loopback that
//! verifies signatures and counts deliveries by id and incidents. A receiver that is down for a
//! while gets its deliveries later; an agent killed with SIGKILL while deliveries are pending
//! delivers them after its restart, each incident once; a receiver that hangs does not stop
//! the checks.

mod support;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

const SECRET: &str = "webhook-signing-secret-1";

/// What the receiver does with a request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Accept,
    Hang,
    /// 400: the receiver refuses this payload for good.
    Refuse,
}

#[derive(Debug, Clone)]
struct Delivery {
    id: String,
    event: String,
    signature_ok: bool,
    body: Value,
}

#[derive(Clone)]
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Delivery>>>,
    mode: Arc<Mutex<Mode>>,
}

impl Receiver {
    /// Listens on `port` (0: any) in a thread of its own.
    fn start(port: u16, mode: Mode) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let r = Receiver {
            port: listener.local_addr().unwrap().port(),
            got: Arc::default(),
            mode: Arc::new(Mutex::new(mode)),
        };
        let me = r.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let me = me.clone();
                std::thread::spawn(move || me.serve(stream));
            }
        });
        r
    }

    /// Like [`Receiver::start`], over TLS with `pki`'s server certificate.
    fn start_tls(pki: &support::pki::Pki) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let r = Receiver {
            port: listener.local_addr().unwrap().port(),
            got: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Accept)),
        };
        let config = Arc::new(
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(pki.certs("server.crt"), pki.key("server.key"))
                .unwrap(),
        );
        let me = r.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (me, config) = (me.clone(), config.clone());
                std::thread::spawn(move || {
                    let Ok(conn) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    me.serve(rustls::StreamOwned::new(conn, stream));
                });
            }
        });
        r
    }

    fn serve(&self, mut stream: impl Read + Write) {
        let mut headers = BTreeMap::new();
        let mut reader = BufReader::new(&mut stream);
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.trim_end().split_once(':') {
                headers.insert(k.to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        drop(reader);
        match *self.mode.lock().unwrap() {
            Mode::Hang => {
                std::thread::sleep(Duration::from_secs(120));
                return;
            }
            Mode::Refuse => {
                let _ = stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                return;
            }
            Mode::Accept => {}
        }
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
        let signature_ok = headers
            .get("x-mailbeat-signature")
            .and_then(|s| s.strip_prefix("sha256="))
            .and_then(|hex| {
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()
            })
            .is_some_and(|tag| ring::hmac::verify(&key, &body, &tag).is_ok());
        self.got.lock().unwrap().push(Delivery {
            id: headers
                .get("x-mailbeat-delivery")
                .cloned()
                .unwrap_or_default(),
            event: headers.get("x-mailbeat-event").cloned().unwrap_or_default(),
            signature_ok,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }
}

/// `n` targets that fail `port` at once (closed ports), checked every second, and a webhook to
/// `port` (nothing may listen there yet).
fn config(dir: &Path, n: usize, hook_port: u16) -> PathBuf {
    config_with(dir, n, hook_port, "")
}

/// [`config`] with more keys for the webhook (`, max_age: 3s`).
fn config_with(dir: &Path, n: usize, hook_port: u16, hook_extra: &str) -> PathBuf {
    std::fs::write(dir.join("hook.secret"), SECRET).unwrap();
    let mut yaml = format!(
        "global: {{state_dir: {}, every: 1s, timeout: 2s}}
alerts:
  - {{name: MailTargetUnreachable, for: 0s, keep_firing_for: 1h}}
webhooks:
  - {{name: oncall, url: \"http://127.0.0.1:{hook_port}/hook\", secret_file: hook.secret, timeout: 2s, events: [alert_firing, alert_resolved]{hook_extra}}}
targets:
",
        dir.join("state").display()
    );
    for i in 0..n {
        yaml.push_str(&format!(
            "  - {{name: box{i}, protocol: imap, host: 127.0.0.1, port: {}, tls: none, probes: [port]}}\n",
            closed_port()
        ));
    }
    let path = dir.join("mailbeat.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn firing_incidents(deliveries: &[Delivery]) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_incident: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in deliveries.iter().filter(|d| d.event == "alert_firing") {
        let incident = d.body["alert"]["incident"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        by_incident
            .entry(incident)
            .or_default()
            .insert(d.id.clone());
    }
    by_incident
}

#[test]
fn deliveries_are_signed_and_wait_out_a_receiver_that_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let hook_port = closed_port();
    let cfg = config(dir.path(), 1, hook_port);
    let agent = start_agent(&cfg, dir.path());
    // Down: the agent retries.
    assert!(
        wait_until(Duration::from_secs(20), || {
            value(
                &http(agent.port, "GET", "/metrics").1,
                "mailbeat_webhook_deliveries_total{result=\"retried\",webhook=\"oncall\"}",
            )
            .is_some_and(|v| v >= 2.0)
        }),
        "no retries while the receiver is down"
    );
    let metrics = http(agent.port, "GET", "/metrics").1;
    assert!(
        value(
            &metrics,
            "mailbeat_webhook_outbox_pending{webhook=\"oncall\"}"
        ) == Some(1.0),
        "{metrics}"
    );
    assert!(value(&metrics, "mailbeat_alert{alertname=\"MailTargetUnreachable\",target=\"box0\",severity=\"critical\",state=\"firing\"}") == Some(1.0), "{metrics}");
    let page = http(agent.port, "GET", "/").1;
    // The alert is on box0's card, with its severity and state.
    let card = page
        .split("id=\"target-box0\"")
        .nth(1)
        .and_then(|rest| rest.split("</article>").next())
        .unwrap_or_default();
    assert!(
        card.contains("Alert <strong>MailTargetUnreachable</strong> (critical, ")
            && card.contains(" firing since "),
        "the status page lists the alert:\n{page}"
    );
    // Up again: delivered, signed, once.
    let receiver = Receiver::start(hook_port, Mode::Accept);
    assert!(wait_until(Duration::from_secs(30), || !receiver
        .deliveries()
        .is_empty()));
    std::thread::sleep(Duration::from_secs(2));
    let got = receiver.deliveries();
    assert_eq!(got.len(), 1, "{got:?}");
    let d = &got[0];
    assert!(d.signature_ok, "the signature verifies over the exact body");
    assert_eq!(
        d.body["delivery_id"],
        d.id.as_str(),
        "the header id is the body's"
    );
    assert_eq!(d.body["event"], "alert_firing");
    assert_eq!(d.body["target"]["name"], "box0");
    assert_eq!(d.body["reason"], "connection_refused");
    assert!(d.body["remediation"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    let metrics = http(agent.port, "GET", "/metrics").1;
    assert_eq!(
        value(
            &metrics,
            "mailbeat_webhook_outbox_pending{webhook=\"oncall\"}"
        ),
        Some(0.0)
    );
    assert!(
        !metrics.contains(SECRET)
            && !std::fs::read_to_string(&agent.log)
                .unwrap()
                .contains(SECRET)
    );
}

#[test]
fn a_sigkill_with_deliveries_pending_loses_none_and_repeats_no_incident() {
    let dir = tempfile::tempdir().unwrap();
    let hook_port = closed_port();
    let cfg = config(dir.path(), 3, hook_port);
    let mut agent = start_agent(&cfg, dir.path());
    assert!(wait_until(Duration::from_secs(20), || {
        value(
            &http(agent.port, "GET", "/metrics").1,
            "mailbeat_webhook_outbox_pending{webhook=\"oncall\"}",
        ) == Some(3.0)
    }));
    agent.child.kill().unwrap(); // SIGKILL
    let _ = agent.child.wait();
    let receiver = Receiver::start(hook_port, Mode::Accept);
    let agent = start_agent(&cfg, dir.path());
    assert!(wait_until(Duration::from_secs(30), || {
        firing_incidents(&receiver.deliveries()).len() == 3
    }));
    // Checks keep failing after the restart: the incidents are the same, nothing new is sent.
    std::thread::sleep(Duration::from_secs(3));
    let by_incident = firing_incidents(&receiver.deliveries());
    assert_eq!(by_incident.len(), 3, "{by_incident:?}");
    for (incident, ids) in &by_incident {
        assert_eq!(ids.len(), 1, "incident {incident} delivered under {ids:?}");
    }
    assert!(receiver.deliveries().iter().all(|d| d.signature_ok));
    drop(agent);
}

#[test]
fn a_hanging_receiver_does_not_stop_the_checks() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(0, Mode::Hang);
    let cfg = config(dir.path(), 2, receiver.port);
    let agent = start_agent(&cfg, dir.path());
    let runs = |m: &str| {
        value(
            m,
            "mailbeat_probe_runs_total{target=\"box0\",probe=\"port\",status=\"critical\"}",
        )
        .unwrap_or(0.0)
    };
    assert!(wait_until(Duration::from_secs(20), || {
        value(
            &http(agent.port, "GET", "/metrics").1,
            "mailbeat_webhook_deliveries_total{result=\"retried\",webhook=\"oncall\"}",
        )
        .is_some_and(|v| v >= 1.0)
    }));
    let before = runs(&http(agent.port, "GET", "/metrics").1);
    std::thread::sleep(Duration::from_secs(4));
    let after = runs(&http(agent.port, "GET", "/metrics").1);
    assert!(
        after >= before + 2.0,
        "checks stalled behind the hanging receiver: {before} -> {after}"
    );
}

/// A Microsoft-style account whose refresh token died, the whole incident black-box:
/// `mailbeat_alert` pending then firing; the receiver down and the agent killed with SIGKILL
/// while the deliveries wait; after the restart exactly one signed `reauth_required` for the
/// incident, with the status page's `reauth_url` and a live device code; the person signs in
/// with that code, the agent stores the grant, and `alert_resolved` follows.
#[test]
fn a_dead_grant_pages_once_through_downtime_and_sigkill_and_resolves_after_reauthorization() {
    use support::idp::{Flavor, Idp, CLIENT_ID};
    let idp = Idp::start(Flavor::Microsoft);
    let grant = idp.grant("nas@example.com");
    // The password changed: Microsoft revokes the refresh token (AADSTS50173).
    idp.revoke("nas@example.com");
    idp.set_device_interval(Duration::from_secs(1));
    let hook_port = closed_port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hook.secret"), SECRET).unwrap();
    std::fs::write(dir.path().join("seed.rt"), &grant.refresh_token).unwrap();
    let yaml = format!(
        "global: {{state_dir: {state}, every: 1s, timeout: 3s}}
alerts:
  - {{name: MailReauthRequired, for: 2s, keep_firing_for: 0s}}
webhooks:
  - {{name: oncall, url: \"http://127.0.0.1:{hook_port}/hook\", secret_file: hook.secret, timeout: 2s}}
targets:
  - name: nas
    protocol: smtp
    host: 127.0.0.1
    port: {closed}
    tls: implicit
    account:
      username: nas@example.com
      oauth:
        provider: microsoft
        client_id: {CLIENT_ID}
        refresh_token_file: seed.rt
        token_url: {token}
        device_authorization_url: {device}
        ca_file: {ca}
    probes: [{{token: {{refresh_interval: 1s}}}}]
",
        state = dir.path().join("state").display(),
        closed = closed_port(),
        token = idp.token_url(),
        device = idp.device_authorization_url(),
        ca = idp.ca_file().display(),
    );
    let cfg = dir.path().join("mailbeat.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    let url = ["--web.external-url", "https://mailbeat.example.net:9725/"];
    let alert = |state: &str| {
        format!("mailbeat_alert{{alertname=\"MailReauthRequired\",target=\"nas\",severity=\"critical\",state=\"{state}\"}}")
    };
    let mut agent = start_agent_with(&cfg, dir.path(), &url);
    assert!(wait_until(Duration::from_secs(20), || value(
        &http(agent.port, "GET", "/metrics").1,
        &alert("pending")
    ) == Some(1.0)));
    assert!(wait_until(Duration::from_secs(20), || {
        let m = http(agent.port, "GET", "/metrics").1;
        value(&m, &alert("firing")) == Some(1.0)
            && value(
                &m,
                "mailbeat_webhook_deliveries_total{result=\"retried\",webhook=\"oncall\"}",
            )
            .is_some_and(|v| v >= 2.0)
    }));
    agent.child.kill().unwrap(); // SIGKILL, the deliveries still pending
    let _ = agent.child.wait();
    let receiver = Receiver::start(hook_port, Mode::Accept);
    let agent = start_agent_with(&cfg, dir.path(), &url);
    let reauth = |r: &Receiver| {
        r.deliveries()
            .into_iter()
            .filter(|d| d.event == "reauth_required")
            .collect::<Vec<_>>()
    };
    assert!(wait_until(Duration::from_secs(30), || !reauth(&receiver).is_empty()));
    // The token check keeps failing every second; the incident stays one delivery.
    std::thread::sleep(Duration::from_secs(3));
    let sent = reauth(&receiver);
    let ids: BTreeSet<_> = sent.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), 1, "{sent:?}");
    let d = &sent[0];
    assert!(d.signature_ok);
    assert_eq!(
        d.body["reason"], "oauth_refresh_token_revoked",
        "{:#}",
        d.body
    );
    assert_eq!(
        d.body["reauth_url"],
        "https://mailbeat.example.net:9725/reauth/nas"
    );
    assert!(d.body["remediation"]
        .as_str()
        .unwrap()
        .contains("mailbeat reauth nas"));
    let code = &d.body["device_code"];
    assert!(
        code["user_code"].as_str().is_some_and(|c| !c.is_empty()),
        "{:#}",
        d.body
    );
    assert!(code["verification_uri"].as_str().is_some());
    assert!(code["expires_at"].as_str().is_some());
    for d in receiver.deliveries() {
        let text = d.body.to_string();
        assert!(!text.contains(&grant.refresh_token) && !text.contains(&grant.access_token));
        assert!(!text.contains(SECRET));
    }

    // The person signs in with the code from the payload: the agent's poller stores the grant,
    // the next token check passes, and the incident resolves.
    assert!(idp.approve_device(code["user_code"].as_str().unwrap(), "nas@example.com"));
    assert!(
        wait_until(Duration::from_secs(30), || receiver
            .deliveries()
            .iter()
            .any(|d| d.event == "alert_resolved")),
        "no alert_resolved; agent log:\n{}",
        std::fs::read_to_string(&agent.log).unwrap_or_default()
    );
    let resolved: Vec<_> = receiver
        .deliveries()
        .into_iter()
        .filter(|d| d.event == "alert_resolved" && d.body["alert"]["name"] == "MailReauthRequired")
        .collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(
        resolved[0].body["alert"]["incident"],
        d.body["alert"]["incident"]
    );
    let firing: Vec<_> = receiver
        .deliveries()
        .into_iter()
        .filter(|x| x.event == "alert_firing" && x.body["alert"]["name"] == "MailReauthRequired")
        .collect();
    assert_eq!(firing.len(), 1, "one alert_firing for the incident");
}

fn counter(agent: &Agent, result: &str) -> f64 {
    value(
        &http(agent.port, "GET", "/metrics").1,
        &format!("mailbeat_webhook_deliveries_total{{result=\"{result}\",webhook=\"oncall\"}}"),
    )
    .unwrap_or(0.0)
}

#[test]
fn a_4xx_fails_at_once_and_a_delivery_past_max_age_is_given_up() {
    // 400: failed on the first attempt, never retried.
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(0, Mode::Refuse);
    let agent = start_agent(&config(dir.path(), 1, receiver.port), dir.path());
    assert!(wait_until(Duration::from_secs(20), || counter(
        &agent, "failed"
    ) == 1.0));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(counter(&agent, "retried"), 0.0);
    assert_eq!(counter(&agent, "failed"), 1.0);
    drop(agent);

    // A receiver that stays down: retried until max_age, then given up.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_with(dir.path(), 1, closed_port(), ", max_age: 3s");
    let agent = start_agent(&cfg, dir.path());
    assert!(wait_until(Duration::from_secs(60), || counter(
        &agent, "failed"
    ) == 1.0));
    assert!(counter(&agent, "retried") >= 1.0);
    let m = http(agent.port, "GET", "/metrics").1;
    assert_eq!(
        value(&m, "mailbeat_webhook_outbox_pending{webhook=\"oncall\"}"),
        Some(0.0)
    );
    let log = std::fs::read_to_string(&agent.log).unwrap();
    assert!(log.contains("older than max_age"), "{log}");
}

/// A receiver with a private CA: delivered with the webhook's `ca_file`, refused (and retried)
/// without it.
#[test]
fn a_receiver_with_a_private_ca_is_trusted_through_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = support::pki::Pki::new(dir.path());
    let receiver = Receiver::start_tls(&pki);
    let yaml = |ca: &str| {
        format!(
            "global: {{state_dir: {}, every: 1s, timeout: 2s}}
alerts:
  - {{name: MailTargetUnreachable, for: 0s}}
webhooks:
  - {{name: oncall, url: \"https://127.0.0.1:{}/hook\", timeout: 2s{ca}}}
targets:
  - {{name: box0, protocol: imap, host: 127.0.0.1, port: {}, tls: none, probes: [port]}}
",
            dir.path().join("state").display(),
            receiver.port,
            closed_port()
        )
    };
    let cfg = dir.path().join("mailbeat.yaml");
    std::fs::write(&cfg, yaml("")).unwrap();
    let agent = start_agent(&cfg, dir.path());
    assert!(wait_until(Duration::from_secs(20), || counter(
        &agent, "retried"
    ) >= 1.0));
    assert!(
        receiver.deliveries().is_empty(),
        "an unknown CA is not trusted"
    );
    drop(agent);
    std::fs::write(&cfg, yaml(&format!(", ca_file: {}", pki.path("ca.crt")))).unwrap();
    let agent = start_agent(&cfg, dir.path());
    assert!(
        wait_until(Duration::from_secs(30), || !receiver
            .deliveries()
            .is_empty()),
        "{}",
        std::fs::read_to_string(&agent.log).unwrap_or_default()
    );
    assert_eq!(receiver.deliveries()[0].event, "alert_firing");
}
