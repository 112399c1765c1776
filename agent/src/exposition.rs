//! The Prometheus text format 0.0.4, written as the series come: metric families keyed by name
//! in first-use order, each with its HELP and TYPE lines, labels escaped, values in Go's float
//! syntax. `/metrics` and `/probe` (`metrics.rs`) write through it.

use std::collections::HashSet;

/// Metric families written straight into the text format 0.0.4, keyed by name, in first-use
/// order.
///
/// Why not the `prometheus` crate's families: at 10,000 targets a scrape has 100,000 series, and
/// building a protobuf message per series, then sorting and encoding them, took 0.27 s a scrape.
/// Writing the text as the series come costs a fraction of that (BENCHMARKS.md).
#[derive(Default)]
pub struct Families {
    order: Vec<String>,
    map: std::collections::HashMap<String, String>,
    /// `name{labels}` of every series written, to drop a second one with the same identity.
    seen: HashSet<String>,
}

impl Families {
    /// Forgets the series written so far for the duplicate check: for a caller that knows no
    /// later series can repeat them (another target's), so the check stays small at 100,000
    /// targets.
    pub fn forget_seen(&mut self) {
        self.seen.clear();
    }

    /// Adds a gauge sample; a second sample with the same name and labels is dropped.
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, "gauge", labels, value);
    }

    /// Adds a counter sample.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, "counter", labels, value);
    }

    /// A gauge sample the caller knows to be unique (a per-check series: one per configured
    /// job), written straight into its family with no duplicate check: at 100,000 targets the
    /// check's hashing and copying of a million series was most of a scrape.
    pub fn gauge_unique(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        let body = self.family(name, help, "gauge");
        write_series(body, name, labels, value);
    }

    /// A counter sample the caller knows to be unique (see [`Self::gauge_unique`]).
    pub fn counter_unique(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        let body = self.family(name, help, "counter");
        write_series(body, name, labels, value);
    }

    /// The text of family `name`, started with its HELP and TYPE lines on first use.
    fn family(&mut self, name: &str, help: &str, kind: &str) -> &mut String {
        use std::fmt::Write as _;
        if !self.map.contains_key(name) {
            self.order.push(name.to_string());
            let mut head = String::new();
            let _ = writeln!(head, "# HELP {name} {}", escape_help(help));
            let _ = writeln!(head, "# TYPE {name} {kind}");
            self.map.insert(name.to_string(), head);
        }
        self.map.get_mut(name).expect("inserted above")
    }

    fn add(&mut self, name: &str, help: &str, kind: &str, labels: &[(&str, &str)], value: f64) {
        let mut series = String::with_capacity(name.len() + 16 * labels.len() + 8);
        write_name_labels(&mut series, name, labels);
        if self.seen.contains(&series) {
            return;
        }
        let body = self.family(name, help, kind);
        body.push_str(&series);
        body.push(' ');
        write_value(body, value);
        body.push('\n');
        self.seen.insert(series);
    }

    /// The exposition text of each family, in first-use order, without copying it.
    pub fn into_chunks(mut self) -> Vec<bytes::Bytes> {
        let order = std::mem::take(&mut self.order);
        order
            .iter()
            .filter_map(|name| self.map.remove(name))
            .map(bytes::Bytes::from)
            .collect()
    }

    /// The exposition text of all families, in first-use order.
    pub fn into_text(mut self) -> String {
        let len = self.map.values().map(String::len).sum();
        let mut out = String::with_capacity(len);
        for name in &self.order {
            if let Some(body) = self.map.remove(name) {
                out.push_str(&body);
            }
        }
        out
    }
}

/// `name{k="v",...}` into `out`.
fn write_name_labels(out: &mut String, name: &str, labels: &[(&str, &str)]) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            escape_label_value(out, v);
            out.push('"');
        }
        out.push('}');
    }
}

/// One sample line into `out`.
fn write_series(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    write_name_labels(out, name, labels);
    out.push(' ');
    write_value(out, value);
    out.push('\n');
}

/// A label value as the text format wants it: backslash, double quote and line feed escaped.
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value: Go's float syntax, as Prometheus reads it (`NaN`, `+Inf`, `-Inf`).
fn write_value(out: &mut String, value: f64) {
    use std::fmt::Write as _;
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_grouped_by_family_escaped_and_deduplicated() {
        let mut f = Families::default();
        f.gauge("a_metric", "Help with \\ and\nnewline.", &[("l", "x")], 1.0);
        f.counter("b_total", "B.", &[], 2.0);
        f.gauge("a_metric", "ignored", &[("l", "say \"hi\"\\\n")], 0.5);
        f.gauge("a_metric", "ignored", &[("l", "x")], 9.0); // same identity: dropped
        let text = f.into_text();
        assert_eq!(
            text,
            "# HELP a_metric Help with \\\\ and\\nnewline.\n\
             # TYPE a_metric gauge\n\
             a_metric{l=\"x\"} 1\n\
             a_metric{l=\"say \\\"hi\\\"\\\\\\n\"} 0.5\n\
             # HELP b_total B.\n\
             # TYPE b_total counter\n\
             b_total 2\n"
        );
    }

    #[test]
    fn values_use_prometheus_float_syntax() {
        let mut f = Families::default();
        for (i, v) in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1796101681.25,
            1e-7,
            -0.0,
        ]
        .into_iter()
        .enumerate()
        {
            f.gauge("v", "V.", &[("i", &i.to_string())], v);
        }
        let text = f.into_text();
        let values: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect();
        assert_eq!(
            values,
            ["NaN", "+Inf", "-Inf", "1796101681.25", "0.0000001", "-0"]
        );
    }
}
