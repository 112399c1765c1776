//! `open_session`, the auth probe's way in, against the loopback TLS servers of the `tls` probe
//! tests: it names TLS failures as the `tls` probe does.

mod tls_support;

use mailbeat_probes::tls::client::open_session;
use mailbeat_sdk::{ProbeContext, Protocol, Reason, TlsMode};
use rustls::RootCertStore;
use std::sync::Arc;
use tls_support::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

// ---------------------------------------------------------------------------------------------
// `open_session`, the auth probe's way in: it names TLS failures as this probe does.

fn ctx_with_roots(roots: RootCertStore) -> ProbeContext {
    let _ = provider();
    ProbeContext::new(TIMEOUT, Arc::new(roots))
}

#[tokio::test]
async fn open_session_names_a_leaf_only_chain_as_incomplete() {
    let pki = Pki::new();
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let err = open_session(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        &ctx_with_roots(pki.roots()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason, Reason::TlsChainIncomplete, "{}", err.message);
    assert!(err.message.contains("verify code 21"), "{}", err.message);

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
    let err = open_session(
        &target(addr, Protocol::Smtp, TlsMode::Starttls),
        &ctx_with_roots(pki.roots()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason, Reason::TlsChainIncomplete, "{}", err.message);
}

#[tokio::test]
async fn open_session_names_other_chain_failures_as_the_tls_probe_does() {
    let pki = Pki::new();
    let leaf = self_signed_leaf(&[NAME]);
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let t = target(addr, Protocol::Imap, TlsMode::Implicit);
    let err = open_session(&t, &ctx_with_roots(pki.roots()))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::TlsSelfSigned, "{}", err.message);

    let leaf = pki.leaf(&["other.test"], -1, 365);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let t = target(addr, Protocol::Imap, TlsMode::Implicit);
    let err = open_session(&t, &ctx_with_roots(pki.roots()))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::TlsHostnameMismatch, "{}", err.message);

    // And a good chain still opens, greeting read, the next byte the client's.
    let leaf = pki.good_leaf();
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let t = target(addr, Protocol::Imap, TlsMode::Implicit);
    let session = open_session(&t, &ctx_with_roots(pki.roots()))
        .await
        .unwrap();
    assert!(session.tls);
    assert!(session.greeting.starts_with("* OK"), "{}", session.greeting);
}

#[tokio::test]
async fn open_session_names_refused_certificates_as_the_tls_probe_does() {
    // A self-signed CA:TRUE leaf, as `openssl req -x509` makes it: webpki says CaUsedAsEndEntity.
    let pki = Pki::new();
    let leaf = openssl_req_x509(&[NAME], true);
    let addr = imaps(vec![leaf.cert], leaf.key).await;
    let t = target(addr, Protocol::Imap, TlsMode::Implicit);
    let err = open_session(&t, &ctx_with_roots(pki.roots()))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::TlsSelfSigned, "{}", err.message);
    assert!(err.message.contains("CA:TRUE"), "{}", err.message);
    assert!(!err.message.contains("Other("), "{}", err.message);
    assert!(err.message.contains("verify code 18"), "{}", err.message);

    // A leaf with an RSA-1024 key: the chain verifies, the handshake signature does not.
    let leaf = pki.leaf_with_rsa_key_bits(&[NAME], 1024);
    let addr = imaps(vec![leaf.cert, pki.intermediate()], leaf.key).await;
    let t = target(addr, Protocol::Imap, TlsMode::Implicit);
    let err = open_session(&t, &ctx_with_roots(pki.roots()))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::TlsWeak, "{}", err.message);
    assert!(
        err.message
            .contains("(openssl: verify code 66, EE certificate key too weak)"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn open_session_names_weak_tls() {
    let addr = raw_server(|mut tcp| async move {
        read_some(&mut tcp).await;
        let _ = tcp
            .write_all(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])
            .await;
    })
    .await;
    let err = open_session(
        &target(addr, Protocol::Imap, TlsMode::Implicit),
        &ctx_with_roots(Pki::new().roots()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason, Reason::TlsWeak, "{}", err.message);
}

#[tokio::test]
async fn data_ahead_of_the_client_is_not_called_starttls_injection_without_starttls() {
    // A plaintext POP3 server that sends a second line before the client said anything.
    let addr = raw_server(|mut tcp| async move {
        let _ = tcp.write_all(b"+OK ready\r\n+OK surprise\r\n").await;
        read_some(&mut tcp).await;
    })
    .await;
    let err = open_session(
        &target(addr, Protocol::Pop3, TlsMode::None),
        &ctx_with_roots(RootCertStore::empty()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason, Reason::ProtocolError, "{}", err.message);
    assert!(
        err.message
            .contains("server sent data before the client spoke"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("STARTTLS"), "{}", err.message);
}

#[tokio::test]
async fn data_ahead_of_the_tls_handshake_after_starttls_is_called_injection() {
    let addr = raw_server(|tcp| async move {
        let mut tcp = BufReader::new(tcp);
        let _ = tcp.write_all(b"+OK ready\r\n").await;
        let mut line = String::new();
        while tcp.read_line(&mut line).await.unwrap_or(0) > 0 {
            let reply: &[u8] = match line.trim_end() {
                "CAPA" => b"+OK\r\nSTLS\r\n.\r\n",
                "STLS" => b"+OK go ahead\r\n+OK injected\r\n",
                _ => b"-ERR\r\n",
            };
            let _ = tcp.write_all(reply).await;
            line.clear();
        }
    })
    .await;
    let err = open_session(
        &target(addr, Protocol::Pop3, TlsMode::Starttls),
        &ctx_with_roots(RootCertStore::empty()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.reason, Reason::ProtocolError, "{}", err.message);
    assert!(
        err.message.contains("STARTTLS injection"),
        "{}",
        err.message
    );
}
