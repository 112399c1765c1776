//! Configuration: load the YAML file, validate every rule, resolve presets and paths.
//!
//! Validation collects every problem in the file (not just the first) and reports each as
//! `FILE:LINE:COLUMN: KEY.PATH: what is wrong`, the way compilers and `promtool check config` do.
//! Relative paths (secret files, CA files, state_dir) are relative to the config file's directory.

mod keypath;
mod presets;
mod raw;
pub mod secrets;
mod snippet;
mod targets;
mod trust;

pub use presets::{canonical as canonical_provider, PROVIDERS};
pub use secrets::{SecretError, SecretSource};
pub use trust::{system_roots_store, webpki_roots_store};

use crate::schedule::Schedule;
use mailbeat_sdk::{Locale, Probe, Target};
use raw::RawConfig;
use serde_saphyr::Spanned;
use snippet::mask_secret_values;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from.
    pub path: PathBuf,
    pub global: Global,
    pub targets: Vec<TargetConfig>,
    pub webhooks: Vec<Webhook>,
}

/// `global:` after defaults.
#[derive(Debug, Clone)]
pub struct Global {
    pub state_dir: PathBuf,
    /// Trust the operating system's certificate store as well, unless a target says otherwise.
    pub system_roots: bool,
    pub schedule: Schedule,
    pub timeout: Duration,
    pub concurrency: usize,
    pub locale: Locale,
    pub ehlo_name: String,
    /// Longest window a schedule's checks are spread over (`None`: the whole interval).
    pub spread: Option<Duration>,
}

/// A target with everything needed to check it.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub target: Target,
    pub probes: Vec<ProbeConfig>,
    pub schedule: Schedule,
    pub timeout: Duration,
    /// The account's password or access token.
    pub secret: Option<SecretSource>,
    /// Trust anchors: webpki roots, plus `ca_file`.
    pub roots: Arc<rustls::RootCertStore>,
}

/// One probe on one target.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeConfig {
    pub name: String,
    /// `probe_defaults` merged with the target's own options.
    pub options: serde_json::Value,
}

/// A webhook endpoint.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub name: String,
    pub url: String,
    pub secret: Option<SecretSource>,
    pub events: Vec<String>,
}

/// Webhook events a receiver can subscribe to.
pub const WEBHOOK_EVENTS: &[&str] = &["reauth_required", "alert_firing", "alert_resolved"];

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u64,
    pub column: u64,
    /// Key path, e.g. `targets[2].account.password_file`.
    pub key: String,
    pub message: String,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{path}:{line}:{column}: {}{message}\n{snippet}", if key.is_empty() { String::new() } else { format!("{key}: ") })]
    Parse {
        path: String,
        line: u64,
        column: u64,
        key: String,
        message: String,
        snippet: String,
    },
    #[error("{}", format_problems(path, problems))]
    Invalid {
        path: String,
        problems: Vec<Problem>,
    },
}

fn format_problems(path: &str, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| {
            if p.line > 0 {
                format!("{path}:{}:{}: {}: {}", p.line, p.column, p.key, p.message)
            } else {
                format!("{path}: {}: {}", p.key, p.message)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Loads and validates a config file. `probes` are the known probes (their option validation
/// runs too).
pub fn load(path: &Path, probes: &[Arc<dyn Probe>]) -> Result<Config, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: shown.clone(),
        error,
    })?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    parse(&text, &shown, &base, probes).map(|mut c| {
        c.path = path.to_path_buf();
        c
    })
}

/// Parses and validates config text; `shown` names it in errors, `base` resolves relative paths.
pub fn parse(
    text: &str,
    shown: &str,
    base: &Path,
    probes: &[Arc<dyn Probe>],
) -> Result<Config, ConfigError> {
    let raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| parse_error(shown, text, &e))?
    };
    let mut v = Validator {
        base,
        problems: Vec::new(),
        probes,
    };
    let config = v.config(raw);
    if v.problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid {
            path: shown.to_string(),
            problems: v.problems,
        })
    }
}

