//! The classifier against the gathered bodies (`fixtures.rs`), the cases no public report shows
//! (built here), the remediation texts, and arbitrary input.

use super::fixtures::{Fixture, FIXTURES};
use super::*;
use mailbeat_sdk::remediation::{remediation, TARGET_PLACEHOLDER};
use proptest::prelude::*;
use std::collections::HashSet;

fn http(status: u16, content_type: Option<&str>, body: &str) -> TokenFailure {
    TokenFailure::Http {
        status,
        content_type: content_type.map(str::to_string),
        body: body.to_string(),
    }
}

fn failure_of(fx: &Fixture) -> TokenFailure {
    http(fx.status, fx.content_type, fx.body)
}

/// Every value a body gives that identifies one request: ids and timestamps.
fn request_ids(body: &str) -> Vec<String> {
    let mut ids = Vec::new();
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_str(body) {
        for key in ["trace_id", "correlation_id", "timestamp"] {
            if let Some(v) = o.get(key).and_then(|v| v.as_str()) {
                if v.len() > 8 && !v.contains("redacted") {
                    ids.push(v.to_string());
                }
            }
        }
    }
    for marker in ["Trace ID:", "Correlation ID:", "Timestamp:"] {
        for (at, m) in body.match_indices(marker) {
            let value: String = body[at + m.len()..]
                .trim_start()
                .chars()
                .take_while(|c| !matches!(c, '\\' | '\r' | '\n' | '"' | ' '))
                .collect();
            if value.len() > 8 && !value.contains("redacted") {
                ids.push(value);
            }
        }
    }
    ids
}

#[test]
fn every_gathered_body_classifies_as_its_report_says() {
    for fx in FIXTURES {
        let c = classify(fx.provider, &failure_of(fx), fx.hint, Locale::En);
        let at = fx.source;
        assert_eq!(c.reason, fx.reason, "{at}: {}", c.message);
        assert_eq!(c.terminal, fx.terminal, "{at}: terminal");
        assert_eq!(c.status, status_of(fx.reason), "{at}: status");
        for word in fx.says {
            assert!(
                c.message.contains(word),
                "{at}: {word:?} not in {:?}",
                c.message
            );
        }
        assert!(c.message.chars().count() <= MESSAGE_MAX, "{at}: too long");
        assert!(!c.message.contains(['\n', '\r']), "{at}: {:?}", c.message);
        for marker in [
            "Trace ID",
            "Correlation ID",
            "Timestamp",
            "trace_id",
            "correlation_id",
        ] {
            assert!(
                !c.message.contains(marker),
                "{at}: {marker} in {:?}",
                c.message
            );
        }
        for id in request_ids(fx.body) {
            assert!(!c.message.contains(&id), "{at}: {id} in {:?}", c.message);
        }
        // A GUID never survives, wherever it stands.
        assert!(!has_guid(&c.message), "{at}: a GUID in {:?}", c.message);
    }
}

fn has_guid(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .any(|w| {
            let g: Vec<&str> = w.split('-').collect();
            g.len() == 5 && g.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n)
        })
}

#[test]
fn every_table_row_is_hit_by_a_gathered_body() {
    let hit: HashSet<Case> = FIXTURES
        .iter()
        .map(|fx| understand(fx.provider, &failure_of(fx), fx.hint).0)
        .collect();
    for (code, case) in CODES {
        assert!(
            hit.contains(case),
            "AADSTS{code} ({case:?}) has no gathered body"
        );
        assert!(
            FIXTURES
                .iter()
                .any(|fx| fx.body.contains(&format!("AADSTS{code}"))),
            "AADSTS{code} appears in no gathered body"
        );
    }
    // The cases no public report showed with its body: each is built in a test below.
    let built = [
        Case::Consent,
        Case::InteractionRequired,
        Case::NotOAuth,
        Case::NoToken,
        Case::Timeout,
        Case::Unreachable,
        Case::Unknown,
    ];
    for case in Case::ALL {
        assert!(
            hit.contains(case) || built.contains(case),
            "{case:?} is hit by no gathered body"
        );
    }
}

