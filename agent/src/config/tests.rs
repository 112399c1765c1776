//! One fixture per validation rule, each with the exact message a user sees
//! (`testdata/invalid-*.yml`).

use super::*;
use mailbeat_sdk::{Probe, TlsMode};
use std::path::Path;

pub(super) fn probes() -> Vec<Arc<dyn Probe>> {
    mailbeat_probes::builtin()
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config/testdata")
}

fn load_fixture(name: &str) -> Result<Config, ConfigError> {
    load(&testdata().join(name), &probes())
}

pub(super) fn error_of(name: &str) -> String {
    let err = load_fixture(name).expect_err(name).to_string();
    let prefix = format!("{}", testdata().join(name).display());
    err.replace(&prefix, name)
}

#[test]
fn each_invalid_fixture_gives_its_exact_message() {
    for (fixture, expected) in INVALID_CASES {
        let err = error_of(fixture);
        assert!(
            err.contains(expected),
            "{fixture}:\n got: {err}\nwant: {expected}"
        );
    }
    // The CA file is named by its full path, which differs from machine to machine.
    let err = error_of("invalid-ca-file.yml");
    assert!(
        err.contains("testdata/empty.pem holds no certificate"),
        "{err}"
    );
}

/// Each `invalid-*.yml` fixture and the message it must give.
const INVALID_CASES: &[(&str, &str)] = &[
        ("invalid-unknown-key.yml", "invalid-unknown-key.yml:4:5: targets[0].hots: unknown field `hots`, expected one of name, provider, protocol, host, port, tls, tls_server_name, ca_file, source_address, system_roots, migration_domain, account, probes, schedule, every, timeout, labels"),
        ("invalid-duplicate-key.yml", "invalid-duplicate-key.yml:5:5: targets[0].host: duplicate mapping key: host\n"),
        ("invalid-duplicate-target.yml", "invalid-duplicate-target.yml:7:11: targets[1].name: duplicate target name \"a\" (first defined at line 2)"),
        ("invalid-port-zero.yml", "invalid-port-zero.yml:5:11: targets[0].port: port must be between 1 and 65535"),
        ("invalid-port-range.yml", "invalid-port-range.yml:5:11: targets[0].port: must be a whole number between 1 and 65535"),
        ("invalid-cron.yml", "invalid-cron.yml:2:13: global.schedule: cron expression \"0 0 9 * * 1\" has 6 fields; use the standard 5 (minute hour day-of-month month day-of-week)"),
        ("invalid-duration.yml", "invalid-duration.yml:2:12: global.timeout: invalid duration \"fast\" (expected number at 0); write e.g. 30s, 5m, 1h"),
        ("invalid-duration-too-long.yml", "invalid-duration-too-long.yml:2:12: global.timeout: must be at most 365d"),
        ("invalid-missing-secret.yml", "invalid-missing-secret.yml:7:22: targets[0].account.password_file: cannot read password_file "),
        ("invalid-inline-secret.yml", "invalid-inline-secret.yml:7:17: targets[0].account.password: inline secrets are not allowed; use a *_file key or ${ENV_VAR} (or set global.allow_inline_secrets: true)"),
        ("invalid-env-unset.yml", "invalid-env-unset.yml:7:17: targets[0].account.password: environment variable MAILBEAT_TEST_SURELY_UNSET is not set"),
        ("invalid-provider.yml", "invalid-provider.yml:3:15: targets[0].provider: unknown provider \"hotmale\"; one of gmail, office365, outlook, yahoo, zoho, icloud, netease, custom"),
        ("invalid-protocol.yml", "invalid-protocol.yml:3:15: targets[0].protocol: unknown protocol \"ftp\"; one of imap, pop3, smtp"),
        ("invalid-tls-mode.yml", "invalid-tls-mode.yml:5:10: targets[0].tls: unknown TLS mode \"maybe\"; one of implicit, starttls, none"),
        ("invalid-unknown-probe.yml", "invalid-unknown-probe.yml:5:20: targets[0].probes[1]: unknown probe \"tsl\"; one of port, tls, auth, delivery"),
        ("invalid-probe-option.yml", "invalid-probe-option.yml:6:9: targets[0].probes[0].port: unknown field `greting`, expected `greeting`"),
        ("invalid-delivery-via.yml", "invalid-delivery-via.yml:2:11: targets[0].probes[0].delivery.via: target \"other-relay\" speaks smtp; it must be a mailbox target (imap) that reads the recipient's mail"),
        ("invalid-probe-every.yml", "invalid-probe-every.yml:7:9: targets[0].probes[0].delivery.every: \"soon\" is not a duration like 1h: expected number at 0"),
        ("invalid-no-host.yml", "invalid-no-host.yml:2:11: targets[0].host: missing (or set a provider)"),
        ("invalid-schedule-both.yml", "invalid-schedule-both.yml:5:15: targets[0].schedule: set either `schedule` (cron) or `every`, not both"),
        ("invalid-webhook-event.yml", "invalid-webhook-event.yml:5:9: webhooks[0].events[0]: unknown event \"reauth\"; one of reauth_required, alert_firing, alert_resolved"),
        ("invalid-ca-file.yml", "invalid-ca-file.yml:5:14: targets[0].ca_file: CA file "),
        ("invalid-tls-server-name.yml", "invalid-tls-server-name.yml:5:22: targets[0].tls_server_name: \"imap example.com\" is not a DNS name or IP address"),
        ("invalid-source-address.yml", "invalid-source-address.yml:5:21: targets[0].source_address: \"eth0\" is not an IP address"),
        ("invalid-mechanism.yml", "invalid-mechanism.yml:8:18: targets[0].account.mechanism: unknown mechanism \"cram-md5\"; one of plain, login, xoauth2, oauthbearer"),
        ("invalid-label.yml", "invalid-label.yml:2:11: targets[0].labels.target: not a valid or free Prometheus label name"),
        ("invalid-no-protocol.yml", "invalid-no-protocol.yml:2:11: targets[0].protocol: missing (imap, pop3 or smtp)"),
        ("invalid-migration-domain.yml", "invalid-migration-domain.yml:7:17: targets[0].account.username: \"admin@contoso.onmicrosoft.com\" is in domain contoso.onmicrosoft.com, not the migration domain example.com: this is the classic migration failure, a Microsoft 365 admin (or migration account) of another domain"),
        ("invalid-no-protocol-for-a-mail-probe.yml", "invalid-no-protocol-for-a-mail-probe.yml:5:14: targets[0].probes[0].port: the port probe needs a mail target: set protocol (imap, pop3 or smtp)"),
];

