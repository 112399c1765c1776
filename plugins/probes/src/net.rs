//! Connecting to a target, and naming what went wrong when it fails.
//!
//! Every step is bounded by the check's deadline; a step that runs out of time says which step it
//! was, so "the firewall drops SYNs" (`connection_timeout`) is told apart from "the server accepted
//! and said nothing" (`server_timeout`).

use crate::Failure;
use mailbeat_sdk::{ProbeContext, Reason, Target};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// A TCP connection and how long it took to set up.
#[derive(Debug)]
pub struct Connected {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// Time from the first connect attempt to the established connection (DNS excluded).
    pub connect_duration: Duration,
}

/// Runs one network step under what is left of the check's deadline. On time-out the failure is
/// `reason` with "timed out {what}".
pub async fn within<T>(
    ctx: &ProbeContext,
    reason: Reason,
    what: &str,
    step: impl Future<Output = T>,
) -> Result<T, Failure> {
    tokio::time::timeout(ctx.remaining(), step)
        .await
        .map_err(|_| Failure::critical(reason, format!("timed out {what}")))
}

/// Resolves the target's host; an error or an empty answer is `dns_failure`.
pub async fn resolve(target: &Target, ctx: &ProbeContext) -> Result<Vec<SocketAddr>, Failure> {
    let host = target.host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, target.port)]);
    }
    let lookup = tokio::net::lookup_host((host, target.port));
    let addrs: Vec<SocketAddr> = within(ctx, Reason::DnsFailure, "resolving the host name", lookup)
        .await?
        .map_err(|e| Failure::critical(Reason::DnsFailure, format!("cannot resolve {host}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(Failure::critical(
            Reason::DnsFailure,
            format!("{host} has no address"),
        ));
    }
    Ok(addrs)
}

/// Resolves and connects, trying each address in turn. The failure of the last address is the
/// one reported, since that is what `telnet host port` would have shown.
pub async fn connect(target: &Target, ctx: &ProbeContext) -> Result<Connected, Failure> {
    let addrs = resolve(target, ctx).await?;
    let started = Instant::now();
    let mut last = None;
    for addr in addrs {
        let attempt = within(
            ctx,
            Reason::ConnectionTimeout,
            &format!("connecting to {addr} (no answer; a firewall may drop the packets)"),
            TcpStream::connect(addr),
        )
        .await?;
        match attempt {
            Ok(stream) => {
                // Probe dialogues are short request/response exchanges; Nagle only adds latency.
                let _ = stream.set_nodelay(true);
                return Ok(Connected {
                    stream,
                    peer: addr,
                    connect_duration: started.elapsed(),
                });
            }
            Err(e) => last = Some(classify_connect_error(addr, &e)),
        }
    }
    Err(last.unwrap_or_else(|| Failure::critical(Reason::DnsFailure, "no address to connect to")))
}

/// Names an error from `connect()`.
pub fn classify_connect_error(addr: SocketAddr, e: &io::Error) -> Failure {
    let reason = match e.kind() {
        io::ErrorKind::ConnectionRefused => Reason::ConnectionRefused,
        io::ErrorKind::TimedOut => Reason::ConnectionTimeout,
        io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::AddrNotAvailable => Reason::NetworkUnreachable,
        _ => Reason::ConnectionRefused,
    };
    Failure::critical(reason, format!("connect to {addr} failed: {e}"))
}
