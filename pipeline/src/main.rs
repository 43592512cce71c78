//! `tributary-pipeline`: runs the offload loop and the metrics endpoint,
//! re-offloads a range of a topic (`replay`), prints the statements that
//! load the lake into a warehouse (`warehouse`), or erases a user's data
//! (`erase`).

use clap::{Parser, Subcommand};
use rdkafka::consumer::Consumer;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tributary_pipeline::config::Config;
use tributary_pipeline::erasure::{Kind, rewrite};
use tributary_pipeline::offload::{self, Offloader, Parts};
use tributary_pipeline::{replay, warehouse};

/// Kafka → Parquet on object storage, exactly once, and app-health metrics.
///
/// Configuration is one TOML file; every field is optional and documented
/// with its default in pipeline/tributary-pipeline.example.toml.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, short, env = "TRIBUTARY_PIPELINE_CONFIG")]
    config: Option<PathBuf>,
    /// Address of /metrics, /healthz, /readyz (overrides server.listen).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Kafka bootstrap servers (overrides kafka.brokers).
    #[arg(long, env = "TRIBUTARY_KAFKA_BROKERS")]
    brokers: Option<String>,
    /// Validate the configuration and exit.
    #[arg(long)]
    check_config: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the statements that load each event table into a warehouse:
    /// Snowflake's table, stage and Snowpipe (or, for an Iceberg lake, its
    /// Iceberg table), the same load in DuckDB's dialect, Trino's and
    /// Spark's tables or catalog settings.
    Warehouse {
        /// snowflake, duckdb, trino or spark.
        #[arg(long, value_enum, default_value = "snowflake")]
        dialect: warehouse::Dialect,
        /// One event table (its slug) instead of all.
        #[arg(long)]
        table: Option<String>,
        /// The warehouse schema the tables are created in.
        #[arg(long, default_value = "tributary")]
        schema: String,
        /// Snowflake: the storage integration of the lake's stage.
        #[arg(long, default_value = "tributary_lake")]
        storage_integration: String,
        /// Snowflake: the external volume of Iceberg tables.
        #[arg(long, default_value = "tributary_lake")]
        external_volume: String,
        /// Snowflake: the catalog integration of Iceberg tables.
        #[arg(long, default_value = "tributary_catalog")]
        catalog_integration: String,
    },
    /// Erase a user's data: record the request (the pipeline leaves the
    /// user's rows out of everything it writes from then on, replays
    /// included) and remove the rows already in the lake. Prints what it
    /// touched, one JSON line per table.
    Erase {
        /// The app.
        #[arg(long)]
        app: String,
        /// The user's `userId`.
        #[arg(
            long,
            conflicts_with = "anonymous_id",
            required_unless_present = "anonymous_id"
        )]
        user_id: Option<String>,
        /// Or a device's `anonymousId`.
        #[arg(long)]
        anonymous_id: Option<String>,
    },
    /// Re-offload a range of one topic (backfill). Writes objects named by
    /// the range's first offset, commits nothing; the same range replayed
    /// twice writes the same objects.
    Replay(replay::Range),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match &cli.config {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    if let Some(l) = cli.listen {
        config.server.listen = l;
    }
    if let Some(b) = &cli.brokers {
        config.kafka.brokers = b.clone();
    }
    if let Err(p) = config.validate() {
        eprintln!("error: {p}");
        return ExitCode::from(2);
    }
    if cli.check_config {
        println!("configuration is valid");
        return ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(config, cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config, command: Option<Command>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let parts = Parts::open(config, &runtime)?;
    match command {
        None => offload(parts, &runtime, None),
        Some(Command::Replay(range)) => offload(parts, &runtime, Some(range)),
        Some(Command::Erase {
            app,
            user_id,
            anonymous_id,
        }) => {
            let (kind, id) = match (user_id, anonymous_id) {
                (Some(u), _) => (Kind::User, u),
                (None, Some(a)) => (Kind::Anonymous, a),
                (None, None) => anyhow::bail!("give --user-id or --anonymous-id"),
            };
            let request = rewrite::Request { app, kind, id };
            let touched = runtime.block_on(rewrite::erase(
                &parts.config,
                &parts.store,
                parts.tables.as_deref(),
                &request,
            ))?;
            for t in touched {
                println!("{}", serde_json::to_string(&t)?);
            }
            Ok(())
        }
        Some(Command::Warehouse {
            dialect,
            table,
            schema,
            storage_integration,
            external_volume,
            catalog_integration,
        }) => {
            let described = match &parts.tables {
                Some(t) => runtime.block_on(warehouse::iceberg_tables(t, table.as_deref()))?,
                None => warehouse::parquet_tables(
                    parts.registry.as_deref(),
                    &parts.store,
                    &parts.config.offload.prefix,
                    table.as_deref(),
                )?,
            };
            let target = warehouse::Target::of_lake(
                &parts.config,
                &parts.store,
                &schema,
                &storage_integration,
                &external_volume,
                &catalog_integration,
            );
            print!("{}", warehouse::statements(dialect, &described, &target));
            Ok(())
        }
    }
}

/// The offload loop until SIGTERM (or, replaying, until `range` is read).
fn offload(
    parts: Parts,
    runtime: &tokio::runtime::Runtime,
    range: Option<replay::Range>,
) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        runtime.spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                if let Ok(mut term) = signal(SignalKind::terminate()) {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("stopping: closing and committing open segments");
            stop.store(true, Ordering::Relaxed);
        });
    }
    let config = &parts.config;
    let (consumer, ends) = match range {
        None => {
            let addr = runtime.block_on(tributary_pipeline::server::serve(
                config.server.listen,
                parts.metrics.clone(),
            ))?;
            println!("metrics on http://{addr}/metrics");
            let c = offload::consumer(config, None)?;
            let topics: Vec<&str> = config.kafka.topics.iter().map(String::as_str).collect();
            c.subscribe(&topics)?;
            tracing::info!(topics = ?topics, group = %config.kafka.group_id, store = %config.store.url, "offloading");
            (c, None)
        }
        Some(range) => {
            let c = offload::consumer(config, Some("tributary-pipeline-replay"))?;
            let ends = replay::assign(&c, &range)?;
            (c, Some(ends))
        }
    };
    let mut offloader = Offloader::new(parts, ends);
    offloader.run(&consumer, &stop)
}
