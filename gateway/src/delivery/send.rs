//! The delivery handle: the one way records reach Kafka. It owns the
//! clusters (producer, health, spool), the router's topics and the
//! counters; the request path hands it a request's decided records and
//! dead letters and gets back how each record settled, and the spool
//! replay sends through it too. Routing was decided before; this only
//! sends, spools, waits and counts.

use super::ack::{Acks, Overdue};
use super::cluster::Cluster;
use super::dead_letter::{self, Rejected};
use super::producer::{KafkaRecord, Pending, is_queue_full};
use super::record::{RecordBatch, kafka_headers, owned_pairs, spooled_pairs};
use super::route::Router;
use super::spool::SpoolRecord;
use super::stats::DeliveryStats;
use crate::config::{AckMode, Config};
use prometheus_client::metrics::histogram::Histogram;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tributary_contract::ErrorCode;

/// One record that did not make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The event's position in the request's batch.
    pub index: usize,
    /// `queue_full`, `delivery_failed`, ...
    pub code: ErrorCode,
    /// Detail for the client.
    pub message: String,
}

/// How the records of one request settled.
#[derive(Debug, Default)]
pub struct Settled {
    /// `buffered` records in the producer queue or the spool.
    pub accepted: usize,
    /// `broker` records Kafka acknowledged.
    pub acked: usize,
    /// `broker` records made durable in the spool (as good as acknowledged).
    pub acked_spooled: usize,
    /// Records refused on the way.
    pub failed: Vec<Failure>,
    /// Kafka's reports did not all come in time: nothing is known of the
    /// records not listed in `failed`.
    pub overdue: bool,
}

/// The clusters and everything needed to send to them.
pub struct Delivery {
    clusters: Vec<Cluster>,
    /// Replaced whole when the routes file changes; a request keeps the
    /// table it started with.
    router: RwLock<Arc<Router>>,
    stats: Arc<DeliveryStats>,
    /// How long to wait for a record's report: librdkafka reports every
    /// record within `message.timeout.ms`; the margin only guards against
    /// a report that never comes.
    report_limit: Duration,
    spool_fsync: bool,
    ack_latency: Histogram,
}

impl Delivery {
    /// The handle over `clusters` (the default cluster first).
    pub fn new(
        clusters: Vec<Cluster>,
        router: Router,
        stats: Arc<DeliveryStats>,
        config: &Config,
        ack_latency: Histogram,
    ) -> Delivery {
        Delivery {
            clusters,
            router: RwLock::new(Arc::new(router)),
            stats,
            report_limit: Duration::from_millis(config.kafka.message_timeout_ms + 5_000),
            spool_fsync: config.spool.fsync,
            ack_latency,
        }
    }

    /// The clusters, `default` first (route targets index into it).
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// Event → topic: the routing table in force.
    pub fn router(&self) -> Arc<Router> {
        self.router
            .read()
            .map_or_else(|p| p.into_inner().clone(), |r| r.clone())
    }

