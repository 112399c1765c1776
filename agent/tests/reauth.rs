//! Re-authorization, black-box against the built binary: `mailbeat reauth` (redirect and device
//! flows), `mailbeat token import|list`, and the status page's `/reauth/TARGET` (paste-back and
//! device code), against a small fake authorization server on 127.0.0.1 (plain HTTP, which the
//! config accepts for loopback URLs). The fake checks PKCE (S256) and the redirect URI like a
//! real server; the shared loopback IdP of `support::idp` will replace it.
//!
//! Every token, code and device code the fake issues starts with `SECRET-`: no output of the
//! agent (stdout, stderr at trace level, pages, `token list`) may contain one, nor a verifier.

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "mailbeat-test-client";
const GMAIL_USER: &str = "nas-alerts@example.com";
const OUTLOOK_USER: &str = "nas@contoso.example";
const USER_CODE: &str = "WDJB-MJHT";

// ---------------------------------------------------------------------------------------------
// The fake authorization server.

struct Code {
    challenge: String,
    redirect_uri: String,
    email: String,
    scope: String,
}

#[derive(Default)]
struct Fake {
    /// Who "signs in" at /authorize, or at the device page.
    signed_in: String,
    /// /authorize answers error=access_denied.
    deny: bool,
    codes: HashMap<String, Code>,
    /// The answers to the next device polls: `pending`, `slow_down`, `ok`; then `pending`.
    device_script: VecDeque<&'static str>,
    device_code: Option<(String, String)>,
    device_polls: Vec<Instant>,
    requests: usize,
    /// Every secret it issued or received, for the leak checks.
    secrets: Vec<String>,
    /// Code exchanges whose PKCE verifier matched.
    pkce_ok: usize,
    authorize_queries: Vec<HashMap<String, String>>,
    next: u64,
}

impl Fake {
    fn secret(&mut self, kind: &str) -> String {
        self.next += 1;
        let s = format!("SECRET-{kind}-{}-{}", self.next, std::process::id());
        self.secrets.push(s.clone());
        s
    }

    fn id_token(email: &str, microsoft: bool) -> String {
        let claims = if microsoft {
            serde_json::json!({"iss": "fake", "aud": CLIENT_ID, "preferred_username": email, "name": "NAS"})
        } else {
            serde_json::json!({"iss": "fake", "aud": CLIENT_ID, "email": email, "email_verified": true})
        };
        format!(
            "{}.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    fn tokens(&mut self, email: &str, scope: &str) -> serde_json::Value {
        let microsoft = email.ends_with("contoso.example");
        serde_json::json!({
            "access_token": self.secret("at"),
            "refresh_token": self.secret("rt"),
            "expires_in": 3600,
            "token_type": "Bearer",
            "scope": scope,
            "id_token": Fake::id_token(email, microsoft),
        })
    }
}

struct FakeIdp {
    port: u16,
    fake: Arc<Mutex<Fake>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Answer = Response<Full<Bytes>>;

fn reply(status: u16, content_type: &str, body: String) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn json(status: u16, v: serde_json::Value) -> Answer {
    reply(status, "application/json", v.to_string())
}

fn oauth_error(error: &str) -> Answer {
    json(400, serde_json::json!({"error": error}))
}

impl FakeIdp {
    fn start(signed_in: &str) -> FakeIdp {
        let fake = Arc::new(Mutex::new(Fake {
            signed_in: signed_in.into(),
            ..Fake::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let f = fake.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let f = f.clone();
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| {
                                    let f = f.clone();
                                    async move { Ok::<_, std::convert::Infallible>(handle(&f, port, req).await) }
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                        _ = &mut stopped => break,
                    }
                }
            });
        });
        FakeIdp {
            port,
            fake,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Fake) -> R) -> R {
        f(&mut self.fake.lock().unwrap())
    }
}

