//! `tributary-loadtest`: run an SRE load scenario against Tributary
//! gateways and say, by exit code, whether it met its thresholds.
//!
//! ```text
//! tributary-loadtest run loadtest/scenarios/smoke.toml --target http://127.0.0.1:8080 \
//!     --write-key KEY --kafka 127.0.0.1:9092 --json summary.json
//! ```

mod bench;
mod drive;
mod findmax;
mod lake;
mod report;
mod run;
mod scenario;
mod verify;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Load scenarios for the Tributary gateway.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a scenario; the exit code reports its thresholds (0 pass, 10
    /// latency, 11 errors, 12 delivery, 1 tool failure, 2 bad scenario).
    Run {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Gateway base URL (repeatable); replaces the scenario's targets.
        #[arg(long)]
        target: Vec<String>,
        /// Write key (repeatable); replaces the scenario's keys.
        #[arg(long)]
        write_key: Vec<String>,
        /// Kafka bootstrap servers for verification.
        #[arg(long, env = "TRIBUTARY_LOADTEST_KAFKA")]
        kafka: Option<String>,
        /// The gateway's topic prefix, for verification.
        #[arg(long)]
        topic_prefix: Option<String>,
        /// The pipeline's lake directory, for verification; replaces
        /// `[verify] lake`.
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Write the JSON summary here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Run share `i` of `n` of the scenario (`--segment 2/4`): a 1/n
        /// share of the rate and devices, for one of n generator processes
        /// or hosts; combine their JSON summaries with `merge`.
        #[arg(long)]
        segment: Option<String>,
    },
    /// Combines the JSON summaries of a split run's segments and applies
    /// the scenario's thresholds to the whole (same exit codes as `run`).
    Merge {
        /// The scenario the segments ran.
        scenario: PathBuf,
        /// Segment summaries (JSON files from `run --json`).
        #[arg(required = true)]
        summaries: Vec<PathBuf>,
        /// Write the merged JSON summary here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Finds the highest constant rate that meets the scenario's p99_ms and
    /// error_rate thresholds.
    FindMax {
        /// Scenario file (its targets, keys, mix and thresholds are used).
        scenario: PathBuf,
        /// Gateway base URL (repeatable).
        #[arg(long)]
        target: Vec<String>,
        /// Write key (repeatable).
        #[arg(long)]
        write_key: Vec<String>,
        /// First probe, events per second.
        #[arg(long, default_value_t = 1000.0)]
        start: f64,
        /// Seconds per probe.
        #[arg(long, default_value_t = 5.0)]
        probe_seconds: f64,
        /// Write the JSON result here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// The performance benchmark: gateway events/s per core (buffered and
    /// broker), against a direct producer and a minimal HTTP server, the
    /// pipeline's Kafka → Parquet rate, and latency against offered rate.
    /// Writes latest.json, latest.md and latest.svg to --out.
    Bench {
        /// Kafka bootstrap servers.
        #[arg(long, default_value = "127.0.0.1:9092")]
        kafka: String,
        /// Gateway binary (a release build).
        #[arg(long, default_value = "target/release/tributary-gateway")]
        gateway: PathBuf,
        /// Pipeline binary (a release build).
        #[arg(long, default_value = "target/release/tributary-pipeline")]
        pipeline: PathBuf,
        /// Schema directory.
        #[arg(long, default_value = "schemas")]
        schemas: PathBuf,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Concurrent connections when finding the maximum.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Output directory.
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
    },
    /// A minimal HTTP server that discards requests (the benchmark's
    /// HTTP-only ceiling).
    #[command(hide = true)]
    Sink {
        /// Address to listen on.
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let (scenario, target, write_key, kafka, topic_prefix, lake, json, segment) =
        match Cli::parse().command {
            Command::Run {
                scenario,
                target,
                write_key,
                kafka,
                topic_prefix,
                lake,
                json,
                segment,
            } => (
                scenario,
                target,
                write_key,
                kafka,
                topic_prefix,
                lake,
                json,
                segment,
            ),
            Command::Merge {
                scenario,
                summaries,
                json,
            } => return merge(&scenario, &summaries, json.as_deref()),
            Command::FindMax {
                scenario,
                target,
                write_key,
                start,
                probe_seconds,
                json,
            } => {
                let s = match load_scenario(&scenario, target, write_key) {
                    Ok(s) => s,
                    Err(code) => return code,
                };
                if let Err(e) = s.validate() {
                    eprintln!("error: {e:#}");
                    return std::process::ExitCode::from(2);
                }
                eprintln!(
                    "find-max {}: probes of {probe_seconds} s from {start} events/s",
                    s.name
                );
                return match findmax::find_max(&s, start, probe_seconds).await {
                    Ok(r) => {
                        eprintln!(
                            "maximum meeting the thresholds: {:.0} events/s (limited by {})",
                            r.max_events_per_second, r.limited_by
                        );
                        let text = serde_json::to_string_pretty(&r).unwrap_or_default();
                        write_or_print(json.as_deref(), &text)
                    }
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        std::process::ExitCode::from(1)
                    }
                };
            }
            Command::Sink { listen } => {
                return match drive::sink(listen).await {
                    Ok(()) => std::process::ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        std::process::ExitCode::from(1)
                    }
                };
            }
            Command::Bench {
                kafka,
                gateway,
                pipeline,
                schemas,
                seconds,
                connections,
                out,
            } => {
                let args = bench::Args {
                    kafka,
                    gateway,
                    pipeline,
                    schemas: schemas.canonicalize().unwrap_or(schemas),
                    seconds,
                    connections,
                    out,
                };
                return match bench::run(args.clone()).await {
                    Ok(r) => {
                        println!("{}", bench::markdown(&r));
                        eprintln!("results in {}", args.out.display());
                        if r.delivered_all() {
                            std::process::ExitCode::SUCCESS
                        } else {
                            eprintln!("bench: acknowledged events were lost (exit 12)");
                            std::process::ExitCode::from(12)
                        }
                    }
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        std::process::ExitCode::from(1)
                    }
                };
            }
        };
    let mut s = match load_scenario(&scenario, target, write_key) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(v) = s.verify.as_mut() {
        if let Some(k) = kafka {
            v.kafka = k;
        }
        if let Some(p) = topic_prefix {
            v.topic_prefix = p;
        }
        if lake.is_some() {
            v.lake = lake;
        }
    }
    if let Some(seg) = &segment {
        let parsed = seg
            .split_once('/')
            .and_then(|(i, n)| Some((i.parse().ok()?, n.parse().ok()?)));
        let Some((i, n)) = parsed else {
            eprintln!("error: --segment must be i/n, e.g. 2/4");
            return std::process::ExitCode::from(2);
        };
        if let Err(e) = s.take_segment(i, n) {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    }
    if let Err(e) = s.validate() {
        eprintln!("error: {e:#}");
        return std::process::ExitCode::from(2);
    }
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    eprintln!("running {} ({:.0} s, run {run_id})", s.name, s.duration_s());
    let observed = match run::run(&s, &run_id).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(1);
        }
    };
    let delivery = match &s.verify {
        Some(v) => {
            let v = v.clone();
            let acked = observed.acked.clone();
            match tokio::task::spawn_blocking(move || verify::verify(&v, &acked)).await {
                Ok(Ok(d)) => Some(d),
                Ok(Err(e)) => {
                    eprintln!("error: verification failed: {e:#}");
                    return std::process::ExitCode::from(1);
                }
                Err(e) => {
                    eprintln!("error: verification failed: {e}");
                    return std::process::ExitCode::from(1);
                }
            }
        }
        None => None,
    };
    let mut summary = report::summarize(&s, &observed, delivery);
    summary.segment = segment;
    report::print(&summary);
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    if write_or_print(json.as_deref(), &text) != std::process::ExitCode::SUCCESS {
        return std::process::ExitCode::from(1);
    }
    std::process::ExitCode::from(summary.exit_code as u8)
}

