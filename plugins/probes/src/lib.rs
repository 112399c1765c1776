//! Built-in mailbeat probes.
//!
//! The probes, one module each:
//! - [`port`]: can we reach the service at all (connect, and the greeting where it comes in
//!   plaintext)?
//! - [`tls`]: the handshake and the chain as `openssl s_client` shows them, and why the verify code
//!   is not 0. `tls/mod.rs` is the probe and its check flow, with [`tls::TlsOptions`];
//!   `tls/verdict.rs` judges a chain (reasons, openssl verify codes); `tls/report.rs` turns what a
//!   handshake showed into metrics and details; [`tls::client`] is the TLS client both `tls` and
//!   `auth` use (rustls configuration, the recording verifier, [`tls::client::open_session`]).
//! - [`auth`]: can this account still log in, and if not, why; IMAP, POP3 and SMTP logins, the
//!   mechanism choice ([`auth::mechanism`]) and the per-credential back-off ([`auth::backoff`]).
//! - [`delivery`]: does a message sent through this SMTP account arrive in the `via` mailbox, in
//!   the inbox or the junk folder, and how fast; MAIL/RCPT/DATA refusals classified by
//!   [`classify::delivery`].
//!
//! The code they share:
//! - [`net`]: resolve and connect under the check's deadline, and name what failed.
//! - [`io`]: the stream wrappers, each there for one reason: `QuickAck` (no delayed-ACK stalls),
//!   `FirstBytes` (what came instead of TLS), `Capped` (a bounded IMAP login read).
//! - [`dialogue`]: greetings, EHLO/CAPABILITY/CAPA, STARTTLS/STLS.
//! - [`certs`]: facts about one certificate; [`certs::path`]: who issued whom, and the issuer path
//!   from the leaf.
//! - [`classify`]: what a server's refusal to authenticate means (the reply table).
//! - [`failure`]: [`Failure`], a failed step's status, reason and words.

#![forbid(unsafe_code)]

pub mod auth;
pub mod certs;
pub mod classify;
pub mod delivery;
pub mod dialogue;
pub mod failure;
pub mod io;
pub mod net;
pub mod port;
pub mod tls;

pub use failure::{mail_endpoint, require_mail, Failure};

use mailbeat_sdk::Probe;
use std::sync::Arc;

/// Every built-in probe, one shared instance each.
pub fn builtin() -> Vec<Arc<dyn Probe>> {
    vec![
        Arc::new(port::PortProbe),
        Arc::new(tls::TlsProbe),
        Arc::new(auth::AuthProbe),
        Arc::new(delivery::DeliveryProbe),
    ]
}
