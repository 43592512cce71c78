//! `tributary`: operator commands that span the gateway, the schemas and
//! the pipeline. `tributary onboard <app> <event> --schema <file>` gives a
//! new event type everything it needs in one step (see `onboard`).

mod onboard;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Operator commands across Tributary's parts.
#[derive(Parser)]
#[command(name = "tributary", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Onboard an event type: check and register its schema, create its
    /// Kafka topic, add its gateway route, create its lake table and print
    /// its warehouse objects. Each step says what it did, or found already
    /// done: running it twice changes nothing.
    Onboard {
        /// The app id (of the write keys that send it).
        app: String,
        /// The event name as apps send it (`Coupon Redeemed`).
        event: String,
        /// The schema: a JSON Schema (`.json`) or a `.proto` file.
        #[arg(long)]
        schema: PathBuf,
        /// The gateway's configuration (schemas, Kafka, the routes file).
        #[arg(long, env = "TRIBUTARY_CONFIG")]
        gateway_config: PathBuf,
        /// The pipeline's configuration (the lake), when it should get a
        /// table and warehouse objects.
        #[arg(long, env = "TRIBUTARY_PIPELINE_CONFIG")]
        pipeline_config: Option<PathBuf>,
        /// The warehouse the objects are written for.
        #[arg(long, value_enum, default_value = "snowflake")]
        dialect: tributary_pipeline::warehouse::Dialect,
        /// Write the warehouse objects to this file (standard output
        /// without it).
        #[arg(long)]
        warehouse_out: Option<PathBuf>,
        /// Print the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Command::Onboard {
        app,
        event,
        schema,
        gateway_config,
        pipeline_config,
        dialect,
        warehouse_out,
        dry_run,
    } = Cli::parse().command;
    let request = onboard::Request {
        app,
        event,
        schema,
        gateway_config,
        pipeline_config,
        dialect,
        warehouse_out,
        dry_run,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(onboard::run(&request, &mut |s| println!("{s}"))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
