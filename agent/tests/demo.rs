//! `mailbeat demo`, black-box: the built binary starts its demo servers and the agent; every
//! scenario is asserted through `/metrics`, the status page and `check --output json`, and
//! Ctrl-C (SIGINT) stops it all.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::{http, wait_until, BIN};

/// Every check of the demo: target, probe, status, reason ("" when ok).
const EXPECTED: &[(&str, &str, &str, &str)] = &[
    ("mailbox", "port", "ok", ""),
    ("mailbox", "tls", "ok", ""),
    ("mailbox", "auth", "ok", ""),
    ("mailbox-starttls", "port", "ok", ""),
    ("mailbox-starttls", "tls", "ok", ""),
    ("mailbox-starttls", "auth", "ok", ""),
    ("relay", "port", "ok", ""),
    ("relay", "tls", "ok", ""),
    ("relay", "auth", "ok", ""),
    ("chain-incomplete", "port", "ok", ""),
    (
        "chain-incomplete",
        "tls",
        "critical",
        "tls_chain_incomplete",
    ),
    ("cert-expired", "port", "ok", ""),
    ("cert-expired", "tls", "critical", "tls_cert_expired"),
    ("wrong-name", "port", "ok", ""),
    ("wrong-name", "tls", "critical", "tls_hostname_mismatch"),
    ("cert-expiring", "port", "ok", ""),
    ("cert-expiring", "tls", "warning", "tls_cert_expiring"),
    ("port-closed", "port", "critical", "connection_refused"),
    ("server-hangs", "port", "critical", "server_timeout"),
    (
        "gmail-app-password",
        "auth",
        "critical",
        "auth_app_password_required",
    ),
    (
        "m365-smtp-auth-off",
        "auth",
        "critical",
        "auth_protocol_disabled",
    ),
    ("oauth-mailbox", "token", "warning", "oauth_token_expiring"),
    ("oauth-mailbox", "auth", "ok", ""),
];

