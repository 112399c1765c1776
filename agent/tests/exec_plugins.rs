//! Exec (Nagios plugin API) plugins, black box: the built binary runs shell scripts this test
//! writes (and, with the real-server harness, Debian's own `check_tcp` and `check_imap`), and
//! their statuses and perfdata come out of `check --output json` and `/metrics`.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{mailbeat, wait_until};

/// Writes an executable shell script `name` into `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `mailbeat check --output json`: the exit code and the report.
fn check(config: &Path) -> (i32, serde_json::Value, String) {
    let out = mailbeat(&["check", "--output", "json"], config);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    (out.status.code().unwrap_or(-1), json, text)
}

/// The result of `target` in a report.
fn result_of<'a>(report: &'a serde_json::Value, target: &str) -> &'a serde_json::Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == target)
        .unwrap_or_else(|| panic!("no result for {target}: {report}"))
}

/// One `plugins.exec` entry running `path` with `args`.
fn exec_entry(name: &str, path: &Path, extra: &str) -> String {
    format!(
        "    - {{name: {name}, command: [{}, \"{{host}}\", \"{{target}}\"]{extra}}}\n",
        path.display()
    )
}

#[test]
fn exit_codes_and_perfdata_reach_check_plugins_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = script(
        d,
        "ok.sh",
        "echo \"OK - $1 $2 answers | time=12ms;100;200;0 'free space'=2KB;;;0;4\"\necho 'long output line'\nexit 0\n",
    );
    let warn = script(
        d,
        "warn.sh",
        "echo 'WARNING - slow | load=75%;70;90'\nexit 1\n",
    );
    let crit = script(d, "crit.sh", "echo 'CRITICAL - down | up=0c'\nexit 2\n");
    let unknown = script(d, "unknown.sh", "echo 'UNKNOWN - bad arguments'\nexit 3\n");
    let odd = script(d, "odd.sh", "echo 'what?'\nexit 9\n");
    let config = d.join("mailbeat.yaml");
    let mut yaml = String::from("plugins:\n  exec:\n");
    yaml += &format!(
        "    - {{name: check_ok, version: \"2.3\", command: [{}, \"{{host}}\", \"{{target}}\"]}}\n",
        ok.display()
    );
    for (name, path) in [
        ("check_warn", &warn),
        ("check_crit", &crit),
        ("check_unknown", &unknown),
        ("check_odd", &odd),
    ] {
        yaml += &exec_entry(name, path, "");
    }
    yaml += "targets:\n";
    for t in ["ok", "warn", "crit", "unknown", "odd"] {
        yaml += &format!(
            "  - {{name: t-{t}, host: 127.0.0.1, every: 1s, probes: [{{plugin: check_{t}}}]}}\n"
        );
    }
    std::fs::write(&config, yaml).unwrap();

    // `mailbeat plugins` lists them, kind exec, with the version and the program.
    let out = mailbeat(&["plugins", "--output", "json"], &config);
    assert!(out.status.success(), "{out:?}");
    let infos: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let info = infos
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "check_ok")
        .unwrap_or_else(|| panic!("{infos}"));
    assert_eq!(info["kind"], "exec");
    assert_eq!(info["version"], "2.3");
    assert_eq!(info["source"], ok.display().to_string());
    let warn_info = infos
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "check_warn")
        .unwrap();
    assert_eq!(warn_info["version"], "unknown");

    let (code, report, text) = check(&config);
    assert_eq!(code, 2, "worst is critical: {text}");
    let r = result_of(&report, "t-ok");
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["message"], "OK - 127.0.0.1 t-ok answers", "{r}");
    assert_eq!(r["details"]["long_output"], "long output line");
    let samples = r["samples"].as_array().unwrap();
    let time = samples
        .iter()
        .find(|s| s["name"] == "plugin_perfdata" && s["labels"]["label"] == "time")
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(time["labels"]["unit"], "seconds");
    assert_eq!(time["labels"]["plugin"], "check_ok");
    assert!((time["value"].as_f64().unwrap() - 0.012).abs() < 1e-9);
    let max = samples
        .iter()
        .find(|s| s["name"] == "plugin_perfdata_max" && s["labels"]["label"] == "free space")
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(max["value"], 4096.0);

    let expect = [
        ("t-warn", "warning", "unknown"),
        ("t-crit", "critical", "unknown"),
        ("t-unknown", "unknown", "plugin_error"),
        ("t-odd", "unknown", "plugin_error"),
    ];
    for (target, status, reason) in expect {
        let r = result_of(&report, target);
        assert_eq!(r["status"], status, "{r}");
        assert_eq!(r["reason"], reason, "{r}");
    }
    assert_eq!(result_of(&report, "t-warn")["message"], "WARNING - slow");
    // Not the agent's "could not classify the server's answer": the plugin's verdict stands.
    let advice = result_of(&report, "t-warn")["remediation"]
        .as_str()
        .unwrap();
    assert!(
        advice.contains("The plugin check_warn found this problem"),
        "{advice}"
    );
    assert!(result_of(&report, "t-odd")["message"]
        .as_str()
        .unwrap()
        .contains("exit code 9"));

    // The same through the scheduler and `/metrics`.
    let agent = support::start_agent(&config, d);
    let metrics = support::scrape_until(&agent, "mailbeat_plugin_perfdata{target=\"t-warn\"");
    let series = |s: &str| support::value(&metrics, s);
    assert_eq!(
        series("mailbeat_plugin_perfdata{target=\"t-ok\",label=\"time\",plugin=\"check_ok\",unit=\"seconds\"}"),
        Some(0.012),
        "{metrics}"
    );
    assert_eq!(
        series("mailbeat_plugin_perfdata{target=\"t-warn\",label=\"load\",plugin=\"check_warn\",unit=\"percent\"}"),
        Some(75.0)
    );
    assert_eq!(
        series("mailbeat_plugin_perfdata_critical{target=\"t-warn\",label=\"load\",plugin=\"check_warn\",unit=\"percent\"}"),
        Some(90.0)
    );
    assert!(metrics.contains("# HELP mailbeat_plugin_perfdata Performance data"));
    let m = support::scrape_until(
        &agent,
        "mailbeat_probe_status{target=\"t-crit\",probe=\"check_crit\",status=\"critical\",reason=\"unknown\"} 1",
    );
    assert!(
        m.contains("mailbeat_plugin_info{kind=\"exec\",name=\"check_ok\",version=\"2.3\"} 1"),
        "{m}"
    );
    if std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok()
    {
        support::promtool_check_metrics(&m);
    }
}