fn pairs(s: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(s)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn handle(fake: &Mutex<Fake>, port: u16, req: Request<Incoming>) -> Answer {
    let path = req.uri().path().to_string();
    let query = pairs(req.uri().query().unwrap_or("").as_bytes());
    let method = req.method().clone();
    let body = match Limited::new(req.into_body(), 64 * 1024).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return oauth_error("invalid_request"),
    };
    let form = pairs(&body);
    let mut f = fake.lock().unwrap();
    f.requests += 1;
    match (method.as_str(), path.as_str()) {
        ("GET", "/authorize") => {
            f.authorize_queries.push(query.clone());
            let (Some(redirect), Some(state)) = (query.get("redirect_uri"), query.get("state"))
            else {
                return reply(
                    400,
                    "text/plain",
                    "redirect_uri and state are required".into(),
                );
            };
            let ok = query.get("response_type").map(String::as_str) == Some("code")
                && query.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && query.get("code_challenge_method").map(String::as_str) == Some("S256")
                && query.get("code_challenge").is_some_and(|c| c.len() == 43);
            if !ok {
                return reply(400, "text/plain", "not an S256 PKCE code request".into());
            }
            let mut location = reqwest::Url::parse(redirect).unwrap();
            if f.deny {
                location
                    .query_pairs_mut()
                    .append_pair("error", "access_denied")
                    .append_pair("state", state);
            } else {
                let code = f.secret("code");
                let email = f.signed_in.clone();
                f.codes.insert(
                    code.clone(),
                    Code {
                        challenge: query["code_challenge"].clone(),
                        redirect_uri: redirect.clone(),
                        email,
                        scope: query.get("scope").cloned().unwrap_or_default(),
                    },
                );
                location
                    .query_pairs_mut()
                    .append_pair("state", state)
                    .append_pair("code", &code)
                    .append_pair("scope", &query.get("scope").cloned().unwrap_or_default());
            }
            Response::builder()
                .status(302)
                .header("location", location.as_str())
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
        ("POST", "/devicecode") => {
            let dc = f.secret("dc");
            f.device_code = Some((dc.clone(), form.get("scope").cloned().unwrap_or_default()));
            json(
                200,
                serde_json::json!({
                    "device_code": dc,
                    "user_code": USER_CODE,
                    "verification_uri": format!("http://127.0.0.1:{port}/device"),
                    "expires_in": 120,
                    "interval": 1,
                    "message": format!("To sign in, use a web browser to open the page http://127.0.0.1:{port}/device and enter the code {USER_CODE} to authenticate."),
                }),
            )
        }
        ("POST", "/token") => match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                let Some(code) = form.get("code").and_then(|c| f.codes.remove(c)) else {
                    return oauth_error("invalid_grant");
                };
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                f.secrets.push(verifier.clone());
                let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                if challenge != code.challenge
                    || form.get("redirect_uri") != Some(&code.redirect_uri)
                    || form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
                {
                    return oauth_error("invalid_grant");
                }
                f.pkce_ok += 1;
                let t = f.tokens(&code.email, &code.scope);
                json(200, t)
            }
            Some("urn:ietf:params:oauth:grant-type:device_code") => {
                let Some((dc, scope)) = f.device_code.clone() else {
                    return oauth_error("invalid_grant");
                };
                if form.get("device_code") != Some(&dc) {
                    return oauth_error("invalid_grant");
                }
                f.device_polls.push(Instant::now());
                match f.device_script.pop_front().unwrap_or("pending") {
                    "slow_down" => oauth_error("slow_down"),
                    "ok" => {
                        let email = f.signed_in.clone();
                        let t = f.tokens(&email, &scope);
                        json(200, t)
                    }
                    _ => oauth_error("authorization_pending"),
                }
            }
            Some("refresh_token") => {
                let t = serde_json::json!({"access_token": f.secret("at"), "expires_in": 3600});
                json(200, t)
            }
            _ => oauth_error("unsupported_grant_type"),
        },
        _ => reply(404, "text/plain", "not found".into()),
    }
}

// ---------------------------------------------------------------------------------------------
// The agent's side.