/// Reads a scenario and applies the `--target` / `--write-key` overrides;
/// an unreadable scenario is exit code 2.
fn load_scenario(
    path: &std::path::Path,
    target: Vec<String>,
    write_key: Vec<String>,
) -> Result<scenario::Scenario, std::process::ExitCode> {
    let mut s = scenario::Scenario::load(path).map_err(|e| {
        eprintln!("error: {e:#}");
        std::process::ExitCode::from(2)
    })?;
    if !target.is_empty() {
        s.targets = target;
    }
    if !write_key.is_empty() {
        s.write_keys = write_key;
    }
    Ok(s)
}

fn write_or_print(path: Option<&std::path::Path>, text: &str) -> std::process::ExitCode {
    match path {
        Some(p) => {
            if let Err(e) = std::fs::write(p, text) {
                eprintln!("error: cannot write {}: {e}", p.display());
                return std::process::ExitCode::from(1);
            }
        }
        None => println!("{text}"),
    }
    std::process::ExitCode::SUCCESS
}

fn merge(
    scenario: &std::path::Path,
    summaries: &[PathBuf],
    json: Option<&std::path::Path>,
) -> std::process::ExitCode {
    let s = match scenario::Scenario::load(scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut parts = Vec::new();
    for p in summaries {
        let parsed = std::fs::read_to_string(p)
            .map_err(anyhow::Error::from)
            .and_then(|t| Ok(serde_json::from_str::<report::Summary>(&t)?));
        match parsed {
            Ok(x) => parts.push(x),
            Err(e) => {
                eprintln!("error: {}: {e:#}", p.display());
                return std::process::ExitCode::from(2);
            }
        }
    }
    let merged = match report::merge(&s, &parts) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(1);
        }
    };
    report::print(&merged);
    let text = serde_json::to_string_pretty(&merged).unwrap_or_default();
    if write_or_print(json, &text) != std::process::ExitCode::SUCCESS {
        return std::process::ExitCode::from(1);
    }
    std::process::ExitCode::from(merged.exit_code as u8)
}
