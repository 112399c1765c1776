//! The loopback IdP of the tests (`support/idp.rs`) itself, through a real HTTPS client (reqwest
//! with rustls, trusting the IdP's CA): rotation and its one grace, PKCE S256, the device flow,
//! introspection, scripted answers, the providers' body shapes, and bad input.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::idp::{
    s256_challenge, Answer, DevicePoll, Flavor, Idp, Presented, CLIENT_ID, DEVICE_GRANT,
    ID_TOKEN_KEY,
};

const USER: &str = "alice@mail.test";

struct Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    location: Option<String>,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

impl Client {
    fn new(idp: &Idp) -> Client {
        use rustls::pki_types::pem::PemObject;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls::pki_types::CertificateDer::pem_file_iter(idp.ca_file()).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Client { rt, http }
    }

    fn send(&self, req: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
        self.rt.block_on(async {
            let r = req.send().await?;
            let status = r.status().as_u16();
            let location = r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let text = r.text().await?;
            Ok(Reply {
                status,
                location,
                text,
            })
        })
    }

    fn post(&self, url: &str, form: &[(&str, &str)]) -> Reply {
        self.send(self.http.post(url).form(form)).unwrap()
    }

    fn get(&self, url: &str) -> Reply {
        self.send(self.http.get(url)).unwrap()
    }

    fn refresh(&self, idp: &Idp, rt: &str) -> Reply {
        self.post(
            &idp.token_url(),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("refresh_token", rt),
            ],
        )
    }
}

fn rt_of(r: &Reply) -> String {
    r.json()["refresh_token"].as_str().unwrap().to_string()
}

#[test]
fn rotation_accepts_only_the_latest_and_the_previous_once_while_the_latest_is_unseen() {
    let idp = Idp::start(Flavor::Microsoft);
    let c = Client::new(&idp);
    let seeded = idp.grant(USER);
    assert!(idp.access_token_active(&seeded.access_token));

    let r = c.refresh(&idp, &seeded.refresh_token);
    assert_eq!(r.status, 200, "{}", r.text);
    let rt1 = rt_of(&r);
    assert_ne!(rt1, seeded.refresh_token, "Microsoft rotates");
    let j = r.json();
    assert_eq!(j["token_type"], "Bearer");
    assert_eq!(j["expires_in"], 3600);
    assert!(j["ext_expires_in"].is_number() && j["scope"].is_string());

    // The client "crashed" before storing rt1: the previous one still works, once.
    let r = c.refresh(&idp, &seeded.refresh_token);
    assert_eq!(r.status, 200, "{}", r.text);
    let rt2 = rt_of(&r);
    for stale in [&seeded.refresh_token, &rt1] {
        let r = c.refresh(&idp, stale);
        assert_eq!(r.status, 400);
        let j = r.json();
        assert_eq!(j["error"], "invalid_grant");
        assert_eq!(j["error_codes"][0], 70000, "{j}");
        for k in ["trace_id", "correlation_id", "timestamp", "error_uri"] {
            assert!(j[k].is_string(), "{k} in {j}");
        }
    }
    let r = c.refresh(&idp, &rt2);
    assert_eq!(r.status, 200);
    let rt3 = rt_of(&r);
    // rt3 was presented, so rt2 (its previous) is no longer excused.
    assert_eq!(c.refresh(&idp, &rt3).status, 200);
    assert_eq!(c.refresh(&idp, &rt3).status, 200, "grace: rt4 unseen");
    assert_eq!(c.refresh(&idp, &rt2).status, 400);

    assert_eq!(idp.refreshes(), 5);
    assert_eq!(idp.refresh_attempts(), 8);
    assert_eq!(idp.stale_presentations(), 5);
    let outcomes: Vec<Presented> = idp.presented(USER).iter().map(|p| p.outcome).collect();
    use Presented::*;
    assert_eq!(
        outcomes,
        [
            Latest,
            StaleAccepted,
            StaleRefused,
            StaleRefused,
            Latest,
            Latest,
            StaleAccepted,
            StaleRefused
        ]
    );
    assert_eq!(idp.presented_tokens(USER)[0], seeded.refresh_token);
    let logged: Vec<_> = idp
        .requests()
        .iter()
        .filter(|r| r.grant_type.as_deref() == Some("refresh_token"))
        .map(|r| r.status)
        .collect();
    assert_eq!(logged, [200, 200, 400, 400, 200, 200, 200, 400]);
}