/// A config with a Google target `gmail` and a Microsoft target `outlook`, both at `idp`.
fn write_config(dir: &Path, idp: &FakeIdp) -> PathBuf {
    let account = |provider: &str, user: &str| {
        format!(
            "    account:
      username: {user}
      oauth:
        provider: {provider}
        client_id: {CLIENT_ID}
        token_url: {token}
        authorization_url: {authorize}
        device_authorization_url: {device}
",
            token = idp.url("/token"),
            authorize = idp.url("/authorize"),
            device = idp.url("/devicecode"),
        )
    };
    let closed = support::closed_port();
    let yaml = format!(
        "global: {{state_dir: {state}, every: 1h}}
targets:
  - name: gmail
    protocol: smtp
    host: 127.0.0.1
    port: {closed}
    tls: none
{gmail}    probes: [token]
  - name: outlook
    protocol: imap
    host: 127.0.0.1
    port: {closed}
    tls: none
{outlook}    probes: [token]
",
        state = dir.join("state").display(),
        gmail = account("google", GMAIL_USER),
        outlook = account("microsoft", OUTLOOK_USER),
    );
    let path = dir.join("mailbeat.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// A running `mailbeat reauth`, its stdout read line by line.
struct Reauth {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Reauth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Reauth {
    fn start(config: &Path, args: &[&str]) -> Reauth {
        let mut child = Command::new(support::BIN)
            .arg("reauth")
            .args(args)
            .args(["--no-browser", "--log.level", "trace", "--config.file"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Reauth {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line (trimmed) that `pick` accepts, within 20 s.
    fn line(&mut self, pick: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if pick(l.trim()) {
                        return l.trim().to_string();
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no such line in the output of reauth: {:?}", self.seen);
    }

    /// Waits (at most `limit`) for the exit; the exit code, all of stdout and stderr.
    fn finish(mut self, limit: Duration) -> (i32, String, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "reauth did not end within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(l);
        }
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.code().unwrap_or(-1), self.seen.join("\n"), err)
    }
}

/// One plain-HTTP request to 127.0.0.1; `url` is absolute (`http://127.0.0.1:P/...`).
fn get(url: &str) -> support::Reply {
    let u = reqwest::Url::parse(url).unwrap();
    let path = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    support::Client::default()
        .request(u.port().unwrap(), "GET", &path)
        .unwrap()
}

/// A request with an optional form body and basic credentials.
fn request(
    port: u16,
    method: &str,
    path: &str,
    basic: Option<(&str, &str)>,
    form: Option<&[(&str, &str)]>,
) -> support::Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = form
        .map(|f| {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(f.iter())
                .finish()
        })
        .unwrap_or_default();
    let auth = basic
        .map(|(u, p)| {
            format!(
                "Authorization: Basic {}\r\n",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        })
        .unwrap_or_default();
    let ctype = if form.is_some() {
        "Content-Type: application/x-www-form-urlencoded\r\n"
    } else {
        ""
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}{ctype}Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    support::Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// `mailbeat token list --output json`, parsed; its raw text too.
fn token_list(config: &Path) -> (serde_json::Value, String) {
    let out = support::mailbeat(&["token", "list", "--output", "json"], config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    (serde_json::from_str(&text).unwrap(), text)
}

fn token_set<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list["token_sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no token set {name} in {list}"))
}

/// No secret the fake issued or received appears in `text`.
fn assert_no_secret(idp: &FakeIdp, what: &str, text: &str) {
    assert!(
        !text.contains("SECRET-"),
        "a token or code in {what}:\n{text}"
    );
    for s in idp.with(|f| f.secrets.clone()) {
        assert!(!text.contains(&s), "{s} in {what}:\n{text}");
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `href` of the element with `id` in `html`.
fn href_of(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[at..];
    let start = rest.find("href=\"").unwrap() + 6;
    let end = rest[start..].find('"').unwrap();
    unescape(&rest[start..start + end])
}

// ---------------------------------------------------------------------------------------------
// `mailbeat reauth`: the redirect flow.

#[test]
fn redirect_flow_stores_the_grant_after_pkce_and_the_identity_check() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start(GMAIL_USER);
    let config = write_config(dir.path(), &idp);
    let started = Instant::now();
    let mut reauth = Reauth::start(&config, &["gmail"]);
    let url = reauth.line(|l| l.starts_with("http://"));
    let q = pairs(
        reqwest::Url::parse(&url)
            .unwrap()
            .query()
            .unwrap()
            .as_bytes(),
    );
    assert_eq!(q["scope"], "https://mail.google.com/ openid email");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["login_hint"], GMAIL_USER);
    assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"), "{url}");
    // The browser: the server's consent answers with a redirect to the loopback listener.
    let consent = get(&url);
    assert_eq!(consent.status, 302, "{consent:?}");
    let back = consent.header("location").unwrap().to_string();
    assert!(back.starts_with(&q["redirect_uri"]), "{back}");
    // A favicon request first, as browsers do: ignored.
    let port = reqwest::Url::parse(&back).unwrap().port().unwrap();
    assert_eq!(support::http(port, "GET", "/favicon.ico").0, 404);
    let tab = get(&back);
    assert_eq!(tab.status, 200, "{tab:?}");
    assert!(
        tab.body.contains("stored the new tokens for gmail"),
        "{}",
        tab.body
    );
    let (code, out, err) = reauth.finish(Duration::from_secs(20));
    let took = started.elapsed();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(
            "Stored new tokens for gmail (token set gmail, account nas-alerts@example.com)."
        ),
        "{out}"
    );
    assert_eq!(
        idp.with(|f| f.pkce_ok),
        1,
        "the code was exchanged with its verifier"
    );
    eprintln!("redirect flow, start to stored: {took:?}");
    let (list, text) = token_list(&config);
    let set = token_set(&list, "gmail");
    assert_eq!(set["authorized"], true);
    assert_eq!(set["account"], GMAIL_USER);
    assert_eq!(set["provider"], "google");
    assert_eq!(set["refresh_token_predicted_basis"], "inactivity");
    assert!(set["access_token_expires_at"].is_string());
    assert_eq!(token_set(&list, "outlook")["authorized"], false);
    for (what, text) in [
        ("stdout", &out),
        ("stderr (trace)", &err),
        ("token list", &text),
        ("the tab", &tab.body),
    ] {
        assert_no_secret(&idp, what, text);
    }
    let table = support::mailbeat(&["token", "list"], &config);
    assert_no_secret(&idp, "token list", &String::from_utf8_lossy(&table.stdout));
}

#[test]
fn a_wrong_state_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start(GMAIL_USER);
    let config = write_config(dir.path(), &idp);
    let mut reauth = Reauth::start(&config, &["gmail"]);
    let url = reauth.line(|l| l.starts_with("http://"));
    let back = get(&url).header("location").unwrap().to_string();
    let mut forged = reqwest::Url::parse(&back).unwrap();
    let kept: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "forged".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(kept);
    let tab = get(forged.as_str());
    assert_eq!(tab.status, 400, "{tab:?}");
    assert!(tab.body.contains("does not match"), "{}", tab.body);
    let (code, out, err) = reauth.finish(Duration::from_secs(20));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("state does not match this authorization attempt"),
        "{err}"
    );
    assert!(err.contains("nothing stored"), "{err}");
    assert_eq!(idp.with(|f| f.pkce_ok), 0, "the code was never exchanged");
    let (list, _) = token_list(&config);
    assert_eq!(token_set(&list, "gmail")["authorized"], false);
    assert_no_secret(&idp, "stderr", &err);
}

#[test]
fn a_declined_consent_ends_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start(GMAIL_USER);
    idp.with(|f| f.deny = true);
    let config = write_config(dir.path(), &idp);
    let mut reauth = Reauth::start(&config, &["gmail"]);
    let url = reauth.line(|l| l.starts_with("http://"));
    let back = get(&url).header("location").unwrap().to_string();
    assert_eq!(get(&back).status, 400);
    let (code, _, err) = reauth.finish(Duration::from_secs(20));
    assert_eq!(code, 1);
    assert!(
        err.contains("declined at the provider (access_denied): nothing stored"),
        "{err}"
    );
}

#[test]
fn a_grant_of_another_account_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start("someone.else@gmail.example");
    let config = write_config(dir.path(), &idp);
    let mut reauth = Reauth::start(&config, &["gmail"]);
    let url = reauth.line(|l| l.starts_with("http://"));
    let back = get(&url).header("location").unwrap().to_string();
    let tab = get(&back);
    assert_eq!(tab.status, 400);
    assert!(
        tab.body.contains("someone.else@gmail.example"),
        "{}",
        tab.body
    );
    let (code, out, err) = reauth.finish(Duration::from_secs(20));
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("the sign-in was as someone.else@gmail.example, but this target's account is nas-alerts@example.com: refused, nothing stored"),
        "{err}"
    );
    assert_eq!(idp.with(|f| f.pkce_ok), 1, "exchanged, then refused");
    let (list, text) = token_list(&config);
    let set = token_set(&list, "gmail");
    assert_eq!(set["authorized"], false, "{set}");
    assert!(set["authorized_at"].is_null());
    assert_no_secret(&idp, "token list", &text);
    assert_no_secret(&idp, "stderr", &err);
}

