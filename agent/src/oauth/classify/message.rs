//! The one line that says what the token endpoint answered.
//!
//! It is for people and logs, so it carries what the endpoint said (error, subtype, AADSTS code,
//! the first sentence of the description) and nothing that identifies one request (trace and
//! correlation ids, timestamps), and never a token or a secret: the body is the server's, but a
//! server, proxy or library may echo the request (`refresh_token=...`, `"client_secret": ...`),
//! so anything that looks like one is replaced before it is shown.

use super::body::{Body, OAuthError};
use super::{TokenFailure, MESSAGE_MAX};

/// The longest page title or text line shown, in characters.
const MAX_PART: usize = 160;
/// The longest description sentence shown, in characters (Microsoft's run to 200).
const MAX_SENTENCE: usize = 200;

/// What replaces a token-like word.
const REDACTED: &str = "[redacted]";
/// What replaces a GUID (Microsoft's trace, correlation, tenant and application ids).
const ID: &str = "[id]";

/// Parameter names whose values are secrets when a body echoes them.
const SECRET_KEYS: &[&str] = &[
    "refresh_token",
    "access_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "assertion",
    "code_verifier",
    "device_code",
    "password",
    "code",
];

/// The message for `failure`, whose body (for HTTP) reads as `body`.
pub(super) fn of(failure: &TokenFailure, body: Option<&Body>) -> String {
    let line = match (failure, body) {
        (TokenFailure::Timeout { after }, _) => format!(
            "the token endpoint did not answer within {}",
            humantime::format_duration(*after)
        ),
        (TokenFailure::Unreachable { detail }, _) => {
            format!(
                "the token endpoint is unreachable: {}",
                clean(detail, MAX_PART)
            )
        }
        (TokenFailure::Http { status, .. }, Some(body)) => http(*status, body),
        (TokenFailure::Http { status, .. }, None) => format!("HTTP {status}"),
    };
    cap(&line, MESSAGE_MAX)
}

fn http(status: u16, body: &Body) -> String {
    match body {
        Body::OAuth(e) => format!("HTTP {status} {}", oauth(e)),
        Body::OtherJson { status: s, message } => {
            let mut line =
                format!("HTTP {status} with JSON that is neither a token nor an OAuth error");
            if let Some(s) = s {
                line = format!("HTTP {status} {s}");
            }
            if let Some(m) = message
                .as_deref()
                .map(first_sentence)
                .filter(|m| !m.is_empty())
            {
                line.push_str(": ");
                line.push_str(&m);
            }
            line
        }
        Body::Html { title: Some(t) } => {
            format!("HTTP {status} with an HTML page: {}", clean(t, MAX_PART))
        }
        Body::Html { title: None } => format!("HTTP {status} with an HTML page"),
        Body::Text { first_line } => {
            format!(
                "HTTP {status} with a non-JSON body: {}",
                clean(first_line, MAX_PART)
            )
        }
        Body::Empty => format!("HTTP {status} with an empty body"),
    }
}

/// `invalid_grant (invalid_rapt), AADSTS700082: The first sentence.`
fn oauth(e: &OAuthError) -> String {
    let mut line = e.error.clone().unwrap_or_default();
    if let Some(subtype) = &e.subtype {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&format!("({subtype})"));
    }
    for (i, code) in e.codes.iter().take(3).enumerate() {
        line.push_str(match (i, line.is_empty()) {
            (0, true) => "",
            (0, false) => ", ",
            _ => "/",
        });
        line.push_str(&format!("AADSTS{code}"));
    }
    if let Some(sentence) = e
        .description
        .as_deref()
        .map(first_sentence)
        .filter(|s| !s.is_empty())
    {
        line.push_str(": ");
        line.push_str(&sentence);
    }
    line
}

