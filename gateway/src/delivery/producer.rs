//! The shared Kafka producer of one cluster, and what happens when Kafka
//! reports on each record.
//!
//! One producer serves every request, so events from thousands of small
//! HTTP requests leave in large, compressed Kafka batches (`linger.ms`,
//! `batch.size`). Each record carries a [`Pending`] tag saying who waits for
//! it: a request in `broker` mode or a spool replay (an [`AckWaiter`]), or
//! nobody (`buffered` mode, where the gateway retries failures itself on the
//! key's partition, spools them in an outage, and dead-letters what Kafka
//! refuses for good). The retry worker lives here, beside the reports that
//! feed it.

use super::ack::AckWaiter;
use super::dead_letter;
use super::health::Health;
use super::record::{kafka_headers, owned_pairs, pairs_of};
use super::spool::{Spool, SpoolRecord};
use super::stats::{DeliveryStats, KafkaGauges};
use crate::config::{Config, KafkaConfig};
use rand::Rng;
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig, ThreadedProducer,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

/// Who is waiting for a record's delivery report.
#[derive(Debug)]
pub enum Pending {
    /// A `broker`-mode request, waiting for all of its records.
    Acked {
        /// The request's waiter.
        waiter: Arc<AckWaiter>,
        /// Position of the event in the request's batch.
        index: usize,
    },
    /// A `buffered`-mode record; `attempt` retries so far.
    Buffered {
        /// Retries already made by the gateway.
        attempt: u32,
    },
    /// A dead letter; a failure is counted, never retried.
    DeadLetter,
    /// A heartbeat record; best effort, never retried.
    Heartbeat,
    /// A record replayed from the spool; its segment is deleted only when
    /// every record of it is settled without failure.
    Replay {
        /// The replay's waiter.
        waiter: Arc<AckWaiter>,
        /// Position in the segment.
        index: usize,
    },
}

/// Errors after which the same record may well succeed later: the cluster
/// or a partition leader is unreachable, or the gateway gave up waiting.
/// Records failing this way are spooled; others are reported or counted.
pub fn is_transient(e: &KafkaError) -> bool {
    use RDKafkaErrorCode::*;
    matches!(
        e.rdkafka_error_code(),
        Some(
            MessageTimedOut
                | PurgeQueue
                | PurgeInflight
                | QueueFull
                | AllBrokersDown
                | BrokerTransportFailure
                | BrokerNotAvailable
                | LeaderNotAvailable
                | NotLeaderForPartition
                | NotEnoughReplicas
                | NotEnoughReplicasAfterAppend
                | RequestTimedOut
                | NetworkException
                | OperationTimedOut
                | TimedOutQueue
        )
    )
}

/// Whether a failed send is librdkafka's full queue (the caller may wait
/// and retry, or refuse the event as `queue_full`).
pub fn is_queue_full(e: &KafkaError) -> bool {
    matches!(
        e,
        KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)
    )
}

/// The record behind a delivery report, as the spool keeps it.
fn spool_record(msg: &BorrowedMessage<'_>) -> SpoolRecord {
    SpoolRecord {
        topic: msg.topic().to_owned(),
        key: msg.key().unwrap_or_default().to_vec(),
        payload: msg.payload().unwrap_or_default().to_vec(),
        headers: msg
            .headers()
            .map(|h| owned_pairs(pairs_of(h)))
            .unwrap_or_default(),
        timestamp_ms: msg.timestamp().to_millis().unwrap_or(0),
    }
}
/// A record the gateway will produce again after Kafka failed it.
struct Retry {
    message: OwnedMessage,
    attempt: u32,
    /// Send to the dead-letter topic instead, with this reason.
    dead_letter: Option<String>,
}

/// Receives librdkafka's delivery reports on its polling thread.
pub struct DeliveryContext {
    stats: Arc<DeliveryStats>,
    retries: SyncSender<Retry>,
    max_retries: u32,
    health: Arc<Health>,
    spool: Arc<Spool>,
    /// fsync buffered-mode spool appends (`spool.fsync`).
    sync_buffered: bool,
    kafka: KafkaGauges,
}

