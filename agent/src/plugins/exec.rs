//! Exec plugins (`plugins.exec`): any program that follows the Nagios plugin API is a probe.
//!
//! How a run goes:
//! - The command is the configured program and arguments with `{host}`, `{port}`, `{target}`,
//!   `{username}`, `{protocol}` and the probe entry's own options substituted, once, at load
//!   (`configure`). It is run directly, never through a shell, so a value is always one argument.
//!   A placeholder the target has no value for (`{port}` on a target without a port), one that is
//!   neither a target value nor an option, and an option the command does not use are config
//!   errors at load, not an empty string at run time.
//! - The environment is not the agent's: only `PATH`, `HOME`, `LANG`, `LC_ALL`, `LC_CTYPE`, `TZ`
//!   and `TMPDIR` pass through (the agent's environment may hold other accounts' secrets), then
//!   the plugin's `env:`, whose values may be `${VAR}` of the agent's environment (read at each
//!   run; an unset one is a `config_error` result), then `MAILBEAT_SECRET` when `secret: env`.
//!   With `secret: stdin` the secret and a newline are written to standard input, which is then
//!   closed. The secret is never on the command line.
//! - The program runs in a process group of its own. When it runs past the plugin's `timeout` or
//!   the check's deadline, whichever comes first, the whole group is sent SIGKILL (so a child it
//!   started dies with it) and the program is reaped. When the program exits by itself, whatever
//!   it left running in its group is killed too: a check leaves nothing behind. The same happens
//!   if the agent drops the check half-way (a guard kills the group).
//! - Standard output and standard error are read concurrently, each kept up to
//!   [`OUTPUT_CAP`] bytes; more is read and thrown away (so the program is not blocked on a full
//!   pipe) and the result says the output was cut.
//! - The output is read by [`super::nagios`].

use super::{nagios, Loaded, PluginInfo};
use crate::config::{ExecPlugin, ExecSecret};
use async_trait::async_trait;
use mailbeat_sdk::{
    target::bare_host, Check, CheckResult, MetricDesc, OptionsError, Probe, ProbeContext, Reason,
    Target,
};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Each of standard output and standard error is kept up to this many bytes.
pub const OUTPUT_CAP: usize = 64 * 1024;
/// Variables of the agent's environment a plugin sees (besides its own `env:`).
const PASSED_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"];
/// The placeholders every target may fill.
const TARGET_VALUES: &[&str] = &["host", "port", "target", "username", "protocol"];
/// How long the output readers may take once the program's group is dead (a grandchild that
/// left the group with `setsid` may still hold a pipe open): then they are given up.
const READER_GRACE: Duration = Duration::from_secs(1);
/// Standard error shown in a result's details is cut to this many characters.
const STDERR_SHOWN: usize = 2048;

/// The probes of `plugins.exec`.
pub fn probes(exec: &[ExecPlugin]) -> Vec<Loaded> {
    exec.iter()
        .map(|p| {
            let probe = ExecProbe::new(p.clone());
            let info = PluginInfo {
                name: p.name.clone(),
                kind: "exec",
                version: probe.version.clone(),
                abi: None,
                source: p.command.first().cloned(),
            };
            (Arc::new(probe) as Arc<dyn Probe>, info)
        })
        .collect()
}

/// One exec plugin as a probe.
#[derive(Debug)]
pub struct ExecProbe {
    plugin: ExecPlugin,
    version: String,
}

impl ExecProbe {
    pub fn new(plugin: ExecPlugin) -> Self {
        let version = plugin
            .version
            .clone()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "unknown".to_string());
        ExecProbe { plugin, version }
    }
}

impl Probe for ExecProbe {
    fn name(&self) -> &str {
        &self.plugin.name
    }

    fn version(&self) -> &str {
        &self.version
    }

    /// Only a plugin that is given the secret logs in with the account; the others get no
    /// credentials, and the credential guard leaves them alone.
    fn uses_credentials(&self) -> bool {
        self.plugin.secret != ExecSecret::None
    }

    fn metrics(&self) -> Vec<MetricDesc> {
        nagios::metrics()
    }

