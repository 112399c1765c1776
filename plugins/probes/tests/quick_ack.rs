//! `QuickAck` against a real loopback connection and the kernel's own delayed ACKs, seen from the
//! sender as bytes its peer has not acknowledged yet (`tx_queue` in `/proc/net/tcp`, what
//! `SIOCOUTQ` tells, read without unsafe code).
//!
//! Why it matters: Postfix after STARTTLS writes its TLS session tickets and then the EHLO reply
//! without `TCP_NODELAY`; Nagle holds the reply until the client acknowledges the tickets, and a
//! client that only delays its ACK stalls every such check by 40 ms.
#![cfg(target_os = "linux")]

use mailbeat_probes::io::QuickAck;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Bytes `stream` (IPv4) sent that its peer has not acknowledged yet: the `tx_queue` of its line
/// in `/proc/net/tcp`.
fn unacknowledged(stream: &TcpStream) -> u32 {
    let hex = |a: std::net::SocketAddr| match a {
        std::net::SocketAddr::V4(v4) => {
            format!(
                "{:08X}:{:04X}",
                u32::from_le_bytes(v4.ip().octets()),
                v4.port()
            )
        }
        std::net::SocketAddr::V6(_) => unreachable!("the test connects over IPv4"),
    };
    let local = hex(stream.local_addr().unwrap());
    let peer = hex(stream.peer_addr().unwrap());
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let tx_queue = table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(1) == Some(&local.as_str()) && f.get(2) == Some(&peer.as_str()))
        .and_then(|f| Some(f.get(4)?.split_once(':')?.0.to_string()))
        .unwrap_or_else(|| panic!("{local} -> {peer} is not in /proc/net/tcp"));
    u32::from_str_radix(&tx_queue, 16).unwrap()
}

/// A loopback connection after twenty request/reply exchanges, so the client's kernel has used
/// up the quick ACKs a new connection starts with and delays its ACKs, as in a probe's dialogue.
/// The server does not set `TCP_NODELAY`, like Postfix.
async fn interactive<C: AsyncRead + AsyncWrite + Unpin>(
    wrap: impl FnOnce(TcpStream) -> C,
) -> (C, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (mut client, mut server) = (wrap(client.unwrap()), server.unwrap().0);
    let mut buf = [0u8; 3];
    for _ in 0..20 {
        client.write_all(b"q\r\n").await.unwrap();
        server.read_exact(&mut buf).await.unwrap();
        server.write_all(b"r\r\n").await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
    }
    (client, server)
}

/// The server answers a request with the first of two messages; the client reads it and asks
/// for more (as rustls does after the session tickets). Returns what the server has still
/// unacknowledged `within` after that, or as soon as it is 0.
async fn after_reading_and_waiting<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
    server: &mut TcpStream,
    within: Duration,
) -> u32 {
    client.write_all(b"q\r\n").await.unwrap();
    let mut buf = [0u8; 16];
    server.read_exact(&mut buf[..3]).await.unwrap();
    server.write_all(b"first\r\n").await.unwrap();
    client.read_exact(&mut buf[..7]).await.unwrap();
    let waits = std::future::poll_fn(|cx| {
        let mut rb = ReadBuf::new(&mut buf);
        Poll::Ready(Pin::new(&mut *client).poll_read(cx, &mut rb).is_pending())
    })
    .await;
    assert!(waits, "nothing more was sent, so the read waits");
    let since = Instant::now();
    loop {
        let left = unacknowledged(server);
        if left == 0 || since.elapsed() >= within {
            return left;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[tokio::test]
async fn a_reader_that_waits_for_more_acknowledges_at_once() {
    let (mut client, mut server) = interactive(QuickAck::new).await;
    // 20 ms: half the kernel's least delayed-ACK time; the quick ACK goes out within the call.
    let left = after_reading_and_waiting(&mut client, &mut server, Duration::from_millis(20)).await;
    assert_eq!(
        left, 0,
        "'first' acknowledged, so Nagle lets the server's next write go"
    );
}

/// The control: without `QuickAck` the kernel holds the ACK back, the stall `QuickAck` prevents;
/// were this acknowledged at once too, the test above would prove nothing.
#[tokio::test]
async fn a_plain_reader_that_waits_for_more_delays_its_ack() {
    let (mut plain, mut server) = interactive(|s| s).await;
    let left = after_reading_and_waiting(&mut plain, &mut server, Duration::ZERO).await;
    assert_eq!(left, 7, "a plain client has not acknowledged 'first' yet");
}
