//! Prometheus metrics (`GET /metrics`, text format, `prometheus-client`).
//!
//! Label values come from small fixed sets — routes, status codes, error
//! codes, limit names, delivery outcomes — never from user ids, keys or
//! event names, so the series count stays bounded whatever clients send.

use crate::delivery::DeliveryStats;
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

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by route, seconds.
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Events by outcome and code.
    pub events: Family<EventLabels, Counter>,
    /// Request body bytes.
    pub bytes: Family<BytesLabels, Counter>,
    /// Requests refused by a rate limit.
    pub rate_limited: Family<LimitLabels, Counter>,
    /// Requests shed with 503 `overloaded`.
    pub shed: Counter,
    /// Records in the producer queue (sampled at scrape time).
    pub producer_queue: Gauge,
    /// Client IPs tracked by the per-IP limiter.
    pub tracked_ips: Gauge,
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
        let events = Family::<EventLabels, Counter>::default();
        let bytes = Family::<BytesLabels, Counter>::default();
        let rate_limited = Family::<LimitLabels, Counter>::default();
        let shed = Counter::default();
        let producer_queue = Gauge::default();
        let tracked_ips = Gauge::default();
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
        Metrics {
            registry,
            requests,
            latency,
            events,
            bytes,
            rate_limited,
            shed,
            producer_queue,
            tracked_ips,
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
        _ => "other",
    }
}
