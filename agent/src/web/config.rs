//! Reading `--web.config.file`: the exporter-toolkit keys, every problem reported at once as
//! `FILE:LINE:COL: key: message`, no hash in any message.

use super::auth::BasicAuth;
use super::tls;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The web configuration in force: TLS (or plain HTTP) and the basic auth users (or none).
#[derive(Clone, Default)]
pub struct WebConfig {
    /// The file it came from (`None`: no `--web.config.file`).
    pub path: Option<PathBuf>,
    /// The TLS server configuration, when `tls_server_config` is set.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// What the TLS settings are, for the start-up line and `validate`.
    pub tls_summary: Option<TlsSummary>,
    /// Basic auth, when `basic_auth_users` has users.
    pub auth: Option<Arc<BasicAuth>>,
}

impl fmt::Debug for WebConfig {
    // Never the users' hashes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("path", &self.path)
            .field("tls", &self.tls_summary)
            .field(
                "basic_auth_users",
                &self.auth.as_ref().map(|a| a.user_count()),
            )
            .finish()
    }
}

/// What `tls_server_config` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSummary {
    pub client_auth: ClientAuth,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
}

impl WebConfig {
    /// One line for people: what the listener does.
    pub fn describe(&self) -> String {
        let tls = match &self.tls_summary {
            Some(t) => format!(
                "TLS ({}..{}, client certificates: {:?})",
                t.min_version.name(),
                t.max_version.name(),
                t.client_auth
            ),
            None => "plain HTTP (no TLS)".to_string(),
        };
        let auth = match &self.auth {
            Some(a) => format!("basic auth with {} user(s)", a.user_count()),
            None => "no basic auth".to_string(),
        };
        format!("{tls}, {auth}")
    }
}

/// `client_auth_type`, in Go's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum ClientAuth {
    /// No client certificate is asked for (the default).
    #[default]
    NoClientCert,
    /// A certificate is asked for, not required, not verified.
    RequestClientCert,
    /// A certificate is required, not verified.
    RequireAnyClientCert,
    /// A certificate is not required; one that is sent must verify against `client_ca_file`.
    VerifyClientCertIfGiven,
    /// A certificate is required and must verify against `client_ca_file`.
    RequireAndVerifyClientCert,
}

/// `min_version`, `max_version`, in Go's names. TLS 1.0 and 1.1 are known, to be refused
/// clearly: rustls speaks only 1.2 and 1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum TlsVersion {
    TLS10,
    TLS11,
    TLS12,
    TLS13,
}

impl TlsVersion {
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::TLS10 => "TLS10",
            TlsVersion::TLS11 => "TLS11",
            TlsVersion::TLS12 => "TLS12",
            TlsVersion::TLS13 => "TLS13",
        }
    }
}

/// A web config that cannot be used: every problem, each `FILE[:LINE:COL]: key: message`.
#[derive(Debug)]
pub struct WebConfigError {
    pub path: String,
    pub problems: Vec<Problem>,
}

/// One problem of a web config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u64,
    pub column: u64,
    pub key: String,
    pub message: String,
}

impl fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            // `cannot read web config file web.yml: no such file` names the file itself.
            if p.line == 0 && p.key.is_empty() && p.message.contains(&self.path) {
                write!(f, "{}", p.message)?;
                continue;
            }
            write!(f, "{}", self.path)?;
            if p.line > 0 {
                write!(f, ":{}:{}", p.line, p.column)?;
            }
            if !p.key.is_empty() {
                write!(f, ": {}", p.key)?;
            }
            write!(f, ": {}", p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for WebConfigError {}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    basic_auth_users: Option<BTreeMap<String, Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<Spanned<String>>,
    key_file: Option<Spanned<String>>,
    client_ca_file: Option<Spanned<String>>,
    client_auth_type: Option<Spanned<ClientAuth>>,
    min_version: Option<Spanned<TlsVersion>>,
    max_version: Option<Spanned<TlsVersion>>,
}

/// Reads the web config file and builds what it describes (certificates and keys are read and
/// checked now, so a bad file stops the agent at start).
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| WebConfigError {
        path: shown.clone(),
        problems: vec![Problem {
            line: 0,
            column: 0,
            key: String::new(),
            message: crate::files::cannot_read("web config file", path, &e),
        }],
    })?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut config = parse(&text, &shown, &base)?;
    config.path = Some(path.to_path_buf());
    Ok(config)
}

/// Parses web config text; `shown` names it in errors, `base` resolves relative paths.
pub(super) fn parse(text: &str, shown: &str, base: &Path) -> Result<WebConfig, WebConfigError> {
    let raw: RawWebConfig = if text.trim().is_empty() {
        RawWebConfig::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| WebConfigError {
            path: shown.to_string(),
            problems: vec![syntax_problem(&e)],
        })?
    };
    let mut problems = Vec::new();
    let (tls, tls_summary) = match &raw.tls_server_config {
        Some(t) => match tls_config(t, base, &mut problems) {
            Some((config, summary)) => (Some(config), Some(summary)),
            None => (None, None),
        },
        None => (None, None),
    };
    let auth = raw
        .basic_auth_users
        .as_ref()
        .and_then(|users| basic_auth(users, &mut problems));
    if problems.is_empty() {
        Ok(WebConfig {
            path: None,
            tls,
            tls_summary,
            auth,
        })
    } else {
        Err(WebConfigError {
            path: shown.to_string(),
            problems,
        })
    }
}