impl ClientContext for DeliveryContext {
    fn stats(&self, s: rdkafka::Statistics) {
        let up = s.brokers.values().filter(|b| b.state == "UP").count();
        let rtts: Vec<i64> = s
            .brokers
            .values()
            .filter_map(|b| b.rtt.as_ref().map(|w| w.avg))
            .collect();
        self.kafka.brokers_up.set(up as i64);
        self.kafka.queue_messages.set(s.msg_cnt as i64);
        self.kafka
            .tx_errors
            .set(s.brokers.values().map(|b| b.txerrs as i64).sum());
        if !rtts.is_empty() {
            self.kafka
                .rtt_avg_us
                .set(rtts.iter().sum::<i64>() / rtts.len() as i64);
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.health.mark_down(reason);
        } else {
            tracing::warn!(%error, reason, "librdkafka error");
        }
    }
}

impl DeliveryContext {
    fn spool(&self, msg: &BorrowedMessage<'_>, sync: bool) -> bool {
        match self.spool.append(&[spool_record(msg)], sync) {
            Ok(()) => {
                self.stats.spooled.inc();
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot spool a failed record");
                false
            }
        }
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<Pending>;

    fn delivery(&self, result: &DeliveryResult<'_>, pending: Box<Pending>) {
        match (*pending, result) {
            (Pending::Acked { waiter, index }, Ok(_)) => {
                self.stats.delivered.inc();
                waiter.settle(index, None);
            }
            (Pending::Acked { waiter, index }, Err((e, msg))) => {
                // The client is still waiting: a record made durable in the
                // spool is as good as acknowledged.
                if is_transient(e) && self.spool(msg, true) {
                    waiter.settle(index, None);
                } else {
                    self.stats.failed_reported.inc();
                    waiter.settle(index, Some(e.to_string()));
                }
            }
            (Pending::Replay { waiter, index }, Ok(_)) => {
                self.stats.replayed.inc();
                waiter.settle(index, None);
            }
            (Pending::Replay { waiter, index }, Err((e, _))) => {
                waiter.settle(index, Some(e.to_string()));
            }
            (Pending::Heartbeat, Ok(_)) => {}
            (Pending::Heartbeat, Err((e, msg))) => {
                tracing::debug!(topic = msg.topic(), error = %e, "heartbeat not delivered");
            }
            (Pending::DeadLetter, Ok(_)) => self.stats.dead_lettered.inc(),
            (Pending::DeadLetter, Err((e, msg))) => {
                self.stats.lost_dead_letter.inc();
                tracing::error!(topic = msg.topic(), error = %e, "dead letter refused by Kafka");
            }
            (Pending::Buffered { .. }, Ok(_)) => self.stats.delivered.inc(),
            (Pending::Buffered { attempt }, Err((e, msg))) => {
                let transient = is_transient(e);
                if transient && (self.health.is_down() || attempt >= self.max_retries) {
                    if !self.spool(msg, self.sync_buffered) {
                        self.stats.lost_spool_failed.inc();
                    }
                    return;
                }
                // Kafka refuses this record for good: dead-letter it.
                let dead_letter = (attempt >= self.max_retries).then(|| e.to_string());
                let retry = Retry {
                    message: msg.detach(),
                    attempt: attempt + 1,
                    dead_letter,
                };
                let is_retry = retry.dead_letter.is_none();
                match self.retries.try_send(retry) {
                    Ok(()) if is_retry => self.stats.retried.inc(),
                    Ok(()) => {}
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                        self.stats.lost_retry_queue_full.inc();
                        tracing::error!(topic = msg.topic(), error = %e, "event lost: retry queue full");
                    }
                }
            }
        }
    }
}

/// One record as librdkafka takes it.
pub struct KafkaRecord<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partitioning key (the user); empty for none (spread).
    pub key: &'a [u8],
    /// Record value.
    pub payload: &'a [u8],
    /// Envelope headers.
    pub headers: OwnedHeaders,
    /// Record timestamp, ms since the epoch (gateway receipt time).
    pub timestamp_ms: i64,
}

