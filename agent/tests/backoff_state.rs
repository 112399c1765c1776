//! The `auth` back-off outlives the process: `mailbeat check` run again and again (from cron, or
//! Nagios) does not retry a rejected password before its time, and a fixed password is tried at
//! once. Counted at a loopback IMAP server that refuses every login.

use mailbeat::guard::Fingerprint;
use mailbeat_sdk::{Credentials, Secret, SecretKind};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

mod support;

use std::path::{Path, PathBuf};
use support::mailbeat;

/// An IMAP server (plaintext, loopback) that refuses every login; returns its port and the count
/// of login attempts it saw.
fn refusing_imap_server() -> (u16, Arc<AtomicUsize>) {
    imap_server(false)
}

/// [`refusing_imap_server`], optionally one that quotes the login line back in its refusal (as
/// some badly written servers do).
fn imap_server(echo: bool) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let logins = Arc::new(AtomicUsize::new(0));
    let seen = logins.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let mut out = stream.try_clone().unwrap();
                let mut lines = BufReader::new(stream);
                let _ = out.write_all(b"* OK [CAPABILITY IMAP4rev1] test server ready\r\n");
                let mut line = String::new();
                // Bounded: a check sends a handful of lines.
                for _ in 0..16 {
                    line.clear();
                    if lines.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut words = line.split_whitespace();
                    let tag = words.next().unwrap_or("*").to_string();
                    let command = words.next().unwrap_or("").to_ascii_uppercase();
                    let reply = match command.as_str() {
                        "CAPABILITY" => format!("* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n"),
                        "LOGIN" | "AUTHENTICATE" => {
                            seen.fetch_add(1, Ordering::SeqCst);
                            let said = if echo { line.trim_end() } else { "" };
                            format!(
                                "{tag} NO [AUTHENTICATIONFAILED] Authentication failed. {said}\r\n"
                            )
                        }
                        "LOGOUT" => format!("* BYE bye\r\n{tag} OK done\r\n"),
                        _ => format!("{tag} BAD unexpected\r\n"),
                    };
                    if out.write_all(reply.as_bytes()).is_err() || command == "LOGOUT" {
                        return;
                    }
                }
            });
        }
    });
    (port, logins)
}

fn check(config: &std::path::Path) -> (i32, serde_json::Value) {
    let out = mailbeat(&["check", "--output", "json"], config);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

#[test]
fn repeated_checks_wait_out_the_backoff_and_a_fixed_password_goes_through_at_once() {
    let (port, logins) = refusing_imap_server();
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "wrong-password-1\n").unwrap();
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(
        &config,
        format!(
            "targets:\n  - name: mailbox\n    protocol: imap\n    host: 127.0.0.1\n    port: {port}\n    tls: none\n    account: {{username: alice, password_file: pw}}\n    probes: [auth]\n"
        ),
    )
    .unwrap();

    let (code, first) = check(&config);
    assert_eq!(code, 2, "{first}");
    assert_eq!(first["results"][0]["reason"], "auth_bad_credentials");
    assert_eq!(first["results"][0]["details"]["backoff"]["failures"], 1);
    assert_eq!(logins.load(Ordering::SeqCst), 1);

    // The next run (cron, five minutes later) answers from the state instead of logging in.
    for _ in 0..2 {
        let (code, again) = check(&config);
        assert_eq!(code, 2, "still critical: {again}");
        let r = &again["results"][0];
        assert_eq!(r["reason"], "auth_bad_credentials", "{r}");
        let message = r["message"].as_str().unwrap();
        assert!(message.starts_with("backing off"), "{message}");
        assert!(
            r["details"]["backoff"]["retry_in_seconds"]
                .as_f64()
                .unwrap()
                > 0.0
        );
    }
    assert_eq!(
        logins.load(Ordering::SeqCst),
        1,
        "no retry during the back-off"
    );

    // The person fixes the secret file: the next check tries at once.
    std::fs::write(&pw, "new-password-2\n").unwrap();
    let (_, fixed) = check(&config);
    let message = fixed["results"][0]["message"].as_str().unwrap();
    assert!(!message.starts_with("backing off"), "{message}");
    assert_eq!(logins.load(Ordering::SeqCst), 2);

    // What lies on disk is no secret, nor a plain (unsalted) hash of one.
    let db = std::fs::read(dir.path().join("data").join("mailbeat.db")).unwrap();
    let wal = std::fs::read(dir.path().join("data").join("mailbeat.db-wal")).unwrap_or_default();
    let unsalted = |pw: &str| {
        Fingerprint::of(
            "127.0.0.1",
            &Credentials {
                username: "alice".into(),
                secret: Secret::new(pw),
                kind: SecretKind::Password,
            },
        )
        .to_bytes()
    };
    for bytes in [&db, &wal] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("wrong-password-1") && !text.contains("new-password-2"));
        for pw in ["wrong-password-1", "new-password-2"] {
            let hash = unsalted(pw);
            assert!(
                !bytes.windows(32).any(|w| w == hash),
                "unsalted hash of {pw} on disk"
            );
        }
    }
}