/// A YAML or type error in the same `FILE:LINE:COLUMN: key.path: message` form as validation
/// errors, followed by the library's source snippet.
fn parse_error(shown: &str, text: &str, e: &serde_saphyr::Error) -> ConfigError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let tidy = |s: &str| {
        s.replace(&format!(" at line {line}, column {column}"), "")
            .replace(", set DuplicateKeyPolicy in Options if acceptable", "")
            .replace("invalid u16", "must be a whole number between 1 and 65535")
    };
    let plain = e.without_snippet().to_string();
    // The library's own text starts with "error: line L column C: "; we say that in front.
    let message = plain
        .split_once(&format!("line {line} column {column}: "))
        .map(|(_, rest)| tidy(rest))
        .unwrap_or_else(|| tidy(&plain));
    let snippet = e
        .to_string()
        .lines()
        .skip(1)
        .map(|l| mask_secret_values(&tidy(&l.replace("<input>", shown))))
        .collect::<Vec<_>>()
        .join("\n");
    ConfigError::Parse {
        path: shown.to_string(),
        line,
        column,
        key: keypath::key_path_at(text, line as usize),
        message,
        snippet,
    }
}

struct Validator<'a> {
    base: &'a Path,
    problems: Vec<Problem>,
    probes: &'a [Arc<dyn Probe>],
}