#[test]
fn codes_decide_before_error_and_the_description_is_read_only_without_them() {
    // Microsoft sends 70043 as invalid_grant or as interaction_required: the code decides.
    for error in ["invalid_grant", "interaction_required", "something_new"] {
        let body = format!(r#"{{"error":"{error}","error_codes":[70043]}}"#);
        let c = classify(
            Microsoft,
            &http(400, None, &body),
            Hint::default(),
            Locale::En,
        );
        assert_eq!(c.reason, Reason::OauthRefreshTokenExpired, "{error}");
        assert_eq!(c.error_codes, [70043]);
    }
    // The description's code is ignored when error_codes says otherwise.
    let body = r#"{"error":"invalid_grant","error_description":"AADSTS65001: consent","error_codes":[50173]}"#;
    let c = classify(
        Microsoft,
        &http(400, None, body),
        Hint::default(),
        Locale::En,
    );
    assert_eq!(c.reason, Reason::OauthRefreshTokenRevoked);
    // A code the table does not know leaves it to the error.
    let body = r#"{"error":"invalid_client","error_codes":[1234567]}"#;
    let c = classify(
        Microsoft,
        &http(401, None, body),
        Hint::default(),
        Locale::En,
    );
    assert_eq!(c.reason, Reason::OauthInvalidClient);
}

use ProviderKind::*;

#[test]
fn the_hint_tells_expired_from_revoked() {
    let body =
        r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#;
    let run = |provider, hint| {
        let c = classify(provider, &http(400, None, body), hint, Locale::En);
        (c.reason, c.remediation)
    };
    let testing = Hint {
        predicted_expiry_passed: false,
        short_lifetime: true,
    };
    let passed = Hint {
        predicted_expiry_passed: true,
        short_lifetime: false,
    };
    let (reason, advice) = run(Google, testing);
    assert_eq!(reason, Reason::OauthRefreshTokenExpired);
    assert!(advice.unwrap().contains("In production"));
    let (reason, advice) = run(Google, passed);
    assert_eq!(reason, Reason::OauthRefreshTokenExpired);
    assert!(advice.unwrap().contains("6 months"));
    let (reason, advice) = run(Google, Hint::default());
    assert_eq!(reason, Reason::OauthRefreshTokenRevoked);
    let advice = advice.unwrap();
    for needle in [
        "password",
        "100 refresh tokens",
        "myaccount.google.com/permissions",
        "Testing",
    ] {
        assert!(advice.contains(needle), "{needle}: {advice}");
    }
    assert_eq!(run(Microsoft, passed).0, Reason::OauthRefreshTokenExpired);
    assert_eq!(
        run(Microsoft, Hint::default()).0,
        Reason::OauthRefreshTokenRevoked
    );
    assert_eq!(run(Generic, passed).0, Reason::OauthRefreshTokenExpired);
    assert_eq!(
        (
            run(Generic, Hint::default()).0,
            run(Generic, Hint::default()).1
        ),
        (Reason::OauthRefreshTokenRevoked, None)
    );
}

#[test]
fn cases_no_report_showed() {
    let run =
        |provider, failure: TokenFailure| classify(provider, &failure, Hint::default(), Locale::En);

    let c = run(
        Generic,
        TokenFailure::Timeout {
            after: Duration::from_secs(30),
        },
    );
    assert_eq!(
        (c.reason, c.status, c.terminal),
        (Reason::OauthEndpointError, Status::Warning, false)
    );
    assert_eq!(c.message, "the token endpoint did not answer within 30s");

    let c = run(Google, TokenFailure::Unreachable {
        detail: "dns error: failed to lookup address information: Name or service not known\n(oauth2.googleapis.com)".into(),
    });
    assert_eq!((c.reason, c.terminal), (Reason::OauthEndpointError, false));
    assert!(
        c.message
            .starts_with("the token endpoint is unreachable: dns error"),
        "{}",
        c.message
    );
    assert!(!c.message.contains('\n'));

    // A 200 without a token, in JSON and as a captive portal's page.
    let c = run(
        Microsoft,
        http(
            200,
            Some("application/json"),
            r#"{"token_type":"Bearer","expires_in":3599}"#,
        ),
    );
    assert_eq!((c.reason, c.terminal), (Reason::OauthEndpointError, false));
    assert!(
        c.message
            .contains("HTTP 200 with JSON that is neither a token nor an OAuth error"),
        "{}",
        c.message
    );
    assert!(c.remediation.unwrap().contains("`token_url`"));
    let c = run(
        Generic,
        http(
            200,
            Some("text/html"),
            "<html><title>Hotel Wi-Fi login</title></html>",
        ),
    );
    assert_eq!(c.reason, Reason::OauthEndpointError);
    assert_eq!(c.message, "HTTP 200 with an HTML page: Hotel Wi-Fi login");

    // JSON that is no OAuth error under 4xx: a gateway answered.
    let c = run(Generic, http(404, None, r#"{"message":"no route"}"#));
    assert_eq!(c.reason, Reason::OauthEndpointError);

    // An error answered with 200 is still the error.
    let c = run(Generic, http(200, None, r#"{"error":"invalid_grant"}"#));
    assert_eq!(c.reason, Reason::OauthRefreshTokenRevoked);

    // OpenID Connect's consent_required and interaction_required without a code.
    let c = run(Generic, http(400, None, r#"{"error":"consent_required"}"#));
    assert_eq!((c.reason, c.terminal), (Reason::OauthConsentRequired, true));
    let c = run(Generic, http(400, None, r#"{"error":"access_denied"}"#));
    assert_eq!(c.reason, Reason::OauthConsentRequired);
    let c = run(
        Microsoft,
        http(400, None, r#"{"error":"interaction_required"}"#),
    );
    assert_eq!(
        (c.reason, c.terminal),
        (Reason::OauthRefreshTokenRevoked, true)
    );
    assert!(c.remediation.unwrap().contains("sign in interactively"));
    let c = run(
        Microsoft,
        http(
            400,
            None,
            r#"{"error":"invalid_grant","suberror":"consent_required"}"#,
        ),
    );
    assert_eq!(c.reason, Reason::OauthConsentRequired);

    // An error mailbeat does not know: unknown, and not terminal.
    let c = run(
        Generic,
        http(
            400,
            None,
            r#"{"error":"brand_new_error","error_description":"Something new."}"#,
        ),
    );
    assert_eq!(
        (c.reason, c.status, c.terminal),
        (Reason::Unknown, Status::Unknown, false)
    );
    assert_eq!(c.message, "HTTP 400 brand_new_error: Something new.");
    assert_eq!(c.error.as_deref(), Some("brand_new_error"));

    // Plain text.
    let c = run(
        Generic,
        http(
            503,
            Some("text/plain"),
            "upstream connect error or disconnect/reset before headers. reset reason: overflow",
        ),
    );
    assert_eq!(c.message, "HTTP 503 with a non-JSON body: upstream connect error or disconnect/reset before headers. reset reason: overflow");
}

#[test]
fn echoed_secrets_never_reach_the_message() {
    // Made up: a server that echoes the request in its description, and a library that puts
    // the form in `error`.
    let rt = "1//0gPQRSabcdEFGHijklMNOP-qrstUVWXyz0123456789_ABCDEFghijKLMNOpqrs";
    let secret = "Qx8~Q~abcdefGHIJKLmnopQRSTuvwxYZ0123456789";
    let at = "ya29.a0AfH6SMBexampleexampleexample1234567890";
    let body = serde_json::json!({
        "error": format!("invalid_grant refresh_token={rt}"),
        "error_description": format!("Bad refresh_token={rt}&client_secret={secret} for \"access_token\": \"{at}\". Rest."),
    })
    .to_string();
    for provider in ProviderKind::ALL {
        let c = classify(
            provider,
            &http(400, None, &body),
            Hint::default(),
            Locale::En,
        );
        for leaked in [rt, "0gPQRSabcdEFGH", secret, at, "AfH6SMB"] {
            assert!(!c.message.contains(leaked), "{leaked} in {}", c.message);
            assert!(
                !c.error.clone().unwrap_or_default().contains(leaked),
                "{leaked} in error"
            );
        }
        assert!(c.message.contains("[redacted]"), "{}", c.message);
    }
    // A token alone in an HTML title or a text line.
    let c = classify(
        Generic,
        &http(500, Some("text/html"), &format!("<title>{at}</title>")),
        Hint::default(),
        Locale::En,
    );
    assert!(!c.message.contains("AfH6SMB"), "{}", c.message);
    let c = classify(
        Generic,
        &http(500, None, &format!("token {rt}")),
        Hint::default(),
        Locale::En,
    );
    assert!(!c.message.contains("0gPQRSabcdEFGH"), "{}", c.message);
}

#[test]
fn a_long_description_is_cut_to_its_first_sentence_and_the_line_capped() {
    let long = "word ".repeat(2000);
    let body =
        serde_json::json!({ "error": "invalid_grant", "error_description": long }).to_string();
    let c = classify(
        Generic,
        &http(400, None, &body),
        Hint::default(),
        Locale::En,
    );
    assert!(c.message.chars().count() <= MESSAGE_MAX);
    assert!(c.message.ends_with('…'));
    let many = serde_json::json!({ "error": "x".repeat(500), "error_codes": (0..100).collect::<Vec<u64>>() }).to_string();
    let c = classify(
        Microsoft,
        &http(400, None, &many),
        Hint::default(),
        Locale::En,
    );
    assert!(c.message.chars().count() <= MESSAGE_MAX);
    assert!(c.error_codes.len() <= 8);
    assert!(c.error.unwrap().chars().count() <= 64);
}

// ---- remediation -------------------------------------------------------------------------------

fn has_japanese(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '\u{3040}'..='\u{30ff}' | '\u{4e00}'..='\u{9fff}'))
}

fn has_kana(s: &str) -> bool {
    s.chars().any(|c| matches!(c, '\u{3040}'..='\u{30ff}'))
}

#[test]
fn every_fixture_has_a_remediation_in_both_languages() {
    for fx in FIXTURES {
        let en = classify(fx.provider, &failure_of(fx), fx.hint, Locale::En);
        let ja = classify(fx.provider, &failure_of(fx), fx.hint, Locale::Ja);
        assert_eq!(
            (en.reason, en.terminal, &en.message),
            (ja.reason, ja.terminal, &ja.message)
        );
        assert_eq!(
            en.remediation.is_some(),
            ja.remediation.is_some(),
            "{}",
            fx.source
        );
        // Without a case text, the reason's text applies, in both languages.
        let preset = match fx.provider {
            Google => Some("gmail"),
            Microsoft => Some("office365"),
            Generic => None,
        };
        let en_text = en
            .remediation
            .unwrap_or_else(|| remediation(en.reason, preset, Locale::En));
        let ja_text = ja
            .remediation
            .unwrap_or_else(|| remediation(ja.reason, preset, Locale::Ja));
        assert!(!has_kana(&en_text), "{}: {en_text}", fx.source);
        assert!(has_japanese(&ja_text), "{}: {ja_text}", fx.source);
    }
}

#[test]
fn case_texts_are_complete_and_consistent() {
    let reauth = format!("mailbeat reauth {TARGET_PLACEHOLDER}");
    let link = format!("/reauth/{TARGET_PLACEHOLDER}");
    for &case in Case::ALL {
        let Some((en, ja)) = advice::text(case) else {
            continue;
        };
        for (lang, text) in [("en", en), ("ja", ja)] {
            assert!(text.contains(&reauth), "{case:?} {lang}: no `{reauth}`");
            assert!(text.contains(&link), "{case:?} {lang}: no {link}");
            assert!(!text.contains("  "), "{case:?} {lang}: double space");
            assert_eq!(
                text.matches('`').count() % 2,
                0,
                "{case:?} {lang}: unbalanced `"
            );
            for bad in ["TODO", "FIXME", "XXX", "TBD"] {
                assert!(!text.contains(bad), "{case:?} {lang}: {bad}");
            }
        }
        assert!(!has_kana(en), "{case:?}: English has kana");
        assert!(has_japanese(ja), "{case:?}: Japanese has no Japanese");
        // Commands, settings in backticks and URLs are the same in both.
        for token in en.split_whitespace() {
            let token = token.trim_matches(|c: char| ",.;:()\"".contains(c));
            if token.starts_with("https://") || token.starts_with('`') && token.ends_with('`') {
                assert!(ja.contains(token), "{case:?}: {token} missing in Japanese");
            }
        }
        for code in en.match_indices("AADSTS").map(|(at, _)| {
            &en[at..at
                + 6
                + en[at + 6..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .count()]
        }) {
            assert!(ja.contains(code), "{case:?}: {code} missing in Japanese");
        }
    }
}

#[test]
fn case_texts_name_the_setting_a_person_changes() {
    let text = |case| advice::text(case).unwrap().0;
    let cases: &[(Case, &[&str])] = &[
        (
            Case::GoogleTesting,
            &[
                "Google Auth Platform",
                "Publish app",
                "In production",
                "7 days",
            ],
        ),
        (Case::GooglePredicted, &["6 months"]),
        (Case::GoogleRevoked, &["password", "100 refresh tokens"]),
        (
            Case::GoogleSessionControl,
            &["Google Cloud session control", "Admin console → Security"],
        ),
        (Case::GoogleAdminPolicy, &["API controls", "Trusted"]),
        (
            Case::MsSecretExpired,
            &["Certificates & secrets", "New client secret"],
        ),
        (Case::MsConsent, &["Grant admin consent"]),
        (Case::MsInactive, &["90 days", "refresh interval"]),
        (
            Case::MsConditionalAccess,
            &["Conditional Access", "Sign-in logs"],
        ),
        (Case::MsSignInFrequency, &["Sign-in frequency"]),
        (Case::MsMfa, &["multi-factor"]),
        (Case::MsSpaLifetime, &["Mobile and desktop applications"]),
        (Case::MsTenant, &["`tenant`"]),
        (Case::BadScope, &["`scopes`"]),
    ];
    for (case, needles) in cases {
        for needle in *needles {
            assert!(text(*case).contains(needle), "{case:?} lacks {needle:?}");
        }
    }
}

// ---- arbitrary input ---------------------------------------------------------------------------

fn provider() -> impl Strategy<Value = ProviderKind> {
    prop::sample::select(ProviderKind::ALL.to_vec())
}

fn hint() -> impl Strategy<Value = Hint> {
    (any::<bool>(), any::<bool>()).prop_map(|(p, s)| Hint {
        predicted_expiry_passed: p,
        short_lifetime: s,
    })
}

fn locale() -> impl Strategy<Value = Locale> {
    prop::sample::select(vec![Locale::En, Locale::Ja])
}

fn check(c: &Classified) {
    assert!(c.message.chars().count() <= MESSAGE_MAX, "{}", c.message);
    assert!(!c.message.contains(['\n', '\r']));
    assert!(!c.message.chars().any(char::is_control));
    assert_eq!(c.status, status_of(c.reason));
}

/// A JSON body made of the fields classification reads, with arbitrary values.
fn oauth_json() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        Just("invalid_grant".to_string()),
        Just("invalid_client".to_string()),
        Just("AADSTS700082: x. y".to_string()),
        any::<String>(),
    ];
    let value = prop_oneof![
        text.clone().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        prop::collection::vec(any::<u64>(), 0..20).prop_map(serde_json::Value::from),
        prop::collection::vec(text.clone(), 0..5).prop_map(serde_json::Value::from),
        Just(serde_json::json!({"code": 500, "status": "INTERNAL", "message": "m"})),
        Just(serde_json::Value::Null),
    ];
    let key = prop::sample::select(vec![
        "error",
        "error_description",
        "error_subtype",
        "suberror",
        "error_codes",
        "error_uri",
        "access_token",
        "Message",
    ]);
    prop::collection::btree_map(key, value, 0..8).prop_map(|m| {
        serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            .to_string()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        status in any::<u16>(),
        content_type in prop::option::of(prop::sample::select(vec!["application/json", "text/html", "text/plain", "", "\u{0}\u{ff}"])),
        provider in provider(),
        hint in hint(),
        locale in locale(),
    ) {
        let body = String::from_utf8_lossy(&bytes).into_owned();
        check(&classify(provider, &http(status, content_type, &body), hint, locale));
    }

    #[test]
    fn arbitrary_text_never_panics(
        body in any::<String>(),
        status in any::<u16>(),
        provider in provider(),
        hint in hint(),
    ) {
        check(&classify(provider, &http(status, None, &body), hint, Locale::En));
        check(&classify(provider, &TokenFailure::Unreachable { detail: body.clone() }, hint, Locale::Ja));
    }

    #[test]
    fn arbitrary_oauth_bodies_never_panic(
        body in oauth_json(),
        status in prop::sample::select(vec![200u16, 400, 401, 403, 429, 500, 503]),
        provider in provider(),
        hint in hint(),
        locale in locale(),
    ) {
        check(&classify(provider, &http(status, Some("application/json"), &body), hint, locale));
    }

    #[test]
    fn an_echoed_token_never_shows(
        prefix in "[ -~]{0,40}",
        token in "[A-Za-z0-9_.~-]{16,40}[0-9][A-Za-z][A-Za-z0-9_.~-]{6,60}",
        key in prop::sample::select(vec!["refresh_token=", "client_secret=", "\"access_token\": \"", "Bearer ", " "]),
    ) {
        let body = serde_json::json!({ "error": "invalid_grant", "error_description": format!("{prefix}{key}{token}") }).to_string();
        let c = classify(ProviderKind::Generic, &http(400, None, &body), Hint::default(), Locale::En);
        check(&c);
        prop_assert!(!c.message.contains(&token), "{}", c.message);
    }
}