/// A config whose `state_dir` cannot be created (a file stands in its way), with one target.
fn config_with_unusable_state(dir: &Path, target: &str) -> PathBuf {
    std::fs::write(dir.join("file"), "not a directory").unwrap();
    std::fs::write(dir.join("pw"), "pw\n").unwrap();
    let config = dir.join("mailbeat.yaml");
    let yaml = format!("global: {{state_dir: file/data}}\ntargets:\n  - {target}\n");
    std::fs::write(&config, yaml).unwrap();
    config
}

const PORT_ONLY: &str =
    "{name: relay, protocol: smtp, host: 127.0.0.1, port: 1, tls: none, probes: [port]}";
const WITH_AUTH: &str = "{name: box, protocol: imap, host: 127.0.0.1, port: 1, tls: none, account: {username: a, password_file: pw}, probes: [auth]}";

#[test]
fn checks_without_auth_need_no_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_unusable_state(dir.path(), PORT_ONLY);
    let (code, report) = check(&config);
    assert_eq!(code, 2, "{report}");
    assert_eq!(report["results"][0]["reason"], "connection_refused");
}

#[test]
fn an_unusable_state_dir_is_a_clear_error_when_auth_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_unusable_state(dir.path(), WITH_AUTH);
    let out = mailbeat(&["check"], &config);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot create the state directory") && stderr.contains("state_dir"),
        "{stderr}"
    );
}

#[test]
fn a_selection_that_matches_no_check_is_unknown_not_ok() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(
        &config,
        "targets:\n  - {name: relay, protocol: smtp, host: 127.0.0.1, port: 1, tls: none, probes: [port]}\n",
    )
    .unwrap();
    for args in [
        &["--probe", "auth"][..],
        &["--target", "relay", "--probe", "tsl"],
    ] {
        let out = mailbeat(&[&["check"][..], args].concat(), &config);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let probe = args[args.len() - 1];
        assert!(stderr.contains(&format!("probe {probe:?}")), "{stderr}");
    }
}

#[test]
fn run_needs_a_usable_state_dir_only_when_it_checks_logins() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_unusable_state(dir.path(), PORT_ONLY);
    let agent = support::start_agent(&config, dir.path());
    let (status, _) = support::http(agent.port, "GET", "/-/healthy");
    assert_eq!(status, 200, "a port-only agent starts without its state");
    drop(agent);

    let config = config_with_unusable_state(dir.path(), WITH_AUTH);
    let out = mailbeat(&["run", "--web.listen-address", "127.0.0.1:0"], &config);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("state_dir"), "{stderr}");
}

#[test]
fn trace_logs_keep_the_imap_library_quiet_unless_asked_by_name() {
    let (port, _) = imap_server(true);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "Trace-Leak-Pw-4417\n").unwrap();
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(
        &config,
        format!(
            "targets:\n  - {{name: box, protocol: imap, host: 127.0.0.1, port: {port}, tls: none, account: {{username: alice, password_file: pw}}, probes: [auth]}}\n"
        ),
    )
    .unwrap();
    let stderr = |level: &str| {
        // A fresh state each time, so the login is really sent.
        let _ = std::fs::remove_dir_all(dir.path().join("data"));
        let out = mailbeat(&["check", "--log.level", level], &config);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // async-imap traces every line it reads, here the server quoting the password back ...
    let asked = stderr("trace,async_imap=trace");
    assert!(
        asked.contains("Trace-Leak-Pw-4417"),
        "the library logs the reply: {asked}"
    );
    // ... which `--log.level trace` alone must not show.
    let trace = stderr("trace");
    assert!(trace.contains("check failed"), "{trace}");
    assert!(!trace.contains("Trace-Leak-Pw-4417"), "{trace}");
}
