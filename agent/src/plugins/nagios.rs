//! The output of a Nagios plugin (Nagios Plugin Development Guidelines, "Plugin Output" and
//! "Performance data"), read into a [`CheckResult`].
//!
//! - Exit code 0/1/2/3 is ok/warning/critical/unknown; any other code, or death by a signal, is
//!   unknown.
//! - The first line is `TEXT | perfdata`; the lines after it are long output, and the first `|`
//!   in the long output starts more perfdata, which runs to the end.
//! - Perfdata is space separated `'label'=value[UOM];[warn];[crit];[min];[max]`. A label with
//!   spaces or `=` is quoted with `'`, a quote inside it doubled (`''`). UOM is one of `s ms us
//!   % B KB MB GB TB c` (or none); `U` as the value means the plugin could not tell.
//!
//! Reasons (the SDK's reasons are a contract, so nothing new is invented here):
//! - warning and critical get `unknown`: the plugin found a problem and said what it is in its
//!   text, but the agent cannot know which layer (network, TLS, auth...) it lies in, and picking
//!   one (say `connection_refused` for a `check_tcp` CRITICAL) would be a guess that sends people
//!   to the wrong remediation. `unknown` is the SDK's reason for "a failure the agent cannot
//!   classify"; the plugin's own text is the message.
//! - exit 3 (UNKNOWN: bad arguments, the plugin's own failure), any other code, a signal, output
//!   that cannot be read, a program that cannot start or runs past its time get `plugin_error`:
//!   the check itself did not work, whatever the service's health.
//!
//! Nothing here panics, whatever the bytes (a proptest holds it to that).

use mailbeat_sdk::{CheckResult, Locale, MetricDesc, Reason, Status};
use std::collections::BTreeSet;

/// At most this many perfdata values of one run become samples; the rest are dropped and the
/// message says how many, so one chatty plugin cannot grow `/metrics` without end.
pub const MAX_PERFDATA: usize = 32;
/// Labels longer than this are cut (they are metric label values).
pub const MAX_LABEL_LEN: usize = 128;
/// The message (the first line's text) is cut to this many characters.
pub const MAX_TEXT_LEN: usize = 1024;

/// The value of each perfdata item, normalized (seconds, bytes).
pub const PERFDATA: &str = "plugin_perfdata";
/// Its warning and critical thresholds, when they are plain numbers (normalized likewise).
pub const PERFDATA_WARN: &str = "plugin_perfdata_warning";
pub const PERFDATA_CRIT: &str = "plugin_perfdata_critical";
/// Its minimum and maximum, when given.
pub const PERFDATA_MIN: &str = "plugin_perfdata_min";
pub const PERFDATA_MAX: &str = "plugin_perfdata_max";
/// The plugin's exit code (-1 when it died by a signal or was killed).
pub const EXIT_CODE: &str = "plugin_exit_code";

/// What exec plugins' results carry, for `Probe::metrics`.
pub fn metrics() -> Vec<MetricDesc> {
    let l = "labels: plugin, label (the perfdata label), unit (seconds, bytes, percent, counter or none)";
    vec![
        MetricDesc::new(
            PERFDATA,
            &format!("Performance data value reported by an exec (Nagios) plugin; s/ms/us in seconds, B/KB/MB/GB/TB in bytes; {l}."),
        ),
        MetricDesc::new(PERFDATA_WARN, &format!("Warning threshold of an exec plugin's performance data, when a plain number; {l}.")),
        MetricDesc::new(PERFDATA_CRIT, &format!("Critical threshold of an exec plugin's performance data, when a plain number; {l}.")),
        MetricDesc::new(PERFDATA_MIN, &format!("Minimum of an exec plugin's performance data; {l}.")),
        MetricDesc::new(PERFDATA_MAX, &format!("Maximum of an exec plugin's performance data; {l}.")),
        MetricDesc::new(EXIT_CODE, "Exit code of the exec (Nagios) plugin's last run: 0 ok, 1 warning, 2 critical, 3 unknown; -1 killed by a signal."),
    ]
}

/// The status an exit code stands for; `None` (killed by a signal) is unknown.
pub fn status_of(code: Option<i32>) -> Status {
    match code {
        Some(0) => Status::Ok,
        Some(1) => Status::Warning,
        Some(2) => Status::Critical,
        _ => Status::Unknown,
    }
}

/// One perfdata item.
#[derive(Debug, Clone, PartialEq)]
pub struct Perf {
    pub label: String,
    /// `None` for `U`.
    pub value: Option<f64>,
    /// `seconds`, `bytes`, `percent`, `counter` or `none`.
    pub unit: &'static str,
    pub warn: Option<f64>,
    pub crit: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// A plugin's output, read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// The first line's text (before any `|`), trimmed and cut to [`MAX_TEXT_LEN`].
    pub text: String,
    /// The lines after the first, up to the perfdata in them.
    pub long_output: String,
    pub perfdata: Vec<Perf>,
    /// Items that did not follow the format (kept out of the samples).
    pub malformed: usize,
    /// Items past [`MAX_PERFDATA`] (or repeating a label), dropped.
    pub dropped: usize,
}

