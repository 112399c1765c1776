//! `/reauth/TARGET` on the status page server: re-authorizing an OAuth2 account without a
//! shell (the `reauth_url` that re-auth webhooks carry). Behind the web config's TLS and basic
//! auth like every path (`http::handle` checks them before routing here).
//!
//! - `GET /reauth/TARGET`: for a provider with a device flow that allows mail (Microsoft, a
//!   generic server with a device endpoint) the device code to enter, polled by the agent in the
//!   background, and how it ended on a later view; for Google the sign-in link and a field to
//!   paste back the address the browser ended on (a loopback redirect cannot reach a headless
//!   agent).
//! - `POST /reauth/TARGET` (a form): `redirect_url=…` completes a redirect attempt; `action=device`
//!   starts a new device flow.
//! - `GET /reauth/TARGET?format=json`: where it stands, for scripts (starts nothing).
//!
//! The pasted answer's `state` must be that of an attempt this page made (`oauth::reauth::web`),
//! which binds a POST to a page the person was shown: the CSRF defence. Browsers' cross-site
//! POSTs (`Sec-Fetch-Site: cross-site`) are refused as well. Pages carry no scripts, are never
//! cached, never framed, and send no referrer.

mod html;

use crate::app::App;
use crate::oauth::reauth::web::{Context, Status};
use crate::oauth::reauth::{page_flow, Flow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use std::time::Duration;

/// The path prefix.
pub const PREFIX: &str = "/reauth/";
/// The largest form read.
const MAX_FORM: usize = 32 * 1024;
/// How long a client has to send the form.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The page of `target` (a path segment, encoded).
pub fn path_of(target: &str) -> String {
    format!(
        "{PREFIX}{}",
        percent_encoding::utf8_percent_encode(target, SEGMENT)
    )
}

/// What is encoded in a path segment: everything but RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Answers a request whose path starts with [`PREFIX`].
pub async fn handle(app: &Arc<App>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let encoded = req.uri().path()[PREFIX.len()..].to_string();
    let Ok(target) = percent_encoding::percent_decode_str(&encoded).decode_utf8() else {
        return html::message(
            StatusCode::NOT_FOUND,
            "Unknown target",
            "The target name is not valid UTF-8.",
        );
    };
    let target = target.into_owned();
    let Some(account) = app.tokens().account_of(&target) else {
        let known = app.config().targets.iter().any(|t| t.target.name == target);
        let why = if known {
            format!("Target {target:?} has no OAuth2 account whose tokens mailbeat keeps (account.oauth with a client_id).")
        } else {
            format!("There is no target named {target:?}.")
        };
        return html::message(StatusCode::NOT_FOUND, "Nothing to re-authorize", &why);
    };
    let config = app.config();
    let cx = Context {
        tokens: app.tokens().clone(),
        target,
        account,
        timeout: config.global.timeout,
        locale: config.global.locale,
    };
    let flow = match page_flow(&cx.account) {
        Ok(f) => f,
        Err(e) => {
            return html::message(
                StatusCode::CONFLICT,
                "Cannot re-authorize here",
                &e.to_string(),
            )
        }
    };
    let json = req.uri().query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "format" && v == "json")
    });
    match *req.method() {
        Method::GET if json => status_json(app, &cx, flow),
        Method::GET => match flow {
            Flow::Device => device_page(app, &cx, false).await,
            Flow::Redirect => redirect_page(app, &cx),
        },
        Method::POST => post(app, &cx, flow, req).await,
        _ => {
            let mut r = html::message(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "Use GET, or the page's form.",
            );
            r.headers_mut()
                .insert("allow", HeaderValue::from_static("GET, POST"));
            r
        }
    }
}

async fn device_page(app: &Arc<App>, cx: &Context, restart: bool) -> Response<Full<Bytes>> {
    // A finished flow is shown until a person asks for another (a reload must not start one).
    if !restart {
        if let Status::Finished(outcome) = app.reauth.status(&cx.target) {
            return html::device_outcome(cx, &outcome);
        }
    }
    match app.reauth.device(cx, restart).await {
        Ok(view) => html::device_waiting(cx, &view),
        Err(e) => html::failure(cx, StatusCode::BAD_GATEWAY, &e.to_string(), Flow::Device),
    }
}

fn redirect_page(app: &Arc<App>, cx: &Context) -> Response<Full<Bytes>> {
    let last = match app.reauth.status(&cx.target) {
        Status::Finished(o) => Some(o),
        _ => None,
    };
    match app.reauth.start_redirect(cx) {
        Ok(start) => html::redirect(cx, &start, last.as_ref()),
        Err(e) => html::failure(
            cx,
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
            Flow::Redirect,
        ),
    }
}

async fn post(
    app: &Arc<App>,
    cx: &Context,
    flow: Flow,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    // Browsers say where a form came from; a page on another site has no business here. (The
    // state binding below holds without this, for clients that do not send the header.)
    let site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    if matches!(site, Some("cross-site" | "same-site")) {
        return html::message(
            StatusCode::FORBIDDEN,
            "Refused",
            "A form from another site cannot re-authorize an account.",
        );
    }
    let form_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_type {
        return html::message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Not a form",
            "POST the page's form (application/x-www-form-urlencoded).",
        );
    }
    let body = match tokio::time::timeout(
        BODY_TIMEOUT,
        Limited::new(req.into_body(), MAX_FORM).collect(),
    )
    .await
    {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => {
            return html::message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                "The form is larger than an authorization answer can be.",
            )
        }
        Err(_) => {
            return html::message(
                StatusCode::REQUEST_TIMEOUT,
                "Too slow",
                "The form did not arrive in time.",
            )
        }
    };
    let mut pasted = None;
    let mut action = None;
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "redirect_url" if pasted.is_none() => pasted = Some(v.into_owned()),
            "action" if action.is_none() => action = Some(v.into_owned()),
            _ => {}
        }
    }
    match (flow, action.as_deref(), pasted) {
        (Flow::Device, Some("device"), _) => device_page(app, cx, true).await,
        (Flow::Redirect, _, Some(pasted)) => {
            match app.reauth.complete_redirect(cx, &pasted).await {
                Ok(stored) => html::stored(cx, &stored),
                Err(e) => {
                    html::failure(cx, StatusCode::BAD_REQUEST, &e.to_string(), Flow::Redirect)
                }
            }
        }
        _ => html::message(
            StatusCode::BAD_REQUEST,
            "Nothing to do",
            "The form carries neither a pasted address (redirect_url) nor a known action.",
        ),
    }
}

fn status_json(app: &Arc<App>, cx: &Context, flow: Flow) -> Response<Full<Bytes>> {
    let when = |t| humantime::format_rfc3339_seconds(t).to_string();
    let mut v = serde_json::json!({
        "target": cx.target,
        "account": cx.account.username,
        "provider": cx.account.provider.as_str(),
        "flow": flow.as_str(),
    });
    match app.reauth.status(&cx.target) {
        Status::None => v["status"] = "none".into(),
        Status::Waiting(d) => {
            v["status"] = "waiting".into();
            v["user_code"] = d.user_code.into();
            v["verification_uri"] = d.verification_uri.into();
            v["expires_at"] = when(d.expires_at).into();
        }
        Status::Finished(o) => {
            v["status"] = if o.ok { "succeeded" } else { "failed" }.into();
            v["message"] = o.message.into();
            v["at"] = when(o.at).into();
        }
    }
    let mut r = Response::new(Full::new(Bytes::from(v.to_string() + "\n")));
    html::protect(&mut r, "application/json");
    r
}
