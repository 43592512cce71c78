//! `tributary-pipeline`: runs the offload loop and the metrics endpoint,
//! or re-offloads a range of a topic (`replay`).

use clap::{Parser, Subcommand};
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tributary_pipeline::config::Config;
use tributary_pipeline::metrics::PipelineMetrics;
use tributary_pipeline::offload::{self, Offloader, Parts};
use tributary_pipeline::store::Store;

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
    /// Re-offload a range of one topic (backfill). Writes objects named by
    /// the range's first offset, commits nothing; the same range replayed
    /// twice writes the same objects.
    Replay {
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Partitions (default: all).
        #[arg(long, value_delimiter = ',')]
        partitions: Vec<i32>,
        /// First offset (or use --from-time).
        #[arg(long)]
        from_offset: Option<i64>,
        /// Last offset, inclusive (or use --to-time; default: the end now).
        #[arg(long)]
        to_offset: Option<i64>,
        /// First record time, ms since the epoch.
        #[arg(long)]
        from_time: Option<i64>,
        /// Records before this time, ms since the epoch.
        #[arg(long)]
        to_time: Option<i64>,
    },
}

fn replay_assignment(
    consumer: &rdkafka::consumer::BaseConsumer<offload::OffloadContext>,
    cmd: &Command,
) -> anyhow::Result<offload::ReplayEnds> {
    let Command::Replay {
        topic,
        partitions,
        from_offset,
        to_offset,
        from_time,
        to_time,
    } = cmd;
    let timeout = Duration::from_secs(10);
    let md = consumer.fetch_metadata(Some(topic), timeout)?;
    let parts: Vec<i32> = match md.topics().first() {
        Some(t) if partitions.is_empty() => t.partitions().iter().map(|p| p.id()).collect(),
        Some(_) => partitions.clone(),
        None => anyhow::bail!("topic {topic} not found"),
    };
    let by_time = |ms: i64| -> anyhow::Result<HashMap<i32, i64>> {
        let mut tpl = TopicPartitionList::new();
        for p in &parts {
            tpl.add_partition_offset(topic, *p, Offset::Offset(ms))?;
        }
        let r = consumer.offsets_for_times(tpl, timeout)?;
        Ok(r.elements()
            .iter()
            .map(|e| (e.partition(), e.offset().to_raw().unwrap_or(-1)))
            .collect())
    };
    let starts = from_time.map(by_time).transpose()?;
    let stops = to_time.map(by_time).transpose()?;
    let mut assign = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for p in &parts {
        let (low, high) = consumer.fetch_watermarks(topic, *p, timeout)?;
        let start = starts
            .as_ref()
            .and_then(|s| s.get(p).copied())
            .filter(|o| *o >= 0)
            .or(*from_offset)
            .unwrap_or(low)
            .max(low);
        let end = match (&stops, to_offset) {
            (Some(s), _) => s.get(p).copied().filter(|o| *o >= 0).unwrap_or(high) - 1,
            (None, Some(o)) => (*o).min(high - 1),
            (None, None) => high - 1,
        };
        if end >= start {
            assign.add_partition_offset(topic, *p, Offset::Offset(start))?;
            ends.insert((topic.clone(), *p), end);
            println!("replaying {topic}[{p}] offsets {start}..={end}");
        }
    }
    consumer.assign(&assign)?;
    Ok(ends)
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
    let store = Store::open(&config.store)?;
    let registry = tributary_pipeline::open_registry(&config.schemas)?;
    let (metrics, health) = PipelineMetrics::new(config.health.clone());
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
    let consumer = match &command {
        None => {
            let addr = runtime.block_on(tributary_pipeline::server::serve(
                config.server.listen,
                metrics.clone(),
            ))?;
            println!("metrics on http://{addr}/metrics");
            let c = offload::consumer(&config, None)?;
            let topics: Vec<&str> = config.kafka.topics.iter().map(String::as_str).collect();
            c.subscribe(&topics)?;
            tracing::info!(topics = ?topics, group = %config.kafka.group_id, store = %config.store.url, "offloading");
            (c, None)
        }
        Some(cmd) => {
            let c = offload::consumer(&config, Some("tributary-pipeline-replay"))?;
            let ends = replay_assignment(&c, cmd)?;
            (c, Some(ends))
        }
    };
    let (consumer, replay) = consumer;
    let parts = Parts {
        config,
        store,
        registry,
        health,
        metrics,
        runtime: runtime.handle().clone(),
    };
    let mut offloader = Offloader::new(parts, replay);
    offloader.run(&consumer, &stop)
}
