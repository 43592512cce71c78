//! The topic check: every topic the routing table can write to must exist,
//! or be created, before the gateway accepts traffic for it — at start-up,
//! when the routes file adds routes, and when `tributary onboard` adds an
//! event. Finding a missing topic then beats failing every event of that
//! type later.

use crate::config::Config;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How topics are checked and made on one cluster.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    /// Bootstrap servers.
    pub brokers: String,
    /// The cluster's client settings (security settings apply to the admin
    /// connection too).
    pub client: BTreeMap<String, String>,
    /// Create missing topics; otherwise a missing one is an error.
    pub create: bool,
    /// Partitions of created topics.
    pub partitions: i32,
    /// Replication factor of created topics; `-1` is the broker's default.
    pub replication: i32,
    /// Topic settings of created topics (`retention.ms`, ...).
    pub config: BTreeMap<String, String>,
}

impl TopicSpec {
    /// The spec of cluster `name` of `config` (`default` is `[kafka]`),
    /// reached at `brokers`.
    pub fn of(config: &Config, name: &str, brokers: &str) -> TopicSpec {
        let k = &config.kafka;
        TopicSpec {
            brokers: brokers.to_owned(),
            client: k
                .clusters
                .get(name)
                .map_or_else(|| k.producer.clone(), |c| c.producer.clone()),
            create: k.create_topics,
            partitions: k.topic_partitions,
            replication: k.topic_replication,
            config: k.topic_config.clone(),
        }
    }
}

/// What [`ensure_topics`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ensured {
    /// Topics that were there.
    pub existing: Vec<String>,
    /// Topics created now.
    pub created: Vec<String>,
}

/// Ensures `topics` exist on the cluster of `spec`, creating missing ones
/// when it says so. Fails with the list of missing topics otherwise.
pub async fn ensure_topics(spec: &TopicSpec, topics: &BTreeSet<String>) -> anyhow::Result<Ensured> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &spec.brokers);
    for (k, v) in &spec.client {
        if k.starts_with("security.") || k.starts_with("sasl.") || k.starts_with("ssl.") {
            cfg.set(k, v);
        }
    }
    let admin: AdminClient<DefaultClientContext> = cfg.create()?;
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))
        .map_err(|e| anyhow::anyhow!("cannot reach Kafka at {}: {e}", spec.brokers))?;
    let present: BTreeSet<&str> = metadata.topics().iter().map(|t| t.name()).collect();
    let (existing, missing): (Vec<&String>, Vec<&String>) =
        topics.iter().partition(|t| present.contains(t.as_str()));
    let mut out = Ensured {
        existing: existing.into_iter().cloned().collect(),
        created: Vec::new(),
    };
    if missing.is_empty() {
        return Ok(out);
    }
    if !spec.create {
        anyhow::bail!(
            "topics missing on {} and kafka.create_topics is false: {}",
            spec.brokers,
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // -1 asks the broker for its default.
    let replication = spec.replication.max(-1);
    let new: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|t| {
            spec.config.iter().fold(
                NewTopic::new(t, spec.partitions, TopicReplication::Fixed(replication)),
                |n, (k, v)| n.set(k, v),
            )
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new, &opts).await? {
        match result {
            Ok(name) => {
                tracing::info!(topic = name, partitions = spec.partitions, "created topic");
                out.created.push(name);
            }
            // Another gateway replica may have created it meanwhile.
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => out.existing.push(name),
            Err((name, code)) => anyhow::bail!("cannot create topic {name}: {code}"),
        }
    }
    Ok(out)
}
