//! Delivery counters: every way a record can leave the gateway, so "how
//! much was lost, and why" always has an answer. Logged at shutdown and
//! served on `/stats` and `/metrics`.

use serde::Serialize;

/// A monotonically increasing count, also exported on `/metrics`.
#[derive(Debug, Default)]
pub struct Counter(prometheus_client::metrics::counter::Counter);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.inc_by(n);
    }

    /// Current value.
    pub fn get(&self) -> u64 {
        self.0.get()
    }

    /// A handle on the same count for the metrics registry.
    pub fn prometheus(&self) -> prometheus_client::metrics::counter::Counter {
        self.0.clone()
    }
}

impl Serialize for Counter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.get())
    }
}

/// Counters of one gateway process.
#[derive(Debug, Default, Serialize)]
pub struct DeliveryStats {
    /// Records handed to the producer queue (first attempts and retries).
    pub produced: Counter,
    /// Records Kafka acknowledged.
    pub delivered: Counter,
    /// `broker`-mode records Kafka failed; the client was told per event.
    pub failed_reported: Counter,
    /// `buffered`-mode records re-produced after a failure.
    pub retried: Counter,
    /// Records refused because the producer queue was full; the client was
    /// told (`queue_full`, retryable).
    pub refused_queue_full: Counter,
    /// `buffered`-mode records lost after `delivery.buffered_retries`.
    pub lost_retries_exhausted: Counter,
    /// `buffered`-mode records lost because the retry queue was full.
    pub lost_retry_queue_full: Counter,
    /// Events SDKs reported dropping on devices (client reports), all reasons.
    pub client_reported_drops: Counter,
    /// Records written to the disk spool (Kafka unreachable or failing).
    pub spooled: Counter,
    /// Spooled records Kafka acknowledged on replay.
    pub replayed: Counter,
    /// Records lost because the spool could not take them (full or I/O).
    pub lost_spool_failed: Counter,
    /// Records written to the dead-letter topic.
    pub dead_lettered: Counter,
    /// Dead letters Kafka refused too (counted, logged).
    pub lost_dead_letter: Counter,
}

impl DeliveryStats {
    /// Records acknowledged to a client and then lost.
    pub fn lost(&self) -> u64 {
        self.lost_retries_exhausted.get()
            + self.lost_retry_queue_full.get()
            + self.lost_spool_failed.get()
    }
}

/// librdkafka's own statistics of one cluster, refreshed every
/// `kafka.statistics_interval_ms` from its statistics callback.
#[derive(Clone, Debug, Default)]
pub struct KafkaGauges {
    /// Brokers in state UP.
    pub brokers_up: prometheus_client::metrics::gauge::Gauge,
    /// Messages in the producer queue.
    pub queue_messages: prometheus_client::metrics::gauge::Gauge,
    /// Transmission errors, summed over brokers (cumulative).
    pub tx_errors: prometheus_client::metrics::gauge::Gauge,
    /// Average broker round-trip time, microseconds.
    pub rtt_avg_us: prometheus_client::metrics::gauge::Gauge,
}