/// What one cluster's producer is built from: the configuration, resolved
/// for that cluster. Built once by [`ProducerSpec::new`].
#[derive(Debug, Clone)]
pub struct ProducerSpec {
    /// Bootstrap servers.
    pub brokers: String,
    /// `[kafka]`, with this cluster's own `producer` settings.
    pub kafka: KafkaConfig,
    /// `delivery.buffered_retries`.
    pub buffered_retries: u32,
    /// `delivery.retry_queue`.
    pub retry_queue: usize,
    /// `spool.fsync`: fsync buffered-mode spool appends too.
    pub sync_buffered: bool,
    /// Where records Kafka refuses for good go.
    pub dead_letter_topic: String,
}

impl ProducerSpec {
    /// The spec of a cluster reached at `brokers` with its own producer
    /// settings `producer`.
    pub fn new(
        config: &Config,
        brokers: &str,
        producer: &std::collections::BTreeMap<String, String>,
    ) -> ProducerSpec {
        let mut kafka = config.kafka.clone();
        kafka.producer = producer.clone();
        ProducerSpec {
            brokers: brokers.to_owned(),
            kafka,
            buffered_retries: config.delivery.buffered_retries,
            retry_queue: config.delivery.retry_queue,
            sync_buffered: config.spool.fsync,
            dead_letter_topic: config.dead_letter_topic(),
        }
    }

    /// librdkafka's settings. The bench's direct producer uses the same
    /// ones (`loadtest`), so gateway / direct compares like with like.
    pub fn client_config(&self) -> ClientConfig {
        let kafka = &self.kafka;
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.brokers)
            .set("linger.ms", kafka.linger_ms.to_string())
            .set("batch.size", kafka.batch_size.to_string())
            .set("compression.type", &kafka.compression)
            .set("message.timeout.ms", kafka.message_timeout_ms.to_string())
            .set(
                "queue.buffering.max.kbytes",
                kafka.queue_max_kbytes.to_string(),
            )
            .set(
                "queue.buffering.max.messages",
                kafka.queue_max_messages.to_string(),
            )
            .set("acks", "all")
            // Idempotence: librdkafka's own retries never duplicate or reorder.
            .set("enable.idempotence", "true")
            // Java-compatible hashing of user keys; random spread for keyless.
            .set("partitioner", "murmur2_random")
            // Keyless records (hot users', `[hot_keys]`) each to a random
            // partition, not all of one 10 ms window to the same one: they
            // come in bursts, and a burst must not land on one partition.
            .set("sticky.partitioning.linger.ms", "0")
            .set(
                "statistics.interval.ms",
                kafka.statistics_interval_ms.to_string(),
            );
        for (k, v) in &kafka.producer {
            cfg.set(k, v);
        }
        cfg
    }
}

/// The producer of one Kafka cluster.
pub struct ClusterProducer {
    producer: Arc<ThreadedProducer<DeliveryContext>>,
    stats: Arc<DeliveryStats>,
}

impl ClusterProducer {
    /// Creates the producer of `spec` and starts its retry worker.
    pub fn new(
        spec: &ProducerSpec,
        health: Arc<Health>,
        spool: Arc<Spool>,
        stats: Arc<DeliveryStats>,
        gauges: KafkaGauges,
    ) -> Result<ClusterProducer, KafkaError> {
        let (tx, rx) = sync_channel(spec.retry_queue.max(1));
        let context = DeliveryContext {
            stats: stats.clone(),
            retries: tx,
            max_retries: spec.buffered_retries,
            health,
            spool,
            sync_buffered: spec.sync_buffered,
            kafka: gauges,
        };
        let producer: ThreadedProducer<DeliveryContext> =
            spec.client_config().create_with_context(context)?;
        let producer = Arc::new(producer);
        let worker = producer.clone();
        let worker_stats = stats.clone();
        let timeout = Duration::from_millis(spec.kafka.message_timeout_ms);
        let dlq = spec.dead_letter_topic.clone();
        std::thread::Builder::new()
            .name("tributary-retry".into())
            .spawn(move || retry_worker(worker, rx, worker_stats, timeout, dlq))
            .map_err(|e| KafkaError::ClientCreation(format!("cannot start retry worker: {e}")))?;
        Ok(ClusterProducer { producer, stats })
    }

