//! One target: provider preset, protocol, TLS mode and port, host, account and mechanism,
//! labels, `tls_server_name`, `source_address`, and its probes with their options.

use super::oauth::{OauthContext, OauthSource};
use super::presets::{self, PROVIDERS};
use super::raw::{RawAccount, RawProbe, RawTarget};
use super::validator::{loc, Validator};
use super::{Global, OauthAccount, ProbeConfig, SecretSource, TargetConfig};
use crate::guard::BackoffOptions;
use mailbeat_sdk::{login, Account, Protocol, SaslMechanism, Target, TlsMode};
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

impl Validator<'_> {
    /// One target, resolved: presets applied, defaults filled, every field checked. `None` when
    /// anything about it was wrong (the problems say what).
    pub(super) fn target(
        &mut self,
        t: &RawTarget,
        key: &str,
        global: &Global,
        defaults: &BTreeMap<String, serde_json::Value>,
        allow_inline: bool,
    ) -> Option<TargetConfig> {
        let name = t.name.value.trim().to_string();
        let before = self.problems.len();
        if name.is_empty() || name.chars().any(char::is_control) {
            self.problem(
                loc(&t.name),
                format!("{key}.name"),
                "must be a non-empty name without control characters",
            );
        }
        let provider = match &t.provider {
            Some(p) => match presets::canonical(&p.value) {
                Some(c) => Some(c),
                None => {
                    self.problem(
                        loc(p),
                        format!("{key}.provider"),
                        format!(
                            "unknown provider {:?}; one of {}",
                            p.value,
                            PROVIDERS.join(", ")
                        ),
                    );
                    None
                }
            },
            None => None,
        };
        let protocol = match &t.protocol {
            Some(p) => match p.value.to_ascii_lowercase().as_str() {
                "imap" => Some(Protocol::Imap),
                "pop3" | "pop" => Some(Protocol::Pop3),
                "smtp" | "submission" => Some(Protocol::Smtp),
                other => {
                    self.problem(
                        loc(p),
                        format!("{key}.protocol"),
                        format!("unknown protocol {other:?}; one of imap, pop3, smtp"),
                    );
                    None
                }
            },
            // A target checked only by the probes it lists (plugins: an EWS URL, a Nagios
            // check) needs no mail protocol; a probe that does says so when it is configured.
            None if t.probes.is_some() => None,
            None => {
                self.problem(
                    loc(&t.name),
                    format!("{key}.protocol"),
                    "missing (imap, pop3 or smtp)",
                );
                None
            }
        };
        let protocol_given = t.protocol.is_some();
        let tls = match &t.tls {
            Some(v) => match v.value.to_ascii_lowercase().as_str() {
                "implicit" | "tls" | "ssl" => Some(TlsMode::Implicit),
                "starttls" => Some(TlsMode::Starttls),
                "none" | "plain" => Some(TlsMode::None),
                other => {
                    self.problem(
                        loc(v),
                        format!("{key}.tls"),
                        format!("unknown TLS mode {other:?}; one of implicit, starttls, none"),
                    );
                    None
                }
            },
            None => None,
        };
        if let Some(p) = &t.port {
            if p.value == 0 {
                self.problem(
                    loc(p),
                    format!("{key}.port"),
                    "port must be between 1 and 65535",
                );
            }
        }
        if protocol_given && protocol.is_none() {
            return None;
        }
        let preset = provider
            .zip(protocol)
            .and_then(|(p, m)| presets::endpoint(p, m));
        if provider.is_some() && provider != Some("custom") && preset.is_none() && t.host.is_none()
        {
            self.problem(
                loc(&t.name),
                format!("{key}.host"),
                format!(
                    "provider {} has no {} endpoint; set host",
                    provider.unwrap_or_default(),
                    protocol.map(|p| p.as_str()).unwrap_or("mail")
                ),
            );
        }
        let host = match (&t.host, preset) {
            (Some(h), _) if h.value.trim().is_empty() => {
                self.problem(loc(h), format!("{key}.host"), "must not be empty");
                None
            }
            (Some(h), _) => Some(h.value.trim().to_string()),
            (None, Some(p)) => Some(p.host.to_string()),
            (None, None) => {
                self.problem(
                    loc(&t.name),
                    format!("{key}.host"),
                    "missing (or set a provider)",
                );
                None
            }
        };
        let port = t.port.as_ref().map(|p| p.value).or_else(|| {
            // A preset's port only applies with the preset's TLS mode (or none given).
            preset
                .filter(|p| tls.is_none_or(|m| m == p.tls))
                .map(|p| p.port)
        });
        let tls = tls
            .or_else(|| port.and_then(presets::tls_for_port))
            .or(preset.map(|p| p.tls))
            .unwrap_or(TlsMode::Implicit);
        let port = port.or_else(|| protocol.map(|p| presets::default_port(p, tls)));

        let ca_file = t.ca_file.as_ref().and_then(|f| self.ca_file(f, key));

        let (account, secret, oauth) = match &t.account {
            Some(a) => {
                let cx = OauthContext {
                    target: &name,
                    username: &a.username,
                    preset: provider,
                    protocol,
                    global,
                    allow_inline,
                };
                let (account, secret, oauth) = self.account(a, &format!("{key}.account"), &cx);
                (Some(account), secret, oauth)
            }
            None => (None, None, None),
        };

        for label in t.labels.keys() {
            let valid = label
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !label.starts_with("__");
            let reserved = [
                "target", "protocol", "host", "port", "tls", "provider", "account",
            ];
            if !valid || reserved.contains(&label.as_str()) {
                self.problem(
                    loc(&t.name),
                    format!("{key}.labels.{label}"),
                    "not a valid or free Prometheus label name",
                );
            }
        }

        if let Some(n) = &t.tls_server_name {
            let name = mailbeat_sdk::target::bare_host(&n.value);
            if rustls::pki_types::ServerName::try_from(name).is_err() {
                self.problem(
                    loc(n),
                    format!("{key}.tls_server_name"),
                    format!("{:?} is not a DNS name or IP address", n.value),
                );
            }
        }

        let source_address = t.source_address.as_ref().and_then(|a| {
            let parsed = a.value.trim().parse::<std::net::IpAddr>();
            if parsed.is_err() {
                self.problem(
                    loc(a),
                    format!("{key}.source_address"),
                    format!("{:?} is not an IP address", a.value),
                );
            }
            parsed.ok()
        });

        let migration_domain = t
            .migration_domain
            .as_ref()
            .and_then(|d| self.migration_domain(d, t.account.as_deref(), key));

        let target = Target {
            name: name.clone(),
            protocol,
            host: host?,
            port,
            tls,
            tls_server_name: t.tls_server_name.as_ref().map(|n| n.value.clone()),
            ca_file: ca_file.as_ref().map(|(p, _)| p.clone()),
            source_address,
            provider: provider.map(str::to_string),
            account,
            labels: t.labels.clone(),
            migration_domain: migration_domain.clone(),
        };

        let probes = self.probes_of(t, key, &target, defaults);
        let schedule = self
            .schedule(t.schedule.as_ref(), t.every.as_ref(), &format!("{key}."))
            .unwrap_or_else(|| global.schedule.clone());
        let timeout = t
            .timeout
            .as_ref()
            .and_then(|d| self.duration(d, &format!("{key}.timeout")))
            .unwrap_or(global.timeout);
        let roots = self.roots(
            t.system_roots.as_ref(),
            key,
            global,
            ca_file.map(|(_, certs)| certs),
        );
        if self.problems.len() > before {
            return None;
        }
        Some(TargetConfig {
            target,
            probes,
            schedule,
            timeout,
            secret,
            oauth,
            roots,
        })
    }

    /// Resolves every check's companion target (the delivery probe's `via`): it must be another
    /// configured target that speaks one of the protocols the check names. The check gets a copy
    /// of it without its own probes.
    pub(super) fn companions(
        &mut self,
        targets: &mut [TargetConfig],
        places: &HashMap<String, (usize, (u64, u64))>,
    ) {
        // Only the named companions are copied and only checks that have one look anything up:
        // at 100,000 targets a copy of every target and a scan of the list per target took
        // minutes and hundreds of MiB, for a config with no delivery probe at all.
        let wanted: HashSet<String> = targets
            .iter()
            .flat_map(|t| t.probes.iter())
            .filter_map(|p| p.check.companion().map(|c| c.target))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let by_name: HashMap<String, TargetConfig> = targets
            .iter()
            .filter(|t| wanted.contains(&t.target.name))
            .map(|t| {
                let mut copy = t.clone();
                copy.probes.clear();
                (t.target.name.clone(), copy)
            })
            .collect();
        for (ti, tc) in targets.iter_mut().enumerate() {
            if tc.probes.iter().all(|p| p.check.companion().is_none()) {
                continue;
            }
            let name = tc.target.name.clone();
            let found = places.get(name.as_str()).copied();
            let at = found.map_or((0, 0), |(_, at)| at);
            let key = found.map_or(ti, |(i, _)| i);
            for (pi, pc) in tc.probes.iter_mut().enumerate() {
                let Some(c) = pc.check.companion() else {
                    continue;
                };
                let pkey = format!("targets[{key}].probes[{pi}].{}.{}", pc.name, c.option);
                let Some(via) = by_name.get(&c.target) else {
                    let exists = places.contains_key(c.target.as_str());
                    let message = if exists {
                        format!("target {:?} has problems of its own (see above)", c.target)
                    } else {
                        format!(
                            "no target named {:?}; name the target that reads the recipient's mailbox",
                            c.target
                        )
                    };
                    self.problem(at, pkey, message);
                    continue;
                };
                let speaks = via
                    .target
                    .protocol
                    .is_some_and(|p| c.protocols.contains(&p));
                if !speaks {
                    let wanted: Vec<&str> = c.protocols.iter().map(|p| p.as_str()).collect();
                    self.problem(
                        at,
                        pkey,
                        format!(
                            "target {:?} speaks {}; it must be a mailbox target ({}) that reads the recipient's mail",
                            c.target,
                            via.target.protocol.map_or("no mail protocol", |p| p.as_str()),
                            wanted.join(" or ")
                        ),
                    );
                    continue;
                }
                if via.target.account.is_none() {
                    self.problem(
                        at,
                        pkey,
                        format!("target {:?} has no account to log in with", c.target),
                    );
                    continue;
                }
                pc.via = Some(Arc::new(via.clone()));
            }
        }
    }

    /// `migration_domain:`: a DNS name, and the target's account must be in it (DESIGN §11
    /// "Plugins"); a wrong one is the problem pointed at the username, with what to do.
    fn migration_domain(
        &mut self,
        d: &Spanned<String>,
        account: Option<&RawAccount>,
        key: &str,
    ) -> Option<String> {
        let domain = d.value.trim().trim_end_matches('.');
        let is_dns_name = domain.contains('.')
            && rustls::pki_types::DnsName::try_from(domain).is_ok()
            && domain.parse::<std::net::IpAddr>().is_err();
        if !is_dns_name {
            self.problem(
                loc(d),
                format!("{key}.migration_domain"),
                format!("{:?} is not a mail domain (e.g. example.com)", d.value),
            );
            return None;
        }
        if let Some(a) = account {
            if let Some(message) = login::migration_domain_problem(&a.username.value, domain) {
                self.problem(loc(&a.username), format!("{key}.account.username"), message);
            }
        }
        Some(domain.to_string())
    }

    /// A target's `account:`: the public side for the probes, and where its secret is.
    fn account(
        &mut self,
        a: &RawAccount,
        akey: &str,
        cx: &OauthContext,
    ) -> (Account, Option<SecretSource>, Option<Arc<OauthAccount>>) {
        let allow_inline = cx.allow_inline;
        let mut secret = None;
        let mut managed = None;
        let oauth = a.oauth.is_some();
        let sources = [
            a.password_file.as_ref().map(|_| "password_file"),
            a.password.as_ref().map(|_| "password"),
            a.oauth.as_ref().map(|_| "oauth"),
        ];
        let given: Vec<&str> = sources.iter().flatten().copied().collect();
        if given.len() > 1 {
            self.problem(
                loc(&a.username),
                akey,
                format!("set only one of {}", given.join(", ")),
            );
        }
        if let Some(f) = &a.password_file {
            secret = self.secret_file(f, &format!("{akey}.password_file"));
        } else if let Some(p) = &a.password {
            secret = self.secret(p, &format!("{akey}.password"), allow_inline);
        } else if let Some(o) = &a.oauth {
            match self.oauth(o, &format!("{akey}.oauth"), cx) {
                OauthSource::Managed(account) => managed = Some(account),
                OauthSource::External(source) => secret = source,
            }
        } else {
            self.problem(
                loc(&a.username),
                akey,
                "needs password_file, password (${ENV}) or oauth",
            );
        }
        let mechanism = a
            .mechanism
            .as_ref()
            .and_then(|m| match SaslMechanism::parse(&m.value) {
                Ok(mechanism) => Some(mechanism.as_str().to_string()),
                Err(_) => {
                    let known = SaslMechanism::ALL.map(SaslMechanism::as_str).join(", ");
                    self.problem(
                        loc(m),
                        format!("{akey}.mechanism"),
                        format!("unknown mechanism {:?}; one of {known}", m.value),
                    );
                    None
                }
            });
        let account = Account {
            username: a.username.value.clone(),
            mechanism,
            oauth,
            token_store: managed.is_some(),
        };
        (account, secret, managed)
    }

    /// One entry of a target's `probes:` list, written at `at`: its probe name and options.
    fn probe_entry(
        &mut self,
        p: &RawProbe,
        i: usize,
        at: (u64, u64),
        key: &str,
    ) -> Option<(String, serde_json::Value, (u64, u64))> {
        match p {
            RawProbe::Name(n) => Some((n.value.clone(), serde_json::Value::Null, at)),
            // `{plugin: NAME, ...options}`: a dynamic or exec plugin by name (DESIGN §11).
            RawProbe::WithOptions(map) if map.contains_key("plugin") => {
                match map.get("plugin").and_then(|v| v.as_str()) {
                    Some(name) => {
                        let options: serde_json::Map<String, serde_json::Value> = map
                            .iter()
                            .filter(|(k, _)| k.as_str() != "plugin")
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        let options = if options.is_empty() {
                            serde_json::Value::Null
                        } else {
                            serde_json::Value::Object(options)
                        };
                        Some((name.to_string(), options, at))
                    }
                    None => {
                        self.problem(
                            at,
                            format!("{key}.probes[{i}].plugin"),
                            "must be the name of a dynamic or exec plugin",
                        );
                        None
                    }
                }
            }
            RawProbe::WithOptions(map) if map.len() == 1 => {
                let (n, o) = map.iter().next()?;
                Some((n.clone(), o.clone(), at))
            }
            RawProbe::WithOptions(_) => {
                self.problem(
                    at,
                    format!("{key}.probes[{i}]"),
                    "a probe with options is a one-key map, e.g. {tls: {warn_days: 30}}",
                );
                None
            }
        }
    }

    /// The target's probes (the default list when none are given), options merged over
    /// `probe_defaults` and validated by each probe.
    fn probes_of(
        &mut self,
        t: &RawTarget,
        key: &str,
        target: &Target,
        defaults: &BTreeMap<String, serde_json::Value>,
    ) -> Vec<ProbeConfig> {
        let entries: Vec<(String, serde_json::Value, (u64, u64))> = match &t.probes {
            // No list: every probe that is a default for this target, in the probes' order.
            None => self
                .probes
                .iter()
                .filter(|p| p.is_default_for(target))
                .map(|p| (p.name().to_string(), serde_json::Value::Null, loc(&t.name)))
                .collect(),
            Some(list) => list
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    // The entry's own place; the target's when the parser gave none (0:0).
                    let at = Some(loc(p))
                        .filter(|&at| at != (0, 0))
                        .unwrap_or(loc(&t.name));
                    self.probe_entry(&p.value, i, at, key)
                })
                .collect(),
        };
        let mut out: Vec<ProbeConfig> = Vec::with_capacity(entries.len());
        for (i, (name, options, at)) in entries.into_iter().enumerate() {
            let pkey = format!("{key}.probes[{i}]");
            let Some(probe) = self.probes.iter().find(|p| p.name() == name).cloned() else {
                let known: Vec<&str> = self.probes.iter().map(|p| p.name()).collect();
                self.problem(
                    at,
                    pkey,
                    format!("unknown probe {name:?}; one of {}", known.join(", ")),
                );
                continue;
            };
            if out.iter().any(|p| p.name == name) {
                self.problem(at, pkey, format!("probe {name:?} listed twice"));
                continue;
            }
            let mut options = merge(defaults.get(&name), &options);
            // The back-off belongs to the agent's credential guard, for every probe that logs in.
            let backoff = match probe.uses_credentials() {
                true => match BackoffOptions::take_from(&mut options) {
                    Ok(b) => b.policy(),
                    Err(e) => {
                        self.problem(at, format!("{pkey}.{name}"), e);
                        continue;
                    }
                },
                false => BackoffOptions::default().policy(),
            };
            // A probe's own schedule (DESIGN §11 "Delivery"): `every:` in its options, taken out
            // like `backoff:`, else the probe's default, else the target's.
            let schedule = match take_every(&mut options) {
                Ok(Some(every)) => Some(every),
                Ok(None) => probe
                    .default_every()
                    .and_then(|d| crate::schedule::Schedule::every(d).ok()),
                Err(e) => {
                    self.problem(at, format!("{pkey}.{name}.every"), e);
                    continue;
                }
            };
            match probe.configure(target, &options) {
                Ok(check) => out.push(ProbeConfig {
                    name,
                    options,
                    check,
                    uses_credentials: probe.uses_credentials(),
                    backoff,
                    schedule,
                    via: None,
                }),
                Err(e) => self.problem(at, format!("{pkey}.{name}"), e.to_string()),
            }
        }
        out
    }
}

/// Takes `every:` out of a probe's options: `None` when it is not there.
fn take_every(
    options: &mut serde_json::Value,
) -> Result<Option<crate::schedule::Schedule>, String> {
    let Some(value) = options.as_object_mut().and_then(|o| o.remove("every")) else {
        return Ok(None);
    };
    if options.as_object().is_some_and(|o| o.is_empty()) {
        *options = serde_json::Value::Null;
    }
    let text = value
        .as_str()
        .ok_or_else(|| "must be a duration like 1h".to_string())?;
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration like 1h: {e}"))?;
    if d.is_zero() {
        return Err("must be greater than zero".to_string());
    }
    crate::schedule::Schedule::every(d).map(Some)
}

/// Shallow merge: the target's keys override the defaults'.
fn merge(defaults: Option<&serde_json::Value>, own: &serde_json::Value) -> serde_json::Value {
    match (defaults, own) {
        (Some(serde_json::Value::Object(d)), serde_json::Value::Object(o)) => {
            let mut m = d.clone();
            m.extend(o.clone());
            serde_json::Value::Object(m)
        }
        (Some(d), serde_json::Value::Null) => d.clone(),
        (_, own) => own.clone(),
    }
}
