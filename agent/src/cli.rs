//! The command line, in Prometheus exporter style (`--config.file`, `--web.listen-address`).

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

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

/// The listener's flags: global, so that `mailbeat --web.listen-address X` runs the agent without
/// naming `run`, but only `run` (and the bare command) advertises them.
const LISTENER_FLAGS: &[&str] = &[
    "listen_address",
    "web_config_file",
    "enable_lifecycle",
    "external_url",
];

/// The commands that do not listen; `validate` reads `--web.config.file`, so keeps that one.
const NOT_LISTENING: &[&str] = &["check", "validate", "plugins", "reauth", "token"];

/// The command line as `main` parses it: [`Cli`], with the listener flags hidden from the
/// `--help` of the commands that do not listen (they are still accepted, and ignored there).
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    // Propagates the global flags into every subcommand, where they can then be hidden.
    cmd.build();
    for &name in NOT_LISTENING {
        cmd = cmd.mut_subcommand(name, |sub| hide_listener_flags(sub, name));
    }
    cmd
}

fn hide_listener_flags(cmd: clap::Command, name: &str) -> clap::Command {
    let keep = |id: &str| name == "validate" && id == "web_config_file";
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let mut cmd = cmd.mut_args(|a| {
        let id = a.get_id().as_str();
        if LISTENER_FLAGS.contains(&id) && !keep(id) {
            a.hide(true)
        } else {
            a
        }
    });
    for sub in subs {
        cmd = cmd.mut_subcommand(sub, |s| hide_listener_flags(s, name));
    }
    cmd
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
    /// Run as one of N replicas over the same config: schedule and export only the targets of
    /// shard --shard.index (0-based). Overrides `global.shards`. `/probe` answers for all.
    #[arg(
        long = "shard.total",
        global = true,
        value_name = "N",
        env = "MAILBEAT_SHARD_TOTAL"
    )]
    pub shard_total: Option<u32>,
    /// This replica's shard, 0 to --shard.total - 1.
    #[arg(
        long = "shard.index",
        global = true,
        value_name = "I",
        env = "MAILBEAT_SHARD_INDEX"
    )]
    pub shard_index: Option<u32>,
}

impl RunArgs {
    /// The shard the command line asks for: `None` when neither flag is given.
    pub fn shard(&self) -> Result<Option<crate::shard::Shard>, String> {
        match (self.shard_total, self.shard_index) {
            (None, None) => Ok(None),
            (Some(total), Some(index)) => crate::shard::Shard::new(index, total)
                .map(Some)
                .map_err(|e| e.to_string()),
            _ => Err("--shard.total and --shard.index go together".into()),
        }
    }
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
    /// Re-authorize a target's OAuth2 account and store the new tokens (exit 0 when stored):
    /// authorization code with PKCE through a browser and a redirect to 127.0.0.1, or --device.
    Reauth(ReauthArgs),
    /// The OAuth2 token store: import a refresh token, list the token sets (never the tokens).
    #[command(subcommand)]
    Token(TokenCommand),
    /// List every probe (built-in, dynamic and exec plugins) with its kind, version and ABI.
    Plugins(PluginsArgs),
    /// Try mailbeat without a mail server: start healthy and broken demo servers inside this
    /// process (127.0.0.1 only, ephemeral ports) and run the agent on a config that points at
    /// them. Open the status page to see each failure with its reason and what to do. Ctrl-C
    /// stops it all. --config.file is not read.
    Demo(DemoArgs),
}

/// Flags of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Run the probes once against the demo servers and report like `mailbeat check`
    /// (--output, --target, --probe), then stop.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub check_args: CheckArgs,
    /// Print the generated config (an ordinary mailbeat config) and stop. Its ports are picked
    /// anew at every start.
    #[arg(long)]
    pub print_config: bool,
}

/// Flags of `plugins`.
#[derive(Debug, Args)]
pub struct PluginsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// Flags of `reauth`.
#[derive(Debug, Args, Clone)]
pub struct ReauthArgs {
    /// The target whose account to re-authorize.
    pub target: String,
    /// Use the device flow (RFC 8628): a code to enter on any device with a browser. Not for
    /// Google, whose device flow does not allow the Gmail scope.
    #[arg(long)]
    pub device: bool,
    /// Only print the URL to open; never try to start a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// How long to wait for the person to finish signing in.
    #[arg(long, default_value = "5m", value_parser = parse_wait)]
    pub timeout: Duration,
}

/// `token` subcommands.
#[derive(Debug, Subcommand, Clone)]
pub enum TokenCommand {
    /// Store a refresh token for a target from a JSON file (`refresh_token`, optional
    /// `access_token` and `expires_at` as RFC 3339 or Unix seconds).
    Import(TokenImportArgs),
    /// List the token sets: provider, account, expiries (the refresh token's predicted), last
    /// refresh and last error.
    List(TokenListArgs),
}

/// Flags of `token import`.
#[derive(Debug, Args, Clone)]
pub struct TokenImportArgs {
    /// The target whose token set receives the tokens.
    pub target: String,
    /// The JSON file.
    pub file: PathBuf,
}

/// Flags of `token list`.
#[derive(Debug, Args, Clone)]
pub struct TokenListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// A wait between 1 s and 24 h (`30s`, `5m`, `1h`).
fn parse_wait(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) || d > Duration::from_secs(24 * 3600) {
        return Err("must be between 1s and 24h".into());
    }
    Ok(d)
}

/// Flags of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Output format: a table for people, JSON for scripts, or the Nagios plugin format.
    #[arg(long, value_enum, default_value_t = CheckOutput::Table)]
    pub output: CheckOutput,
    /// Only this target.
    #[arg(long)]
    pub target: Option<String>,
    /// Only this probe.
    #[arg(long)]
    pub probe: Option<String>,
}

/// Output of `check`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CheckOutput {
    Table,
    Json,
    /// The Nagios plugin API: a status line with perfdata, then one line per failing check.
    Nagios,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}