fn loc<T>(s: &Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

impl Validator<'_> {
    fn problem(&mut self, at: (u64, u64), key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            line: at.0,
            column: at.1,
            key: key.into(),
            message: message.into(),
        });
    }

    fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn duration(&mut self, s: &Spanned<String>, key: &str) -> Option<Duration> {
        match humantime::parse_duration(s.value.trim()) {
            Ok(d) if d.is_zero() => {
                self.problem(loc(s), key, "must be greater than zero");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(
                    loc(s),
                    key,
                    format!(
                        "invalid duration {:?} ({e}); write e.g. 30s, 5m, 1h",
                        s.value
                    ),
                );
                None
            }
        }
    }

    fn schedule(
        &mut self,
        cron: Option<&Spanned<String>>,
        every: Option<&Spanned<String>>,
        key: &str,
    ) -> Option<Schedule> {
        match (cron, every) {
            (Some(c), Some(_)) => {
                self.problem(
                    loc(c),
                    format!("{key}schedule"),
                    "set either `schedule` (cron) or `every`, not both",
                );
                None
            }
            (Some(c), None) => match Schedule::cron(&c.value) {
                Ok(s) => Some(s),
                Err(e) => {
                    self.problem(loc(c), format!("{key}schedule"), e);
                    None
                }
            },
            (None, Some(e)) => {
                let d = self.duration(e, &format!("{key}every"))?;
                match Schedule::every(d) {
                    Ok(s) => Some(s),
                    Err(msg) => {
                        self.problem(loc(e), format!("{key}every"), msg);
                        None
                    }
                }
            }
            (None, None) => None,
        }
    }

    fn secret(
        &mut self,
        value: &Spanned<String>,
        key: &str,
        allow_inline: bool,
    ) -> Option<SecretSource> {
        let source = SecretSource::from_value(&value.value);
        match &source {
            SecretSource::Inline(_) if !allow_inline => {
                // Never echo the value: it is a secret written in the wrong place.
                self.problem(
                    loc(value),
                    key,
                    "inline secrets are not allowed; use a *_file key or ${ENV_VAR} (or set global.allow_inline_secrets: true)",
                );
                None
            }
            SecretSource::Env(name) if std::env::var_os(name).is_none() => {
                self.problem(
                    loc(value),
                    key,
                    format!("environment variable {name} is not set"),
                );
                None
            }
            _ => Some(source),
        }
    }

    fn secret_file(&mut self, value: &Spanned<String>, key: &str) -> Option<SecretSource> {
        let path = self.path(&value.value);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Some(SecretSource::File(path)),
            Ok(_) => {
                self.problem(loc(value), key, format!("{} is not a file", path.display()));
                None
            }
            Err(e) => {
                self.problem(
                    loc(value),
                    key,
                    format!("cannot read secret file {}: {}", path.display(), e.kind()),
                );
                None
            }
        }
    }

    fn config(&mut self, raw: RawConfig) -> Config {
        let g = &raw.global;
        let schedule = self
            .schedule(g.schedule.as_ref(), g.every.as_ref(), "global.")
            .unwrap_or_else(|| Schedule::Every(Duration::from_secs(300)));
        let timeout = g
            .timeout
            .as_ref()
            .and_then(|t| self.duration(t, "global.timeout"))
            .unwrap_or(Duration::from_secs(15));
        let concurrency = match &g.concurrency {
            Some(c) if c.value == 0 => {
                self.problem(loc(c), "global.concurrency", "must be at least 1");
                1
            }
            Some(c) => c.value as usize,
            None => 64,
        };
        let spread = g.spread.as_ref().and_then(|s| {
            if s.value.trim() == "0s" || s.value.trim() == "0" {
                Some(Duration::ZERO)
            } else {
                self.duration(s, "global.spread")
            }
        });
        let allow_inline = g.allow_inline_secrets.unwrap_or(false);
        let system_roots = self.global_system_roots(g.system_roots.as_ref());
        let global = Global {
            state_dir: self.path(g.state_dir.as_deref().unwrap_or("data")),
            system_roots,
            schedule,
            timeout,
            concurrency,
            locale: g.locale.unwrap_or_default(),
            ehlo_name: g.ehlo_name.clone().unwrap_or_else(default_ehlo_name),
            spread,
        };

        for (name, options) in &raw.probe_defaults {
            if !self.probes.iter().any(|p| p.name() == name) {
                self.problem((0, 0), format!("probe_defaults.{name}"), "unknown probe");
            } else if !options.is_object() && !options.is_null() {
                self.problem(
                    (0, 0),
                    format!("probe_defaults.{name}"),
                    "must be a map of options",
                );
            }
        }

        let mut seen: HashMap<String, (u64, u64)> = HashMap::new();
        let mut targets = Vec::new();
        for (i, t) in raw.targets.iter().enumerate() {
            let key = format!("targets[{i}]");
            if let Some(first) = seen.get(&t.name.value) {
                self.problem(
                    loc(&t.name),
                    format!("{key}.name"),
                    format!(
                        "duplicate target name {:?} (first defined at line {})",
                        t.name.value, first.0
                    ),
                );
            } else {
                seen.insert(t.name.value.clone(), loc(&t.name));
            }
            if let Some(tc) = self.target(t, &key, &global, &raw.probe_defaults, allow_inline) {
                targets.push(tc);
            }
        }

        let mut webhooks = Vec::new();
        let mut seen_hooks = HashSet::new();
        for (i, w) in raw.webhooks.iter().enumerate() {
            let key = format!("webhooks[{i}]");
            if !seen_hooks.insert(w.name.value.clone()) {
                self.problem(
                    loc(&w.name),
                    format!("{key}.name"),
                    format!("duplicate webhook name {:?}", w.name.value),
                );
            }
            let url = w.url.value.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                self.problem(
                    loc(&w.url),
                    format!("{key}.url"),
                    "must be an http:// or https:// URL",
                );
            }
            let secret = w
                .secret_file
                .as_ref()
                .and_then(|f| self.secret_file(f, &format!("{key}.secret_file")));
            let mut events = Vec::new();
            for (j, e) in w.events.iter().enumerate() {
                if WEBHOOK_EVENTS.contains(&e.value.as_str()) {
                    events.push(e.value.clone());
                } else {
                    self.problem(
                        loc(e),
                        format!("{key}.events[{j}]"),
                        format!(
                            "unknown event {:?}; one of {}",
                            e.value,
                            WEBHOOK_EVENTS.join(", ")
                        ),
                    );
                }
            }
            if w.events.is_empty() {
                events = WEBHOOK_EVENTS.iter().map(|s| s.to_string()).collect();
            }
            webhooks.push(Webhook {
                name: w.name.value.clone(),
                url: url.to_string(),
                secret,
                events,
            });
        }

        Config {
            path: PathBuf::new(),
            global,
            targets,
            webhooks,
        }
    }
}

/// The machine's host name when it is a FQDN, else a neutral placeholder (EHLO wants a FQDN).
fn default_ehlo_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| h.contains('.'))
        .unwrap_or_else(|| "mailbeat.localdomain".to_string())
}

#[cfg(test)]
mod tests;
