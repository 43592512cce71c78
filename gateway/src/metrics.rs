//! Prometheus metrics (`GET /metrics`, text format, `prometheus-client`).
//!
//! Label values come from small fixed sets — routes, status codes, error
//! codes, limit names, delivery outcomes — never from user ids, keys or
//! event names, so the series count stays bounded whatever clients send.

use crate::delivery::DeliveryStats;
pub use crate::delivery::stats::KafkaGauges;
use crate::schemas::SchemaGauges;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `route` and `status` of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route name (`batch`, `track`, …, `health`, `metrics`, `other`).
    pub route: &'static str,
    /// HTTP status code.
    pub status: u16,
}

/// `route` of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Route name.
    pub route: &'static str,
}

/// Outcome of one event.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// `accepted` or `rejected`.
    pub outcome: &'static str,
    /// Error code for rejections, `none` for accepted.
    pub code: &'static str,
}

/// Which bytes were counted.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BytesLabels {
    /// `compressed` (as sent) or `decompressed`.
    pub stage: &'static str,
}

/// Which limit refused a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    /// `key_requests`, `key_events`, `ip_requests`.
    pub limit: &'static str,
}

/// Which quota an app's request met.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QuotaLabels {
    /// `day` or `month`.
    pub window: &'static str,
    /// `reject` (answered 429) or `drop` (answered 200, events dropped).
    pub action: &'static str,
}

/// Why a device dropped events (its client report).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    /// A `DropReason` (`queue_full`, `disabled_by_server`, `sampled_out`, …).
    pub reason: &'static str,
}

