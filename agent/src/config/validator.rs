//! The validator's core: it collects problems, resolves paths, and checks the kinds of value
//! every section of the file has (durations, schedules, secrets).

use super::{Problem, SecretSource};
use crate::schedule::Schedule;
use mailbeat_sdk::Probe;
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The longest duration a config may give (`timeout`, `every`, `spread`). Longer ones overflowed
/// the clocks they are added to: a check's deadline (`Instant`), the scheduler's next slot
/// (`DateTime`).
pub(super) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Walks the raw file, collecting every problem rather than stopping at the first.
pub(super) struct Validator<'a> {
    /// The config file's directory: relative paths are relative to it.
    pub(super) base: &'a Path,
    pub(super) problems: Vec<Problem>,
    /// The known probes.
    pub(super) probes: &'a [Arc<dyn Probe>],
}

/// Where a value was written, as (line, column).
pub(super) fn loc<T>(s: &Spanned<T>) -> (u64, u64) {
    (s.referenced.line(), s.referenced.column())
}

impl Validator<'_> {
    pub(super) fn problem(
        &mut self,
        at: (u64, u64),
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            line: at.0,
            column: at.1,
            key: key.into(),
            message: message.into(),
            snippet: String::new(),
        });
    }

    pub(super) fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    pub(super) fn duration(&mut self, s: &Spanned<String>, key: &str) -> Option<Duration> {
        match humantime::parse_duration(s.value.trim()) {
            Ok(d) if d.is_zero() => {
                self.problem(loc(s), key, "must be greater than zero");
                None
            }
            Ok(d) if d > MAX_DURATION => {
                self.problem(loc(s), key, "must be at most 365d");
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

    pub(super) fn schedule(
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

    pub(super) fn secret(
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

    pub(super) fn secret_file(
        &mut self,
        value: &Spanned<String>,
        key: &str,
    ) -> Option<SecretSource> {
        let path = self.path(&value.value);
        // `targets[0].account.password_file` says `cannot read password_file ...`.
        let name = key.rsplit('.').next().unwrap_or(key);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Some(SecretSource::File(path)),
            Ok(_) => {
                self.problem(
                    loc(value),
                    key,
                    format!("cannot read {name} {}: not a file", path.display()),
                );
                None
            }
            Err(e) => {
                self.problem(loc(value), key, crate::files::cannot_read(name, &path, &e));
                None
            }
        }
    }
}