// ---------------------------------------------------------------------------------------------
// `mailbeat reauth --device`.

#[test]
fn device_flow_keeps_polling_through_pending_and_slow_down() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start(OUTLOOK_USER);
    idp.with(|f| f.device_script = VecDeque::from(["pending", "slow_down", "ok"]));
    let config = write_config(dir.path(), &idp);
    let started = Instant::now();
    let mut reauth = Reauth::start(&config, &["outlook", "--device"]);
    let code_line = reauth.line(|l| l.starts_with("Code:"));
    assert_eq!(code_line, format!("Code: {USER_CODE}"));
    reauth.line(|l| l.starts_with("To sign in, use a web browser"));
    let (code, out, err) = reauth.finish(Duration::from_secs(60));
    let took = started.elapsed();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!("Open: {}", idp.url("/device"))),
        "{out}"
    );
    assert!(out.contains("Stored new tokens for outlook"), "{out}");
    let polls = idp.with(|f| f.device_polls.clone());
    assert_eq!(polls.len(), 3, "pending, slow_down, then the grant");
    let gaps: Vec<Duration> = polls.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("device flow: poll gaps {gaps:?}, start to stored {took:?}");
    assert!(
        gaps[0] >= Duration::from_millis(900),
        "the interval: {gaps:?}"
    );
    assert!(
        gaps[1] >= Duration::from_millis(5900),
        "slow_down adds 5 s: {gaps:?}"
    );
    let scope = idp.with(|f| f.device_code.clone().unwrap().1);
    assert_eq!(
        scope,
        "https://outlook.office.com/IMAP.AccessAsUser.All offline_access openid profile email"
    );
    let (list, text) = token_list(&config);
    assert_eq!(token_set(&list, "outlook")["authorized"], true);
    assert_eq!(token_set(&list, "outlook")["account"], OUTLOOK_USER);
    for (what, text) in [
        ("stdout", &out),
        ("stderr (trace)", &err),
        ("token list", &text),
    ] {
        assert_no_secret(&idp, what, text);
    }
}

