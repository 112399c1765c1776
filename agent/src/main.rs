//! The `mailbeat` binary.

use clap::parser::ValueSource;
use clap::FromArgMatches;
use mailbeat::app::Services;
use mailbeat::cli::{CheckOutput, Cli, Command, LogFormat, Output};
use mailbeat::config::Config;
use mailbeat::oauth::cli::OauthCommand;
use mailbeat::oauth::probe::TokenProbe;
use mailbeat::oauth::Tokens;
use mailbeat::plugins::PluginInfo;
use mailbeat::state::backoff::BackoffJournal;
use mailbeat::state::{StateDb, StateError};
use mailbeat::web::{self, WebConfig};
use mailbeat::{app::App, check, config, http, jobs};
use mailbeat_sdk::Probe;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let matches = mailbeat::cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches)
        .unwrap_or_else(|e| e.format(&mut mailbeat::cli::command()).exit());
    let config_given = config_file_given(&matches);
    if let Err(e) = check_log_level(&cli.common.log_level) {
        eprintln!("mailbeat: {e}");
        return ExitCode::from(2);
    }
    init_logging(&log_filter(&cli, &matches), cli.common.log_format);
    // Exactly one crypto provider for every rustls user in the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailbeat: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    // `mailbeat demo` leaves its servers here when it ends: they go after the runtime, so a check
    // still in flight at Ctrl-C never sees its server vanish (and never logs that it did).
    let mut demo_servers = None;
    let code = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Run) {
            Command::Run => run(&cli.common.config_file, &cli.run).await,
            Command::Check(args) => check_once(&cli.common.config_file, args).await,
            Command::Validate => validate(
                &cli.common.config_file,
                config_given,
                cli.run.web_config_file.as_deref(),
            ),
            Command::Plugins(args) => list_plugins(&cli.common.config_file, args.output),
            Command::Reauth(args) => {
                token_command(&cli.common.config_file, OauthCommand::Reauth(args)).await
            }
            Command::Token(t) => {
                token_command(&cli.common.config_file, OauthCommand::Token(t)).await
            }
            Command::Demo(args) => demo(args, &cli.run, &mut demo_servers).await,
        }
    });
    if let Some(servers) = demo_servers {
        runtime.shutdown_timeout(std::time::Duration::from_secs(5));
        drop(servers);
    }
    code
}

/// `reauth` and `token`: the config, what can be said before anything is opened or contacted,
/// the state opened as `check` opens it, then the command's body (`mailbeat::oauth::cli`).
/// Exit 0 when it did what it was asked, 1 with the reason on stderr otherwise.
async fn token_command(path: &Path, command: OauthCommand) -> ExitCode {
    let services = Services::default();
    let loaded = all_probes(&services.tokens, path)
        .and_then(|(probes, _)| config::load(path, &probes).map_err(|e| e.to_string()));
    let config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mailbeat: {e}");
            return ExitCode::from(1);
        }
    };
    services.tokens.configure(&config);
    if let Err(e) = mailbeat::oauth::cli::preflight(&config, &command) {
        eprintln!("mailbeat: {e}");
        return ExitCode::from(1);
    }
    let db = match open_state(&services, &config).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("mailbeat: {e}");
            return ExitCode::from(1);
        }
    };
    let done = mailbeat::oauth::cli::run(&config, &services.tokens, &command).await;
    let _ = tokio::task::spawn_blocking(move || db.close()).await;
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailbeat: {e}");
            ExitCode::from(1)
        }
    }
}

/// `mailbeat demo`: the demo servers, then `run` (or `check`) on the config written for them.
/// The servers are left in `keep`, to be dropped after the runtime.
async fn demo(
    args: mailbeat::cli::DemoArgs,
    run_args: &mailbeat::cli::RunArgs,
    keep: &mut Option<mailbeat::demo::Demo>,
) -> ExitCode {
    let demo = match mailbeat::demo::Demo::start().await {
        Ok(d) => keep.insert(d),
        Err(e) => {
            eprintln!("mailbeat: {e}");
            return ExitCode::from(1);
        }
    };
    if args.print_config {
        return match std::fs::read_to_string(&demo.config_path) {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("mailbeat: {e}");
                ExitCode::from(1)
            }
        };
    }
    if args.check {
        return check_once(&demo.config_path, args.check_args).await;
    }
    mailbeat::demo::announce(demo, &run_args.listen_address);
    run(&demo.config_path, run_args).await
}

