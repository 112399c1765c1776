//! The status page at `/`: every (target, probe) with its status, reason, the server's words and
//! what to do. Plain HTML, no scripts; every value is escaped.

use crate::app::App;
use std::fmt::Write;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Renders the page.
pub fn render(app: &App) -> String {
    let mut rows = String::new();
    let (configured, with_result) = app.store.coverage();
    app.store.read(|_, entries| {
        for (key, e) in entries {
            let r = &e.result;
            let when = humantime::format_rfc3339_seconds(e.finished_at);
            let _ = writeln!(
                rows,
                "<tr class=\"{status}\"><td>{t}</td><td>{p}</td><td>{status}</td><td>{reason}</td><td>{d:.3}s</td><td>{when}</td><td>{msg}</td><td>{rem}</td></tr>",
                status = r.status.as_str(),
                t = esc(&key.target),
                p = esc(&key.probe),
                reason = r.reason.map(|x| x.as_str()).unwrap_or(""),
                d = r.duration_seconds,
                msg = esc(&r.message),
                rem = esc(r.remediation.as_deref().unwrap_or("")),
            );
        }
    });
    let reauth = reauth_links(app);
    let alerts = alerts_table(app);
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>mailbeat</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em}} table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top;font-size:.9em}}
tr.ok td:nth-child(3){{color:#17803d}} tr.warning td:nth-child(3){{color:#b26b00}}
tr.critical td:nth-child(3){{color:#c62828;font-weight:bold}} tr.unknown td:nth-child(3){{color:#6b21a8}}
</style></head><body>
<h1>mailbeat</h1>
<p>{with_result} of {configured} checks have run. Config: <code>{config}</code>. <a href="/metrics">Metrics</a></p>
{alerts}<h2>Checks</h2>
<table><tr><th>Target</th><th>Probe</th><th>Status</th><th>Reason</th><th>Duration</th><th>Checked</th><th>Message</th><th>What to do</th></tr>
{rows}</table>
{reauth}</body></html>
"#,
        config = esc(&app.config_path.display().to_string()),
    )
}

/// The alerts pending or firing, firing first.
fn alerts_table(app: &App) -> String {
    let mut alerts = app.services.alerts.alerts();
    if alerts.is_empty() {
        return "<h2>Alerts</h2>\n<p>No alert is pending or firing.</p>\n".to_string();
    }
    alerts.sort_by_key(|a| {
        (
            a.phase != crate::alerts::engine::Phase::Firing,
            a.target.clone(),
        )
    });
    let mut rows = String::new();
    for a in &alerts {
        let since = a.fired_at.unwrap_or(a.active_since);
        let _ = writeln!(
            rows,
            "<tr class=\"{state}\"><td>{name}</td><td>{t}</td><td>{sev}</td><td>{state}</td><td>{since}</td><td>{probe}</td><td>{reason}</td><td>{msg}</td></tr>",
            state = a.phase.as_str(),
            name = esc(&a.rule),
            t = esc(&a.target),
            sev = esc(&a.severity),
            since = humantime::format_rfc3339_seconds(since),
            probe = esc(&a.cause.probe),
            reason = esc(a.cause.reason.as_deref().unwrap_or("")),
            msg = esc(&a.cause.message),
        );
    }
    format!(
        "<h2>Alerts</h2>\n<table><tr><th>Alert</th><th>Target</th><th>Severity</th><th>State</th><th>Since</th><th>Probe</th><th>Reason</th><th>Message</th></tr>\n{rows}</table>\n"
    )
}

/// The OAuth2 accounts whose tokens the agent keeps, each with its "Re-authorize" link.
fn reauth_links(app: &App) -> String {
    let config = app.config();
    let items: String = config
        .targets
        .iter()
        .filter_map(|t| Some((&t.target.name, t.oauth.as_ref()?)))
        .map(|(name, a)| {
            format!(
                "<li><code>{t}</code>: {u} ({p}) <a class=\"reauth\" href=\"{href}\">Re-authorize</a></li>\n",
                t = esc(name),
                u = esc(&a.username),
                p = a.provider.as_str(),
                href = esc(&crate::reauth_page::path_of(name)),
            )
        })
        .collect();
    if items.is_empty() {
        return String::new();
    }
    format!("<h2>OAuth2 accounts</h2>\n<ul>\n{items}</ul>\n")
}
