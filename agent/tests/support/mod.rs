//! Shared by the binary's integration tests: run the agent as a process, speak HTTP to it,
//! read series from a scrape, and have `promtool` judge the scrape.
#![allow(dead_code)] // each test file uses its own part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mailbeat");

/// `mailbeat ARGS --config.file CONFIG`, ready for more (an environment variable, say).
pub fn command(args: &[&str], config: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).arg("--config.file").arg(config);
    c
}

/// Runs `mailbeat ARGS --config.file CONFIG` to the end.
pub fn mailbeat(args: &[&str], config: &Path) -> std::process::Output {
    command(args, config).output().unwrap()
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn free_port() -> u16 {
    closed_port()
}

pub fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The value of the series whose text (name and labels) starts with `series`.
pub fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

pub struct Agent {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_agent(config: &Path, dir: &Path) -> Agent {
    let port = free_port();
    let log = dir.join("agent.log");
    let child = Command::new(BIN)
        .args(["run", "--config.file"])
        .arg(config)
        .args([
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
            "--log.level",
            "debug",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let agent = Agent { child, port, log };
    wait_until(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    agent
}

pub fn wait_until(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

pub fn scrape_until(agent: &Agent, what: &str) -> String {
    let mut last = String::new();
    let found = wait_until(Duration::from_secs(15), || {
        last = http(agent.port, "GET", "/metrics").1;
        last.contains(what)
    });
    assert!(found, "{what} never appeared in /metrics:\n{last}");
    last
}

/// `promtool check metrics` on a scrape; fails when promtool is missing (tests calling it are
/// ignored under a plain `cargo test` and run by `tests/run-all.sh`, which installs it).
pub fn promtool_check_metrics(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: run the README's test command, which installs it");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The CA file and a user of the real-server harness (`tests/run-all.sh`), the user read from
/// `user_var`. Panics when no harness runs: the tests that call this are `#[ignore]`d, so they run
/// only when asked for (`--include-ignored`), and then a missing harness is a failure.
pub fn harness(user_var: &str, default_user: &str) -> (String, String) {
    if std::env::var_os("MAILBEAT_HARNESS_DIR").is_none() {
        panic!("the real-server harness is not running (MAILBEAT_HARNESS_DIR unset): run bash tests/run-all.sh");
    }
    (
        std::env::var("MAILBEAT_TEST_CA").expect("MAILBEAT_TEST_CA"),
        std::env::var(user_var).unwrap_or_else(|_| default_user.into()),
    )
}
