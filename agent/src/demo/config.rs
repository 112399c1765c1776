//! The demo's scenarios and the ordinary mailbeat config that points at them. Nothing in the
//! config is special to the demo: `mailbeat demo --print-config` prints it as an example.

use std::fmt::Write;
use std::path::Path;

/// What account a scenario logs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// No login (port and TLS checks only).
    None,
    /// The password account (`password_file`).
    Password,
    /// The OAuth2 account, whose tokens the agent keeps.
    OAuth,
}

/// One target of the demo: a server inside the process and what it shows.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The target's name.
    pub name: &'static str,
    /// What a person sees on this target, for the config's comments and the start-up lines.
    pub shows: &'static str,
    pub protocol: &'static str,
    pub tls: &'static str,
    pub port: u16,
    /// The provider preset, for the provider's own advice.
    pub provider: Option<&'static str>,
    pub login: Login,
    /// The probes, as the config writes them.
    pub probes: &'static str,
}

/// Where the generated files are.
pub struct Paths<'a> {
    pub state_dir: &'a Path,
    pub ca_file: &'a Path,
    pub password_file: &'a Path,
    pub refresh_token_file: &'a Path,
}

/// The config file for `scenarios`, served at `server_name` on 127.0.0.1, with the token
/// endpoint at `token_url`.
pub fn render(
    scenarios: &[Scenario],
    server_name: &str,
    user: &str,
    oauth_user: &str,
    token_url: &str,
    paths: &Paths<'_>,
) -> String {
    let q = |p: &Path| quote(&p.display().to_string());
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Written by `mailbeat demo`. Every target is a server inside the demo process, on\n\
         # 127.0.0.1; they stop with it. It is an ordinary config: copy a target and change its\n\
         # host, port and account to check a real server.\n\
         global:\n  state_dir: {state}\n  every: 1m\n  timeout: 5s\n\ntargets:",
        state = q(paths.state_dir),
    );
    for s in scenarios {
        let _ = writeln!(y, "  # {}", s.shows);
        let _ = writeln!(y, "  - name: {}", s.name);
        if let Some(p) = s.provider {
            let _ = writeln!(y, "    provider: {p}");
        }
        let _ = writeln!(
            y,
            "    protocol: {}\n    host: 127.0.0.1\n    port: {}\n    tls: {}",
            s.protocol, s.port, s.tls
        );
        if s.tls != "none" {
            let _ = writeln!(
                y,
                "    tls_server_name: {server_name}\n    ca_file: {}",
                q(paths.ca_file)
            );
        }
        match s.login {
            Login::None => {}
            Login::Password => {
                let _ = writeln!(
                    y,
                    "    account: {{ username: {user}, password_file: {} }}",
                    q(paths.password_file)
                );
            }
            Login::OAuth => {
                let _ = writeln!(
                    y,
                    "    account:\n      username: {oauth_user}\n      oauth:\n        provider: generic\n        client_id: mailbeat-demo\n        scopes: [\"https://mail.google.com/\"]\n        token_url: {}\n        refresh_token_file: {}",
                    quote(token_url),
                    q(paths.refresh_token_file),
                );
            }
        }
        let _ = writeln!(y, "    probes: {}\n", s.probes);
    }
    y
}

/// A YAML double-quoted scalar (JSON's string syntax is a subset of it).
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}
