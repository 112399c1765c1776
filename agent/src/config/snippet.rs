//! The source snippet of a config error, and the masking that keeps secrets out of it: the
//! snippet quotes the lines around the error, and those may hold a password (under its right
//! key or a misspelt one).

/// Keys whose values a config error's snippet always shows: the ones that never hold a secret
/// (paths of secret files included: a path is not the secret).
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
    "refresh_token_file",
    "state_key_file",
    "secret_file",
    "probes",
    "labels",
    "webhooks",
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

/// Words that make a key's value a possible secret: `password`, `client_secret`, `state_key`,
/// `access_token`, and URLs (webhook URLs carry tokens: Slack, Teams, `user:password@`).
const SECRET_WORDS: &[&str] = &[
    "pass", "pwd", "secret", "token", "key", "cred", "private", "bearer", "url", "auth",
];

/// Misspellings of these (`pasword`, `secert`, `tokne`) are as secret as the real key.
const SECRET_KEYS: &[&str] = &["password", "passwd", "secret", "token"];

/// Renders the snippet of an error at 1-based `line`/`column` of `text` (named `shown`), as
/// compilers do: two lines before and after, a caret under the column with `message`, every
/// source line masked by [`mask_secret_values`].
pub(super) fn render(shown: &str, text: &str, line: u64, column: u64, message: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Ok(at) = usize::try_from(line) else {
        return String::new();
    };
    if at == 0 || at > lines.len() {
        return String::new();
    }
    let first = at.saturating_sub(2).max(1);
    let last = (at + 2).min(lines.len());
    let width = last.to_string().len();
    let bar = format!("{:width$} |", "");
    let mut out = vec![
        format!("{:width$}--> {shown}:{line}:{column}", ""),
        bar.clone(),
    ];
    for n in first..=last {
        out.push(mask_secret_values(&format!(
            "{n:>width$} | {}",
            lines[n - 1].trim_end()
        )));
        if n == at {
            let pad = " ".repeat(usize::try_from(column).unwrap_or(1).saturating_sub(1));
            out.push(format!("{bar} {pad}^ {message}"));
        }
    }
    out.push(bar);
    out.join("\n")
}

/// Masks a line of a config error's snippet so that no secret shows: a source line (`12 |  …`)
/// is shown as far as it is harmless: comments, list items, `key: value` with a key that cannot
/// hold a secret, and `${ENV}` references (a name, not the secret); from the first key that may
/// hold a secret (see [`may_hold_secret`]) on, the line is `<redacted>`, and a source line of any
/// other form (the continuation of a block or multi-line scalar, say) is redacted whole. Lines
/// that are not source (the arrow, the caret and its message) stay.
pub(super) fn mask_secret_values(line: &str) -> String {
    let Some((gutter, source)) = split_gutter(line) else {
        return line.to_string();
    };
    let content = source.trim_start();
    let indent = &source[..source.len() - content.len()];
    let mut rest = content;
    let mut item = false;
    while let Some(r) = rest.strip_prefix("- ") {
        rest = r.trim_start();
        item = true;
    }
    if rest.is_empty() || rest.starts_with('#') || rest == "-" {
        return line.to_string();
    }
    let shown_until = match parse_key(rest) {
        Some((key, after)) if may_hold_secret(key) => {
            let (value, _comment) = split_comment(after);
            if is_env_reference(value) {
                None
            } else {
                Some(rest.len() - after.len())
            }
        }
        // A block scalar's lines come next; they are redacted as continuation lines.
        Some((_, after)) if after.trim_start().starts_with(['|', '>']) => None,
        Some((_, after)) => {
            first_hidden_key(split_comment(after).0).map(|at| rest.len() - after.len() + at)
        }
        None if rest.starts_with('{') || rest.starts_with('[') => {
            first_hidden_key(split_comment(rest).0)
        }
        // `- tls`, `- alice@example.com`: a list item. A line of no known form (a block or
        // multi-line scalar's continuation) may be a password's: hidden.
        None if item => None,
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

/// Whether the value of `key` may be a secret: not a key known to be harmless, and a secret's
/// name (`password`, `client_secret`, `state_key`, a URL) or a misspelling of one (`pasword`).
pub(super) fn may_hold_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if showable(&key) || key.ends_with("_file") {
        return false;
    }
    SECRET_WORDS.iter().any(|w| key.contains(w))
        || (key.len() >= 4 && SECRET_KEYS.iter().any(|k| edit_distance(&key, k) <= 2))
}

/// `${NAME}` (and nothing else): the name of a variable, not a secret.
fn is_env_reference(value: &str) -> bool {
    let v = value.trim().trim_matches(['"', '\'']);
    v.strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// A value and its trailing comment (` # ...`), which YAML starts with whitespace and `#`.
fn split_comment(value: &str) -> (&str, &str) {
    match value.find(" #").or_else(|| value.find("\t#")) {
        Some(at) => (&value[..at], &value[at..]),
        None => (value, ""),
    }
}

/// Levenshtein distance of two short ASCII words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<u8> = b.bytes().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = if ca == cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = here;
        }
    }
    row[b.len()]
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
/// may hold a secret starts its value; `None` when every key there is harmless.
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
                if may_hold_secret(key) {
                    return Some(value.len() - after.len());
                }
            }
        }
        i += here.chars().next().map_or(1, char::len_utf8);
    }
    None
}
