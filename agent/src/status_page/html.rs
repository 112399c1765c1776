//! The status page's HTML: a summary, then one card per target (worst first) with its checks.
//! No scripts: it refreshes itself with a meta tag, and the remediation folds with `<details>`.
//! Every value from the config, a server or a probe goes through [`esc`].

use super::model::{CheckView, OauthView, Page, Summary, TargetView};
use mailbeat_sdk::Status;
use std::fmt::Write;
use std::time::SystemTime;

/// Seconds between the page's own reloads.
pub const REFRESH_SECONDS: u32 = 30;

/// Escapes text for HTML (element content and quoted attributes).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes `text` and sets what the remediation texts quote in backticks (commands, config
/// lines) as code. Unpaired backticks are left as they are.
fn with_code(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return esc(text);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| match i % 2 {
            1 => format!("<code>{}</code>", esc(p)),
            _ => esc(p),
        })
        .collect()
}

/// The status's word and symbol, so it reads without colour.
fn badge(status: Option<Status>) -> (&'static str, &'static str, &'static str) {
    match status {
        Some(Status::Ok) => ("ok", "OK", "✓"),
        Some(Status::Warning) => ("warning", "Warning", "!"),
        Some(Status::Critical) => ("critical", "Critical", "✕"),
        Some(Status::Unknown) => ("unknown", "Unknown", "?"),
        None => ("waiting", "Waiting", "…"),
    }
}

fn badge_html(status: Option<Status>) -> String {
    let (class, word, symbol) = badge(status);
    format!(
        "<span class=\"badge {class}\"><span aria-hidden=\"true\">{symbol}</span> {word}</span>"
    )
}