#[test]
fn the_issue_hook_runs_after_the_state_changed_and_before_the_answer() {
    let idp = Idp::start(Flavor::Microsoft);
    let c = Client::new(&idp);
    let seeded = idp.grant(USER);
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    idp.on_next_issue(Box::new(move || {
        std::thread::sleep(Duration::from_millis(300));
        flag.store(true, Ordering::SeqCst);
    }));
    let start = Instant::now();
    let r = c.refresh(&idp, &seeded.refresh_token);
    assert_eq!(r.status, 200);
    assert!(ran.load(Ordering::SeqCst));
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(idp.latest_refresh_token(USER).unwrap(), rt_of(&r));
    // Once only.
    ran.store(false, Ordering::SeqCst);
    assert_eq!(c.refresh(&idp, &rt_of(&r)).status, 200);
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn google_keeps_its_refresh_token_and_answers_with_its_bodies() {
    let idp = Idp::start(Flavor::Google);
    let c = Client::new(&idp);
    let seeded = idp.grant(USER);
    for _ in 0..2 {
        let r = c.refresh(&idp, &seeded.refresh_token);
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.text.starts_with("{\n  \"access_token\": \"ya29."),
            "{}",
            r.text
        );
        assert!(r.json().get("refresh_token").is_none(), "no rotation");
        assert_eq!(r.json()["scope"], "https://mail.google.com/");
    }
    assert_eq!(idp.stale_presentations(), 0);

    idp.set_refresh_token_expires_in(Some(Duration::from_secs(604_800)));
    let j = c.refresh(&idp, &seeded.refresh_token).json();
    let left = j["refresh_token_expires_in"].as_u64().unwrap();
    assert!((604_700..=604_800).contains(&left), "{j}");

    // Scripted answers come first, in order, then the server is itself again.
    idp.respond_next(Answer::google_invalid_rapt());
    idp.respond_next(Answer::server_error_html_500());
    let r = c.refresh(&idp, &seeded.refresh_token);
    assert_eq!(
        (r.status, r.json()["error_subtype"].clone()),
        (400, "invalid_rapt".into())
    );
    let r = c.refresh(&idp, &seeded.refresh_token);
    assert_eq!(r.status, 500);
    assert!(r.text.contains("Error 500 (Server Error)"));
    assert_eq!(c.refresh(&idp, &seeded.refresh_token).status, 200);
    assert_eq!(
        idp.presented(USER)
            .iter()
            .filter(|p| p.outcome == Presented::Scripted)
            .count(),
        2
    );

    // A hang is a request that is read and never answered.
    idp.respond_next(Answer::Hang);
    let start = Instant::now();
    let e = c
        .send(
            c.http
                .post(idp.token_url())
                .timeout(Duration::from_secs(1))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", CLIENT_ID),
                    ("refresh_token", &seeded.refresh_token),
                ]),
        )
        .err()
        .expect("a hang times out");
    assert!(e.is_timeout(), "{e}");
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(idp.requests().last().unwrap().status, 0);

    idp.revoke(USER);
    assert!(!idp.access_token_active(&seeded.access_token));
    let r = c.refresh(&idp, &seeded.refresh_token);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text,
        "{\n  \"error\": \"invalid_grant\",\n  \"error_description\": \"Token has been expired or revoked.\"\n}"
    );
}

