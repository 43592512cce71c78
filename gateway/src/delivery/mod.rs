//! Delivery: getting accepted events into Kafka.
//!
//! * [`route`] — event → topic;
//! * [`producer`] — the shared producer, delivery reports, buffered retries;
//! * [`topics`] — the start-up topic check;
//! * [`embedded`] — the in-memory cluster of `--dev`;
//! * [`health`] — whether the cluster is reachable;
//! * [`spool`] — the disk write-ahead log for outages, and [`replay`] of it;
//! * [`stats`] — counters for every way a record leaves;
//! * [`heartbeat`] — heartbeat records for quiet partitions.

pub mod cluster;
pub mod embedded;
pub mod health;
pub mod heartbeat;
pub mod producer;
pub mod replay;
pub mod route;
pub mod spool;
pub mod stats;
pub mod topics;

pub use cluster::Cluster;
pub use producer::{AckWaiter, ClusterProducer, OutRecord, Pending};
pub use route::{Router, Target};
pub use stats::DeliveryStats;