/// The first sentence of a description, without its leading `AADSTSnnnn:` and cleaned.
pub(super) fn first_sentence(text: &str) -> String {
    let mut text = text.trim();
    // The code is shown from `error_codes`; the description repeats it.
    while let Some(rest) = text.strip_prefix("AADSTS") {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        match rest[digits..].strip_prefix(':') {
            Some(after) if digits > 0 => text = after.trim_start(),
            _ => break,
        }
    }
    // What identifies one request comes after the first sentence, but not always after a
    // full stop.
    for marker in ["Trace ID:", "Correlation ID:", "Timestamp:"] {
        if let Some(at) = text.find(marker) {
            text = &text[..at];
        }
    }
    let mut end = text.len();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c == '\r' || c == '\n' {
            end = at;
            break;
        }
        if matches!(c, '.' | '!' | '?') {
            let next = chars.peek().map(|&(_, n)| n);
            // "1.00:00:00", "login.microsoftonline.com" and "v2.0" go on; a full stop before a
            // blank, a non-ASCII character (Microsoft's "inactivity.\u{a0}The", its mojibake) or
            // an entity ("inactivity.&nbsp;The") ends the sentence.
            if next.is_none_or(|n| n.is_whitespace() || !n.is_ascii() || n == '&') {
                end = at + c.len_utf8();
                break;
            }
        }
    }
    clean(&text[..end], MAX_SENTENCE)
}

/// Text fit for one line: control characters and runs of blanks become one space, echoed secrets
/// and token-like words are replaced, GUIDs become `[id]`, and at most `max` characters remain.
pub(crate) fn clean(text: &str, max: usize) -> String {
    // Cap the work first: nothing longer than a few lines is ever shown.
    let text: String = text.chars().take(max.saturating_mul(4) + 64).collect();
    let text = redact_secret_parameters(&text);
    let mut out = String::with_capacity(text.len().min(max * 4));
    for word in split_keep(&text) {
        match word {
            Piece::Gap(gap) => out.push_str(gap),
            Piece::Word(w) if is_guid(w) => out.push_str(ID),
            Piece::Word(w) if is_token_like(w) => out.push_str(REDACTED),
            Piece::Word(w) => out.push_str(w),
        }
    }
    let one_line = out
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    cap(&one_line, max)
}