#[test]
fn device_is_refused_for_google_before_anything_is_contacted() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start(GMAIL_USER);
    let config = write_config(dir.path(), &idp);
    let out = support::mailbeat(&["reauth", "gmail", "--device", "--no-browser"], &config);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "Google does not allow the Gmail scope (https://mail.google.com/) in its device flow"
        ),
        "{err}"
    );
    assert!(
        !err.contains("invalid_scope\"") && !err.contains("HTTP"),
        "{err}"
    );
    assert_eq!(idp.with(|f| f.requests), 0, "nothing was contacted");
    assert!(
        !dir.path().join("state").exists(),
        "nothing was opened either"
    );
}

// ---------------------------------------------------------------------------------------------
// `mailbeat token import` and `token list`.

#[test]
fn token_import_stores_a_file_and_a_bad_file_is_named_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start(GMAIL_USER);
    let config = write_config(dir.path(), &idp);
    let file = dir.path().join("tokens.json");
    std::fs::write(
        &file,
        r#"{"refresh_token": "SECRET-imported-rt", "access_token": "SECRET-imported-at", "expires_at": "2099-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let out = support::mailbeat(
        &["token", "import", "outlook", file.to_str().unwrap()],
        &config,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_secret(
        &idp,
        "import's stdout",
        &String::from_utf8_lossy(&out.stdout),
    );
    let (list, text) = token_list(&config);
    let set = token_set(&list, "outlook");
    assert_eq!(set["authorized"], true);
    assert_eq!(set["access_token_expires_at"], "2099-01-01T00:00:00Z");
    assert_eq!(set["refresh_token_predicted_basis"], "inactivity");
    assert_no_secret(&idp, "token list", &text);
    std::fs::write(&file, r#"{"refresh_token": SECRET-not-json}"#).unwrap();
    let out = support::mailbeat(
        &["token", "import", "outlook", file.to_str().unwrap()],
        &config,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tokens.json: the JSON is not valid (line 1, column"),
        "{err}"
    );
    assert_no_secret(&idp, "import's error", &err);
    let out = support::mailbeat(
        &["token", "import", "nope", file.to_str().unwrap()],
        &config,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no target named \"nope\""));
}

// ---------------------------------------------------------------------------------------------
// The status page: `/reauth/TARGET`.

const WEB_USER: &str = "admin";
const WEB_PASSWORD: &str = "correct horse";

fn start_agent_with_auth(dir: &Path, config: &Path) -> support::Agent {
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "basic_auth_users:\n  {WEB_USER}: {}\n",
            support::bcrypt_hash(WEB_PASSWORD)
        ),
    )
    .unwrap();
    let agent =
        support::start_agent_with(config, dir, &["--web.config.file", web.to_str().unwrap()]);
    assert!(support::wait_until(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", agent.port)).is_ok()
    }));
    agent
}