/// A probe that checks any target, mail or not (what a plugin is).
struct AnyTarget;

impl Probe for AnyTarget {
    fn name(&self) -> &str {
        "anything"
    }
    fn configure(
        &self,
        _target: &mailbeat_sdk::Target,
        _options: &serde_json::Value,
    ) -> Result<Arc<dyn mailbeat_sdk::Check>, mailbeat_sdk::OptionsError> {
        Err(mailbeat_sdk::OptionsError::new(
            "configured (a test stops here)",
        ))
    }
}

#[test]
fn a_target_without_a_mail_protocol_reaches_the_probes_it_lists() {
    let yaml = "targets:\n  - {name: ews, host: mail.example.com, probes: [anything]}\n";
    let probes: Vec<Arc<dyn Probe>> = vec![Arc::new(AnyTarget)];
    let err = parse(yaml, "t.yml", Path::new("."), &probes)
        .unwrap_err()
        .to_string();
    // The probe was asked, with a target that has neither protocol nor port.
    assert!(
        err.contains("targets[0].probes[0].anything: configured (a test stops here)"),
        "{err}"
    );
}

#[test]
fn a_probe_may_carry_its_own_every_and_delivery_runs_hourly_by_default() {
    let yaml = "global: {every: 1m}
targets:
  - name: relay
    protocol: smtp
    host: smtp.example.com
    account: {username: nas@example.com, password_file: pw.txt}
    probes: [auth, {delivery: {to: oncall@example.com, via: inbox}}]
  - name: relay2
    protocol: smtp
    host: smtp.example.com
    account: {username: nas@example.com, password_file: pw.txt}
    probes: [{auth: {every: 10m}}, {delivery: {to: oncall@example.com, via: inbox, every: 6h}}]
  - name: inbox
    protocol: imap
    host: imap.example.com
    account: {username: oncall@example.com, password_file: pw.txt}
";
    let c = parse(yaml, "e.yml", &testdata(), &probes()).unwrap();
    let every = |t: usize, p: usize| {
        let tc = &c.targets[t];
        tc.probes[p].schedule_in(tc).clone()
    };
    let minutes = |m: u64| Schedule::Every(Duration::from_secs(60 * m));
    assert_eq!(every(0, 0), minutes(1), "the target's schedule");
    assert_eq!(every(0, 1), minutes(60), "delivery's default");
    assert_eq!(every(1, 0), minutes(10));
    assert_eq!(every(1, 1), minutes(360));
    // `every` is the agent's: the probe's options no longer carry it.
    assert!(c.targets[1].probes[0].options.is_null());
    assert!(c.targets[1].probes[1].options.get("every").is_none());
    // The via target is resolved, without its own probes.
    let via = c.targets[0].probes[1].via.as_ref().expect("via resolved");
    assert_eq!(via.target.name, "inbox");
    assert!(via.probes.is_empty());
}

