//! Tributary's pipeline: Kafka → Parquet on object storage, exactly once,
//! and app-health metrics for Prometheus.
//!
//! The data path, in module order:
//!
//! * [`offload`] — the consumer loop: consume, cut partitions into
//!   segments, write, commit;
//! * [`rows`] — one record → one row, through the contract library;
//! * [`payload`] — the payload's typed columns, read in one pass;
//! * [`column_type`], [`nested`] — a column's type from the schema
//!   (scalars, STRUCT, LIST, MAP), and nested columns built from JSON;
//! * [`enrichment`] — the gateway's geo and user-agent facts as columns;
//! * [`dedup`] — each event once: repeated message ids dropped, decided
//!   from earlier offsets only;
//! * [`segment`] — deterministic rotation and object naming (why replays
//!   never duplicate);
//! * [`parquet_out`] — rows → Arrow columns → Parquet;
//! * [`store`] — the object store (local, S3, memory), create-only puts;
//! * [`iceberg`] — or the lake as Apache Iceberg tables: a segment's files
//!   appended in one snapshot that records its offsets;
//! * [`retry`] — store and catalog calls retried with backoff;
//! * [`failpoint`] — crashes injected at the commit's steps (tests);
//! * [`replay`] — the offsets a backfill re-reads;
//! * [`health`] — app-health aggregates (crash-free sessions and users,
//!   errors, sessions, latency) with bounded labels;
//! * [`metrics`], [`server`] — `/metrics`, `/healthz`, `/readyz`;
//! * [`warehouse`] — loading the lake into Snowflake, DuckDB, Trino, Spark;
//! * [`erasure`] — a user's rows removed from the lake and kept out of it;
//! * [`config`] — the TOML configuration.

/// Arrow's schema types, as the pipeline's column descriptions use them.
pub use arrow_schema;

pub mod column_type;
pub mod config;
pub mod dedup;
pub mod enrichment;
pub mod erasure;
pub mod failpoint;
pub mod health;
pub mod iceberg;
pub mod metrics;
pub mod nested;
pub mod offload;
pub mod parquet_out;
pub mod payload;
pub mod replay;
pub mod retry;
pub mod rows;
pub mod segment;
pub mod server;
pub mod store;
pub mod warehouse;

use std::sync::Arc;
use std::time::Duration;
use tributary_schema::confluent::ConfluentClient;
use tributary_schema::{Registry, Source};

/// Opens the schema registry named in `[schemas]`, if any.
pub fn open_registry(config: &config::SchemasConfig) -> anyhow::Result<Option<Arc<Registry>>> {
    let source = match (&config.dir, &config.registry_url) {
        (Some(d), _) => Source::Dir(d.clone()),
        (None, Some(u)) => {
            Source::Confluent(ConfluentClient::new(u, None, Duration::from_secs(10)))
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(Arc::new(
        Registry::open(source).map_err(|e| anyhow::anyhow!("schemas: {e}"))?,
    )))
}
