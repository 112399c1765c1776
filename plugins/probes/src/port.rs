//! `port`: can we reach the service at all? What an admin tests with `telnet host 993`.
//!
//! Resolves the host, connects, measures the connect time and, on plaintext and STARTTLS ports,
//! reads the greeting so a peer that accepts and then says nothing (a wedged server, a firewall
//! proxy) is caught too. On implicit-TLS ports the greeting only comes after the handshake, which
//! is the `tls` probe's job.

use crate::{dialogue, net, require_mail, Failure};
use async_trait::async_trait;
use mailbeat_sdk::{
    parse_options, Check, CheckResult, MetricDesc, OptionsError, Probe, ProbeContext, Protocol,
    Target, TlsMode,
};
use serde::Deserialize;
use std::sync::Arc;

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

impl Probe for PortProbe {
    fn name(&self) -> &str {
        "port"
    }

    fn is_default_for(&self, target: &Target) -> bool {
        target.mail().is_some()
    }

    fn metrics(&self) -> Vec<MetricDesc> {
        vec![net::connect_duration_metric()]
    }

    fn configure(
        &self,
        target: &Target,
        options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError> {
        let options: PortOptions = parse_options(options)?;
        let protocol = require_mail(self.name(), target)?.protocol;
        let read_greeting = options.greeting.unwrap_or(target.tls != TlsMode::Implicit);
        Ok(Arc::new(PortCheck {
            greeting: read_greeting.then_some(protocol),
        }))
    }
}

/// The `port` probe configured for one target.
#[derive(Debug)]
struct PortCheck {
    /// Read and check the greeting of this protocol after connecting.
    greeting: Option<Protocol>,
}

#[async_trait]
impl Check for PortCheck {
    async fn run(&self, target: &Target, ctx: &ProbeContext) -> CheckResult {
        match check_port(target, ctx, self.greeting).await {
            Ok(result) => result,
            Err(failure) => failure.into(),
        }
    }
}

async fn check_port(
    target: &Target,
    ctx: &ProbeContext,
    greeting: Option<Protocol>,
) -> Result<CheckResult, Failure> {
    let connected = net::connect(target, ctx).await?;
    let connect_seconds = connected.connect_duration.as_secs_f64();
    let mut message = format!(
        "connected to {} in {:.1} ms",
        connected.peer,
        connect_seconds * 1000.0
    );
    let mut result = CheckResult::ok("");
    if let Some(protocol) = greeting {
        let mut d = dialogue::Dialogue::new(connected.stream);
        match dialogue::greeting(&mut d, protocol, ctx).await {
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
