//! The HTTP server, with the endpoints Prometheus exporters have: `/metrics`, `/probe`,
//! `/-/healthy`, `/-/ready`, `POST /-/reload`, and a status page at `/`.

use crate::app::App;
use crate::jobs;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves until `shutdown` resolves; then stops accepting and lets open requests finish (bounded).
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let app = app.clone();
                let service = service_fn(move |req| handle(app.clone(), req));
                let conn = http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "HTTP connection error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
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

async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let resp = match (req.method(), path.as_str()) {
        (&Method::GET | &Method::HEAD, "/metrics") => {
            let app = app.clone();
            // Rendering 10,000 targets is CPU work: keep it off the async workers.
            match tokio::task::spawn_blocking(move || app.metrics.render()).await {
                Ok(body) => response(StatusCode::OK, TEXT_FORMAT, body),
                Err(_) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "rendering metrics failed\n",
                ),
            }
        }
        (&Method::GET, "/probe") => probe(&app, &query).await,
        (&Method::GET | &Method::HEAD, "/-/healthy") => {
            text(StatusCode::OK, "mailbeat is healthy.\n")
        }
        (&Method::GET | &Method::HEAD, "/-/ready") => text(StatusCode::OK, "mailbeat is ready.\n"),
        (&Method::POST | &Method::PUT, "/-/reload") => match app.reload().await {
            Ok(()) => text(StatusCode::OK, "configuration reloaded\n"),
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload config: {e}\n"),
            ),
        },
        (_, "/-/reload") => text(StatusCode::METHOD_NOT_ALLOWED, "use POST to reload\n"),
        (&Method::GET, "/") => response(
            StatusCode::OK,
            "text/html; charset=utf-8",
            crate::status_page::render(&app),
        ),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(resp)
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