/// `2026-12-01 14:52:03 UTC`.
fn when(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// `12 s ago`, `5 min ago`, `3 h ago`.
fn ago(t: SystemTime, now: SystemTime) -> String {
    let s = now.duration_since(t).unwrap_or_default().as_secs();
    match s {
        s if s < 90 => format!("{s} s ago"),
        s if s < 90 * 60 => format!("{} min ago", s / 60),
        s if s < 48 * 3600 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

/// `in 5 days`, `today`, `3 days ago`.
fn in_days(days: i64) -> String {
    match days {
        0 => "today".into(),
        1 => "in 1 day".into(),
        -1 => "1 day ago".into(),
        d if d > 0 => format!("in {d} days"),
        d => format!("{} days ago", -d),
    }
}

/// Renders the page.
pub fn render(page: &Page) -> String {
    let mut body = String::new();
    summary(&mut body, page);
    body.push_str("<main>\n");
    if page.targets.is_empty() {
        body.push_str("<p class=\"empty\">No targets are configured.</p>\n");
    }
    for t in &page.targets {
        target(&mut body, t, page.generated_at);
    }
    body.push_str("</main>\n");
    let _ = writeln!(
        body,
        "<footer>mailbeat {version} · config <code>{config}</code> · page made {made}, reloads every {REFRESH_SECONDS} s · <a href=\"/metrics\">/metrics</a></footer>",
        version = env!("CARGO_PKG_VERSION"),
        config = esc(&page.config_path),
        made = when(page.generated_at),
    );
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\n\
         <title>{title}</title>\n<style>{CSS}</style></head>\n<body>\n{body}</body></html>\n",
        title = esc(&title(&page.summary)),
    )
}

/// `mailbeat: 2 critical, 1 warning` (a browser tab says it at a glance).
fn title(s: &Summary) -> String {
    let parts: Vec<String> = [
        (s.critical, "critical"),
        (s.unknown, "unknown"),
        (s.warning, "warning"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, w)| format!("{n} {w}"))
    .collect();
    match parts.is_empty() {
        true if s.ok > 0 => "mailbeat: all ok".into(),
        true => "mailbeat".into(),
        false => format!("mailbeat: {}", parts.join(", ")),
    }
}

fn summary(out: &mut String, page: &Page) {
    let s = &page.summary;
    let _ = write!(
        out,
        "<header class=\"top\"><h1>mailbeat</h1><a class=\"nav\" href=\"/metrics\">Metrics</a></header>\n\
         <section id=\"summary\" aria-label=\"Summary\">\n<div class=\"tiles\">\n"
    );
    let mut tiles = vec![
        ("critical", s.critical, "Critical"),
        ("warning", s.warning, "Warning"),
        ("unknown", s.unknown, "Unknown"),
        ("ok", s.ok, "OK"),
    ];
    if s.waiting > 0 {
        tiles.push(("waiting", s.waiting, "Waiting"));
    }
    for (class, n, word) in tiles {
        let quiet = if n == 0 { " zero" } else { "" };
        let _ = writeln!(
            out,
            "<div class=\"tile {class}{quiet}\"><span class=\"n\">{n}</span> <span class=\"w\">{word}</span></div>"
        );
    }
    out.push_str("</div>\n<p class=\"meta\">");
    let targets = page.targets.len();
    let _ = write!(
        out,
        "{targets} target{} · ",
        if targets == 1 { "" } else { "s" }
    );
    match page.last_check {
        Some(t) => {
            let _ = write!(
                out,
                "last check <time>{}</time> ({})",
                when(t),
                ago(t, page.generated_at)
            );
        }
        None => out.push_str("no check has run yet"),
    }
    let (firing, pending) = page.alerts;
    if firing + pending > 0 {
        let _ = write!(
            out,
            " · {firing} alert{} firing, {pending} pending",
            if firing == 1 { "" } else { "s" }
        );
    }
    let (configured, ran) = page.checks;
    if ran < configured {
        let _ = write!(out, " · {ran} of {configured} checks have run");
    }
    out.push_str("</p>\n</section>\n");
}

fn target(out: &mut String, t: &TargetView, now: SystemTime) {
    let (class, _, _) = badge(t.status);
    let _ = write!(
        out,
        "<article class=\"target {class}\" id=\"target-{id}\">\n<header>{badge}<h2>{name}</h2>\
         <span class=\"endpoint\">{endpoint}</span>",
        id = esc(&t.name),
        badge = badge_html(t.status),
        name = esc(&t.name),
        endpoint = esc(&t.endpoint),
    );
    if let Some(a) = &t.account {
        let _ = write!(out, "<span class=\"account\">{}</span>", esc(a));
    }
    if let Some(p) = &t.provider {
        let _ = write!(out, "<span class=\"provider\">{}</span>", esc(p));
    }
    out.push_str("</header>\n");
    facts(out, t, now);
    out.push_str("<ul class=\"checks\">\n");
    // Failing checks first, each with its reason; then the ones that are ok.
    let mut checks: Vec<&CheckView> = t.checks.iter().collect();
    checks.sort_by_key(|c| c.status.map_or(-1, |s| -(s.severity() as i32)));
    for c in checks {
        check(out, c, now);
    }
    out.push_str("</ul>\n</article>\n");
}

/// Certificate days, alerts and the OAuth2 re-authorization, when there are any.
fn facts(out: &mut String, t: &TargetView, now: SystemTime) {
    let mut items = Vec::new();
    if let Some(days) = t.cert_days {
        let class = match (days, t.cert_status) {
            (d, _) if d < 0 => "critical",
            (_, Some(Status::Critical)) => "critical",
            (_, Some(Status::Warning)) => "warning",
            _ => "ok",
        };
        let text = if days < 0 {
            format!("Certificate ended {}", in_days(days))
        } else {
            format!("Certificate ends {}", in_days(days))
        };
        items.push(format!("<li class=\"fact cert {class}\">{text}</li>"));
    }
    for a in &t.alerts {
        let (class, state) = if a.firing {
            ("critical", "firing")
        } else {
            ("warning", "pending")
        };
        items.push(format!(
            "<li class=\"fact alert {class}\">Alert <strong>{name}</strong> ({sev}, {probe}) {state} since <time title=\"{since}\">{ago}</time></li>",
            name = esc(&a.name),
            sev = esc(&a.severity),
            probe = esc(&a.probe),
            since = when(a.since),
            ago = ago(a.since, now),
        ));
    }
    if let Some(o) = &t.oauth {
        items.push(oauth(o));
    }
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "<ul class=\"facts\">{}</ul>", items.concat());
}

fn oauth(o: &OauthView) -> String {
    let when = match (&o.reauth_by, o.days_left) {
        (Some(at), Some(days)) => {
            let day = at.get(..10).unwrap_or(at);
            format!(
                "Re-authorization needed by <time datetime=\"{at}\">{day}</time> ({})",
                in_days(days),
                at = esc(at),
                day = esc(day)
            )
        }
        _ => "OAuth2 account: no known end of its authorization".to_string(),
    };
    let class = match o.days_left {
        Some(d) if d <= 3 => "critical",
        Some(d) if d <= 14 => "warning",
        _ => "ok",
    };
    format!(
        "<li class=\"fact oauth {class}\">{when} · <a class=\"reauth\" href=\"{href}\">Re-authorize</a></li>",
        href = esc(&o.href)
    )
}

fn check(out: &mut String, c: &CheckView, now: SystemTime) {
    let (class, _, _) = badge(c.status);
    let _ = write!(
        out,
        "<li class=\"check {class}\">\n<div class=\"line\">{badge}<span class=\"probe\">{probe}</span>",
        badge = badge_html(c.status),
        probe = esc(&c.probe),
    );
    if let (Some(headline), Some(reason)) = (&c.headline, c.reason) {
        let _ = write!(
            out,
            "<strong class=\"headline\">{}</strong><code class=\"reason\">{}</code>",
            esc(headline),
            reason.as_str()
        );
    }
    if let Some(at) = c.checked_at {
        let _ = write!(
            out,
            "<span class=\"when\" title=\"{}\">{} · {:.2} s</span>",
            when(at),
            ago(at, now),
            c.duration_seconds
        );
    }
    out.push_str("</div>\n");
    let said = if c.reason.is_some() {
        "Server said"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<p class=\"message\">{label}{msg}</p>",
        label = if said.is_empty() {
            String::new()
        } else {
            format!("<span class=\"label\">{said}:</span> ")
        },
        msg = esc(&c.message),
    );
    if let Some(hop) = &c.hop {
        let _ = writeln!(
            out,
            "<p class=\"message\"><span class=\"label\">Failed at hop:</span> {}</p>",
            esc(hop)
        );
    }
    if let Some(r) = c.remediation.as_deref().filter(|_| c.reason.is_some()) {
        let _ = writeln!(
            out,
            "<details class=\"fix\"><summary>What to do</summary><p class=\"remediation\">{}</p></details>",
            with_code(r)
        );
    }
    out.push_str("</li>\n");
}

/// Light and dark, one column on a phone, long words (URLs, server ids) wrapped rather than
/// scrolled.
const CSS: &str = r#"
:root{--bg:#f4f5f7;--card:#fff;--fg:#1d2330;--muted:#5c6475;--line:#e3e6ec;
--ok:#1a7f37;--ok-bg:#e6f4ea;--warning:#9a6700;--warning-bg:#fff4d6;--critical:#c62828;--critical-bg:#fde7e7;
--unknown:#6b3fa0;--unknown-bg:#f1e9fb;--waiting:#5c6475;--waiting-bg:#eceef2}
@media (prefers-color-scheme:dark){:root{--bg:#12151b;--card:#1b2029;--fg:#e6e9ef;--muted:#9aa3b2;--line:#2b3240;
--ok:#4ac26b;--ok-bg:#143321;--warning:#e3b341;--warning-bg:#3a2e0f;--critical:#ff6b6b;--critical-bg:#3d1717;
--unknown:#c19bf5;--unknown-bg:#2c2140;--waiting:#9aa3b2;--waiting-bg:#262c38}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;overflow-wrap:anywhere}
body>*{max-width:68rem;margin-left:auto;margin-right:auto;padding-left:1rem;padding-right:1rem}
header.top{display:flex;align-items:baseline;justify-content:space-between;padding-top:1rem}
h1{font-size:1.4rem;margin:0} a{color:inherit} .nav{color:var(--muted)}
#summary{padding-top:.75rem;padding-bottom:.5rem}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(7.5rem,1fr));gap:.6rem}
.tile{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--c);border-radius:.5rem;padding:.55rem .8rem}
.tile .n{display:block;font-size:1.9rem;font-weight:700;line-height:1.1;color:var(--c)}
.tile .w{color:var(--muted);font-weight:600}
.tile.zero{opacity:.55}
.meta{color:var(--muted);margin:.6rem 0 0}
main{padding-bottom:1rem}
.ok{--c:var(--ok);--c-bg:var(--ok-bg)} .warning{--c:var(--warning);--c-bg:var(--warning-bg)}
.critical{--c:var(--critical);--c-bg:var(--critical-bg)} .unknown{--c:var(--unknown);--c-bg:var(--unknown-bg)}
.waiting{--c:var(--waiting);--c-bg:var(--waiting-bg)}
.target{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--c);border-radius:.6rem;margin:.9rem 0;padding:.7rem .9rem}
.target>header{display:flex;flex-wrap:wrap;align-items:center;gap:.35rem .7rem}
.target h2{font-size:1.1rem;margin:0}
.endpoint,.account,.provider{color:var(--muted);font-size:.88rem}
.provider{border:1px solid var(--line);border-radius:1rem;padding:0 .5rem}
.badge{display:inline-block;white-space:nowrap;font-weight:700;font-size:.78rem;letter-spacing:.02em;text-transform:uppercase;
color:var(--c);background:var(--c-bg);border:1px solid var(--c);border-radius:1rem;padding:.05rem .55rem}
ul{list-style:none;margin:0;padding:0}
.facts{display:flex;flex-wrap:wrap;gap:.4rem;margin-top:.5rem}
.fact{font-size:.86rem;background:var(--c-bg);color:var(--fg);border-radius:.35rem;padding:.15rem .5rem;border:1px solid var(--line)}
.fact.ok{background:transparent}
.checks{margin-top:.55rem;border-top:1px solid var(--line)}
.check{padding:.45rem 0;border-bottom:1px solid var(--line)} .check:last-child{border-bottom:0}
.check .line{display:flex;flex-wrap:wrap;align-items:center;gap:.3rem .6rem}
.probe{font-weight:600;min-width:3.2rem}
.headline{color:var(--c)}
code{font:.82rem ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.reason{color:var(--muted)}
.when{color:var(--muted);font-size:.8rem;margin-left:auto}
.message{margin:.2rem 0 0;color:var(--muted);font-size:.88rem}
.check.ok .message{font-size:.82rem}
.label{font-weight:600}
details.fix{margin-top:.35rem}
details.fix summary{cursor:pointer;font-weight:600;color:var(--c);width:max-content}
.remediation{margin:.35rem 0 .2rem;padding:.5rem .7rem;background:var(--c-bg);border-radius:.35rem}
.remediation code{background:var(--card);border-radius:.2rem;padding:0 .2rem}
footer{color:var(--muted);font-size:.8rem;padding-bottom:1.5rem}
@media (max-width:36rem){body{font-size:14px} .when{margin-left:0;width:100%}
.tiles{grid-template-columns:repeat(2,1fr);gap:.4rem} .tile{padding:.3rem .6rem;border-left-width:4px}
.tile .n{display:inline;font-size:1.35rem;margin-right:.3rem}}
.tile .w{overflow-wrap:normal}
"#;