/// Which Kafka cluster.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    /// Cluster name from the configuration (a bounded set).
    pub cluster: String,
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by route, seconds.
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Events by outcome and code.
    pub events: Family<EventLabels, Counter>,
    /// Compressed request body bytes (`bytes` with stage `compressed`,
    /// resolved once: no label lookup per request).
    pub compressed_bytes: Counter,
    /// Decompressed request body bytes.
    pub decompressed_bytes: Counter,
    /// Accepted events (`events` with outcome `accepted`).
    pub accepted_events: Counter,
    /// Request body bytes.
    pub bytes: Family<BytesLabels, Counter>,
    /// Requests refused by a rate limit.
    pub rate_limited: Family<LimitLabels, Counter>,
    /// Events SDKs reported dropping on devices, by reason.
    pub client_drops: Family<DropLabels, Counter>,
    /// Requests shed with 503 `overloaded`.
    pub shed: Counter,
    /// Time from handing a broker-mode request's records to the producer
    /// until Kafka acknowledged all of them, seconds.
    pub delivery_ack: Histogram,
    /// Records in the producer queue (sampled at scrape time).
    pub producer_queue: Gauge,
    /// Client IPs tracked by the per-IP limiter.
    pub tracked_ips: Gauge,
    /// Events sent without their key (spread or to the overflow topic),
    /// their user being over `hot_keys.events_per_second`.
    pub hot_key_events: Counter,
    /// Requests of apps at a quota, by window and action.
    pub quota_exceeded: Family<QuotaLabels, Counter>,
    /// Failed syncs of the quota counts with Redis or the state file
    /// (sampled at scrape time).
    pub quota_sync_failures: Gauge,
    /// Users the hot-key table remembers (sampled at scrape time).
    pub hot_keys_tracked: Gauge,
    /// Users forgotten by the hot-key table to stay within
    /// `hot_keys.max_keys`, since start (sampled at scrape time).
    pub hot_keys_evicted: Gauge,
    /// The registry's gauges: compilations stay flat under traffic
    /// (validators are compiled once per schema id, never per request).
    pub schemas: SchemaGauges,
    kafka_brokers_up: Family<ClusterLabels, Gauge>,
    kafka_queue: Family<ClusterLabels, Gauge>,
    kafka_tx_errors: Family<ClusterLabels, Gauge>,
    kafka_rtt: Family<ClusterLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl Metrics {
    /// Creates and registers every metric, including the delivery counters.
    pub fn new(delivery: &DeliveryStats) -> Metrics {
        let mut registry = Registry::with_prefix("tributary");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let client_drops = Family::<DropLabels, Counter>::default();
        let events = Family::<EventLabels, Counter>::default();
        let bytes = Family::<BytesLabels, Counter>::default();
        let compressed_bytes = bytes
            .get_or_create(&BytesLabels {
                stage: "compressed",
            })
            .clone();
        let decompressed_bytes = bytes
            .get_or_create(&BytesLabels {
                stage: "decompressed",
            })
            .clone();
        let accepted_events = events
            .get_or_create(&EventLabels {
                outcome: "accepted",
                code: "none",
            })
            .clone();
        let rate_limited = Family::<LimitLabels, Counter>::default();
        let shed = Counter::default();
        let delivery_ack = latency_histogram();
        let producer_queue = Gauge::default();
        let tracked_ips = Gauge::default();
        let quota_exceeded = Family::<QuotaLabels, Counter>::default();
        let quota_sync_failures = Gauge::default();
        registry.register(
            "quota_exceeded_requests",
            "Requests of apps at their daily or monthly quota, by window and action",
            quota_exceeded.clone(),
        );
        registry.register(
            "quota_sync_failures",
            "Failed syncs of the quota counts with Redis or the state file",
            quota_sync_failures.clone(),
        );
        let hot_key_events = Counter::default();
        let hot_keys_tracked = Gauge::default();
        let hot_keys_evicted = Gauge::default();
        registry.register(
            "hot_key_events",
            "Events sent without their user's key (spread or to the overflow topic): the user was over hot_keys.events_per_second",
            hot_key_events.clone(),
        );
        registry.register(
            "hot_keys_tracked",
            "Users the hot-key table remembers",
            hot_keys_tracked.clone(),
        );
        registry.register(
            "hot_keys_evicted",
            "Users forgotten by the hot-key table to stay within hot_keys.max_keys, since start",
            hot_keys_evicted.clone(),
        );
        let schemas = SchemaGauges::default();
        registry.register(
            "schema_compilations",
            "Schemas compiled since start (once per schema id, never per request)",
            schemas.compilations.clone(),
        );
        registry.register(
            "schema_versions",
            "Schema versions in force",
            schemas.versions.clone(),
        );
        registry.register(
            "schema_reload_failures",
            "Failed reloads of the schema directory or registry",
            schemas.reload_failures.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Request latency by route",
            latency.clone(),
        );
        registry.register("events", "Events by outcome and error code", events.clone());
        registry.register(
            "request_bytes",
            "Request body bytes, as sent and decompressed",
            bytes.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit",
            rate_limited.clone(),
        );
        registry.register("shed", "Requests shed with 503 overloaded", shed.clone());
        registry.register(
            "client_dropped_events",
            "Events SDKs reported dropping on devices (client reports), by reason",
            client_drops.clone(),
        );
        registry.register(
            "delivery_ack_seconds",
            "Time until Kafka acknowledged every record of a broker-mode request",
            delivery_ack.clone(),
        );
        registry.register(
            "producer_queue_records",
            "Records waiting in the Kafka producer queue",
            producer_queue.clone(),
        );
        registry.register(
            "ratelimit_tracked_ips",
            "Client IPs tracked by the per-IP limiter",
            tracked_ips.clone(),
        );
        for (name, help, c) in [
            (
                "delivery_produced",
                "Records handed to the producer (incl. retries)",
                &delivery.produced,
            ),
            (
                "delivery_delivered",
                "Records Kafka acknowledged",
                &delivery.delivered,
            ),
            (
                "delivery_failed_reported",
                "broker-mode records Kafka failed, reported to the client",
                &delivery.failed_reported,
            ),
            (
                "delivery_retried",
                "buffered-mode records re-produced after a failure",
                &delivery.retried,
            ),
            (
                "delivery_refused_queue_full",
                "Records refused because the producer queue was full",
                &delivery.refused_queue_full,
            ),
            (
                "delivery_lost_retries_exhausted",
                "Acknowledged records lost after all retries",
                &delivery.lost_retries_exhausted,
            ),
            (
                "delivery_lost_retry_queue_full",
                "Acknowledged records lost because the retry queue was full",
                &delivery.lost_retry_queue_full,
            ),
            (
                "client_reported_drops",
                "Events SDKs reported dropping on devices",
                &delivery.client_reported_drops,
            ),
        ] {
            registry.register(name, help, c.prometheus());
        }
        let kafka_brokers_up = Family::<ClusterLabels, Gauge>::default();
        let kafka_queue = Family::<ClusterLabels, Gauge>::default();
        let kafka_tx_errors = Family::<ClusterLabels, Gauge>::default();
        let kafka_rtt = Family::<ClusterLabels, Gauge>::default();
        registry.register(
            "kafka_brokers_up",
            "Brokers in state UP (librdkafka)",
            kafka_brokers_up.clone(),
        );
        registry.register(
            "kafka_queue_messages",
            "Messages in the producer queue (librdkafka)",
            kafka_queue.clone(),
        );
        registry.register(
            "kafka_tx_errors",
            "Broker transmission errors, cumulative (librdkafka)",
            kafka_tx_errors.clone(),
        );
        registry.register(
            "kafka_rtt_avg_microseconds",
            "Average broker round-trip time (librdkafka)",
            kafka_rtt.clone(),
        );
        Metrics {
            kafka_brokers_up,
            kafka_queue,
            kafka_tx_errors,
            kafka_rtt,
            registry,
            requests,
            latency,
            events,
            bytes,
            compressed_bytes,
            decompressed_bytes,
            accepted_events,
            rate_limited,
            client_drops,
            shed,
            delivery_ack,
            producer_queue,
            tracked_ips,
            quota_exceeded,
            quota_sync_failures,
            hot_key_events,
            hot_keys_tracked,
            hot_keys_evicted,
            schemas,
        }
    }

    /// The librdkafka gauges of one cluster.
    pub fn kafka(&self, cluster: &str) -> KafkaGauges {
        let l = ClusterLabels {
            cluster: cluster.to_owned(),
        };
        KafkaGauges {
            brokers_up: self.kafka_brokers_up.get_or_create(&l).clone(),
            queue_messages: self.kafka_queue.get_or_create(&l).clone(),
            tx_errors: self.kafka_tx_errors.get_or_create(&l).clone(),
            rtt_avg_us: self.kafka_rtt.get_or_create(&l).clone(),
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The bounded route label of a path.
pub fn route_label(path: &str) -> &'static str {
    match path {
        "/v1/batch" | "/v1/import" => "batch",
        "/v1/track" => "track",
        "/v1/identify" => "identify",
        "/v1/page" => "page",
        "/v1/screen" => "screen",
        "/v1/group" => "group",
        "/v1/alias" => "alias",
        "/healthz" | "/readyz" => "health",
        "/metrics" | "/stats" => "metrics",
        p if p.starts_with("/schemas") || p.starts_with("/subjects") => "registry",
        _ => "other",
    }
}
