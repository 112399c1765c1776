//! The `tls` probe against servers that are not plain implicit TLS: STARTTLS spoken by the probe
//! (SMTP, IMAP, POP3), peers that misbehave (a clear reason, no hang past the timeout, no panic)
//! and servers stuck on TLS older than 1.2.

mod tls_support;

use mailbeat_sdk::{Protocol, Reason, Status, TlsMode};
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tls_support::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------------------------
// STARTTLS, spoken by the probe itself.

async fn starttls_server(pki: &Pki, protocol: Protocol, script: Script) -> SocketAddr {
    let leaf = pki.good_leaf();
    serve(
        vec![leaf.cert, pki.intermediate()],
        leaf.key,
        protocol,
        TlsMode::Starttls,
        script,
        rustls::ALL_VERSIONS,
    )
    .await
}

#[tokio::test]
async fn starttls_smtp_imap_and_pop3_are_ok() {
    let pki = Pki::new();
    for (protocol, after) in [
        (Protocol::Smtp, "AUTH PLAIN LOGIN"),
        (Protocol::Imap, "AUTH=PLAIN"),
        (Protocol::Pop3, "SASL PLAIN"),
    ] {
        let addr = starttls_server(&pki, protocol, Script::Normal).await;
        let r = run(
            &target(addr, protocol, TlsMode::Starttls),
            pki.roots(),
            TIMEOUT,
        )
        .await;
        assert_outcome(&r, Status::Ok, None);
        assert_cert_metrics(&r, true, 2);
        let caps = r.details["capabilities_after_tls"].to_string();
        assert!(caps.contains(after), "{protocol}: {caps}");
        assert!(
            r.details["capabilities_before_tls"].is_array(),
            "{protocol}"
        );
    }
}

#[tokio::test]
async fn starttls_with_a_leaf_only_chain_is_an_incomplete_chain() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = serve(
        vec![leaf.cert],
        leaf.key,
        Protocol::Smtp,
        TlsMode::Starttls,
        Script::Normal,
        rustls::ALL_VERSIONS,
    )
    .await;
    let r = run(
        &target(addr, Protocol::Smtp, TlsMode::Starttls),
        pki.roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsChainIncomplete));
    assert_cert_metrics(&r, false, 1);
    assert!(
        r.details.get("capabilities_after_tls").is_none(),
        "no talking over a bad chain"
    );
}

#[tokio::test]
async fn starttls_not_offered() {
    let pki = Pki::new();
    for protocol in [Protocol::Smtp, Protocol::Imap] {
        let addr = starttls_server(&pki, protocol, Script::NoStarttls).await;
        let r = run(
            &target(addr, protocol, TlsMode::Starttls),
            pki.roots(),
            TIMEOUT,
        )
        .await;
        assert_outcome(&r, Status::Critical, Some(Reason::StarttlsNotOffered));
        assert!(r.observations.contains_key("port_connect_duration_seconds"));
        assert!(
            !r.observations.contains_key("tls_chain_verified"),
            "no TLS was attempted"
        );
    }
}

#[tokio::test]
async fn starttls_answered_with_an_error() {
    let pki = Pki::new();
    for (protocol, words) in [
        (
            Protocol::Smtp,
            "454 4.7.0 TLS not available due to local problem",
        ),
        (Protocol::Imap, "NO [UNAVAILABLE] TLS broken"),
        (Protocol::Pop3, "-ERR TLS not available"),
    ] {
        let addr = starttls_server(&pki, protocol, Script::RefuseStarttls).await;
        let r = run(
            &target(addr, protocol, TlsMode::Starttls),
            pki.roots(),
            TIMEOUT,
        )
        .await;
        // SMTP 454 (4.7.0 TLS not available) is the server saying "not now": unavailable, not a
        // protocol violation. IMAP NO and POP3 -ERR do not say why.
        let reason = match protocol {
            Protocol::Smtp => Reason::ServerUnavailable,
            _ => Reason::ProtocolError,
        };
        assert_outcome(&r, Status::Critical, Some(reason));
        assert!(r.message.contains(words), "{protocol}: {}", r.message);
    }
}

// ---------------------------------------------------------------------------------------------
// Bad peers: a clear reason, no hang past the timeout, no panic.

#[tokio::test]
async fn a_server_closing_mid_handshake() {
    let addr = raw_server(|mut tcp| async move {
        read_some(&mut tcp).await; // the ClientHello
                                   // Half a ServerHello record header, then gone.
        let _ = tcp.write_all(&[0x16, 0x03, 0x03]).await;
    })
    .await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        Pki::new().roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHandshakeFailed));
    assert_eq!(observation(&r, "tls_chain_verified"), 0.0);
    assert_eq!(observation(&r, "tls_presented_certs"), 0.0);
    assert!(r.details.get("verify").is_none());
}

#[tokio::test]
async fn a_plaintext_greeting_on_an_implicit_tls_port() {
    let addr = raw_server(|mut tcp| async move {
        let _ = tcp.write_all(b"220 mail.test ESMTP Postfix\r\n").await;
        read_some(&mut tcp).await;
    })
    .await;
    let r = run(
        &target(addr, Protocol::Smtp, TlsMode::Implicit),
        Pki::new().roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsHandshakeFailed));
    assert!(
        r.message.contains("'220 mail.test ESMTP Postfix'"),
        "{}",
        r.message
    );
    assert!(r.message.contains("tls: starttls"), "{}", r.message);
}