/// Reads `stdout` (lossily: a plugin's bytes need not be UTF-8).
pub fn parse(stdout: &[u8]) -> Output {
    let text = String::from_utf8_lossy(stdout);
    let (first, rest) = match text.split_once('\n') {
        Some((f, r)) => (f, r),
        None => (text.as_ref(), ""),
    };
    let (first_text, first_perf) = match first.split_once('|') {
        Some((t, p)) => (t, p),
        None => (first, ""),
    };
    let (long_output, long_perf) = match rest.split_once('|') {
        Some((l, p)) => (l, p),
        None => (rest, ""),
    };
    let mut out = Output {
        text: cut(first_text.trim(), MAX_TEXT_LEN),
        long_output: long_output.trim_end().to_string(),
        ..Output::default()
    };
    let mut seen = BTreeSet::new();
    for item in tokens(first_perf).into_iter().chain(tokens(long_perf)) {
        match perf(&item) {
            Some(p) if out.perfdata.len() < MAX_PERFDATA && seen.insert(p.label.clone()) => {
                out.perfdata.push(p)
            }
            Some(_) => out.dropped += 1,
            None => out.malformed += 1,
        }
    }
    out
}

/// The result for a plugin of `name` that exited with `code` (`None`: by a signal) and wrote
/// `stdout`.
pub fn result(name: &str, code: Option<i32>, stdout: &[u8], locale: Locale) -> CheckResult {
    let status = status_of(code);
    let out = parse(stdout);
    let mut message = if out.text.is_empty() {
        match code {
            Some(c) => format!("plugin {name} exited with {c} and printed nothing"),
            None => format!("plugin {name} was killed by a signal and printed nothing"),
        }
    } else {
        out.text.clone()
    };
    if !matches!(code, Some(0..=3)) && !out.text.is_empty() {
        match code {
            Some(c) => message.push_str(&format!(" (exit code {c}, not a Nagios status)")),
            None => message.push_str(" (killed by a signal)"),
        }
    }
    if out.dropped > 0 {
        message.push_str(&format!(
            " ({} perfdata values dropped: more than {MAX_PERFDATA}, or a label repeated)",
            out.dropped
        ));
    }
    if out.malformed > 0 {
        message.push_str(&format!(
            " ({} malformed perfdata items ignored)",
            out.malformed
        ));
    }
    // The remediation the agent fills in for `unknown` speaks of a server reply it could not
    // classify; here the plugin's own words are the diagnosis, so it says that instead. (For
    // `plugin_error` the agent's text fits, and is kept.)
    let mut r = match status {
        Status::Ok => CheckResult::ok(message),
        Status::Warning | Status::Critical => {
            let mut r = CheckResult::fail(status, Reason::Unknown, message);
            r.remediation = Some(match locale {
                Locale::En => format!(
                    "The plugin {name} found this problem and its message says what it is; act \
                     on it as the plugin's documentation says (mailbeat passes a plugin's \
                     verdict on without classifying it)."
                ),
                Locale::Ja => format!(
                    "プラグイン {name} がこの問題を検出しました。内容はメッセージのとおりです。\
                     プラグインの説明に従って対処してください（mailbeat はプラグインの判定を\
                     分類せずにそのまま伝えます）。"
                ),
            });
            r
        }
        Status::Unknown => CheckResult::unknown(Reason::PluginError, message),
    };
    r = r.observe(EXIT_CODE, code.map_or(-1.0, f64::from));
    let mut unknown_values = Vec::new();
    for p in &out.perfdata {
        let labels = [
            ("plugin", name),
            ("label", p.label.as_str()),
            ("unit", p.unit),
        ];
        match p.value {
            Some(v) => r = r.sample(PERFDATA, &labels, v),
            None => unknown_values.push(p.label.clone()),
        }
        for (metric, v) in [
            (PERFDATA_WARN, p.warn),
            (PERFDATA_CRIT, p.crit),
            (PERFDATA_MIN, p.min),
            (PERFDATA_MAX, p.max),
        ] {
            if let Some(v) = v {
                r = r.sample(metric, &labels, v);
            }
        }
    }
    r = r.detail("exit_code", code);
    if !out.long_output.is_empty() {
        r = r.detail("long_output", &out.long_output);
    }
    if !unknown_values.is_empty() {
        r = r.detail("perfdata_unknown", unknown_values);
    }
    r
}

