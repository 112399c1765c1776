//! The loopback redirect listener of `mailbeat reauth` (RFC 8252 §7.3): a port on 127.0.0.1
//! chosen by the system, `http://127.0.0.1:PORT/` as the redirect URI, and one answer taken from
//! it. Requests that carry no answer (`/favicon.ico`, a reload) are answered 404 and ignored;
//! the first answer ends the wait. The browser is answered only when the caller has finished
//! with the code (exchanged, checked, stored or refused), so its tab says how it ended.

use super::redirect::{Answer, Refused};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use mailbeat_sdk::Secret;
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// How long a browser connection may take to send its request.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the browser's tab is given to receive the last page before the command exits.
const FAREWELL: Duration = Duration::from_secs(2);
/// At most this many browser connections at once (a browser opens a few speculatively).
const MAX_CONNECTIONS: usize = 16;

/// Why no code was had from the listener.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    #[error("no answer reached the redirect listener within {}: nothing stored (was the URL opened? a longer --timeout gives more time)", humantime::format_duration(*.0))]
    TimedOut(Duration),
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// How it ended, for the browser's tab: success, and the line to show.
pub type Outcome = (bool, String);

/// A bound listener.
pub struct Loopback {
    listener: TcpListener,
    port: u16,
}

type Delivery = (Answer, oneshot::Sender<Outcome>);

impl Loopback {
    /// Binds 127.0.0.1 at a port the system picks.
    pub async fn bind() -> std::io::Result<Loopback> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        Ok(Loopback { listener, port })
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Waits (at most `timeout`) for the answer whose state is `state`, hands its code to
    /// `finish`, answers the browser with what `finish` said, and returns that. A refused answer
    /// (another state, an error, a denial) ends the wait too, without calling `finish`.
    pub async fn wait<F, Fut, T>(
        self,
        state: &str,
        timeout: Duration,
        finish: F,
    ) -> Result<T, WaitError>
    where
        F: FnOnce(Secret) -> Fut,
        Fut: Future<Output = (T, Outcome)>,
    {
        let (tx, mut rx) = mpsc::channel::<Delivery>(1);
        let tx = Arc::new(Mutex::new(Some(tx)));
        let mut connections = JoinSet::new();
        let deadline = tokio::time::Instant::now() + timeout;
        let (answer, reply) = loop {
            tokio::select! {
                delivered = rx.recv() => match delivered {
                    Some(d) => break d,
                    None => return Err(WaitError::TimedOut(timeout)),
                },
                accepted = self.listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    while connections.try_join_next().is_some() {}
                    if connections.len() >= MAX_CONNECTIONS {
                        continue; // dropped: the browser retries
                    }
                    connections.spawn(serve(stream, tx.clone()));
                }
                _ = tokio::time::sleep_until(deadline) => return Err(WaitError::TimedOut(timeout)),
            }
        };
        // No second answer is taken: later senders find no channel (or a closed one).
        tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(rx);
        let result = match answer.verify(state) {
            Err(refused) => {
                let _ = reply.send((false, refused.to_string()));
                Err(WaitError::Refused(refused))
            }
            Ok(code) => {
                let (value, outcome) = finish(code).await;
                let _ = reply.send(outcome);
                Ok(value)
            }
        };
        // Let the tab receive its page (connections close after one answer).
        let _ = tokio::time::timeout(FAREWELL, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        result
    }
}

/// One browser connection: one request, then closed.
async fn serve(stream: tokio::net::TcpStream, tx: Arc<Mutex<Option<mpsc::Sender<Delivery>>>>) {
    let service = service_fn(move |req: Request<Incoming>| {
        let tx = tx.clone();
        async move { Ok::<_, Infallible>(answer(req, tx).await) }
    });
    let mut http = http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(false);
    let _ = http.serve_connection(TokioIo::new(stream), service).await;
}

async fn answer(
    req: Request<Incoming>,
    tx: Arc<Mutex<Option<mpsc::Sender<Delivery>>>>,
) -> Response<Full<Bytes>> {
    let parsed = (req.uri().path() == "/")
        .then(|| Answer::from_query(req.uri().query().unwrap_or("")))
        .flatten();
    let Some(parsed) = parsed else {
        return page(
            StatusCode::NOT_FOUND,
            "mailbeat",
            "Not the authorization answer.",
        );
    };
    let sender = tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(sender) = sender else {
        return page(
            StatusCode::CONFLICT,
            "mailbeat",
            "An answer was already received; this one is ignored.",
        );
    };
    let (reply, outcome) = oneshot::channel();
    if sender.send((parsed, reply)).await.is_err() {
        return page(StatusCode::CONFLICT, "mailbeat", "This sign-in is over.");
    }
    match outcome.await {
        Ok((true, line)) => page(StatusCode::OK, "mailbeat: authorized", &line),
        Ok((false, line)) => page(StatusCode::BAD_REQUEST, "mailbeat: not authorized", &line),
        Err(_) => page(StatusCode::CONFLICT, "mailbeat", "This sign-in is over."),
    }
}

/// A small page for the browser's tab; `line` is escaped.
fn page(status: StatusCode, title: &str, line: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body style=\"font-family:system-ui,sans-serif;margin:2em\"><h1>{t}</h1><p>{l}</p><p>You can close this tab.</p></body></html>\n",
        t = crate::status_page::esc(title),
        l = crate::status_page::esc(line),
    );
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(port: u16, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out)).await;
        out
    }

    #[tokio::test]
    async fn favicon_is_ignored_and_the_answer_with_the_state_is_taken() {
        let l = Loopback::bind().await.unwrap();
        let uri = l.redirect_uri();
        let port: u16 = uri
            .trim_start_matches("http://127.0.0.1:")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let waiting = tokio::spawn(async move {
            l.wait("st", Duration::from_secs(10), |code| async move {
                let c = code.expose().to_string();
                (c, (true, "stored <tokens>".to_string()))
            })
            .await
        });
        let favicon = get(port, "/favicon.ico").await;
        assert!(favicon.starts_with("HTTP/1.1 404"), "{favicon}");
        let bare = get(port, "/").await;
        assert!(bare.starts_with("HTTP/1.1 404"), "{bare}");
        let page = get(port, "/?code=the-code&state=st").await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains("stored &lt;tokens&gt;"), "{page}");
        assert!(!page.contains("the-code"));
        assert_eq!(waiting.await.unwrap().unwrap(), "the-code");
    }

    #[tokio::test]
    async fn a_wrong_state_or_a_denial_ends_the_wait_without_the_code_being_used() {
        for (query, want) in [
            ("code=c&state=other", Refused::StateMismatch),
            ("code=c", Refused::MissingState),
            ("error=access_denied&state=st", Refused::Denied),
        ] {
            let l = Loopback::bind().await.unwrap();
            let port = l.port;
            let waiting = tokio::spawn(async move {
                l.wait("st", Duration::from_secs(10), |_| async {
                    panic!("finish called");
                    #[allow(unreachable_code)]
                    ((), (true, String::new()))
                })
                .await
            });
            let page = get(port, &format!("/?{query}")).await;
            assert!(page.starts_with("HTTP/1.1 400"), "{page}");
            assert_eq!(waiting.await.unwrap(), Err(WaitError::Refused(want)));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn nobody_coming_is_a_timeout() {
        let l = Loopback::bind().await.unwrap();
        let r = l
            .wait("st", Duration::from_secs(300), |_| async {
                ((), (true, String::new()))
            })
            .await;
        assert_eq!(r, Err(WaitError::TimedOut(Duration::from_secs(300))));
    }
}