    /// Options are extra placeholders: `{plugin: check_x, warn: 5}` fills `{warn}` in the
    /// command. An option the command does not use is refused (a typo would go unnoticed).
    fn configure(
        &self,
        target: &Target,
        options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError> {
        let name = &self.plugin.name;
        let mut values: BTreeMap<String, Option<String>> = BTreeMap::new();
        values.insert("host".into(), Some(bare_host(&target.host).to_string()));
        values.insert("port".into(), target.port.map(|p| p.to_string()));
        values.insert("target".into(), Some(target.name.clone()));
        values.insert(
            "username".into(),
            target.account.as_ref().map(|a| a.username.clone()),
        );
        values.insert(
            "protocol".into(),
            target.protocol.map(|p| p.as_str().to_string()),
        );
        let mut option_names = Vec::new();
        match options {
            serde_json::Value::Null => {}
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if TARGET_VALUES.contains(&k.as_str()) {
                        return Err(OptionsError::new(format!(
                            "option {k:?} is a target value; it cannot be set per probe"
                        )));
                    }
                    let v = match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Bool(b) => b.to_string(),
                        _ => {
                            return Err(OptionsError::new(format!(
                                "option {k:?} must be a string, number or boolean (it fills {{{k}}} in the command)"
                            )))
                        }
                    };
                    values.insert(k.clone(), Some(v));
                    option_names.push(k.clone());
                }
            }
            _ => {
                return Err(OptionsError::new(
                    "options of an exec plugin are a map of placeholder values",
                ))
            }
        }
        let mut used = Vec::new();
        let mut command = Vec::with_capacity(self.plugin.command.len());
        for arg in &self.plugin.command {
            command.push(substitute(arg, |key| {
                used.push(key.to_string());
                match values.get(key) {
                    Some(Some(v)) => Ok(v.clone()),
                    Some(None) => Err(format!(
                        "the command of plugin {name} uses {{{key}}}, but target {} has no {key}",
                        target.name
                    )),
                    None => Err(format!(
                        "the command of plugin {name} uses {{{key}}}, which is neither a target value ({}) nor an option of this probe entry",
                        TARGET_VALUES.join(", ")
                    )),
                }
            })?);
        }
        if let Some(unused) = option_names.iter().find(|o| !used.contains(o)) {
            return Err(OptionsError::new(format!(
                "unknown option {unused:?}: the command of plugin {name} has no {{{unused}}} (options fill placeholders)"
            )));
        }
        if self.plugin.secret != ExecSecret::None && target.account.is_none() {
            return Err(OptionsError::new(format!(
                "plugin {name} is given the account's secret, but target {} has no account",
                target.name
            )));
        }
        let (program, args) = command
            .split_first()
            .map(|(p, a)| (p.clone(), a.to_vec()))
            .ok_or_else(|| OptionsError::new(format!("plugin {name} has no command")))?;
        Ok(Arc::new(ExecCheck {
            name: name.clone(),
            program,
            args,
            env: self.plugin.env.clone(),
            secret: self.plugin.secret,
            timeout: self.plugin.timeout,
        }))
    }
}

