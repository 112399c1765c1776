//! `target_files:`: targets kept in separate files, the way Prometheus's `file_sd_configs` keeps
//! scrape targets, so provisioning tools can write tens of thousands of mailboxes without
//! touching the main config.
//!
//! Each pattern is relative to the config file's directory and may hold `*` and `?` in its last
//! path segment only (as in Prometheus). Each file is a YAML list of entries in the schema of
//! `targets:`. Target names are unique across the config and all its files; a duplicate names
//! both places.
//!
//! Strict mode (`validate`, `check`, the first load) makes a bad file an error of the whole
//! config. The running agent reloads leniently: a bad file keeps the targets of its last good
//! version ([`TargetFileMemory`]) and is reported ([`TargetFileReport`]), so one broken export
//! from a provisioning tool does not drop thousands of targets from monitoring.

use super::raw::RawTarget;
use super::validator::{loc, Validator};
use super::{ConfigError, Global, TargetConfig};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// The most files one pattern may match: a bound on the work of every poll.
pub const MAX_FILES_PER_PATTERN: usize = 10_000;

/// What identifies a version of a file without reading it: modification time and size.
pub type Stamp = Option<(SystemTime, u64)>;

/// How a load treats a bad target file.
#[derive(Default)]
pub enum Mode<'a> {
    /// A bad file is an error of the config (`validate`, `check`).
    #[default]
    Strict,
    /// A bad file keeps the targets of its last good version (the running agent).
    KeepLastGood(&'a TargetFileMemory),
}

/// The last good text of every target file, by path: what a bad version falls back to.
#[derive(Debug, Default)]
pub struct TargetFileMemory {
    good: Mutex<HashMap<PathBuf, String>>,
}

impl TargetFileMemory {
    fn get(&self, path: &Path) -> Option<String> {
        let good = self.good.lock().unwrap_or_else(|e| e.into_inner());
        good.get(path).cloned()
    }

    fn remember(&self, path: &Path, text: &str) {
        let mut good = self.good.lock().unwrap_or_else(|e| e.into_inner());
        good.insert(path.to_path_buf(), text.to_string());
    }

    /// Forgets files no pattern matches any more.
    fn retain(&self, paths: &[PathBuf]) {
        let mut good = self.good.lock().unwrap_or_else(|e| e.into_inner());
        good.retain(|p, _| paths.contains(p));
    }
}

/// What loading one target file gave: for the log, `/metrics` and the change watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFileReport {
    pub path: PathBuf,
    /// The path as written in messages and the `file` label.
    pub shown: String,
    /// The targets in force from this file (from its last good version when it is bad).
    pub targets: usize,
    /// Why the file as it is now was refused; `None` when it is good.
    pub error: Option<String>,
    /// The file's modification time and size when it was read.
    pub stamp: Stamp,
}