#[test]
fn a_megabyte_of_output_is_cut_not_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 1 MiB on stdout after a status line, and 1 MiB on stderr.
    let big = script(
        d,
        "big.sh",
        "echo 'OK - big | size=1048576B'\nhead -c 1048576 /dev/zero | tr '\\0' x\nhead -c 1048576 /dev/zero | tr '\\0' y >&2\nexit 0\n",
    );
    let config = d.join("mailbeat.yaml");
    std::fs::write(
        &config,
        format!(
            "plugins:\n  exec:\n{}targets:\n  - {{name: big, host: 127.0.0.1, probes: [{{plugin: check_big}}]}}\n",
            exec_entry("check_big", &big, "")
        ),
    )
    .unwrap();
    let (code, report, text) = check(&config);
    assert_eq!(code, 0, "{text}");
    let r = result_of(&report, "big");
    assert_eq!(r["status"], "ok", "{r}");
    let message = r["message"].as_str().unwrap();
    assert!(
        message.contains("stdout cut at 64 KiB of 1048601 bytes"),
        "{message}"
    );
    assert!(
        message.contains("stderr cut at 64 KiB of 1048576 bytes"),
        "{message}"
    );
    assert_eq!(r["details"]["stdout_truncated"], true);
    assert_eq!(r["samples"][0]["value"], 1048576.0);
    // What is kept is bounded: the whole report is far below the megabytes printed.
    assert!(text.len() < 256 * 1024, "report of {} bytes", text.len());
}

/// Whether process `pid` has gone (or is a zombie waiting for its new parent, init, to reap it:
/// it is dead and no longer the agent's to reap).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