#[test]
fn every_fixture_has_a_case() {
    let n = std::fs::read_dir(testdata())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("invalid-") && !name.starts_with("invalid-many"));
    for name in n {
        assert!(
            INVALID_CASES.iter().any(|(f, _)| *f == name),
            "add a case for {name} to INVALID_CASES"
        );
    }
}

/// Seen reading the scheduler, shown with the `config` fuzz target (whose harness computes what
/// the scheduler and a check do with a loaded config): `every: 1000000y` passed validation and
/// the scheduler panicked on its first slot (`DateTime + TimeDelta` overflowed);
/// `timeout: 500000000000y` made every check panic on its deadline (`Instant` overflow). The
/// longest durations a config may give still run.
#[test]
fn the_longest_durations_a_config_may_give_are_safe_to_run() {
    let text = "global: {timeout: 365d, every: 365d, spread: 365d}\n\
                targets:\n  - {name: a, protocol: smtp, host: a.example.com, probes: [port]}\n";
    let config = parse(text, "long.yml", &testdata(), &probes()).unwrap_or_else(|e| panic!("{e}"));
    let tc = &config.targets[0];
    let _ = mailbeat_sdk::ProbeContext::new(tc.timeout, tc.roots.clone());
    let now = chrono::Utc::now();
    let after = now + chrono::Duration::from_std(tc.schedule.interval(now) / 2).unwrap();
    assert!(tc
        .schedule
        .next_run(after, 0.999, config.global.spread)
        .is_some());

    for key in ["timeout: 366d", "every: 1000000y", "spread: 500000000000y"] {
        let text = format!("global: {{{key}}}\n");
        let err = parse(&text, "long.yml", &testdata(), &probes()).unwrap_err();
        assert!(
            err.to_string().contains("must be at most 365d"),
            "{key}: {err}"
        );
    }
}

#[test]
fn presets_fill_host_port_and_tls() {
    let c = load_fixture("valid-presets.yml").unwrap();
    let t = |name: &str| {
        &c.targets
            .iter()
            .find(|t| t.target.name == name)
            .unwrap()
            .target
    };
    let gmail = t("nas-gmail");
    assert_eq!(
        (gmail.host.as_str(), gmail.port, gmail.tls),
        ("smtp.gmail.com", Some(465), TlsMode::Implicit)
    );
    assert!(gmail.account.as_ref().unwrap().oauth);
    let o365 = t("o365-smtp");
    assert_eq!(
        (o365.host.as_str(), o365.port, o365.tls),
        ("smtp.office365.com", Some(587), TlsMode::Starttls)
    );
    let inferred = t("internal");
    assert_eq!(
        (inferred.port, inferred.tls),
        (Some(143), TlsMode::Starttls)
    );
    assert_eq!(inferred.verify_name(), "imap.example.com");
    let plain = t("relay");
    assert_eq!((plain.port, plain.tls), (Some(25), TlsMode::None));
}

#[test]
fn a_mechanism_is_kept_in_its_configured_spelling() {
    for (written, kept) in [
        ("PLAIN", "plain"),
        (" XOAuth2 ", "xoauth2"),
        ("user", "login"),
    ] {
        let oauth = if kept == "xoauth2" {
            "oauth: {client_id: c, access_token_file: token.txt}"
        } else {
            "password_file: pw.txt"
        };
        let text = format!(
            "targets:\n  - name: a\n    protocol: pop3\n    host: x\n    account: {{username: u, mechanism: \"{written}\", {oauth}}}\n"
        );
        let c = parse(&text, "m.yml", &testdata(), &probes()).unwrap_or_else(|e| panic!("{e}"));
        let account = c.targets[0].target.account.as_ref().unwrap();
        assert_eq!(account.mechanism.as_deref(), Some(kept), "{written}");
    }
}

