//! The web listener's protection: `--web.config.file` in the format of the Prometheus
//! exporter-toolkit (TLS with optional client certificates, HTTP basic auth), applied to every
//! path the agent serves.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt
//!   key_file: server.key
//!   client_ca_file: clients-ca.crt          # optional
//!   client_auth_type: RequireAndVerifyClientCert
//!   min_version: TLS12                      # TLS12 (default) | TLS13
//!   max_version: TLS13                      # optional
//! basic_auth_users:
//!   prometheus: $2y$10$...                  # bcrypt hash (htpasswd -nBC 10 prometheus)
//! ```
//!
//! `config.rs` reads and checks the file (unknown keys are errors, relative paths are relative to
//! the file), `tls.rs` builds the rustls server configuration, `auth.rs` checks credentials
//! (bcrypt, with a cache of successful checks). The file is read once, at start; no password or
//! hash is ever written to a log line or an error.

mod auth;
mod config;
mod tls;

pub use auth::{BasicAuth, REALM};
pub use config::{load, ClientAuth, TlsVersion, WebConfig, WebConfigError};
