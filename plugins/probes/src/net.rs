//! Connecting to a target, and naming what went wrong when it fails.
//!
//! Every step is bounded by the check's deadline; a step that runs out of time says which step it
//! was, so "the firewall drops SYNs" (`connection_timeout`) is told apart from "the server accepted
//! and said nothing" (`server_timeout`).

use crate::io::QuickAck;
use crate::Failure;
use mailbeat_sdk::{ProbeContext, Reason, Status, Target};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;

/// A TCP connection and how long it took to set up.
#[derive(Debug)]
pub struct Connected {
    pub stream: QuickAck,
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
    within_named(ctx, reason, step, || what.to_string()).await
}

/// As [`within`], with the step named (`what`, as "timed out {what}") only when it did time out:
/// a dialogue names every line it waits for, and formatting that name on each read was an
/// allocation per line for a message that is almost never shown.
pub async fn within_named<T>(
    ctx: &ProbeContext,
    reason: Reason,
    step: impl Future<Output = T>,
    what: impl FnOnce() -> String,
) -> Result<T, Failure> {
    tokio::time::timeout(ctx.remaining(), step)
        .await
        .map_err(|_| Failure::critical(reason, format!("timed out {}", what())))
}

pub use mailbeat_sdk::target::bare_host;

/// The `port_connect_duration_seconds` observation every probe that connects reports.
pub fn connect_duration_metric() -> mailbeat_sdk::MetricDesc {
    mailbeat_sdk::MetricDesc::new(
        "port_connect_duration_seconds",
        "Time to establish the TCP connection to the target.",
    )
}

/// Resolves the target's host; an error or an empty answer is `dns_failure`.
pub async fn resolve(target: &Target, ctx: &ProbeContext) -> Result<Vec<SocketAddr>, Failure> {
    let host = bare_host(&target.host);
    let port = target.port.ok_or_else(|| {
        Failure::new(
            mailbeat_sdk::Status::Unknown,
            Reason::ConfigError,
            format!("target {} has no port to connect to", target.name),
        )
    })?;
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let lookup = tokio::net::lookup_host((host, port));
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

/// Resolves and connects; see [`connect_addrs`].
pub async fn connect(target: &Target, ctx: &ProbeContext) -> Result<Connected, Failure> {
    let addrs = resolve(target, ctx).await?;
    connect_addrs(&addrs, target.source_address, ctx).await
}

/// The least time one address is given when more than one is left to try (unless less than this
/// remains of the deadline in all).
pub const MIN_ATTEMPT: Duration = Duration::from_millis(250);

/// How long to wait for one address when `left` addresses (this one included) remain to be tried
/// in `remaining`: an equal share, at least [`MIN_ATTEMPT`], never more than `remaining`. The last
/// address gets all that is left.
pub fn attempt_budget(remaining: Duration, left: usize) -> Duration {
    let share = remaining / u32::try_from(left.max(1)).unwrap_or(u32::MAX);
    share.max(MIN_ATTEMPT).min(remaining)
}

/// Connects to each address in turn, each with its share of the deadline ([`attempt_budget`]), so
/// one address that drops packets (a black-holed IPv6 route on a dual-stack host, say) does not
/// eat the time of the others. When none answers, the failure of the last address is reported,
/// since that is what `telnet host port` would have shown, with the earlier ones mentioned.
pub async fn connect_addrs(
    addrs: &[SocketAddr],
    source: Option<IpAddr>,
    ctx: &ProbeContext,
) -> Result<Connected, Failure> {
    let started = Instant::now();
    // A source address reaches only addresses of its own family; the others are not tried (and
    // take no share of the deadline).
    let reachable: Vec<SocketAddr> = addrs
        .iter()
        .copied()
        .filter(|a| source.is_none_or(|s| s.is_ipv4() == a.is_ipv4()))
        .collect();
    if let (Some(source), true, Some(first)) = (source, reachable.is_empty(), addrs.first()) {
        return Err(Failure::new(
            Status::Unknown,
            Reason::ConfigError,
            format!("source_address {source} cannot reach {first} (another address family)"),
        ));
    }
    let addrs = reachable.as_slice();
    let mut failures: Vec<Failure> = Vec::new();
    for (i, &addr) in addrs.iter().enumerate() {
        let socket = match socket_from(source, addr) {
            Ok(socket) => socket,
            Err(f) => {
                failures.push(f);
                continue;
            }
        };
        let budget = attempt_budget(ctx.remaining(), addrs.len() - i);
        let attempt = tokio::time::timeout(budget, socket.connect(addr)).await;
        match attempt {
            Ok(Ok(stream)) => {
                // Probe dialogues are short request/response exchanges; Nagle only adds latency.
                let _ = stream.set_nodelay(true);
                return Ok(Connected {
                    stream: QuickAck::new(stream),
                    peer: addr,
                    connect_duration: started.elapsed(),
                });
            }
            Ok(Err(e)) => failures.push(classify_connect_error(addr, &e)),
            Err(_) => failures.push(Failure::critical(
                Reason::ConnectionTimeout,
                format!(
                    "timed out connecting to {addr} (no answer; a firewall may drop the packets)"
                ),
            )),
        }
    }
    let Some(mut last) = failures.pop() else {
        return Err(Failure::critical(
            Reason::DnsFailure,
            "no address to connect to",
        ));
    };
    if !failures.is_empty() {
        let earlier: Vec<String> = failures.iter().map(|f| f.message.clone()).collect();
        last.message = format!("{}; before that: {}", last.message, earlier.join("; "));
    }
    Err(last)
}

/// A socket to connect to `addr` with, bound to `source` (of the same family) when one is set. A
/// source that is no address of this host is the configuration's fault.
fn socket_from(source: Option<IpAddr>, addr: SocketAddr) -> Result<TcpSocket, Failure> {
    let config_error = |why: String| Failure::new(Status::Unknown, Reason::ConfigError, why);
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| Failure::critical(Reason::InternalError, format!("cannot open a socket: {e}")))?;
    let Some(source) = source else {
        return Ok(socket);
    };
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| config_error(format!("cannot connect from source_address {source}: {e}")))?;
    Ok(socket)
}

