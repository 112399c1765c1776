//! Defence in depth: a secret the check used is replaced in every text of its result before the
//! result is stored, logged or shown. A server may echo what it was sent (some answer an unknown
//! `AUTH PLAIN <base64>` by quoting it), a probe or plugin may format too much.
//!
//! Redaction works on the values themselves (the message, the remediation, every string and key
//! in `details`, every sample label), never on a serialised form: JSON escaping would change a
//! secret's bytes (`"`, `\`, control characters) and hide it from a text search.

use base64::Engine;
use mailbeat_sdk::CheckResult;

/// What a secret is replaced with.
pub const MASK: &str = "<redacted>";

/// Replaces every occurrence of `secret` in the result's texts, also in the base64 forms a
/// server may echo back (the bare secret, SASL PLAIN, XOAUTH2/OAUTHBEARER). Secrets shorter than
/// four bytes are left alone: masking them would shred ordinary words and say nothing.
pub fn redact(result: &mut CheckResult, secret: &str, username: Option<&str>) {
    if secret.len() < 4 {
        return;
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut forms = vec![secret.to_string(), b64.encode(secret)];
    if let Some(user) = username {
        forms.push(b64.encode(format!("\0{user}\0{secret}")));
        forms.push(b64.encode(format!("user={user}\x01auth=Bearer {secret}\x01\x01")));
        forms.push(b64.encode(format!("n,a={user},\x01auth=Bearer {secret}\x01\x01")));
    }
    let scrub = |text: &mut String| {
        for form in &forms {
            if text.contains(form.as_str()) {
                *text = text.replace(form.as_str(), MASK);
            }
        }
    };
    scrub(&mut result.message);
    if let Some(remediation) = &mut result.remediation {
        scrub(remediation);
    }
    scrub_value(&mut result.details, &scrub);
    for sample in &mut result.samples {
        let labels = std::mem::take(&mut sample.labels);
        sample.labels = labels
            .into_iter()
            .map(|(mut k, mut v)| {
                scrub(&mut k);
                scrub(&mut v);
                (k, v)
            })
            .collect();
    }
    let observations = std::mem::take(&mut result.observations);
    result.observations = observations
        .into_iter()
        .map(|(mut k, v)| {
            scrub(&mut k);
            (k, v)
        })
        .collect();
}

/// Scrubs every string and object key inside `value`.
fn scrub_value(value: &mut serde_json::Value, scrub: &dyn Fn(&mut String)) {
    match value {
        serde_json::Value::String(s) => scrub(s),
        serde_json::Value::Array(items) => {
            for item in items {
                scrub_value(item, scrub);
            }
        }
        serde_json::Value::Object(map) => {
            let entries = std::mem::take(map);
            for (mut key, mut item) in entries {
                scrub(&mut key);
                scrub_value(&mut item, scrub);
                map.insert(key, item);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailbeat_sdk::Reason;

    #[test]
    fn secrets_and_their_base64_echoes_are_redacted() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let plain = b64.encode("\0alice@example.com\0hunter2-secret");
        let mut r = CheckResult::unknown(
            Reason::Unknown,
            format!("500 5.5.1 Command unrecognized: \"AUTH PLAIN {plain}\" (hunter2-secret)"),
        )
        .detail(
            "reply",
            format!("{} / {plain}", b64.encode("hunter2-secret")),
        );
        redact(&mut r, "hunter2-secret", Some("alice@example.com"));
        let all = serde_json::to_string(&r).unwrap();
        assert!(!all.contains("hunter2-secret"), "{all}");
        assert!(!all.contains(&plain), "{all}");
        assert!(!all.contains(&b64.encode("hunter2-secret")), "{all}");
        assert!(r.message.contains(MASK));
    }

    /// Secrets whose JSON form differs from their bytes: a search of the serialised details
    /// missed them, and a failed re-parse emptied the details.
    #[test]
    fn secrets_that_json_escapes_are_redacted_and_details_survive() {
        for secret in [
            r#"pa"ss"word"#,
            r"back\slash\\es",
            "new\nline\ttab",
            "ünïcødé-пароль-密码",
            "\u{7}bell\u{1b}[0m",
        ] {
            let mut r = CheckResult::critical(Reason::AuthBadCredentials, format!("NO {secret}"))
                .detail("server_notes", vec![format!("[ALERT] you sent {secret}")])
                .detail(
                    "nested",
                    serde_json::json!({ "echo": { "line": secret, secret: 1 } }),
                )
                .detail("mechanism", "PLAIN")
                .sample("auth_success", &[("mechanism", secret)], 0.0);
            redact(&mut r, secret, Some("alice"));
            let json = serde_json::to_string(&r).unwrap();
            let debug = format!("{r:?}");
            for out in [&json, &debug] {
                assert!(!out.contains(secret), "{secret:?} left in {out}");
                let escaped = serde_json::to_string(secret).unwrap();
                assert!(
                    !out.contains(escaped.trim_matches('"')),
                    "{secret:?} left in {out}"
                );
            }
            assert_eq!(
                r.details["mechanism"], "PLAIN",
                "the rest of the details stays"
            );
            assert_eq!(r.details["nested"]["echo"]["line"], MASK);
            assert_eq!(r.samples[0].labels["mechanism"], MASK);
        }
    }
}