#[test]
fn defaults_and_probe_options_merge() {
    let c = load_fixture("valid-presets.yml").unwrap();
    assert_eq!(c.global.timeout, Duration::from_secs(10));
    assert_eq!(c.global.concurrency, 8);
    let internal = c
        .targets
        .iter()
        .find(|t| t.target.name == "internal")
        .unwrap();
    let names: Vec<&str> = internal.probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["port", "tls", "auth"], "default probe list");
    let relay = c.targets.iter().find(|t| t.target.name == "relay").unwrap();
    assert_eq!(
        relay.probes[0].options,
        serde_json::json!({"greeting": false})
    );
    assert_eq!(relay.schedule, Schedule::Every(Duration::from_secs(60)));
    assert_eq!(internal.schedule, Schedule::cron("*/5 * * * *").unwrap());
}

#[test]
fn the_example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/mailbeat.example.yaml");
    let c = load(&path, &probes()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.targets.is_empty());
}

/// Loads `yaml` (written in a temporary directory with a secret file `s` beside it).
fn oauth_config(oauth: &str, extra_global: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s"), "secret-value\n").unwrap();
    std::fs::write(dir.path().join("short"), "too short\n").unwrap();
    let yaml = format!(
        "global: {{{extra_global}}}\ntargets:\n  - name: nas\n    provider: office365\n    protocol: smtp\n    account:\n      username: nas@example.com\n      oauth: {oauth}\n"
    );
    parse(&yaml, "o.yml", dir.path(), &probes())
}

#[test]
fn a_managed_oauth_account_gets_the_provider_of_its_preset_and_its_mail_scope() {
    let c = oauth_config(
        "{client_id: app-1, client_secret_file: s, tenant: organizations}",
        "",
    )
    .unwrap();
    let t = &c.targets[0];
    let o = t.oauth.as_ref().expect("managed");
    assert_eq!(o.provider, crate::oauth::ProviderKind::Microsoft);
    assert_eq!(
        o.token, "nas",
        "the token set defaults to the target's name"
    );
    assert_eq!(
        o.endpoints.token_url,
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
    );
    assert!(o.scopes.iter().any(|s| s.ends_with("SMTP.Send")));
    assert!(
        t.secret.is_none(),
        "no static secret: the store has the token"
    );
    assert!(t.target.account.as_ref().unwrap().token_store);
}

#[test]
fn oauth_mistakes_are_named() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "{provider: yahoo, client_id: a}",
            "",
            "unknown OAuth provider \"yahoo\"",
        ),
        (
            "{provider: generic, client_id: a}",
            "",
            "a generic provider is known only by its URLs",
        ),
        ("{client_secret_file: s}", "", "oauth.client_id: missing"),
        (
            "{client_id: a, token_url: \"http://idp.example/token\"}",
            "",
            "token_url: must be an https:// URL",
        ),
        (
            "{client_id: a, access_token_file: s, refresh_token_file: s}",
            "",
            "exclude each other",
        ),
        (
            "{client_id: a, refresh_token_lifetime: forever}",
            "",
            "refresh_token_lifetime: invalid duration",
        ),
        (
            "{client_id: a}",
            "state_key_file: short",
            "fewer than 32 bytes of key material",
        ),
    ];
    for (oauth, global, want) in cases {
        let err = oauth_config(oauth, global).expect_err(oauth).to_string();
        assert!(err.contains(want), "{oauth}: {err}");
        assert!(!err.contains("secret-value"), "{err}");
    }
    // A loopback URL may be plain http (a local IdP); a generic provider with its URLs loads.
    let c = oauth_config(
        "{provider: generic, client_id: a, scopes: [mail], token_url: \"http://127.0.0.1:9/token\"}",
        "",
    )
    .unwrap();
    assert_eq!(
        c.targets[0].oauth.as_ref().unwrap().endpoints.token_url,
        "http://127.0.0.1:9/token"
    );
}

