//! One Kafka cluster as the gateway uses it: its shared producer, whether
//! it is reachable, and the disk spool its records wait in during an
//! outage. Topics map to clusters by route; an outage of one cluster does
//! not touch the others.

use super::health::Health;
use super::producer::ClusterProducer;
use super::spool::Spool;
use std::sync::Arc;

/// A cluster's delivery machinery.
pub struct Cluster {
    /// Name from the configuration (`default` for `[kafka]`).
    pub name: Arc<str>,
    /// The shared producer.
    pub producer: ClusterProducer,
    /// Reachability.
    pub health: Arc<Health>,
    /// The outage spool.
    pub spool: Arc<Spool>,
}