/// Splits perfdata at blanks outside quotes.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// One `label=value[UOM];warn;crit;min;max`, or `None` when it does not follow the format.
fn perf(item: &str) -> Option<Perf> {
    let (label, rest) = if let Some(quoted) = item.strip_prefix('\'') {
        // The closing quote is the first `'` not doubled.
        let mut label = String::new();
        let mut chars = quoted.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if matches!(chars.peek(), Some((_, '\''))) {
                    chars.next();
                    label.push('\'');
                } else {
                    end = Some(i + 1);
                    break;
                }
            } else {
                label.push(c);
            }
        }
        (label, quoted.get(end?..)?.strip_prefix('=')?)
    } else {
        let (l, r) = item.split_once('=')?;
        (l.to_string(), r)
    };
    let label = cut(label.trim(), MAX_LABEL_LEN);
    if label.is_empty() {
        return None;
    }
    let mut fields = rest.split(';');
    let (value, unit, scale) = value_and_unit(fields.next()?)?;
    let number = |f: Option<&str>| -> Option<Option<f64>> {
        match f.map(str::trim) {
            None | Some("") => Some(None),
            Some(s) => Some(plain(s).map(|v| v * scale).filter(|v| v.is_finite())),
        }
    };
    let warn = number(fields.next())?;
    let crit = number(fields.next())?;
    let min = number(fields.next())?;
    let max = number(fields.next())?;
    Some(Perf {
        label,
        value,
        unit,
        warn,
        crit,
        min,
        max,
    })
}

