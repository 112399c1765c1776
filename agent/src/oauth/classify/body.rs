//! Reading a token endpoint's body: an RFC 6749 §5.2 error (with Google's and Microsoft's
//! additions), other JSON, an HTML page, other text, or nothing. Nothing here trusts the bytes:
//! any field may be missing, of another type, or huge.

use super::message::clean;
use serde_json::Value;

/// The most codes kept from one body.
const MAX_CODES: usize = 8;
/// The longest `error` or subtype kept, in characters.
const MAX_NAME: usize = 64;

/// What a body is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Body {
    /// An OAuth error response.
    OAuth(OAuthError),
    /// JSON that is no OAuth error: a token-less success, or an API error in another shape
    /// (Google's `{"error": {"code": 501, "status": "UNIMPLEMENTED", "message": ...}}`).
    OtherJson {
        status: Option<String>,
        message: Option<String>,
    },
    /// An HTML page (a proxy's, a load balancer's, a captive portal's), with its title.
    Html { title: Option<String> },
    /// Text that is neither JSON nor HTML, with its first line (uncleaned).
    Text { first_line: String },
    /// Nothing but blanks.
    Empty,
}

/// The fields of an OAuth error response that classification reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct OAuthError {
    pub error: Option<String>,
    /// Uncleaned: the message module takes its first sentence.
    pub description: Option<String>,
    /// Google's `error_subtype`, Microsoft's `suberror`.
    pub subtype: Option<String>,
    /// Microsoft's `error_codes`; without them, the code of `error_uri`, or the `AADSTSnnnn`s of
    /// the description.
    pub codes: Vec<u64>,
}

impl Body {
    pub(super) fn parse(body: &str, content_type: Option<&str>) -> Body {
        let text = body.trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            return Body::Empty;
        }
        if let Ok(json) = serde_json::from_str::<Value>(text) {
            return Body::of_json(&json);
        }
        let html = content_type.is_some_and(|t| t.to_ascii_lowercase().contains("html"))
            || text.starts_with('<');
        if html {
            return Body::Html {
                title: html_title(text),
            };
        }
        Body::Text {
            first_line: text.lines().next().unwrap_or_default().to_string(),
        }
    }

    fn of_json(json: &Value) -> Body {
        let Some(object) = json.as_object() else {
            return Body::OtherJson {
                status: None,
                message: None,
            };
        };
        let string = |key: &str| object.get(key).and_then(Value::as_str);
        if let Some(Value::Object(api)) = object.get("error") {
            return Body::OtherJson {
                status: api
                    .get("status")
                    .and_then(Value::as_str)
                    .map(|s| clean(s, MAX_NAME)),
                message: api
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            };
        }
        let error = string("error").map(|s| clean(s, MAX_NAME));
        let description = string("error_description").map(str::to_string);
        let subtype = string("error_subtype")
            .or_else(|| string("suberror"))
            .map(|s| clean(s, MAX_NAME))
            .filter(|s| !s.is_empty());
        let mut codes = object.get("error_codes").map(codes_of).unwrap_or_default();
        if codes.is_empty() {
            codes = string("error_uri").and_then(uri_code).into_iter().collect();
        }
        if codes.is_empty() {
            codes = description.as_deref().map(aadsts_codes).unwrap_or_default();
        }
        if error.is_none() && description.is_none() && codes.is_empty() {
            return Body::OtherJson {
                status: None,
                message: ["message", "Message", "error_message"]
                    .iter()
                    .find_map(|k| string(k))
                    .map(str::to_string),
            };
        }
        Body::OAuth(OAuthError {
            error,
            description,
            subtype,
            codes,
        })
    }
}

/// `error_codes`: an array of numbers (or of digit strings, or one number).
fn codes_of(value: &Value) -> Vec<u64> {
    let one = |v: &Value| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    };
    match value {
        Value::Array(items) => items.iter().filter_map(one).take(MAX_CODES).collect(),
        other => one(other).into_iter().collect(),
    }
}

/// The code of `https://login.microsoftonline.com/error?code=50173`.
fn uri_code(uri: &str) -> Option<u64> {
    let at = uri.find("code=")? + "code=".len();
    leading_number(&uri[at..])
}

/// Every `AADSTSnnnn` of a text, in order.
fn aadsts_codes(text: &str) -> Vec<u64> {
    text.match_indices("AADSTS")
        .filter_map(|(at, word)| leading_number(&text[at + word.len()..]))
        .take(MAX_CODES)
        .collect()
}

/// The number a text starts with (at most 12 digits).
fn leading_number(text: &str) -> Option<u64> {
    let digits: String = text
        .chars()
        .take_while(char::is_ascii_digit)
        .take(12)
        .collect();
    digits.parse().ok()
}

/// The text of an HTML page's `<title>`, else of its first `<h1>`.
fn html_title(page: &str) -> Option<String> {
    let lower = page.to_ascii_lowercase();
    ["title", "h1"].iter().find_map(|tag| {
        let open = lower.find(&format!("<{tag}"))?;
        let start = open + lower[open..].find('>')? + 1;
        let end = start + lower[start..].find(&format!("</{tag}"))?;
        let text = strip_tags(page.get(start..end)?);
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    })
}

/// Text without its tags and with the two entities proxies' pages use.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_from_error_codes_then_the_uri_then_the_description() {
        let b = |s: &str| match Body::parse(s, None) {
            Body::OAuth(e) => e.codes,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            b(r#"{"error":"invalid_grant","error_codes":[70002,70000]}"#),
            [70002, 70000]
        );
        assert_eq!(b(r#"{"error":"x","error_codes":["50173"]}"#), [50173]);
        assert_eq!(
            b(
                r#"{"error":"invalid_grant","error_uri":"https://login.microsoftonline.com/error?code=50173"}"#
            ),
            [50173]
        );
        assert_eq!(
            b(r#"{"error":"invalid_grant","error_description":"AADSTS70002: x. AADSTS50012: y."}"#),
            [70002, 50012]
        );
        // error_codes present: the description is not read.
        assert_eq!(
            b(r#"{"error":"invalid_grant","error_description":"AADSTS1: x","error_codes":[2]}"#),
            [2]
        );
        assert_eq!(
            b(r#"{"error":"invalid_grant","error_codes":"nonsense"}"#),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn other_shapes() {
        assert_eq!(Body::parse("  \n", None), Body::Empty);
        assert_eq!(
            Body::parse(
                "<html><head><title>502 Bad Gateway</title></head></html>",
                None
            ),
            Body::Html {
                title: Some("502 Bad Gateway".into())
            }
        );
        assert_eq!(
            Body::parse(
                "<HTML><BODY><H1>Error <b>processing</b></H1></BODY></HTML>",
                None
            ),
            Body::Html {
                title: Some("Error processing".into())
            }
        );
        assert_eq!(
            Body::parse("upstream connect error\nreset", Some("text/plain")),
            Body::Text {
                first_line: "upstream connect error".into()
            }
        );
        assert!(matches!(
            Body::parse(r#"{"error":{"code":501,"status":"UNIMPLEMENTED"}}"#, None),
            Body::OtherJson { status: Some(s), .. } if s == "UNIMPLEMENTED"
        ));
        assert!(matches!(Body::parse("[1,2]", None), Body::OtherJson { .. }));
        assert!(matches!(
            Body::parse(r#"{"token_type":"Bearer"}"#, None),
            Body::OtherJson { .. }
        ));
    }
}