const CREDS: Option<(&str, &str)> = Some((WEB_USER, WEB_PASSWORD));

#[test]
fn web_paste_back_flow_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start(GMAIL_USER);
    let config = write_config(dir.path(), &idp);
    let agent = start_agent_with_auth(dir.path(), &config);
    // Behind basic auth like every path.
    assert_eq!(
        request(agent.port, "GET", "/reauth/gmail", None, None).status,
        401
    );
    let status = request(agent.port, "GET", "/", CREDS, None);
    assert!(
        status
            .body
            .contains("<a class=\"reauth\" href=\"/reauth/gmail\">Re-authorize</a>"),
        "{}",
        status.body
    );
    assert!(status.body.contains("href=\"/reauth/outlook\""));
    let started = Instant::now();
    let page = request(agent.port, "GET", "/reauth/gmail", CREDS, None);
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(page.body.contains("name=\"redirect_url\""));
    assert!(!page.body.contains("<script"));
    let link = href_of(&page.body, "authorize");
    assert!(link.starts_with(&idp.url("/authorize?")), "{link}");
    let consent = get(&link);
    assert_eq!(consent.status, 302);
    // The browser would now fail to reach this address; the person copies it.
    let pasted = consent.header("location").unwrap().to_string();
    assert!(pasted.starts_with("http://127.0.0.1:"), "{pasted}");
    // A pasted address of no attempt of this page, and garbage: refused, nothing exchanged.
    let forged = pasted.replace("state=", "state=x");
    let r = request(
        agent.port,
        "POST",
        "/reauth/gmail",
        CREDS,
        Some(&[("redirect_url", &forged)]),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("belongs to no pending attempt"),
        "{}",
        r.body
    );
    let r = request(
        agent.port,
        "POST",
        "/reauth/gmail",
        CREDS,
        Some(&[("redirect_url", "<script>alert(1)</script>")]),
    );
    assert_eq!(r.status, 400);
    assert!(!r.body.contains("<script>"), "{}", r.body);
    // Another target's page cannot take this target's attempt.
    let r = request(
        agent.port,
        "POST",
        "/reauth/outlook",
        CREDS,
        Some(&[("redirect_url", &pasted)]),
    );
    assert_eq!(r.status, 400);
    assert_eq!(idp.with(|f| f.pkce_ok), 0);
    // The real one.
    let r = request(
        agent.port,
        "POST",
        "/reauth/gmail",
        CREDS,
        Some(&[("redirect_url", &pasted)]),
    );
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains("New tokens stored for gmail (nas-alerts@example.com)."),
        "{}",
        r.body
    );
    eprintln!("paste-back over HTTP, page to stored: {took:?}");
    assert_eq!(idp.with(|f| f.pkce_ok), 1);
    // Used once.
    let r = request(
        agent.port,
        "POST",
        "/reauth/gmail",
        CREDS,
        Some(&[("redirect_url", &pasted)]),
    );
    assert_eq!(r.status, 400);
    let json = request(agent.port, "GET", "/reauth/gmail?format=json", CREDS, None);
    let v: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(v["status"], "succeeded", "{v}");
    assert_eq!(v["flow"], "redirect");
    let (list, text) = token_list(&config);
    assert_eq!(token_set(&list, "gmail")["authorized"], true);
    let log = std::fs::read_to_string(&agent.log).unwrap();
    assert!(log.contains("re-authorized from the status page"), "{log}");
    for (what, text) in [
        ("the page", &page.body),
        ("the answer", &r.body),
        ("token list", &text),
        ("the agent's log", &log),
        ("the status JSON", &json.body),
    ] {
        assert_no_secret(&idp, what, text);
    }
}

