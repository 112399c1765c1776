//! The `port` probe against real loopback listeners: open with a greeting, closed, a peer that
//! accepts and says nothing, a peer that sends garbage, a refusal greeting, an unresolvable name.

use mailbeat_probes::port::PortProbe;
use mailbeat_sdk::{CheckResult, ProbeContext, Protocol, Reason, Status, Target, TlsMode};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

fn target(protocol: Protocol, host: &str, port: u16, tls: TlsMode) -> Target {
    Target {
        name: "t".into(),
        protocol: Some(protocol),
        host: host.into(),
        port: Some(port),
        tls,
        tls_server_name: None,
        ca_file: None,
        source_address: None,
        provider: None,
        account: None,
        labels: Default::default(),
        migration_domain: None,
    }
}

/// Runs the `port` probe once, with no options.
async fn port_check(t: &Target, ctx: &ProbeContext) -> CheckResult {
    mailbeat_sdk::check_once(&PortProbe, t, &serde_json::Value::Null, ctx).await
}

fn ctx(timeout: Duration) -> ProbeContext {
    ProbeContext::new(timeout, Arc::new(rustls::RootCertStore::empty()))
}

/// A listener that writes `greeting` to every connection (nothing when `None`) and keeps it open.
async fn server(greeting: Option<&'static [u8]>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = listener.accept().await {
            if let Some(g) = greeting {
                let _ = s.write_all(g).await;
            }
            held.push(s);
        }
    });
    port
}

#[tokio::test]
async fn open_port_with_greeting_is_ok_and_timed() {
    for (protocol, greeting) in [
        (Protocol::Smtp, &b"220-mail.test ESMTP\r\n220 ready\r\n"[..]),
        (
            Protocol::Imap,
            &b"* OK [CAPABILITY IMAP4rev1] ready\r\n"[..],
        ),
        (Protocol::Pop3, &b"+OK POP3 ready\r\n"[..]),
    ] {
        let port = server(Some(greeting)).await;
        let r = port_check(
            &target(protocol, "127.0.0.1", port, TlsMode::Starttls),
            &ctx(Duration::from_secs(2)),
        )
        .await;
        assert_eq!(r.status, Status::Ok, "{protocol}: {r:?}");
        assert!(r.observations["port_connect_duration_seconds"] >= 0.0);
        assert!(r.message.contains("greeting"), "{}", r.message);
    }
}

#[tokio::test]
async fn closed_port_is_connection_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = port_check(
        &target(Protocol::Imap, "127.0.0.1", port, TlsMode::Implicit),
        &ctx(Duration::from_secs(2)),
    )
    .await;
    assert_eq!(
        (r.status, r.reason),
        (Status::Critical, Some(Reason::ConnectionRefused)),
        "{r:?}"
    );
}

#[tokio::test]
async fn silent_peer_is_server_timeout_within_the_deadline() {
    let port = server(None).await;
    let started = Instant::now();
    let r = port_check(
        &target(Protocol::Smtp, "127.0.0.1", port, TlsMode::Starttls),
        &ctx(Duration::from_millis(500)),
    )
    .await;
    assert_eq!(r.reason, Some(Reason::ServerTimeout), "{r:?}");
    assert!(r.message.contains("said nothing"), "{}", r.message);
    assert!(started.elapsed() < Duration::from_millis(1500));
    // The connection itself worked: its timing is still reported.
    assert!(r.observations.contains_key("port_connect_duration_seconds"));
}

#[tokio::test]
async fn implicit_tls_port_is_not_expected_to_greet_in_plaintext() {
    let port = server(None).await;
    let r = port_check(
        &target(Protocol::Imap, "127.0.0.1", port, TlsMode::Implicit),
        &ctx(Duration::from_millis(500)),
    )
    .await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
}

#[tokio::test]
async fn garbage_and_refusals_are_named() {
    let port = server(Some(b"\x16\x03\x01\x00\xff garbage\r\n")).await;
    let r = port_check(
        &target(Protocol::Imap, "127.0.0.1", port, TlsMode::Starttls),
        &ctx(Duration::from_secs(2)),
    )
    .await;
    assert_eq!(r.reason, Some(Reason::BadGreeting), "{r:?}");
    let port = server(Some(b"554 5.3.2 mail.test no service for you\r\n")).await;
    let r = port_check(
        &target(Protocol::Smtp, "127.0.0.1", port, TlsMode::Starttls),
        &ctx(Duration::from_secs(2)),
    )
    .await;
    assert_eq!(r.reason, Some(Reason::ServerUnavailable), "{r:?}");
    assert!(r.message.contains("554 5.3.2"));
    let port = server(Some(b"* BYE too many connections\r\n")).await;
    let r = port_check(
        &target(Protocol::Imap, "127.0.0.1", port, TlsMode::None),
        &ctx(Duration::from_secs(2)),
    )
    .await;
    assert_eq!(r.reason, Some(Reason::ServerUnavailable), "{r:?}");
}

#[tokio::test]
async fn peer_that_closes_at_once_is_a_bad_greeting() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    let r = port_check(
        &target(Protocol::Pop3, "127.0.0.1", port, TlsMode::Starttls),
        &ctx(Duration::from_secs(2)),
    )
    .await;
    assert_eq!(r.reason, Some(Reason::BadGreeting), "{r:?}");
}

#[tokio::test]
async fn unresolvable_name_is_dns_failure() {
    let r = port_check(
        &target(
            Protocol::Smtp,
            "does-not-exist.invalid",
            25,
            TlsMode::Starttls,
        ),
        &ctx(Duration::from_secs(5)),
    )
    .await;
    assert_eq!(r.reason, Some(Reason::DnsFailure), "{r:?}");
}

#[tokio::test]
async fn ipv6_loopback_works() {
    // Loopback ::1 is part of the premise (every CI machine has it): fail, never skip, without it.
    let listener = TcpListener::bind("[::1]:0")
        .await
        .expect("this test needs the IPv6 loopback ::1");
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(b"+OK hi\r\n").await;
        }
    });
    // Bare or in brackets, as a URL would write it.
    for host in ["::1", "[::1]"] {
        let r = port_check(
            &target(Protocol::Pop3, host, port, TlsMode::Starttls),
            &ctx(Duration::from_secs(2)),
        )
        .await;
        assert_eq!(r.status, Status::Ok, "{host}: {r:?}");
    }
}
