//! The shipped monitoring files work with the real tools and only use what mailbeat exports:
//! `promtool check rules` / `test rules` / `check config`, `amtool check-config`; every metric in
//! the rules and the Grafana dashboards is in the README's metrics table, which lists every metric
//! the agent registers; the dashboards are in Grafana's shareable format and type-check against
//! the dashboard schema Grafana publishes (`@grafana/schema`); every alert has its runbook section
//! and is unit-tested firing and not firing; the reasons the files name are the SDK's.
//!
//! That the queries return data from a real Prometheus scraping a real agent, and that the rules
//! fire there and reach Alertmanager, is `monitoring_real.rs`.

use mailbeat_sdk::Reason;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The dashboards, by uid: stable, since links and provisioning refer to them.
const DASHBOARDS: &[(&str, &str)] = &[
    ("mailbeat-overview.json", "mailbeat-overview"),
    ("mailbeat-certificates.json", "mailbeat-certificates"),
    ("mailbeat-auth-tokens.json", "mailbeat-auth-tokens"),
    ("mailbeat-agent.json", "mailbeat-agent"),
];

/// The dashboard schema version of Grafana 11.6 (`defaultDashboard.schemaVersion` of
/// `@grafana/schema` 11.6; the ignored schema test reads it from the package).
const SCHEMA_VERSION: u64 = 41;

/// The `process_*` series of the prometheus crate's process collector on Linux.
const PROCESS_METRICS: &[&str] = &[
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_virtual_memory_bytes",
    "process_virtual_memory_max_bytes",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_threads",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    serde_saphyr::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn run(tool: &str, args: &[&str], dir: &Path) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("{tool} not found ({e}): run the README's test command, which installs it")
        });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Reading the files

/// Every alerting rule of `config/alerts.yml`, with its group's name.
fn rules() -> Vec<(String, Value)> {
    let doc = yaml("config/alerts.yml");
    let mut out = Vec::new();
    for g in doc["groups"].as_array().expect("groups") {
        let group = g["name"].as_str().expect("group name").to_string();
        for r in g["rules"].as_array().expect("rules") {
            out.push((group.clone(), r.clone()));
        }
    }
    out
}

fn dashboards() -> Vec<(&'static str, Value)> {
    DASHBOARDS
        .iter()
        .map(|(file, _)| {
            let rel = format!("dashboards/{file}");
            let v: Value =
                serde_json::from_str(&read(&rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
            (*file, v)
        })
        .collect()
}

/// Every panel of a dashboard, those inside rows included.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// (where, PromQL) of every panel query and every query variable of a dashboard.
fn queries(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push((format!("panel {:?}", p["title"]), e.to_string()));
            }
        }
    }
    for v in variables(d) {
        if let Some(q) = v["query"]["query"].as_str().or(v["query"].as_str()) {
            if v["type"] == "query" {
                out.push((format!("variable {}", v["name"]), q.to_string()));
            }
        }
    }
    out
}

fn variables(d: &Value) -> Vec<&Value> {
    d["templating"]["list"]
        .as_array()
        .map(|l| l.iter().collect())
        .unwrap_or_default()
}

/// Names with `prefix` in a text, with histogram suffixes folded onto their family.
fn names_with_prefix(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find(prefix) {
        let start = i + pos;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let boundary_ok =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if boundary_ok {
            let name = &text[start..end];
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            names.insert(family.to_string());
        }
        i = end.max(start + 1);
    }
    names
}

fn metric_names(text: &str) -> BTreeSet<String> {
    names_with_prefix(text, "mailbeat_")
}

/// The metrics of the README's table.
fn documented() -> BTreeSet<String> {
    let names: BTreeSet<String> = read("README.md")
        .lines()
        .filter(|l| l.starts_with("| `mailbeat_"))
        .flat_map(|l| metric_names(l.split('|').nth(1).unwrap_or("")))
        .collect();
    assert!(
        names.len() >= 20,
        "README metrics table not found: {names:?}"
    );
    names
}

