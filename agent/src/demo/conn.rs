//! What the demo's line-based servers share: an accept loop that stops with the demo, a
//! connection that reads bounded lines under an idle timeout, and the TLS upgrade.

use super::pki::Identity;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

/// Longest line a demo server reads; a login dialogue's lines are far shorter.
const MAX_LINE: u64 = 8 * 1024;
/// A client silent this long is dropped (the probes' own timeouts are shorter).
const IDLE: Duration = Duration::from_secs(30);
/// Connections served at once per server; more wait to be accepted.
const MAX_CONNECTIONS: usize = 32;

/// A byte stream, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One client connection of a line-based server.
pub struct Conn {
    reader: BufReader<Box<dyn Io>>,
    /// True once the connection is TLS (implicit or after STARTTLS).
    pub tls: bool,
}

impl Conn {
    /// Wraps an accepted connection; with `implicit`, the TLS handshake comes first.
    pub async fn accept(stream: TcpStream, implicit: Option<&TlsAcceptor>) -> Option<Conn> {
        match implicit {
            None => Some(Conn {
                reader: BufReader::new(Box::new(stream)),
                tls: false,
            }),
            Some(acceptor) => {
                let tls = tokio::time::timeout(IDLE, acceptor.accept(stream))
                    .await
                    .ok()?
                    .ok()?;
                Some(Conn {
                    reader: BufReader::new(Box::new(tls)),
                    tls: true,
                })
            }
        }
    }

    /// The next line without its line ending; `None` at the end, on an error, after [`IDLE`]
    /// or when the line is longer than [`MAX_LINE`].
    pub async fn line(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        let mut bounded = (&mut self.reader).take(MAX_LINE);
        let read = bounded.read_until(b'\n', &mut buf);
        match tokio::time::timeout(IDLE, read).await {
            Ok(Ok(n)) if n > 0 && buf.ends_with(b"\n") => {
                let text = String::from_utf8_lossy(&buf);
                Some(text.trim_end_matches(['\r', '\n']).to_string())
            }
            _ => None,
        }
    }

    /// Writes `text` (lines already ended with CRLF); false when the client is gone.
    pub async fn send(&mut self, text: &str) -> bool {
        let io = self.reader.get_mut();
        let write = async {
            io.write_all(text.as_bytes()).await?;
            io.flush().await
        };
        matches!(tokio::time::timeout(IDLE, write).await, Ok(Ok(())))
    }

    /// Writes one line, adding CRLF.
    pub async fn send_line(&mut self, line: &str) -> bool {
        self.send(&format!("{line}\r\n")).await
    }

    /// The STARTTLS upgrade: the handshake over this connection. `None` when it fails, or when
    /// the client sent bytes ahead of it (what a STARTTLS injection looks like).
    pub async fn start_tls(self, acceptor: &TlsAcceptor) -> Option<Conn> {
        if !self.reader.buffer().is_empty() {
            return None;
        }
        let inner = self.reader.into_inner();
        let tls = tokio::time::timeout(IDLE, acceptor.accept(inner))
            .await
            .ok()?
            .ok()?;
        Some(Conn {
            reader: BufReader::new(Box::new(tls)),
            tls: true,
        })
    }
}

/// A TLS acceptor presenting `identity`.
pub fn acceptor(identity: &Identity) -> Result<TlsAcceptor, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections on `listener` until `stop` says so, each handled by `handle` in a task
/// of its own that also ends at the stop.
pub fn serve<F, Fut>(listener: TcpListener, mut stop: watch::Receiver<bool>, handle: F)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let Ok(permit) = limit.clone().acquire_owned().await else {
                return;
            };
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stop.changed() => return,
            };
            let Ok((stream, _)) = accepted else {
                // An accept error (out of descriptors) is passing; do not spin on it.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let conn = handle(stream);
            let mut stop = stop.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = conn => {}
                    _ = stop.changed() => {}
                }
                drop(permit);
            });
        }
    });
}

/// A server that accepts and then says nothing, holding each connection until the client gives
/// up or the demo stops: a wedged server, or a firewall that swallows the session.
pub fn serve_silence(listener: TcpListener, stop: watch::Receiver<bool>) {
    serve(listener, stop, |mut stream| async move {
        let mut sink = [0u8; 512];
        // Read (and drop) until the client closes, so its close is noticed at once.
        while let Ok(Ok(n)) = tokio::time::timeout(IDLE, stream.read(&mut sink)).await {
            if n == 0 {
                break;
            }
        }
    });
}