/// The probes of this run and what `mailbeat plugins` says of each.
type Probes = (Vec<Arc<dyn Probe>>, Vec<PluginInfo>);

/// Every probe: the built-in ones, the agent's own `token` probe, and the plugins named in the
/// `plugins:` section of the config at `path` (loaded once, at start).
fn all_probes(tokens: &Arc<Tokens>, path: &Path) -> Result<Probes, String> {
    let mut probes = mailbeat_probes::builtin();
    probes.push(Arc::new(TokenProbe::new(tokens.clone())));
    let mut infos = mailbeat::plugins::builtin_infos(&probes);
    let section = config::plugins_section(path).map_err(|e| e.to_string())?;
    for (probe, info) in mailbeat::plugins::load(&section, &probes).map_err(|e| e.to_string())? {
        probes.push(probe);
        infos.push(info);
    }
    Ok((probes, infos))
}

/// `mailbeat plugins`: every probe with its kind, version and ABI.
fn list_plugins(path: &Path, output: mailbeat::cli::Output) -> ExitCode {
    let infos = match all_probes(&Default::default(), path) {
        Ok((_, infos)) => infos,
        Err(e) => {
            eprintln!("mailbeat: {e}");
            return ExitCode::from(1);
        }
    };
    match output {
        Output::Json => match serde_json::to_string_pretty(&infos) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("mailbeat: {e}");
                return ExitCode::from(1);
            }
        },
        Output::Table => {
            println!(
                "{:<20} {:<8} {:<10} {:<4} SOURCE",
                "NAME", "KIND", "VERSION", "ABI"
            );
            for i in &infos {
                println!(
                    "{:<20} {:<8} {:<10} {:<4} {}",
                    i.name,
                    i.kind,
                    i.version,
                    i.abi.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
                    i.source.as_deref().unwrap_or("-")
                );
            }
        }
    }
    ExitCode::SUCCESS
}