#[test]
fn alert_rules_merge_over_the_built_in_ones_and_mistakes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let base = "targets:\n  - {name: a, protocol: imap, host: x, tls: none, probes: [port]}\n";
    let yaml = format!(
        "alerts:\n  - {{name: MailTargetUnreachable, for: 1m}}\n  - {{name: Mine, match: {{probes: [auth], reasons: [auth_bad_credentials]}}, severity: warning}}\n{base}"
    );
    let c = parse(&yaml, "a.yml", dir.path(), &probes()).unwrap();
    let unreachable = c
        .alerts
        .iter()
        .find(|r| r.name == "MailTargetUnreachable")
        .unwrap();
    assert_eq!(unreachable.for_, std::time::Duration::from_secs(60));
    assert_eq!(
        unreachable.probes,
        ["port"],
        "what a tuning rule does not say stays the built-in's"
    );
    let mine = c.alerts.iter().find(|r| r.name == "Mine").unwrap();
    assert!(
        mine.reauth,
        "a rule on re-authorization reasons only sends reauth_required"
    );
    assert_eq!(mine.severity, "warning");
    for (bad, want) in [
        (
            "alerts:\n  - {name: X, match: {probes: [tsl]}}\n",
            "alerts[0].match.probes[0]: unknown probe \"tsl\"",
        ),
        (
            "alerts:\n  - {name: X, match: {reasons: [nope]}}\n",
            "alerts[0].match.reasons[0]: unknown reason \"nope\"",
        ),
        (
            "alerts:\n  - {name: X, match: {statuses: [bad]}}\n",
            "alerts[0].match.statuses[0]: unknown status \"bad\"",
        ),
        (
            "alerts:\n  - {name: \"bad name\"}\n",
            "alerts[0].name: must be a Prometheus-style alert name",
        ),
        (
            "webhooks:\n  - {name: w, url: \"https://h.example/x\", format: slack}\n",
            "webhooks[0].format: unknown format \"slack\"",
        ),
        (
            "webhooks:\n  - {name: w, url: \"ftp://h.example/x\"}\n",
            "webhooks[0].url: must be an http:// or https:// URL",
        ),
    ] {
        let err = parse(&format!("{bad}{base}"), "a.yml", dir.path(), &probes())
            .expect_err(bad)
            .to_string();
        assert!(err.contains(want), "{bad}: {err}");
    }
}

/// `migration_domain:` (DESIGN §11 "Plugins"): the account must be in it; on-premises Exchange
/// accounts may be written `LOGINDOMAIN\account@maildomain`.
fn migration(username: &str, domain: &str) -> Result<Config, ConfigError> {
    let text = format!(
        "targets:\n  - name: m\n    protocol: imap\n    host: mail.example.com\n    \
         migration_domain: {domain}\n    account:\n      username: '{username}'\n      \
         password_file: pw.txt\n"
    );
    parse(&text, "m.yml", &testdata(), &probes())
}

#[test]
fn migration_domain_accepts_accounts_of_the_domain() {
    for ok in [
        "alice@example.com",
        "Alice@EXAMPLE.COM",
        "CORP\\migration@example.com",
        "example\\admin@Example.com",
    ] {
        let config = migration(ok, "example.com").unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert_eq!(
            config.targets[0].target.migration_domain.as_deref(),
            Some("example.com")
        );
    }
    // A trailing dot on the domain is the same domain.
    migration("alice@example.com", "example.com.").unwrap();
}

#[test]
fn migration_domain_refuses_accounts_of_another_domain_with_what_to_do() {
    let err = migration("admin@contoso.onmicrosoft.com", "example.com")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("m.yml:7:17: targets[0].account.username: "),
        "{err}"
    );
    assert!(err.contains("classic migration failure"), "{err}");
    assert!(err.contains("Microsoft 365 admin"), "{err}");
    assert!(
        err.contains("use an admin or migration account in example.com"),
        "{err}"
    );

    let err = migration("CORP\\svc@corp.local", "example.com")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is in domain corp.local, not the migration domain example.com"),
        "{err}"
    );

    // A bare Windows logon has no mail domain to compare: say how to write it.
    let err = migration("CORP\\svc", "example.com")
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no mail domain"), "{err}");
    assert!(err.contains("LOGINDOMAIN\\account@example.com"), "{err}");

    let err = migration("a\\b\\c@example.com", "example.com")
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a login name"), "{err}");
}

#[test]
fn migration_domain_must_be_a_domain() {
    for bad in ["example", "10.0.0.1", "'exa mple.com'"] {
        let err = migration("a@example.com", bad).unwrap_err().to_string();
        assert!(
            err.contains("targets[0].migration_domain: "),
            "{bad}: {err}"
        );
        assert!(err.contains("is not a mail domain"), "{bad}: {err}");
    }
}