    /// Hands one record to the producer queue. On failure (typically a full
    /// queue) the tag and headers come back, so the caller can retry or
    /// report it.
    pub fn send(
        &self,
        record: KafkaRecord<'_>,
        pending: Pending,
    ) -> Result<(), (KafkaError, Pending, OwnedHeaders)> {
        let mut rec = BaseRecord::with_opaque_to(record.topic, Box::new(pending))
            .key(record.key)
            .payload(record.payload)
            .headers(record.headers)
            .timestamp(record.timestamp_ms);
        // An empty key is no key: the partitioner spreads such records
        // (murmur2 would hash an empty key to one partition).
        if record.key.is_empty() {
            rec.key = None;
        }
        match self.producer.send(rec) {
            Ok(()) => {
                self.stats.produced.inc();
                Ok(())
            }
            Err((e, rec)) => Err((e, *rec.delivery_opaque, rec.headers.unwrap_or_default())),
        }
    }

    /// Writes one heartbeat record (header `tb-heartbeat: true`, no key,
    /// empty value) to each of `partitions` partitions of `topic`, so
    /// consumers that rotate files by record time can close them on a
    /// quiet partition. Best effort: a full queue skips the beat.
    pub fn heartbeat(&self, topic: &str, partitions: i32, timestamp_ms: i64) {
        for p in 0..partitions {
            let headers = kafka_headers([(tributary_contract::header::HEARTBEAT, &b"true"[..])]);
            let rec = BaseRecord::<(), [u8], Box<Pending>>::with_opaque_to(
                topic,
                Box::new(Pending::Heartbeat),
            )
            .partition(p)
            .payload(&[][..])
            .headers(headers)
            .timestamp(timestamp_ms);
            let _ = self.producer.send(rec);
        }
    }

    /// Waits until every queued record is delivered or `deadline` passes.
    /// Returns the number of records still in flight.
    pub fn flush(&self, deadline: Duration) -> i32 {
        let end = Instant::now() + deadline;
        // Retries re-enter the queue after a failure report, so flush until
        // the queue stays empty, not just once.
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let _ = self.producer.flush(left.min(Duration::from_millis(200)));
            let n = self.producer.in_flight_count();
            if n == 0 || Instant::now() >= end {
                return n;
            }
        }
    }

    /// Hands everything still queued in the producer back through the
    /// delivery reports (as purged), so it lands in the spool. Called when
    /// the cluster goes down: memory is not where acknowledged data should
    /// wait out an outage.
    pub fn purge_queue(&self) {
        self.producer.purge(PurgeConfig::default().queue());
    }

    /// Records waiting in the producer queue or in flight to Kafka.
    pub fn queue_depth(&self) -> i64 {
        i64::from(self.producer.in_flight_count())
    }

    /// The underlying producer, for metadata queries.
    pub fn inner(&self) -> &ThreadedProducer<DeliveryContext> {
        &self.producer
    }
}