#[test]
fn microsoft_revocation_secrets_and_aadsts_bodies() {
    let idp = Idp::start(Flavor::Microsoft);
    let c = Client::new(&idp);
    let seeded = idp.grant(USER);
    idp.revoke(USER);
    let j = c.refresh(&idp, &seeded.refresh_token).json();
    assert_eq!(j["error_codes"][0], 50173, "{j}");
    assert!(j["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS50173: The provided grant has expired due to it being revoked"));
    assert_eq!(idp.presented(USER)[0].outcome, Presented::Revoked);

    // A confidential client: a wrong secret is invalid_client with 401, by form or Basic.
    idp.register_client("confidential", Some("s3cret"));
    let g = idp.grant_for("confidential", USER, "offline_access");
    let form = |secret: &'static str| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("client_id", "confidential".to_string()),
            ("client_secret", secret.to_string()),
            ("refresh_token", g.refresh_token.clone()),
        ]
    };
    let r = c
        .send(c.http.post(idp.token_url()).form(&form("wrong")))
        .unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
    assert_eq!(r.json()["error_codes"][0], 7000215);
    let r = c
        .send(
            c.http
                .post(idp.token_url())
                .basic_auth("confidential", Some("s3cret"))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &g.refresh_token),
                ]),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);

    for (code, error, status) in [
        (700082, "invalid_grant", 400),
        (70008, "invalid_grant", 400),
        (50173, "invalid_grant", 400),
        (700084, "invalid_grant", 400),
        (70043, "invalid_grant", 400),
        (7000222, "invalid_client", 401),
        (7000215, "invalid_client", 401),
        (65001, "invalid_grant", 400),
        (50076, "invalid_grant", 400),
        (50079, "interaction_required", 400),
        (53003, "invalid_grant", 400),
    ] {
        let a = Answer::microsoft_aadsts(code);
        let j: Value = serde_json::from_str(a.body()).unwrap();
        assert_eq!(
            (a.status(), j["error"].as_str().unwrap()),
            (status, error),
            "{code}"
        );
        assert_eq!(j["error_codes"], serde_json::json!([code]));
        assert!(j["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS{code}: ")));
        assert!(!j["error_description"]
            .as_str()
            .unwrap()
            .contains("no gathered text"));
    }
    for a in [
        Answer::google_expired_or_revoked(),
        Answer::google_invalid_rapt(),
        Answer::google_admin_policy_enforced(),
        Answer::google_invalid_client(),
    ] {
        let j: Value = serde_json::from_str(a.body()).unwrap();
        assert!(j["error"].is_string() && j["error_description"].is_string());
    }
    assert_eq!(Answer::rate_limited_429().status(), 429);
    assert_eq!(Answer::unauthorized_401_html().status(), 401);
    assert!(serde_json::from_str::<Value>(Answer::non_json_200().body()).is_err());
}

