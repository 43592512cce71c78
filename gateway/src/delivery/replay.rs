//! The spool's background task, one per cluster: while the cluster is down
//! it moves what the producer still holds into the spool and probes the
//! cluster; once it answers, it replays the spool segment by segment, in
//! order, through the delivery handle ([`Delivery::replay_oldest`]).

use super::send::Delivery;
use rdkafka::producer::Producer;
use std::sync::Weak;
use std::time::Duration;

/// How often the task looks at health and the spool.
const TICK: Duration = Duration::from_millis(500);

/// Starts the replay task of every cluster; each ends with the handle.
pub fn spawn(delivery: &std::sync::Arc<Delivery>) {
    for index in 0..delivery.clusters().len() {
        tokio::spawn(run(std::sync::Arc::downgrade(delivery), index));
    }
}

async fn run(delivery: Weak<Delivery>, index: usize) {
    let mut purged = false;
    loop {
        tokio::time::sleep(TICK).await;
        let Some(d) = delivery.upgrade() else { break };
        let Some(cluster) = d.clusters().get(index) else {
            break;
        };
        if cluster.health.is_down() {
            if !purged {
                cluster.producer.purge_queue();
                purged = true;
            }
            let probe = d.clone();
            let reachable = tokio::task::spawn_blocking(move || {
                probe.clusters()[index]
                    .producer
                    .inner()
                    .client()
                    .fetch_metadata(None, Duration::from_secs(2))
                    .is_ok_and(|m| !m.brokers().is_empty())
            })
            .await
            .unwrap_or(false);
            if reachable {
                cluster.health.mark_up();
                purged = false;
            }
            continue;
        }
        if let Err(e) = d.replay_oldest(index).await {
            tracing::warn!(cluster = %cluster.name, error = %e, "spool replay did not complete; will retry");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}