/// Whether `--config.file` (or its variable) was given, before or after the subcommand.
fn config_file_given(matches: &clap::ArgMatches) -> bool {
    let explicit = |m: &clap::ArgMatches| {
        matches!(
            m.value_source("config_file"),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    explicit(matches) || matches.subcommand().is_some_and(|(_, sub)| explicit(sub))
}

/// A bare word must be a level: `warning` or `verbose` would otherwise be read as the name of
/// a module to log, and the agent would log nothing, silently.
fn check_log_level(level: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];
    let bare = !level.contains(['=', ',', ':', '[']);
    if bare && !LEVELS.contains(&level.trim().to_ascii_lowercase().as_str()) {
        return Err(format!(
            "unknown --log.level {level:?}; one of {} (or a tracing filter such as info,mailbeat=debug)",
            LEVELS.join(", ")
        ));
    }
    tracing_subscriber::EnvFilter::try_new(level)
        .map(drop)
        .map_err(|e| format!("bad --log.level {level:?}: {e}"))
}

/// The log filter of this command: `--log.level` as given, except that `check`, which reports
/// every result on stdout, logs only the agent's own problems (warn and above, no result lines)
/// unless `--log.level` was given explicitly.
fn log_filter(cli: &Cli, matches: &clap::ArgMatches) -> String {
    let explicit = |m: &clap::ArgMatches| {
        matches!(
            m.value_source("log_level"),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let given = explicit(matches) || matches.subcommand().is_some_and(|(_, sub)| explicit(sub));
    let checking = match &cli.command {
        Some(Command::Check(_)) => true,
        Some(Command::Demo(d)) => d.check,
        _ => false,
    };
    if checking && !given {
        // async_imap named, so that init_logging's quieting directive does not raise it to info.
        format!(
            "warn,async_imap=warn,{}=off",
            mailbeat::events::CHECK_RESULTS
        )
    } else {
        cli.common.log_level.clone()
    }
}

fn init_logging(level: &str, format: LogFormat) {
    let mut filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // async-imap traces every raw line it reads, unscrubbed (a server may quote a password back),
    // and every command it writes: keep it out of even a `trace` log unless asked for by name.
    if !level.contains("async_imap") {
        if let Ok(quiet) = "async_imap=info".parse() {
            filter = filter.add_directive(quiet);
        }
    }
    match format {
        LogFormat::Json => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_target(false)
            .json()
            .flatten_event(true)
            .init(),
        // tracing-logfmt quotes and escapes values (a server's multi-line reply stays on one
        // line as `\n`), which the default text format does not.
        LogFormat::Logfmt => tracing_logfmt::builder()
            .with_target(false)
            .subscriber_builder()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
}

/// `mailbeat validate`: the config file, and the web config when given (only it, when no config
/// file is named).
fn validate(path: &Path, config_given: bool, web_config: Option<&Path>) -> ExitCode {
    let web_ok = match web_config {
        None => true,
        Some(w) => match web::load(w) {
            Ok(c) => {
                println!("SUCCESS: {} is valid: {}", w.display(), c.describe());
                true
            }
            Err(e) => {
                eprintln!("FAILED: {e}");
                false
            }
        },
    };
    let config_ok = if web_config.is_some() && !config_given {
        true
    } else {
        validate_config(path)
    };
    if web_ok && config_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn validate_config(path: &Path) -> bool {
    let loaded = all_probes(&Default::default(), path)
        .and_then(|(probes, _)| config::load(path, &probes).map_err(|e| e.to_string()));
    match loaded {
        Ok(c) => {
            let checks: usize = c.targets.iter().map(|t| t.probes.len()).sum();
            println!(
                "SUCCESS: {} is valid: {} targets, {} checks",
                path.display(),
                c.targets.len(),
                checks
            );
            true
        }
        Err(e) => {
            eprintln!("FAILED: {e}");
            false
        }
    }
}

async fn check_once(path: &Path, args: mailbeat::cli::CheckArgs) -> ExitCode {
    let services = Services::default();
    let probes = match all_probes(&services.tokens, path) {
        Ok((probes, _)) => probes,
        Err(e) => {
            eprintln!("mailbeat: {e}");
            return ExitCode::from(3);
        }
    };
    let config = match config::load(path, &probes) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("mailbeat: {e}");
            return ExitCode::from(3);
        }
    };
    if let Some(t) = &args.target {
        if !config.targets.iter().any(|x| &x.target.name == t) {
            eprintln!("mailbeat: no target named {t:?} in {}", path.display());
            return ExitCode::from(3);
        }
    }
    let loaded = check::prepare(config.clone(), &services);
    let selected: Vec<_> =
        jobs::select(&loaded.jobs, args.target.as_deref(), args.probe.as_deref()).collect();
    if selected.is_empty() {
        // An empty report would exit 0, which Nagios reads as OK.
        let what = match (&args.target, &args.probe) {
            (Some(t), Some(p)) => format!("target {t:?} has no probe {p:?}"),
            (None, Some(p)) => format!("no target has a probe {p:?}"),
            (Some(t), None) => format!("target {t:?} has no probes"),
            (None, None) => "no checks are configured".to_string(),
        };
        eprintln!("mailbeat: {what} in {}", path.display());
        return ExitCode::from(3);
    }
    // A rejected password must wait out its back-off across runs too, or cron would retry it
    // every time.
    let logs_in = selected
        .iter()
        .filter_map(|j| j.in_config(&config))
        .any(|(t, p)| p.uses_credentials || t.oauth.is_some());
    let state = if logs_in {
        match open_state(&services, &config).await {
            Ok(db) => Some(db),
            Err(e) => {
                eprintln!("mailbeat: {e}");
                return ExitCode::from(3);
            }
        }
    } else {
        None
    };
    let report = check::run(&loaded, args.target.as_deref(), args.probe.as_deref()).await;
    if let Some(db) = state {
        let _ = tokio::task::spawn_blocking(move || db.close()).await;
    }
    match args.output {
        CheckOutput::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("mailbeat: cannot encode the report: {e}");
                return ExitCode::from(3);
            }
        },
        CheckOutput::Table => print!("{}", check::table(&report)),
        CheckOutput::Nagios => print!("{}", check::nagios(&report)),
    }
    ExitCode::from(report.exit_code() as u8)
}

/// Opens the state database in `state_dir`, keeps the credential guard's back-off and the OAuth
/// token store in it; the error says what to do.
async fn open_state(services: &Services, config: &Config) -> Result<Arc<StateDb>, String> {
    let dir = config.global.state_dir.clone();
    let services = services.clone();
    let config = config.clone();
    let opened = tokio::task::spawn_blocking(move || {
        let db = Arc::new(StateDb::open(&dir).map_err(state_error)?);
        services.guard.attach(Arc::new(
            BackoffJournal::open(db.clone()).map_err(state_error)?,
        ));
        let store = mailbeat::oauth::open_store(db.clone(), &config).map_err(|e| e.to_string())?;
        services.tokens.attach(Arc::new(store));
        services
            .alerts
            .attach(mailbeat::state::alerts::AlertJournal::new(db.clone()))
            .map_err(state_error)?;
        Ok::<_, String>(db)
    })
    .await
    .map_err(|e| e.to_string())?;
    opened
}

fn state_error(e: StateError) -> String {
    match e {
        StateError::CreateDir { .. } | StateError::Open { .. } | StateError::MoveAside { .. } => {
            format!("{e} (set global.state_dir to a writable directory)")
        }
        other => other.to_string(),
    }
}

async fn run(path: &Path, args: &mailbeat::cli::RunArgs) -> ExitCode {
    let listen = args.listen_address.as_str();
    // A bad web config stops the agent before anything starts: never serve unprotected by mistake.
    let web = match &args.web_config_file {
        Some(p) => match web::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("mailbeat: {e}");
                return ExitCode::from(1);
            }
        },
        None => WebConfig::default(),
    };
    let services = Services::default();
    let (probes, infos) = match all_probes(&services.tokens, path) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("mailbeat: {e}");
            return ExitCode::from(1);
        }
    };
    let shard = match args.shard() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mailbeat: {e}");
            return ExitCode::from(2);
        }
    };
    let app = match App::with_shard(path.to_path_buf(), probes, services.clone(), shard) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("mailbeat: {e}");
            return ExitCode::from(1);
        }
    };
    app.metrics.plugins(&infos);
    // The state directory is read once, at start; a reload that changes it takes effect at the
    // next start.
    let state = {
        let config = app.config();
        let logs_in = config
            .targets
            .iter()
            .any(|t| t.oauth.is_some() || t.probes.iter().any(|p| p.uses_credentials))
            || !config.webhooks.is_empty();
        match open_state(&services, &config).await {
            Ok(db) => Some(db),
            // Without the state a restart could retry a rejected password early, and webhook
            // deliveries could be lost: refuse to start while logins are checked or webhooks
            // are configured, but do not break an agent that does neither.
            Err(e) if logs_in => {
                eprintln!("mailbeat: {e}");
                return ExitCode::from(1);
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "state not usable; a login back-off would be kept in memory only"
                );
                None
            }
        }
    };
    let listener = match http::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mailbeat: {e}");
            return ExitCode::from(1);
        }
    };
    let config = app.config();
    tracing::info!(
        address = %listen,
        config = %path.display(),
        targets = config.targets.len(),
        version = env!("CARGO_PKG_VERSION"),
        tls = web.tls.is_some(),
        basic_auth_users = web.auth.as_ref().map_or(0, |a| a.user_count()),
        lifecycle = args.enable_lifecycle,
        "mailbeat started"
    );
    app.services
        .alerts
        .set_external_url(&external_url(args, web.tls.is_some()));
    app.start().await;
    tokio::spawn(reload_on_sighup(app.clone()));
    tokio::spawn(mailbeat::target_watch::watch(app.clone()));
    let server = Arc::new(http::Server {
        web,
        enable_lifecycle: args.enable_lifecycle,
    });
    http::serve(listener, app.clone(), server, shutdown_signal()).await;
    app.stop();
    if let Some(db) = state {
        let _ = tokio::task::spawn_blocking(move || db.close()).await;
    }
    tracing::info!("mailbeat stopped");
    ExitCode::SUCCESS
}

/// The agent's URL as people reach it: `--web.external-url`, else the listen address.
fn external_url(args: &mailbeat::cli::RunArgs, tls: bool) -> String {
    match &args.external_url {
        Some(u) => u.clone(),
        None => {
            let scheme = if tls { "https" } else { "http" };
            format!("{scheme}://{}", args.listen_address)
        }
    }
}

async fn reload_on_sighup(app: std::sync::Arc<App>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!(
                "cannot listen for SIGHUP; reload with POST /-/reload (--web.enable-lifecycle)"
            );
            return;
        };
        while hup.recv().await.is_some() {
            let _ = app.reload().await;
        }
    }
    #[cfg(not(unix))]
    let _ = app;
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}
