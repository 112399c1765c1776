//! Masking secrets in the source snippet of a YAML error: the parser quotes the lines around the
//! error, and those may hold a password (under its right key or a misspelt one).

/// Keys whose values a config error's snippet may show: the ones that never hold a secret.
/// Anything else (a secret key, a misspelt `pasword:`, a label) is redacted.
const SHOWABLE_KEYS: &[&str] = &[
    "global",
    "state_dir",
    "schedule",
    "every",
    "timeout",
    "concurrency",
    "per_host_concurrency",
    "locale",
    "ehlo_name",
    "spread",
    "allow_inline_secrets",
    "probe_defaults",
    "targets",
    "name",
    "provider",
    "protocol",
    "host",
    "port",
    "tls",
    "tls_server_name",
    "ca_file",
    "source_address",
    "system_roots",
    "account",
    "username",
    "password_file",
    "mechanism",
    "oauth",
    "client_id",
    "client_secret_file",
    "access_token_file",
    "probes",
    "labels",
    "webhooks",
    "secret_file",
    "events",
    "auth",
    "warn_days",
    "critical_days",
    "check_service",
    "greeting",
    "confirm",
    "backoff",
    "initial",
    "max",
    "factor",
];

/// Masks a line of a YAML error's snippet so that no secret shows: a source line (`12 |  …`) is
/// shown only as far as it is proven harmless, `key: value` with a key of [`SHOWABLE_KEYS`] (or a
/// bare list item such as `- tls`); from the first other key on, the line is `<redacted>`, and a
/// source line of any other form (the continuation of a block or multi-line scalar, say) is
/// redacted whole. Lines that are not source (the arrow, the caret and its message) stay.
pub(super) fn mask_secret_values(line: &str) -> String {
    let Some((gutter, source)) = split_gutter(line) else {
        return line.to_string();
    };
    let content = source.trim_start();
    let indent = &source[..source.len() - content.len()];
    let mut rest = content;
    while let Some(r) = rest.strip_prefix("- ") {
        rest = r.trim_start();
    }
    if rest.is_empty() || rest.starts_with('#') || rest == "-" {
        return line.to_string();
    }
    let shown_until = match parse_key(rest) {
        Some((key, after)) if showable(key) => {
            let value = after.trim();
            if value.starts_with('|') || value.starts_with('>') {
                // A block scalar: its lines come next, and are redacted as continuation lines.
                None
            } else {
                first_hidden_key(after).map(|at| rest.len() - after.len() + at)
            }
        }
        Some((_, after)) => Some(rest.len() - after.len()),
        // `- tls`, `- {tls: {warn_days: 30}}`: a list item that is a known word or a flow map.
        None if showable(rest.trim_end()) => None,
        None if rest.starts_with('{') || rest.starts_with('[') => first_hidden_key(rest),
        None => Some(0),
    };
    match shown_until {
        None => line.to_string(),
        Some(0) => format!("{gutter}{indent}<redacted>"),
        Some(at) => {
            let shown = &content[..content.len() - rest.len() + at];
            format!("{gutter}{indent}{} <redacted>", shown.trim_end())
        }
    }
}

/// `(" 12 | ", "    host: x")` for a snippet's source line.
fn split_gutter(line: &str) -> Option<(&str, &str)> {
    let bar = line.find(" | ")?;
    let number = line[..bar].trim();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((&line[..bar + 3], &line[bar + 3..]))
}

fn showable(key: &str) -> bool {
    SHOWABLE_KEYS.contains(&key.to_ascii_lowercase().as_str())
}

/// A mapping key at the start of `text` (bare, or quoted with `'` or `"`), and what follows its
/// colon: `password : x`, `"password": x` and `password:x` all count.
fn parse_key(text: &str) -> Option<(&str, &str)> {
    let (key, rest) = match text.chars().next()? {
        q @ ('"' | '\'') => {
            let end = text[1..].find(q)? + 1;
            (&text[1..end], &text[end + 1..])
        }
        _ => {
            let end = text
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(text.len());
            (&text[..end], &text[end..])
        }
    };
    if key.is_empty() {
        return None;
    }
    let after = rest.trim_start().strip_prefix(':')?;
    Some((key, after))
}

/// Where, in a value that may hold a flow map (`{username: u, password: x}`), the first key that
/// is not showable starts its value; `None` when every key there is harmless.
fn first_hidden_key(value: &str) -> Option<usize> {
    let mut i = 0;
    while i < value.len() {
        let here = &value[i..];
        let at_token_start = i == 0
            || value[..i]
                .chars()
                .next_back()
                .is_some_and(|c| matches!(c, '{' | '[' | ',' | ' '));
        if at_token_start {
            if let Some((key, after)) = parse_key(here) {
                if !showable(key) {
                    return Some(value.len() - after.len());
                }
            }
        }
        i += here.chars().next().map_or(1, char::len_utf8);
    }
    None
}
