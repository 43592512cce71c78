//! `tributary-loadtest`: run an SRE load scenario against Tributary
//! gateways and say, by exit code, whether it met its thresholds.
//!
//! ```text
//! tributary-loadtest run loadtest/scenarios/smoke.toml --target http://127.0.0.1:8080 \
//!     --write-key KEY --kafka 127.0.0.1:9092 --json summary.json
//! ```

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
        /// Write the JSON summary here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Command::Run {
        scenario,
        target,
        write_key,
        kafka,
        topic_prefix,
        json,
    } = Cli::parse().command;
    let mut s = match scenario::Scenario::load(&scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if !target.is_empty() {
        s.targets = target;
    }
    if !write_key.is_empty() {
        s.write_keys = write_key;
    }
    if let Some(v) = s.verify.as_mut() {
        if let Some(k) = kafka {
            v.kafka = k;
        }
        if let Some(p) = topic_prefix {
            v.topic_prefix = p;
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
    let summary = report::summarize(&s, &observed, delivery);
    report::print(&summary);
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    match json {
        Some(path) => {
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return std::process::ExitCode::from(1);
            }
        }
        None => println!("{text}"),
    }
    std::process::ExitCode::from(summary.exit_code as u8)
}
