//! The spool's background task: while the cluster is down it moves what
//! the producer still holds into the spool and probes the cluster; once it
//! answers, it replays the spool segment by segment, in order, deleting a
//! segment only after Kafka acknowledged every record in it.

use super::producer::{AckWaiter, OutRecord, Pending};
use crate::api::AppState;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::Producer;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the task looks at health and the spool.
const TICK: Duration = Duration::from_millis(500);

/// Runs for cluster `index` until the gateway is dropped.
pub async fn run(state: Weak<AppState>, index: usize) {
    let mut purged = false;
    loop {
        tokio::time::sleep(TICK).await;
        let Some(state) = state.upgrade() else { break };
        let Some(cluster) = state.clusters.get(index) else {
            break;
        };
        if cluster.health.is_down() {
            if !purged {
                cluster.producer.purge_queue();
                purged = true;
            }
            let probe = state.clone();
            let reachable = tokio::task::spawn_blocking(move || {
                probe.clusters[index]
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
        if let Err(e) = replay_one_segment(&state, index).await {
            tracing::warn!(cluster = %cluster.name, error = %e, "spool replay did not complete; will retry");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

async fn replay_one_segment(state: &Arc<AppState>, index: usize) -> Result<(), String> {
    let cluster = &state.clusters[index];
    let Some((name, records)) = cluster.spool.oldest().map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let (waiter, settled) = AckWaiter::new();
    for (index, r) in records.iter().enumerate() {
        let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
        for (k, v) in &r.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(v),
            });
        }
        waiter.expect_one();
        let mut pending = Pending::Replay {
            waiter: waiter.clone(),
            index,
        };
        let mut headers = Some(headers);
        loop {
            let record = OutRecord {
                topic: &r.topic,
                key: &r.key,
                payload: &r.payload,
                headers: headers.take().unwrap_or_default(),
                timestamp_ms: r.timestamp_ms,
            };
            match cluster.producer.send(record, pending) {
                Ok(()) => break,
                // The producer is busy: wait rather than fail the segment.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back, h)) => {
                    pending = back;
                    headers = Some(h);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err((e, _, _)) => {
                    waiter.settle(index, Some(e.to_string()));
                    break;
                }
            }
        }
    }
    waiter.arm();
    let limit = Duration::from_millis(state.config.kafka.message_timeout_ms + 5_000);
    tokio::time::timeout(limit, settled)
        .await
        .map_err(|_| "replay delivery reports overdue".to_owned())?
        .map_err(|_| "replay waiter dropped".to_owned())?;
    let failures = waiter.take_failures();
    if !failures.is_empty() {
        return Err(format!(
            "{} of {} records failed",
            failures.len(),
            records.len()
        ));
    }
    cluster
        .spool
        .remove(name, records.len())
        .map_err(|e| e.to_string())?;
    tracing::info!(cluster = %cluster.name, records = records.len(), "replayed a spool segment");
    Ok(())
}
