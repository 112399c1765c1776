//! `port`: can we reach the service at all? What an admin tests with `telnet host 993`.
//!
//! Resolves the host, connects, measures the connect time and, on plaintext and STARTTLS ports,
//! reads the greeting so a peer that accepts and then says nothing (a wedged server, a firewall
//! proxy) is caught too. On implicit-TLS ports the greeting only comes after the handshake, which
//! is the `tls` probe's job.

use crate::{dialogue, net, Failure};
use async_trait::async_trait;
use mailbeat_sdk::{CheckResult, Probe, ProbeContext, Target, TlsMode};
use serde::Deserialize;

/// Options of the `port` probe.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortOptions {
    /// Read and check the greeting. Default: yes unless the port speaks implicit TLS.
    pub greeting: Option<bool>,
}

/// The `port` probe.
#[derive(Debug, Default)]
pub struct PortProbe;

#[async_trait]
impl Probe for PortProbe {
    fn name(&self) -> &'static str {
        "port"
    }

    fn validate(&self, _target: &Target, options: &serde_json::Value) -> Result<(), String> {
        if options.is_null() {
            return Ok(());
        }
        serde_json::from_value::<PortOptions>(options.clone())
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn check(&self, target: &Target, ctx: &ProbeContext) -> CheckResult {
        let options: PortOptions = match ctx.options() {
            Ok(o) => o,
            Err(e) => return Failure::critical(mailbeat_sdk::Reason::ConfigError, e).into(),
        };
        let read_greeting = options.greeting.unwrap_or(target.tls != TlsMode::Implicit);
        match check_port(target, ctx, read_greeting).await {
            Ok(result) => result,
            Err(failure) => failure.into(),
        }
    }
}

async fn check_port(
    target: &Target,
    ctx: &ProbeContext,
    read_greeting: bool,
) -> Result<CheckResult, Failure> {
    let connected = net::connect(target, ctx).await?;
    let connect_seconds = connected.connect_duration.as_secs_f64();
    let mut message = format!(
        "connected to {} in {:.1} ms",
        connected.peer,
        connect_seconds * 1000.0
    );
    let mut result = CheckResult::ok("");
    if read_greeting {
        let mut d = dialogue::Dialogue::new(connected.stream);
        match dialogue::greeting(&mut d, target.protocol, ctx).await {
            Ok(greeting) => {
                message.push_str(&format!("; greeting: {}", dialogue::printable(&greeting)));
                result = result.detail("greeting", dialogue::printable(&greeting));
            }
            Err(f) => {
                // The port is open even though the service is not healthy: keep the timing.
                return Ok(CheckResult::from(f)
                    .observe("port_connect_duration_seconds", connect_seconds)
                    .detail("peer", connected.peer.to_string()));
            }
        }
    }
    result.message = message;
    Ok(result
        .observe("port_connect_duration_seconds", connect_seconds)
        .detail("peer", connected.peer.to_string()))
}