#[tokio::test]
async fn garbage_instead_of_a_greeting() {
    let addr = raw_server(|mut tcp| async move {
        let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        read_some(&mut tcp).await;
    })
    .await;
    for protocol in [Protocol::Smtp, Protocol::Imap, Protocol::Pop3] {
        let r = run(
            &target(addr, protocol, TlsMode::Starttls),
            Pki::new().roots(),
            TIMEOUT,
        )
        .await;
        assert_outcome(&r, Status::Critical, Some(Reason::BadGreeting));
        assert!(
            r.message.contains("HTTP/1.1 400"),
            "{protocol}: {}",
            r.message
        );
    }
}

async fn silent(tcp: TcpStream) {
    tokio::time::sleep(Duration::from_secs(30)).await;
    drop(tcp);
}

#[tokio::test]
async fn a_server_that_never_answers_the_client_hello() {
    let addr = raw_server(silent).await;
    let started = Instant::now();
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        Pki::new().roots(),
        SHORT,
    )
    .await;
    assert!(
        started.elapsed() < SHORT + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_outcome(&r, Status::Critical, Some(Reason::ServerTimeout));
    assert!(r.message.contains("TLS handshake"), "{}", r.message);
}

#[tokio::test]
async fn a_server_that_never_greets() {
    let addr = raw_server(silent).await;
    let started = Instant::now();
    let r = run(
        &target(addr, Protocol::Smtp, TlsMode::Starttls),
        Pki::new().roots(),
        SHORT,
    )
    .await;
    assert!(
        started.elapsed() < SHORT + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_outcome(&r, Status::Critical, Some(Reason::ServerTimeout));
}

#[tokio::test]
async fn a_server_that_accepts_starttls_and_then_hangs() {
    let addr = raw_server(|tcp| async move {
        let mut tcp = BufReader::new(tcp);
        let _ = tcp.write_all(b"+OK ready\r\n").await;
        let mut line = String::new();
        while tcp.read_line(&mut line).await.unwrap_or(0) > 0 {
            match line.trim_end() {
                "CAPA" => {
                    let _ = tcp.write_all(b"+OK\r\nSTLS\r\n.\r\n").await;
                }
                "STLS" => {
                    let _ = tcp.write_all(b"+OK go ahead\r\n").await;
                    // ... and never a ServerHello.
                    silent(tcp.into_inner()).await;
                    return;
                }
                _ => {
                    let _ = tcp.write_all(b"-ERR\r\n").await;
                }
            }
            line.clear();
        }
    })
    .await;
    let started = Instant::now();
    let r = run(
        &target(addr, Protocol::Pop3, TlsMode::Starttls),
        Pki::new().roots(),
        SHORT,
    )
    .await;
    assert!(
        started.elapsed() < SHORT + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_outcome(&r, Status::Critical, Some(Reason::ServerTimeout));
}

#[tokio::test]
async fn tls_that_works_but_no_greeting_keeps_the_tls_facts() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = serve(
        vec![leaf.cert, pki.intermediate()],
        leaf.key,
        Protocol::Imap,
        TlsMode::Implicit,
        Script::SilentAfterTls,
        rustls::ALL_VERSIONS,
    )
    .await;
    let started = Instant::now();
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        SHORT,
    )
    .await;
    assert!(
        started.elapsed() < SHORT + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_outcome(&r, Status::Critical, Some(Reason::ServerTimeout));
    assert!(
        r.message.contains("TLS itself: certificate chain verified"),
        "{}",
        r.message
    );
    assert_cert_metrics(&r, true, 2);
    assert_verify(&r, 0, "ok");

    // Without the service check the same server is fine.
    let r = run_with(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        pki.roots(),
        SHORT,
        json!({"check_service": false}),
    )
    .await;
    assert_outcome(&r, Status::Ok, None);
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        Pki::new().roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::ConnectionRefused));
}

// ---------------------------------------------------------------------------------------------
// Servers stuck on old TLS: rustls refuses them, and that is a weak configuration, not a mystery.

const WEAK_WORDS: &str = "the server offers only TLS older than 1.2 or no modern cipher suite";

#[tokio::test]
async fn a_protocol_version_alert_is_weak_tls() {
    // What an old server says to a ClientHello offering only TLS 1.2 and 1.3: a fatal
    // protocol_version alert (level 2, description 70), in a TLS 1.0 record.
    let addr = raw_server(|mut tcp| async move {
        read_some(&mut tcp).await;
        let _ = tcp
            .write_all(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])
            .await;
        read_some(&mut tcp).await;
    })
    .await;
    let r = run(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        Pki::new().roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsWeak));
    assert!(r.message.contains(WEAK_WORDS), "{}", r.message);
    assert!(
        r.message.contains("upgrade the server's TLS"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_tls_1_0_server_hello_is_weak_tls() {
    // A ServerHello that picks TLS 1.0 (0x0301) and TLS_RSA_WITH_AES_128_CBC_SHA.
    let addr = raw_server(|mut tcp| async move {
        read_some(&mut tcp).await;
        let mut record = vec![
            0x16, 0x03, 0x01, 0x00, 0x2a, 0x02, 0x00, 0x00, 0x26, 0x03, 0x01,
        ];
        record.extend_from_slice(&[0x42; 32]);
        record.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00]);
        let _ = tcp.write_all(&record).await;
        read_some(&mut tcp).await;
    })
    .await;
    let r = run(
        &target(addr, Protocol::Smtp, TlsMode::Implicit),
        Pki::new().roots(),
        TIMEOUT,
    )
    .await;
    assert_outcome(&r, Status::Critical, Some(Reason::TlsWeak));
    assert!(r.message.contains(WEAK_WORDS), "{}", r.message);
}
