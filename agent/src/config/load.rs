//! Loading: read the file, parse the YAML (a syntax or type error becomes one
//! `FILE:LINE:COLUMN` error with a masked snippet), and validate it into a [`Config`].

use super::raw::RawConfig;
use super::snippet::mask_secret_values;
use super::target_files::{self, Mode};
use super::validator::{loc, Validator};
use super::{keypath, Config, ConfigError, Global, SecretSource};
use crate::schedule::Schedule;
use mailbeat_sdk::Probe;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Loads and validates a config file. `probes` are the known probes (their option validation
/// runs too).
pub fn load(path: &Path, probes: &[Arc<dyn Probe>]) -> Result<Config, ConfigError> {
    load_with(path, probes, &Mode::Strict)
}

/// [`load`], with `mode` saying what a bad target file does (see [`super::target_files`]).
pub fn load_with(
    path: &Path,
    probes: &[Arc<dyn Probe>],
    mode: &Mode<'_>,
) -> Result<Config, ConfigError> {
    let (text, shown, base) = read(path)?;
    parse_with(&text, &shown, &base, probes, mode).map(|mut c| {
        c.path = path.to_path_buf();
        c
    })
}

/// The file's text, its name as errors show it, and the directory relative paths start from.
pub(super) fn read(path: &Path) -> Result<(String, String, PathBuf), ConfigError> {
    let shown = path.display().to_string();
    let text = super::yaml::read_bounded(path).map_err(|error| ConfigError::Read {
        path: shown.clone(),
        error,
    })?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok((text, shown, base))
}

/// Parses and validates config text; `shown` names it in errors, `base` resolves relative paths.
pub fn parse(
    text: &str,
    shown: &str,
    base: &Path,
    probes: &[Arc<dyn Probe>],
) -> Result<Config, ConfigError> {
    parse_with(text, shown, base, probes, &Mode::Strict)
}

/// [`parse`], with `mode` saying what a bad target file does.
pub fn parse_with(
    text: &str,
    shown: &str,
    base: &Path,
    probes: &[Arc<dyn Probe>],
    mode: &Mode<'_>,
) -> Result<Config, ConfigError> {
    let raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        super::yaml::from_str(text).map_err(|e| parse_error(shown, text, &e))?
    };
    let mut v = Validator {
        base,
        problems: Vec::new(),
        probes,
    };
    let config = v.config(raw, mode);
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
pub(super) fn parse_error(shown: &str, text: &str, e: &serde_saphyr::Error) -> ConfigError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let tidy = |s: &str| {
        super::yaml::explain_budget(s)
            .replace(&format!(" at line {line}, column {column}"), "")
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

impl Validator<'_> {
    /// The whole file: `global`, `probe_defaults`, each target, each webhook.
    fn config(&mut self, raw: RawConfig, mode: &Mode<'_>) -> Config {
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
        // A hanging provider must not take every slot: by default one host gets a quarter.
        let per_host_concurrency = match &g.per_host_concurrency {
            Some(c) if c.value == 0 => {
                self.problem(loc(c), "global.per_host_concurrency", "must be at least 1");
                1
            }
            Some(c) => (c.value as usize).min(concurrency),
            None => (concurrency / 4).max(1),
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
            per_host_concurrency,
            locale: g.locale.unwrap_or_default(),
            ehlo_name: g.ehlo_name.clone().unwrap_or_else(default_ehlo_name),
            spread,
            state_key: self.state_key(g),
            shards: self.shards(g.shards.as_ref()),
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
        let mut seen_in: target_files::Seen = seen
            .into_iter()
            .map(|(name, (line, _))| (name, format!("the config file at line {line}")))
            .collect();
        let cx = target_files::Context {
            global: &global,
            defaults: &raw.probe_defaults,
            allow_inline,
        };
        let target_files =
            self.target_files(&raw.target_files, &cx, mode, &mut seen_in, &mut targets);

        let webhooks = self.webhooks(&raw.webhooks, allow_inline, &global);
        let probe_names: Vec<String> = self.probes.iter().map(|p| p.name().to_string()).collect();
        let alerts = self.alerts(&raw.alerts, &probe_names);
        // Read again here so the whole file's problems are reported together; the agent loads
        // the plugins from `plugins_section` before this.
        let plugins = self.plugins(&raw.plugins);

        Config {
            path: PathBuf::new(),
            global,
            targets,
            target_files,
            target_file_patterns: raw.target_files.iter().map(|p| p.value.clone()).collect(),
            alerts,
            webhooks,
            plugins,
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

impl Validator<'_> {
    /// `global.state_key_file` / `global.state_key`: checked for length now, read again when the
    /// state opens.
    fn state_key(&mut self, g: &super::raw::RawGlobal) -> Option<SecretSource> {
        let allow_inline = g.allow_inline_secrets.unwrap_or(false);
        let (source, at, key) = match (&g.state_key_file, &g.state_key) {
            (Some(f), Some(_)) => {
                self.problem(
                    loc(f),
                    "global",
                    "set only one of state_key_file, state_key",
                );
                return None;
            }
            (Some(f), None) => (
                self.secret_file(f, "global.state_key_file")?,
                loc(f),
                "global.state_key_file",
            ),
            (None, Some(s)) => (
                self.secret(s, "global.state_key", allow_inline)?,
                loc(s),
                "global.state_key",
            ),
            (None, None) => return None,
        };
        match source.read() {
            Ok(k) if k.expose().len() >= crate::oauth::seal::MIN_KEY_BYTES => Some(source),
            Ok(_) => {
                self.problem(
                    at,
                    key,
                    format!(
                        "holds fewer than {} bytes of key material; make one with `head -c 32 /dev/urandom | base64`",
                        crate::oauth::seal::MIN_KEY_BYTES
                    ),
                );
                None
            }
            // An unset variable may be set where the agent runs; the state says so at open.
            Err(super::SecretError::EnvUnset(_)) => Some(source),
            Err(e) => {
                self.problem(at, key, e.to_string());
                None
            }
        }
    }
}
