//! One Kafka cluster as the gateway uses it: its shared producer, whether
//! it is reachable, and the disk spool its records wait in during an
//! outage. Topics map to clusters by route; an outage of one cluster does
//! not touch the others. [`Cluster::open`] builds all of it from the
//! configuration and starts the cluster's spool replay.

use super::health::Health;
use super::producer::{ClusterProducer, ProducerSpec};
use super::route::Router;
use super::spool::Spool;
use super::stats::{DeliveryStats, KafkaGauges};
use crate::config::Config;
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
    /// How its topics are checked and created (`None`: the embedded
    /// cluster, started with its topics).
    pub topics: Option<super::topics::TopicSpec>,
}

impl Cluster {
    /// Opens cluster `index` of `config.kafka.cluster_names()`: checks (or
    /// creates) its topics, opens its spool and creates its producer.
    /// `embedded` is the bootstrap address of `--dev`'s in-memory cluster,
    /// which stands in for the default one.
    pub async fn open(
        config: &Config,
        index: usize,
        embedded: Option<&str>,
        router: &Router,
        stats: Arc<DeliveryStats>,
        gauges: KafkaGauges,
    ) -> anyhow::Result<Cluster> {
        let names = config.kafka.cluster_names();
        let name = names
            .get(index)
            .ok_or_else(|| anyhow::anyhow!("no cluster {index}"))?;
        let (brokers, producer) = match config.kafka.clusters.get(name) {
            Some(c) => (c.brokers.clone(), c.producer.clone()),
            None => (
                embedded.map_or_else(|| config.kafka.brokers.clone(), str::to_owned),
                config.kafka.producer.clone(),
            ),
        };
        // The embedded cluster was started with its topics.
        let topics = (embedded.is_none() || index > 0)
            .then(|| super::topics::TopicSpec::of(config, name, &brokers));
        if let Some(spec) = &topics {
            super::topics::ensure_topics(spec, &router.topics_of_cluster(Some(index)))
                .await
                .map_err(|e| anyhow::anyhow!("cluster {name}: {e:#}"))?;
        }
        // The default cluster spools in `spool.dir`, others beneath it.
        let dir = if index == 0 {
            config.spool.dir.clone()
        } else {
            config.spool.dir.join(name)
        };
        let spool = Arc::new(
            Spool::open(&dir, config.spool.max_bytes)
                .map_err(|e| anyhow::anyhow!("cannot open spool {}: {e}", dir.display()))?,
        );
        if spool.records() > 0 {
            tracing::info!(cluster = %name, records = spool.records(), "spool holds records from before; replaying");
        }
        let health = Arc::new(Health::default());
        let spec = ProducerSpec::new(config, &brokers, &producer);
        let producer = ClusterProducer::new(&spec, health.clone(), spool.clone(), stats, gauges)?;
        Ok(Cluster {
            name: Arc::from(name.as_str()),
            producer,
            health,
            spool,
            topics,
        })
    }
}
