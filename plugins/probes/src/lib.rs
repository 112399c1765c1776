//! Built-in mailbeat probes.
//!
//! One file per probe (`port`, `tls`, `auth`), over shared protocol code: [`net`] (connect and name
//! what failed), [`dialogue`] (greetings, EHLO/CAPABILITY/CAPA, STARTTLS), [`certs`] (certificate
//! facts) and [`classify`] (what a server's refusal means).

#![forbid(unsafe_code)]

pub mod auth;
pub mod certs;
pub mod classify;
pub mod dialogue;
pub mod failure;
pub mod net;
pub mod port;
pub mod tls;
pub mod tls_client;

pub use failure::Failure;

use mailbeat_sdk::Probe;
use std::sync::Arc;

/// Every built-in probe, one shared instance each.
pub fn builtin() -> Vec<Arc<dyn Probe>> {
    builtin_with(Arc::new(auth::AuthProbe::new()))
}

/// Every built-in probe, with this `auth` probe (one the caller keeps a handle on, to attach its
/// back-off state to the agent's `state_dir`).
pub fn builtin_with(auth: Arc<auth::AuthProbe>) -> Vec<Arc<dyn Probe>> {
    vec![Arc::new(port::PortProbe), Arc::new(tls::TlsProbe), auth]
}