#[test]
fn a_hung_plugin_and_its_child_are_killed_and_other_targets_keep_being_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pids = d.join("pids");
    // The script starts a child that would sleep for a quarter of an hour, then waits for it.
    let hang = script(
        d,
        "hang.sh",
        &format!(
            "sleep 1000 &\necho \"$$ $!\" >> {}\nwait\necho 'OK - never'\n",
            pids.display()
        ),
    );
    let fine = script(d, "fine.sh", "echo 'OK - fine | n=1'\nexit 0\n");
    let config = d.join("mailbeat.yaml");
    std::fs::write(
        &config,
        format!(
            "plugins:\n  exec:\n{}{}targets:\n  - {{name: hung, host: 127.0.0.1, every: 1h, probes: [{{plugin: check_hang}}]}}\n  - {{name: fine, host: 127.0.0.1, every: 1s, probes: [{{plugin: check_fine}}]}}\n",
            exec_entry("check_hang", &hang, ", timeout: 1s"),
            exec_entry("check_fine", &fine, ""),
        ),
    )
    .unwrap();

    let agent = support::start_agent(&config, d);
    let m = support::scrape_until(
        &agent,
        "mailbeat_probe_status{target=\"hung\",probe=\"check_hang\",status=\"unknown\",reason=\"plugin_error\"} 1",
    );
    let line = std::fs::read_to_string(&pids).unwrap();
    let ids: Vec<u32> = line
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "one run, the script and its child: {line}");
    assert!(
        wait_until(Duration::from_secs(10), || ids.iter().all(|&p| gone(p))),
        "script {} or its child {} still runs",
        ids[0],
        ids[1]
    );
    // The agent reaped its own child: not even a zombie is left of it.
    assert!(wait_until(Duration::from_secs(10), || !Path::new(
        &format!("/proc/{}", ids[0])
    )
    .exists()));
    let runs = |m: &str| {
        support::value(
            m,
            "mailbeat_probe_runs_total{target=\"fine\",probe=\"check_fine\",status=\"ok\"}",
        )
        .unwrap_or(0.0)
    };
    let before = runs(&m);
    let mut later = String::new();
    let more = wait_until(Duration::from_secs(15), || {
        later = support::http(agent.port, "GET", "/metrics").1;
        runs(&later) > before
    });
    assert!(more, "the other target was not checked again: {later}");

    // The one-shot `check` is held to the same limit.
    std::fs::remove_file(&pids).unwrap();
    let (code, report, text) = check(&config);
    assert_eq!(code, 3, "unknown is the worst: {text}");
    let r = result_of(&report, "hung");
    assert_eq!(r["reason"], "plugin_error", "{r}");
    let message = r["message"].as_str().unwrap();
    assert!(
        message.contains("ran past its timeout of 1s and was killed with its process group"),
        "{message}"
    );
    let line = std::fs::read_to_string(&pids).unwrap();
    for pid in line.split_whitespace().map(|p| p.parse::<u32>().unwrap()) {
        assert!(
            wait_until(Duration::from_secs(10), || gone(pid)),
            "{pid} still runs"
        );
    }
}

#[test]
fn what_a_finished_plugin_left_running_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pid = d.join("pid");
    // Exits at once, leaving a child that holds its stdout open.
    let leaves = script(
        d,
        "leaves.sh",
        &format!(
            "sleep 1000 &\necho $! > {}\necho 'OK - done'\nexit 0\n",
            pid.display()
        ),
    );
    let config = d.join("mailbeat.yaml");
    std::fs::write(
        &config,
        format!(
            "plugins:\n  exec:\n{}targets:\n  - {{name: t, host: 127.0.0.1, timeout: 1h, probes: [{{plugin: check_leaves}}]}}\n",
            exec_entry("check_leaves", &leaves, "")
        ),
    )
    .unwrap();
    // With a one-hour timeout, the check only ends because the child was killed (its stdout
    // closed), not by a time limit.
    let (code, report, text) = check(&config);
    assert_eq!(code, 0, "{text}");
    assert_eq!(result_of(&report, "t")["message"], "OK - done");
    let child: u32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || gone(child)),
        "{child} still runs"
    );
}