/// At most `max` characters, with `…` when cut.
pub(super) fn cap(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Replaces the value of `key=value` (a form echoed), `"key": "value"` (JSON) and `'key': 'value'`
/// (a library's repr) for the [`SECRET_KEYS`], and the word after `Bearer `.
fn redact_secret_parameters(text: &str) -> String {
    // ASCII lower-casing keeps every byte offset.
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    for key in SECRET_KEYS {
        for (at, _) in lower.match_indices(key) {
            if at > 0 && is_name(bytes[at - 1]) {
                continue;
            }
            let mut i = at + key.len();
            // `"key"` / `'key'`
            let quoted = at > 0 && matches!(bytes[at - 1], b'"' | b'\'');
            if quoted && i < bytes.len() && bytes[i] == bytes[at - 1] {
                i += 1;
            }
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            let separator = match bytes.get(i) {
                Some(b'=') => true,
                Some(b':') => quoted,
                _ => false,
            };
            if !separator {
                continue;
            }
            i += 1;
            while i < bytes.len() && matches!(bytes[i], b' ' | b'"' | b'\'') {
                i += 1;
            }
            let start = i;
            while i < bytes.len()
                && !matches!(bytes[i], b'&' | b',' | b'"' | b'\'' | b'}' | b']')
                && !bytes[i].is_ascii_whitespace()
            {
                i += 1;
            }
            if i > start {
                cuts.push((start, i));
            }
        }
    }
    for (at, _) in lower.match_indices("bearer ") {
        let start = at + "bearer ".len();
        let end = lower[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '}'))
            .map_or(lower.len(), |n| start + n);
        if end > start {
            cuts.push((start, end));
        }
    }
    if cuts.is_empty() {
        return text.to_string();
    }
    cuts.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in cuts {
        if start < at {
            at = at.max(end);
            continue;
        }
        // Offsets are at ASCII bytes (delimiters), hence at character boundaries; `get` keeps
        // that a promise checked rather than a panic.
        out.push_str(text.get(at..start).unwrap_or_default());
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    out
}

enum Piece<'a> {
    Word(&'a str),
    Gap(&'a str),
}

/// The characters tokens, secrets and GUIDs are made of (not `/`, which splits URLs into their
/// readable parts; a token with `/` leaves only short pieces between them).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '=')
}

/// `text` cut into runs of token characters and the gaps between them.
fn split_keep(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_word = None;
    for (at, c) in text.char_indices() {
        let word = is_token_char(c);
        if in_word != Some(word) {
            if at > start {
                let s = &text[start..at];
                pieces.push(if in_word == Some(true) {
                    Piece::Word(s)
                } else {
                    Piece::Gap(s)
                });
            }
            start = at;
            in_word = Some(word);
        }
    }
    if start < text.len() {
        let s = &text[start..];
        pieces.push(if in_word == Some(true) {
            Piece::Word(s)
        } else {
            Piece::Gap(s)
        });
    }
    pieces
}

/// `624f7355-f654-4e51-bf41-417b1c4b6200`, inside a word or alone.
fn is_guid(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_ascii_hexdigit());
    let groups: Vec<&str> = word.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A word no sentence has: 24 or more token characters mixing letters and digits (access and
/// refresh tokens, client secrets, JWTs, authorization codes), or 64 or more of any kind.
fn is_token_like(word: &str) -> bool {
    let n = word.chars().count();
    let digits = word.chars().any(|c| c.is_ascii_digit());
    let letters = word.chars().any(|c| c.is_ascii_alphabetic());
    n >= 64 || (n >= 24 && digits && letters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sentences() {
        let cases = [
            (
                "AADSTS700082: The refresh token has expired due to inactivity.\u{a0}The token was issued on 2019-01-28T08:58:16.7135740Z",
                "The refresh token has expired due to inactivity.",
            ),
            (
                "AADSTS700082: The refresh token has expired due to inactivity.&nbsp;The token was issued on",
                "The refresh token has expired due to inactivity.",
            ),
            (
                "AADSTS700084: The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended. It is now expired",
                "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended.",
            ),
            ("This application is currently blocked.\nIf you require access", "This application is currently blocked."),
            ("Bad Request", "Bad Request"),
            (
                "AADSTS50173: The provided grant has expired due to it being revoked\r\nTrace ID: 1\r\n",
                "The provided grant has expired due to it being revoked",
            ),
            ("AADSTS53003 without a colon.", "AADSTS53003 without a colon."),
            ("", ""),
        ];
        for (text, want) in cases {
            assert_eq!(first_sentence(text), want, "{text:?}");
        }
    }

    #[test]
    fn secrets_and_ids_are_replaced() {
        let secret = "GOCSPX-abcdefghijklmnop123456";
        let rt = "1//0gAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQr";
        let text = format!(
            "request: client_id=123.apps&client_secret={secret}&grant_type=refresh_token&refresh_token={rt} \
             {{\"access_token\": \"ya29.short\", 'password': 'hunter2'}} Authorization: Bearer abc.def \
             Trace ID: 624f7355-f654-4e51-bf41-417b1c4b6200"
        );
        let out = clean(&text, 1000);
        for leaked in [
            secret,
            "0gAbCdEfGhIjKlMnOpQr",
            "ya29.short",
            "hunter2",
            "abc.def",
            "624f7355",
        ] {
            assert!(!out.contains(leaked), "{leaked} in {out}");
        }
        assert!(out.contains("grant_type=refresh_token"), "{out}");
        assert!(out.contains("[id]"), "{out}");
        // Words and URLs stay.
        assert_eq!(
            clean(
                "see https://login.microsoftonline.com/error?code=700082 now",
                100
            ),
            "see https://login.microsoftonline.com/error?code=[redacted] now"
        );
        assert_eq!(
            clean("The authorization code or refresh token expired", 100),
            "The authorization code or refresh token expired"
        );
    }

    #[test]
    fn one_line_and_capped() {
        assert_eq!(clean("a\r\n\tb\u{0}  c", 10), "a b c");
        let long = "word ".repeat(100);
        let out = clean(&long, 20);
        assert_eq!(out.chars().count(), 20);
        assert!(out.ends_with('…'));
    }
}