/// Re-produces failed `buffered` records. A keyed record goes back to its
/// key's partition: a failure reported after Kafka in fact took the record
/// (a timeout) makes a copy, and the pipeline drops copies within a
/// partition only (`[dedup]`); a replicated topic elects a new leader in
/// seconds. A keyless record goes to a random partition, as it did first.
fn retry_worker(
    producer: Arc<ThreadedProducer<DeliveryContext>>,
    retries: Receiver<Retry>,
    stats: Arc<DeliveryStats>,
    timeout: Duration,
    dead_letter_topic: String,
) {
    let mut partitions: HashMap<String, i32> = HashMap::new();
    let mut rng = rand::rng();
    while let Ok(Retry {
        message,
        attempt,
        dead_letter,
    }) = retries.recv()
    {
        let original = message.headers().map(|h| pairs_of(h).collect::<Vec<_>>());
        if let Some(reason) = dead_letter {
            let why = dead_letter::Why {
                reason: "delivery_failed",
                message: &reason,
                stage: "delivery",
                topic: message.topic(),
                truncated: false,
                app_id: None,
                pointer: None,
                rule: None,
            };
            let headers = dead_letter::headers(original.unwrap_or_default(), &why);
            let mut rec =
                BaseRecord::with_opaque_to(&dead_letter_topic, Box::new(Pending::DeadLetter))
                    .headers(headers);
            if let Some(k) = message.key() {
                rec = rec.key(k);
            }
            if let Some(p) = message.payload() {
                rec = rec.payload(p);
            }
            if producer.send(rec).is_err() {
                stats.lost_dead_letter.inc();
            }
            continue;
        }
        let topic = message.topic().to_owned();
        let count = match partitions.get(&topic) {
            Some(n) => *n,
            None => {
                let n = producer
                    .client()
                    .fetch_metadata(Some(&topic), Duration::from_secs(5))
                    .ok()
                    .and_then(|m| m.topics().first().map(|t| t.partitions().len() as i32))
                    .unwrap_or(0);
                if n > 0 {
                    partitions.insert(topic.clone(), n);
                }
                n
            }
        };
        let give_up = Instant::now() + timeout;
        let pending = Box::new(Pending::Buffered { attempt });
        let mut rec = BaseRecord::with_opaque_to(&topic, pending);
        if let Some(k) = message.key() {
            rec = rec.key(k);
        }
        if let Some(p) = message.payload() {
            rec = rec.payload(p);
        }
        if let Some(h) = original {
            rec = rec.headers(kafka_headers(h));
        }
        let keyless = message.key().is_none_or(<[u8]>::is_empty);
        if keyless && count > 0 {
            rec = rec.partition(rng.random_range(0..count));
        }
        if let Some(ts) = message.timestamp().to_millis() {
            rec = rec.timestamp(ts);
        }
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((e, back)) if is_queue_full(&e) && Instant::now() < give_up => {
                    rec = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((e, _)) => {
                    stats.lost_retries_exhausted.inc();
                    tracing::error!(topic, error = %e, "event lost: retry could not be queued");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Fault injection with librdkafka's mock cluster: Kafka refusing
    //! records must surface to `broker`-mode clients and be retried, or
    //! counted as lost, in `buffered` mode.
    use super::*;
    use crate::delivery::ack::Acks;
    use rdkafka::mocking::MockCluster;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

    fn producer(bootstrap: &str, retries: u32) -> (ClusterProducer, Arc<DeliveryStats>) {
        let (p, stats, _) = producer_with_spool(bootstrap, retries);
        (p, stats)
    }

    fn producer_with_spool(
        bootstrap: &str,
        retries: u32,
    ) -> (ClusterProducer, Arc<DeliveryStats>, Arc<Spool>) {
        let stats = Arc::new(DeliveryStats::default());
        let spec = ProducerSpec {
            brokers: bootstrap.to_owned(),
            kafka: KafkaConfig {
                linger_ms: 0,
                message_timeout_ms: 1_500,
                ..KafkaConfig::default()
            },
            buffered_retries: retries,
            retry_queue: 16,
            sync_buffered: true,
            dead_letter_topic: "dlq".into(),
        };
        let dir = tempfile::tempdir().unwrap().keep();
        let spool = Arc::new(Spool::open(dir, 1 << 20).unwrap());
        let p = ClusterProducer::new(
            &spec,
            Arc::new(Health::default()),
            spool.clone(),
            stats.clone(),
            KafkaGauges::default(),
        )
        .unwrap();
        (p, stats, spool)
    }

    #[test]
    fn records_failing_for_transient_reasons_go_to_the_spool() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("t", 1, 1).unwrap();
        let (p, stats, spool) = producer_with_spool(&cluster.bootstrap_servers(), 1);
        p.send(record("t"), Pending::Buffered { attempt: 0 })
            .unwrap();
        wait_until("warm-up delivery", || stats.delivered.get() == 1);
        // The partition has too few replicas until the message times out.
        cluster.request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; 200],
        );
        let acks = Acks::new();
        acks.waiter.expect_one();
        p.send(
            record("t"),
            Pending::Acked {
                waiter: acks.waiter.clone(),
                index: 0,
            },
        )
        .unwrap();
        p.send(record("t"), Pending::Buffered { attempt: 0 })
            .unwrap();
        assert!(
            wait_for_reports(acks).is_empty(),
            "a spooled broker-mode record counts as acknowledged"
        );
        wait_until("both records spooled", || stats.spooled.get() == 2);
        assert_eq!(spool.records(), 2);
        assert_eq!(stats.lost(), 0);
    }

    fn record(topic: &str) -> KafkaRecord<'_> {
        KafkaRecord {
            topic,
            key: b"user",
            payload: b"{}",
            headers: OwnedHeaders::new(),
            timestamp_ms: 0,
        }
    }

    fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(15);
        while !f() {
            assert!(Instant::now() < end, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn broker_mode_reports_a_refused_record_to_its_request() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("t", 2, 1).unwrap();
        let (p, stats) = producer(&cluster.bootstrap_servers(), 3);
        // Warm up so the topic's metadata is known before errors start.
        let warm = Acks::new();
        warm.waiter.expect_one();
        p.send(
            record("t"),
            Pending::Acked {
                waiter: warm.waiter.clone(),
                index: 0,
            },
        )
        .unwrap();
        wait_for_reports(warm);
        cluster.request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
        );
        let acks = Acks::new();
        acks.waiter.expect_one();
        p.send(
            record("t"),
            Pending::Acked {
                waiter: acks.waiter.clone(),
                index: 7,
            },
        )
        .unwrap();
        let failures = wait_for_reports(acks);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(failures[0].0, 7);
        assert_eq!(stats.failed_reported.get(), 1);
        assert_eq!(stats.delivered.get(), 1);
    }

    #[test]
    fn buffered_mode_retries_a_refused_record() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("t", 3, 1).unwrap();
        let (p, stats) = producer(&cluster.bootstrap_servers(), 3);
        p.send(record("t"), Pending::Buffered { attempt: 0 })
            .unwrap();
        wait_until("warm-up delivery", || stats.delivered.get() == 1);
        cluster.request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
        );
        p.send(record("t"), Pending::Buffered { attempt: 0 })
            .unwrap();
        wait_until("retried delivery", || stats.delivered.get() == 2);
        assert_eq!(stats.retried.get(), 1);
        assert_eq!(stats.lost(), 0);
    }

    #[test]
    fn buffered_mode_dead_letters_a_record_kafka_refuses_for_good() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("t", 3, 1).unwrap();
        cluster.create_topic("dlq", 1, 1).unwrap();
        let (p, stats) = producer(&cluster.bootstrap_servers(), 2);
        p.send(record("t"), Pending::Buffered { attempt: 0 })
            .unwrap();
        wait_until("warm-up delivery", || stats.delivered.get() == 1);
        let refuse = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE; 3];
        cluster.request_errors(RDKafkaApiKey::Produce, &refuse);
        p.send(record("t"), Pending::Buffered { attempt: 0 })
            .unwrap();
        wait_until("the dead letter", || stats.dead_lettered.get() == 1);
        assert_eq!(stats.retried.get(), 2);
        assert_eq!(stats.lost(), 0, "dead-lettered, not lost");
    }

    /// Waits for the reports on a runtime of its own (the producer reports
    /// on its own thread) and returns the failures.
    fn wait_for_reports(acks: Acks) -> Vec<(usize, String)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(acks.wait(Duration::from_secs(15)))
            .expect("delivery reports did not arrive")
    }
}