#[test]
fn web_cross_site_posts_and_non_forms_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start(GMAIL_USER);
    let config = write_config(dir.path(), &idp);
    let agent = support::start_agent(&config, dir.path());
    let page = request(agent.port, "GET", "/reauth/gmail", None, None);
    let pasted = get(&href_of(&page.body, "authorize"))
        .header("location")
        .unwrap()
        .to_string();
    // A forged cross-site form, as a browser labels it.
    let mut s = TcpStream::connect(("127.0.0.1", agent.port)).unwrap();
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("redirect_url", &pasted)
        .finish();
    write!(s, "POST /reauth/gmail HTTP/1.1\r\nHost: x\r\nSec-Fetch-Site: cross-site\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    assert_eq!(
        request(agent.port, "POST", "/reauth/gmail", None, None).status,
        415
    );
    assert_eq!(
        request(agent.port, "PUT", "/reauth/gmail", None, None).status,
        405
    );
    assert_eq!(
        request(agent.port, "GET", "/reauth/nope", None, None).status,
        404
    );
    assert_eq!(
        request(agent.port, "GET", "/reauth/%ff%fe", None, None).status,
        404
    );
    assert_eq!(idp.with(|f| f.pkce_ok), 0);
    // The attempt is still usable by the person's own form.
    let r = request(
        agent.port,
        "POST",
        "/reauth/gmail",
        None,
        Some(&[("redirect_url", &pasted)]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn web_device_flow_shows_the_code_and_then_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start(OUTLOOK_USER);
    idp.with(|f| f.device_script = VecDeque::from(["pending", "ok"]));
    let config = write_config(dir.path(), &idp);
    let agent = support::start_agent(&config, dir.path());
    let started = Instant::now();
    let page = request(agent.port, "GET", "/reauth/outlook", None, None);
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body.contains(&format!(
            "<p id=\"user-code\" class=\"code\">{USER_CODE}</p>"
        )),
        "{}",
        page.body
    );
    assert_eq!(href_of(&page.body, "verification"), idp.url("/device"));
    assert!(page.body.contains("http-equiv=\"refresh\""));
    // A second view while it waits shows the same code; no second device code is requested.
    let again = request(agent.port, "GET", "/reauth/outlook", None, None);
    assert!(again.body.contains(USER_CODE));
    let mut v = serde_json::Value::Null;
    assert!(support::wait_until(Duration::from_secs(20), || {
        let r = request(agent.port, "GET", "/reauth/outlook?format=json", None, None);
        v = serde_json::from_str(&r.body).unwrap();
        v["status"] != "waiting"
    }));
    eprintln!(
        "device flow on the page, view to stored: {:?}",
        started.elapsed()
    );
    assert_eq!(v["status"], "succeeded", "{v}");
    assert_eq!(idp.with(|f| f.device_polls.len()), 2);
    let done = request(agent.port, "GET", "/reauth/outlook", None, None);
    assert!(
        done.body
            .contains("new tokens stored for outlook (nas@contoso.example)"),
        "{}",
        done.body
    );
    assert!(
        done.body.contains("id=\"restart\""),
        "a finished flow is not restarted by a reload"
    );
    let (list, text) = token_list(&config);
    assert_eq!(token_set(&list, "outlook")["authorized"], true);
    let log = std::fs::read_to_string(&agent.log).unwrap();
    for (what, text) in [
        ("the page", &page.body),
        ("token list", &text),
        ("the agent's log", &log),
    ] {
        assert_no_secret(&idp, what, text);
    }
}

// ---------------------------------------------------------------------------------------------
// The paste-back page in a real browser: Debian's Chromium, driven over the DevTools protocol.