    /// Puts `router` in force (its topics checked first, see
    /// `routes_file`).
    pub fn set_router(&self, router: Router) {
        let router = Arc::new(router);
        match self.router.write() {
            Ok(mut r) => *r = router,
            Err(p) => *p.into_inner() = router,
        }
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<DeliveryStats> {
        &self.stats
    }

    /// The fullest producer queue (for load shedding).
    pub fn deepest_queue(&self) -> i64 {
        self.clusters
            .iter()
            .map(|c| c.producer.queue_depth())
            .max()
            .unwrap_or(0)
    }

    /// Sends the records of one request and the dead letters of its
    /// rejected events; returns once every `broker`-mode record has
    /// settled (or the reports are overdue).
    pub async fn send(&self, records: &RecordBatch, rejected: &[Rejected<'_>]) -> Settled {
        let acks = Acks::new();
        let mut settled = Settled::default();
        // Records for clusters that are down, per cluster.
        let mut spooled: Vec<Vec<SpoolRecord>> = vec![Vec::new(); self.clusters.len()];
        let mut spooled_at: Vec<Vec<(usize, AckMode)>> = vec![Vec::new(); self.clusters.len()];
        for r in records.records() {
            let Some(cluster) = self.clusters.get(r.cluster) else {
                settled.failed.push(Failure {
                    index: r.index,
                    code: ErrorCode::DeliveryFailed,
                    message: format!("no Kafka cluster {}", r.cluster),
                });
                continue;
            };
            if cluster.health.is_down() {
                // That cluster is unreachable: straight to its disk spool.
                spooled[r.cluster].push(records.spool_record(r));
                spooled_at[r.cluster].push((r.index, r.mode));
                continue;
            }
            let record = KafkaRecord {
                topic: &r.topic,
                key: records.key(r),
                payload: records.value(r),
                headers: kafka_headers(records.headers(r)),
                timestamp_ms: r.timestamp_ms,
            };
            let broker = r.mode == AckMode::Broker;
            let pending = if broker {
                acks.waiter.expect_one();
                Pending::Acked {
                    waiter: acks.waiter.clone(),
                    index: r.index,
                }
            } else {
                Pending::Buffered { attempt: 0 }
            };
            match cluster.producer.send(record, pending) {
                Ok(()) if broker => settled.acked += 1,
                Ok(()) => settled.accepted += 1,
                Err((e, _, _)) => {
                    if broker {
                        acks.waiter.unexpect_one();
                    }
                    let code = if is_queue_full(&e) {
                        self.stats.refused_queue_full.inc();
                        ErrorCode::QueueFull
                    } else {
                        ErrorCode::DeliveryFailed
                    };
                    settled.failed.push(Failure {
                        index: r.index,
                        code,
                        message: format!("could not queue event for Kafka: {e}"),
                    });
                }
            }
        }
        self.dead_letter(rejected);
        for (c, (records, at)) in spooled.into_iter().zip(spooled_at).enumerate() {
            if !records.is_empty() {
                self.spool(c, &records, &at, &mut settled);
            }
        }
        if settled.acked > 0 {
            let waiting = Instant::now();
            match acks.wait(self.report_limit).await {
                Ok(failures) => {
                    for (index, reason) in failures {
                        settled.acked -= 1;
                        settled.failed.push(Failure {
                            index,
                            code: ErrorCode::DeliveryFailed,
                            message: format!("Kafka did not acknowledge: {reason}"),
                        });
                    }
                }
                Err(Overdue) => {
                    tracing::error!("delivery reports overdue; answering retryable failure");
                    settled.overdue = true;
                }
            }
            self.ack_latency.observe(waiting.elapsed().as_secs_f64());
        }
        settled
    }

    fn spool(
        &self,
        cluster: usize,
        records: &[SpoolRecord],
        at: &[(usize, AckMode)],
        settled: &mut Settled,
    ) {
        // A broker-mode client is answered only once its events are on
        // stable storage; buffered ones follow `spool.fsync`.
        let sync = self.spool_fsync || at.iter().any(|(_, m)| *m == AckMode::Broker);
        match self.clusters[cluster].spool.append(records, sync) {
            Ok(()) => {
                self.stats.spooled.add(records.len() as u64);
                for (_, mode) in at {
                    match mode {
                        AckMode::Broker => settled.acked_spooled += 1,
                        AckMode::Buffered => settled.accepted += 1,
                    }
                }
            }
            Err(e) => {
                for (index, _) in at {
                    settled.failed.push(Failure {
                        index: *index,
                        code: ErrorCode::QueueFull,
                        message: format!("Kafka is unreachable and {e}"),
                    });
                }
            }
        }
    }

    /// Sends events rejected for good to the dead-letter topic (on the
    /// default cluster), or to its spool while that cluster is down. A
    /// dead letter that cannot be kept is counted as lost.
    fn dead_letter(&self, rejected: &[Rejected<'_>]) {
        let Some(cluster) = self.clusters.first() else {
            return;
        };
        if rejected.is_empty() {
            return;
        }
        let router = self.router();
        let topic = router.dead_letter();
        let now = tributary_contract::time::now().timestamp_millis();
        if cluster.health.is_down() {
            let spool: Vec<SpoolRecord> = rejected
                .iter()
                .map(|r| SpoolRecord {
                    topic: topic.to_string(),
                    key: Vec::new(),
                    payload: r.value.to_vec(),
                    headers: dead_letter::with_headers([], &r.why, |p| {
                        owned_pairs(p.iter().copied())
                    }),
                    timestamp_ms: now,
                })
                .collect();
            if cluster.spool.append(&spool, self.spool_fsync).is_err() {
                self.stats.lost_dead_letter.add(spool.len() as u64);
            }
            return;
        }
        for r in rejected {
            let record = KafkaRecord {
                topic,
                key: b"",
                payload: r.value,
                headers: dead_letter::headers([], &r.why),
                timestamp_ms: now,
            };
            if cluster.producer.send(record, Pending::DeadLetter).is_err() {
                self.stats.lost_dead_letter.inc();
            }
        }
    }

    /// Replays the oldest spool segment of cluster `index`: sends every
    /// record (waiting while the producer queue is full) and deletes the
    /// segment only when Kafka acknowledged all of them.
    pub async fn replay_oldest(&self, index: usize) -> Result<(), String> {
        let cluster = self
            .clusters
            .get(index)
            .ok_or_else(|| format!("no cluster {index}"))?;
        let Some((name, records)) = cluster.spool.oldest().map_err(|e| e.to_string())? else {
            return Ok(());
        };
        let acks = Acks::new();
        for (i, r) in records.iter().enumerate() {
            acks.waiter.expect_one();
            let mut pending = Pending::Replay {
                waiter: acks.waiter.clone(),
                index: i,
            };
            let mut headers = Some(kafka_headers(spooled_pairs(r)));
            loop {
                let record = KafkaRecord {
                    topic: &r.topic,
                    key: &r.key,
                    payload: &r.payload,
                    headers: headers.take().unwrap_or_default(),
                    timestamp_ms: r.timestamp_ms,
                };
                match cluster.producer.send(record, pending) {
                    Ok(()) => break,
                    // The producer is busy: wait rather than fail the segment.
                    Err((e, back, h)) if is_queue_full(&e) => {
                        pending = back;
                        headers = Some(h);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err((e, _, _)) => {
                        acks.waiter.settle(i, Some(e.to_string()));
                        break;
                    }
                }
            }
        }
        let failures = acks
            .wait(self.report_limit)
            .await
            .map_err(|Overdue| "replay delivery reports overdue".to_owned())?;
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

    /// Flushes every producer within `grace`; the records still in flight.
    pub fn flush(&self, grace: Duration) -> i32 {
        self.clusters.iter().map(|c| c.producer.flush(grace)).sum()
    }
}