/// The modification time and size of `path`, or `None` when it cannot be read.
pub fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The files `patterns` match now, in pattern order, each sorted by name, without repeats.
/// A pattern without a wildcard names its file whether it exists or not (so a missing file is
/// reported); a pattern with one matches what is there.
pub fn expand(base: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut out: Vec<PathBuf> = Vec::new();
    for pattern in patterns {
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            base.join(pattern)
        };
        let name = full
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
        if dir.to_string_lossy().contains(['*', '?', '[']) {
            return Err(format!(
                "{pattern:?}: only the last path segment may hold * or ?"
            ));
        }
        if !name.contains(['*', '?']) {
            if !out.contains(&full) {
                out.push(full);
            }
            continue;
        }
        let mut found: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().map(|t| !t.is_dir()).unwrap_or(false))
                .filter(|e| wildcard(&name, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .take(MAX_FILES_PER_PATTERN + 1)
                .collect(),
            // A directory that does not exist (yet) matches nothing, as in Prometheus.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("{pattern:?}: cannot list {}: {e}", dir.display())),
        };
        if found.len() > MAX_FILES_PER_PATTERN {
            return Err(format!(
                "{pattern:?} matches more than {MAX_FILES_PER_PATTERN} files"
            ));
        }
        found.sort();
        for f in found {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// `*` (any run of characters) and `?` (one character) against a whole file name. Iterative
/// with one backtrack point, so no pattern costs more than length × length steps.
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Where a target name was first defined, for the duplicate message.
pub(super) type Seen = HashMap<String, String>;

/// Everything a target file's entries are validated against.
pub(super) struct Context<'c> {
    pub global: &'c Global,
    pub defaults: &'c BTreeMap<String, serde_json::Value>,
    pub allow_inline: bool,
}

impl Validator<'_> {
    /// Reads every file `patterns` match and appends their targets. Returns what each file gave.
    /// In strict mode a bad file becomes a problem of `target_files`; leniently it keeps its last
    /// good version.
    pub(super) fn target_files(
        &mut self,
        patterns: &[serde_saphyr::Spanned<String>],
        cx: &Context<'_>,
        mode: &Mode<'_>,
        seen: &mut Seen,
        targets: &mut Vec<TargetConfig>,
    ) -> Vec<TargetFileReport> {
        let written: Vec<String> = patterns.iter().map(|p| p.value.clone()).collect();
        let files = match expand(self.base, &written) {
            Ok(f) => f,
            Err(e) => {
                let at = patterns.first().map(loc).unwrap_or((0, 0));
                self.problem(at, "target_files", e);
                return Vec::new();
            }
        };
        if let Mode::KeepLastGood(memory) = mode {
            memory.retain(&files);
        }
        let mut reports = Vec::new();
        for path in files {
            let shown = shown(self.base, &path);
            let stamp = stamp(&path);
            let now = super::yaml::read_bounded(&path)
                .map_err(|e| format!("{shown}: cannot read: {e}"))
                .and_then(|text| {
                    let parsed = self.one_file(&text, &shown, cx, seen)?;
                    Ok((text, parsed))
                });
            let (error, kept) = match now {
                Ok((text, parsed)) => {
                    if let Mode::KeepLastGood(memory) = mode {
                        memory.remember(&path, &text);
                    }
                    (None, parsed)
                }
                Err(error) => {
                    let fallback = match mode {
                        Mode::Strict => {
                            self.problem((0, 0), "target_files", error.clone());
                            Vec::new()
                        }
                        // The last good version is checked again: the rest of the config (a
                        // default, another file's names) may have changed since.
                        Mode::KeepLastGood(memory) => memory
                            .get(&path)
                            .and_then(|text| self.one_file(&text, &shown, cx, seen).ok())
                            .unwrap_or_default(),
                    };
                    (Some(error), fallback)
                }
            };
            for (name, _) in kept.iter().map(|t| (&t.target.name, ())) {
                seen.entry(name.clone()).or_insert_with(|| shown.clone());
            }
            reports.push(TargetFileReport {
                path,
                shown,
                targets: kept.len(),
                error,
                stamp,
            });
            targets.extend(kept);
        }
        reports
    }

    /// One file's targets, or the text of everything wrong with it. Names go into `seen` only
    /// when the whole file is good.
    fn one_file(
        &mut self,
        text: &str,
        shown: &str,
        cx: &Context<'_>,
        seen: &Seen,
    ) -> Result<Vec<TargetConfig>, String> {
        let raw: Vec<RawTarget> = if text.trim().is_empty() {
            Vec::new()
        } else {
            super::yaml::from_str(text).map_err(|e| {
                let p = super::load::parse_problem(shown, text, &e);
                format!(
                    "{shown}:{}:{}: {}\n{}",
                    p.line, p.column, p.message, p.snippet
                )
            })?
        };
        // This file's problems are collected apart from the config's, to tell whether it is good.
        let outer = std::mem::take(&mut self.problems);
        let mut here: HashMap<&str, u64> = HashMap::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, t) in raw.iter().enumerate() {
            let key = format!("[{i}]");
            let name = t.name.value.trim();
            if let Some(first) = seen.get(name) {
                self.problem(
                    loc(&t.name),
                    format!("{key}.name"),
                    format!("duplicate target name {name:?} (first defined in {first})"),
                );
            } else if let Some(line) = here.get(name) {
                self.problem(
                    loc(&t.name),
                    format!("{key}.name"),
                    format!("duplicate target name {name:?} (first defined at line {line})"),
                );
            } else {
                here.insert(name, loc(&t.name).0);
            }
            if let Some(tc) = self.target(t, &key, cx.global, cx.defaults, cx.allow_inline) {
                out.push(tc);
            }
        }
        let problems = std::mem::replace(&mut self.problems, outer);
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(ConfigError::Invalid {
                path: shown.to_string(),
                problems,
            }
            .to_string())
        }
    }
}

