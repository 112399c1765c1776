//! The pages of `/reauth/TARGET`: plain HTML, no scripts, every value escaped, links only to
//! `http(s)` addresses. The user code is shown (it is meant for the person); no token, code,
//! verifier or device code ever is.

use super::path_of;
use crate::oauth::reauth::web::{Context, DeviceView, Outcome, RedirectStart};
use crate::oauth::reauth::{Flow, Stored};
use crate::status_page::esc;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};

/// Sets the content type and the headers every re-authorization answer carries.
pub(super) fn protect(r: &mut Response<Full<Bytes>>, content_type: &'static str) {
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // A user code or an outcome is nobody else's business, and stale pages mislead.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&CSP) {
        h.insert("content-security-policy", v);
    }
}

/// Nothing but the page's own style sheet (by its digest), and forms only to this server.
static CSP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use base64::Engine as _;
    let digest = ring::digest::digest(&ring::digest::SHA256, STYLE.as_bytes());
    format!(
        "default-src 'none'; style-src 'sha256-{}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
});

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;max-width:52em;line-height:1.4}\
code{background:#f3f3f3;padding:0 .2em}.code{font-size:2em;font-family:monospace;letter-spacing:.1em}\
.ok{color:#17803d;font-weight:bold}.failed{color:#c62828;font-weight:bold}textarea{width:100%;font-family:monospace}\
.note{color:#555;font-size:.9em}button{font-size:1em;padding:.3em 1em}";

fn page(
    status: StatusCode,
    title: &str,
    body: &str,
    refresh: Option<u32>,
) -> Response<Full<Bytes>> {
    let refresh = refresh
        .map(|s| format!("<meta http-equiv=\"refresh\" content=\"{s}\">"))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">{refresh}<title>{t}</title><style>{STYLE}</style></head><body>\n{body}\n<p class=\"note\"><a href=\"/\">Status page</a></p>\n</body></html>\n",
        t = esc(title),
    );
    let mut r = Response::new(Full::new(Bytes::from(html)));
    *r.status_mut() = status;
    protect(&mut r, "text/html; charset=utf-8");
    r
}

/// A page with one message.
pub(super) fn message(status: StatusCode, title: &str, text: &str) -> Response<Full<Bytes>> {
    page(
        status,
        &format!("mailbeat: {title}"),
        &format!("<h1>{}</h1>\n<p>{}</p>", esc(title), esc(text)),
        None,
    )
}

/// `url` for an `href`, when it is an http(s) address (a server's `verification_uri` could be
/// anything, `javascript:` included).
fn href(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "https" | "http").then(|| esc(parsed.as_str()))
}

fn heading(cx: &Context) -> String {
    format!(
        "<h1>Re-authorize <code>{t}</code></h1>\n<p>Account <b id=\"account\">{a}</b> ({p}, token set <code>{s}</code>).</p>",
        t = esc(&cx.target),
        a = esc(&cx.account.username),
        p = esc(cx.account.provider.as_str()),
        s = esc(&cx.account.token),
    )
}

fn outcome_line(o: &Outcome) -> String {
    format!(
        "<p id=\"outcome\" class=\"{c}\">{m}</p><p class=\"note\">{when}</p>",
        c = if o.ok { "ok" } else { "failed" },
        m = esc(&o.message),
        when = humantime::format_rfc3339_seconds(o.at),
    )
}

/// The redirect flow: the sign-in link and the field to paste the answer into.
pub(super) fn redirect(
    cx: &Context,
    start: &RedirectStart,
    last: Option<&Outcome>,
) -> Response<Full<Bytes>> {
    let last = last
        .map(|o| format!("<h2>Last attempt</h2>\n{}", outcome_line(o)))
        .unwrap_or_default();
    let link = match href(&start.url) {
        Some(h) => format!("<a id=\"authorize\" href=\"{h}\" target=\"_blank\" rel=\"noopener noreferrer\">Open the sign-in page</a>"),
        None => "The authorization URL is not an http(s) address; check oauth.authorization_url.".into(),
    };
    let body = format!(
        r#"{heading}
<ol>
<li>{link} and sign in as <b>{user}</b>. Allow every permission it asks for (mail access included).</li>
<li>The browser then goes to <code>{redirect}?…</code> and says that the page cannot be reached or the connection was refused. That is expected: the agent does not listen there. Copy the whole address from the browser's address bar.</li>
<li><form method="post" action="{action}">
<label for="redirect_url">Paste the address here:</label><br>
<textarea id="redirect_url" name="redirect_url" rows="4" required autocomplete="off" spellcheck="false" placeholder="{redirect}?state=…&amp;code=…"></textarea><br>
<button id="submit" type="submit">Store the new authorization</button>
</form></li>
</ol>
<p class="note">The link works once, for 10 minutes; reload this page for a new one. The address you paste holds a one-time code that only this agent can use (PKCE).</p>
{last}"#,
        heading = heading(cx),
        user = esc(&cx.account.username),
        redirect = esc(&start.redirect_uri),
        action = esc(&path_of(&cx.target)),
    );
    page(
        StatusCode::OK,
        &format!("mailbeat: re-authorize {}", cx.target),
        &body,
        None,
    )
}

/// The device flow while it waits: where to go and the code to enter.
pub(super) fn device_waiting(cx: &Context, view: &DeviceView) -> Response<Full<Bytes>> {
    let uri = match href(&view.verification_uri) {
        Some(h) => format!("<a id=\"verification\" href=\"{h}\" target=\"_blank\" rel=\"noopener noreferrer\">{h}</a>"),
        None => format!("<code id=\"verification\">{}</code>", esc(&view.verification_uri)),
    };
    let message = view
        .message
        .as_deref()
        .map(|m| format!("<p class=\"note\">{}</p>", esc(m)))
        .unwrap_or_default();
    let body = format!(
        r#"{heading}
<p>On any device with a browser, open {uri} and enter this code:</p>
<p id="user-code" class="code">{code}</p>
<p>Sign in as <b>{user}</b> and allow access.</p>
{message}
<p id="status">Waiting for the sign-in. This page refreshes every 5 seconds; the code expires at {expires}.</p>"#,
        heading = heading(cx),
        code = esc(&view.user_code),
        user = esc(&cx.account.username),
        expires = humantime::format_rfc3339_seconds(view.expires_at),
    );
    page(
        StatusCode::OK,
        &format!("mailbeat: re-authorize {}", cx.target),
        &body,
        Some(5),
    )
}

fn restart_form(cx: &Context) -> String {
    format!(
        r#"<form method="post" action="{}"><input type="hidden" name="action" value="device"><button id="restart" type="submit">Start a new sign-in</button></form>"#,
        esc(&path_of(&cx.target))
    )
}

/// How the last device flow ended.
pub(super) fn device_outcome(cx: &Context, o: &Outcome) -> Response<Full<Bytes>> {
    let body = format!("{}\n{}\n{}", heading(cx), outcome_line(o), restart_form(cx));
    page(
        StatusCode::OK,
        &format!("mailbeat: re-authorize {}", cx.target),
        &body,
        None,
    )
}

/// A pasted answer that was stored.
pub(super) fn stored(cx: &Context, s: &Stored) -> Response<Full<Bytes>> {
    let who = s.confirmed.as_deref().unwrap_or(&cx.account.username);
    let warnings: String = s
        .warnings
        .iter()
        .map(|w| format!("<p class=\"note\">Note: {}</p>", esc(w)))
        .collect();
    let body = format!(
        "{}\n<p id=\"outcome\" class=\"ok\">New tokens stored for {} ({}).</p>\n{warnings}<p>The next <code>token</code> check uses them.</p>",
        heading(cx),
        esc(&cx.target),
        esc(who),
    );
    page(
        StatusCode::OK,
        &format!("mailbeat: {} re-authorized", cx.target),
        &body,
        None,
    )
}

/// An attempt that failed, with the way to try again.
pub(super) fn failure(
    cx: &Context,
    status: StatusCode,
    text: &str,
    flow: Flow,
) -> Response<Full<Bytes>> {
    let again = match flow {
        Flow::Device => restart_form(cx),
        Flow::Redirect => format!(
            "<p><a id=\"again\" href=\"{}\">Try again</a></p>",
            esc(&path_of(&cx.target))
        ),
    };
    let body = format!(
        "{}\n<p id=\"outcome\" class=\"failed\">{}</p>\n{again}",
        heading(cx),
        esc(text)
    );
    page(
        status,
        &format!("mailbeat: re-authorize {}", cx.target),
        &body,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_addresses_become_links_and_names_are_encoded() {
        assert_eq!(href("javascript:alert(1)"), None);
        assert_eq!(href("data:text/html,x"), None);
        assert_eq!(href("not a url"), None);
        assert_eq!(
            href("https://microsoft.com/devicelogin?a=1&b=\"2\"").as_deref(),
            Some("https://microsoft.com/devicelogin?a=1&amp;b=%222%22")
        );
        assert_eq!(
            path_of("nas gmail/x<\"'"),
            "/reauth/nas%20gmail%2Fx%3C%22%27"
        );
        assert_eq!(path_of("a-b_c.d~e"), "/reauth/a-b_c.d~e");
    }
}
