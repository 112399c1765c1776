//! `--log.format logfmt` is logfmt a parser reads: every stderr line of a `check` against
//! loopback servers that fail in several ways (a refused port, an SMTP server whose refusal spans
//! three lines with quotes and `=` in them, an IMAP server that quotes the login line back, a
//! server that never answers) parses as one event with `level` and `message`, and no line holds
//! the account's password.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

mod support;

const SECRET: &str = "Logfmt-Leak-Pw-5120";

/// A loopback server that answers each connection with `greeting`, then reads lines and answers
/// each with `reply(line)` (a bounded number of them); returns its port.
fn fake_server(greeting: &'static str, reply: fn(&str) -> String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut out = stream.try_clone().unwrap();
                let mut lines = BufReader::new(stream);
                if out.write_all(greeting.as_bytes()).is_err() {
                    return;
                }
                let mut line = String::new();
                for _ in 0..16 {
                    line.clear();
                    if lines.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if out.write_all(reply(&line).as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// A listener that accepts and never says a word (kept open until the test ends).
fn silent_server() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// An IMAP server that refuses every login, quoting the command line (with the password) back.
fn imap_reply(line: &str) -> String {
    let mut words = line.split_whitespace();
    let tag = words.next().unwrap_or("*");
    match words.next().unwrap_or("").to_ascii_uppercase().as_str() {
        "CAPABILITY" => format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n"),
        "LOGOUT" => format!("* BYE bye\r\n{tag} OK done\r\n"),
        "LOGIN" | "AUTHENTICATE" => format!(
            "{tag} NO [AUTHENTICATIONFAILED] Authentication failed: {}\r\n",
            line.trim_end()
        ),
        _ => format!("{tag} BAD unexpected\r\n"),
    }
}

/// An SMTP server whose greeting is a three-line refusal with quotes, `=` and a backslash.
const SMTP_REFUSAL: &str = "554-mail.example.test \"policy\" = rejected\r\n554-your address is listed\\blocked\r\n554 5.7.1 Service unavailable; contact postmaster\r\n";

fn smtp_reply(_: &str) -> String {
    "221 2.0.0 bye\r\n".to_string()
}

/// The agent's log file, once `done` says it has what the test waits for (bounded).
fn log_when(agent: &support::Agent, what: &str, done: impl Fn(&str) -> bool) -> String {
    let mut log = String::new();
    let seen = support::wait_until(Duration::from_secs(20), || {
        log = std::fs::read_to_string(&agent.log).unwrap_or_default();
        done(&log)
    });
    assert!(seen, "waiting for {what}: {log}");
    log
}

#[test]
fn every_log_line_of_a_run_is_one_parseable_logfmt_event_without_secrets() {
    let refused = support::closed_port();
    let smtp = fake_server(SMTP_REFUSAL, smtp_reply);
    let imap = fake_server(
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n",
        imap_reply,
    );
    let (_hold, hung) = silent_server();
    // One account per target: a refusal seen by one would put the others' logins on hold.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), format!("{SECRET}\n")).unwrap();
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(
        &config,
        format!(
            "global:\n  timeout: 3s\n  spread: 0s\ntargets:\n\
  - {{name: refused box, protocol: smtp, host: 127.0.0.1, port: {refused}, tls: none, probes: [port]}}\n\
  - {{name: relay, protocol: smtp, host: 127.0.0.1, port: {smtp}, tls: none, account: {{username: bob, password_file: pw}}, probes: [auth]}}\n\
  - {{name: mailbox, protocol: imap, host: 127.0.0.1, port: {imap}, tls: none, account: {{username: alice, password_file: pw}}, probes: [auth]}}\n\
  - {{name: hung, protocol: imap, host: 127.0.0.1, port: {hung}, tls: none, account: {{username: carol, password_file: pw}}, probes: [auth]}}\n"
        ),
    )
    .unwrap();
    let agent = support::start_agent_with(&config, dir.path(), &["--log.format", "logfmt"]);
    log_when(&agent, "a failure line for each target", |log| {
        log.matches("message=\"check failed\"").count() >= 4
    });
    // A reload of a file with a YAML error: the error is several lines (the snippet), and the
    // misspelt key's value is a password.
    std::fs::write(
        &config,
        format!("targets:\n  - name: x\n    account:\n      username: alice\n      pasword: {SECRET}\n    probes: [port\n"),
    )
    .unwrap();
    let pid = agent.child.id().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status();
    assert!(hup.unwrap().success());
    let log = log_when(&agent, "the reload failure", |log| log.contains("reload"));
    drop(agent);

    let mut failed = Vec::new();
    let mut reload = None;
    for line in log.lines() {
        assert!(!line.contains(SECRET), "a secret in the log: {line}");
        assert!(
            !line.chars().any(|c| c.is_control()),
            "a raw control character: {line:?}"
        );
        let pairs = logfmt::parse(line);
        for p in &pairs {
            assert!(
                p.val.is_some(),
                "{:?} is not key=value (an unquoted space?): {line}",
                p.key
            );
        }
        let get = |k: &str| {
            pairs
                .iter()
                .find(|p| p.key == k)
                .and_then(|p| p.val.clone())
        };
        assert!(get("level").is_some(), "no level: {line}");
        assert!(get("ts").is_some(), "no timestamp: {line}");
        let message = get("message").unwrap_or_else(|| panic!("no message: {line}"));
        if message == "check failed" {
            assert!(
                get("server_said").is_some_and(|s| !s.is_empty()),
                "server_said is there and not empty when a check failed: {line}"
            );
            failed.push((get("target").unwrap(), line.to_string()));
        }
        if message.contains("reload") {
            reload = Some(line.to_string());
        }
    }
    let line_of = |target: &str| {
        failed
            .iter()
            .find(|(t, _)| t == target)
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| panic!("no 'check failed' line for {target}: {log}"))
    };
    // A value with a space is quoted.
    assert!(line_of("refused box").contains("target=\"refused box\""));
    // Quotes and backslashes in a server's words are escaped.
    let relay = line_of("relay");
    assert!(relay.contains(r#"\"policy\""#), "{relay}");
    assert!(relay.contains(r"listed\\blocked"), "{relay}");
    line_of("mailbox");
    line_of("hung");
    // The multi-line error is one event, its line breaks escaped.
    let reload = reload.unwrap();
    assert!(reload.contains(r"\n"), "{reload}");
    assert!(reload.contains("pasword"), "{reload}");
}

#[test]
fn check_logs_no_result_lines_unless_a_level_is_given() {
    let refused = support::closed_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(
        &config,
        format!("targets:\n  - {{name: box, protocol: smtp, host: 127.0.0.1, port: {refused}, tls: none, probes: [port]}}\n"),
    )
    .unwrap();
    let out = support::mailbeat(&["check"], &config);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("connection_refused"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("check failed"),
        "the table already says it: {stderr}"
    );
    let out = support::mailbeat(&["check", "--log.level", "info"], &config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("message=\"check failed\""),
        "asked for: {stderr}"
    );
}
