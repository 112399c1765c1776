//! Loading: read the file, parse the YAML (every syntax or type error becomes a
//! `FILE:LINE:COLUMN` problem with a masked snippet), and validate it into a [`Config`].

use super::raw::RawConfig;
use super::target_files::{self, Mode};
use super::validator::{loc, Validator};
use super::{keypath, sections, snippet, Config, ConfigError, Global, Problem, SecretSource};
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
/// Every problem of the file is reported together: the parser's (each section and each target
/// read on its own, see [`parse_raw`]) and the validator's, in line order, each with its snippet.
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
    let (raw, mut problems) = parse_raw(text, shown);
    let Some(raw) = raw else {
        return Err(ConfigError::Invalid {
            path: shown.to_string(),
            problems,
        });
    };
    let mut v = Validator {
        base,
        problems: Vec::new(),
        probes,
    };
    let config = v.config(raw, mode);
    if v.problems.is_empty() && problems.is_empty() {
        return Ok(config);
    }
    for mut p in v.problems {
        if p.line > 0 {
            p.snippet = snippet::render(shown, text, p.line, p.column, &p.message);
        }
        problems.push(p);
    }
    // In the order of the file, as a compiler lists them; problems without a line last.
    problems.sort_by_key(|p| if p.line == 0 { u64::MAX } else { p.line });
    Err(ConfigError::Invalid {
        path: shown.to_string(),
        problems,
    })
}

/// The file as written and the parser's problems in it. When the whole file does not parse,
/// each top-level section is parsed on its own, and a `targets:` section that does not parse
/// each target on its own, so that every typo is reported and what did parse is validated.
/// `None`: the file cannot be cut into parts (not block-style, a key given twice, aliases), and
/// its one parse error is all there is to say.
pub(super) fn parse_raw(text: &str, shown: &str) -> (Option<RawConfig>, Vec<Problem>) {
    if text.trim().is_empty() {
        return (Some(RawConfig::default()), Vec::new());
    }
    let whole = match super::yaml::from_str::<RawConfig>(text) {
        Ok(raw) => return (Some(raw), Vec::new()),
        Err(e) => parse_problem(shown, text, &e),
    };
    match parse_in_parts(text, shown) {
        Some((raw, problems)) if !problems.is_empty() => (Some(raw), problems),
        _ => (None, vec![whole]),
    }
}

/// [`parse_raw`]'s reading part by part; `None` when the parts do not add up to the file.
fn parse_in_parts(text: &str, shown: &str) -> Option<(RawConfig, Vec<Problem>)> {
    let parts = sections::sections(text);
    let mut raw = RawConfig::default();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for section in &parts {
        if !seen.insert(section.key.as_str()) {
            // A key given twice: the whole file's error says so.
            return None;
        }
        let part = sections::only(text, std::slice::from_ref(&section.lines));
        let error = match super::yaml::from_str::<RawConfig>(&part) {
            Ok(piece) => {
                raw.take_section(&section.key, piece);
                continue;
            }
            Err(e) => e,
        };
        let targets = if section.key == "targets" {
            parse_targets(text, shown, section)
        } else {
            None
        };
        match targets {
            Some(targets) => {
                raw.targets = targets.targets;
                raw.target_index = targets.index;
                problems.extend(targets.problems);
            }
            None => problems.push(parse_problem(shown, text, &error)),
        }
    }
    // An alias to an anchor in another part reads as an error of its own part: not the file's.
    if problems
        .iter()
        .any(|p| p.message.contains("alias") || p.message.contains("anchor"))
    {
        return None;
    }
    Some((raw, problems))
}

/// The targets of a `targets:` list that parsed, where each is in the list, and the parse
/// problems of the others.
pub(super) struct ParsedTargets {
    pub targets: Vec<super::raw::RawTarget>,
    pub index: Vec<usize>,
    pub problems: Vec<Problem>,
}

/// Parses the entries of the block list `section` (`targets:`) of `text` so that a typo in one
/// target does not hide those in the others; `None` when the section is not a block list. (A
/// file of targets only, `targets:` at its top, is read the same way.)
pub(super) fn parse_targets(
    text: &str,
    shown: &str,
    section: &sections::Section,
) -> Option<ParsedTargets> {
    let items = sections::items(text, section);
    if items.is_empty() {
        return None;
    }
    let mut parsed = ParsedTargets {
        targets: Vec::new(),
        index: Vec::new(),
        problems: Vec::new(),
    };
    let header = section.lines.start..section.lines.start + 1;
    parse_items(text, shown, &header, &items, 0, &mut parsed);
    Some(parsed)
}

/// Parses `items` (the entries from `first` on) together, and when that fails each half again,
/// down to the entries that fail alone: a few parses of the list for a few typos, where one
/// parse per entry took minutes for thousands of targets.
fn parse_items(
    text: &str,
    shown: &str,
    header: &std::ops::Range<usize>,
    items: &[std::ops::Range<usize>],
    first: usize,
    parsed: &mut ParsedTargets,
) {
    let Some(span) = items.first().zip(items.last()).map(|(a, b)| a.start..b.end) else {
        return;
    };
    let part = sections::only(text, &[header.clone(), span]);
    match super::yaml::from_str::<RawConfig>(&part) {
        Ok(piece) if piece.targets.len() == items.len() => {
            parsed.index.extend(first..first + items.len());
            parsed.targets.extend(piece.targets);
        }
        Err(e) if items.len() == 1 => parsed.problems.push(parse_problem(shown, text, &e)),
        // An entry that is not one target (or an error in several): halve.
        _ if items.len() > 1 => {
            let mid = items.len() / 2;
            parse_items(text, shown, header, &items[..mid], first, parsed);
            parse_items(text, shown, header, &items[mid..], first + mid, parsed);
        }
        // One entry that parsed as no target (or several): the whole list's parse says why.
        _ => {}
    }
}

/// A YAML or type error as a [`Problem`] of the same `FILE:LINE:COLUMN: key.path: message` form
/// as validation errors, with its snippet.
pub(super) fn parse_problem(shown: &str, text: &str, e: &serde_saphyr::Error) -> Problem {
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
    Problem {
        line,
        column,
        key: keypath::key_path_at(text, line as usize),
        snippet: snippet::render(shown, text, line, column, &message),
        message,
    }
}

impl Validator<'_> {
    /// The whole file: `global`, `probe_defaults`, each target, each webhook.
    fn config(&mut self, mut raw: RawConfig, mode: &Mode<'_>) -> Config {
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
        // Where each inline target is, for `companions`: its index in the file and its name's place.
        let mut places: HashMap<String, (usize, (u64, u64))> = HashMap::new();
        let mut targets = Vec::with_capacity(raw.targets.len());
        // Each parsed target is dropped once validated: at 100,000 targets (about 2 KiB each with
        // their spans) the parsed file and the config it becomes need not be held at once, which
        // is what a reload's peak memory is made of.
        let raw_targets = std::mem::take(&mut raw.targets);
        for (i, t) in raw_targets.into_iter().enumerate() {
            // Its place in the file, which differs from `i` when a target before it did not parse.
            let index = raw.target_index.get(i).copied().unwrap_or(i);
            let key = format!("targets[{index}]");
            places
                .entry(t.name.value.trim().to_string())
                .or_insert((index, loc(&t.name)));
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
            if let Some(tc) = self.target(&t, &key, &global, &raw.probe_defaults, allow_inline) {
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

        self.companions(&mut targets, &places);

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
