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
            message: format!("cannot read: {e}"),
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
        tls::load_certs(p)
            .map_err(|m| problem(problems, *pos, &format!("{key}.cert_file"), m))
            .ok()
    });
    let private_key = private_key.as_ref().and_then(|(p, pos)| {
        tls::load_key(p)
            .map_err(|m| problem(problems, *pos, &format!("{key}.key_file"), m))
            .ok()
    });
    let client_roots = client_ca.as_ref().and_then(|(p, pos)| {
        tls::load_certs(p)
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
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    /// A self-signed certificate and its key, written as PEM files into `dir`.
    fn write_cert(dir: &Path, name: &str) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }

    fn dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        write_cert(d.path(), "server");
        write_cert(d.path(), "other");
        write_cert(d.path(), "ca");
        d
    }

    fn parse_in(dir: &Path, text: &str) -> Result<WebConfig, String> {
        parse(text, "web.yml", dir).map_err(|e| e.to_string())
    }

    fn hash(password: &str) -> String {
        bcrypt::hash(password, 4).unwrap()
    }

    #[test]
    fn an_empty_file_is_plain_http_without_auth() {
        let d = dir();
        let c = parse_in(d.path(), "").unwrap();
        assert!(c.tls.is_none() && c.auth.is_none());
        assert_eq!(c.describe(), "plain HTTP (no TLS), no basic auth");
        let c = parse_in(d.path(), "basic_auth_users: {}\n").unwrap();
        assert!(c.auth.is_none());
    }

    #[test]
    fn every_key_parses() {
        let d = dir();
        let text = format!(
            "tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS13
  max_version: TLS13
basic_auth_users:
  prometheus: {}
  alice: '{}'
",
            hash("p"),
            hash("a")
        );
        let c = parse_in(d.path(), &text).unwrap();
        assert_eq!(
            c.tls_summary,
            Some(TlsSummary {
                client_auth: ClientAuth::RequireAndVerifyClientCert,
                min_version: TlsVersion::TLS13,
                max_version: TlsVersion::TLS13,
            })
        );
        let tls = c.tls.as_ref().unwrap();
        assert_eq!(tls.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert_eq!(c.auth.as_ref().unwrap().user_count(), 2);
        assert_eq!(
            c.describe(),
            "TLS (TLS13..TLS13, client certificates: RequireAndVerifyClientCert), basic auth with 2 user(s)"
        );
        // The hashes stay out of the debug form.
        assert!(!format!("{c:?}").contains("$2"), "{c:?}");
    }

    #[test]
    fn defaults_are_no_client_cert_and_tls12_to_13() {
        let d = dir();
        let c = parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key}\n",
        )
        .unwrap();
        let s = c.tls_summary.unwrap();
        assert_eq!(s.client_auth, ClientAuth::NoClientCert);
        assert_eq!(
            (s.min_version, s.max_version),
            (TlsVersion::TLS12, TlsVersion::TLS13)
        );
    }

    #[test]
    fn every_client_auth_type_builds() {
        let d = dir();
        for mode in [
            "NoClientCert",
            "RequestClientCert",
            "RequireAnyClientCert",
            "VerifyClientCertIfGiven",
            "RequireAndVerifyClientCert",
        ] {
            let ca = if mode == "NoClientCert" {
                ""
            } else {
                ", client_ca_file: ca.crt"
            };
            let text = format!(
                "tls_server_config: {{cert_file: server.crt, key_file: server.key, client_auth_type: {mode}{ca}}}\n"
            );
            let c = parse_in(d.path(), &text).unwrap_or_else(|e| panic!("{mode}: {e}"));
            assert_eq!(format!("{:?}", c.tls_summary.unwrap().client_auth), mode);
        }
        // The unverified modes need no CA.
        parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireAnyClientCert}\n",
        )
        .unwrap();
    }

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let d = dir();
        let sub = d.path().join("conf");
        std::fs::create_dir(&sub).unwrap();
        let file = sub.join("web.yml");
        std::fs::write(
            &file,
            "tls_server_config: {cert_file: ../server.crt, key_file: ../server.key}\n",
        )
        .unwrap();
        let c = load(&file).unwrap();
        assert!(c.tls.is_some());
        assert_eq!(c.path.as_deref(), Some(file.as_path()));
    }

    #[test]
    fn unknown_keys_are_errors_with_their_place() {
        let d = dir();
        let e = parse_in(
            d.path(),
            "tls_server_config:\n  cert_file: server.crt\n  ciphers: [x]\n",
        )
        .unwrap_err();
        assert!(
            e.starts_with("web.yml:3:3: unknown field `ciphers`, expected one of"),
            "{e}"
        );
        let e = parse_in(d.path(), "basic_auth: {a: b}\n").unwrap_err();
        assert!(
            e.starts_with("web.yml:1:1: unknown field `basic_auth`"),
            "{e}"
        );
        // A typo of a mode names the right ones.
        let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireClientCert}\n",
        )
        .unwrap_err();
        assert!(e.contains("unknown variant `RequireClientCert`"), "{e}");
        assert!(e.contains("RequireAndVerifyClientCert"), "{e}");
    }

    #[test]
    fn wrong_types_are_errors() {
        let d = dir();
        let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: [a], key_file: server.key}\n",
        )
        .unwrap_err();
        assert!(e.starts_with("web.yml:1:32: "), "{e}");
        let e = parse_in(d.path(), "basic_auth_users: [alice]\n").unwrap_err();
        assert!(e.starts_with("web.yml:1:19: "), "{e}");
        let e = parse_in(d.path(), "tls_server_config: yes\n").unwrap_err();
        assert!(e.starts_with("web.yml:1:"), "{e}");
        let e = parse_in(d.path(), "basic_auth_users:\n  alice:\n").unwrap_err();
        assert_eq!(e, "web.yml:2:8: a value is missing");
        let e = parse_in(d.path(), "basic_auth_users:\n  a: x\n  a: y\n").unwrap_err();
        assert_eq!(e, "web.yml:3:3: duplicate mapping key: a");
    }

    #[test]
    fn missing_files_and_bad_pem_are_clear() {
        let d = dir();
        std::fs::write(d.path().join("junk.pem"), "not a certificate\n").unwrap();
        std::fs::write(
            d.path().join("broken.pem"),
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: nope.crt, key_file: nope.key}\n",
        )
        .unwrap_err();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 2, "both files named: {e}");
        assert!(
            lines[0].starts_with("web.yml:1:32: tls_server_config.cert_file: cannot read "),
            "{e}"
        );
        assert!(
            lines[0].contains("nope.crt") && lines[0].contains("No such file"),
            "{e}"
        );
        assert!(
            lines[1].contains("tls_server_config.key_file: cannot read ")
                && lines[1].contains("nope.key"),
            "{e}"
        );

        let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: junk.pem, key_file: junk.pem}\n",
        )
        .unwrap_err();
        assert!(
            e.contains("tls_server_config.cert_file: ")
                && e.contains("junk.pem holds no PEM certificate"),
            "{e}"
        );
        assert!(
            e.contains("tls_server_config.key_file: ")
                && e.contains("junk.pem holds no PEM private key"),
            "{e}"
        );

        let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: broken.pem, key_file: server.key}\n",
        )
        .unwrap_err();
        assert!(e.contains("broken.pem is not valid PEM"), "{e}");

        // A key of another certificate.
        let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: other.key}\n",
        )
        .unwrap_err();
        assert!(
            e.contains("tls_server_config: the key_file does not fit the cert_file"),
            "{e}"
        );
        // The key's bytes are never shown.
        let key = std::fs::read_to_string(d.path().join("other.key")).unwrap();
        let body = key.lines().nth(1).unwrap();
        assert!(!e.contains(body), "{e}");
    }

    #[test]
    fn cert_and_key_are_both_needed() {
        let d = dir();
        let e = parse_in(d.path(), "tls_server_config: {cert_file: server.crt}\n").unwrap_err();
        assert_eq!(e, "web.yml: tls_server_config.key_file: is missing");
        let e = parse_in(d.path(), "tls_server_config: {}\n").unwrap_err();
        assert_eq!(e.lines().count(), 2, "{e}");
        let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: '', key_file: server.key}\n",
        )
        .unwrap_err();
        assert!(e.contains("tls_server_config.cert_file: is empty"), "{e}");
    }

    #[test]
    fn client_ca_and_client_auth_type_go_together() {
        let d = dir();
        let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key, client_ca_file: ca.crt}\n",
        )
        .unwrap_err();
        assert!(
            e.contains(
                "tls_server_config.client_ca_file: is set but client_auth_type is NoClientCert"
            ),
            "{e}"
        );
        let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: VerifyClientCertIfGiven}\n",
        )
        .unwrap_err();
        assert!(
            e.contains(
                "tls_server_config.client_auth_type: VerifyClientCertIfGiven needs client_ca_file"
            ),
            "{e}"
        );
    }

    #[test]
    fn only_tls12_and_tls13() {
        let d = dir();
        let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS10}\n",
        )
        .unwrap_err();
        assert!(
            e.contains(
                "tls_server_config.min_version: TLS10 is not supported (TLS12 and TLS13 are)"
            ),
            "{e}"
        );
        let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS13, max_version: TLS12}\n",
        )
        .unwrap_err();
        assert!(
            e.contains("tls_server_config.max_version: TLS12 is below min_version TLS13"),
            "{e}"
        );
        let e = parse_in(
            d.path(),
            "tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: SSL3}\n",
        )
        .unwrap_err();
        assert!(
            e.contains("unknown variant `SSL3`, expected one of TLS10, TLS11, TLS12, TLS13"),
            "{e}"
        );
    }

    #[test]
    fn bad_hashes_are_named_by_user_never_shown() {
        let d = dir();
        let good = hash("pw");
        // Right shape, one character short; a plain password; a SHA-crypt hash.
        let short = &good[..59];
        let text = format!(
            "basic_auth_users:\n  alice: '{short}'\n  bob: hunter2-secret\n  carol: '$6$salt$abcdefghijklmnop'\n  'dave:x': '{good}'\n"
        );
        let e = parse_in(d.path(), &text).unwrap_err();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 4, "every problem at once: {e}");
        assert!(
            lines[0].starts_with("web.yml:2:10: basic_auth_users.alice: not a bcrypt hash ("),
            "{e}"
        );
        assert!(lines[0].contains("htpasswd -nBC 10 alice"), "{e}");
        assert!(
            lines[1].starts_with("web.yml:3:8: basic_auth_users.bob: not a bcrypt hash"),
            "{e}"
        );
        assert!(
            lines[2].contains("basic_auth_users.carol: not a bcrypt hash"),
            "{e}"
        );
        assert!(
            lines[3].contains("basic_auth_users.dave:x: a user name cannot contain ':'"),
            "{e}"
        );
        for secret in [short, "hunter2", "$6$salt", &good[7..]] {
            assert!(!e.contains(secret), "{secret} shown in: {e}");
        }
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let d = dir();
        let e = load(&d.path().join("web.yml")).unwrap_err().to_string();
        assert!(
            e.ends_with("web.yml: cannot read: No such file or directory (os error 2)"),
            "{e}"
        );
    }
}