/// Where the browser test leaves its screenshots: `MAILBEAT_TEST_OUTPUT`, or a directory in
/// cargo's target directory.
fn test_output() -> PathBuf {
    let dir = std::env::var_os("MAILBEAT_TEST_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-output"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("MAILBEAT_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "{} not found: this test needs Debian's chromium (bash tests/run-all.sh installs it)",
        path.display()
    );
    path
}

#[test]
#[ignore = "needs chromium: run bash tests/run-all.sh"]
fn chromium_pastes_the_redirect_back_and_sees_success() {
    use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
    use headless_chrome::{Browser, LaunchOptions};
    use std::ffi::OsStr;

    let dir = tempfile::tempdir().unwrap();
    let idp = FakeIdp::start(GMAIL_USER);
    let config = write_config(dir.path(), &idp);
    let agent = start_agent_with_auth(dir.path(), &config);
    let profile = dir.path().join("chromium-profile");
    let started = Instant::now();
    let browser = Browser::new(
        LaunchOptions::default_builder()
            .path(Some(chromium()))
            .headless(true)
            .sandbox(false)
            .user_data_dir(Some(profile))
            .window_size(Some((1100, 900)))
            .idle_browser_timeout(Duration::from_secs(60))
            // Without these, Chromium reaches for Google's hosts at start, which this machine's
            // network refuses.
            .args(vec![
                OsStr::new("--disable-gpu"),
                OsStr::new("--disable-quic"),
                OsStr::new("--disable-component-update"),
                OsStr::new("--no-default-browser-check"),
            ])
            .build()
            .unwrap(),
    )
    .expect("chromium did not start");
    eprintln!("{:>6.1?} chromium started", started.elapsed());
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(20));
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{WEB_USER}:{WEB_PASSWORD}"))
    );
    tab.set_extra_http_headers(HashMap::from([("Authorization", basic.as_str())]))
        .unwrap();
    let base = format!("http://127.0.0.1:{}", agent.port);
    let shots = test_output();
    let shot = |name: &str| {
        let png = tab
            .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
            .unwrap();
        let path = shots.join(name);
        std::fs::write(&path, png).unwrap();
        eprintln!("{:>6.1?} screenshot: {}", started.elapsed(), path.display());
    };

    // The status page links to the re-authorization of each OAuth account.
    tab.navigate_to(&format!("{base}/"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("a.reauth[href=\"/reauth/gmail\"]")
        .unwrap()
        .click()
        .unwrap();
    let link = tab
        .wait_for_element("#authorize")
        .unwrap()
        .get_attribute_value("href")
        .unwrap()
        .expect("the sign-in link has an href");
    assert_eq!(tab.get_url(), format!("{base}/reauth/gmail"));
    shot("reauth-1-page.png");

    // Follow the link as the person would: the server consents and redirects to the loopback
    // address nothing listens on, where the browser shows its error page.
    if let Err(e) = tab.navigate_to(&link) {
        // What the browser says of the unreachable address.
        assert!(e.to_string().contains("ERR_CONNECTION_REFUSED"), "{e}");
    }
    let mut landed = String::new();
    assert!(
        support::wait_until(Duration::from_secs(20), || {
            landed = tab.get_url();
            landed.contains("code=")
        }),
        "the browser never reached the redirect; it is at {landed}"
    );
    assert!(landed.starts_with("http://127.0.0.1:"), "{landed}");
    shot("reauth-2-unreachable-redirect.png");

    // Back to the page, paste the address, submit.
    tab.navigate_to(&format!("{base}/reauth/gmail"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("#redirect_url")
        .unwrap()
        .click()
        .unwrap();
    // Input.insertText, as a paste does (typing key by key takes ~0.2 s a character).
    tab.send_character(&landed).unwrap();
    shot("reauth-3-pasted.png");
    tab.wait_for_element("#submit").unwrap().click().unwrap();
    let outcome = tab
        .wait_for_element("#outcome.ok")
        .unwrap()
        .get_inner_text()
        .unwrap();
    shot("reauth-4-stored.png");
    eprintln!(
        "chromium paste-back, browser start to stored: {:?}",
        started.elapsed()
    );
    assert_eq!(
        outcome,
        "New tokens stored for gmail (nas-alerts@example.com)."
    );
    assert_eq!(idp.with(|f| f.pkce_ok), 1);
    let (list, _) = token_list(&config);
    assert_eq!(token_set(&list, "gmail")["authorized"], true);
    let html = tab.get_content().unwrap();
    assert_no_secret(&idp, "the final page", &html);
}
