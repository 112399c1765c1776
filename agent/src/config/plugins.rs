//! `plugins:`: read before the rest of the file, because the plugins it names are probes the
//! targets may use (`{plugin: NAME, ...}`).

use super::load::{parse_raw, read};
use super::raw::RawPlugins;
use super::validator::{loc, Validator};
use super::ConfigError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `plugins:` section, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginsConfig {
    /// Every `*.so` in it is loaded at start.
    pub dir: Option<PathBuf>,
    pub exec: Vec<ExecPlugin>,
}

/// An exec (Nagios plugin API) plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecPlugin {
    pub name: String,
    /// Program and arguments, placeholders (`{host}` …) not yet substituted.
    pub command: Vec<String>,
    pub timeout: Option<Duration>,
    pub env: BTreeMap<String, String>,
    pub secret: ExecSecret,
    /// Shown by `mailbeat plugins`; a program has no version the agent could ask for.
    pub version: Option<String>,
}

/// How an exec plugin gets the account's secret: never on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecSecret {
    #[default]
    None,
    /// In the environment variable `MAILBEAT_SECRET`.
    Env,
    /// On standard input, followed by a newline.
    Stdin,
}

/// Reads only `plugins:` of the config file at `path` (the rest is checked by `load`).
pub fn plugins_section(path: &Path) -> Result<PluginsConfig, ConfigError> {
    let (text, shown, base) = read(path)?;
    // Only `plugins:` is built; the rest (100,000 targets, say) is skipped, not parsed into
    // structs twice at every start. `load` reports the rest's problems.
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct OnlyPlugins {
        plugins: RawPlugins,
    }
    let raw: OnlyPlugins = if text.trim().is_empty() {
        OnlyPlugins::default()
    } else if let Ok(raw) = super::yaml::from_str(&text) {
        raw
    } else {
        // The file does not parse: read it part by part, so that a problem elsewhere does not
        // hide `plugins:` (`load` reports all of them together).
        let (raw, problems) = parse_raw(&text, &shown);
        let Some(raw) = raw else {
            return Err(ConfigError::Invalid {
                path: shown,
                problems,
            });
        };
        OnlyPlugins {
            plugins: raw.plugins,
        }
    };
    let mut v = Validator {
        base: &base,
        problems: Vec::new(),
        probes: &[],
    };
    let section = v.plugins(&raw.plugins);
    if v.problems.is_empty() {
        Ok(section)
    } else {
        Err(ConfigError::Invalid {
            path: shown,
            problems: v.problems,
        })
    }
}

impl Validator<'_> {
    pub(super) fn plugins(&mut self, raw: &RawPlugins) -> PluginsConfig {
        let dir = raw.dir.as_ref().map(|d| self.path(&d.value));
        let mut exec = Vec::new();
        for (i, e) in raw.exec.iter().enumerate() {
            let key = format!("plugins.exec[{i}]");
            let name = e.name.value.trim().to_string();
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                self.problem(
                    loc(&e.name),
                    format!("{key}.name"),
                    "must be a name of letters, digits, _ - .",
                );
            }
            if exec.iter().any(|x: &ExecPlugin| x.name == name) {
                self.problem(
                    loc(&e.name),
                    format!("{key}.name"),
                    format!("duplicate plugin name {name:?}"),
                );
            }
            if e.command.is_empty() {
                self.problem(
                    loc(&e.name),
                    format!("{key}.command"),
                    "must name the program to run",
                );
            }
            let timeout = e
                .timeout
                .as_ref()
                .and_then(|t| self.duration(t, &format!("{key}.timeout")));
            let secret = match e.secret.as_ref().map(|s| s.value.trim()) {
                None | Some("none") => ExecSecret::None,
                Some("env") => ExecSecret::Env,
                Some("stdin") => ExecSecret::Stdin,
                Some(other) => {
                    if let Some(s) = &e.secret {
                        self.problem(
                            loc(s),
                            format!("{key}.secret"),
                            format!("unknown way {other:?}; one of none, env, stdin (never the command line)"),
                        );
                    }
                    ExecSecret::None
                }
            };
            exec.push(ExecPlugin {
                name,
                command: e.command.iter().map(|c| c.value.clone()).collect(),
                timeout,
                env: e.env.clone(),
                secret,
                version: e.version.as_ref().map(|v| v.trim().to_string()),
            });
        }
        PluginsConfig { dir, exec }
    }
}
