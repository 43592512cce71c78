//! The start-up topic check: every topic the routing table can write to
//! must exist, or be created, before the gateway accepts traffic. Finding a
//! missing topic at start-up beats failing every event of that type later.

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use std::collections::BTreeSet;
use std::time::Duration;

/// Ensures `topics` exist on the cluster at `brokers`, creating missing ones
/// when `create` is set. Fails with the list of missing topics otherwise.
pub async fn ensure_topics(
    brokers: &str,
    extra: &std::collections::BTreeMap<String, String>,
    topics: &BTreeSet<String>,
    create: bool,
    partitions: i32,
    replication: i32,
) -> anyhow::Result<()> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers);
    for (k, v) in extra {
        // Security settings apply to the admin connection too.
        if k.starts_with("security.") || k.starts_with("sasl.") || k.starts_with("ssl.") {
            cfg.set(k, v);
        }
    }
    let admin: AdminClient<DefaultClientContext> = cfg.create()?;
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))
        .map_err(|e| anyhow::anyhow!("cannot reach Kafka at {brokers}: {e}"))?;
    let existing: BTreeSet<&str> = metadata.topics().iter().map(|t| t.name()).collect();
    let missing: Vec<&String> = topics
        .iter()
        .filter(|t| !existing.contains(t.as_str()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !create {
        anyhow::bail!(
            "topics missing on {brokers} and kafka.create_topics is false: {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // -1 asks the broker for its default.
    let replication = replication.max(-1);
    let new: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(replication)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new, &opts).await? {
        match result {
            Ok(name) => tracing::info!(topic = name, partitions, "created topic"),
            // Another gateway replica may have created it meanwhile.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("cannot create topic {name}: {code}"),
        }
    }
    Ok(())
}
