//! The mailbeat agent: configuration, scheduling, execution, the result store, metrics, the HTTP
//! server and the command line.

#![deny(unsafe_code)]

pub mod check_thread;
pub mod chunks;
pub mod config;
pub mod demo;
pub mod events;
pub mod executor;
pub mod exposition;
pub mod files;
pub mod guard;
pub mod jobs;
pub mod metrics;
pub mod oauth;
pub mod plugins;
pub mod redact;
pub mod runner;
pub mod schedule;
pub mod scheduler;
pub mod shard;
pub mod state;
pub mod store;
pub mod target_watch;
pub mod web;
pub mod webhooks;

/// The source revision this binary was built from (`git describe`), or `unknown`.
pub const REVISION: &str = match option_env!("MAILBEAT_REVISION") {
    Some(r) => r,
    None => "unknown",
};
pub mod alerts;
pub mod app;
pub mod check;
pub mod cli;
pub mod http;
pub mod reauth_page;
pub mod status_page;