/// The value (`None` for `U`), the normalized unit and the factor that normalizes it.
fn value_and_unit(s: &str) -> Option<(Option<f64>, &'static str, f64)> {
    let s = s.trim();
    if s == "U" {
        return Some((None, "none", 1.0));
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(s.len());
    // `e`/`E` of an exponent is fine, but not when it is the start of a unit: none of the
    // units start with e, so nothing to disambiguate.
    let (number, uom) = s.split_at(split);
    let (unit, scale) = match uom {
        "" => ("none", 1.0),
        "s" => ("seconds", 1.0),
        "ms" => ("seconds", 1e-3),
        "us" => ("seconds", 1e-6),
        "%" => ("percent", 1.0),
        "B" => ("bytes", 1.0),
        "KB" => ("bytes", 1024.0),
        "MB" => ("bytes", 1024.0 * 1024.0),
        "GB" => ("bytes", 1024.0 * 1024.0 * 1024.0),
        "TB" => ("bytes", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        "c" => ("counter", 1.0),
        _ => return None,
    };
    let value = number
        .parse::<f64>()
        .ok()
        .map(|v| v * scale)
        .filter(|v| v.is_finite())?;
    Some((Some(value), unit, scale))
}

/// A threshold or bound that is a plain number; a range (`10:20`, `@5`, `~:3`) is not a number
/// a gauge can carry, so it is left out (the item itself still counts).
fn plain(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [`super::result`] in English.
    fn result(name: &str, code: Option<i32>, stdout: &[u8]) -> CheckResult {
        super::result(name, code, stdout, Locale::En)
    }

    fn sample<'a>(
        r: &'a CheckResult,
        metric: &str,
        label: &str,
    ) -> Option<&'a mailbeat_sdk::Sample> {
        r.samples
            .iter()
            .find(|s| s.name == metric && s.labels["label"] == label)
    }

    #[test]
    fn exit_codes_map_to_statuses() {
        assert_eq!(status_of(Some(0)), Status::Ok);
        assert_eq!(status_of(Some(1)), Status::Warning);
        assert_eq!(status_of(Some(2)), Status::Critical);
        assert_eq!(status_of(Some(3)), Status::Unknown);
        assert_eq!(status_of(Some(4)), Status::Unknown);
        assert_eq!(status_of(Some(-1)), Status::Unknown);
        assert_eq!(status_of(None), Status::Unknown);
    }

    #[test]
    fn reasons_by_status() {
        assert_eq!(result("p", Some(0), b"OK").reason, None);
        assert_eq!(result("p", Some(1), b"W").reason, Some(Reason::Unknown));
        assert_eq!(result("p", Some(2), b"C").reason, Some(Reason::Unknown));
        let r = super::result("p", Some(2), b"C", Locale::Ja);
        assert!(r.remediation.unwrap().contains("プラグイン p"));
        assert!(
            result("p", Some(3), b"U").remediation.is_none(),
            "the agent's text fits"
        );
        assert_eq!(result("p", Some(3), b"U").reason, Some(Reason::PluginError));
        let r = result("p", Some(7), b"odd");
        assert_eq!(
            (r.status, r.reason),
            (Status::Unknown, Some(Reason::PluginError))
        );
        assert!(r.message.contains("exit code 7"), "{}", r.message);
        let r = result("p", None, b"");
        assert!(r.message.contains("killed by a signal"), "{}", r.message);
    }

    #[test]
    fn the_guidelines_disk_example() {
        let out = b"DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n\
/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n\
/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n/home=69357MB;253404;253409;0;253414\n\
/var/log=818MB;970;975;0;980\n";
        let p = parse(out);
        assert_eq!(p.text, "DISK OK - free space: / 3326 MB (56%);");
        assert!(p.long_output.contains("/home 69357 MB (27%);"));
        assert!(!p.long_output.contains('|'));
        let labels: Vec<&str> = p.perfdata.iter().map(|x| x.label.as_str()).collect();
        assert_eq!(labels, ["/", "/boot", "/home", "/var/log"]);
        let mb = 1024.0 * 1024.0;
        assert_eq!(
            p.perfdata[1],
            Perf {
                label: "/boot".into(),
                value: Some(68.0 * mb),
                unit: "bytes",
                warn: Some(88.0 * mb),
                crit: Some(93.0 * mb),
                min: Some(0.0),
                max: Some(98.0 * mb),
            }
        );
        assert_eq!((p.malformed, p.dropped), (0, 0));
    }

    #[test]
    fn units_are_normalized_and_labels_unquoted() {
        let r = result(
            "chk",
            Some(1),
            b"WARN - slow | time=250ms;200;500;0 'round trip'=3s 'it''s'=5% x=7c y=12us free=2KB n=U z=4\n",
        );
        assert_eq!(r.status, Status::Warning);
        assert_eq!(r.message, "WARN - slow");
        let t = sample(&r, PERFDATA, "time").unwrap();
        assert!((t.value - 0.25).abs() < 1e-12);
        assert_eq!(t.labels["unit"], "seconds");
        assert_eq!(t.labels["plugin"], "chk");
        assert!((sample(&r, PERFDATA_WARN, "time").unwrap().value - 0.2).abs() < 1e-12);
        assert!((sample(&r, PERFDATA_CRIT, "time").unwrap().value - 0.5).abs() < 1e-12);
        assert_eq!(sample(&r, PERFDATA, "round trip").unwrap().value, 3.0);
        assert_eq!(
            sample(&r, PERFDATA, "it's").unwrap().labels["unit"],
            "percent"
        );
        assert_eq!(sample(&r, PERFDATA, "x").unwrap().labels["unit"], "counter");
        assert!((sample(&r, PERFDATA, "y").unwrap().value - 12e-6).abs() < 1e-15);
        assert_eq!(sample(&r, PERFDATA, "free").unwrap().value, 2048.0);
        assert_eq!(sample(&r, PERFDATA, "z").unwrap().labels["unit"], "none");
        assert!(sample(&r, PERFDATA, "n").is_none(), "U is no sample");
        assert_eq!(r.details["perfdata_unknown"][0], "n");
        assert_eq!(r.observations[EXIT_CODE], 1.0);
    }

    #[test]
    fn ranges_are_not_numbers_and_garbage_is_counted() {
        let p = parse(b"OK | a=1;10:20;@5:6 b=3XB c d=zz ==1 ''=2 e=4\n");
        assert_eq!(p.perfdata.len(), 2);
        assert_eq!(p.perfdata[0].warn, None);
        assert_eq!(p.perfdata[0].crit, None);
        assert_eq!(p.perfdata[1].label, "e");
        assert_eq!(p.malformed, 5);
    }

    #[test]
    fn perfdata_is_bounded() {
        let items: Vec<String> = (0..100).map(|i| format!("l{i}={i}")).collect();
        let out = format!("OK | {} l0=5", items.join(" "));
        let r = result("many", Some(0), out.as_bytes());
        assert_eq!(r.samples.len(), MAX_PERFDATA);
        assert!(
            r.message.contains("69 perfdata values dropped"),
            "{}",
            r.message
        );
        let long = format!("OK | '{}'=1", "x".repeat(1000));
        let p = parse(long.as_bytes());
        assert!(p.perfdata[0].label.chars().count() <= MAX_LABEL_LEN + 1);
    }

    #[test]
    fn empty_output_still_says_something() {
        let r = result("quiet", Some(2), b"");
        assert_eq!(r.status, Status::Critical);
        assert!(r.message.contains("printed nothing"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), code in proptest::option::of(-300i32..300)) {
            let r = result("fuzz", code, &bytes);
            prop_assert!(r.samples.len() <= 5 * MAX_PERFDATA);
            prop_assert_eq!(r.status == Status::Ok, code == Some(0));
            prop_assert!(r.samples.iter().all(|s| s.value.is_finite()));
        }

        #[test]
        fn perfdata_shaped_text_never_panics(s in "[ a-zA-Z0-9'=;:.@~%|\\-\n]{0,300}") {
            let _ = result("fuzz", Some(0), s.as_bytes());
        }
    }
}
