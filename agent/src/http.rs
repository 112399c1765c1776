//! The HTTP server, with the endpoints Prometheus exporters have: `/metrics`, `/probe`,
//! `/-/healthy`, `/-/ready`, `POST /-/reload`, a status page at `/`, and re-authorization at
//! `/reauth/TARGET` (`reauth_page`).
//!
//! What `--web.config.file` asks for (`web::WebConfig`: TLS, basic auth) applies to every path,
//! known or not; `POST /-/reload` answers only with `--web.enable-lifecycle`, as in Prometheus.

use crate::app::App;
use crate::chunks::Chunks;
use crate::jobs;
use crate::web::{WebConfig, REALM};
use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::Watcher;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A client has this long to finish the TLS handshake, as for sending its request headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the listener serves: the web config (TLS, basic auth) and whether the lifecycle
/// endpoints (`POST /-/reload`) are on.
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub web: WebConfig,
    pub enable_lifecycle: bool,
}

/// Serves until `shutdown` resolves; then stops accepting and lets open requests finish (bounded).
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    server: Arc<Server>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (app, server) = (app.clone(), server.clone());
                tokio::spawn(connection(stream, peer, app, server, graceful.watcher()));
            }
            _ = &mut shutdown => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

/// One connection, in its own task (a slow client never holds up accept): the TLS handshake,
/// bounded, when the listener has TLS, then HTTP/1.1.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Arc<App>,
    server: Arc<Server>,
    watcher: Watcher,
) {
    let tls = server.web.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let service = service_fn(move |req| handle(app.clone(), server.clone(), req));
    let mut http = http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    let served = match tls {
        None => {
            let conn = http.serve_connection(TokioIo::new(stream), service);
            watcher.watch(conn).await
        }
        Some(acceptor) => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let conn = http.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn).await
                }
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            }
        }
    };
    if let Err(e) = served {
        tracing::debug!(%peer, error = %e, "HTTP connection error");
    }
}

/// Binds the listen address with a clear error.
pub async fn bind(addr: &str) -> Result<TcpListener, String> {
    let parsed: SocketAddr = addr
        .parse()
        .map_err(|e| format!("--web.listen-address {addr:?}: {e}"))?;
    TcpListener::bind(parsed)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

fn response(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("text/plain")),
    );
    r
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
    response(status, "text/plain; charset=utf-8", body.into())
}

/// 401 with the challenge that makes browsers and curl ask for credentials.
fn unauthorized() -> Response<Full<Bytes>> {
    let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
    let challenge = HeaderValue::from_str(&format!("Basic realm=\"{REALM}\""))
        .unwrap_or(HeaderValue::from_static("Basic"));
    r.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    r
}

/// A response body: most are one buffer; `/metrics` is sent as the chunks it was rendered in.
type Body = Either<Full<Bytes>, Chunks>;

async fn handle(
    app: Arc<App>,
    server: Arc<Server>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    // Every path, known or not, is behind basic auth when users are configured.
    if let Some(auth) = &server.web.auth {
        if !auth.check(req.headers().get(AUTHORIZATION)).await {
            return Ok(unauthorized().map(Either::Left));
        }
    }
    if matches!(*req.method(), Method::GET | Method::HEAD) && req.uri().path() == "/metrics" {
        return Ok(metrics(app).await);
    }
    Ok(route(app, server, req).await.map(Either::Left))
}

/// `/metrics`, rendered on a blocking thread: 100,000 targets are CPU work for the async workers.
async fn metrics(app: Arc<App>) -> Response<Body> {
    match tokio::task::spawn_blocking(move || app.metrics.render_chunks()).await {
        Ok(chunks) => {
            let mut r = Response::new(Either::Right(Chunks::new(chunks)));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
            r
        }
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "rendering metrics failed\n",
        )
        .map(Either::Left),
    }
}