/// The values a label is matched against in PromQL (`label="a"`, `label=~"a|b"`, `label!="a"`).
fn label_values(expr: &str, label: &str) -> Vec<String> {
    let mut out = Vec::new();
    for op in ["=~\"", "!~\"", "!=\"", "=\""] {
        let needle = format!("{label}{op}");
        let mut rest = expr;
        while let Some(pos) = rest.find(&needle) {
            let before = rest[..pos].chars().last();
            let after = &rest[pos + needle.len()..];
            let value = after.split('"').next().unwrap_or("");
            if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                out.extend(value.split('|').map(str::to_string));
            }
            rest = after;
        }
    }
    out
}

/// The reason values a text's PromQL names (empty values and regex wildcards left out).
fn reasons_named(expr: &str) -> Vec<String> {
    label_values(expr, "reason")
        .into_iter()
        .filter(|r| !r.is_empty() && !r.contains(['.', '*', '+', '(', '$']))
        .collect()
}

fn reauth_reasons() -> BTreeSet<String> {
    Reason::ALL
        .iter()
        .filter(|r| r.needs_reauth())
        .map(|r| r.as_str().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests that need no tool

#[test]
fn rules_and_dashboards_use_only_documented_metrics() {
    let documented = documented();
    let mut texts: Vec<(String, String)> = rules()
        .into_iter()
        .map(|(_, r)| {
            (
                format!("rule {}", r["alert"]),
                r["expr"].as_str().unwrap().into(),
            )
        })
        .collect();
    for (file, d) in dashboards() {
        texts.extend(
            queries(&d)
                .into_iter()
                .map(|(w, q)| (format!("{file} {w}"), q)),
        );
    }
    let mut unknown = Vec::new();
    for (what, text) in &texts {
        for name in metric_names(text) {
            if !documented.contains(&name) {
                unknown.push(format!("{what}: {name}"));
            }
        }
        for name in names_with_prefix(text, "process_") {
            if !PROCESS_METRICS.contains(&name.as_str()) {
                unknown.push(format!("{what}: {name}"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "metrics that are not exported:\n{}",
        unknown.join("\n")
    );
    let used: BTreeSet<String> = texts.iter().flat_map(|(_, t)| metric_names(t)).collect();
    assert!(used.len() >= 20, "the files use few metrics: {used:?}");
}

#[test]
fn the_metrics_table_lists_every_metric_the_agent_registers() {
    // The agent's own metrics are string literals of these files; the probes' come from their
    // MetricDesc declarations (`mailbeat_` + name).
    let mut registered = BTreeSet::new();
    for file in ["agent/src/events.rs", "agent/src/metrics.rs"] {
        let text = read(file);
        for name in metric_names(&text) {
            if text.contains(&format!("\"{name}\"")) {
                registered.insert(name);
            }
        }
    }
    let oauth = read("agent/src/oauth/probe.rs");
    let declared = oauth
        .split("const METRICS")
        .nth(1)
        .and_then(|s| s.split("];").next())
        .expect("the token probe's METRICS");
    for name in names_with_prefix(declared, "oauth_") {
        registered.insert(format!("mailbeat_{name}"));
    }
    assert!(
        registered.contains("mailbeat_state_write_failures_total")
            && registered.contains("mailbeat_scheduler_lag_seconds")
            && registered.contains("mailbeat_oauth_refresh_success"),
        "{registered:?}"
    );
    let documented = documented();
    let missing: Vec<_> = registered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "registered but not in the README's metrics table: {missing:?}"
    );
}

#[test]
fn dashboards_are_in_the_shareable_format() {
    let mut uids = BTreeSet::new();
    for (file, d) in dashboards() {
        let want_uid = DASHBOARDS.iter().find(|(f, _)| *f == file).unwrap().1;
        assert_eq!(d["uid"], want_uid, "{file}");
        assert!(uids.insert(want_uid));
        assert_eq!(d["schemaVersion"], SCHEMA_VERSION, "{file}");
        assert!(
            d["id"].is_null(),
            "{file}: an exported dashboard has id null"
        );
        assert!(
            d["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("mailbeat / ")),
            "{file}"
        );

        // __inputs: one datasource input, DS_PROMETHEUS, for Prometheus.
        let inputs = d["__inputs"].as_array().expect("__inputs");
        assert!(
            inputs.iter().any(|i| i["name"] == "DS_PROMETHEUS"
                && i["type"] == "datasource"
                && i["pluginId"] == "prometheus"),
            "{file}: {inputs:?}"
        );
        // __requires: Grafana, Prometheus and every panel plugin used.
        let requires: BTreeSet<(String, String)> = d["__requires"]
            .as_array()
            .expect("__requires")
            .iter()
            .map(|r| {
                (
                    r["type"].as_str().unwrap().to_string(),
                    r["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(requires.contains(&("grafana".into(), "grafana".into())));
        assert!(requires.contains(&("datasource".into(), "prometheus".into())));
        for p in panels(&d) {
            let kind = p["type"].as_str().unwrap();
            if kind != "row" {
                assert!(
                    requires.contains(&("panel".into(), kind.into())),
                    "{file}: panel type {kind} missing from __requires"
                );
            }
        }

        // Variables: the data source, then job, instance, target, chained.
        let vars = variables(&d);
        let names: Vec<&str> = vars.iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["datasource", "job", "instance", "target"], "{file}");
        assert_eq!(vars[0]["type"], "datasource");
        assert_eq!(vars[0]["query"], "prometheus");
        assert_eq!(vars[0]["current"]["value"], "${DS_PROMETHEUS}", "{file}");
        for v in &vars[1..] {
            assert_eq!(v["type"], "query", "{file} {}", v["name"]);
            assert_eq!(v["datasource"]["uid"], "${datasource}", "{file}");
            assert_eq!(v["includeAll"], true);
            assert_eq!(v["multi"], true);
        }
        let query_of = |i: usize| vars[i]["query"]["query"].as_str().unwrap().to_string();
        assert!(query_of(2).contains("$job"), "{file}: instance follows job");
        assert!(
            query_of(3).contains("$job") && query_of(3).contains("$instance"),
            "{file}: target follows job and instance"
        );

        // Panels: unique ids, on the 24-column grid without overlapping, every query through the
        // datasource variable.
        let mut ids = BTreeSet::new();
        let mut boxes: Vec<(String, [i64; 4])> = Vec::new();
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap_or_default().to_string();
            assert!(
                ids.insert(p["id"].as_i64().unwrap()),
                "{file}: id of {title}"
            );
            let g = &p["gridPos"];
            let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| g[k].as_i64().unwrap());
            assert!(x >= 0 && w > 0 && x + w <= 24 && h > 0, "{file}: {title}");
            for (other, [ox, oy, ow, oh]) in &boxes {
                let apart = x + w <= *ox || ox + ow <= x || y + h <= *oy || oy + oh <= y;
                assert!(apart, "{file}: {title} overlaps {other}");
            }
            boxes.push((title.clone(), [x, y, w, h]));
            if p["type"] == "row" || p["type"] == "text" {
                continue;
            }
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{file}: {title}");
            let targets = p["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{file}: {title} has no query");
            for t in targets {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{file}: {title}");
            }
            assert!(
                p["description"].as_str().is_some(),
                "{file}: {title} has no description"
            );
        }
    }
}

#[test]
fn every_dashboard_query_selects_by_job_and_instance() {
    for (file, d) in dashboards() {
        for (what, q) in queries(&d) {
            if what.starts_with("variable") {
                continue;
            }
            assert!(
                q.contains("job=~\"$job\"") && q.contains("instance=~\"$instance\""),
                "{file} {what}: {q}"
            );
        }
    }
}

#[test]
fn reauth_reasons_are_the_sdks() {
    let want = reauth_reasons();
    let rule = rules()
        .into_iter()
        .find(|(_, r)| r["alert"] == "MailReauthRequired")
        .expect("MailReauthRequired")
        .1;
    let got: BTreeSet<String> = reasons_named(rule["expr"].as_str().unwrap())
        .into_iter()
        .collect();
    assert_eq!(
        got, want,
        "MailReauthRequired must match Reason::needs_reauth()"
    );
    let mut panels_checked = 0;
    for (file, d) in dashboards() {
        for (what, q) in queries(&d) {
            if q.contains("oauth_refresh_token_revoked|") {
                let got: BTreeSet<String> = reasons_named(&q).into_iter().collect();
                assert_eq!(got, want, "{file} {what}");
                panels_checked += 1;
            }
        }
    }
    assert!(panels_checked >= 2, "no re-authorization panel found");
}

#[test]
fn every_reason_the_files_name_exists_and_the_overview_says_what_to_do_for_each() {
    let known: BTreeSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    let mut texts: Vec<String> = rules()
        .into_iter()
        .map(|(_, r)| r["expr"].as_str().unwrap().to_string())
        .collect();
    for (_, d) in dashboards() {
        texts.extend(queries(&d).into_iter().map(|(_, q)| q));
    }
    for text in &texts {
        for r in reasons_named(text) {
            assert!(known.contains(r.as_str()), "unknown reason {r} in {text}");
        }
    }

    // The overview's table maps each reason onto a line of what to do.
    let overview = &dashboards()[0].1;
    let table = panels(overview)
        .into_iter()
        .find(|p| {
            p["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("What to do"))
                && p["type"] == "table"
        })
        .expect("the overview's what-to-do table");
    let mapping = table["fieldConfig"]["overrides"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["matcher"]["options"] == "What to do")
        .expect("the What to do column")["properties"][0]["value"][0]["options"]
        .as_object()
        .unwrap()
        .clone();
    let mapped: BTreeSet<&str> = mapping.keys().map(String::as_str).collect();
    assert_eq!(mapped, known, "every reason, and only reasons, has a line");
    for (reason, m) in &mapping {
        let text = m["text"].as_str().unwrap();
        assert!(
            !text.is_empty() && text.len() <= 110,
            "{reason}: a short line: {text}"
        );
    }
}

#[test]
fn every_alert_has_a_severity_its_annotations_and_a_runbook_section() {
    let runbook = read("docs/runbook.md");
    let sections: BTreeSet<String> = runbook
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().to_string())
        .collect();
    let mut groups = BTreeSet::new();
    for (group, r) in rules() {
        let name = r["alert"]
            .as_str()
            .expect("only alerting rules")
            .to_string();
        groups.insert(group.clone());
        assert!(
            group.starts_with("mailbeat-"),
            "{name}: group {group} is not mailbeat-<concern>"
        );
        assert!(
            ["critical", "warning", "info"].contains(&r["labels"]["severity"].as_str().unwrap()),
            "{name}: severity"
        );
        assert!(r["for"].as_str().is_some(), "{name}: for");
        for a in ["summary", "description", "runbook_url"] {
            assert!(
                r["annotations"][a].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: annotation {a}"
            );
        }
        assert_eq!(
            r["annotations"]["runbook_url"].as_str().unwrap(),
            format!("docs/runbook.md#{}", name.to_lowercase()),
            "{name}"
        );
        assert!(
            sections.contains(&name),
            "docs/runbook.md has no section ## {name}"
        );
        // No rule hard-codes a job name: people name their scrape jobs as they like.
        assert!(
            label_values(r["expr"].as_str().unwrap(), "job").is_empty(),
            "{name} selects a job"
        );
    }
    assert!(groups.len() >= 5, "groups by concern: {groups:?}");
    for s in &sections {
        assert!(
            rules().iter().any(|(_, r)| r["alert"] == s.as_str()),
            "runbook section {s} has no alert"
        );
    }
}

#[test]
fn every_alert_is_tested_firing_and_not_firing() {
    let tests = yaml("config/alerts_test.yml");
    let mut seen: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for t in tests["tests"].as_array().unwrap() {
        for case in t["alert_rule_test"].as_array().into_iter().flatten() {
            let name = case["alertname"].as_str().unwrap().to_string();
            let firing = case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty());
            let e = seen.entry(name).or_default();
            if firing {
                e.0 = true;
            } else {
                e.1 = true;
            }
        }
    }
    let mut missing = Vec::new();
    for (_, r) in rules() {
        let name = r["alert"].as_str().unwrap();
        match seen.get(name) {
            Some((true, true)) => {}
            other => missing.push(format!("{name}: (firing, not firing) = {other:?}")),
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// The names Prometheus asks `/probe` for in `config/prometheus.example.yml`: the targets of the
/// jobs whose `metrics_path` is `/probe` (turned into `?target=` by relabelling), and any
/// `params: {target: [...]}`.
fn probe_targets_of_the_prometheus_example() -> Vec<String> {
    let prometheus = yaml("config/prometheus.example.yml");
    let mut names = Vec::new();
    for job in prometheus["scrape_configs"].as_array().unwrap() {
        if job["metrics_path"] != "/probe" {
            continue;
        }
        for sc in job["static_configs"].as_array().into_iter().flatten() {
            for t in sc["targets"].as_array().into_iter().flatten() {
                names.push(t.as_str().unwrap().to_string());
            }
        }
        for t in job["params"]["target"].as_array().into_iter().flatten() {
            names.push(t.as_str().unwrap().to_string());
        }
    }
    names
}

#[test]
fn every_probe_target_of_the_prometheus_example_is_in_the_example_config() {
    let config = yaml("config/mailbeat.example.yaml");
    let defined: BTreeSet<&str> = config["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let asked = probe_targets_of_the_prometheus_example();
    assert!(!asked.is_empty(), "the example has a /probe job");
    for name in &asked {
        assert!(
            defined.contains(name.as_str()),
            "prometheus.example.yml probes {name:?}, which mailbeat.example.yaml does not define ({defined:?})"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tests that need the tools (installed by tests/harness/install.sh)

#[test]
#[ignore = "needs promtool and amtool (Debian's prometheus packages): run bash tests/run-all.sh"]
fn rules_and_configs_pass_the_prometheus_tools() {
    let config = root().join("config");
    run("promtool", &["check", "rules", "alerts.yml"], &config);
    run("promtool", &["test", "rules", "alerts_test.yml"], &config);
    run(
        "promtool",
        &["check", "config", "prometheus.example.yml"],
        &config,
    );
    run(
        "amtool",
        &["check-config", "alertmanager.example.yml"],
        &config,
    );
}

/// Where tests/harness/install.sh put `@grafana/schema` and `typescript`.
fn npm_dir() -> PathBuf {
    std::env::var_os("MAILBEAT_NPM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/mailbeat-tests/npm"))
}

/// The TypeScript declarations of `@grafana/schema`'s dashboard, with each `enum` turned into
/// the union of its values (a dashboard's JSON carries the values, `"absolute"`, not the
/// nominal `ThresholdsMode.Absolute` TypeScript would want) and `Enum.Member` types into the
/// member's value. Nothing else is changed.
fn schema_declarations(source: &str) -> String {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut out = String::new();
    let mut rest = source;
    while let Some(pos) = rest.find("export declare enum ") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + "export declare enum ".len()..];
        let (name, body) = after.split_once('{').expect("enum body");
        let (body, tail) = body.split_once('}').expect("enum end");
        let name = name.trim();
        let members: Vec<(String, String)> = body
            .split(',')
            .filter_map(|m| {
                let (k, v) = m.split_once('=')?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .collect();
        assert!(!members.is_empty(), "enum {name} without values");
        for (k, v) in &members {
            values.insert(format!("{name}.{k}"), v.clone());
        }
        let union: Vec<&str> = members.iter().map(|(_, v)| v.as_str()).collect();
        out.push_str(&format!("export type {name} = {};", union.join(" | ")));
        rest = tail;
    }
    out.push_str(rest);
    // Longest names first, so that `A.B` never replaces the start of `A.BC`.
    let mut keys: Vec<&String> = values.keys().collect();
    keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
    for k in keys {
        out = out.replace(k.as_str(), &values[k]);
    }
    out
}

#[test]
#[ignore = "needs @grafana/schema and typescript from the npm registry: run bash tests/run-all.sh"]
fn dashboards_type_check_against_the_schema_grafana_publishes() {
    let npm = npm_dir();
    let schema = npm.join("node_modules/@grafana/schema");
    let types = schema.join("dist/esm/raw/dashboard/x/dashboard_types.gen.d.ts");
    let source = std::fs::read_to_string(&types).unwrap_or_else(|e| {
        panic!(
            "{} ({e}): tests/harness/install.sh installs @grafana/schema there",
            types.display()
        )
    });
    // The package's own default dashboard says which schema version it is.
    let defaults =
        std::fs::read_to_string(schema.join("dist/esm/raw/dashboard/x/dashboard_types.gen.mjs"))
            .unwrap();
    let version: u64 = defaults
        .split("schemaVersion:")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .expect("defaultDashboard.schemaVersion");
    assert_eq!(version, SCHEMA_VERSION, "the pinned @grafana/schema's");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.d.ts"), schema_declarations(&source)).unwrap();
    let mut files = Vec::new();
    for (file, mut d) in dashboards() {
        // The export-only keys are Grafana's import wrapper, not part of the dashboard model.
        let obj = d.as_object_mut().unwrap();
        for k in ["__inputs", "__requires", "__elements"] {
            obj.remove(k);
        }
        let name = file.trim_end_matches(".json").replace('-', "_");
        let ts = format!(
            "import type {{ Dashboard }} from './schema';\nexport const {name}: Dashboard = {};\n",
            serde_json::to_string_pretty(&d).unwrap()
        );
        let path = dir.path().join(format!("{name}.ts"));
        std::fs::write(&path, ts).unwrap();
        files.push(path);
    }
    let tsc = npm.join("node_modules/typescript/bin/tsc");
    let out = Command::new("node")
        .arg(&tsc)
        .args([
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--module",
            "es2022",
            "--moduleResolution",
            "bundler",
        ])
        .args(&files)
        .current_dir(dir.path())
        .output()
        .expect("node not found: run bash tests/run-all.sh");
    assert!(
        out.status.success(),
        "the dashboards do not match @grafana/schema's Dashboard type:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The check has teeth: a misspelt key and a wrong type are refused.
    let bad = dir.path().join("bad.ts");
    std::fs::write(
        &bad,
        "import type { Dashboard } from './schema';\nexport const bad: Dashboard = {schemaVersion: 41, panels: [{type: 'stat', gridPos: {h: 1, w: 1, x: 0, y: 0, wide: 2}}]};\n",
    )
    .unwrap();
    let out = Command::new("node")
        .arg(&tsc)
        .args(["--noEmit", "--strict"])
        .arg(&bad)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stdout).contains("wide"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn enums_become_the_unions_of_their_values() {
    let src = "export declare enum Mode {\n    A = \"absolute\",\n    P = \"percentage\"\n}\nexport declare enum R {\n    never = 0,\n    load = 1\n}\nexport interface M { type: Mode.P; r?: R; }\n";
    assert_eq!(
        schema_declarations(src),
        "export type Mode = \"absolute\" | \"percentage\";\nexport type R = 0 | 1;\nexport interface M { type: \"percentage\"; r?: R; }\n"
    );
}
