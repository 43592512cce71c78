//! Heartbeat records: every `delivery.heartbeat_secs`, one record with
//! header `tb-heartbeat: true` and an empty value to each partition of each
//! event topic. Consumers that cut files by record time (the pipeline) can
//! then close a quiet partition's file deterministically — the heartbeat is
//! a record in the log like any other, so a replay sees it at the same
//! offset. Event readers skip it (it has no `tb-message-id`).

use super::send::Delivery;
use rdkafka::producer::Producer;
use std::collections::HashMap;
use std::sync::Weak;
use std::time::Duration;

/// Starts the heartbeat task; it ends with the gateway.
pub fn spawn(delivery: Weak<Delivery>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Some(s) = delivery.upgrade() else { break };
            let beat = tokio::task::spawn_blocking(move || {
                let now = tributary_contract::time::now().timestamp_millis();
                for (index, cluster) in s.clusters().iter().enumerate() {
                    if cluster.health.is_down() {
                        continue;
                    }
                    let Ok(md) = cluster
                        .producer
                        .inner()
                        .client()
                        .fetch_metadata(None, Duration::from_secs(5))
                    else {
                        continue;
                    };
                    let partitions: HashMap<&str, i32> = md
                        .topics()
                        .iter()
                        .map(|t| (t.name(), t.partitions().len() as i32))
                        .collect();
                    let router = s.router();
                    let dead_letter = router.dead_letter();
                    for topic in router.topics_of_cluster(Some(index)) {
                        if topic.as_str() == &**dead_letter {
                            continue;
                        }
                        if let Some(n) = partitions.get(topic.as_str()) {
                            cluster.producer.heartbeat(&topic, *n, now);
                        }
                    }
                }
            })
            .await;
            if let Err(e) = beat {
                tracing::warn!(error = %e, "heartbeat task failed");
            }
        }
    });
}
