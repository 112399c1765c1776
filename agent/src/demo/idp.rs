//! A loopback OAuth2 token endpoint (RFC 6749 §6, the refresh grant only): it accepts the demo
//! account's refresh token and answers with the demo access token, announcing, as Google does for
//! time-limited grants, that the refresh token ends in a few days (`refresh_token_expires_in`),
//! so the token probe predicts the re-authorization and warns.

use super::accounts::Accounts;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Largest request body read.
const MAX_BODY: usize = 16 * 1024;
/// How long the refresh token lives after the grant, as the server announces it: five and a
/// half days, which the status page shows as "in 5 days" for the first half day.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 86_400 + 12 * 3600);
/// The access token's lifetime.
const ACCESS_TOKEN_LIFETIME: u64 = 3600;

/// The token endpoint's state: the accounts and when the grant was made.
pub struct Idp {
    pub accounts: Arc<Accounts>,
    pub granted_at: SystemTime,
}

impl Idp {
    /// Serves `POST /token` on `listener` until `stop`.
    pub fn serve(self, listener: TcpListener, mut stop: watch::Receiver<bool>) {
        let idp = Arc::new(self);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stop.changed() => return,
                };
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let idp = idp.clone();
                let mut stop = stop.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let idp = idp.clone();
                        async move { Ok::<_, Infallible>(idp.answer(req).await) }
                    });
                    let conn = http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(10))
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = tokio::time::timeout(Duration::from_secs(30), conn) => {}
                        _ = stop.changed() => {}
                    }
                });
            }
        });
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if req.method() != Method::POST || req.uri().path() != "/token" {
            return json(StatusCode::NOT_FOUND, error("invalid_request", "not found"));
        }
        let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return json(
                    StatusCode::BAD_REQUEST,
                    error("invalid_request", "body too large"),
                )
            }
        };
        let form: std::collections::HashMap<String, String> =
            form_urlencoded::parse(&body).into_owned().collect();
        if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
            return json(
                StatusCode::BAD_REQUEST,
                error(
                    "unsupported_grant_type",
                    "the demo issues tokens for refresh_token only",
                ),
            );
        }
        if form.get("refresh_token") != Some(&self.accounts.refresh_token) {
            // Google's answer to a refresh token it does not know.
            return json(
                StatusCode::BAD_REQUEST,
                error("invalid_grant", "Token has been expired or revoked."),
            );
        }
        let left = (self.granted_at + REFRESH_TOKEN_LIFETIME)
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .as_secs();
        json(
            StatusCode::OK,
            serde_json::json!({
                "access_token": self.accounts.access_token,
                "token_type": "Bearer",
                "expires_in": ACCESS_TOKEN_LIFETIME,
                "refresh_token_expires_in": left,
                "scope": "https://mail.google.com/",
            }),
        )
    }
}

fn error(code: &str, description: &str) -> serde_json::Value {
    serde_json::json!({"error": code, "error_description": description})
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    r
}
