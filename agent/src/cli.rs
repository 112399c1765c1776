//! The command line, in Prometheus exporter style (`--config.file`, `--web.listen-address`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// mailbeat keeps mail authentication healthy: it checks mailboxes and SMTP relays on a schedule
/// and exports the results as Prometheus metrics.
#[derive(Debug, Parser)]
#[command(name = "mailbeat", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Flags every subcommand takes.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// Configuration file.
    #[arg(
        long = "config.file",
        global = true,
        default_value = "mailbeat.yaml",
        env = "MAILBEAT_CONFIG_FILE"
    )]
    pub config_file: PathBuf,
    /// Only log messages of this level or above (error, warn, info, debug, trace).
    #[arg(long = "log.level", global = true, default_value = "info")]
    pub log_level: String,
    /// Log format.
    #[arg(long = "log.format", global = true, value_enum, default_value_t = LogFormat::Logfmt)]
    pub log_format: LogFormat,
}

/// Flags of `run`.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Address to serve /metrics, /probe and the status page on.
    #[arg(
        long = "web.listen-address",
        global = true,
        default_value = "127.0.0.1:9725"
    )]
    pub listen_address: String,
    /// Web configuration (exporter-toolkit format): TLS and basic auth for every path. Read at
    /// start; `validate` checks it too.
    #[arg(long = "web.config.file", global = true, value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,
    /// Enable reloading over HTTP (`POST /-/reload`); SIGHUP always reloads.
    #[arg(long = "web.enable-lifecycle", global = true)]
    pub enable_lifecycle: bool,
    /// The URL people reach this agent at (behind a proxy, say); webhooks link to its status
    /// page's `/reauth/TARGET`. Default: built from --web.listen-address.
    #[arg(long = "web.external-url", global = true, value_name = "URL")]
    pub external_url: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable key=value lines.
    Logfmt,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: schedule checks, serve metrics (the default).
    Run,
    /// Run the configured probes once and report (exit code: 0 ok, 1 warning, 2 critical, 3 unknown).
    Check(CheckArgs),
    /// Check the configuration file and exit (0 valid, 1 invalid). With --web.config.file, check
    /// that file too, or only it when no --config.file is given.
    Validate,
}

/// Flags of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Only this target.
    #[arg(long)]
    pub target: Option<String>,
    /// Only this probe.
    #[arg(long)]
    pub probe: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}