/// The running demo. Dropped, it gets Ctrl-C (so it removes its temporary files), and is
/// killed if it has not stopped within ten seconds.
struct Demo {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Drop for Demo {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let pid = rustix::process::Pid::from_child(&self.child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
            wait_until(Duration::from_secs(10), || {
                self.child.try_wait().ok().flatten().is_some()
            });
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mailbeat demo` on a free port, once it says it listens; another port when a parallel test
/// took the free one first (bounded).
fn start_demo(dir: &std::path::Path) -> Demo {
    let log = dir.join("demo.log");
    for _ in 0..5 {
        let port = support::free_port();
        let child = Command::new(BIN)
            .args(["demo", "--web.listen-address", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut demo = Demo {
            child,
            port,
            log: log.clone(),
        };
        let mut exited = false;
        wait_until(Duration::from_secs(20), || {
            exited = demo.child.try_wait().ok().flatten().is_some();
            exited || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("mailbeat started"))
        });
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        if !(exited && log_text.contains("cannot listen on")) {
            assert!(!exited, "mailbeat demo exited at start:\n{log_text}");
            return demo;
        }
    }
    panic!("mailbeat demo could not listen on any of five free ports");
}

fn series(target: &str, probe: &str, status: &str, reason: &str) -> String {
    format!(
        "mailbeat_probe_status{{target=\"{target}\",probe=\"{probe}\",status=\"{status}\",reason=\"{reason}\"}} 1"
    )
}

/// Waits for the first round: every check has a result (the hanging server takes its 5 s
/// timeout). Returns the scrape that had them all.
fn first_round(demo: &Demo) -> String {
    let mut metrics = String::new();
    let complete = wait_until(Duration::from_secs(60), || {
        metrics = http(demo.port, "GET", "/metrics").1;
        EXPECTED
            .iter()
            .all(|(t, p, _, _)| metrics.contains(&format!("target=\"{t}\",probe=\"{p}\",status=")))
    });
    assert!(complete, "the first round never completed:\n{metrics}");
    metrics
}

#[test]
fn the_demo_shows_every_scenario_on_metrics_and_the_status_page_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = start_demo(dir.path());
    let metrics = first_round(&demo);
    for (t, p, status, reason) in EXPECTED {
        let want = series(t, p, status, reason);
        assert!(metrics.contains(&want), "missing {want} in:\n{metrics}");
        let success = format!(
            "mailbeat_probe_success{{target=\"{t}\",probe=\"{p}\"}} {}",
            u8::from(*status == "ok")
        );
        assert!(metrics.contains(&success), "missing {success}");
    }
    // The certificates' own metrics, exported even when verification fails.
    assert!(metrics.contains("mailbeat_tls_chain_verified{target=\"chain-incomplete\"} 0"));
    assert!(metrics.contains("mailbeat_tls_chain_verified{target=\"mailbox\"} 1"));
    assert!(metrics.contains(
        "mailbeat_oauth_refresh_token_expiry_timestamp_seconds{target=\"oauth-mailbox\""
    ));

    // The status page names every target and every failure's reason in words.
    let (code, page) = http(demo.port, "GET", "/");
    assert_eq!(code, 200);
    for (t, _, _, reason) in EXPECTED {
        assert!(page.contains(&format!(">{t}<")), "{t} not on the page");
        if !reason.is_empty() {
            assert!(page.contains(reason), "{reason} not on the page");
        }
    }
    // Nothing the demo generated as a secret reaches the page or the metrics.
    let config = std::fs::read_to_string(config_path_from_log(&demo.log)).unwrap();
    for key in ["password_file", "refresh_token_file"] {
        let path = config
            .lines()
            .find_map(|l| l.split(&format!("{key}: ")).nth(1))
            .map(|p| {
                p.trim()
                    .trim_end_matches('}')
                    .trim()
                    .trim_matches('"')
                    .to_string()
            })
            .unwrap_or_else(|| panic!("no {key} in the demo config"));
        let secret = std::fs::read_to_string(&path).unwrap();
        assert!(secret.len() > 16);
        assert!(
            !page.contains(secret.trim()),
            "{key}'s secret is on the page"
        );
        assert!(
            !metrics.contains(secret.trim()),
            "{key}'s secret is in /metrics"
        );
    }

    // Every socket the demo listens on is on 127.0.0.1: the status page and its servers.
    let listening = listening_addresses(demo.child.id());
    assert!(listening.len() >= 12, "{listening:?}");
    assert!(
        listening.iter().all(|a| a.starts_with("127.0.0.1:")),
        "{listening:?}"
    );

    // Ctrl-C: the agent and the demo servers stop, and the process exits 0.
    let pid = rustix::process::Pid::from_child(&demo.child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let mut status = None;
    wait_until(Duration::from_secs(20), || {
        status = demo.child.try_wait().unwrap();
        status.is_some()
    });
    let status = status.expect("mailbeat demo did not stop on SIGINT");
    assert!(status.success(), "exit status {status:?}");
    let log = std::fs::read_to_string(&demo.log).unwrap();
    assert!(log.contains("mailbeat stopped"), "{log}");
    // Nothing after it: no check in flight saw its server vanish.
    // (By lines: in logfmt the message is quoted, `message="mailbeat stopped"`.)
    let after: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.contains("mailbeat stopped"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(after.is_empty(), "logged after the stop: {after:?}");
    assert!(
        !std::path::Path::new(&config_path_from_log(&demo.log)).exists(),
        "the demo's files are removed when it stops"
    );
    // Nothing listens on the status page's port any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", demo.port)).is_err());
}

/// The TCP addresses process `pid` listens on, from its file descriptors' socket inodes and the
/// kernel's socket tables (Linux), as `a.b.c.d:port` (IPv6 ones as `[hex]:port`).
fn listening_addresses(pid: u32) -> Vec<String> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().to_string();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut found = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address, state (0A = LISTEN), inode
            if f.len() < 10 || f[3] != "0A" || !inodes.contains(f[9]) {
                continue;
            }
            let (addr, port) = f[1].split_once(':').unwrap();
            let port = u16::from_str_radix(port, 16).unwrap();
            let shown = if table == "tcp" {
                let n = u32::from_str_radix(addr, 16).unwrap().to_le_bytes();
                format!("{}.{}.{}.{}:{port}", n[0], n[1], n[2], n[3])
            } else {
                format!("[{addr}]:{port}")
            };
            found.push(shown);
        }
    }
    found
}

/// The config the demo says it wrote (its "demo ready" line).
fn config_path_from_log(log: &std::path::Path) -> String {
    let log = std::fs::read_to_string(log).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("demo ready"))
        .expect("the demo says where its config is");
    line.split("config=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("config= on the demo ready line")
        .trim_matches('"')
        .to_string()
}

#[test]
fn demo_check_json_reports_every_scenario_with_its_remediation() {
    let out = Command::new(BIN)
        .args(["demo", "--check", "--output", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.code(), Some(2), "the worst is critical");
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), EXPECTED.len(), "{stdout}");
    for (t, p, status, reason) in EXPECTED {
        let r = results
            .iter()
            .find(|r| r["target"] == *t && r["probe"] == *p)
            .unwrap_or_else(|| panic!("no result for {t}/{p}"));
        assert_eq!(r["status"], *status, "{t}/{p}: {r}");
        if reason.is_empty() {
            assert!(r["reason"].is_null(), "{t}/{p}: {r}");
        } else {
            assert_eq!(r["reason"], *reason, "{t}/{p}: {r}");
            let remediation = r["remediation"].as_str().unwrap_or("");
            assert!(remediation.len() > 40, "{t}/{p} has no remediation: {r}");
        }
    }
    // The server's own words reach the report.
    let said = |t: &str| {
        results.iter().find(|r| r["target"] == t).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(said("gmail-app-password").contains("534-5.7.9 Application-specific password required"));
    assert!(
        said("m365-smtp-auth-off").contains("SmtpClientAuthentication is disabled for the Tenant")
    );
    let summary = &report["summary"];
    for status in ["ok", "warning", "critical", "unknown"] {
        let n = EXPECTED.iter().filter(|e| e.2 == status).count();
        assert_eq!(summary[status], n, "{status}: {summary}");
    }
}

#[test]
fn demo_print_config_is_an_ordinary_config_on_loopback() {
    let out = Command::new(BIN)
        .args(["demo", "--print-config"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(yaml.contains("targets:"));
    let hosts: Vec<&str> = yaml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("host: "))
        .collect();
    assert_eq!(hosts.len(), 12);
    assert!(hosts.iter().all(|h| *h == "127.0.0.1"), "{hosts:?}");
    assert!(
        yaml.contains("http://127.0.0.1:"),
        "the token endpoint is on loopback"
    );
}

// The status page in a real browser: Debian's Chromium over the DevTools protocol, against the
// running demo.

/// Where the screenshots go: `MAILBEAT_TEST_OUTPUT`, or a directory in cargo's target directory.
fn test_output() -> std::path::PathBuf {
    let dir = std::env::var_os("MAILBEAT_TEST_OUTPUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-output")
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn chromium() -> std::path::PathBuf {
    let path = std::env::var_os("MAILBEAT_CHROMIUM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "{} not found: this test needs Debian's chromium (bash tests/run-all.sh installs it)",
        path.display()
    );
    path
}

#[test]
#[ignore = "needs chromium: run bash tests/run-all.sh"]
fn chromium_shows_the_summary_and_a_failures_remediation_on_desktop_and_phone() {
    use headless_chrome::protocol::cdp::{Emulation, Page};
    use headless_chrome::{Browser, LaunchOptions};
    use std::ffi::OsStr;

    let dir = tempfile::tempdir().unwrap();
    let demo = start_demo(dir.path());
    first_round(&demo);
    let browser = Browser::new(
        LaunchOptions::default_builder()
            .path(Some(chromium()))
            .headless(true)
            .sandbox(false)
            .user_data_dir(Some(dir.path().join("chromium-profile")))
            .window_size(Some((1280, 900)))
            .idle_browser_timeout(Duration::from_secs(60))
            // Without these, Chromium reaches for Google's hosts at start.
            .args(vec![
                OsStr::new("--disable-gpu"),
                OsStr::new("--disable-quic"),
                OsStr::new("--disable-component-update"),
                OsStr::new("--no-default-browser-check"),
            ])
            .build()
            .unwrap(),
    )
    .expect("chromium did not start");
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(20));
    let base = format!("http://127.0.0.1:{}/", demo.port);
    let shots = test_output();
    let full_page_shot = |name: &str| {
        let png = tab
            .call_method(Page::CaptureScreenshot {
                format: Some(Page::CaptureScreenshotFormatOption::Png),
                quality: None,
                clip: None,
                from_surface: Some(true),
                capture_beyond_viewport: Some(true),
                optimize_for_speed: None,
            })
            .unwrap()
            .data;
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png)
            .unwrap();
        let path = shots.join(name);
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    };
    let viewport_shot = |name: &str| {
        let png = tab
            .capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true)
            .unwrap();
        let path = shots.join(name);
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    };
    let js = |expr: &str| -> serde_json::Value {
        tab.evaluate(expr, false)
            .unwrap()
            .value
            .unwrap_or(serde_json::Value::Null)
    };

    tab.navigate_to(&base)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    // The summary: targets by status, and when the last check ran.
    let summary = tab
        .wait_for_element("#summary")
        .unwrap()
        .get_inner_text()
        .unwrap();
    let critical_targets = 7; // chain, expired, name, closed, hangs, app password, SMTP AUTH off
    for words in [
        format!("{critical_targets}\nCritical"),
        "2\nWarning".to_string(),
        "3\nOK".to_string(),
        "last check".to_string(),
    ] {
        assert!(
            summary.contains(&words),
            "{words:?} not in the summary: {summary:?}"
        );
    }
    // The worst first: the first card is a critical one.
    assert_eq!(
        js("document.querySelector('article.target').classList.contains('critical')"),
        serde_json::json!(true)
    );
    // A failing target's remediation is folded; opening it shows what to do.
    let card = "#target-chain-incomplete";
    // `checkVisibility()`: a closed <details> hides its content with content-visibility, which
    // leaves the box its size.
    let visible = |sel: &str| {
        js(&format!(
            "document.querySelector('{sel}').checkVisibility()"
        )) == serde_json::json!(true)
    };
    let remediation = format!("{card} .remediation");
    assert!(!visible(&remediation), "the remediation starts folded");
    tab.wait_for_element(&format!("{card} details.fix summary"))
        .unwrap()
        .click()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || visible(&remediation)),
        "the remediation did not unfold"
    );
    let text = tab
        .wait_for_element(&remediation)
        .unwrap()
        .get_inner_text()
        .unwrap();
    assert!(text.contains("intermediate"), "{text}");
    let card_text = tab
        .wait_for_element(card)
        .unwrap()
        .get_inner_text()
        .unwrap();
    assert!(
        card_text.contains("does not send its intermediate certificate"),
        "the reason in words: {card_text}"
    );
    // The OAuth account's predicted re-authorization, and a link to do it.
    let oauth = tab
        .wait_for_element("#target-oauth-mailbox .fact.oauth")
        .unwrap()
        .get_inner_text()
        .unwrap();
    assert!(
        oauth.contains("Re-authorization needed by") && oauth.contains("in 5 days"),
        "{oauth}"
    );
    let no_sideways_scroll = "document.documentElement.scrollWidth <= window.innerWidth";
    assert_eq!(js(no_sideways_scroll), serde_json::json!(true));
    full_page_shot("status-page.png");
    viewport_shot("status-page-top.png");

    // A phone: one column, nothing wider than the screen.
    tab.call_method(Emulation::SetDeviceMetricsOverride {
        width: 390,
        height: 844,
        device_scale_factor: 2.0,
        mobile: true,
        scale: None,
        screen_width: None,
        screen_height: None,
        position_x: None,
        position_y: None,
        dont_set_visible_size: None,
        screen_orientation: None,
        viewport: None,
        display_feature: None,
        device_posture: None,
    })
    .unwrap();
    tab.navigate_to(&base)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("#summary").unwrap();
    assert_eq!(js("window.innerWidth"), serde_json::json!(390));
    assert_eq!(
        js(no_sideways_scroll),
        serde_json::json!(true),
        "the page scrolls sideways on a phone"
    );
    tab.wait_for_element(&format!("{card} details.fix summary"))
        .unwrap()
        .click()
        .unwrap();
    full_page_shot("status-page-phone.png");
    viewport_shot("status-page-phone-top.png");
    js(&format!(
        "document.querySelector('{card}').scrollIntoView()"
    ));
    viewport_shot("status-page-phone-failure.png");
}

#[test]
#[ignore = "needs promtool (Debian's prometheus package): run bash tests/run-all.sh"]
fn the_demos_scrape_passes_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let demo = start_demo(dir.path());
    support::promtool_check_metrics(&first_round(&demo));
}