#[test]
fn the_secret_reaches_the_plugin_by_env_and_stdin_but_never_argv_nor_output() {
    const SECRET: &str = "s3cret-Exec-Plugin-7f2a";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("pw"), format!("{SECRET}\n")).unwrap();
    // Each script keeps what it got, and its own command line, in files the test reads.
    let by_env = script(
        d,
        "env.sh",
        &format!(
            "printf %s \"$MAILBEAT_SECRET\" > {d}/got-env\ntr '\\0' ' ' < /proc/$$/cmdline > {d}/cmdline-env\necho \"OK - user $3\"\n",
            d = d.display()
        ),
    );
    let by_stdin = script(
        d,
        "stdin.sh",
        &format!(
            "IFS= read -r s\nprintf %s \"$s\" > {d}/got-stdin\ntr '\\0' ' ' < /proc/$$/cmdline > {d}/cmdline-stdin\nprintf %s \"${{MAILBEAT_SECRET-unset}}\" > {d}/env-of-stdin\necho \"OK - user $3\"\n",
            d = d.display()
        ),
    );
    // A careless plugin that prints what it was given: the agent scrubs it from the result.
    let leaky = script(
        d,
        "leaky.sh",
        "IFS= read -r s\necho \"CRITICAL - login with $s refused | 'pw $s'=1\"\necho \"$s\" >&2\nexit 2\n",
    );
    let config = d.join("mailbeat.yaml");
    let entry = |name: &str, path: &Path, how: &str| {
        format!(
            "    - {{name: {name}, secret: {how}, command: [{}, \"{{host}}\", \"{{target}}\", \"{{username}}\"]}}\n",
            path.display()
        )
    };
    std::fs::write(
        &config,
        format!(
            "plugins:\n  exec:\n{}{}{}targets:\n  - {{name: e, host: 127.0.0.1, account: {{username: alice@example.com, password_file: pw}}, probes: [{{plugin: by_env}}]}}\n  - {{name: s, host: 127.0.0.1, account: {{username: alice@example.com, password_file: pw}}, probes: [{{plugin: by_stdin}}]}}\n  - {{name: l, host: 127.0.0.1, account: {{username: alice@example.com, password_file: pw}}, probes: [{{plugin: leaky}}]}}\n",
            entry("by_env", &by_env, "env"),
            entry("by_stdin", &by_stdin, "stdin"),
            entry("leaky", &leaky, "stdin"),
        ),
    )
    .unwrap();
    let (code, report, text) = check(&config);
    assert_eq!(code, 2, "the leaky one is critical: {text}");
    let leaked = result_of(&report, "l");
    assert_eq!(leaked["status"], "critical", "{leaked}");
    assert_eq!(
        leaked["message"], "CRITICAL - login with <redacted> refused",
        "{leaked}"
    );
    assert_eq!(
        result_of(&report, "e")["message"],
        "OK - user alice@example.com"
    );
    assert_eq!(
        result_of(&report, "s")["message"],
        "OK - user alice@example.com"
    );
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(read("got-env"), SECRET);
    assert_eq!(read("got-stdin"), SECRET);
    assert_eq!(
        read("env-of-stdin"),
        "unset",
        "stdin mode puts nothing in the environment"
    );
    for f in ["cmdline-env", "cmdline-stdin"] {
        let cmdline = read(f);
        assert!(cmdline.contains("alice@example.com"), "{cmdline}");
        assert!(
            !cmdline.contains(SECRET),
            "the secret is on the command line: {f}"
        );
    }
    assert!(
        !text.contains(SECRET),
        "the secret is in the output: {text}"
    );
}

#[test]
fn a_command_placeholder_the_target_cannot_fill_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(
        &config,
        "plugins:\n  exec:\n    - {name: needs_port, command: [/bin/true, \"{port}\"]}\ntargets:\n  - {name: noport, host: 127.0.0.1, probes: [{plugin: needs_port}]}\n",
    )
    .unwrap();
    let out = mailbeat(&["validate"], &config);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("the command of plugin needs_port uses {port}, but target noport has no port"),
        "{err}"
    );
}

/// The README's exec plugin, run as written (only its install path, host and port are this test's).
#[test]
fn the_readme_exec_plugin_runs_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme
        .split("### Exec plugins (Nagios API)")
        .nth(1)
        .expect("README has an exec plugins section");
    let block = |lang: &str| -> String {
        let start = section
            .find(&format!("```{lang}\n"))
            .unwrap_or_else(|| panic!("no {lang} block"));
        let body = &section[start + lang.len() + 4..];
        body[..body.find("```").unwrap()].to_string()
    };
    let script_text = block("sh");
    let yaml = block("yaml");
    const INSTALLED: &str = "/usr/local/lib/mailbeat/check_greeting";
    assert!(yaml.contains(INSTALLED), "{yaml}");

    // A server that greets like a mail server, on loopback.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::Write;
        for mut s in listener.incoming().flatten().take(16) {
            let _ = s.write_all(b"* OK [CAPABILITY IMAP4rev1] ready\r\n");
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = {
        use std::os::unix::fs::PermissionsExt;
        let p = d.join("check_greeting");
        std::fs::write(&p, &script_text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    };
    let yaml = yaml
        .replace(INSTALLED, &path.display().to_string())
        .replace("mail.example.com", "127.0.0.1")
        .replace("port: 143", &format!("port: {port}"));
    let config = d.join("mailbeat.yaml");
    std::fs::write(&config, &yaml).unwrap();
    let (code, report, text) = check(&config);
    assert_eq!(code, 0, "{yaml}\n{text}");
    let r = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["probe"] == "check_greeting")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(r["status"], "ok", "{r}");
    assert!(r["message"].as_str().unwrap().contains("* OK"), "{r}");
    assert!(r["samples"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["labels"]["label"] == "time" && s["labels"]["unit"] == "seconds"));
}