/// `path` relative to the config's directory when it is below it (as the user wrote it).
fn shown(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_whole_names() {
        assert!(wildcard("*.yaml", "a.yaml"));
        assert!(wildcard("*.yaml", ".yaml"));
        assert!(!wildcard("*.yaml", "a.yaml.bak"));
        assert!(wildcard("t-??.yml", "t-01.yml"));
        assert!(!wildcard("t-??.yml", "t-1.yml"));
        assert!(wildcard("*", "anything"));
        assert!(wildcard("a*b*c", "aXXbYYc"));
        assert!(!wildcard("a*b*c", "aXXbYY"));
    }

    #[test]
    fn patterns_expand_relative_to_the_config_sorted_and_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("targets")).unwrap();
        for f in ["b.yaml", "a.yaml", "c.txt"] {
            std::fs::write(dir.path().join("targets").join(f), "[]").unwrap();
        }
        let files = expand(
            dir.path(),
            &["targets/*.yaml".into(), "targets/a.yaml".into()],
        )
        .unwrap();
        let names: Vec<_> = files.iter().map(|f| shown(dir.path(), f)).collect();
        assert_eq!(names, ["targets/a.yaml", "targets/b.yaml"]);
        assert!(expand(dir.path(), &["missing/*.yaml".into()])
            .unwrap()
            .is_empty());
        assert_eq!(
            expand(dir.path(), &["missing.yaml".into()]).unwrap().len(),
            1,
            "a file named outright is reported when missing"
        );
        assert!(expand(dir.path(), &["*/x.yaml".into()]).is_err());
    }

    fn write(dir: &Path, file: &str, text: &str) {
        std::fs::write(dir.join(file), text).unwrap();
    }

    fn entry(name: &str) -> String {
        format!("- {{name: {name}, protocol: smtp, host: 127.0.0.1, port: 25, tls: none, probes: [port]}}\n")
    }

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("targets")).unwrap();
        let config = dir.path().join("mailbeat.yaml");
        write(
            dir.path(),
            "mailbeat.yaml",
            &format!(
                "target_files: [targets/*.yaml]\ntargets:\n  {}",
                entry("inline")
            ),
        );
        (dir, config)
    }

    fn names(c: &crate::config::Config) -> Vec<&str> {
        c.targets.iter().map(|t| t.target.name.as_str()).collect()
    }

    #[test]
    fn files_add_their_targets_after_the_inline_ones() {
        let (dir, config) = setup();
        write(dir.path(), "targets/b.yaml", &(entry("b1") + &entry("b2")));
        write(dir.path(), "targets/a.yaml", &entry("a1"));
        write(dir.path(), "targets/empty.yaml", "");
        let c = crate::config::load(&config, &mailbeat_probes::builtin()).unwrap();
        assert_eq!(names(&c), ["inline", "a1", "b1", "b2"]);
        let files: Vec<_> = c
            .target_files
            .iter()
            .map(|r| (r.shown.as_str(), r.targets))
            .collect();
        assert_eq!(
            files,
            [
                ("targets/a.yaml", 1),
                ("targets/b.yaml", 2),
                ("targets/empty.yaml", 0)
            ]
        );
        assert!(c
            .target_files
            .iter()
            .all(|r| r.error.is_none() && r.stamp.is_some()));
    }

    #[test]
    fn a_duplicate_name_across_files_names_both_files() {
        let (dir, config) = setup();
        write(dir.path(), "targets/a.yaml", &entry("same"));
        write(dir.path(), "targets/b.yaml", &entry("same"));
        let err = crate::config::load(&config, &mailbeat_probes::builtin())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("targets/b.yaml:1:")
                && err
                    .contains(r#"duplicate target name "same" (first defined in targets/a.yaml)"#),
            "{err}"
        );
        write(dir.path(), "targets/a.yaml", &entry("inline"));
        let err = crate::config::load(&config, &mailbeat_probes::builtin())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                r#"duplicate target name "inline" (first defined in the config file at line 3)"#
            ),
            "{err}"
        );
    }

    #[test]
    fn strictly_a_bad_file_is_an_error_of_the_config() {
        let (dir, config) = setup();
        write(dir.path(), "targets/a.yaml", "- {name: x, port: 99999}\n");
        let err = crate::config::load(&config, &mailbeat_probes::builtin())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mailbeat.yaml: target_files: targets/a.yaml:1:"),
            "{err}"
        );
    }

    #[test]
    fn leniently_a_bad_file_keeps_its_last_good_version() {
        let (dir, config) = setup();
        let probes = mailbeat_probes::builtin();
        let memory = TargetFileMemory::default();
        let lenient = Mode::KeepLastGood(&memory);
        write(dir.path(), "targets/a.yaml", &(entry("a1") + &entry("a2")));
        write(dir.path(), "targets/b.yaml", &entry("b1"));
        let c = crate::config::load_with(&config, &probes, &lenient).unwrap();
        assert_eq!(names(&c), ["inline", "a1", "a2", "b1"]);

        write(dir.path(), "targets/a.yaml", "- {name: a1, oops");
        write(dir.path(), "targets/b.yaml", &(entry("b1") + &entry("b2")));
        let c = crate::config::load_with(&config, &probes, &lenient).unwrap();
        assert_eq!(
            names(&c),
            ["inline", "a1", "a2", "b1", "b2"],
            "a keeps a1, a2"
        );
        let a = &c.target_files[0];
        assert_eq!((a.shown.as_str(), a.targets), ("targets/a.yaml", 2));
        assert!(
            a.error.as_deref().unwrap().starts_with("targets/a.yaml:"),
            "{a:?}"
        );
        assert!(c.target_files[1].error.is_none());

        // A file that was never good contributes nothing, and is reported.
        write(dir.path(), "targets/c.yaml", "not: a list\n");
        let c = crate::config::load_with(&config, &probes, &lenient).unwrap();
        assert_eq!(c.target_files[2].targets, 0);
        assert!(c.target_files[2].error.is_some());
        // A removed file takes its targets with it.
        std::fs::remove_file(dir.path().join("targets/a.yaml")).unwrap();
        let c = crate::config::load_with(&config, &probes, &lenient).unwrap();
        assert_eq!(names(&c), ["inline", "b1", "b2"]);
    }

    #[test]
    fn the_shipped_example_is_a_list_of_targets() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/targets.example.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let raw: Vec<RawTarget> = super::super::yaml::from_str(&text).unwrap();
        assert_eq!(raw.len(), 2);
    }
}
