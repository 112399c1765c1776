//! `mailbeat token import TARGET FILE`: a refresh token (and maybe an access token) from a JSON
//! file another tool wrote. A bad file is named by its path and the key at fault, never by its
//! content: the file is full of secrets.

use crate::cli::TokenImportArgs;
use crate::config::Config;
use crate::oauth::Tokens;
use mailbeat_sdk::Secret;
use serde_json::{Map, Value};
use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The largest file read: a token file is a few KiB.
const MAX_FILE: u64 = 64 * 1024;

/// What the file holds.
#[derive(Debug)]
pub(super) struct Imported {
    pub refresh_token: Secret,
    pub access_token: Option<(Secret, Option<SystemTime>)>,
    pub scope: Option<String>,
}

pub(super) async fn run(
    config: &Config,
    tokens: &Tokens,
    args: &TokenImportArgs,
) -> Result<(), String> {
    let account = super::account_of(config, &args.target)?;
    let path = args.file.display().to_string();
    let bytes = read(&args.file).map_err(|e| format!("{path}: {e}"))?;
    let imported = parse(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let with_access = imported.access_token.is_some();
    tokens
        .import_grant(
            &account,
            imported.refresh_token,
            imported.access_token,
            imported.scope,
        )
        .await
        .map_err(|e| e.message)?;
    println!(
        "Imported a refresh token{} for {} (token set {}, account {}). `mailbeat check --target {} --probe token` proves that it works.",
        if with_access { " and an access token" } else { "" },
        args.target,
        account.token,
        account.username,
        args.target,
    );
    Ok(())
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(format!(
            "larger than {} KiB: not a token file",
            MAX_FILE / 1024
        ));
    }
    Ok(bytes)
}

/// Reads the file's JSON. Errors name keys and positions only.
pub(super) fn parse(bytes: &[u8]) -> Result<Imported, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        // serde_json's own text can quote the input; say only where it broke.
        let what = match e.classify() {
            serde_json::error::Category::Eof => "ends early",
            _ => "is not valid",
        };
        format!(
            "the JSON {what} (line {}, column {}); expected an object with refresh_token, and optionally access_token and expires_at",
            e.line(),
            e.column()
        )
    })?;
    let Value::Object(map) = value else {
        return Err(
            "expected a JSON object with refresh_token, and optionally access_token and expires_at"
                .into(),
        );
    };
    let refresh_token = string(&map, "refresh_token")?
        .ok_or("refresh_token is missing: the file must carry the refresh token to import")?;
    let access = string(&map, "access_token")?;
    let expires_at = match map.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(v) => Some(time(v)?),
    };
    if access.is_none() && expires_at.is_some() {
        return Err("expires_at is given without an access_token".into());
    }
    Ok(Imported {
        refresh_token: Secret::new(refresh_token),
        access_token: access.map(|a| (Secret::new(a), expires_at)),
        scope: string(&map, "scope")?,
    })
}

/// A non-empty string under `key`, if present.
fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => {
            if s.chars().any(char::is_control) {
                return Err(format!("{key} contains control characters"));
            }
            Ok(Some(s.trim().to_string()))
        }
        Some(Value::String(_)) => Err(format!("{key} is empty")),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

/// `expires_at`: an RFC 3339 time, or Unix seconds.
fn time(v: &Value) -> Result<SystemTime, String> {
    const WHAT: &str = "expires_at must be an RFC 3339 time (2026-01-31T12:00:00Z) or Unix seconds";
    let secs = match v {
        Value::Number(n) => n.as_f64().ok_or(WHAT)?,
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(n) => n,
            Err(_) => {
                let t = chrono::DateTime::parse_from_rfc3339(s.trim()).map_err(|_| WHAT)?;
                return UNIX_EPOCH
                    .checked_add(Duration::from_millis(
                        u64::try_from(t.timestamp_millis()).map_err(|_| WHAT)?,
                    ))
                    .ok_or_else(|| WHAT.to_string());
            }
        },
        _ => return Err(WHAT.into()),
    };
    // Year 1970 to 5138: a millisecond count would be a mistake the other way.
    if !(0.0..1e11).contains(&secs) || !secs.is_finite() {
        return Err(format!("{WHAT} (in seconds, not milliseconds)"));
    }
    Ok(UNIX_EPOCH + Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_and_a_refresh_token_alone() {
        let i = parse(br#"{"refresh_token":" rt-1 ","access_token":"at-1","expires_at":"2026-01-31T12:00:00+09:00","token_type":"Bearer"}"#).unwrap();
        assert_eq!(i.refresh_token.expose(), "rt-1");
        let (at, exp) = i.access_token.unwrap();
        assert_eq!(at.expose(), "at-1");
        assert_eq!(exp, Some(UNIX_EPOCH + Duration::from_secs(1_769_828_400)));
        let i = parse(br#"{"refresh_token":"rt","access_token":"at","expires_at":1769828400}"#)
            .unwrap();
        assert_eq!(
            i.access_token.unwrap().1,
            Some(UNIX_EPOCH + Duration::from_secs(1_769_828_400))
        );
        let i = parse(br#"{"refresh_token":"rt","access_token":"at","expires_at":"1769828400"}"#)
            .unwrap();
        assert!(i.access_token.unwrap().1.is_some());
        let i = parse(br#"{"refresh_token":"rt"}"#).unwrap();
        assert!(i.access_token.is_none());
    }

    #[test]
    fn bad_files_are_named_without_their_content() {
        let secret = "SECRET-VALUE-42";
        for (file, want) in [
            (format!("{{\"refresh_token\": \"{secret}\""), "the JSON ends early"),
            (format!("{{\"refresh_token\": {secret}}}"), "the JSON is not valid"),
            (format!("[\"{secret}\"]"), "expected a JSON object"),
            (format!("{{\"access_token\": \"{secret}\"}}"), "refresh_token is missing"),
            (format!("{{\"refresh_token\": 42, \"x\": \"{secret}\"}}"), "refresh_token must be a string"),
            ("{\"refresh_token\": \"\"}".into(), "refresh_token is empty"),
            (format!("{{\"refresh_token\": \"a\", \"access_token\": \"{secret}\", \"expires_at\": \"{secret}\"}}"), "expires_at must be an RFC 3339 time"),
            ("{\"refresh_token\": \"a\", \"access_token\": \"b\", \"expires_at\": 1769828400000}".into(), "not milliseconds"),
            ("{\"refresh_token\": \"a\", \"access_token\": \"b\", \"expires_at\": -5}".into(), "expires_at"),
            ("{\"refresh_token\": \"a\", \"expires_at\": 5}".into(), "without an access_token"),
            (format!("{{\"refresh_token\": \"a\\u0000{secret}\"}}"), "control characters"),
            ("".into(), "ends early"),
            ("\u{feff}\u{0}".into(), "not valid"),
        ] {
            let e = parse(file.as_bytes()).unwrap_err();
            assert!(e.contains(want), "{file:?}: {e}");
            assert!(!e.contains(secret), "{e}");
        }
    }
}
