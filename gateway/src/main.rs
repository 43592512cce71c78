//! `tributary-gateway`: command line, logging and signals around
//! [`tributary_gateway::Gateway`].

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use tributary_gateway::Gateway;
use tributary_gateway::config::{self, Config, LogFormat, WriteKeyConfig};

/// Tributary's HTTP edge gateway.
///
/// Accepts gzip batches of analytics events (Segment Tracking API shape:
/// POST /v1/batch, /v1/track, ...), checks and enriches them, and produces
/// them to Kafka, one topic per event type, with the envelope in headers.
///
/// Configuration is one TOML file; every field is optional and documented
/// with its default in gateway/tributary.example.toml. The flags below
/// override the file, and each also reads the environment variable shown.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, short, env = "TRIBUTARY_CONFIG")]
    config: Option<PathBuf>,

    /// Development mode: embedded in-memory Kafka (unless --brokers is
    /// given), listen on 127.0.0.1:8080, spool in a temporary directory, and
    /// accept the write key `dev-write-key` when the configuration lists no
    /// keys.
    #[arg(long)]
    dev: bool,

    /// Address to listen on (overrides server.listen).
    #[arg(long, env = "TRIBUTARY_LISTEN")]
    listen: Option<SocketAddr>,

    /// Kafka bootstrap servers (overrides kafka.brokers). Empty means the
    /// embedded in-memory cluster.
    #[arg(long, env = "TRIBUTARY_KAFKA_BROKERS")]
    brokers: Option<String>,

    /// Log format (overrides log.format).
    #[arg(long, env = "TRIBUTARY_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,

    /// Validate the configuration and exit.
    #[arg(long)]
    check_config: bool,
}

fn load(cli: &Cli) -> anyhow::Result<Config> {
    let mut cfg = match &cli.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if cli.dev {
        cfg.server.listen = SocketAddr::from(([127, 0, 0, 1], 8080));
        // The embedded cluster is in memory anyway; keep the dev spool out
        // of the working directory.
        if cli.config.is_none() {
            cfg.spool.dir =
                std::env::temp_dir().join(format!("tributary-dev-spool-{}", std::process::id()));
        }
        if cfg.keys.is_empty() {
            cfg.keys.push(WriteKeyConfig {
                key: config::DEV_WRITE_KEY.into(),
                app_id: config::DEV_APP_ID.into(),
                ..WriteKeyConfig::default()
            });
        }
    }
    if let Some(l) = cli.listen {
        cfg.server.listen = l;
    }
    if let Some(b) = &cli.brokers {
        cfg.kafka.brokers = b.clone();
    }
    if let Some(f) = cli.log_format {
        cfg.log.format = f;
    }
    Ok(cfg)
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log.filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cfg.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let cfg = match load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Err(problems) = cfg.validate() {
        eprintln!("error: {problems}");
        return std::process::ExitCode::from(2);
    }
    if cli.check_config {
        // The files the configuration names are read too: a rules file
        // that does not parse or a geo database that does not open would
        // otherwise only show at start-up.
        let files = tributary_gateway::privacy::Privacy::load(&cfg.privacy)
            .map(drop)
            .and_then(|()| tributary_gateway::enrich::Enricher::new(&cfg.enrichment).map(drop))
            .and_then(|()| {
                tributary_gateway::sdk_settings::SdkSettings::load(&cfg.sdk_settings).map(drop)
            })
            .and_then(|()| {
                tributary_gateway::delivery::routes_file::RoutesFile::of(&cfg)
                    .map(drop)
                    .map_err(|e| format!("{e:#}"))
            });
        if let Err(e) = files {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
        println!("configuration is valid");
        return std::process::ExitCode::SUCCESS;
    }
    init_logging(&cfg);
    let gateway = match Gateway::start(cfg).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!("cannot start: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if gateway.is_embedded() {
        // Printed on stdout, one fact per line, so scripts can read them.
        println!(
            "tributary-gateway listening on http://{}",
            gateway.local_addr()
        );
        println!("embedded Kafka bootstrap: {}", gateway.bootstrap_servers());
        println!("topics: {}", gateway.topics().join(", "));
        println!(
            "WARNING: embedded Kafka keeps data in memory only; everything is lost when the gateway exits"
        );
    } else {
        println!(
            "tributary-gateway listening on http://{}",
            gateway.local_addr()
        );
        println!("kafka bootstrap: {}", gateway.bootstrap_servers());
    }
    shutdown_signal().await;
    tracing::info!("shutdown signal received; draining");
    match gateway.shutdown().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