/// Names an error from `connect()`. A local firewall that rejects (`EACCES`/`EPERM`) is as much
/// "no way there" as an unreachable network.
pub fn classify_connect_error(addr: SocketAddr, e: &io::Error) -> Failure {
    let reason = match e.kind() {
        io::ErrorKind::ConnectionRefused => Reason::ConnectionRefused,
        io::ErrorKind::TimedOut => Reason::ConnectionTimeout,
        io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::AddrNotAvailable
        | io::ErrorKind::PermissionDenied => Reason::NetworkUnreachable,
        _ => Reason::ConnectionRefused,
    };
    Failure::critical(reason, format!("connect to {addr} failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::net::TcpStream;

    fn ctx(timeout: Duration) -> ProbeContext {
        ProbeContext::new(timeout, Arc::new(rustls::RootCertStore::empty()))
    }

    #[test]
    fn brackets_are_trimmed_only_as_a_pair() {
        assert_eq!(bare_host("[::1]"), "::1");
        assert_eq!(bare_host("::1"), "::1");
        assert_eq!(bare_host("mail.test"), "mail.test");
        assert_eq!(bare_host("[::1"), "[::1");
    }

    #[test]
    fn each_address_gets_a_share_of_the_deadline() {
        let ms = Duration::from_millis;
        assert_eq!(attempt_budget(ms(10_000), 2), ms(5_000));
        assert_eq!(attempt_budget(ms(9_000), 3), ms(3_000));
        // The last address gets what is left.
        assert_eq!(attempt_budget(ms(7_000), 1), ms(7_000));
        // Never less than the minimum while there is that much time ...
        assert_eq!(attempt_budget(ms(1_000), 8), MIN_ATTEMPT);
        // ... and never more than there is.
        assert_eq!(attempt_budget(ms(100), 3), ms(100));
        assert_eq!(attempt_budget(Duration::ZERO, 2), Duration::ZERO);
        assert_eq!(attempt_budget(ms(1_000), 0), ms(1_000));
    }

    #[test]
    fn a_rejecting_local_firewall_is_network_unreachable() {
        let addr: SocketAddr = "127.0.0.1:25".parse().unwrap();
        for kind in [
            io::ErrorKind::PermissionDenied,
            io::ErrorKind::HostUnreachable,
        ] {
            let f = classify_connect_error(addr, &io::Error::from(kind));
            assert_eq!(f.reason, Reason::NetworkUnreachable, "{kind:?}");
        }
        let f = classify_connect_error(addr, &io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(f.reason, Reason::ConnectionRefused);
    }

    /// A loopback address whose connects go unanswered: a listener with a backlog of one that
    /// never accepts, filled up until the kernel drops further SYNs. `None` where the kernel
    /// does not behave that way.
    async fn loopback_black_hole() -> Option<(SocketAddr, tokio::net::TcpListener, Vec<TcpStream>)>
    {
        let socket = tokio::net::TcpSocket::new_v4().ok()?;
        socket.bind("127.0.0.1:0".parse().ok()?).ok()?;
        let listener = socket.listen(1).ok()?;
        let addr = listener.local_addr().ok()?;
        let mut held = Vec::new();
        for _ in 0..16 {
            let attempt =
                tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr));
            match attempt.await {
                Ok(Ok(stream)) => held.push(stream),
                Ok(Err(_)) => return None,
                Err(_) => return Some((addr, listener, held)),
            }
        }
        None
    }

    #[tokio::test]
    async fn an_address_that_drops_packets_does_not_eat_the_next_ones_time() {
        // A test that cannot build its premise fails: it never passes by returning early.
        let Some((hole, _listener, _held)) = loopback_black_hole().await else {
            panic!("cannot make a loopback black hole here (a full listen backlog on 127.0.0.1)");
        };
        let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let good = open.local_addr().unwrap();
        let started = Instant::now();
        let connected = connect_addrs(&[hole, good], None, &ctx(Duration::from_secs(2)))
            .await
            .unwrap_or_else(|f| panic!("{f}"));
        assert_eq!(connected.peer, good);
        assert!(
            started.elapsed() < Duration::from_millis(1_800),
            "{:?}",
            started.elapsed()
        );

        // When every address fails, the last failure is the answer and the others are named.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let f = connect_addrs(&[hole, closed], None, &ctx(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert_eq!(f.reason, Reason::ConnectionRefused, "{f}");
        assert!(
            f.message
                .contains(&format!("timed out connecting to {hole}")),
            "{f}"
        );
    }

    #[tokio::test]
    async fn connects_from_the_source_address_and_names_a_bad_one() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let source: IpAddr = "127.0.0.2".parse().unwrap();
        let c = connect_addrs(&[addr], Some(source), &ctx(Duration::from_secs(2)))
            .await
            .unwrap();
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(peer.ip(), source, "the server sees the source address");
        drop(c);

        // A host with an IPv6 and an IPv4 address: the IPv6 one is not tried from an IPv4 source,
        // and the IPv4 one's own failure is what counts.
        let closed = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        let f = connect_addrs(&[v6, closed], Some(source), &ctx(Duration::from_secs(2)))
            .await
            .unwrap_err();
        assert_eq!(f.reason, Reason::ConnectionRefused, "{}", f.message);
        assert!(!f.message.contains("::1"), "{}", f.message);

        for (bad, words) in [
            ("::1", "another address family"),
            // TEST-NET-1: no address of this host, so the bind fails before any packet is sent.
            ("192.0.2.1", "cannot connect from source_address 192.0.2.1"),
        ] {
            let bad: IpAddr = bad.parse().unwrap();
            let f = connect_addrs(&[addr], Some(bad), &ctx(Duration::from_secs(2)))
                .await
                .unwrap_err();
            assert_eq!((f.status, f.reason), (Status::Unknown, Reason::ConfigError));
            assert!(f.message.contains(words), "{}", f.message);
        }
    }
}