/// Debian's `check_tcp`, `check_imap` and `check_smtp` (monitoring-plugins-basic) run through
/// `plugins.exec` against the harness's Dovecot and Postfix, and against a closed port: each
/// result has the status the program's exit code means to Nagios (run directly here, too), so
/// ok on the open ports and critical on the closed one.
#[test]
#[ignore = "needs the real-server harness: run bash tests/run-all.sh"]
fn debian_nagios_plugins_give_the_status_nagios_would() {
    support::harness("MAILBEAT_TEST_USER", "alice@mail.test");
    const DIR: &str = "/usr/lib/nagios/plugins";
    let port = |var: &str| -> u16 {
        std::env::var(var)
            .unwrap_or_else(|_| panic!("{var} unset: source the harness's env.sh"))
            .parse()
            .unwrap()
    };
    let (imap, smtp, closed) = (
        port("MAILBEAT_A_IMAP_PORT"),
        port("MAILBEAT_POSTFIX_SMTP_PORT"),
        support::closed_port(),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mailbeat.yaml");
    let plugins = ["check_tcp", "check_imap", "check_smtp"];
    let mut yaml = String::from("plugins:\n  exec:\n");
    for p in plugins {
        yaml += &format!(
            "    - {{name: nagios_{p}, command: [{DIR}/{p}, -H, \"{{host}}\", -p, \"{{port}}\", -t, \"10\"], timeout: 15s}}\n"
        );
    }
    yaml += &format!(
        "targets:\n\
  - {{name: imap, protocol: imap, host: 127.0.0.1, port: {imap}, tls: starttls, probes: [{{plugin: nagios_check_tcp}}, {{plugin: nagios_check_imap}}]}}\n\
  - {{name: smtp, protocol: smtp, host: 127.0.0.1, port: {smtp}, tls: none, probes: [{{plugin: nagios_check_tcp}}, {{plugin: nagios_check_smtp}}]}}\n\
  - {{name: closed, protocol: imap, host: 127.0.0.1, port: {closed}, tls: none, probes: [{{plugin: nagios_check_tcp}}, {{plugin: nagios_check_imap}}]}}\n"
    );
    std::fs::write(&config, yaml).unwrap();
    let (_, report, text) = check(&config);
    let cases = [
        ("imap", "check_tcp", imap, "ok"),
        ("imap", "check_imap", imap, "ok"),
        ("smtp", "check_tcp", smtp, "ok"),
        ("smtp", "check_smtp", smtp, "ok"),
        ("closed", "check_tcp", closed, "critical"),
        ("closed", "check_imap", closed, "critical"),
    ];
    for (target, plugin, port, expected) in cases {
        // What Nagios would see: the same program, run directly.
        let direct = std::process::Command::new(format!("{DIR}/{plugin}"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string(), "-t", "10"])
            .output()
            .unwrap();
        let nagios = match direct.status.code() {
            Some(0) => "ok",
            Some(1) => "warning",
            Some(2) => "critical",
            _ => "unknown",
        };
        assert_eq!(nagios, expected, "{plugin} on {port} directly: {direct:?}");
        let r = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"] == target && r["probe"] == format!("nagios_{plugin}"))
            .unwrap_or_else(|| panic!("no {plugin} result for {target}: {text}"));
        assert_eq!(r["status"], nagios, "{target} {plugin}: {r}");
        let first_line = String::from_utf8_lossy(&direct.stdout);
        let first_word = first_line.split_whitespace().next().unwrap_or("");
        assert!(
            r["message"].as_str().unwrap().starts_with(first_word),
            "{r} vs {first_line}"
        );
        if expected == "ok" {
            // check_tcp / check_imap / check_smtp report `time=…s` as perfdata.
            assert!(
                r["samples"].as_array().is_some_and(|s| s.iter().any(|s| {
                    s["name"] == "plugin_perfdata"
                        && s["labels"]["label"] == "time"
                        && s["labels"]["unit"] == "seconds"
                })),
                "{r}"
            );
        }
    }
}