/// A YAML or type error. The library's messages name keys and expected types, never a value; its
/// source snippet (which could show a hash) is left out.
fn syntax_problem(e: &serde_saphyr::Error) -> Problem {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let plain = e.without_snippet().to_string();
    let message = plain
        .replace(&format!(" at line {line}, column {column}"), "")
        .replace(", set DuplicateKeyPolicy in Options if acceptable", "")
        .replace("; use Option<String>", "")
        .replace("cannot deserialize null into string", "a value is missing");
    let message = message
        .split_once(&format!("line {line} column {column}: "))
        .map(|(_, rest)| rest.to_string())
        .unwrap_or(message);
    Problem {
        line,
        column,
        key: String::new(),
        message,
    }
}

fn at<T>(s: &Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

fn problem(problems: &mut Vec<Problem>, (line, column): (u64, u64), key: &str, message: String) {
    problems.push(Problem {
        line,
        column,
        key: key.to_string(),
        message,
    });
}

fn tls_config(
    raw: &RawTls,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<(Arc<rustls::ServerConfig>, TlsSummary)> {
    let before = problems.len();
    let key = "tls_server_config";
    let file = |s: &Option<Spanned<String>>, name: &str, problems: &mut Vec<Problem>| match s {
        Some(s) if s.value.trim().is_empty() => {
            problem(problems, at(s), &format!("{key}.{name}"), "is empty".into());
            None
        }
        Some(s) => Some((base.join(s.value.trim()), at(s))),
        None => None,
    };
    let cert = file(&raw.cert_file, "cert_file", problems);
    let private_key = file(&raw.key_file, "key_file", problems);
    let client_ca = file(&raw.client_ca_file, "client_ca_file", problems);
    if raw.cert_file.is_none() {
        problem(
            problems,
            (0, 0),
            &format!("{key}.cert_file"),
            "is missing".into(),
        );
    }
    if raw.key_file.is_none() {
        problem(
            problems,
            (0, 0),
            &format!("{key}.key_file"),
            "is missing".into(),
        );
    }
    let client_auth = raw
        .client_auth_type
        .as_ref()
        .map(|c| c.value)
        .unwrap_or_default();
    let verifies = matches!(
        client_auth,
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
    );
    match (&client_ca, client_auth) {
        (Some((_, pos)), ClientAuth::NoClientCert) => problem(
            problems,
            *pos,
            &format!("{key}.client_ca_file"),
            "is set but client_auth_type is NoClientCert: set client_auth_type (e.g. RequireAndVerifyClientCert)".into(),
        ),
        (None, _) if verifies => problem(
            problems,
            raw.client_auth_type.as_ref().map(at).unwrap_or((0, 0)),
            &format!("{key}.client_auth_type"),
            format!("{client_auth:?} needs client_ca_file (the CA that signs client certificates)"),
        ),
        _ => {}
    }
    let version =
        |v: &Option<Spanned<TlsVersion>>, name: &str, default, problems: &mut Vec<_>| match v {
            Some(s) if s.value < TlsVersion::TLS12 => {
                problem(
                    problems,
                    at(s),
                    &format!("{key}.{name}"),
                    format!("{} is not supported (TLS12 and TLS13 are)", s.value.name()),
                );
                default
            }
            Some(s) => s.value,
            None => default,
        };
    let min_version = version(&raw.min_version, "min_version", TlsVersion::TLS12, problems);
    let max_version = version(&raw.max_version, "max_version", TlsVersion::TLS13, problems);
    if min_version > max_version {
        problem(
            problems,
            raw.max_version.as_ref().map(at).unwrap_or((0, 0)),
            &format!("{key}.max_version"),
            format!(
                "{} is below min_version {}",
                max_version.name(),
                min_version.name()
            ),
        );
    }
    // Read the files even when something else is wrong: all problems at once.
    let chain = cert.as_ref().and_then(|(p, pos)| {
        tls::load_certs("cert_file", p)
            .map_err(|m| problem(problems, *pos, &format!("{key}.cert_file"), m))
            .ok()
    });
    let private_key = private_key.as_ref().and_then(|(p, pos)| {
        tls::load_key(p)
            .map_err(|m| problem(problems, *pos, &format!("{key}.key_file"), m))
            .ok()
    });
    let client_roots = client_ca.as_ref().and_then(|(p, pos)| {
        tls::load_certs("client_ca_file", p)
            .map_err(|m| problem(problems, *pos, &format!("{key}.client_ca_file"), m))
            .ok()
    });
    if problems.len() > before {
        return None;
    }
    let summary = TlsSummary {
        client_auth,
        min_version,
        max_version,
    };
    match tls::server_config(chain?, private_key?, client_roots, &summary) {
        Ok(config) => Some((Arc::new(config), summary)),
        Err(m) => {
            let pos = raw.key_file.as_ref().map(at).unwrap_or((0, 0));
            problem(problems, pos, key, m);
            None
        }
    }
}

fn basic_auth(
    users: &BTreeMap<String, Spanned<String>>,
    problems: &mut Vec<Problem>,
) -> Option<Arc<BasicAuth>> {
    let before = problems.len();
    let mut hashes = BTreeMap::new();
    for (user, hash) in users {
        let key = format!("basic_auth_users.{user}");
        if user.is_empty() {
            problem(
                problems,
                at(hash),
                "basic_auth_users",
                "a user name is empty".into(),
            );
            continue;
        }
        if user.contains(':') {
            // Basic credentials are `user:password`: such a user could never log in.
            problem(
                problems,
                at(hash),
                &key,
                "a user name cannot contain ':'".into(),
            );
            continue;
        }
        match super::auth::check_hash(hash.value.trim()) {
            Ok(()) => {
                hashes.insert(user.clone(), hash.value.trim().to_string());
            }
            Err(why) => problem(
                problems,
                at(hash),
                &key,
                format!("not a bcrypt hash ({why}); make one with `htpasswd -nBC 10 {user}`"),
            ),
        }
    }
    if problems.len() > before || hashes.is_empty() {
        return None;
    }
    Some(Arc::new(BasicAuth::new(hashes)))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
