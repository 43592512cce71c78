//! `tributary`: operator commands that span the gateway, the schemas and
//! the pipeline. `tributary onboard <app> <event> --schema <file>` gives a
//! new event type everything it needs in one step (see `onboard`).

mod onboard;

use clap::{Parser, Subcommand};
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
    Onboard(onboard::Request),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Command::Onboard(request) = Cli::parse().command;
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