/// Every path but `/metrics`.
async fn route(
    app: Arc<App>,
    server: Arc<Server>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let resp = match (req.method(), path.as_str()) {
        (&Method::GET, "/probe") => probe(&app, &query).await,
        (&Method::GET | &Method::HEAD, "/-/healthy") => {
            text(StatusCode::OK, "mailbeat is healthy.\n")
        }
        (&Method::GET | &Method::HEAD, "/-/ready") => text(StatusCode::OK, "mailbeat is ready.\n"),
        (&Method::POST | &Method::PUT, "/-/reload") if !server.enable_lifecycle => {
            text(StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n")
        }
        (&Method::POST | &Method::PUT, "/-/reload") => match app.reload().await {
            Ok(()) => text(StatusCode::OK, "configuration reloaded\n"),
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload config: {e}\n"),
            ),
        },
        (_, "/-/reload") => text(StatusCode::METHOD_NOT_ALLOWED, "use POST to reload\n"),
        (_, p) if p.starts_with(crate::reauth_page::PREFIX) => {
            return crate::reauth_page::handle(&app, req).await;
        }
        (&Method::GET, "/") => response(
            StatusCode::OK,
            "text/html; charset=utf-8",
            crate::status_page::render(&app),
        ),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    resp
}

/// `/probe?target=NAME[&probe=P]`: runs the target's probes now and answers in blackbox_exporter's
/// names plus ours.
async fn probe(app: &Arc<App>, query: &str) -> Response<Full<Bytes>> {
    let (target_name, probe_name) = parse_probe_query(query);
    let Some(target_name) = target_name else {
        return text(StatusCode::BAD_REQUEST, "target parameter is missing\n");
    };
    let loaded = app.loaded();
    if !loaded.jobs.iter().any(|j| j.key.target == target_name) {
        return text(
            StatusCode::BAD_REQUEST,
            format!("unknown target {target_name:?}\n"),
        );
    }
    let selected: Vec<_> =
        jobs::select(&loaded.jobs, Some(&target_name), probe_name.as_deref()).collect();
    if selected.is_empty() {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "target {target_name:?} has no probe {:?}\n",
                probe_name.unwrap_or_default()
            ),
        );
    }
    let runs = selected.into_iter().filter_map(|job| {
        let (tc, pc) = job.in_config(&loaded.config)?;
        let runner = loaded.runner.clone();
        Some(async move { (pc.name.clone(), runner.run_now(tc, pc).await.result) })
    });
    let results = futures::future::join_all(runs).await;
    response(
        StatusCode::OK,
        TEXT_FORMAT,
        app.metrics.render_probe(&target_name, &results),
    )
}

/// The `target` and `probe` parameters of a `/probe` query (the last of each wins; others are
/// ignored). Public for the fuzz target `fuzz/fuzz_targets/probe_query.rs`.
#[doc(hidden)]
pub fn parse_probe_query(query: &str) -> (Option<String>, Option<String>) {
    let mut target = None;
    let mut probe = None;
    for (k, v) in form_pairs(query) {
        match k.as_str() {
            "target" => target = Some(v),
            "probe" => probe = Some(v),
            _ => {}
        }
    }
    (target, probe)
}

/// Decodes `a=b&c=d` (with `%XX` and `+`).
fn form_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_names_the_realm() {
        let r = unauthorized();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Basic realm=\"mailbeat\"");
    }

    #[test]
    fn query_strings_decode() {
        assert_eq!(
            form_pairs("target=nas%20gmail&probe=tls&x"),
            vec![
                ("target".into(), "nas gmail".into()),
                ("probe".into(), "tls".into()),
                ("x".into(), "".into())
            ]
        );
        assert_eq!(
            form_pairs("target=%e3%81%82%zz%"),
            vec![("target".into(), "あ%zz%".into())]
        );
    }

    #[test]
    fn probe_query_takes_target_and_probe() {
        assert_eq!(
            parse_probe_query("probe=tls&target=a&target=b+c&module=x"),
            (Some("b c".into()), Some("tls".into()))
        );
        assert_eq!(parse_probe_query(""), (None, None));
    }
}
