//! Delivery: getting decided records into Kafka. Routing is decided
//! before (by `ingest`, with [`route`]); everything here only sends.
//!
//! * [`record`] — a request's records and their bytes, the hand-off from
//!   ingest, and the one conversion of record headers;
//! * [`send`] — the [`Delivery`] handle: send or spool per cluster, wait
//!   for acknowledgements, dead letters, spool replay;
//! * [`ack`] — waiting for a batch of delivery reports;
//! * [`producer`] — the shared producer per cluster, its delivery reports
//!   and buffered retries;
//! * [`dead_letter`] — the dead-letter headers;
//! * [`cluster`] — one cluster's producer, health and spool, opened from
//!   config;
//! * [`route`] — event → topic, and [`routes_file`], the routes read again
//!   without a restart;
//! * [`topics`] — the topic check (start-up, new routes, onboarding);
//! * [`embedded`] — the in-memory cluster of `--dev`;
//! * [`health`] — whether a cluster is reachable;
//! * [`spool`] — the disk write-ahead log for outages, and [`replay`] of it;
//! * [`stats`] — counters for every way a record leaves, and librdkafka's
//!   gauges;
//! * [`heartbeat`] — heartbeat records for quiet partitions.

pub mod ack;
pub mod cluster;
pub mod dead_letter;
pub mod embedded;
pub mod health;
pub mod heartbeat;
pub mod producer;
pub mod record;
pub mod replay;
pub mod route;
pub mod routes_file;
pub mod send;
pub mod spool;
pub mod stats;
pub mod topics;

pub use cluster::Cluster;
pub use record::{Record, RecordBatch};
pub use route::{Router, Target};
pub use send::{Delivery, Settled};
pub use stats::DeliveryStats;