/// `redirect_uri?code=…&state=…` → (code, state, everything).
fn query_of(location: &str) -> Vec<(String, String)> {
    let q = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn get<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

#[test]
fn authorization_code_with_pkce_s256() {
    for flavor in [Flavor::Google, Flavor::Microsoft] {
        let idp = Idp::start(flavor);
        let c = Client::new(&idp);
        idp.set_signed_in("bob@mail.test");
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = s256_challenge(verifier);
        assert_eq!(
            challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "RFC 7636 B"
        );
        let redirect = "http://127.0.0.1:4711/callback";
        let authorize = |challenge: &str, method: &str| {
            let mut u = url_with(
                &idp.authorization_url(),
                &[
                    ("response_type", "code"),
                    ("client_id", CLIENT_ID),
                    ("redirect_uri", redirect),
                    ("state", "st-1"),
                    ("scope", "openid email https://mail.google.com/"),
                    ("code_challenge", challenge),
                    ("login_hint", USER),
                ],
            );
            if !method.is_empty() {
                u.push_str(&format!("&code_challenge_method={method}"));
            }
            let r = c.get(&u);
            assert_eq!(r.status, 302, "{}", r.text);
            let loc = r.location.unwrap();
            assert!(loc.starts_with(redirect), "{loc}");
            query_of(&loc)
        };
        for (ch, method) in [
            (challenge.as_str(), "plain"),
            ("", "S256"),
            (challenge.as_str(), ""),
        ] {
            let q = authorize(ch, method);
            assert_eq!(get(&q, "error"), Some("invalid_request"), "{q:?}");
            assert_eq!(get(&q, "state"), Some("st-1"));
        }
        let q = authorize(&challenge, "S256");
        assert_eq!(get(&q, "state"), Some("st-1"));
        let code = get(&q, "code").unwrap().to_string();
        let exchange = |verifier: &str, redirect: &str| {
            c.post(
                &idp.token_url(),
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", CLIENT_ID),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("code_verifier", verifier),
                ],
            )
        };
        let r = exchange(
            "the-wrong-verifier-of-at-least-43-characters-long",
            redirect,
        );
        assert_eq!(
            (r.status, r.json()["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let r = exchange(verifier, "http://127.0.0.1:4712/other");
        assert_eq!(r.status, 400);
        assert_eq!(idp.pkce_verified(), 0);
        let r = exchange(verifier, redirect);
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(idp.pkce_verified(), 1);
        let j = r.json();
        assert!(j["refresh_token"].is_string() && j["access_token"].is_string());
        // The signed-in user, not the login hint.
        let claims = id_token_claims(j["id_token"].as_str().unwrap());
        assert_eq!(claims["email"], "bob@mail.test");
        assert_eq!(claims["preferred_username"], "bob@mail.test");
        assert_eq!(claims["aud"], CLIENT_ID);
        assert_eq!(claims["iss"], idp.url());
        assert!(claims["sub"].is_string() && claims["exp"].is_number());
        assert_eq!(
            idp.latest_refresh_token("bob@mail.test").as_deref(),
            j["refresh_token"].as_str()
        );
        // A code is good once.
        let r = exchange(verifier, redirect);
        assert_eq!(r.status, 400);
        if flavor == Flavor::Microsoft {
            assert_eq!(r.json()["error_codes"][0], 54005);
        }
    }
}

fn url_with(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    format!("{base}?{}", s.finish())
}

/// Checks the HS256 signature and returns the payload.
fn id_token_claims(jwt: &str) -> Value {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    // HMAC-SHA256 by the definition, independently of the server's code.
    use sha2::{Digest, Sha256};
    let mut key = [0u8; 64];
    key[..ID_TOKEN_KEY.len()].copy_from_slice(ID_TOKEN_KEY);
    let inner = Sha256::new()
        .chain_update(key.map(|b| b ^ 0x36))
        .chain_update(format!("{}.{}", parts[0], parts[1]))
        .finalize();
    let mac = Sha256::new()
        .chain_update(key.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize();
    assert_eq!(b64.decode(parts[2]).unwrap(), mac.to_vec());
    serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap()
}

fn device_start(c: &Client, idp: &Idp) -> Value {
    let r = c.post(
        &idp.device_authorization_url(),
        &[("client_id", CLIENT_ID), ("scope", "offline_access")],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn poll(c: &Client, idp: &Idp, device_code: &str) -> Reply {
    c.post(
        &idp.token_url(),
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", CLIENT_ID),
            ("device_code", device_code),
        ],
    )
}

#[test]
fn device_flow_pending_slow_down_success_and_expiry() {
    let idp = Idp::start(Flavor::Microsoft);
    let c = Client::new(&idp);
    idp.set_device_interval(Duration::from_secs(1));
    let d = device_start(&c, &idp);
    assert_eq!(d["interval"], 1);
    assert_eq!(d["expires_in"], 900);
    let user_code = d["user_code"].as_str().unwrap();
    assert_eq!(idp.last_user_code().as_deref(), Some(user_code));
    assert!(d["verification_uri"]
        .as_str()
        .unwrap()
        .starts_with(&idp.url()));
    assert!(d["message"].as_str().unwrap().contains(user_code));
    let dc = d["device_code"].as_str().unwrap();

    idp.device_script(vec![
        DevicePoll::Pending,
        DevicePoll::SlowDown,
        DevicePoll::Pending,
    ]);
    assert!(idp.approve_device(user_code, USER));
    let mut errors = Vec::new();
    let mut wait = Duration::from_secs(1);
    let t0 = Instant::now();
    for _ in 0..6 {
        let r = poll(&c, &idp, dc);
        if r.status == 200 {
            assert!(r.json()["refresh_token"].is_string());
            errors.push("success".to_string());
            break;
        }
        let e = r.json()["error"].as_str().unwrap().to_string();
        if e == "slow_down" {
            wait += Duration::from_secs(5);
        }
        errors.push(e);
        std::thread::sleep(wait);
    }
    assert_eq!(
        errors,
        [
            "authorization_pending",
            "slow_down",
            "authorization_pending",
            "success"
        ]
    );
    assert!(t0.elapsed() >= Duration::from_secs(13));
    let polls = idp.device_polls();
    let gap = polls[2].at.duration_since(polls[1].at);
    assert!(gap >= Duration::from_secs(6), "{gap:?}");
    assert_eq!(
        poll(&c, &idp, dc).json()["error"],
        "invalid_grant",
        "consumed"
    );

    // Polling faster than the interval is slow_down, by the server's own clock.
    let d = device_start(&c, &idp);
    let dc = d["device_code"].as_str().unwrap();
    assert_eq!(poll(&c, &idp, dc).json()["error"], "authorization_pending");
    assert_eq!(poll(&c, &idp, dc).json()["error"], "slow_down");

    idp.set_device_expires_in(Duration::from_secs(1));
    let d = device_start(&c, &idp);
    std::thread::sleep(Duration::from_millis(1200));
    let j = poll(&c, &idp, d["device_code"].as_str().unwrap()).json();
    assert_eq!(
        (j["error"].as_str(), j["error_codes"][0].as_u64()),
        (Some("expired_token"), Some(70019))
    );
}

#[test]
fn google_device_flow_shapes_and_denial() {
    let idp = Idp::start(Flavor::Google);
    let c = Client::new(&idp);
    let d = device_start(&c, &idp);
    assert!(d["verification_url"].is_string() && d.get("verification_uri").is_none());
    assert_eq!(
        (d["interval"].as_u64(), d["expires_in"].as_u64()),
        (Some(5), Some(1800))
    );
    idp.set_device_interval(Duration::from_secs(1));
    let d = device_start(&c, &idp);
    let dc = d["device_code"].as_str().unwrap();
    let r = poll(&c, &idp, dc);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (428, Some("authorization_pending"))
    );
    assert!(idp.deny_device(d["user_code"].as_str().unwrap()));
    std::thread::sleep(Duration::from_secs(1));
    let r = poll(&c, &idp, dc);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (403, Some("access_denied"))
    );
}

#[test]
fn introspection_over_plain_http_follows_expiry_and_revocation() {
    let port = support::free_port();
    let idp = Idp::start_with_introspection(Flavor::Google, port);
    let url = idp.introspection_url().unwrap();
    let c = Client::new(&idp);
    let ask = |token: &str| {
        c.post(
            &url,
            &[("token", token), ("client_id", ""), ("client_secret", "")],
        )
        .json()
    };
    let g = idp.grant(USER);
    let j = ask(&g.access_token);
    assert_eq!(j["active"], true);
    assert_eq!(j["username"], USER);
    assert!(j["exp"].as_u64().unwrap() > j["iat"].as_u64().unwrap());
    assert_eq!(ask("not-a-token"), serde_json::json!({"active": false}));
    idp.expire_access_tokens();
    assert_eq!(ask(&g.access_token)["active"], false);

    idp.set_access_token_lifetime(Duration::from_secs(2));
    let r = c.refresh(&idp, &g.refresh_token);
    assert_eq!(r.json()["expires_in"], 2);
    let at = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(ask(&at)["active"], true);
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(ask(&at)["active"], false);

    let at = c.refresh(&idp, &g.refresh_token).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    idp.revoke(USER);
    assert_eq!(ask(&at)["active"], false);
    assert_eq!(idp.introspections(), 6);
    // The plain listener serves nothing else.
    assert_eq!(c.get(&format!("http://127.0.0.1:{port}/token")).status, 404);

    // The fixed port is free again once the server is dropped, for the next test.
    drop(idp);
    let again = Idp::start_with_introspection(Flavor::Microsoft, port);
    assert_eq!(again.introspection_url().unwrap(), url);
}

#[test]
fn bad_input_gets_rfc6749_errors_and_no_panic() {
    let idp = Idp::start(Flavor::Microsoft);
    let c = Client::new(&idp);
    let r = c
        .send(
            c.http
                .post(idp.token_url())
                .header("content-type", "application/json")
                .body("{\"grant_type\":\"refresh_token\"}"),
        )
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = c.post(
        &idp.token_url(),
        &[("grant_type", "password"), ("client_id", CLIENT_ID)],
    );
    assert_eq!(r.json()["error"], "unsupported_grant_type");
    let r = c.post(&idp.token_url(), &[("grant_type", "refresh_token")]);
    assert_eq!(r.json()["error"], "invalid_request", "no client_id");
    let r = c.post(
        &idp.token_url(),
        &[("grant_type", "refresh_token"), ("client_id", "nobody")],
    );
    assert_eq!(r.json()["error"], "unauthorized_client");
    let r = c.post(
        &idp.token_url(),
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", "garbage\u{0}\u{ff}"),
        ],
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let big = "x".repeat(100 * 1024);
    let r = c.post(&idp.token_url(), &[("grant_type", big.as_str())]);
    assert_eq!(r.status, 400);
    assert_eq!(c.get(&format!("{}/nothing", idp.url())).status, 404);
    assert_eq!(c.get(&idp.token_url()).status, 405);
    let r = c.get(&format!("{}?client_id=unknown", idp.authorization_url()));
    assert_eq!(r.status, 400);
    let r = c
        .send(
            c.http
                .post(idp.token_url())
                .body(vec![0xffu8, 0xfe, b'=', b'&']),
        )
        .unwrap();
    assert_eq!(r.status, 400);
    // Still serving.
    let g = idp.grant(USER);
    assert_eq!(c.refresh(&idp, &g.refresh_token).status, 200);

    let port = idp.port();
    drop(idp);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "stopped on drop"
    );
}