/// `arg` with every `{key}` (letters, digits, `_`) replaced by `value(key)`; other braces stay.
fn substitute(
    arg: &str,
    mut value: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, OptionsError> {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if close > 0
                    && after[..close]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                out.push_str(&value(&after[..close]).map_err(OptionsError::new)?);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// `value` with every `${VAR}` replaced from the agent's environment.
fn expand_env(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(open) = rest.find("${") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        let var = &after[..close];
        match std::env::var(var) {
            Ok(v) => out.push_str(&v),
            Err(_) => return Err(format!("environment variable {var} is not set")),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// An exec plugin configured for one target.
#[derive(Debug)]
struct ExecCheck {
    name: String,
    program: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    secret: ExecSecret,
    timeout: Option<Duration>,
}

/// Kills a process group when dropped, unless disarmed: the check's future may be dropped
/// half-way (the executor's hard limit, a shutdown) and the program must not outlive it.
struct GroupGuard(Option<rustix::process::Pid>);

impl GroupGuard {
    fn kill(&self) {
        if let Some(pgid) = self.0 {
            // ESRCH (the group is gone already) is what we want anyway.
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a reader kept of a stream and how much there was.
#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    total: u64,
    /// More was written than kept (set once, before any scrubbing changes `bytes`).
    cut: bool,
}

/// Reads `stream` to its end, keeping the first `cap` bytes.
async fn read_capped(mut stream: impl AsyncRead + Unpin, cap: usize) -> Captured {
    let mut c = Captured::default();
    let mut buf = vec![0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return c,
            Ok(n) => {
                c.total += n as u64;
                let room = cap.saturating_sub(c.bytes.len());
                c.bytes.extend_from_slice(&buf[..n.min(room)]);
                c.cut |= n > room;
            }
        }
    }
}

#[async_trait]
impl Check for ExecCheck {
    async fn run(&self, _target: &Target, ctx: &ProbeContext) -> CheckResult {
        let now = Instant::now();
        let limit = match self.timeout {
            Some(t) => ctx.deadline.min(now + t),
            None => ctx.deadline,
        };
        let name = &self.name;
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args).env_clear();
        for var in PASSED_ENV {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        for (k, v) in &self.env {
            match expand_env(v) {
                Ok(v) => {
                    cmd.env(k, v);
                }
                Err(e) => {
                    return CheckResult::unknown(
                        Reason::ConfigError,
                        format!("plugin {name}: env {k}: {e}"),
                    )
                }
            }
        }
        let secret = match (self.secret, &ctx.credentials) {
            (ExecSecret::None, _) => None,
            (_, Some(c)) => Some(c.secret.clone()),
            (_, None) => {
                return CheckResult::unknown(
                    Reason::ConfigError,
                    format!(
                        "plugin {name} is given the account's secret, but it could not be read"
                    ),
                )
            }
        };
        if let (ExecSecret::Env, Some(s)) = (self.secret, &secret) {
            cmd.env("MAILBEAT_SECRET", s.expose());
        }
        cmd.stdin(if self.secret == ExecSecret::Stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return CheckResult::unknown(
                    Reason::PluginError,
                    format!("plugin {name}: cannot run {}: {e}", self.program),
                )
            }
        };
        // The child leads its own group: its pid is the group's id.
        let mut guard = GroupGuard(
            child
                .id()
                .and_then(|id| rustix::process::Pid::from_raw(id as i32)),
        );
        if let (Some(mut stdin), Some(s)) = (child.stdin.take(), secret) {
            // A task of its own: a program that never reads stdin must not stall the check.
            tokio::spawn(async move {
                let _ = stdin.write_all(s.expose().as_bytes()).await;
                let _ = stdin.write_all(b"\n").await;
                let _ = stdin.shutdown().await;
            });
        }
        let stdout = child
            .stdout
            .take()
            .map(|s| tokio::spawn(read_capped(s, OUTPUT_CAP)));
        let stderr = child
            .stderr
            .take()
            .map(|s| tokio::spawn(read_capped(s, OUTPUT_CAP)));

        let exited = tokio::select! {
            status = child.wait() => Some(status),
            _ = tokio::time::sleep_until(limit.into()) => None,
        };
        let timed_out = exited.is_none();
        // Whatever is left of the group goes: all of it past the time, stragglers otherwise.
        guard.kill();
        let status = match exited {
            Some(status) => status,
            None => child.wait().await,
        };
        guard.0 = None;

        let (out, err) = (collect(stdout).await, collect(stderr).await);
        let readers_given_up = out.is_none() || err.is_none();
        let (mut out, mut err) = (out.unwrap_or_default(), err.unwrap_or_default());
        // Scrub the secret from the raw output before anything cuts it: a secret that straddles
        // a cut would keep its first part, which the executor's whole-value redaction misses.
        if let Some(secret) = ctx.credentials.as_ref().map(|c| c.secret.expose()) {
            out.bytes = scrub_secret(&out.bytes, secret);
            err.bytes = scrub_secret(&err.bytes, secret);
        }

        let mut r = match (timed_out, &status) {
            (true, _) => {
                let shown = self
                    .timeout
                    .filter(|t| now + *t <= ctx.deadline)
                    .map(|t| format!("its timeout of {}", humantime::format_duration(t)))
                    .unwrap_or_else(|| "the check's deadline".to_string());
                CheckResult::unknown(
                    Reason::PluginError,
                    format!("plugin {name} ran past {shown} and was killed with its process group"),
                )
                .observe(nagios::EXIT_CODE, -1.0)
            }
            (false, Err(e)) => CheckResult::unknown(
                Reason::PluginError,
                format!("plugin {name}: waiting for it failed: {e}"),
            ),
            (false, Ok(st)) => {
                let mut r = nagios::result(name, st.code(), &out.bytes, ctx.locale);
                if let (None, Some(sig)) = (st.code(), st.signal()) {
                    r = r.detail("signal", sig);
                }
                if out.bytes.iter().all(u8::is_ascii_whitespace) && !err.bytes.is_empty() {
                    // Nothing on stdout: the reason is usually on stderr.
                    let first = String::from_utf8_lossy(&err.bytes);
                    let first = first.lines().next().unwrap_or("").trim();
                    if !first.is_empty() {
                        r.message = format!("{}: {}", r.message, cut(first, 512));
                    }
                }
                r
            }
        };
        for (stream, c) in [("stdout", &out), ("stderr", &err)] {
            if c.cut {
                r.message.push_str(&format!(
                    " ({stream} cut at {} KiB of {} bytes)",
                    OUTPUT_CAP / 1024,
                    c.total
                ));
                r = r.detail(&format!("{stream}_truncated"), true);
            }
        }
        if readers_given_up {
            r.message
                .push_str(" (a process outside its group kept its output open; not read)");
        }
        if !err.bytes.is_empty() {
            r = r.detail(
                "stderr",
                cut(String::from_utf8_lossy(&err.bytes).trim_end(), STDERR_SHOWN),
            );
        }
        r.detail("command", &self.program)
    }
}

/// What a reader kept, once the program's group is dead; `None` when it did not finish within
/// [`READER_GRACE`] (and was given up).
async fn collect(h: Option<tokio::task::JoinHandle<Captured>>) -> Option<Captured> {
    let Some(mut h) = h else {
        return Some(Captured::default());
    };
    match tokio::time::timeout(READER_GRACE, &mut h).await {
        Ok(Ok(c)) => Some(c),
        _ => {
            h.abort();
            None
        }
    }
}

/// `bytes` with every `secret` replaced, and a trailing start of it (the output was capped in
/// the middle of it) masked too. Secrets shorter than four bytes are left, as the executor does.
fn scrub_secret(bytes: &[u8], secret: &str) -> Vec<u8> {
    const MASK: &[u8] = b"<redacted>";
    let secret = secret.as_bytes();
    if secret.len() < 4 {
        return bytes.to_vec();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(secret) {
            out.extend_from_slice(MASK);
            i += secret.len();
        } else if bytes.len() - i >= 4
            && bytes.len() - i < secret.len()
            && secret.starts_with(&bytes[i..])
        {
            out.extend_from_slice(MASK);
            i = bytes.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod scrub_tests {
    use super::scrub_secret;

    #[test]
    fn a_secret_whole_or_cut_at_the_end_is_masked() {
        assert_eq!(
            scrub_secret(b"a hunter22 b hunter22", "hunter22"),
            b"a <redacted> b <redacted>"
        );
        assert_eq!(
            scrub_secret(b"output ends in hunt", "hunter22"),
            b"output ends in <redacted>"
        );
        assert_eq!(
            scrub_secret(b"hun", "hunter22"),
            b"hun",
            "too short to say anything"
        );
        assert_eq!(scrub_secret(b"x", "abc"), b"x");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailbeat_sdk::{Account, Protocol, Status, TlsMode};

    fn plugin(command: &[&str]) -> ExecPlugin {
        ExecPlugin {
            name: "t".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            timeout: None,
            env: BTreeMap::new(),
            secret: ExecSecret::None,
            version: None,
        }
    }

    fn target(port: Option<u16>) -> Target {
        Target {
            name: "tgt".into(),
            protocol: port.map(|_| Protocol::Imap),
            host: "[::1]".into(),
            port,
            tls: TlsMode::None,
            tls_server_name: None,
            ca_file: None,
            source_address: None,
            provider: None,
            account: Some(Account {
                username: "u@example.com".into(),
                mechanism: None,
                oauth: false,
                token_store: false,
            }),
            labels: BTreeMap::new(),
            migration_domain: None,
        }
    }

    fn args_of(p: &ExecProbe, t: &Target, o: serde_json::Value) -> Result<String, String> {
        // The command is only visible through a run; configure's errors are what matter here.
        p.configure(t, &o).map(|_| String::new()).map_err(|e| e.0)
    }

    #[test]
    fn substitution() {
        let mut used = Vec::new();
        let s = substitute("-H{host}:{port} {x y} {} {", |k| {
            used.push(k.to_string());
            Ok(format!("<{k}>"))
        })
        .unwrap();
        assert_eq!(s, "-H<host>:<port> {x y} {} {");
        assert_eq!(used, ["host", "port"]);
    }

    #[test]
    fn configure_refuses_what_cannot_be_filled() {
        let p = ExecProbe::new(plugin(&["/bin/true", "{host}", "{port}"]));
        assert!(args_of(&p, &target(Some(143)), serde_json::Value::Null).is_ok());
        let e = args_of(&p, &target(None), serde_json::Value::Null).unwrap_err();
        assert!(e.contains("has no port"), "{e}");
        let p = ExecProbe::new(plugin(&["/bin/true", "{nope}"]));
        let e = args_of(&p, &target(Some(1)), serde_json::Value::Null).unwrap_err();
        assert!(e.contains("neither a target value"), "{e}");
        let ok = args_of(&p, &target(Some(1)), serde_json::json!({"nope": 5}));
        assert!(ok.is_ok(), "{ok:?}");
        let e = args_of(
            &p,
            &target(Some(1)),
            serde_json::json!({"nope": 5, "typo": 1}),
        )
        .unwrap_err();
        assert!(e.contains("unknown option \"typo\""), "{e}");
        let e = args_of(&p, &target(Some(1)), serde_json::json!({"host": "x"})).unwrap_err();
        assert!(e.contains("target value"), "{e}");
    }

    #[test]
    fn env_expansion() {
        let path = std::env::var("PATH").unwrap();
        assert_eq!(expand_env("a${PATH}b").unwrap(), format!("a{path}b"));
        assert_eq!(expand_env("plain").unwrap(), "plain");
        assert!(expand_env("${MB_EXEC_TEST_UNSET}")
            .unwrap_err()
            .contains("MB_EXEC_TEST_UNSET"));
    }

    #[tokio::test]
    async fn runs_a_program_and_reads_its_status() {
        let p = ExecProbe::new(plugin(&[
            "/bin/sh",
            "-c",
            "echo 'WARNING - {target} on {host} | t=5ms'; exit 1",
        ]));
        let t = target(Some(143));
        let check = p.configure(&t, &serde_json::Value::Null).unwrap();
        let ctx = ProbeContext::new(
            Duration::from_secs(30),
            Arc::new(rustls::RootCertStore::empty()),
        );
        let r = check.run(&t, &ctx).await;
        assert_eq!(r.status, Status::Warning, "{r:?}");
        assert_eq!(r.message, "WARNING - tgt on ::1");
        assert!((r.samples[0].value - 0.005).abs() < 1e-12);
    }

    #[tokio::test]
    async fn the_checks_deadline_cuts_a_longer_plugin_timeout_short() {
        let mut pl = plugin(&["/bin/sleep", "1000"]);
        pl.timeout = Some(Duration::from_secs(3600));
        let p = ExecProbe::new(pl);
        let t = target(None);
        let check = p.configure(&t, &serde_json::Value::Null).unwrap();
        let ctx = ProbeContext::new(
            Duration::from_millis(200),
            Arc::new(rustls::RootCertStore::empty()),
        );
        let r = check.run(&t, &ctx).await;
        assert_eq!(
            (r.status, r.reason),
            (Status::Unknown, Some(Reason::PluginError))
        );
        assert!(
            r.message.contains("ran past the check's deadline"),
            "{}",
            r.message
        );
    }

    #[tokio::test]
    async fn a_missing_program_is_a_plugin_error() {
        let p = ExecProbe::new(plugin(&["/nonexistent/check_x"]));
        let t = target(None);
        let check = p.configure(&t, &serde_json::Value::Null).unwrap();
        let ctx = ProbeContext::new(
            Duration::from_secs(30),
            Arc::new(rustls::RootCertStore::empty()),
        );
        let r = check.run(&t, &ctx).await;
        assert_eq!(
            (r.status, r.reason),
            (Status::Unknown, Some(Reason::PluginError))
        );
        assert!(r.message.contains("cannot run"), "{}", r.message);
    }
}
